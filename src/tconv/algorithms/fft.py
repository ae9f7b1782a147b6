"""Frequency domain: the zero-inserted input convolved with the dilated kernel by FFT.

Per group, with ``x_z`` the zero-inserted input and ``w_d`` the dilated kernel::

    Y_full[b, o, :] = irfftn( sum_c rfftn(x_z[b, c]) * rfftn(w_d[c, o]) )   size >= full
    y = y_full[..., lo : lo + L]

The linear convolution of lengths ``(n-1)*s + 1`` and ``k_eff`` is exactly
``full`` long, so a transform of at least ``full`` points has no wrap-around.

FLOPs: about ``5 * F * log2(F) * N * (C_in + C_out) + 8 * N * C_in * (C_out/g) * F/2``
with ``F = prod(full)``: independent of the kernel size, so it wins for large
kernels (FCN's 64x64 bilinear upsampler).
Extra memory (:func:`working_bytes`): the spectra, ``N * (C_in + C_out) * F / 2``
complex numbers, plus ``C_in * (C_out/g) * F / 2`` for the kernel's, and the
full result and the transforms' padded copies.
Time (:func:`estimate_seconds`): the transforms and the products per frequency,
plus a dozen array passes.

Non-finite values spread: a transform mixes every input element into every
frequency, so one NaN or inf in ``x`` or ``weight`` makes (nearly) the whole
output of its sample and group NaN, where the definition has non-finite values
only at the outputs that element's terms reach. Its outputs are finite wherever
the inputs are all finite. ``auto`` never runs it on non-finite inputs
(:mod:`tconv.nonfinite`); chosen explicitly, it runs as it is.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sfft

from ..geometry import Geometry
from . import cost
from .common import dilate_kernel, iterator_bytes, take_window, zero_insert


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    g = geom.groups
    nd = geom.ndim
    n_batch, c_in = x.shape[:2]
    c_in_g, c_out_g = c_in // g, weight.shape[1]
    dtype = np.result_type(x, weight)
    axes = tuple(range(-nd, 0))
    shape = tuple(sfft.next_fast_len(f, real=True) for f in geom.full)
    x_f = sfft.rfftn(zero_insert(x, geom.stride), shape, axes=axes)
    w_f = sfft.rfftn(dilate_kernel(weight, geom.dilation), shape, axes=axes)
    spectrum = x_f.shape[2:]
    # per frequency: (N, C_in/g) @ (C_in/g, C_out/g), batched over frequencies and groups
    x_f = x_f.reshape(n_batch, g, c_in_g, -1).transpose(1, 3, 0, 2)  # (G, F, N, C_in/g)
    w_f = w_f.reshape(g, c_in_g, c_out_g, -1).transpose(0, 3, 1, 2)  # (G, F, C_in/g, C_out/g)
    y_f = np.matmul(x_f, w_f)  # (G, F, N, C_out/g)
    y_f = y_f.transpose(2, 0, 3, 1).reshape((n_batch, g * c_out_g) + spectrum)
    y_full = sfft.irfftn(y_f, shape, axes=axes)
    return take_window(y_full[(Ellipsis,) + tuple(slice(0, f) for f in geom.full)], geom).astype(dtype, copy=False)


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> float:
    """Estimated seconds of a float32 call (the rates of :mod:`.cost`).

    ``N * (C_in + C_out)`` transforms of ``F = prod(full)`` points and a product per
    frequency; it does not grow with the kernel.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    c_out = c_out_g * geom.groups
    out_values = n_batch * c_out * math.prod(geom.out_size)
    f = math.prod(geom.full)
    flops = 5.0 * f * math.log2(max(f, 2)) * n_batch * (c_in + c_out) + 4.0 * n_batch * c_in * c_out_g * f
    # a dozen array passes (zero insertion, transforms, products) of fixed overhead each
    return flops / cost.FFT_FLOPS_PER_S + 64.0 * out_values / cost.MEMORY_BYTES_PER_S + 12 * cost.CALL_S


def working_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes a call allocates beyond its input and output (C-contiguous arrays of ``itemsize``), an upper bound.

    The largest of the call's four stages: the zero-inserted input, its padded copy
    and its spectrum; the kernel's dilated copy, padded copy and spectrum; the
    product's spectrum and its reordered copy; the inverse transform's working copy
    and the full real result (less the output when that is a window of it). Each
    stage holds the spectra made before it.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    c_out = c_out_g * geom.groups
    shape = tuple(sfft.next_fast_len(f, real=True) for f in geom.full)
    real = math.prod(shape)
    spectrum = math.prod(shape[:-1]) * (shape[-1] // 2 + 1) * 2  # in reals
    x_spec, w_spec, y_spec = n_batch * c_in * spectrum, c_in * c_out_g * spectrum, n_batch * c_out * spectrum
    inside = all(0 <= a.start and a.start + a.length <= a.full for a in geom.axes)  # the output is a view
    full = n_batch * c_out * (real - (math.prod(geom.out_size) if inside else 0))
    stages = (
        n_batch * c_in * (math.prod(a.dilated_size for a in geom.axes) + real) + x_spec,
        x_spec + c_in * c_out_g * (math.prod(a.k_eff for a in geom.axes) + real) + w_spec,
        x_spec + w_spec + 2 * y_spec,
        x_spec + w_spec + 2 * y_spec + full,
    )
    return max(stages) * itemsize + iterator_bytes(itemsize)
