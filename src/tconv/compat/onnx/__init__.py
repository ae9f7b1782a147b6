"""The ONNX ``ConvTranspose`` operator on NumPy arrays: the spec text (opset 22), or ONNX Runtime.

``X`` is ``(N, C, *n)``, ``W`` is ``(C, M/group, *k)`` (tconv's own layout),
``B`` is ``(M,)``; the attributes keep their ONNX names and defaults. Per axis,
with ``full = (n-1)*s + d*(k-1) + 1`` and ``op`` the output_padding, the spec
chooses the window ``y_full[lo : lo + L]`` (zero-extended at both ends) as:

- ``output_shape`` given (``pads`` ignored): ``L = output_shape``,
  ``total = full + op - L``; ``SAME_UPPER`` starts at ``floor(total/2)``,
  anything else (the spec's "Else": ``SAME_LOWER``, ``NOTSET``, ``VALID``) at
  ``total - floor(total/2)``;
- ``SAME_UPPER`` / ``SAME_LOWER``: the same with ``L = n*s`` (output_padding
  shifts the window, it does not lengthen it);
- ``VALID``: ``lo = 0``, ``L = full + op``;
- ``NOTSET``: ``lo = pads_begin``, ``L = full + op - pads_begin - pads_end``.

A negative total puts zeros before and after the full result (floor division,
as ``onnx.reference``). ``output_padding`` must be below ``max(stride, dilation)``.

``behavior="onnxruntime"`` reproduces ONNX Runtime where it departs from the
text: it clamps the total padding at 0 (with ``SAME_*`` and a kernel shorter
than the stride the output is ``full + op``, shorter than ``n*s``), and it
refuses any geometry whose forward conv would not map the output back to the
input (``(L + pads - k_eff) // s + 1 != n``: ``output_padding >= stride`` even
below the dilation, or an ``output_shape`` more than ``stride - 1`` past the
full result).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Axis, Geometry, full_length, same_start
from ...normalise import IntOrSeq, as_array, as_int, check_bias, check_rank, choice, is_seq, per_axis, spatial_dims
from ...ops import run_geometry

__all__ = ["conv_transpose", "geometry", "AUTO_PADS", "BEHAVIORS"]

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
BEHAVIORS = ("spec", "onnxruntime")


def _choice(func: str, name: str, value: object, allowed: tuple[str, ...]) -> str:
    if isinstance(value, bytes):  # attributes read from a ModelProto are bytes
        value = value.decode()
    return choice(func, name, value, allowed)


def geometry(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    auto_pad: str = "NOTSET",
    dilations: IntOrSeq | None = None,
    group: int = 1,
    output_padding: IntOrSeq | None = None,
    output_shape: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    strides: IntOrSeq | None = None,
    behavior: str = "spec",
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of an ONNX ``ConvTranspose`` node.

    Parameters
    ----------
    in_size, kernel_size : int or sequence of ints
        Spatial sizes of ``X`` and of ``W``.
    auto_pad, dilations, group, output_padding, output_shape, pads, strides :
        The node's attributes, ONNX names and defaults (``pads`` as
        ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]``).
    behavior : ``"spec"`` or ``"onnxruntime"``
        Follow the operator's spec text, or reproduce ONNX Runtime where it differs.

    Notes
    -----
    ``total = s*(n-1) + op + d*(k-1) + 1 - L``; ``SAME_UPPER`` starts the
    window at ``floor(total/2)``, the spec's "Else" branch at
    ``total - floor(total/2)``. ONNX Runtime uses ``max(0, total)``.

    Examples
    --------
    >>> geometry(3, 1, auto_pad="SAME_UPPER", strides=3).axes[0]  # zeros on both sides
    Axis(size=3, kernel=1, stride=3, dilation=1, start=-1, length=9)
    >>> geometry(3, 1, auto_pad="SAME_UPPER", strides=3, behavior="onnxruntime").axes[0]
    Axis(size=3, kernel=1, stride=3, dilation=1, start=0, length=7)
    >>> g = geometry((3, 3), 3, strides=(3, 2), output_shape=(10, 8))  # one zero appended per axis
    >>> g.start, g.out_size, g.full
    ((0, 0), (10, 8), (9, 7))
    """
    func = "compat.onnx.geometry"
    behavior = _choice(func, "behavior", behavior, BEHAVIORS)
    auto_pad = _choice(func, "auto_pad", auto_pad, AUTO_PADS)
    nd = spatial_dims(
        func,
        in_size=in_size,
        kernel_size=kernel_size,
        strides=strides,
        dilations=dilations,
        output_padding=output_padding,
        output_shape=output_shape,
    )
    n = per_axis(func, "input size", in_size, nd, 1)
    k = per_axis(func, "kernel size", kernel_size, nd, 1)
    s = per_axis(func, "strides", 1 if strides is None else strides, nd, 1)
    d = per_axis(func, "dilations", 1 if dilations is None else dilations, nd, 1)
    op = per_axis(func, "output_padding", 0 if output_padding is None else output_padding, nd, 0)
    as_int(func, "group", group, 1)
    begins, ends = _pads(func, pads, nd, auto_pad)
    shape = _output_shape(func, output_shape, nd)
    axes = []
    for ax in range(nd):
        if op[ax] >= max(s[ax], d[ax]):
            raise fail(
                func,
                f"output_padding must be < max(stride, dilation) = {max(s[ax], d[ax])} on axis {ax}; got {op[ax]}",
            )
        full = full_length(n[ax], k[ax], s[ax], d[ax])
        if shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            length = shape[ax] if shape is not None else n[ax] * s[ax]
            total = full + op[ax] - length
            if behavior == "onnxruntime" and total < 0:
                total = 0
                if shape is None:  # ONNX Runtime's SAME keeps the unpadded length instead
                    length = full + op[ax]
            # the spec's split of the total padding (output_padding counted): floored, negative totals too
            start = same_start(n[ax], k[ax], s[ax], d[ax], full - total, upper=auto_pad == "SAME_UPPER", clamp=False)
            pad_sum = total
        elif auto_pad == "VALID":
            start, length, pad_sum = 0, full + op[ax], 0
        else:
            start, length, pad_sum = begins[ax], full + op[ax] - begins[ax] - ends[ax], begins[ax] + ends[ax]
        if length < 1:
            raise fail(func, f"the output would be empty on axis {ax}: length {length} (full result {full}, "
                       f"output_padding {op[ax]}, pads {begins[ax]} + {ends[ax]})")  # fmt: skip
        a = Axis(n[ax], k[ax], s[ax], d[ax], start, length)
        if behavior == "onnxruntime":
            _check_ort_inverse(func, ax, a, pad_sum, op[ax])
        axes.append(a)
    return Geometry(tuple(axes), int(group))


