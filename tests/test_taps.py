"""The tap arithmetic the algorithms share (``Axis.tap_range``, ``live_phases``, ``shifts``, ``window_blocks``
and ``algorithms.taps.placements``) against the definition, element by element."""

from __future__ import annotations

import itertools

import numpy as np

from tconv.algorithms.taps import placements
from tconv.geometry import Axis, Geometry


def axes(rng: np.random.Generator, count: int) -> list[Axis]:
    """Random axes, windows of every convention: starting before ``y_full``, ending past it."""
    out = []
    for _ in range(count):
        n, k, s, d = (int(v) for v in (rng.integers(1, 7), rng.integers(1, 6), rng.integers(1, 5), rng.integers(1, 4)))
        full = (n - 1) * s + d * (k - 1) + 1
        start = int(rng.integers(-3, full))
        out.append(Axis(n, k, s, d, start, int(rng.integers(1, full + 4 - max(start, 0)))))
    return out


def test_tap_range_is_every_input_landing_in_the_window():
    for a in axes(np.random.default_rng(1), 300):
        for j in range(a.kernel):
            landing = [(i, i * a.stride + j * a.dilation - a.start) for i in range(a.size)]
            inside = [(i, f) for i, f in landing if 0 <= f < a.length]
            got = a.tap_range(j)
            if not inside:
                assert got is None
                continue
            src, dst = got
            assert list(zip(range(src.start, src.stop), range(dst.start, dst.stop, dst.step))) == inside


def test_phases_shifts_and_blocks_follow_the_definition():
    for a in axes(np.random.default_rng(2), 300):
        reached = [j * a.dilation for j in range(a.kernel)]
        assert a.live_phases == tuple(sorted({f % a.stride for f in reached}))
        assert a.shifts == max(f // a.stride for f in reached) + 1
        blocks = sorted({f // a.stride for f in range(a.start, a.start + a.length)})
        first, count = a.window_blocks
        assert (first, count) == (blocks[0], len(blocks))


def test_placements_cover_the_scatter_exactly_once_per_tap_and_input():
    rng = np.random.default_rng(3)
    for _ in range(60):
        geom = Geometry(tuple(axes(rng, int(rng.integers(1, 3)))))
        taps, covered = placements(geom)
        hits = np.zeros(geom.out_size, dtype=int)
        assigned = np.zeros(geom.out_size, dtype=int)  # the taps that write instead of adding
        seen = set()
        for j, src, dst, assign in taps:
            seen.add(j)
            assert hits[dst].shape == tuple(s.stop - s.start for s in src)
            hits[dst] += 1
            assigned[dst] += assign
        expected = np.zeros(geom.out_size, dtype=int)
        for j in itertools.product(*(range(a.kernel) for a in geom.axes)):
            for i in itertools.product(*(range(a.size) for a in geom.axes)):
                f = tuple(ii * a.stride + jj * a.dilation - a.start for ii, jj, a in zip(i, j, geom.axes))
                if all(0 <= ff < a.length for ff, a in zip(f, geom.axes)):
                    expected[f] += 1
                    assert j in seen
        np.testing.assert_array_equal(hits, expected)
        assert assigned.max(initial=0) <= 1  # one assigning tap per phase, and it comes first
        assert [t[3] for t in taps] == sorted((t[3] for t in taps), reverse=True)
        assert covered == bool((assigned == 1).all())  # covered: no output needs zeros
