"""WebNN's ``MLGraphBuilder.convTranspose2d`` (W3C Web Neural Network API), on NumPy arrays.

``conv_transpose2d(input, filter, options)`` takes the operator's two operands
and its ``MLConvTranspose2dOptions`` dictionary with the specification's own
member names and defaults:

- ``padding`` ``[beginningHeight, endingHeight, beginningWidth, endingWidth]``
  (default zeros), ``strides`` and ``dilations`` (default ``[1, 1]``),
  ``outputPadding`` (default ``[0, 0]``), ``outputSizes`` (optional),
  ``groups`` (default 1), ``bias`` (an array of ``[outputChannels]``);
- ``inputLayout`` ``"nchw"`` (default) or ``"nhwc"`` (the output follows it);
- ``filterLayout`` ``"iohw"`` (default) ``[inputChannels, outputChannels/groups, h, w]``,
  ``"hwoi"`` ``[h, w, outputChannels/groups, inputChannels]`` or
  ``"ohwi"`` ``[outputChannels/groups, h, w, inputChannels]``.

Per spatial axis, with ``full = (n-1)*s + (k-1)*d + 1`` (the scatter result)
and ``calculated = full - begin - end`` (the specification's "calculate
convtranspose output size"), the window ``y_full[lo : lo + L]`` is::

    lo = begin                                  (always: WebNN's padding is never negative)
    L  = outputSizes      if given, calculated <= L < calculated + stride
    L  = calculated + outputPadding   otherwise, outputPadding < stride

so ``outputSizes`` keeps the explicit begin padding and adds its extra
elements at the end, unlike ONNX's ``output_shape``, which re-splits the total
padding. The output dtype is the input's; float16 is accumulated in float32.

The refusals are the method steps' (each a ``TypeError`` in a browser, here a
:class:`~tconv.errors.TconvError` naming the option, or ``TypeError`` for a
wrong type), plus three the specification leaves open, refused rather than
guessed: ``groups`` must divide the input channels (the steps only check
``inputChannels == filterInputChannels``), option values must be integers (the
WebIDL ``[EnforceRange]`` conversion would truncate ``1.5`` to 1), and an unknown
option name is refused (a browser ignores it, so a misspelt ``stride`` or the
withdrawn ``autoPad`` would silently change nothing).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Axis, Geometry, full_length
from ...normalise import as_array, as_int, check_rank, choice, per_axis
from ...ops import run_geometry
from .. import layouts

__all__ = ["conv_transpose2d", "geometry", "filter_to_canonical", "filter_from_canonical", "INPUT_LAYOUTS",
           "FILTER_LAYOUTS", "OPTIONS", "DATA_TYPES"]  # fmt: skip

INPUT_LAYOUTS = ("nchw", "nhwc")
FILTER_LAYOUTS = ("iohw", "hwoi", "ohwi")
#: the members of ``MLConvTranspose2dOptions`` (``label`` from ``MLOperatorOptions``)
OPTIONS = ("padding", "strides", "dilations", "outputPadding", "outputSizes", "groups", "inputLayout", "filterLayout",
           "bias", "label")  # fmt: skip
#: the operand data types the specification's tensor-limits table allows
DATA_TYPES = (np.dtype(np.float32), np.dtype(np.float16))
#: ``[EnforceRange] unsigned long``
_UNSIGNED_LONG_MAX = 2**32 - 1


def _options(func: str, options: Mapping[str, Any] | None) -> dict:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise fail(func, f"options must be a dict of MLConvTranspose2dOptions members; got {type(options).__name__}",
                   TypeError)  # fmt: skip
    unknown = sorted(set(options) - set(OPTIONS), key=str)
    if unknown:
        raise fail(func, f"options has unknown members {unknown}; MLConvTranspose2dOptions has {list(OPTIONS)} "
                   "(a browser would ignore them silently)")  # fmt: skip
    return dict(options)


def _sequence(func: str, options: Mapping[str, Any], name: str, size: int, default: int, minimum: int) -> tuple[int, ...]:
    """A ``sequence<[EnforceRange] unsigned long>`` member of ``size`` items (the default when absent)."""
    value = options.get(name)
    if value is None:
        return (default,) * size
    return per_axis(func, f"options.{name}", value, size, minimum, _UNSIGNED_LONG_MAX, sequence_only=True)


def geometry(
    input_size: Sequence[int], filter_size: Sequence[int], options: Mapping[str, Any] | None = None
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of a ``convTranspose2d`` call.

    Parameters
    ----------
    input_size : ``[inputHeight, inputWidth]``
    filter_size : ``[filterHeight, filterWidth]``
    options : dict, optional
        ``MLConvTranspose2dOptions``; the geometry reads ``padding``, ``strides``,
        ``dilations``, ``outputPadding``, ``outputSizes`` and ``groups``.

    Examples
    --------
    >>> geometry([3, 3], [3, 3], {"strides": [3, 2], "outputSizes": [10, 8]}).out_size
    (10, 8)
    >>> geometry([3, 3], [3, 3], {"strides": [2, 2], "padding": [0, 1, 0, 1], "outputSizes": [6, 6]}).start
    (0, 0)
    """
    return _geometry("compat.webnn.geometry", input_size, filter_size, _options("compat.webnn.geometry", options))


