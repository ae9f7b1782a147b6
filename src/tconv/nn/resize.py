"""Upsample and resize-convolution layers: the fixed upsampler, and the checkerboard-free learned one.

Odena, Dumoulin and Olah ("Deconvolution and Checkerboard Artifacts", 2016)
recommend resize-convolution, i.e. interpolate then convolve at stride 1, in
place of a strided transposed conv: every output pixel then sees the same
number of kernel taps.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..interpolate import MODES, apply_matrices, as_input, resize_matrices
from ..normalise import choice
from .conv import Conv1d, Conv2d, Conv3d
from .module import Module, Sequential

__all__ = ["Upsample", "ResizeConv1d", "ResizeConv2d", "ResizeConv3d"]


class Upsample(Module):
    """:func:`tconv.upsample` as a layer (PyTorch's ``nn.Upsample`` arguments); no parameters.

    Examples
    --------
    >>> Upsample(scale_factor=2, mode="bilinear")(np.ones((1, 1, 2, 3))).shape
    (1, 1, 4, 6)
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.size = size
        self.scale_factor = scale_factor
        self.mode = choice("nn.Upsample", "mode", mode, MODES)
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_input("nn.Upsample", x)
        self._matrices = resize_matrices(
            "nn.Upsample", x.shape[2:], self.scale_factor, self.size, self.mode, self.align_corners,
            self.recompute_scale_factor,
        )
        return apply_matrices(x, self._matrices)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return apply_matrices(np.asarray(grad), [a.T for a in self._matrices])

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class _ResizeConv(Sequential):
    """``conv(upsample(x))``: children ``upsample`` and ``conv`` (stride 1, 'same' padding by default)."""

    conv_class: type

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        scale_factor: float | Sequence[float] = 2,
        mode: str = "nearest",
        *,
        padding="same",
        padding_mode: str = "zeros",
        bias: bool = True,
        rng: int | np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        mode = choice(f"nn.{type(self).__name__}", "mode", mode, MODES)
        align = False if mode in ("linear", "bilinear", "bicubic", "trilinear") else None
        super().__init__(
            {
                "upsample": Upsample(scale_factor=scale_factor, mode=mode, align_corners=align),
                "conv": self.conv_class(
                    in_channels, out_channels, kernel_size, padding=padding, padding_mode=padding_mode, bias=bias,
                    rng=rng, dtype=dtype,
                ),
            }
        )


class ResizeConv1d(_ResizeConv):
    """Upsample then :class:`~tconv.nn.Conv1d`."""

    conv_class = Conv1d


class ResizeConv2d(_ResizeConv):
    """Upsample then :class:`~tconv.nn.Conv2d` (the checkerboard-free alternative to ``ConvTranspose2d``).

    Examples
    --------
    >>> layer = ResizeConv2d(3, 8, 3, scale_factor=2, mode="bilinear", rng=0)
    >>> layer(np.zeros((1, 3, 5, 5), np.float32)).shape
    (1, 8, 10, 10)
    """

    conv_class = Conv2d


class ResizeConv3d(_ResizeConv):
    """Upsample then :class:`~tconv.nn.Conv3d`."""

    conv_class = Conv3d
