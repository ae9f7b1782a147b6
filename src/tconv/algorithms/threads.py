"""Threads for the element-wise work NumPy does on one core.

BLAS already runs its GEMMs on every core; the additions, copies and shuffles
around them are single-threaded NumPy calls that release the GIL, so the
algorithms split them into independent parts and run those in a small thread
pool. The pool follows the BLAS thread limit, so one setting pins both::

    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):          # one core for BLAS and for tconv
        y = tconv.conv_transpose(x, w, stride=2)

The limit is at most the number of CPUs this process may run on; the
environment variable ``TCONV_NUM_THREADS`` overrides it.

Layers with many chunks of GEMM plus additions run them with :func:`spread`
instead: one worker per thread, each taking the next chunk and doing all of it
(a one-thread GEMM, then its additions) while the other works on another. The
BLAS limit is one thread meanwhile, and restored after.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, Iterable, Sequence, TypeVar

from ..errors import fail

T = TypeVar("T")

#: Least chunks per thread for an algorithm to give each thread whole chunks (:func:`spread`)
#: instead of sharing each chunk's GEMM and element-wise work between the threads.
SPREAD_CHUNKS = 2

_pool: ThreadPoolExecutor | None = None
_blas = None  # threadpoolctl's BLAS controllers, found once
_local = threading.local()  # .inside: this thread is a worker of spread()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def num_threads() -> int:
    """Threads for element-wise work: ``TCONV_NUM_THREADS``, else the BLAS limit, at most the CPUs
    (one inside a worker of :func:`spread`)."""
    if getattr(_local, "inside", False):
        return 1
    env = os.environ.get("TCONV_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise fail(
                "algorithms.threads.num_threads",
                f"environment variable TCONV_NUM_THREADS must be a positive int; got {env!r}",
            ) from None
    cpus = _cpus()
    limits = [lib.num_threads for lib in blas_libraries()]
    return max(1, min([cpus] + limits))


def blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries this process has loaded (found once)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """``range(count)`` as up to ``parts`` contiguous, non-empty ``(lo, hi)`` ranges of near-equal size."""
    bounds = [count * p // parts for p in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def parallel_for(fn: Callable[[T], None], parts: Iterable[T]) -> None:
    """``fn(part)`` for every part, on up to :func:`num_threads` threads; exceptions propagate."""
    parts = list(parts)
    threads = min(num_threads(), len(parts)) if len(parts) > 1 else 1  # one part: no thread count to read
    if threads <= 1:
        for part in parts:
            fn(part)
        return
    for future in [_executor(threads).submit(fn, part) for part in parts]:
        future.result()


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool._max_workers < threads:
        _pool = ThreadPoolExecutor(max_workers=max(threads, _cpus()), thread_name_prefix="tconv")
    return _pool


def spread(start: Callable[[], Callable[[T], None]], items: Sequence[T], threads: int) -> None:
    """Every item done by one of ``threads`` workers, each taking the next item when it is free.

    ``start()`` runs once per worker and returns its ``work(item)`` (so each worker
    holds its own buffers). Meanwhile BLAS runs on one thread (each worker's GEMMs
    on its own core, no BLAS thread spinning against the other worker's
    additions), and :func:`num_threads` says one inside the workers. The limit is
    process-wide: BLAS calls other threads make meanwhile run on one thread too.
    Exceptions propagate; the BLAS limit is restored whatever happens.
    """
    threads = min(threads, len(items))
    if threads <= 1 or getattr(_local, "inside", False):
        work = start()
        for item in items:
            work(item)
        return
    queue = iter(items)
    lock = threading.Lock()
    failed: list[bool] = []  # a worker raised: the others stop taking items

    def worker() -> None:
        _local.inside = True
        try:
            work = start()
            while not failed:
                with lock:
                    item = next(queue, _DONE)
                if item is _DONE:
                    return
                work(item)
        except BaseException:
            failed.append(True)
            raise
        finally:
            _local.inside = False

    libraries = blas_libraries()
    before = [lib.num_threads for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(1)
    try:
        futures = [_executor(threads).submit(worker) for _ in range(threads)]
        wait(futures)  # all of them, before the limit is restored
        for future in futures:
            future.result()
    finally:
        for lib, count in zip(libraries, before):
            lib.set_num_threads(count)


_DONE = object()
