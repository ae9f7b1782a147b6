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
from . import col2im, fft, matrix, phase, scatter, zero_insert

__all__ = ["ALGORITHMS", "IMPLEMENTATIONS", "choose", "estimate_seconds"]

Implementation = Callable[[np.ndarray, np.ndarray, Geometry], np.ndarray]

IMPLEMENTATIONS: dict[str, Implementation] = {
    "scatter": scatter.conv_transpose,
    "zero_insert": zero_insert.conv_transpose,
    "matrix": matrix.conv_transpose,
    "col2im": col2im.conv_transpose,
    "phase": phase.conv_transpose,
    "fft": fft.conv_transpose,
}

#: Every name ``algorithm=`` accepts, ``"auto"`` first.
ALGORITHMS: tuple[str, ...] = ("auto",) + tuple(IMPLEMENTATIONS)

# Rough rates of a 2-core CPU with NumPy's BLAS (float32 and float64 alike at
# this precision of modelling); the performance work calibrates these.
_GEMM_FLOPS_PER_S = 2e10
_FFT_FLOPS_PER_S = 2e9
_CALL_OVERHEAD_S = 3e-5
_MEMORY_BYTES_PER_S = 2e9


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> dict[str, float]:
    """The cost model behind ``auto``: estimated seconds of ``phase`` and ``fft``.

    ``phase`` does the definition's multiplies at GEMM speed, one GEMM per tap
    and one correlation per phase (``prod(k) + prod(s)`` Python-level calls).
    ``fft`` transforms ``N * (C_in + C_out)`` signals of ``F = prod(full)``
    points and multiplies spectra per frequency: its cost does not grow with
    the kernel, so it wins for large kernels.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    c_out = c_out_g * geom.groups
    taps = math.prod(geom.kernel)
    direct = 2.0 * n_batch * c_in * c_out_g * math.prod(geom.in_size) * taps
    out_values = n_batch * c_out * math.prod(geom.out_size)
    phase_s = (
        direct / _GEMM_FLOPS_PER_S
        + (taps + math.prod(geom.stride)) * _CALL_OVERHEAD_S
        + 8.0 * out_values / _MEMORY_BYTES_PER_S
    )
    f = math.prod(geom.full)
    fft_flops = 5.0 * f * math.log2(max(f, 2)) * n_batch * (c_in + c_out) + 4.0 * n_batch * c_in * c_out_g * f
    # a dozen array passes (zero insertion, transforms, products) of fixed overhead each
    fft_s = fft_flops / _FFT_FLOPS_PER_S + 16.0 * out_values / _MEMORY_BYTES_PER_S + 12 * _CALL_OVERHEAD_S
    return {"phase": phase_s, "fft": fft_s}


def choose(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> str:
    """The algorithm ``auto`` runs: the cheaper of ``phase`` and ``fft`` by :func:`estimate_seconds`."""
    costs = estimate_seconds(x_shape, weight_shape, geom)
    return min(costs, key=costs.__getitem__)
