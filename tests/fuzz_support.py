"""Shared pieces of the fuzz suites (tests/test_fuzz_cli.py, tests/test_fuzz_api.py).

``guarded()`` runs one fuzz call so that a library bug cannot take the machine
down: a 256 MiB memory budget (tconv's own check), an address-space limit a
little above what the process already maps (so an allocation the library did
not price fails with ``MemoryError`` instead of waking the OOM killer), and an
alarm that turns a call running longer than ``seconds`` into :class:`TooSlow`
(a ``BaseException``, so no ``except Exception`` in the library or the CLI can
swallow it). ``FUZZ`` and ``LONG`` are the hypothesis settings of the default
run and of the ``slow`` run.
"""

from __future__ import annotations

import contextlib
import resource
import signal

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

import tconv

#: headroom over the process's current address space that a fuzz call may map
HEADROOM = 3 << 30
#: the default run: reproducible (derandomized), no example database written into the tree
FUZZ = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


def bounded(n: int, *, shrink: bool = True) -> settings:
    """The default run with ``n`` examples (``shrink=False``: a failure is reported as found, which is quicker)."""
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(max_examples=n, phases=phases, **FUZZ)



#: the ``slow`` run: random, shrinking, ``LONG_EXAMPLES`` examples per test (each API target is one test)
LONG_EXAMPLES = 3000
LONG = settings(max_examples=LONG_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


class TooSlow(BaseException):
    """A fuzz call ran past its time limit: a library bug (every call here is tiny or refused)."""


def _address_space() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


@contextlib.contextmanager
def guarded(seconds: float = 5.0, what: object = ""):
    """Run the body under a 256 MiB tconv budget, an address-space cap and a time limit (see the module doc)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)

    def expire(signum, frame):
        raise TooSlow(f"took more than {seconds} s: {what!r}")

    previous = signal.signal(signal.SIGALRM, expire)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with tconv.memory_budget("256MiB"):
            yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


#: hostile integers: small, zero, negative, and sizes from large to past 64 bits
HUGE = (10**6, 10**9, 10**12, 2**63, 10**30)
small_ints = st.integers(1, 5)
hostile_ints = st.one_of(
    st.integers(1, 5), st.integers(1, 5), st.integers(-3, 0), st.sampled_from(HUGE), st.sampled_from([-(2**63), -(10**9)])
)
