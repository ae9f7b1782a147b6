"""The convolution matrix: the transposed convolution is ``C^T x``.

``C`` is the forward conv's matrix for one sample, channels included: it maps
the transposed conv's output (the conv's input, ``C_out * prod(L)`` values) to
its input (``C_in * prod(n)`` values)::

    C[(c, i), (o, f - lo)] = w[c, o, j]     for f = i*s + j*d per axis, 0 <= f - lo < L
    y = C^T x                                (one sparse product for the whole batch)

for ``o`` in input channel ``c``'s group. The transposed convolution is
literally the transpose of the convolution's matrix.

FLOPs: ``2 * nnz(C) * N`` with ``nnz(C) <= C_in * (C_out/g) * prod(n) * prod(k)``
(taps the window crops are not stored).
Extra memory (:func:`working_bytes`): while ``C`` is built, its entries three
times over (per tap, joined, and in compressed rows) with their indices, about
``nnz * (3 * itemsize + 48)`` bytes; then ``C``, a copy of the input and the
product. The algorithm declines (``TconvError``) when ``C``'s bound
``nnz * (itemsize + 16)`` passes :data:`MEMORY_BUDGET`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from ..errors import TconvError
from ..geometry import Geometry
from .common import iterator_bytes

#: Largest matrix (bytes, while building) the ``matrix`` algorithm will make.
MEMORY_BUDGET = 256 * 2**20


def build(weight: np.ndarray, geom: Geometry, *, func: str = "conv_transpose") -> sparse.csr_matrix:
    """The matrix ``C`` of shape ``(C_in * prod(n), C_out * prod(L))`` for one sample.

    ``weight`` is ``(C_in, C_out/g, *k)``: the transposed conv's weight, which is
    the same tensor as the forward conv's ``(C_out', C_in'/g, *k)``.
    """
    a_ch, b_ch = weight.shape[:2]
    g = geom.groups
    n_cols_in = int(np.prod(geom.in_size))
    n_out = int(np.prod(geom.out_size))
    nnz_bound = a_ch * b_ch * n_cols_in * int(np.prod(geom.kernel))
    need = nnz_bound * (weight.dtype.itemsize + 16)
    if need > MEMORY_BUDGET:
        raise TconvError(
            f"tconv.{func}: algorithm='matrix' would need about {need / 2**20:.0f} MiB for the "
            f"convolution matrix, over its budget of {MEMORY_BUDGET / 2**20:.0f} MiB; "
            "use algorithm='phase' or 'col2im' (or 'auto') for this size"
        )
    # output channel (column block) of weight[a, b]: group(a) * b_ch + b
    col_channel = (np.arange(a_ch)[:, None] // (a_ch // g)) * b_ch + np.arange(b_ch)[None, :]
    rows, cols, data = [], [], []
    for j in np.ndindex(*geom.kernel):
        i_axes, f_axes = [], []
        for ji, a in zip(j, geom.axes):
            i = np.arange(a.size)
            f = i * a.stride + ji * a.dilation - a.start
            keep = (f >= 0) & (f < a.length)
            i_axes.append(i[keep])
            f_axes.append(f[keep])
        if any(len(i) == 0 for i in i_axes):
            continue
        flat_i = np.ravel_multi_index(np.meshgrid(*i_axes, indexing="ij"), geom.in_size).ravel()
        flat_f = np.ravel_multi_index(np.meshgrid(*f_axes, indexing="ij"), geom.out_size).ravel()
        rows.append((np.arange(a_ch)[:, None, None] * n_cols_in + flat_i).repeat(b_ch, axis=1).ravel())
        cols.append((col_channel[:, :, None] * n_out + flat_f).ravel())
        data.append(np.broadcast_to(weight[(slice(None), slice(None)) + j][:, :, None], (a_ch, b_ch, len(flat_i))).ravel())
    shape = (a_ch * n_cols_in, g * b_ch * n_out)
    if not rows:
        return sparse.csr_matrix(shape, dtype=weight.dtype)
    return sparse.coo_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=shape
    ).tocsr()


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    c = build(weight, geom)
    n_batch = x.shape[0]
    y = (c.T @ x.reshape(n_batch, -1).T).T
    return np.asarray(y).reshape((n_batch, -1) + geom.out_size)


def working_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes a call allocates beyond its input and output (C-contiguous arrays of ``itemsize``), an upper bound.

    Building ``C`` (``nnz`` entries, the taps the window keeps): the per-tap pieces
    (64-bit row and column indices and values), their concatenation, the COO
    matrix's 32-bit indices and the CSR matrix; then ``C`` beside a copy of the
    input and the product before its reordering into the output.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    kept = [sum((r[0].stop - r[0].start) for j in range(a.kernel) if (r := a.tap_range(j)) is not None)
            for a in geom.axes]
    nnz = c_in * c_out_g * math.prod(kept)
    rows = c_in * math.prod(geom.in_size) + 1
    build = nnz * (2 * (16 + itemsize) + 8 + 8 + itemsize) + 8 * rows
    product = (nnz * (8 + itemsize) + 8 * rows + n_batch * c_in * math.prod(geom.in_size) * itemsize
               + n_batch * c_out_g * geom.groups * math.prod(geom.out_size) * itemsize)
    return max(build, product) + iterator_bytes(itemsize)
