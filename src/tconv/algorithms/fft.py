"""Frequency domain: the zero-inserted input convolved with the dilated kernel by FFT.

Per group, with ``x_z`` the zero-inserted input and ``w_d`` the dilated kernel::

    Y_full[b, o, :] = irfftn( sum_c rfftn(x_z[b, c]) * rfftn(w_d[c, o]) )   size >= full
    y = y_full[..., lo : lo + L]

The linear convolution of lengths ``(n-1)*s + 1`` and ``k_eff`` is exactly
``full`` long, so a transform of at least ``full`` points has no wrap-around.

FLOPs: about ``5 * F * log2(F) * N * (C_in + C_out) + 8 * N * C_in * (C_out/g) * F/2``
with ``F = prod(full)``: independent of the kernel size, so it wins for large
kernels (FCN's 64x64 bilinear upsampler).
Extra memory: the spectra, ``N * (C_in + C_out) * F / 2`` complex numbers, plus
``C_in * (C_out/g) * F / 2`` for the kernel's.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from ..geometry import Geometry
from .common import dilate_kernel, take_window, zero_insert


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
