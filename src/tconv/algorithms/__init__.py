"""Every formulation of the transposed convolution, behind one registry.

Each algorithm is a pure function ``conv_transpose(x, weight, geometry) -> y``
with ``x`` of shape ``(N, C_in, *n)``, ``weight`` of shape ``(C_in, C_out/g, *k)``,
both already validated and in the compute dtype, and ``y`` of shape
``(N, C_out, *L)`` without bias. Its module docstring states the formula, the
FLOPs and the extra memory.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..geometry import Geometry
from . import col2im, fft, matrix, phase, scatter, subpixel, zero_insert

__all__ = ["ALGORITHMS", "IMPLEMENTATIONS", "choose", "estimate_seconds"]

Implementation = Callable[[np.ndarray, np.ndarray, Geometry], np.ndarray]

IMPLEMENTATIONS: dict[str, Implementation] = {
    "scatter": scatter.conv_transpose,
    "zero_insert": zero_insert.conv_transpose,
    "matrix": matrix.conv_transpose,
    "col2im": col2im.conv_transpose,
    "phase": phase.conv_transpose,
    "subpixel": subpixel.conv_transpose,
    "fft": fft.conv_transpose,
}

#: Every name ``algorithm=`` accepts, ``"auto"`` first.
ALGORITHMS: tuple[str, ...] = ("auto",) + tuple(IMPLEMENTATIONS)

# Rates of the 2-core AMD EPYC (Zen 3) the benchmark suite ran on, NumPy's
# OpenBLAS with 2 threads; calibrated on benchmarks/ (docs/performance.md).
_GEMM_FLOPS_PER_S = 1e11  # float32 GEMM; it cancels out between col2im and phase
_FFT_FLOPS_PER_S = 2e9
_CALL_S = 1e-5  # one NumPy call on a slice (Python overhead, thread hand-off)
_PHASE_S = 1e-4  # one phase of `phase`: window, im2col set-up, interleaved assignment
_COPY_S = 3e-10  # one element of an im2col copy
_ADD_S = 5e-10  # one element of a strided in-place addition ...
_ADD_ROW_S = 1e-8  # ... plus this per inner loop (NumPy's loop over the input's last axis)
_MEMORY_BYTES_PER_S = 2e9


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> dict[str, float]:
    """The cost model behind ``auto``: estimated seconds of ``col2im``, ``phase`` and ``fft``.

    All three do the definition's multiplies (``fft`` in the frequency domain),
    so the model mostly prices what surrounds the arithmetic:

    - ``col2im``: the GEMM, then one strided addition per tap and column chunk
      of ``N * C_out * prod(n)`` elements, whose inner loops run along the
      input's last axis (short rows are slow). With ``k == s`` these are plain
      assignments of the output once.
    - ``phase``: the GEMM, at two thirds of col2im's rate (a GEMM per phase,
      ``C_out`` columns wide), a fixed cost per phase (``prod(s)`` of them, fewer
      when some phases get no taps), an im2col copy of ``N * C_in * prod(n)``
      elements per tap, and the interleaved write of the output, slow when
      ``C_out`` is small (it is the innermost axis of the copy).
    - ``fft``: ``N * (C_in + C_out)`` transforms of ``F = prod(full)`` points and
      a product per frequency; it does not grow with the kernel.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    g = geom.groups
    c_out = c_out_g * g
    taps = math.prod(geom.kernel)
    positions = math.prod(geom.in_size)
    direct = 2.0 * n_batch * c_in * c_out_g * positions * taps
    gemm_s = direct / _GEMM_FLOPS_PER_S
    out_values = n_batch * c_out * math.prod(geom.out_size)

    nb, oc = col2im.plan(n_batch, g, c_out_g, taps, positions, 4 * out_values, 4)
    chunks = -(-n_batch // nb) * -(-c_out_g // oc)
    added = n_batch * c_out * positions * taps
    row = geom.in_size[-1]
    col2im_s = gemm_s + chunks * taps * _CALL_S + added * (_ADD_S + _ADD_ROW_S / row)
    if c_in // g == 1:  # depthwise: a product and an addition per tap, no GEMM
        col2im_s += added * _ADD_S

    live_phases = math.prod(
        sum(1 for r in range(a.stride) if any((j * a.dilation - r) % a.stride == 0 for j in range(a.kernel)))
        for a in geom.axes
    )
    copied = n_batch * c_in * positions * taps * (1 if g == 1 else 4)  # groups: one einsum per tap
    phase_s = (
        1.5 * gemm_s  # its GEMMs are narrower (C_out columns) and one per phase
        + live_phases * _PHASE_S
        + copied * _COPY_S
        + out_values * (1e-9 + 8e-9 / c_out)
    )

    f = math.prod(geom.full)
    fft_flops = 5.0 * f * math.log2(max(f, 2)) * n_batch * (c_in + c_out) + 4.0 * n_batch * c_in * c_out_g * f
    # a dozen array passes (zero insertion, transforms, products) of fixed overhead each
    fft_s = fft_flops / _FFT_FLOPS_PER_S + 16.0 * out_values / _MEMORY_BYTES_PER_S + 12 * _CALL_S
    return {"col2im": col2im_s, "phase": phase_s, "fft": fft_s}


def choose(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> str:
    """The algorithm ``auto`` runs: the cheapest by :func:`estimate_seconds`."""
    costs = estimate_seconds(x_shape, weight_shape, geom)
    return min(costs, key=costs.__getitem__)
