"""Where every kernel tap lands in the output window: the placements ``col2im`` and the compiled kernels share.

Tap ``j`` adds input ``i`` to window position ``i*s + j*d - lo`` on each axis;
:meth:`tconv.geometry.Axis.tap_range` gives, per axis, the inputs that land
inside the window and where. A tap *covers* its phase (the outputs
``t = r (mod s)`` on every axis) when it lands on all of them.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..geometry import Geometry

#: (tap, input slices, output slices, assign): one tap that reaches the window.
Placement = tuple[tuple[int, ...], tuple[slice, ...], tuple[slice, ...], bool]


@functools.lru_cache(maxsize=64)
def placements(geom: Geometry) -> tuple[tuple[Placement, ...], bool]:
    """(tap, input slices, output slices, assign) of every tap that reaches the window, and
    whether they cover it (cached: a layer repeats).

    The first covering tap of each phase assigns instead of adding, and comes
    first. When every phase of the window has one, the output needs no zeros.
    """
    taps, phases = [], set()
    for j in np.ndindex(*geom.kernel):
        ranges = [a.tap_range(ji) for a, ji in zip(geom.axes, j)]
        if all(r is not None for r in ranges):
            dst = tuple(r[1] for r in ranges)
            phase = tuple(d.start for d in dst)
            covers = all(d.start < a.stride and d.stop - 1 >= a.length - a.stride for d, a in zip(dst, geom.axes))
            assign = covers and phase not in phases
            if assign:
                phases.add(phase)
            taps.append((j, tuple(r[0] for r in ranges), dst, assign))
    taps.sort(key=lambda tap: not tap[3])  # stable: the assignments first
    return tuple(taps), len(phases) == math.prod(min(a.stride, a.length) for a in geom.axes)