def _pads(func: str, pads: Sequence[int] | None, nd: int, auto_pad: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """ONNX's layout of ``pads``: all the begins, then all the ends."""
    if pads is None:
        return (0,) * nd, (0,) * nd
    if auto_pad != "NOTSET":
        raise fail(func, f"pads cannot be used with auto_pad={auto_pad!r} (the spec forbids both); got pads={pads!r}")
    if not is_seq(pads) or len(pads) != 2 * nd:
        raise fail(func, f"pads must list {2 * nd} ints (all begins, then all ends); got {pads!r}")
    values = per_axis(func, "pads", pads, 2 * nd, 0)
    return values[:nd], values[nd:]


def _output_shape(func: str, output_shape: Sequence[int] | None, nd: int) -> tuple[int, ...] | None:
    if output_shape is None:
        return None
    if is_seq(output_shape) and len(output_shape) != nd:
        raise fail(func, f"output_shape must list the {nd} spatial sizes only (no batch or channels); got {output_shape!r}")
    return per_axis(func, "output_shape", output_shape, nd, 1, sequence_only=True)


def _check_ort_inverse(func: str, ax: int, a: Axis, pad_sum: int, op: int) -> None:
    """ONNX Runtime refuses a geometry whose forward conv does not map the output back to the input."""
    expected = (a.length + pad_sum - a.k_eff) // a.stride + 1
    if expected != a.size:
        raise fail(
            func,
            f"ONNX Runtime refuses axis {ax}: the forward conv of the output (length {a.length}, padding {pad_sum}) "
            f"has {expected} positions, not the input's {a.size}; output_padding ({op}) must be < stride "
            f"({a.stride}) and an output_shape at most stride - 1 past the full result",
        )


def conv_transpose(
    X: ArrayLike,
    W: ArrayLike,
    B: ArrayLike | None = None,
    *,
    auto_pad: str = "NOTSET",
    dilations: IntOrSeq | None = None,
    group: int = 1,
    kernel_shape: Sequence[int] | None = None,
    output_padding: IntOrSeq | None = None,
    output_shape: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    strides: IntOrSeq | None = None,
    behavior: str = "spec",
) -> np.ndarray:
    """ONNX ``ConvTranspose`` (opset 22) on NumPy arrays.

    Parameters
    ----------
    X : array_like, shape ``(N, C, *n)``
    W : array_like, shape ``(C, M/group, *k)``
    B : array_like, shape ``(M,)``, optional
    auto_pad, dilations, group, kernel_shape, output_padding, output_shape, pads, strides :
        The node's attributes with their ONNX names and defaults;
        ``kernel_shape`` must agree with ``W`` when given.
    behavior : ``"spec"`` (default) or ``"onnxruntime"``
        See the module docstring and :func:`geometry`.

    Returns
    -------
    ndarray, shape ``(N, M, *L)``, the dtype of ``X`` (``X``, ``W`` and ``B`` share one type, as in ONNX).

    Examples
    --------
    The ONNX backend test ``test_convtranspose_1d``:

    >>> import numpy as np
    >>> conv_transpose(np.array([[[0.0, 1.0, 2.0]]]), np.ones((1, 2, 3)))
    array([[[0., 1., 3., 3., 2.],
            [0., 1., 3., 3., 2.]]])
    """
    func = "compat.onnx.conv_transpose"
    x = as_array(func, "X", X)
    w = as_array(func, "W", W)
    b = None if B is None else as_array(func, "B", B)
    if x.ndim < 3 or 0 in x.shape[1:]:
        raise fail(func, f"X must have shape (N, C, *spatial), at least one spatial dim, none empty; got shape {x.shape}")
    check_rank(func, "W", w, x.ndim, "(C, M/group, *k), as X")
    if len({a.dtype for a in (x, w, b) if a is not None}) > 1:
        raise fail(
            func,
            f"X, W and B must share one element type (ONNX's T); "
            f"got {', '.join(str(a.dtype) for a in (x, w, b) if a is not None)}",
            TypeError,
        )
    group = as_int(func, "group", group, 1)
    if w.shape[0] != x.shape[1]:
        raise fail(func, f"W.shape[0] must equal the channels of X ({x.shape[1]}); got W shape {w.shape}")
    if x.shape[1] % group:
        raise fail(func, f"group must divide the channels of X ({x.shape[1]}); got {group}")
    if kernel_shape is not None and tuple(per_axis(func, "kernel_shape", kernel_shape, x.ndim - 2, 1)) != w.shape[2:]:
        raise fail(func, f"kernel_shape must match W's spatial shape {w.shape[2:]}; got {kernel_shape!r}")
    check_bias(func, b, w.shape[1] * group, "B")
    geom = geometry(
        x.shape[2:],
        w.shape[2:],
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        output_padding=output_padding,
        output_shape=output_shape,
        pads=pads,
        strides=strides,
        behavior=behavior,
    )
    return run_geometry(x, w, b, geom, func=func)
