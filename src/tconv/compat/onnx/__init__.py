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

from typing import Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from ...errors import TconvError
from ...geometry import Axis, Geometry
from ...normalise import per_axis
from ...ops import run_geometry
from .._arrays import as_array, as_int, check_bias, check_rank, is_seq

__all__ = ["conv_transpose", "geometry", "AUTO_PADS", "BEHAVIORS"]

IntOrSeq = Union[int, Sequence[int]]
AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
BEHAVIORS = ("spec", "onnxruntime")


def _fail(func: str, message: str) -> TconvError:
    return TconvError(f"tconv.compat.onnx.{func}: {message}")


def _attr(func: str, name: str, value: IntOrSeq | None, nd: int, default: int, minimum: int) -> tuple[int, ...]:
    if value is None:
        return (default,) * nd
    return per_axis(f"compat.onnx.{func}", name, value, nd, minimum)


def _choice(func: str, name: str, value: object, allowed: tuple[str, ...]) -> str:
    if isinstance(value, bytes):  # attributes read from a ModelProto are bytes
        value = value.decode()
    if value not in allowed:
        raise _fail(func, f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _split(total: int, auto_pad: str) -> int:
    """The start of the window for a total padding: the spec's SAME_UPPER branch or its "Else"."""
    return total // 2 if auto_pad == "SAME_UPPER" else total - total // 2


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
    func = "geometry"
    behavior = _choice(func, "behavior", behavior, BEHAVIORS)
    auto_pad = _choice(func, "auto_pad", auto_pad, AUTO_PADS)
    nd = next((len(v) for v in (in_size, kernel_size, strides, dilations, output_padding, output_shape) if is_seq(v)), 1)
    name = f"compat.onnx.{func}"
    n = per_axis(name, "input size", in_size, nd, 1)
    k = per_axis(name, "kernel size", kernel_size, nd, 1)
    s = _attr(func, "strides", strides, nd, 1, 1)
    d = _attr(func, "dilations", dilations, nd, 1, 1)
    op = _attr(func, "output_padding", output_padding, nd, 0, 0)
    as_int(name, "group", group, 1)
    begins, ends = _pads(func, pads, nd, auto_pad)
    shape = _output_shape(func, output_shape, nd)
    axes = []
    for ax in range(nd):
        if op[ax] >= max(s[ax], d[ax]):
            raise _fail(
                func,
                f"output_padding must be < max(stride, dilation) = {max(s[ax], d[ax])} on axis {ax}; got {op[ax]}",
            )
        k_eff = d[ax] * (k[ax] - 1) + 1
        full = (n[ax] - 1) * s[ax] + k_eff
        if shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            length = shape[ax] if shape is not None else n[ax] * s[ax]
            total = full + op[ax] - length
            if behavior == "onnxruntime" and total < 0:
                total = 0
                if shape is None:  # ONNX Runtime's SAME keeps the unpadded length instead
                    length = full + op[ax]
            start, pad_sum = _split(total, auto_pad), total
        elif auto_pad == "VALID":
            start, length, pad_sum = 0, full + op[ax], 0
        else:
            start, length, pad_sum = begins[ax], full + op[ax] - begins[ax] - ends[ax], begins[ax] + ends[ax]
        if length < 1:
            raise _fail(func, f"the output would be empty on axis {ax}: length {length} (full result {full}, "
                        f"output_padding {op[ax]}, pads {begins[ax]} + {ends[ax]})")
        if behavior == "onnxruntime":
            _check_ort_inverse(func, ax, n[ax], length, pad_sum, k_eff, s[ax], op[ax])
        axes.append(Axis(n[ax], k[ax], s[ax], d[ax], start, length))
    return Geometry(tuple(axes), int(group))


def _pads(func: str, pads: Sequence[int] | None, nd: int, auto_pad: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if pads is None:
        return (0,) * nd, (0,) * nd
    if auto_pad != "NOTSET":
        raise _fail(func, f"pads cannot be used with auto_pad={auto_pad!r} (the spec forbids both); got pads={pads!r}")
    if not is_seq(pads) or len(pads) != 2 * nd:
        raise _fail(func, f"pads must list {2 * nd} ints (all begins, then all ends); got {pads!r}")
    values = per_axis(f"compat.onnx.{func}", "pads", pads, 2 * nd, 0)
    return values[:nd], values[nd:]


def _output_shape(func: str, output_shape: Sequence[int] | None, nd: int) -> tuple[int, ...] | None:
    if output_shape is None:
        return None
    if not is_seq(output_shape):
        raise TypeError(f"tconv.compat.onnx.{func}: output_shape must be a sequence of ints; got {output_shape!r}")
    if len(output_shape) != nd:
        raise _fail(func, f"output_shape must list the {nd} spatial sizes only (no batch or channels); got {output_shape!r}")
    return per_axis(f"compat.onnx.{func}", "output_shape", output_shape, nd, 1)


def _check_ort_inverse(func: str, ax: int, n: int, length: int, pad_sum: int, k_eff: int, s: int, op: int) -> None:
    """ONNX Runtime refuses a geometry whose forward conv does not map the output back to the input."""
    expected = (length + pad_sum - k_eff) // s + 1
    if expected != n:
        raise _fail(
            func,
            f"ONNX Runtime refuses axis {ax}: the forward conv of the output (length {length}, padding {pad_sum}) "
            f"has {expected} positions, not the input's {n}; output_padding ({op}) must be < stride ({s}) and an "
            f"output_shape at most stride - 1 past the full result",
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
    func = "conv_transpose"
    name = f"compat.onnx.{func}"
    x = as_array(name, "X", X)
    w = as_array(name, "W", W)
    b = None if B is None else as_array(name, "B", B)
    if x.ndim < 3 or 0 in x.shape[1:]:
        raise _fail(func, f"X must have shape (N, C, *spatial), at least one spatial dim, none empty; got shape {x.shape}")
    check_rank(name, "W", w, x.ndim, "(C, M/group, *k), as X")
    if len({a.dtype for a in (x, w, b) if a is not None}) > 1:
        raise TypeError(
            f"tconv.{name}: X, W and B must share one element type (ONNX's T); "
            f"got {', '.join(str(a.dtype) for a in (x, w, b) if a is not None)}"
        )
    group = as_int(name, "group", group, 1)
    if w.shape[0] != x.shape[1]:
        raise _fail(func, f"W.shape[0] must equal the channels of X ({x.shape[1]}); got W shape {w.shape}")
    if x.shape[1] % group:
        raise _fail(func, f"group must divide the channels of X ({x.shape[1]}); got {group}")
    if kernel_shape is not None and tuple(per_axis(name, "kernel_shape", kernel_shape, x.ndim - 2, 1)) != w.shape[2:]:
        raise _fail(func, f"kernel_shape must match W's spatial shape {w.shape[2:]}; got {kernel_shape!r}")
    check_bias(name, b, w.shape[1] * group, "B")
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
    return run_geometry(x, w, b, geom, func=name)
