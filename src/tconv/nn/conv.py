"""Convolution and transposed-convolution layers with PyTorch's constructor arguments.

``ConvTranspose*`` adds what PyTorch lacks and Keras/TensorFlow models need,
as :mod:`tconv.compat.torch` defines it: ``padding="same"`` (output ``n * stride``,
TensorFlow's crop ``floor(P/2)`` at the start), ``padding="valid"`` (nothing
cropped), and ``padding_mode`` other than zeros, the adjoint of the padded conv:
the unpadded transposed conv with its margins folded back. ``(lo, hi)`` padding
pairs are accepted as :func:`tconv.conv_transpose` accepts them.
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np

from .. import init
from ..compat import torch as compat_torch
from ..errors import TconvError
from ..geometry import Geometry, build_conv, build_transpose, check_output_padding, output_padding_for_size
from ..grad import conv_backward_geometry, transpose_backward_geometry
from ..memory import check
from ..normalise import as_array, as_int, as_rng, choice, float_dtype, padding_pairs, per_axis
from ..ops import Packed, pack, run_conv_geometry, run_geometry, run_packed
from ..padmodes import PADDING_MODES, fold, pad
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

PaddingArg = Union[str, int, Sequence[Union[int, Sequence[int]]]]
Rng = Union[int, np.random.Generator, None]


class _ConvBase(Module):
    """What conv and transposed-conv layers share: arguments, parameters, gradient bookkeeping."""

    nd: int
    transposed: bool

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride,
        padding: PaddingArg,
        dilation,
        groups: int,
        bias: bool,
        padding_mode: str,
        rng: Rng,
        dtype,
    ) -> None:
        super().__init__()
        func = self._func = f"nn.{type(self).__name__}"
        nd = self.nd
        self.in_channels = as_int(func, "in_channels", in_channels, 1)
        self.out_channels = as_int(func, "out_channels", out_channels, 1)
        self.groups = as_int(func, "groups", groups, 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise TconvError(
                f"tconv.{func}: groups must divide in_channels and out_channels; got groups={groups}, "
                f"in_channels={in_channels}, out_channels={out_channels}"
            )
        self.kernel_size = per_axis(func, "kernel_size", kernel_size, nd, 1)
        self.stride = per_axis(func, "stride", stride, nd, 1)
        self.dilation = per_axis(func, "dilation", dilation, nd, 1)
        self.padding_mode = choice(func, "padding_mode", padding_mode, sorted(PADDING_MODES))
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise TconvError(f"tconv.{func}: padding must be 'same', 'valid', an int or per-axis ints; got {padding!r}")
            self.padding: str | tuple[tuple[int, int], ...] = padding
        else:
            self.padding = padding_pairs(func, padding, nd)
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        rng, dtype = as_rng(func, rng), float_dtype(func, dtype)
        check(func, 3 * 8 * math.prod(shape), f"a weight of shape {shape} and its gradient")
        self.weight = Parameter(init.kaiming_uniform(shape, rng=rng, dtype=dtype))
        self.bias = Parameter(init.default_bias(shape, self.out_channels, rng=rng, dtype=dtype)) if bias else None
        self._cache: tuple | None = None
        # geometries by input shape (and output_size): a layer sees the same few shapes again
        self._geometries: dict[tuple, Geometry] = {}
        # prepacked weights by input shape, dtype and geometry (None: not packed; a fused model's
        # layers pack theirs: tconv.nn.fuse), each beside the weight array it was packed from
        self._packs: dict[tuple, tuple[np.ndarray, Packed | None]] | None = None

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_array(self._func, "input", x)
        if x.ndim != self.nd + 2 or x.shape[1] != self.in_channels:
            raise TconvError(
                f"tconv.nn.{type(self).__name__}: input must have shape (N, {self.in_channels}, "
                f"{', '.join('*' * self.nd)}) with {self.nd} spatial dims; got shape {x.shape}"
            )
        return x

    def _accumulate(self, gw: np.ndarray, gb: np.ndarray | None) -> None:
        self.weight.grad += gw.astype(self.weight.grad.dtype, copy=False)
        if self.bias is not None:
            self.bias.grad += gb.astype(self.bias.grad.dtype, copy=False)

    def _bias(self) -> np.ndarray | None:
        return None if self.bias is None else self.bias.data

    def _packed(self, x: np.ndarray, geom: Geometry) -> Packed | None:
        """The weight prepacked for inputs like ``x`` (:func:`tconv.ops.pack`), in a fused model's
        layers; ``None`` elsewhere and where packing does not pay. Packed again when the weight
        array is replaced."""
        if self._packs is None:
            return None
        key = (x.shape, x.dtype.str, geom)
        weight = self.weight.data
        entry = self._packs.get(key)
        if entry is None or entry[0] is not weight:
            if len(self._packs) >= 8:  # a layer sees a few shapes; forget the old ones
                self._packs.clear()
            packed = pack(x.shape, weight, geom, conv=not self.transposed, func=self._func) if x.dtype == weight.dtype else None
            entry = self._packs[key] = (weight, packed)
        return entry[1]

    def extra_repr(self) -> str:
        pad_text = self.padding if isinstance(self.padding, str) else [p for p in self.padding]
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={pad_text}, dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}, "
            f"padding_mode={self.padding_mode!r}"
        )


class _ConvNd(_ConvBase):
    """``y = conv(pad(x, padding_mode), w) + b`` (PyTorch's ``Conv*d``)."""

    transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding: PaddingArg = 0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        rng: Rng = None,
        dtype=np.float32,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, rng, dtype
        )
        if self.padding == "same" and any(s != 1 for s in self.stride):
            raise TconvError(
                f"tconv.nn.{type(self).__name__}: padding='same' needs stride 1 on every axis (as in PyTorch); "
                f"got stride={stride!r}"
            )

    def pairs(self) -> tuple[tuple[int, int], ...]:
        """The ``(lo, hi)`` padding per axis; 'same' splits ``d*(k-1)`` with the extra element at the end."""
        if self.padding == "valid":
            return ((0, 0),) * self.nd
        if self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        return self.padding

    def _conv_geometry(self, in_size: tuple[int, ...], pairs: tuple[tuple[int, int], ...]) -> Geometry:
        key = (in_size, pairs)
        geom = self._geometries.get(key)
        if geom is None:
            geom = self._geometries[key] = build_conv(
                self._func, in_size, self.kernel_size, self.stride, self.dilation, pairs, self.groups
            )
        return geom

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        pairs = self.pairs()
        if self.padding_mode != "zeros":
            x, pairs = pad(x, pairs, self.padding_mode), ((0, 0),) * self.nd
        geom = self._conv_geometry(x.shape[2:], pairs)
        self._cache = (x, geom)
        packed = self._packed(x, geom)
        if packed is not None:
            return run_packed(x, packed, self._bias(), func=self._func)
        return run_conv_geometry(x, self.weight.data, self._bias(), geom)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x, geom = self._cache  # set by forward; Module refuses a backward before any forward
        gx, gw, gb = conv_backward_geometry(np.asarray(grad), x, self.weight.data, geom, bias=self.bias is not None)
        self._accumulate(gw, gb)
        if self.padding_mode != "zeros":
            gx = fold(gx, self.pairs(), self.padding_mode)
        return gx


