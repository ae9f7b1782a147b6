"""LiteRT's (TensorFlow Lite's) ``TRANSPOSE_CONV`` builtin op on NumPy arrays.

The op's inputs in its own order: ``output_shape`` (a 1-D tensor of 4 ints,
NHWC), ``weights`` ``(C_out, kH, kW, C_in)``, ``input`` NHWC and an optional
``bias`` ``(C_out,)``; its options ``padding`` (``SAME`` or ``VALID``),
``stride_h`` and ``stride_w``. It is 2-D only, with no dilation and no groups:
what ``tf.nn.conv2d_transpose`` and Keras ``Conv2DTranspose`` become through
TensorFlow's TFLite converter (which fuses a following bias add into the op).

LiteRT's kernel reads the padding as TensorFlow does (checked against the
interpreter, with and without its XNNPACK delegate): per axis ``L`` is the
``output_shape`` entry, and the forward conv of the output must give back the
input length ``n``, so

- ``SAME``: ``L`` in ``[(n-1)*s + 1, n*s]``, ``start = floor(max(0, (n-1)*s + k - L) / 2)``;
- ``VALID``: ``L`` in ``[(n-1)*s + k, (n-1)*s + k + s - 1]``, ``start = 0`` (zeros appended).

Any other ``output_shape`` is refused, as the kernel refuses it at ``Prepare``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Geometry
from ...normalise import IntOrSeq, as_array, as_int, check_bias, check_rank, choice, is_seq, per_axis
from ...ops import run_geometry
from ..layouts import from_ohwi, to_channels_first, to_channels_last, to_ohwi
from ..tensorflow import geometry as tf_geometry
from ..tensorflow import output_shape_range

__all__ = ["PADDINGS", "from_litert", "geometry", "output_shape_range_of", "to_litert", "transpose_conv"]

PADDINGS = ("SAME", "VALID")


#: LiteRT's ``weights`` ``(C_out, kH, kW, C_in)`` is the generic "ohwi" layout (groups 1): ``from_litert`` and
#: ``to_litert`` are :func:`tconv.compat.layouts.from_ohwi` and :func:`~tconv.compat.layouts.to_ohwi` by these names.
from_litert = from_ohwi
to_litert = to_ohwi


def _options(func: str, padding: object, stride_h: object, stride_w: object) -> tuple[str, tuple[int, int]]:
    if isinstance(padding, bytes):
        padding = padding.decode()
    padding = choice(func, "padding", padding, PADDINGS)
    return padding, (as_int(func, "stride_h", stride_h, 1), as_int(func, "stride_w", stride_w, 1))


def output_shape_range_of(
    in_size: IntOrSeq, kernel_size: IntOrSeq, padding: str = "SAME", stride_h: int = 1, stride_w: int = 1
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Per spatial axis (H, W), the smallest and largest ``output_shape`` entry LiteRT accepts.

    >>> output_shape_range_of((4, 4), (3, 3), "SAME", 2, 2)
    ((7, 8), (7, 8))
    """
    func = "compat.litert.output_shape_range_of"
    padding, strides = _options(func, padding, stride_h, stride_w)
    n = per_axis(func, "input size", in_size, 2, 1)
    k = per_axis(func, "kernel size", kernel_size, 2, 1)
    lo_hi = output_shape_range(n, k, strides, padding)
    return lo_hi[0], lo_hi[1]


