"""Building blocks shared by the formulations: windows, the stride-1/strided correlation, layouts."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..geometry import Geometry


#: Largest im2col buffer (bytes) of :func:`correlate`; larger inputs go in chunks of samples.
IM2COL_BYTES = 16 * 2**20


def window(a: np.ndarray, starts: Sequence[int], lengths: Sequence[int]) -> np.ndarray:
    """``a[..., start:start+length]`` on each trailing axis, zero-extended at both ends.

    ``start`` may be negative and ``start + length`` may pass the end: those
    positions are zeros (never Python's wrap-around). Returns a view when the
    window lies inside ``a``.
    """
    nd = len(starts)
    spatial = a.shape[a.ndim - nd :]
    inside = all(0 <= s and s + n <= m for s, n, m in zip(starts, lengths, spatial))
    src = tuple(slice(max(s, 0), min(s + n, m)) for s, n, m in zip(starts, lengths, spatial))
    if inside:
        return a[(Ellipsis,) + src]
    out = np.zeros(a.shape[: a.ndim - nd] + tuple(lengths), dtype=a.dtype)
    if all(sl.start < sl.stop for sl in src):
        dst = tuple(slice(sl.start - s, sl.stop - s) for sl, s in zip(src, starts))
        out[(Ellipsis,) + dst] = a[(Ellipsis,) + src]
    return out


def take_window(y_full: np.ndarray, geom: Geometry) -> np.ndarray:
    """The geometry's output window of a full scatter result."""
    return window(y_full, geom.start, geom.out_size)


def tap_slices(j: Sequence[int], geom: Geometry) -> tuple[slice, ...]:
    """Where tap ``j`` lands in ``y_full``: positions ``i*s + j*d`` for ``0 <= i < n``, per axis."""
    return tuple(
        slice(ji * a.dilation, ji * a.dilation + (a.size - 1) * a.stride + 1, a.stride)
        for ji, a in zip(j, geom.axes)
    )


def to_conv_layout(weight: np.ndarray, groups: int) -> np.ndarray:
    """``(C_in, C_out/g, *k)`` -> ``(C_out, C_in/g, *k)``: swap the channel axes within each group."""
    c_in, c_out_g = weight.shape[:2]
    k = weight.shape[2:]
    w = weight.reshape((groups, c_in // groups, c_out_g) + k).swapaxes(1, 2)
    return w.reshape((groups * c_out_g, c_in // groups) + k)


def correlate(
    x: np.ndarray,
    w: np.ndarray,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
) -> np.ndarray:
    """Valid N-d cross-correlation with PyTorch's conv layout.

    ``y[b, o, t] = sum_{c, j} w[o, c, j] * x[b, g(o)*C_g + c, t*s + j*d]`` over
    taps ``j`` and the input channels ``c`` of output channel ``o``'s group.
    ``x`` is ``(N, C_in, *m)`` (already padded), ``w`` is ``(C_out, C_in/g, *k)``;
    the output is ``(N, C_out, *((m - d*(k-1) - 1) // s + 1))``.

    Channels-last data. Without groups: an im2col buffer of at most
    :data:`IM2COL_BYTES` (chunks of samples) and one GEMM per chunk with all
    taps along the inner dimension, ``(N * prod(out), prod(k) * C_in) @
    (prod(k) * C_in, C_out)``: few large BLAS calls. With groups: one batched
    product per kernel tap, accumulated in place.
    """
    n_batch, c_in = x.shape[:2]
    c_out, c_in_g = w.shape[:2]
    k = w.shape[2:]
    m = x.shape[2:]
    out = tuple((mi - (di * (ki - 1) + 1)) // si + 1 for mi, ki, si, di in zip(m, k, stride, dilation))
    c_out_g = c_out // groups
    dtype = np.result_type(x, w)
    # channels last, grouped: (N, *m, G, C_in/g) and w as (G, *k, C_in/g, C_out/g)
    xl = np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape((n_batch,) + m + (groups, c_in_g))
    wl = np.moveaxis(w.reshape((groups, c_out_g, c_in_g) + k), 1, -1)
    wl = np.moveaxis(wl, 1, -2)
    taps = list(np.ndindex(*k))

    def src(j: tuple[int, ...]) -> tuple[slice, ...]:
        return tuple(slice(ji * di, ji * di + (oi - 1) * si + 1, si) for ji, di, oi, si in zip(j, dilation, out, stride))

    if groups == 1:
        y = np.empty((n_batch,) + out + (c_out,), dtype=dtype)
        w_mat = wl[0].reshape(len(taps) * c_in, c_out)
        per_sample = math.prod(out) * len(taps) * c_in * dtype.itemsize
        nb = max(1, min(n_batch, IM2COL_BYTES // max(1, per_sample)))
        buffer = np.empty((nb,) + out + (len(taps), c_in), dtype=dtype)
        for b0 in range(0, n_batch, nb):
            b1 = min(n_batch, b0 + nb)
            cols = buffer[: b1 - b0]
            for t, j in enumerate(taps):
                cols[..., t, :] = xl[(slice(b0, b1),) + src(j)][..., 0, :]
            np.matmul(cols.reshape(-1, len(taps) * c_in), w_mat, out=y[b0:b1].reshape(-1, c_out))
        return np.moveaxis(y, -1, 1)
    y = np.zeros((n_batch,) + out + (groups, c_out_g), dtype=dtype)
    for j in taps:
        y += np.einsum("...gc,gco->...go", xl[(slice(None),) + src(j)], wl[(slice(None),) + j])
    y = y.reshape((n_batch,) + out + (c_out,))
    return np.moveaxis(y, -1, 1)


#: Largest block of tap products (bytes) of :func:`correlate_shifted`; larger planes go in blocks of rows.
SHIFTED_BYTES = 64 * 2**20


def _shifted_rows(m: Sequence[int], k: Sequence[int], dilation: Sequence[int], c_out: int, itemsize: int) -> int:
    """Output rows (along the first spatial axis) of one block of :func:`correlate_shifted`: as
    many as fit :data:`SHIFTED_BYTES`, and at least eight times the rows a block reads past its end."""
    per_row = math.prod(k) * c_out * math.prod(m[1:]) * itemsize
    return max(8 * dilation[0] * (k[0] - 1), SHIFTED_BYTES // max(1, per_row), 1)


def correlate_shifted(x: np.ndarray, w: np.ndarray, dilation: Sequence[int]) -> np.ndarray:
    """Valid stride-1 N-d cross-correlation without groups, channels first, without im2col.

    ``y[b, o, t] = sum_{c, j} w[o, c, j] * x[b, c, t + j*d]``, ``x`` ``(N, C_in, *m)``
    (already padded), ``w`` ``(C_out, C_in, *k)``, ``y`` ``(N, C_out, *(m - d*(k-1)))``.

    With each sample's planes flattened to ``X`` ``(C_in, prod(m))``, tap ``j`` reads
    ``X`` shifted by ``off_j = sum_i j_i d_i prod(m[i+1:])``. So every tap's products are
    one GEMM, ``Z = W (prod(k) * C_out, C_in) @ X``, and ``y[:, p] = sum_j Z_j[:, p + off_j]``:
    shifted additions over contiguous columns (flat positions past a row's last output wrap
    into the next row and are dropped). The input is read in place and the result is channels
    first, so neither is copied; the im2col's ``prod(k)``-fold copy of the input becomes the
    ``prod(k)``-fold product ``Z`` of the output's size, which is smaller where ``C_out < C_in``
    and is read in the additions straight after its GEMM. Planes whose ``Z`` passes
    :data:`SHIFTED_BYTES` go in blocks of rows of the first axis (:func:`_shifted_rows`), each
    reading ``d*(k-1)`` rows past its end. FLOPs are the definition's, plus the wrapped positions.
    """
    x = np.ascontiguousarray(x)
    n_batch, c_in = x.shape[:2]
    c_out = w.shape[0]
    m, k = tuple(x.shape[2:]), tuple(w.shape[2:])
    out = tuple(mi - di * (ki - 1) for mi, ki, di in zip(m, k, dilation))
    dtype = np.result_type(x, w)
    row = math.prod(m[1:])  # flat positions per row of the first axis
    offsets = [sum(ji * di * math.prod(m[i + 1 :]) for i, (ji, di) in enumerate(zip(j, dilation))) for j in np.ndindex(*k)]
    taps = np.ascontiguousarray(np.moveaxis(w.reshape(c_out, c_in, -1), 2, 0).reshape(-1, c_in), dtype=dtype)
    xf = x.reshape(n_batch, c_in, -1).astype(dtype, copy=False)
    rows = min(out[0], _shifted_rows(m, k, dilation, c_out, dtype.itemsize))
    reach = dilation[0] * (k[0] - 1) * row + row  # columns a block reads past its first position, beyond its rows
    y = np.empty((n_batch, c_out) + out, dtype=dtype)
    crop = tuple(slice(0, oi) for oi in out[1:])
    for b in range(n_batch):
        for r0 in range(0, out[0], rows):
            r1 = min(out[0], r0 + rows)
            cols = (r1 - r0) * row
            z = (taps @ xf[b, :, r0 * row : r0 * row + cols - row + reach]).reshape(len(offsets), c_out, -1)
            acc = z[0, :, :cols].copy()  # tap 0 has offset 0
            for t, off in enumerate(offsets[1:], 1):
                width = min(cols, z.shape[2] - off)  # the last row's wrapped tail may fall past the plane
                acc[:, :width] += z[t, :, off : off + width]
            del z
            y[b, :, r0:r1] = acc.reshape((c_out, r1 - r0) + m[1:])[(slice(None), slice(None)) + crop]
    return y


def correlate_shifted_bytes(n_batch: int, c_in: int, c_out: int, m: Sequence[int], k: Sequence[int],
                            dilation: Sequence[int], itemsize: int) -> int:
    """Bytes :func:`correlate_shifted` allocates besides its result, an upper bound: the weight in
    GEMM layout, a contiguous copy of the input, one block's tap products and its sum."""
    out0 = m[0] - dilation[0] * (k[0] - 1)
    rows = min(out0, _shifted_rows(m, k, dilation, c_out, itemsize))
    row = math.prod(m[1:])
    block = (rows + dilation[0] * (k[0] - 1) + 1) * row
    return itemsize * (math.prod(k) * c_in * c_out + n_batch * c_in * math.prod(m)
                       + (math.prod(k) + 1) * c_out * block)


def iterator_bytes(itemsize: int, calls: int = 1) -> int:
    """Bytes of NumPy's iterator buffers for ``calls`` concurrent element-wise calls (ufuncs, einsum)
    on strided or broadcast operands: up to ``numpy.getbufsize()`` elements for each of three operands."""
    return calls * 3 * np.getbufsize() * itemsize


def correlate_bytes(n_batch: int, c_in: int, c_out: int, taps: int, in_positions: int, out_positions: int,
                    groups: int, itemsize: int) -> int:
    """Bytes :func:`correlate` allocates besides its result (``n_batch * c_out * out_positions`` values),
    an upper bound: the channels-last copy of its input, then without groups the weight's GEMM
    layout and the im2col buffer, with groups one tap's product (and the iterator's buffers)."""
    values = n_batch * c_in * in_positions
    if groups == 1:
        per_sample = out_positions * taps * c_in * itemsize
        nb = max(1, min(n_batch, IM2COL_BYTES // max(1, per_sample)))
        values += taps * c_in * c_out + nb * out_positions * taps * c_in
    else:
        values += n_batch * c_out * out_positions
    return values * itemsize + iterator_bytes(itemsize)


def zero_insert(x: np.ndarray, stride: Sequence[int]) -> np.ndarray:
    """Insert ``s-1`` zeros between neighbouring elements on each trailing axis."""
    nd = len(stride)
    n = x.shape[x.ndim - nd :]
    dilated = tuple((ni - 1) * si + 1 for ni, si in zip(n, stride))
    out = np.zeros(x.shape[: x.ndim - nd] + dilated, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(None, None, s) for s in stride)] = x
    return out


def dilate_kernel(w: np.ndarray, dilation: Sequence[int]) -> np.ndarray:
    """Spread the kernel taps ``d`` apart (``d-1`` zeros between taps): span ``d*(k-1) + 1``."""
    return zero_insert(w, dilation)


def flip(w: np.ndarray, nd: int) -> np.ndarray:
    """Reverse the ``nd`` trailing (spatial) axes."""
    return w[(Ellipsis,) + (slice(None, None, -1),) * nd]