class _ConvTransposeNd(_ConvBase):
    """``y = conv_transpose(x, w) + b`` (PyTorch's ``ConvTranspose*d``, plus 'same'/'valid' and padding modes)."""

    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding: PaddingArg = 0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        *,
        rng: Rng = None,
        dtype=np.float32,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, rng, dtype
        )
        func = self._func
        self.output_padding = per_axis(func, "output_padding", output_padding, self.nd, 0)
        check_output_padding(func, self.output_padding, self.stride, self.dilation)
        if isinstance(self.padding, str) and (any(self.output_padding) or padding_mode != "zeros"):
            raise TconvError(
                f"tconv.{func}: padding={self.padding!r} fixes the output length: it needs output_padding=0 and "
                f"padding_mode='zeros'; got output_padding={output_padding!r}, padding_mode={padding_mode!r}"
            )

    def geometry(self, in_size: Sequence[int], output_size: Sequence[int] | None = None) -> Geometry:
        """The normalised geometry (zeros padding) for an input of spatial size ``in_size``.

        Integer padding follows PyTorch, ``'same'`` and ``'valid'`` follow
        :func:`tconv.compat.torch.geometry`, ``(lo, hi)`` pairs :func:`tconv.conv_transpose`.
        """
        in_size = tuple(in_size)
        key = (in_size, None if output_size is None else tuple(output_size))
        geom = self._geometries.get(key)
        if geom is None:
            op = self.output_padding
            if output_size is not None:
                if isinstance(self.padding, str):
                    raise TconvError(
                        f"tconv.{self._func}: output_size needs numeric padding; got padding={self.padding!r}"
                    )
                op = output_padding_for_size(
                    self._func, in_size, self.kernel_size, self.stride, self.padding, self.dilation, output_size
                )
            geom = self._geometries[key] = self._geometry(in_size, self.padding, op)
        return geom

    def _geometry(self, in_size: tuple[int, ...], padding, output_padding: tuple[int, ...]) -> Geometry:
        if isinstance(padding, str):  # the TensorFlow/Keras windows, as tconv.compat.torch defines them
            return compat_torch.geometry(
                in_size, self.kernel_size, self.stride, padding, output_padding, self.groups, self.dilation
            )
        return build_transpose(
            self._func, in_size, self.kernel_size, self.stride, self.dilation, padding, output_padding, self.groups
        )

    def forward(self, x: np.ndarray, output_size: Sequence[int] | None = None) -> np.ndarray:
        x = self._check_input(x)
        geom = self.geometry(x.shape[2:], output_size)
        func = self._func
        if self.padding_mode == "zeros":
            self._cache = (x, geom)
            packed = self._packed(x, geom)
            if packed is not None:
                return run_packed(x, packed, self._bias(), func=func)
            return run_geometry(x, self.weight.data, self._bias(), geom, func=func)
        # the adjoint of the padded conv: the unpadded transposed conv, margins folded back
        op = tuple(a.length - a.full + lo + hi for a, (lo, hi) in zip(geom.axes, self.padding))
        unpadded = self._geometry(x.shape[2:], ((0, 0),) * self.nd, op)
        self._cache = (x, unpadded)
        y = fold(run_geometry(x, self.weight.data, None, unpadded, func=func), self.padding, self.padding_mode)
        return y if self.bias is None else y + self.bias.data.reshape((-1,) + (1,) * self.nd)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x, geom = self._cache  # set by forward; Module refuses a backward before any forward
        grad = np.asarray(grad)
        unpadded_grad = grad if self.padding_mode == "zeros" else pad(grad, self.padding, self.padding_mode)
        gx, gw, _ = transpose_backward_geometry(unpadded_grad, x, self.weight.data, geom, bias=False)
        self._accumulate(gw, grad.sum(axis=(0,) + tuple(range(2, grad.ndim))))
        return gx


