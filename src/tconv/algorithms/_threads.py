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
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_blas = None  # threadpoolctl's BLAS controllers, found once


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def num_threads() -> int:
    """Threads for element-wise work: ``TCONV_NUM_THREADS``, else the BLAS limit, at most the CPUs."""
    env = os.environ.get("TCONV_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"tconv: TCONV_NUM_THREADS must be a positive int; got {env!r}") from None
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    cpus = _cpus()
    limits = [lib.num_threads for lib in _blas]
    return max(1, min([cpus] + limits))


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """``range(count)`` as up to ``parts`` contiguous, non-empty ``(lo, hi)`` ranges of near-equal size."""
    bounds = [count * p // parts for p in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def parallel_for(fn: Callable[[T], None], parts: Iterable[T]) -> None:
    """``fn(part)`` for every part, on up to :func:`num_threads` threads; exceptions propagate."""
    parts = list(parts)
    threads = min(num_threads(), len(parts))
    if threads <= 1:
        for part in parts:
            fn(part)
        return
    global _pool
    if _pool is None or _pool._max_workers < threads:
        _pool = ThreadPoolExecutor(max_workers=max(threads, _cpus()), thread_name_prefix="tconv")
    for future in [_pool.submit(fn, part) for part in parts]:
        future.result()
