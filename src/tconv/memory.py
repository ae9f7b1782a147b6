"""The memory budget: every operation estimates its bytes before it allocates, and refuses what would not fit.

The budget is read at call time. By default it is the smallest of

- half the memory the system reports available (``MemAvailable`` in ``/proc/meminfo``,
  or ``os.sysconf`` where there is no such file),
- the headroom under a cgroup memory limit (v2 ``memory.max - memory.current``, or v1
  ``memory.limit_in_bytes - memory.usage_in_bytes``),
- the headroom under the process's address-space limit (``RLIMIT_AS`` minus the
  address space in use),

each where it can be read. The user sets it with the environment variable
``TCONV_MEMORY_BUDGET`` (``"2GiB"``, ``"500MB"``, ``"1e9"``, or ``"none"`` to
check nothing) or, for a block of code, with :func:`memory_budget`.

>>> import tconv
>>> with tconv.memory_budget("1 KiB"):
...     tconv.memory.budget()
1024
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
from typing import Iterator

from .errors import TconvError, fail

__all__ = ["budget", "budget_for", "check", "format_bytes", "memory_budget", "parse_bytes"]

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")
ENV = "TCONV_MEMORY_BUDGET"
#: Calls estimated below this many bytes skip reading the system's counters when no budget is set:
#: the reading costs more than a small layer's whole call (``docs/performance.md``, "Memory budget").
SMALL_BYTES = 16 * 2**20

#: The budget set by :func:`memory_budget` (``None``: not set; ``math.inf``: unlimited).
_override: contextvars.ContextVar[float | None] = contextvars.ContextVar("tconv_memory_budget", default=None)


def parse_bytes(value: object, *, func: str = "memory_budget", name: str = "budget") -> float:
    """A byte count from an int, a float or a text such as ``"2GiB"`` / ``"500 MB"``; ``"none"`` is unlimited.

    >>> parse_bytes("2GiB"), parse_bytes("1.5 kB"), parse_bytes(4096)
    (2147483648, 1500, 4096)
    """
    if isinstance(value, str):
        if value.strip().lower() in ("none", "inf", "unlimited"):
            return math.inf
        match = _NUMBER.match(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise fail(
                func,
                f"{name} must be a number of bytes with an optional unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), "
                f"or 'none'; got {value!r}",
            )
        number = float(match.group(1)) * _UNITS[unit]
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(func, f"{name} must be a number of bytes or a text such as '2GiB'; got {value!r}", TypeError)
    else:
        number = float(value)
    if not number > 0:
        raise fail(func, f"{name} must be > 0 bytes; got {value!r}")
    return math.inf if math.isinf(number) else int(number)


def format_bytes(count: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    >>> format_bytes(3 * 2**30)
    '3.0 GiB'
    """
    if math.isinf(count):
        return "unlimited"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} B"


@contextlib.contextmanager
def memory_budget(value: object) -> Iterator[None]:
    """Run a block with this memory budget (``"2GiB"``, a byte count, or ``"none"``); nests and is thread-safe."""
    token = _override.set(parse_bytes(value))
    try:
        yield
    finally:
        _override.reset(token)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _available() -> int | None:
    """The memory the system reports available to new allocations."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_headroom() -> int | None:
    for limit_path, usage_path in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(limit_path), _read_int(usage_path)
        if limit is not None and usage is not None and limit < 2**60:  # v1 writes a huge number for "none"
            return max(0, limit - usage)
    return None


def _address_space_headroom() -> int | None:
    try:
        import resource
    except ImportError:  # not on every platform
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)


def budget() -> float:
    """The bytes an operation may allocate now (``math.inf`` when unlimited); see the module docstring."""
    override = _override.get()
    if override is not None:
        return override
    env = os.environ.get(ENV)
    if env:
        return parse_bytes(env, func="memory", name=ENV)
    available = _available()
    limits = [
        value
        for value in (None if available is None else available // 2, _cgroup_headroom(), _address_space_headroom())
        if value is not None
    ]
    return min(limits) if limits else math.inf


def budget_for(needed: float) -> float:
    """:func:`budget`, or ``math.inf`` for a call of at most :data:`SMALL_BYTES` when the user set no budget."""
    if needed <= SMALL_BYTES and _override.get() is None and not os.environ.get(ENV):
        return math.inf
    return budget()


def check(func: str, needed: float, what: str = "", limit: float | None = None) -> None:
    """Refuse a call whose estimated bytes pass the budget (``limit``, else :func:`budget_for`),
    naming the estimate, the budget and how to raise it."""
    if limit is None:
        limit = budget_for(needed)
    if needed > limit:
        raise TconvError(
            f"tconv.{func}: {what or 'this call'} needs about {format_bytes(needed)} ({int(needed)} bytes), "
            f"more than the memory budget of {format_bytes(limit)}; raise it with {ENV}=... or "
            "`with tconv.memory_budget(...)`, or make the call smaller"
        )