def _geometry(func: str, input_size: Sequence[int], filter_size: Sequence[int], options: dict) -> Geometry:
    n = per_axis(func, "input_size", input_size, 2, 1, sequence_only=True)
    k = per_axis(func, "filter_size", filter_size, 2, 1, sequence_only=True)
    pads = _sequence(func, options, "padding", 4, 0, 0)
    s = _sequence(func, options, "strides", 2, 1, 1)
    d = _sequence(func, options, "dilations", 2, 1, 1)
    op = _sequence(func, options, "outputPadding", 2, 0, 0)
    sizes = None if options.get("outputSizes") is None else _sequence(func, options, "outputSizes", 2, 0, 1)
    groups = options.get("groups", 1)
    groups = as_int(func, "options.groups", 1 if groups is None else groups, 1)
    if groups > _UNSIGNED_LONG_MAX:
        raise fail(func, f"options.groups must be at most {_UNSIGNED_LONG_MAX} (an unsigned long); got {groups}")
    axes = []
    for ax, name in enumerate(("height", "width")):
        begin, end = pads[2 * ax], pads[2 * ax + 1]
        calculated = full_length(n[ax], k[ax], s[ax], d[ax]) - begin - end
        if sizes is None:
            if op[ax] >= s[ax]:
                raise fail(func, f"options.outputPadding must be < options.strides on every axis; got outputPadding "
                           f"{list(op)} with strides {list(s)} ({name})")  # fmt: skip
            length = calculated + op[ax]
        else:  # outputPadding is ignored, as the specification says
            length = sizes[ax]
            if not calculated <= length < calculated + s[ax]:
                raise fail(func, f"options.outputSizes[{ax}] ({name}) must be in [{calculated}, {calculated + s[ax]}) "
                           f"(the calculated output size up to stride - 1 more); got {length}")  # fmt: skip
        if length < 1:
            raise fail(func, f"the output {name} would be {length} (a valid dimension is >= 1): input {n[ax]}, filter "
                       f"{k[ax]}, stride {s[ax]}, dilation {d[ax]}, padding {begin} + {end}")  # fmt: skip
        axes.append(Axis(n[ax], k[ax], s[ax], d[ax], begin, length))
    return Geometry(tuple(axes), groups)


#: per filterLayout: (to tconv's ``(C_in, C_out/groups, kH, kW)``, back from it)
_FILTER_MOVES = {
    "iohw": (layouts.from_onnx, layouts.to_onnx),
    "hwoi": (layouts.from_tf, layouts.to_tf),
    "ohwi": (layouts.from_ohwi, layouts.to_ohwi),
}


def filter_to_canonical(filter: np.ndarray, filter_layout: str = "iohw") -> np.ndarray:
    """A WebNN filter in ``filter_layout`` as tconv's ``(C_in, C_out/groups, kH, kW)`` (a view).

    >>> filter_to_canonical(np.zeros((3, 3, 2, 1)), "hwoi").shape
    (1, 2, 3, 3)
    """
    return _FILTER_MOVES[choice("compat.webnn.filter_to_canonical", "filter_layout", filter_layout, FILTER_LAYOUTS)][0](filter)


def filter_from_canonical(weight: np.ndarray, filter_layout: str = "iohw") -> np.ndarray:
    """tconv's ``(C_in, C_out/groups, kH, kW)`` as a WebNN filter in ``filter_layout`` (a view).

    >>> filter_from_canonical(np.zeros((1, 2, 3, 3)), "ohwi").shape
    (2, 3, 3, 1)
    """
    layout = choice("compat.webnn.filter_from_canonical", "filter_layout", filter_layout, FILTER_LAYOUTS)
    return _FILTER_MOVES[layout][1](weight)


