"""OpenVINO's ``ConvolutionBackpropData`` and ``GroupConvolutionBackpropData`` (opset1) on NumPy arrays.

``data`` is ``(N, C_in, *n)``; ``filters`` is ``(C_in, C_out, *k)`` (tconv's
own layout) for ``ConvolutionBackpropData`` and ``(G, C_in/G, C_out/G, *k)``
for ``GroupConvolutionBackpropData``; the attributes keep the names, order and
defaults of ``openvino.opset1.convolution_backprop_data`` (``auto_pad`` None is
``explicit``). Per axis, with ``full = (n-1)*s + d*(k-1) + 1`` and ``op`` the
output_padding, the output is the window ``y_full[start : start + L]``
(zero-extended past the full result):

- no ``output_shape``: ``explicit`` starts at ``pads_begin`` with
  ``L = full + op - pads_begin - pads_end``; ``same_upper``, ``same_lower``
  and ``valid`` ignore the pads: ``start = 0``, ``L = full + op`` (SAME does
  not mean ``n*s`` here);
- ``output_shape`` given (``L`` = its entry, ``total = full + op - L``), as
  OpenVINO's CPU plugin computes it (``behavior="cpu"``, the default):
  ``explicit`` starts at ``pads_begin`` (``pads_end`` ignored; at 0 for
  ``GroupConvolutionBackpropData``), ``valid`` at 0,
  ``same_upper`` at ``ceil(total/2)``, ``same_lower`` at ``floor(total/2)``,
  both clamped at 0 (a longer ``output_shape`` appends zeros);
- ``behavior="spec"`` follows the opset1 text instead: with ``output_shape``
  the pads are ignored in every mode, ``same_upper`` starts at
  ``total - floor(total/2)`` and every other mode at ``floor(total/2)``,
  negative totals included (zeros on both sides).

The CPU plugin has one more rule, reproduced under ``behavior="cpu"``: a layer
whose kernel is 1 and stride 1 on every axis and whose output has the input's
size runs as a 1x1 convolution and drops the padding (``start = 0``), what the
pads or ``auto_pad`` say notwithstanding. Output padding may exceed the stride
(the extra elements are zeros). tconv refuses an empty output where OpenVINO
returns an empty tensor, and negative ``pads_end`` or ``output_padding`` (which
the CPU plugin reads as a crop). The CPU plugin also refuses some grouped
nodes (oneDNN finds no primitive for them) that the text allows; tconv computes them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Axis, Geometry, full_length
from ...normalise import IntOrSeq, as_array, as_int, check_bias, check_rank, choice, is_seq, per_axis, spatial_dims
from ...ops import run_geometry

__all__ = [
    "AUTO_PADS",
    "BEHAVIORS",
    "convolution_backprop_data",
    "from_openvino",
    "geometry",
    "group_convolution_backprop_data",
    "to_openvino",
]

AUTO_PADS = ("explicit", "same_upper", "same_lower", "valid")
BEHAVIORS = ("cpu", "spec")


def geometry(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    strides: IntOrSeq,
    output_shape: Sequence[int] | None = None,
    pads_begin: IntOrSeq | None = None,
    pads_end: IntOrSeq | None = None,
    dilations: IntOrSeq | None = None,
    auto_pad: str | None = None,
    output_padding: IntOrSeq | None = None,
    *,
    groups: int = 1,
    grouped: bool = False,
    behavior: str = "cpu",
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of an OpenVINO ``(Group)ConvolutionBackpropData`` node.

    Parameters
    ----------
    in_size, kernel_size : int or sequence of ints
        Spatial sizes of ``data`` and of the kernel.
    strides, output_shape, pads_begin, pads_end, dilations, auto_pad, output_padding :
        The node's attributes (and its optional ``output_shape`` input, spatial
        sizes only), OpenVINO's names, order and defaults.
    groups : int
        ``G`` of ``GroupConvolutionBackpropData`` (1 for ``ConvolutionBackpropData``).
    grouped : bool
        Whether the node is ``GroupConvolutionBackpropData`` (the CPU plugin reads
        ``explicit`` with ``output_shape`` differently there, even for ``G = 1``).
    behavior : ``"cpu"`` or ``"spec"``
        OpenVINO's CPU plugin (default) or the opset1 specification text.

    Examples
    --------
    >>> geometry(4, 3, 2, auto_pad="same_upper").axes[0]  # SAME without output_shape: the pads are 0
    Axis(size=4, kernel=3, stride=2, dilation=1, start=0, length=9)
    >>> geometry(4, 3, 2, [8], auto_pad="same_upper").axes[0]  # total 1: ceil(1/2) cropped at the start
    Axis(size=4, kernel=3, stride=2, dilation=1, start=1, length=8)
    >>> geometry(4, 3, 2, [8], pads_begin=0).axes[0].start, geometry(4, 3, 2, [8], behavior="spec").axes[0].start
    (0, 0)
    """
    func = "compat.openvino.geometry"
    behavior = choice(func, "behavior", behavior, BEHAVIORS)
    auto_pad = _auto_pad(func, auto_pad)
    nd = spatial_dims(
        func,
        in_size=in_size,
        kernel_size=kernel_size,
        strides=strides,
        output_shape=output_shape,
        pads_begin=pads_begin,
        pads_end=pads_end,
        dilations=dilations,
        output_padding=output_padding,
    )
    n = per_axis(func, "input size", in_size, nd, 1)
    k = per_axis(func, "kernel size", kernel_size, nd, 1)
    s = per_axis(func, "strides", strides, nd, 1)
    d = per_axis(func, "dilations", 1 if dilations is None else dilations, nd, 1)
    op = per_axis(func, "output_padding", 0 if output_padding is None else output_padding, nd, 0)
    begins = per_axis(func, "pads_begin", 0 if pads_begin is None else pads_begin, nd, 0)
    ends = per_axis(func, "pads_end", 0 if pads_end is None else pads_end, nd, 0)
    as_int(func, "groups", groups, 1)
    shape = None
    if output_shape is not None:
        if is_seq(output_shape) and len(output_shape) != nd:
            raise fail(func, f"output_shape must list the {nd} spatial sizes only (no batch or channels); got {output_shape!r}")
        shape = per_axis(func, "output_shape", output_shape, nd, 1, sequence_only=True)
    axes = []
    for ax in range(nd):
        full = full_length(n[ax], k[ax], s[ax], d[ax])
        if shape is None:
            explicit = auto_pad == "explicit"
            start = begins[ax] if explicit else 0
            length = full + op[ax] - (begins[ax] + ends[ax] if explicit else 0)
        else:
            length = shape[ax]
            start = _start(behavior, auto_pad, full + op[ax] - length, 0 if grouped else begins[ax])
        if length < 1:
            raise fail(func, f"the output would be empty on axis {ax}: length {length} (full result {full}, "
                       f"output_padding {op[ax]}, pads {begins[ax]} + {ends[ax]}); OpenVINO returns an empty tensor")  # fmt: skip
        axes.append(Axis(n[ax], k[ax], s[ax], d[ax], start, length))
    if behavior == "cpu" and all(a.kernel == 1 and a.stride == 1 and a.length == a.size for a in axes):
        axes = [Axis(a.size, 1, 1, a.dilation, 0, a.length) for a in axes]  # the CPU plugin's 1x1 path drops the pads
    return Geometry(tuple(axes), int(groups))


