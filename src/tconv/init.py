"""Weight initializers for transposed and forward convolutions.

- :func:`kaiming_uniform` / :func:`default_bias`: PyTorch's default for every
  ``Conv*`` and ``ConvTranspose*`` layer.
- :func:`bilinear`: the fixed bilinear-upsampling kernel FCN initializes its
  upsampling layers with; with :func:`bilinear_arguments` a transposed conv
  reproduces bilinear interpolation (``align_corners=False``) away from the edges.
- :func:`icnr_transpose` and :func:`icnr`: checkerboard-free initializations
  (each output phase of the upsampler starts with the same kernel sum).

Every function returns a new NumPy array; ``rng`` is a seed or a
``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .errors import TconvError, fail
from .memory import check
from .normalise import as_float, as_int, as_rng, is_seq, per_axis, spatial_dims

__all__ = ["fan_in", "kaiming_uniform", "default_bias", "bilinear", "bilinear_arguments", "icnr", "icnr_transpose"]


def _positive(func: str, name: str, value: int) -> int:
    return as_int(f"init.{func}", name, value, 1)


def _shape(func: str, shape: Sequence[int]) -> tuple[int, ...]:
    """A weight shape: at least two dims (channels, channels, *kernel), each an int >= 1."""
    if not is_seq(shape) or len(shape) < 2:
        raise fail(
            f"init.{func}", f"shape must be a sequence of at least 2 ints (C, C, *kernel); got {shape!r}", TypeError
        )
    return tuple(_positive(func, "shape", v) for v in shape)


def _allocate(func: str, shape: tuple[int, ...], copies: int = 2) -> None:
    """Check a new weight of ``shape`` (drawn in float64, then cast) against the memory budget."""
    check(f"init.{func}", 8 * copies * math.prod(shape), f"a weight of shape {shape}")


def fan_in(shape: Sequence[int]) -> int:
    """PyTorch's fan-in of a weight: ``shape[1] * prod(shape[2:])``.

    For a conv weight ``(C_out, C_in/g, *k)`` that is the inputs per output; for a
    transposed-conv weight ``(C_in, C_out/g, *k)`` PyTorch uses the same formula,
    so its "fan-in" is ``C_out/g * prod(k)``.
    """
    shape = _shape("fan_in", shape)
    return shape[1] * math.prod(shape[2:])


def kaiming_uniform(
    shape: Sequence[int], *, a: float = math.sqrt(5), rng: int | np.random.Generator | None = None, dtype=np.float32
) -> np.ndarray:
    """``U(-b, b)`` with ``b = sqrt(6 / ((1 + a^2) * fan_in))``: PyTorch's default conv weight for ``a = sqrt(5)``.

    Notes
    -----
    With ``a = sqrt(5)`` the bound is ``1 / sqrt(fan_in)``.

    Examples
    --------
    >>> w = kaiming_uniform((4, 2, 3, 3), rng=0)
    >>> w.shape, w.dtype, bool(abs(w).max() <= 1 / 18 ** 0.5)
    ((4, 2, 3, 3), dtype('float32'), True)
    """
    func = "kaiming_uniform"
    shape = _shape(func, shape)
    a = as_float(f"init.{func}", "a", a)
    _allocate(func, shape)
    bound = math.sqrt(6.0 / ((1.0 + a * a) * fan_in(shape)))
    return as_rng(f"init.{func}", rng).uniform(-bound, bound, size=shape).astype(dtype)


def default_bias(
    weight_shape: Sequence[int], channels: int, *, rng: int | np.random.Generator | None = None, dtype=np.float32
) -> np.ndarray:
    """PyTorch's default bias: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with the weight's fan-in."""
    func = "default_bias"
    channels = _positive(func, "channels", channels)
    bound = 1.0 / math.sqrt(fan_in(weight_shape))
    return as_rng(f"init.{func}", rng).uniform(-bound, bound, size=(channels,)).astype(dtype)


def bilinear_arguments(factor: int) -> dict[str, int]:
    """Kernel size, stride and padding of the transposed conv that upsamples by ``factor``.

    ``k = 2f - f % 2``, ``s = f``, ``p = (k - f) // 2``; the output is exactly
    ``f`` times the input.

    Examples
    --------
    >>> bilinear_arguments(2)
    {'kernel_size': 4, 'stride': 2, 'padding': 1}
    """
    f = _positive("bilinear_arguments", "factor", factor)
    k = 2 * f - f % 2
    return {"kernel_size": k, "stride": f, "padding": (k - f) // 2}


def bilinear(channels: int, factor: int, *, ndim: int = 2, dtype=np.float32) -> np.ndarray:
    """The bilinear-upsampling kernel, ``(channels, channels, k, ..., k)``, one channel to itself.

    Notes
    -----
    Per axis ``w[j] = 1 - |j - c| / f`` with ``k = 2f - f % 2`` taps and centre
    ``c = f - 1`` (``f`` odd) or ``f - 0.5`` (``f`` even); the N-d kernel is the
    outer product. A transposed conv with this kernel, ``stride = f`` and
    ``padding = (k - f) // 2`` (:func:`bilinear_arguments`) equals
    ``upsample(x, scale_factor=f, mode="bilinear", align_corners=False)`` on
    every output whose interpolation does not reach past the input. At the
    edges interpolation clamps to the border sample, while the transposed conv
    sees zeros there: the outermost ``f // 2`` outputs on each side are damped
    (for ``f = 2`` the first output is ``0.75 x[0]`` instead of ``x[0]``).

    Examples
    --------
    >>> bilinear(1, 2)[0, 0]
    array([[0.0625, 0.1875, 0.1875, 0.0625],
           [0.1875, 0.5625, 0.5625, 0.1875],
           [0.1875, 0.5625, 0.5625, 0.1875],
           [0.0625, 0.1875, 0.1875, 0.0625]], dtype=float32)
    """
    c = _positive("bilinear", "channels", channels)
    f = _positive("bilinear", "factor", factor)
    nd = _positive("bilinear", "ndim", ndim)
    k = 2 * f - f % 2
    _allocate("bilinear", (c, c) + (k,) * nd)
    centre = f - 1 if f % 2 else f - 0.5
    taps = 1.0 - np.abs(np.arange(k) - centre) / f
    kernel = taps
    for _ in range(nd - 1):
        kernel = np.multiply.outer(kernel, taps)
    w = np.zeros((c, c) + (k,) * nd)
    w[np.arange(c), np.arange(c)] = kernel
    return w.astype(dtype)


def icnr_transpose(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int],
    *,
    ndim: int = 2,
    rng: int | np.random.Generator | None = None,
    dtype=np.float32,
) -> np.ndarray:
    """A checkerboard-free transposed-conv weight ``(C_in, C_out, *k)``: ICNR for transposed convs.

    Notes
    -----
    A random kernel ``b`` of size ``k - s + 1`` (PyTorch's default init) is
    convolved (full convolution) with a box of ``s`` ones per axis. A transposed
    conv with stride ``s`` and that kernel equals nearest-neighbour upsampling
    by ``s`` followed by a full convolution with ``b``: every output phase sums
    the same taps, so a constant input gives a constant interior, the property
    ICNR gives the sub-pixel convolution (:func:`icnr`). Needs ``k >= s``.

    Examples
    --------
    >>> w = icnr_transpose(1, 1, 4, 2, ndim=1, rng=0)
    >>> w.shape
    (1, 1, 4)
    >>> bool(np.isclose(w[0, 0, 0::2].sum(), w[0, 0, 1::2].sum()))
    True
    """
    func = "icnr_transpose"
    c_in = _positive(func, "in_channels", in_channels)
    c_out = _positive(func, "out_channels", out_channels)
    nd = spatial_dims(f"init.{func}", default=_positive(func, "ndim", ndim), kernel_size=kernel_size, stride=stride)
    k = per_axis(f"init.{func}", "kernel_size", kernel_size, nd, 1)
    s = per_axis(f"init.{func}", "stride", stride, nd, 1)
    if any(ki < si for ki, si in zip(k, s)):
        raise TconvError(
            f"tconv.init.{func}: kernel_size must be >= stride on every one of the {nd} axes; "
            f"got kernel_size={kernel_size!r}, stride={stride!r}"
        )
    _allocate(func, (c_in, c_out) + k, copies=3)  # the base, the convolved result, the cast
    base = kaiming_uniform((c_in, c_out) + tuple(ki - si + 1 for ki, si in zip(k, s)), rng=rng, dtype=np.float64)
    for ax, si in enumerate(s):  # the full convolution with s ones: s shifted copies summed
        length = base.shape[2 + ax]
        box = np.zeros(base.shape[: 2 + ax] + (length + si - 1,) + base.shape[3 + ax :])
        for t in range(si):
            box[(slice(None),) * (2 + ax) + (slice(t, t + length),)] += base
        base = box
    return base.astype(dtype)


def icnr(
    out_channels: int,
    in_channels: int,
    kernel_size: int | Sequence[int],
    scale: int,
    *,
    ndim: int = 2,
    rng: int | np.random.Generator | None = None,
    dtype=np.float32,
) -> np.ndarray:
    """ICNR (Aitken et al., 2017) for a sub-pixel conv: weight ``(C_out * r^ndim, C_in, *k)``.

    Notes
    -----
    A random ``(C_out, C_in, *k)`` kernel (PyTorch's default init) is repeated
    ``r^ndim`` times per output channel, consecutively, so that pixel shuffle
    (output channel ``c`` reads channels ``c*r^ndim ... c*r^ndim + r^ndim - 1``)
    starts as convolution followed by nearest-neighbour upsampling: no
    checkerboard at initialization.

    Examples
    --------
    >>> w = icnr(1, 2, 3, 2, rng=0)
    >>> w.shape, bool((w[0] == w[3]).all())
    ((4, 2, 3, 3), True)
    """
    func = "icnr"
    c_out = _positive(func, "out_channels", out_channels)
    c_in = _positive(func, "in_channels", in_channels)
    r = _positive(func, "scale", scale)
    nd = _positive(func, "ndim", ndim)
    k = per_axis(f"init.{func}", "kernel_size", kernel_size, nd, 1)
    _allocate(func, (c_out * r**nd, c_in) + k)
    base = kaiming_uniform((c_out, c_in) + k, rng=rng, dtype=dtype)
    return np.repeat(base, r**nd, axis=0)