class Conv1d(_ConvNd):
    """1-d convolution layer, PyTorch's ``nn.Conv1d`` arguments; weight ``(C_out, C_in/g, k)``."""

    nd = 1


class Conv2d(_ConvNd):
    """2-d convolution layer, PyTorch's ``nn.Conv2d`` arguments; weight ``(C_out, C_in/g, kh, kw)``.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Conv2d(1, 2, 3, padding="same", padding_mode="reflect", rng=0)
    >>> layer(np.ones((1, 1, 5, 5), np.float32)).shape
    (1, 2, 5, 5)
    """

    nd = 2


class Conv3d(_ConvNd):
    """3-d convolution layer, PyTorch's ``nn.Conv3d`` arguments."""

    nd = 3


class ConvTranspose1d(_ConvTransposeNd):
    """1-d transposed convolution layer, PyTorch's ``nn.ConvTranspose1d`` arguments; weight ``(C_in, C_out/g, k)``."""

    nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-d transposed convolution layer, PyTorch's ``nn.ConvTranspose2d`` arguments (plus 'same'/'valid').

    Examples
    --------
    >>> import numpy as np
    >>> layer = ConvTranspose2d(3, 2, 5, stride=2, padding="same", rng=0)
    >>> layer(np.ones((1, 3, 7, 7), np.float32)).shape
    (1, 2, 14, 14)
    """

    nd = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-d transposed convolution layer, PyTorch's ``nn.ConvTranspose3d`` arguments."""

    nd = 3
