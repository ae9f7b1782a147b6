"""Direct scatter: the definition, tap by tap (the readable reference).

Formula, per spatial axis (``s`` stride, ``d`` dilation, window ``lo``, ``L``)::

    y_full[b, o, i*s + j*d] += x[b, c, i] * w[c, o, j]     for every tap j
    y = y_full[..., lo : lo + L]                            (zero-extended)

summed over the input channels ``c`` of output channel ``o``'s group.

FLOPs: ``2 * N * C_in * (C_out/g) * prod(n) * prod(k)`` (every multiply of the
definition, including the ones the window crops).
Extra memory (:func:`working_bytes`): the full result ``N * C_out *
prod((n-1)*s + d*(k-1) + 1)`` plus one tap's product, ``N * C_out * prod(n)``,
and its contraction's copies.
"""

from __future__ import annotations

import math

import numpy as np

from ..geometry import Geometry
from .common import iterator_bytes, take_window, tap_slices


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    g = geom.groups
    n_batch, c_in = x.shape[:2]
    c_out_g = weight.shape[1]
    xg = x.reshape((n_batch, g, c_in // g) + geom.in_size)
    wg = weight.reshape((g, c_in // g, c_out_g) + geom.kernel)
    y_full = np.zeros((n_batch, g * c_out_g) + geom.full, dtype=np.result_type(x, weight))
    for j in np.ndindex(*geom.kernel):
        # every input element i stamps w[..., j] at i*s + j*d
        # optimize: BLAS (tensordot) without groups; with groups einsum's own loop is faster
        contribution = np.einsum("bgc...,gco->bgo...", xg, wg[(Ellipsis,) + j], optimize=g == 1)
        dst = tap_slices(j, geom)
        y_full[(slice(None), slice(None)) + dst] += contribution.reshape((n_batch, g * c_out_g) + geom.in_size)
    return take_window(y_full, geom)


def working_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes a call allocates beyond its input and output (C-contiguous arrays of ``itemsize``), an upper bound.

    The full result (less the output when that is a window of it), and per tap the contraction's copies of the input and the
    tap's weights (two of each: the reordering for ``einsum``, then for BLAS), its
    product and that product reordered, and the iterator's buffers.
    """
    n_batch, c_in = x_shape[:2]
    c_out = weight_shape[1] * geom.groups
    positions = math.prod(geom.in_size)
    inside = all(0 <= a.start and a.start + a.length <= a.full for a in geom.axes)  # the output is a view
    full = n_batch * c_out * (math.prod(geom.full) - (math.prod(geom.out_size) if inside else 0))
    values = full + 2 * (n_batch * c_in * positions + c_in * weight_shape[1]
                                                          + n_batch * c_out * positions)
    return values * itemsize + iterator_bytes(itemsize)
