"""Max pooling that records its switches, and the unpooling that puts values back through them.

``MaxPool*d`` is PyTorch's ``nn.MaxPool*d`` (kernel, stride, padding as ``-inf``,
dilation, ``ceil_mode``) and keeps, in ``indices``, where each maximum came
from: the flat position in its ``(n, c)`` plane, PyTorch's ``return_indices=True``
output. ``MaxUnpool*d`` writes values back to those positions (zeros elsewhere),
the switches ZF-Net's deconvnet uses to project activations to pixels.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..errors import fail
from ..normalise import as_array, as_flag, as_int, is_seq, per_axis
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]


def _check_input(func: str, name: str, x: np.ndarray, nd: int) -> None:
    if x.ndim != nd + 2 or 0 in x.shape:
        raise fail(func, f"{name} must have shape (N, C, {', '.join('*' * nd)}) with {nd} non-empty spatial dims; "
                         f"got shape {x.shape}")


def _scatter_rows(x: np.ndarray, indices: np.ndarray, plane: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions ``row * plane + index`` for every entry of ``indices`` ``(N, C, *)``, and the values."""
    rows = math.prod(x.shape[:2])
    offsets = np.arange(rows, dtype=np.int64)[:, None] * plane + indices.reshape(rows, -1)
    return offsets.ravel(), x.reshape(-1)


