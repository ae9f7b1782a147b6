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