def geometry(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    output_shape: Sequence[int],
    padding: str = "SAME",
    stride_h: int = 1,
    stride_w: int = 1,
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of a ``TRANSPOSE_CONV`` op.

    ``in_size`` and ``kernel_size`` are ``(H, W)``; ``output_shape`` the op's
    NHWC tensor or its two spatial entries.

    Examples
    --------
    >>> geometry((4, 4), (3, 3), [1, 8, 8, 5], "SAME", 2, 2).axes[0]
    Axis(size=4, kernel=3, stride=2, dilation=1, start=0, length=8)
    >>> geometry((4, 4), (3, 3), [7, 9], "SAME", 2, 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tconv.errors.TconvError: tconv.compat.litert.geometry: output_shape must be in [7, 8] on spatial axis 1 (W): ...
    """
    func = "compat.litert.geometry"
    padding, strides = _options(func, padding, stride_h, stride_w)
    n = per_axis(func, "input size", in_size, 2, 1)
    k = per_axis(func, "kernel size", kernel_size, 2, 1)
    if not is_seq(output_shape) or len(output_shape) not in (2, 4):
        raise fail(func, f"output_shape must list 4 ints (N, H, W, C) or the 2 spatial ones; got {output_shape!r}")
    spatial = list(output_shape)[1:3] if len(output_shape) == 4 else list(output_shape)
    lengths = per_axis(func, "output_shape", spatial, 2, 1)
    for ax, ((lo, hi), length) in enumerate(zip(output_shape_range(n, k, strides, padding), lengths)):
        if not lo <= length <= hi:
            raise fail(
                func,
                f"output_shape must be in [{lo}, {hi}] on spatial axis {ax} ({'HW'[ax]}): the lengths whose "
                f"{padding} forward conv (kernel {k[ax]}, stride {strides[ax]}) gives back the input length "
                f"{n[ax]}, as LiteRT's kernel requires; got {length}",
            )
    return tf_geometry(n, k, lengths, strides, padding)


def transpose_conv(
    output_shape: ArrayLike,
    weights: ArrayLike,
    input: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    padding: str = "SAME",
    stride_h: int = 1,
    stride_w: int = 1,
) -> np.ndarray:
    """LiteRT's ``TRANSPOSE_CONV`` on NumPy arrays: inputs in the op's order, options as keywords.

    Parameters
    ----------
    output_shape : array_like of 4 ints, ``(N, H_out, W_out, C_out)``
    weights : array_like, shape ``(C_out, kH, kW, C_in)``
    input : array_like, shape ``(N, H, W, C_in)``
    bias : array_like, shape ``(C_out,)``, optional
    padding : ``"SAME"`` or ``"VALID"``
    stride_h, stride_w : int

    Returns
    -------
    ndarray of ``output_shape`` (NHWC), the dtype of ``input``

    Examples
    --------
    >>> transpose_conv([1, 1, 4, 1], np.ones((1, 1, 3, 1)), np.ones((1, 1, 2, 1)), stride_w=2)[0, 0, :, 0]
    array([1., 1., 2., 1.])
    """
    func = "compat.litert.transpose_conv"
    x = as_array(func, "input", input)
    w = as_array(func, "weights", weights)
    b = None if bias is None else as_array(func, "bias", bias)
    check_rank(func, "input", x, 4, "(N, H, W, C_in)")
    check_rank(func, "weights", w, 4, "(C_out, kH, kW, C_in)")
    shape = np.asarray(output_shape)
    if shape.shape != (4,) or shape.dtype.kind not in "iu":
        raise fail(func, f"output_shape must be a 1-D tensor of 4 ints (N, H, W, C_out); got {output_shape!r}")
    if w.shape[3] != x.shape[3]:
        raise fail(func, f"weights.shape[3] (C_in) must equal the input's channels {x.shape[3]}; got weights shape {w.shape}")
    if int(shape[0]) != x.shape[0] or int(shape[3]) != w.shape[0]:
        raise fail(func, f"output_shape must have batch {x.shape[0]} (the input's) and channels {w.shape[0]} "
                   f"(weights.shape[0]); got {shape.tolist()}")  # fmt: skip
    check_bias(func, b, w.shape[0])
    geom = geometry(x.shape[1:3], w.shape[1:3], shape.tolist(), padding, stride_h, stride_w)
    return np.ascontiguousarray(to_channels_last(run_geometry(to_channels_first(x), from_ohwi(w), b, geom, func=func)))