def _operand(func: str, name: str, value: ArrayLike, dtype: np.dtype | None = None) -> np.ndarray:
    """An operand of an allowed data type (``dtype``: the input's, which filter and bias must share)."""
    if isinstance(value, (list, tuple, int, float)):
        raise fail(func, f"{name} must be a NumPy array of dtype float32 or float16 (an MLOperand has a data type); "
                   f"got a {type(value).__name__}: pass np.asarray(..., np.float32)", TypeError)  # fmt: skip
    arr = as_array(func, name, value)
    if arr.dtype not in DATA_TYPES:
        raise fail(func, f"{name} must have dtype float32 or float16 (WebNN's allowed data types); got {arr.dtype}",
                   TypeError)  # fmt: skip
    if dtype is not None and arr.dtype != dtype:
        raise fail(func, f"{name} must have the input's data type {dtype}; got {arr.dtype}", TypeError)
    return arr


def conv_transpose2d(input: ArrayLike, filter: ArrayLike, options: Mapping[str, Any] | None = None) -> np.ndarray:
    """``MLGraphBuilder.convTranspose2d(input, filter, options)``, computed.

    Parameters
    ----------
    input : ndarray, float32 or float16, 4-D
        ``[batches, inputChannels, h, w]`` (``"nchw"``) or ``[batches, h, w, inputChannels]`` (``"nhwc"``).
    filter : ndarray, the input's dtype, 4-D, in ``options["filterLayout"]``
    options : dict, optional
        ``MLConvTranspose2dOptions`` (module docstring); ``bias`` is an array of
        ``[outputChannels]`` of the input's dtype.

    Returns
    -------
    ndarray, the input's dtype, ``[batches, outputChannels, H, W]`` or ``[batches, H, W, outputChannels]``.

    Examples
    --------
    >>> x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    >>> y = conv_transpose2d(x, np.ones((1, 1, 3, 3), np.float32), {"strides": [3, 3], "padding": [1, 1, 1, 1]})
    >>> y[0, 0, :2]
    array([[1., 1., 2., 2., 2., 3., 3.],
           [1., 1., 2., 2., 2., 3., 3.]], dtype=float32)
    """
    func = "compat.webnn.conv_transpose2d"
    opts = _options(func, options)
    x = _operand(func, "input", input)
    w = _operand(func, "filter", filter, x.dtype)
    input_layout = choice(func, "options.inputLayout", opts.get("inputLayout", "nchw"), INPUT_LAYOUTS)
    filter_layout = choice(func, "options.filterLayout", opts.get("filterLayout", "iohw"), FILTER_LAYOUTS)
    spatial = "[batches, h, w, inputChannels]" if input_layout == "nhwc" else "[batches, inputChannels, h, w]"
    check_rank(func, "input", x, 4, f"{spatial} (inputLayout {input_layout!r})")
    if x.shape[0] == 0:
        raise fail(func, f"input's batches must be >= 1 (a WebNN operand has no empty dimension); got shape {x.shape}")
    check_rank(func, "filter", w, 4, f"in filterLayout {filter_layout!r}")
    xc = layouts.to_channels_first(x) if input_layout == "nhwc" else x
    wc = filter_to_canonical(w, filter_layout)
    groups = as_int(func, "options.groups", 1 if opts.get("groups") is None else opts["groups"], 1)
    c_in = xc.shape[1]
    if wc.shape[0] != c_in:
        raise fail(func, f"the filter's input channels ({wc.shape[0]}, filter shape {w.shape} in {filter_layout!r}) "
                   f"must equal the input's ({c_in})")  # fmt: skip
    if c_in % groups:
        raise fail(func, f"options.groups must divide the input channels ({c_in}); got {groups} "
                   "(the specification does not check this; no grouping of the channels exists)")  # fmt: skip
    c_out = wc.shape[1] * groups
    if c_out > _UNSIGNED_LONG_MAX:
        raise fail(func, f"outputChannels = {wc.shape[1]} * groups {groups} is not a valid dimension")
    b = None
    if opts.get("bias") is not None:
        b = _operand(func, "options.bias", opts["bias"], x.dtype)
        if b.shape != (c_out,):
            raise fail(func, f"options.bias must have shape [outputChannels] = [{c_out}]; got shape {list(b.shape)}")
    geom = _geometry(func, xc.shape[2:], wc.shape[2:], opts)
    y = run_geometry(xc, wc, b, geom, func=func)
    return np.ascontiguousarray(layouts.to_channels_last(y)) if input_layout == "nhwc" else y