class _MaxPoolNd(Module):
    """``y[n, c, o] = max_j x[n, c, o*s + j*d - p]`` over the window (``-inf`` outside), first maximum wins,
    a NaN always wins (PyTorch's CPU rule); ``indices`` holds the flat input position of each maximum."""

    nd: int

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False) -> None:
        super().__init__()
        func = self._func = f"nn.{type(self).__name__}"
        nd = self.nd
        self.kernel_size = per_axis(func, "kernel_size", kernel_size, nd, 1)
        self.stride = self.kernel_size if stride is None else per_axis(func, "stride", stride, nd, 1)
        self.dilation = per_axis(func, "dilation", dilation, nd, 1)
        self.padding = per_axis(func, "padding", padding, nd, 0)
        for k, pad in zip(self.kernel_size, self.padding):
            if pad > k // 2:
                raise fail(func, f"padding must be at most half the kernel size (PyTorch's rule); "
                                 f"got padding={padding!r}, kernel_size={kernel_size!r}")
        self.ceil_mode = as_flag(func, "ceil_mode", ceil_mode)
        self.indices: np.ndarray | None = None

    def output_size(self, in_size: Sequence[int]) -> tuple[int, ...]:
        """PyTorch's output length per axis, ``ceil_mode`` included (a last window starts inside the input or
        its low padding)."""
        out = []
        for n, k, s, p, d in zip(in_size, self.kernel_size, self.stride, self.padding, self.dilation):
            span = n + 2 * p - d * (k - 1) - 1
            if span < 0:
                raise fail(self._func, f"input of spatial size {tuple(in_size)} is smaller than the dilated kernel "
                                       f"{self.kernel_size} plus padding {self.padding}")
            o = (-(-span // s) if self.ceil_mode else span // s) + 1
            if self.ceil_mode and (o - 1) * s >= n + p:
                o -= 1
            out.append(o)
        return tuple(out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_array(self._func, "input", x)
        _check_input(self._func, "input", x, self.nd)
        n, out = x.shape[2:], self.output_size(x.shape[2:])
        low = -np.inf if x.dtype.kind in "fc" else np.iinfo(x.dtype).min
        reach = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out, self.stride, self.dilation, self.kernel_size)]
        padded = np.full(x.shape[:2] + tuple(max(r, ni + p) for r, ni, p in zip(reach, n, self.padding)), low, x.dtype)
        padded[(Ellipsis,) + tuple(slice(p, p + ni) for p, ni in zip(self.padding, n))] = x
        starts = [np.arange(o) * s - p for o, s, p in zip(out, self.stride, self.padding)]
        # a window of padding only reports its first position inside the input, as PyTorch does
        first = [st + d * (-(-np.maximum(-st, 0) // d)) for st, d in zip(starts, self.dilation)]
        best = np.full(x.shape[:2] + out, low, x.dtype)
        index = self._flat(first, n)
        index = np.broadcast_to(index, best.shape).copy()
        for tap in np.ndindex(*self.kernel_size):
            window = tuple(slice(j * d, j * d + (o - 1) * s + 1, s)
                           for j, d, o, s in zip(tap, self.dilation, out, self.stride))
            values = padded[(Ellipsis,) + window]
            take = values > best
            if x.dtype.kind in "fc":
                take |= np.isnan(values)
            best = np.where(take, values, best)
            index = np.where(take, self._flat([st + j * d for st, j, d in zip(starts, tap, self.dilation)], n), index)
        self.indices = index
        self._in_shape = x.shape
        return best

    @staticmethod
    def _flat(positions: list[np.ndarray], n: tuple[int, ...]) -> np.ndarray:
        """Row-major flat positions in the plane ``n`` of the per-axis ``positions``, broadcast over the axes."""
        flat = np.zeros((1,) * len(n), dtype=np.int64)
        for ax, pos in enumerate(positions):
            shape = [1] * len(n)
            shape[ax] = len(pos)
            flat = flat * n[ax] + pos.reshape(shape)
        return flat

    def backward(self, grad: np.ndarray) -> np.ndarray:
        # each output's gradient goes to its switch; overlapping windows that share a maximum add up
        flat, values = _scatter_rows(grad, self.indices, math.prod(self._in_shape[2:]))
        gx = np.bincount(flat, weights=values, minlength=math.prod(self._in_shape))
        return gx.reshape(self._in_shape).astype(grad.dtype, copy=False)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class _MaxUnpoolNd(Module):
    """``y`` zero except ``y[n, c, indices[n, c, i]] = x[n, c, i]``: the switches of a max pooling, undone."""

    nd: int

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        func = self._func = f"nn.{type(self).__name__}"
        self.kernel_size = per_axis(func, "kernel_size", kernel_size, self.nd, 1)
        self.stride = self.kernel_size if stride is None else per_axis(func, "stride", stride, self.nd, 1)
        self.padding = per_axis(func, "padding", padding, self.nd, 0)

    def _output_size(self, in_size: tuple[int, ...], output_size: Sequence[int] | None) -> tuple[int, ...]:
        default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(in_size, self.stride, self.padding,
                                                                        self.kernel_size))
        if output_size is None:
            return default
        if not is_seq(output_size) or len(output_size) not in (self.nd, self.nd + 2):
            raise fail(self._func, f"output_size must be {self.nd} spatial sizes (or N, C and them); "
                                   f"got {output_size!r}")
        sizes = tuple(as_int(self._func, "output_size", v, 1) for v in output_size)[-self.nd:]
        for ax, (got, d, s) in enumerate(zip(sizes, default, self.stride)):
            if not d - s < got < d + s:
                raise fail(self._func, f"output_size must be in ({d - s}, {d + s}) on axis {ax} (the default "
                                       f"{d} within one stride); got {got}")
        return sizes

    def forward(self, x: np.ndarray, indices: np.ndarray, output_size: Sequence[int] | None = None) -> np.ndarray:
        x = as_array(self._func, "input", x)
        _check_input(self._func, "input", x, self.nd)
        indices = np.asarray(indices)
        if indices.shape != x.shape or indices.dtype.kind not in "iu":
            raise fail(self._func, f"indices must be integers of the input's shape {x.shape} (a MaxPool's "
                                   f"indices); got {indices.dtype} of shape {indices.shape}")
        size = self._output_size(x.shape[2:], output_size)
        plane = math.prod(size)
        if indices.size and (indices.min() < 0 or indices.max() >= plane):
            raise fail(self._func, f"indices must be in [0, {plane}) for an output of spatial size {size}; "
                                   f"got values in [{indices.min()}, {indices.max()}]")
        flat, values = _scatter_rows(x, indices, plane)
        y = np.zeros(math.prod(x.shape[:2]) * plane, dtype=x.dtype)
        y[flat] = values
        self._switches = flat
        self._in_shape = x.shape
        return y.reshape(x.shape[:2] + size)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.reshape(-1)[self._switches].reshape(self._in_shape)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling with switches (PyTorch's ``nn.MaxPool1d``; ``indices`` after each forward)."""

    nd = 1


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling with switches (PyTorch's ``nn.MaxPool2d``; ``indices`` after each forward).

    Examples
    --------
    >>> import numpy as np
    >>> pool = MaxPool2d(2)
    >>> pool(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0], pool.indices[0, 0]
    (array([[ 5.,  7.],
           [13., 15.]]), array([[ 5,  7],
           [13, 15]]))
    """

    nd = 2


class MaxPool3d(_MaxPoolNd):
    """3-d max pooling with switches (PyTorch's ``nn.MaxPool3d``; ``indices`` after each forward)."""

    nd = 3


class MaxUnpool1d(_MaxUnpoolNd):
    """1-d max unpooling through a MaxPool1d's ``indices`` (PyTorch's ``nn.MaxUnpool1d``)."""

    nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """2-d max unpooling through a MaxPool2d's ``indices`` (PyTorch's ``nn.MaxUnpool2d``).

    Examples
    --------
    >>> import numpy as np
    >>> pool, unpool = MaxPool2d(2), MaxUnpool2d(2)
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> unpool(pool(x), pool.indices)[0, 0]
    array([[ 0.,  0.,  0.,  0.],
           [ 0.,  5.,  0.,  7.],
           [ 0.,  0.,  0.,  0.],
           [ 0., 13.,  0., 15.]])
    """

    nd = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """3-d max unpooling through a MaxPool3d's ``indices`` (PyTorch's ``nn.MaxUnpool3d``)."""

    nd = 3
