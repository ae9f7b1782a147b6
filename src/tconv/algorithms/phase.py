"""Phase (sub-pixel) decomposition: ``prod(s)`` stride-1 correlations, interleaved.

Output ``o`` reads ``y_full[f]`` with ``f = o + lo``. Tap ``j`` reaches it when
``f - j*d = i*s`` for an input index ``i``, i.e. when ``j*d ≡ f (mod s)``. So for
each residue ``r = f mod s`` the taps ``T_r = {j : j*d ≡ r (mod s)}`` form an
arithmetic progression ``j_m = j_0 + m*s/g`` (``g = gcd(d, s)``), and with
``q_m = (j_m*d - r) / s = q_0 + m*d/g``::

    y[r + s*t - lo] = sum_m w[j_m] * x[t - q_m]

a stride-1 correlation of ``x`` with the reversed sub-kernel, dilation ``d/g``,
written to every ``s``-th output. Residues with no taps (a kernel shorter than
the stride, or ``d`` and ``s`` sharing a factor the residue lacks) are zeros.
In N-d the phases are the products of the per-axis residues.

FLOPs: about ``2 * N * C_in * (C_out/g) * prod(L / s) * prod(k)``: no
multiplication by an inserted zero.
Extra memory (:func:`working_bytes`): the regrouped kernel, then per phase its
sub-kernel, input window and result with the correlation's copies, about
``2 * (N * C_in * prod(n) + N * C_out * prod(L)) / prod(s)`` beyond the output.
Time (:func:`estimate_seconds`): one GEMM per live phase on a fresh im2col copy,
a fixed cost per phase and the interleaved writes of the output.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from math import gcd

import numpy as np

from ..geometry import Axis, Geometry
from . import cost
from .common import correlate, correlate_bytes, iterator_bytes, to_conv_layout, window


@dataclass(frozen=True)
class _AxisPhase:
    """One residue class of one axis: outputs ``o_start, o_start + s, ...``."""

    o_start: int
    count: int  # number of outputs in this class
    taps: tuple[int, ...]  # reversed: the sub-kernel's order in the correlation
    dilation: int  # d / gcd(d, s): the sub-kernel's dilation
    x_start: int  # where the correlation's input window starts in x


def _axis_phases(a: Axis) -> list[_AxisPhase]:
    """The residue classes of the window some tap reaches, by their first output: at most ``k`` of
    them, whatever the stride (the others stay zero)."""
    phases = []
    d_sub = a.dilation // gcd(a.dilation, a.stride)
    for o_start in sorted({(r - a.start) % a.stride for r in a.live_phases}):
        if o_start >= a.length:
            continue
        r = (o_start + a.start) % a.stride
        taps = [j for j in range(a.kernel) if (j * a.dilation - r) % a.stride == 0]
        count = len(range(o_start, a.length, a.stride))
        t_min = (o_start + a.start - r) // a.stride
        q0 = (taps[0] * a.dilation - r) // a.stride
        x_start = t_min - q0 - (len(taps) - 1) * d_sub
        phases.append(_AxisPhase(o_start, count, tuple(reversed(taps)), d_sub, x_start))
    return phases


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    n_batch = x.shape[0]
    w_conv = to_conv_layout(weight, geom.groups)
    y = np.zeros((n_batch, w_conv.shape[0]) + geom.out_size, dtype=np.result_type(x, weight))
    for combo in itertools.product(*(_axis_phases(a) for a in geom.axes)):  # the others stay zero
        sub = w_conv[(slice(None), slice(None)) + np.ix_(*(p.taps for p in combo))]
        x_win = window(
            x,
            tuple(p.x_start for p in combo),
            tuple(p.count + (len(p.taps) - 1) * p.dilation for p in combo),
        )
        dst = tuple(slice(p.o_start, None, a.stride) for p, a in zip(combo, geom.axes))
        y[(slice(None), slice(None)) + dst] = correlate(
            x_win, sub, (1,) * geom.ndim, tuple(p.dilation for p in combo), geom.groups
        )
    return y


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> float:
    """Estimated seconds of a float32 call (the rates of :mod:`.cost`).

    A GEMM per live phase, ``C_out/g`` wide (at :data:`.cost.PHASE_GEMM` of the
    modelled rate), a fixed cost per phase, an im2col copy of ``N * C_in * prod(n)``
    elements per tap (one einsum per tap with groups) and the interleaved writes.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    g = geom.groups
    c_in_g = c_in // g
    taps = math.prod(geom.kernel)
    positions = math.prod(geom.in_size)
    direct = 2.0 * n_batch * c_in * c_out_g * positions * taps
    out_values = n_batch * c_out_g * g * math.prod(geom.out_size)
    live = math.prod([len(a.live_phases) for a in geom.axes])
    return (
        cost.PHASE_GEMM
        * cost.gemm_seconds(direct, n_batch * positions, max(1, taps // math.prod(geom.stride)) * c_in_g, c_out_g)
        + live * cost.PHASE_S
        + n_batch * c_in * positions * taps * cost.COPY_S * (1 if g == 1 else 4)
        + out_values * cost.SHUFFLE_S
    )


def working_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes a call allocates beyond its input and output (C-contiguous arrays of ``itemsize``), an upper bound.

    The regrouped kernel, and the largest phase's sub-kernel, input window and
    result with what :func:`.common.correlate` allocates for them.
    """
    n_batch, c_in = x_shape[:2]
    c_out = weight_shape[1] * geom.groups
    c_in_g = c_in // geom.groups
    largest = 0
    for combo in itertools.product(*(_axis_phases(a) for a in geom.axes)):
        taps = math.prod(len(p.taps) for p in combo)
        window_positions = math.prod(p.count + (len(p.taps) - 1) * p.dilation for p in combo)
        out_positions = math.prod(p.count for p in combo)
        sub = c_out * c_in_g * taps
        phase = ((sub + n_batch * c_in * window_positions + n_batch * c_out * out_positions) * itemsize
                 + correlate_bytes(n_batch, c_in, c_out, taps, window_positions, out_positions, geom.groups, itemsize))
        largest = max(largest, phase)
    return c_out * c_in_g * math.prod(geom.kernel) * itemsize + largest + iterator_bytes(itemsize)
