"""Measured algorithm choice: the on-disk cache of :func:`tconv.tune`'s timings, and its opt-in.

``auto`` ranks the algorithms by a cost model calibrated on one machine
(:mod:`tconv.algorithms.cost`). :func:`tconv.tune` times the candidates on
the real shapes instead, as FFTW's planner and cuDNN's benchmark mode do, and
stores the winner here; from then on ``auto`` runs the stored choice first
for that layer. Nothing is measured unless asked: call :func:`tconv.tune`, or
opt in to tuning each new layer on its first ``auto`` call with
``TCONV_TUNE=1`` or ``with tconv.autotune():``.

A choice is keyed by the shapes, the geometry, the compute dtype, the thread
count, the kernels' backend and a fingerprint of the machine (CPU model, BLAS
library and kernel, NumPy and tconv versions), so a cache copied to another
machine, or read after an upgrade, matches nothing. The file is
``tune-v1.json`` in ``TCONV_CACHE_DIR``, else ``$XDG_CACHE_HOME/tconv``, else
``~/.cache/tconv``. A file that is unreadable, not JSON, of another format, or
with entries naming no algorithm of ``auto``'s, is ignored, never an error;
the next store replaces it. Writes go to a temporary file in the same folder,
then :func:`os.replace` it over the old one: readers see the old file or the
new one, never half of one.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from . import algorithms
from .algorithms import threads
from .errors import fail
from .geometry import Geometry

__all__ = ["FILE_NAME", "FORMAT", "any_cached", "autotune", "cache_path", "cached", "enabled", "fingerprint", "key", "store"]

FILE_NAME = "tune-v1.json"
#: the ``format`` entry of a cache file this version reads; any other file is foreign
FORMAT = "tconv-tune/1"

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
_override: contextvars.ContextVar[bool | None] = contextvars.ContextVar("tconv_tuning", default=None)
_loaded: dict[str, tuple[int, dict]] = {}  # path -> (mtime_ns, entries): re-read only when the file changes
_fingerprint: str | None = None


def cache_path() -> Path:
    """Where the cache file lives (``TCONV_CACHE_DIR``, else the user's cache folder)."""
    return Path(_cache_file())


def _cache_file() -> str:
    env = os.environ
    return _path(env.get("TCONV_CACHE_DIR"), env.get("XDG_CACHE_HOME"), env.get("HOME"))


@functools.lru_cache(maxsize=16)
def _path(root: str | None, xdg: str | None, home: str | None) -> str:
    # read on every ``auto`` call: the environment is looked up, the path is built once
    if not root:
        root = os.path.join(xdg, "tconv") if xdg else os.path.join(os.path.expanduser("~"), ".cache", "tconv")
    return os.path.join(root, FILE_NAME)


def enabled() -> bool:
    """Whether ``auto`` tunes a layer it has no measured choice for: :func:`autotune`, else ``TCONV_TUNE``."""
    override = _override.get()
    if override is not None:
        return override
    value = os.environ.get("TCONV_TUNE", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise fail("tuning.enabled", f"environment variable TCONV_TUNE must be one of 1, 0, true, false, yes, no, on, off; got {value!r}")


@contextlib.contextmanager
def autotune(enabled: bool = True) -> Iterator[None]:
    """Within the block, ``auto`` tunes (``enabled=True``) or never tunes each new layer, whatever ``TCONV_TUNE`` says.

    >>> import numpy as np, tconv
    >>> with tconv.autotune(False):
    ...     tconv.conv_transpose(np.ones((1, 1, 2)), np.ones((1, 1, 2))).shape
    (1, 1, 3)
    """
    if not isinstance(enabled, bool):
        raise fail("autotune", f"enabled must be True or False; got {enabled!r}")
    token = _override.set(enabled)
    try:
        yield
    finally:
        _override.reset(token)


def fingerprint() -> str:
    """A short hash of what makes timings of one machine meaningless on another."""
    global _fingerprint
    if _fingerprint is None:
        try:
            version = importlib.metadata.version("tconv")
        except importlib.metadata.PackageNotFoundError:  # run from a source tree
            version = "source"
        cpu = platform.processor()
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        blas = sorted(
            f"{lib.internal_api} {lib.version} {getattr(lib, 'architecture', '')}" for lib in threads.blas_libraries()
        )
        text = json.dumps([cpu, platform.machine(), blas, np.__version__, version])
        _fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
    return _fingerprint


def key(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, dtype: np.dtype) -> str:
    """The cache key of one call: shapes, geometry, dtype, threads, backend and the machine's fingerprint."""
    layer = _key(tuple(x_shape), tuple(weight_shape), geom, np.dtype(dtype).name, threads.num_threads(), algorithms.backend())
    return f"{fingerprint()}|{layer}"


@functools.lru_cache(maxsize=256)
def _key(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, dtype: str, n_threads: int,
         backend: str) -> str:
    axes = ",".join(f"{a.size}:{a.kernel}:{a.stride}:{a.dilation}:{a.start}:{a.length}" for a in geom.axes)
    return f"x{x_shape}|w{weight_shape}|g{geom.groups}|{axes}|{dtype}|t{n_threads}|{backend}"


def _entries(path: str) -> dict:
    """The file's valid entries (``{}`` for a missing, corrupt or foreign file)."""
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return {}
    hit = _loaded.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        data = None
    entries = {}
    if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("entries"), dict):
        entries = {k: v for k, v in data["entries"].items() if _valid(v)}
    _loaded[path] = (mtime, entries)
    return entries


def _valid(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("algorithm") in algorithms.ESTIMATES
        and isinstance(entry.get("seconds"), dict)
        and all(isinstance(v, (int, float)) for v in entry["seconds"].values())
    )


def any_cached() -> bool:
    """Whether the cache file holds any valid entry (cheap: ``auto`` asks this before building a key)."""
    return bool(_entries(_cache_file()))


def cached(call_key: str) -> str | None:
    """The measured choice for ``call_key`` (:func:`key`), or None."""
    entry = _entries(_cache_file()).get(call_key)
    return None if entry is None else entry["algorithm"]


def store(call_key: str, algorithm: str, seconds: Mapping[str, float]) -> Path:
    """Record ``algorithm`` (with every candidate's measured seconds) for ``call_key``; returns the file.

    The file is re-read first and the entry merged in, so two processes tuning
    different layers keep both unless they write at the same instant (then one
    layer is tuned again later). A folder that cannot be written is an error:
    the user asked for the measurement to be kept.
    """
    path = cache_path()
    entries = dict(_entries(str(path)))
    entries[call_key] = {"algorithm": algorithm, "seconds": {k: float(v) for k, v in seconds.items()}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tune-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"format": FORMAT, "entries": entries}, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise fail("tune", f"cannot write the tuning cache {path} ({e.strerror or e}); set TCONV_CACHE_DIR to a writable folder") from None
    _loaded.pop(str(path), None)
    return path
