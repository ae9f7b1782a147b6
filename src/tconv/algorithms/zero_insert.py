"""Zero insertion: the articles' three steps, then a stride-1 convolution.

Per spatial axis::

    x_z  = x with s-1 zeros inserted between neighbours         (length (n-1)*s + 1)
    x_p  = x_z padded by k_eff-1-lo before and L+lo-full+k_eff-1 after
           (negative padding crops; k_eff = d*(k-1) + 1)
    y[o] = sum_j w_flip[j] * x_p[o + j*d]                        (stride 1, dilation d)

with ``w_flip`` the kernel reversed on every spatial axis and its channel axes
swapped within each group, ``(C_in, C_out/g, *k) -> (C_out, C_in/g, *k)``.

FLOPs: ``2 * N * C_out * (C_in/g) * prod(L) * prod(k)``: about ``prod(s)`` times
the definition's, since most of ``x_z`` is inserted zeros.
Extra memory (:func:`working_bytes`): the padded, zero-inserted input
``N * C_in * prod(L + k_eff - 1)`` (with the zero-inserted one while it is cut),
the flipped kernel and the correlation's copies.
"""

from __future__ import annotations

import math

import numpy as np

from ..geometry import Geometry
from .common import correlate, correlate_bytes, flip, iterator_bytes, to_conv_layout, window, zero_insert


def padded_input(x: np.ndarray, geom: Geometry) -> np.ndarray:
    """``x`` zero-inserted and padded (or cropped) per axis: the input of the stride-1 correlation."""
    starts = tuple(-a.pad_before for a in geom.axes)
    lengths = tuple(a.length + a.k_eff - 1 for a in geom.axes)
    return window(zero_insert(x, geom.stride), starts, lengths)


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    x_p = padded_input(x, geom)
    w_flip = flip(to_conv_layout(weight, geom.groups), geom.ndim)
    return correlate(x_p, w_flip, (1,) * geom.ndim, geom.dilation, geom.groups)


def working_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes a call allocates beyond its input and output (C-contiguous arrays of ``itemsize``), an upper bound.

    While the input is cut: the zero-inserted input and its padded copy (none when
    the window only crops); then the padded input, the flipped kernel and what
    :func:`.common.correlate` allocates besides its result, the output.
    """
    n_batch, c_in = x_shape[:2]
    c_out = weight_shape[1] * geom.groups
    inserted = n_batch * c_in * math.prod(a.dilated_size for a in geom.axes)
    crops = all(a.pad_before <= 0 and a.pad_after <= 0 for a in geom.axes)  # the padded input is a view
    padded = inserted if crops else n_batch * c_in * math.prod(a.length + a.k_eff - 1 for a in geom.axes)
    taps = math.prod(geom.kernel)
    correlation = correlate_bytes(n_batch, c_in, c_out, taps, padded // (n_batch * c_in), math.prod(geom.out_size),
                                  geom.groups, itemsize)
    return max((inserted + (0 if crops else padded)) * itemsize + iterator_bytes(itemsize),
               (padded + c_in * weight_shape[1] * taps) * itemsize + correlation)
