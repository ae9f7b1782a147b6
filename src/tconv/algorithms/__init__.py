"""Every formulation of the transposed convolution, behind one registry.

Each algorithm is a pure function ``conv_transpose(x, weight, geometry) -> y``
with ``x`` of shape ``(N, C_in, *n)``, ``weight`` of shape ``(C_in, C_out/g, *k)``,
both already validated and in the compute dtype, and ``y`` of shape
``(N, C_out, *L)`` without bias. Its module docstring states the formula, the
FLOPs and the extra memory.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from ..geometry import Geometry
from . import col2im, fft, matrix, phase, scatter, subpixel, zero_insert
from .compiled import backend

__all__ = ["ALGORITHMS", "IMPLEMENTATIONS", "backend", "choose", "estimate_seconds"]

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
_GEMM_FLOPS_PER_S = 1e11  # float32 GEMM with every dimension >= _GEMM_FULL
_GEMM_FULL = 64  # a GEMM dimension below this runs proportionally slower
_FFT_FLOPS_PER_S = 2e9
_CALL_S = 1e-5  # one NumPy call on a slice (Python overhead, thread hand-off)
_PHASE_S = 1e-4  # one phase of `phase`: window, im2col set-up, interleaved assignment
_COPY_S = 3e-10  # one element of an im2col or layout copy
_ADD_S = 1e-9  # one element of a strided in-place addition (half that for an assignment) ...
_ADD_ROW_S = 2e-8  # ... plus this per inner loop (NumPy's loop over the input's last axis)
_ZERO_S = 1e-9  # one element of a zero-filled output, touched first by the additions
_SHUFFLE_S = 2.5e-9  # one element of a transposing depth-to-space write
_MEMORY_BYTES_PER_S = 1e10
# the compiled col2im (tconv[fast]): per chunk (a GEMM call, a hand-off to the threads), per
# column element added, per inner loop (a run along the input's last axis), per depthwise product
_CHUNK_S = 1e-4
_KERNEL_S = 4e-10
_KERNEL_ROW_S = 1e-8
_DEPTHWISE_S = 2e-10
_SHUFFLE_COMPILED_S = 2.5e-9  # one element of subpixel's compiled depth-to-space (saves the NumPy calls)
# its GEMMs, chunked for width, ran at this fraction of the modelled time on the suite
_COMPILED_GEMM = 0.65


def _gemm_seconds(flops: float, m: int, k: int, n: int) -> float:
    """A GEMM of ``flops`` with dimensions ``m x k @ k x n``: narrow dimensions are slower."""
    shape = min(1.0, m / _GEMM_FULL) * min(1.0, k / _GEMM_FULL) * min(1.0, n / _GEMM_FULL)
    return flops / (_GEMM_FLOPS_PER_S * max(shape, 1e-3))


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> dict[str, float]:
    """The cost model behind ``auto``: estimated seconds of ``col2im``, ``subpixel``, ``phase`` and ``fft``.

    All of them do the definition's multiplies (``subpixel`` a few more, ``fft``
    in the frequency domain), so the model mostly prices the GEMM shapes and the
    memory traffic around the arithmetic:

    - ``col2im``: a GEMM of ``taps * C_out/g`` rows by ``C_in/g``, then one strided
      addition per tap and column chunk of ``N * C_out * prod(n)`` elements,
      whose inner loops run along the input's last axis (short rows are slow),
      into a zero-filled output (none with ``k == s``: then they are assignments).
    - ``subpixel``: a GEMM of ``prod(Q) * C_in/g`` by ``prod(|R|) * C_out/g`` over the
      blocks ``U`` the window touches (``prod(Q |R| / k) * prod(U / n)`` times the
      definition's multiplies), the im2col copy, the weight read once per chunk
      and a transposing depth-to-space write of the output.
    - ``phase``: a GEMM per live phase, ``C_out/g`` wide, at two thirds of the rate
      of the others (measured), a fixed cost per phase and
      an im2col copy of ``N * C_in * prod(n)`` elements per tap.
    - ``fft``: ``N * (C_in + C_out)`` transforms of ``F = prod(full)`` points and
      a product per frequency; it does not grow with the kernel.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    g = geom.groups
    c_in_g, c_out = c_in // g, c_out_g * g
    taps = math.prod(geom.kernel)
    positions = math.prod(geom.in_size)
    direct = 2.0 * n_batch * c_in * c_out_g * positions * taps
    out_values = n_batch * c_out * math.prod(geom.out_size)
    weight_bytes = 4.0 * c_in * c_out_g * taps

    added = n_batch * c_out * positions * taps
    compiled = col2im.compiled_kernels(geom) is not None
    if compiled:  # one GEMM per chunk, then one compiled pass adding every tap of a plane
        limit = col2im.compiled_limit(4 * n_batch * c_in * positions, 4 * out_values)
        last = col2im.last_plan(geom, n_batch, c_in_g, c_out_g, limit, 4)
        nb, oc = last or col2im.compiled_plan(n_batch, c_in_g, c_out_g, taps, positions, limit, 4)
        chunks = -(-n_batch // nb) * -(-c_out_g // oc)
        col2im_s = (
            _COMPILED_GEMM * _gemm_seconds(direct, oc * taps, c_in_g, nb * positions)
            + (n_batch * c_in * positions * _COPY_S if col2im.side_by_side(nb, positions) else 0.0)
            + chunks * g * _CHUNK_S
            # runs along the input's rows, or along `oc` channels (channels-last columns), or
            # along `nb` samples (batch-last columns)
            + added * (_KERNEL_S + _KERNEL_ROW_S / col2im.compiled_run(geom, nb, oc, last is not None))
            # channels-last: the weight reordered once, the input copied once per chunk of channels
            + ((weight_bytes / 4 + n_batch * c_in * positions * (-(-c_out_g // oc) - 1)) * _COPY_S if last else 0.0)
        )
    else:
        nb, oc = col2im.plan(n_batch, g, c_out_g, taps, positions, 4 * out_values, 4)
        chunks = -(-n_batch // nb) * -(-c_out_g // oc)
        col2im_s = (
            _gemm_seconds(direct, oc * taps, c_in_g, nb * positions)
            + chunks * taps * _CALL_S
            + added * (_ADD_S * (0.5 if col2im.exact_cover(geom) else 1.0) + _ADD_ROW_S / geom.in_size[-1])
            + (0 if col2im.exact_cover(geom) else out_values * _ZERO_S)
        )
    if c_in_g == 1:  # depthwise: a product and an addition per tap, no GEMM
        col2im_s = (
            added * _DEPTHWISE_S + out_values * _KERNEL_S if compiled
            else added * (2 * _ADD_S + _ADD_ROW_S / geom.in_size[-1]) + taps * _CALL_S
        )

    phases = [len(subpixel.live_phases(a)) for a in geom.axes]
    shifts = [subpixel.shifts(a) for a in geom.axes]
    blocks = [(a.start + a.length - 1) // a.stride - a.start // a.stride + 1 for a in geom.axes]
    sub_rows = n_batch * math.prod(blocks)
    sub_k, sub_n = math.prod(shifts) * c_in_g, math.prod(phases) * c_out_g
    sub_budget = min(subpixel.CHUNK_BYTES, subpixel.SHARE * 4 * (n_batch * c_in * positions + out_values))
    sub_chunks = max(1, math.ceil(sub_rows * sub_n * g * 4 / sub_budget))
    subpixel_s = (
        _gemm_seconds(2.0 * sub_rows * sub_k * sub_n * g, sub_rows / sub_chunks, sub_k, sub_n)
        + (sub_rows * sub_k * g + n_batch * c_in * math.prod(b + q - 1 for b, q in zip(blocks, shifts))) * _COPY_S
        + sub_chunks * weight_bytes / _MEMORY_BYTES_PER_S
        + weight_bytes / 4 * _SHUFFLE_S  # the kernel rearranged into (Q, C_in, R, C_out), once per call
        + (  # the depth-to-space: one compiled pass, or NumPy assignments per phase combination
            out_values * _SHUFFLE_COMPILED_S if subpixel.compiled_shuffle(geom)
            else out_values * _SHUFFLE_S + sub_chunks * math.prod(phases[:-1]) * 2 * _CALL_S
        )
    )

    live = math.prod(phases)
    phase_s = (
        1.5  # one GEMM per phase on a fresh im2col copy: measured slower than the others
        * _gemm_seconds(direct, n_batch * positions, max(1, taps // math.prod(geom.stride)) * c_in_g, c_out_g)
        + live * _PHASE_S
        + n_batch * c_in * positions * taps * _COPY_S * (1 if g == 1 else 4)  # groups: one einsum per tap
        + out_values * _SHUFFLE_S
    )

    f = math.prod(geom.full)
    fft_flops = 5.0 * f * math.log2(max(f, 2)) * n_batch * (c_in + c_out) + 4.0 * n_batch * c_in * c_out_g * f
    # a dozen array passes (zero insertion, transforms, products) of fixed overhead each
    fft_s = fft_flops / _FFT_FLOPS_PER_S + 64.0 * out_values / _MEMORY_BYTES_PER_S + 12 * _CALL_S
    return {"col2im": col2im_s, "subpixel": subpixel_s, "phase": phase_s, "fft": fft_s}


def choose(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> str:
    """The algorithm ``auto`` runs: the cheapest by :func:`estimate_seconds`.

    Remembered per layer (shapes, geometry and whether the compiled kernels run): a
    network calls the same layers again, and on small layers the model's own Python
    time would be a noticeable share of the call.
    """
    return _choose(tuple(x_shape), tuple(weight_shape), geom, col2im.compiled_kernels(geom) is not None)


@functools.lru_cache(maxsize=256)
def _choose(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, compiled: bool) -> str:
    costs = estimate_seconds(x_shape, weight_shape, geom)
    return min(costs, key=costs.__getitem__)