def _auto_pad(func: str, auto_pad: str | None) -> str:
    if auto_pad is None:
        return "explicit"
    if not isinstance(auto_pad, str):
        raise fail(func, f"auto_pad must be one of {', '.join(map(repr, AUTO_PADS))} or None; got {auto_pad!r}", TypeError)
    return choice(func, "auto_pad", auto_pad.lower(), AUTO_PADS)  # OpenVINO reads the names in either case


def _start(behavior: str, auto_pad: str, total: int, pad_begin: int) -> int:
    """Where the window of an explicit ``output_shape`` starts, ``total = full + op - L``."""
    upper = total - total // 2  # ceil(total/2), floor division for negative totals too
    if behavior == "spec":
        return upper if auto_pad == "same_upper" else total // 2
    if auto_pad == "explicit":
        return pad_begin
    if auto_pad == "valid":
        return 0
    return max(0, upper if auto_pad == "same_upper" else total // 2)


def from_openvino(filters: ArrayLike) -> np.ndarray:
    """``GroupConvolutionBackpropData``'s ``(G, C_in/G, C_out/G, *k)`` -> tconv's ``(C_in, C_out/G, *k)`` (a view).

    ``ConvolutionBackpropData``'s ``(C_in, C_out, *k)`` is tconv's layout already.

    >>> from_openvino(np.zeros((2, 3, 5, 4, 4))).shape  # 2 groups of 2-D filters
    (6, 5, 4, 4)
    """
    f = np.asarray(filters)
    if f.ndim < 4:
        raise fail("compat.openvino.from_openvino", f"grouped filters must be (G, C_in/G, C_out/G, *k); got shape {f.shape}")
    return f.reshape((f.shape[0] * f.shape[1],) + f.shape[2:])


def to_openvino(weight: ArrayLike, groups: int = 1) -> np.ndarray:
    """tconv's ``(C_in, C_out/G, *k)`` -> OpenVINO's filters: as is for ``groups=1``, else ``(G, C_in/G, C_out/G, *k)``.

    >>> to_openvino(np.zeros((6, 5, 4, 4)), 2).shape
    (2, 3, 5, 4, 4)
    """
    func = "compat.openvino.to_openvino"
    w = np.asarray(weight)
    groups = as_int(func, "groups", groups, 1)
    if w.ndim < 3 or w.shape[0] % groups:
        raise fail(func, f"weight must be (C_in, C_out/G, *k) with G = {groups} dividing C_in; got shape {w.shape}")
    return w if groups == 1 else w.reshape((groups, w.shape[0] // groups) + w.shape[1:])


def _backprop(
    func: str,
    grouped: bool,
    data: ArrayLike,
    filters: ArrayLike,
    strides: IntOrSeq,
    output_shape: Sequence[int] | None,
    pads_begin: IntOrSeq | None,
    pads_end: IntOrSeq | None,
    dilations: IntOrSeq | None,
    auto_pad: str | None,
    output_padding: IntOrSeq | None,
    bias: ArrayLike | None,
    behavior: str,
) -> np.ndarray:
    x = as_array(func, "data", data)
    f = as_array(func, "filters", filters)
    b = None if bias is None else as_array(func, "bias", bias)
    if x.ndim < 3:
        raise fail(func, f"data must have shape (N, C_in, *spatial) with at least one spatial dim; got shape {x.shape}")
    layout = "(G, C_in/G, C_out/G, *k)" if grouped else "(C_in, C_out, *k)"
    check_rank(func, "filters", f, x.ndim + grouped, f"{layout}, as data")
    if len({a.dtype for a in (x, f)}) > 1:
        raise fail(func, f"data and filters must share one element type (OpenVINO's T); got {x.dtype} and {f.dtype}", TypeError)
    groups = f.shape[0] if grouped else 1
    c_in = f.shape[0] * f.shape[1] if grouped else f.shape[0]
    if x.shape[1] != c_in:
        raise fail(func, f"the channels of data ({x.shape[1]}) must equal {'G * C_in/G' if grouped else 'C_in'} "
                   f"of filters {layout} = {f.shape}")  # fmt: skip
    w = from_openvino(f) if grouped else f
    check_bias(func, b, w.shape[1] * groups)
    if output_shape is not None:
        output_shape = np.asarray(output_shape).ravel().tolist()  # the node's input: a 1-D tensor
    geom = geometry(x.shape[2:], w.shape[2:], strides, output_shape, pads_begin, pads_end, dilations, auto_pad,
                    output_padding, groups=groups, grouped=grouped, behavior=behavior)  # fmt: skip
    return run_geometry(x, w, b, geom, func=func)


_DOC = """OpenVINO's ``{op}`` (opset1) on NumPy arrays.

    Parameters
    ----------
    data : array_like, shape ``(N, C_in, *n)``
    filters : array_like, shape ``{layout}``
    strides : int or sequence of ints
    output_shape : sequence of ints, optional
        The node's optional second input: the spatial sizes of the output.
    pads_begin, pads_end, dilations, auto_pad, output_padding :
        The node's attributes, OpenVINO's names and defaults (``auto_pad``
        ``explicit``, ``same_upper``, ``same_lower`` or ``valid``, either case).
    name : ignored
    bias : array_like, shape ``(C_out,)``, optional
        Added per output channel (OpenVINO has no bias input: an ``Add`` node).
    behavior : ``"cpu"`` (default) or ``"spec"``
        See :mod:`tconv.compat.openvino`.

    Returns
    -------
    ndarray, shape ``(N, C_out, *L)``, the dtype of ``data``
    """


def _entry_point(grouped: bool):
    """The public ``(group_)convolution_backprop_data``: one signature for the two ops."""
    op = "GroupConvolutionBackpropData" if grouped else "ConvolutionBackpropData"
    name = "group_convolution_backprop_data" if grouped else "convolution_backprop_data"

    def backprop_data(
        data: ArrayLike,
        filters: ArrayLike,
        strides: IntOrSeq,
        output_shape: Sequence[int] | None = None,
        pads_begin: IntOrSeq | None = None,
        pads_end: IntOrSeq | None = None,
        dilations: IntOrSeq | None = None,
        auto_pad: str | None = None,
        output_padding: IntOrSeq | None = None,
        name: str | None = None,
        *,
        bias: ArrayLike | None = None,
        behavior: str = "cpu",
    ) -> np.ndarray:
        return _backprop(f"compat.openvino.{backprop_data.__name__}", grouped, data, filters, strides, output_shape,
                         pads_begin, pads_end, dilations, auto_pad, output_padding, bias, behavior)  # fmt: skip

    backprop_data.__name__ = backprop_data.__qualname__ = name
    backprop_data.__doc__ = _DOC.format(op=op, layout="(G, C_in/G, C_out/G, *k)" if grouped else "(C_in, C_out, *k)")
    return backprop_data


convolution_backprop_data = _entry_point(False)
group_convolution_backprop_data = _entry_point(True)


convolution_backprop_data.__doc__ += """
    Examples
    --------
    >>> convolution_backprop_data(np.ones((1, 1, 3)), np.ones((1, 1, 3)), 2)[0, 0]
    array([1., 1., 2., 1., 2., 1., 1.])
    """
