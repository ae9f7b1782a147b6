"""WebNN's converter hooks (:class:`tconv.compat.porting.Framework`): ``MLGraphBuilder.convTranspose2d``.

A description gives the ``MLConvTranspose2dOptions`` members (WebNN's names)
and the filter as ``filterShape`` (in its ``filterLayout``) or ``kernel_size``
with channels. The target is the call with explicit ``padding`` and
``outputPadding`` (``outputSizes`` reaches the same windows: both start at the
begin padding and end at most ``stride - 1`` past the full result), default
layouts ``nchw`` / ``iohw``. WebNN is 2-D only and its padding is never
negative, so a window starting before the full result is a residual.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import fail
from ...geometry import Axis
from ...normalise import choice, per_axis
from .. import porting
from ..porting import FUNC, Choice, Source, Target
from . import FILTER_LAYOUTS, INPUT_LAYOUTS, filter_from_canonical, filter_to_canonical
from . import geometry as webnn_geometry

__all__ = ["KEYS", "NAME", "describe", "search", "source", "target"]

NAME = "webnn"
_GEOMETRY_OPTIONS = ("padding", "strides", "dilations", "outputPadding", "outputSizes", "groups")
KEYS = ("op", "filterShape", "kernel_size", "in_channels", "out_channels", "inputLayout", "filterLayout", "bias",
        "label") + _GEOMETRY_OPTIONS  # fmt: skip

#: what ``tconv vectors`` may give it: WebNN's operand data types, and no empty dimension in an operand
DTYPES = ("float32", "float16")
EMPTY_BATCH = False

describe = porting.no_layer_object  # a graph builder's operands carry no layer object to read


def _filter(desc: Mapping[str, Any], layout: str) -> tuple[tuple[int, ...], int | None, int | None]:
    """(kernel size, C_in, C_out) from ``filterShape`` in ``layout``, or ``kernel_size`` plus channels."""
    shape = desc.get("filterShape")
    groups = desc.get("groups") or 1
    if shape is not None:
        dims = per_axis(FUNC, "filterShape", shape, 4, 1, sequence_only=True)
        c_in, c_out_g, kh, kw = filter_to_canonical(np.empty(dims, np.uint8), layout).shape
        return (kh, kw), c_in, c_out_g * groups if isinstance(groups, int) else None
    kernel = desc.get("kernel_size")
    if kernel is None:
        raise fail(FUNC, "a webnn convTranspose2d description needs filterShape (in its filterLayout) or kernel_size")
    k = per_axis(FUNC, "kernel_size", kernel, 2, 1)
    return k, porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels")


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    porting.check_op(desc, "op", "convTranspose2d", NAME)
    layout = choice(FUNC, "filterLayout", desc.get("filterLayout", "iohw"), FILTER_LAYOUTS)
    choice(FUNC, "inputLayout", desc.get("inputLayout", "nchw"), INPUT_LAYOUTS)
    k, c_in, c_out = _filter(desc, layout)
    options = {key: desc[key] for key in _GEOMETRY_OPTIONS if key in desc}
    geom = webnn_geometry(per_axis(FUNC, "input_size", input_size, 2, 1), k, options)
    return Source(NAME, geom, c_in, c_out, bool(desc.get("bias", False)),
                  lambda w: filter_to_canonical(w, layout), "WebNN convTranspose2d")  # fmt: skip


def search(a: Axis, option: Any = None) -> Choice | None:
    """``(begin, end, outputPadding)`` for ``a``: explicit padding is WebNN's one family (outputSizes reaches no other).

    The window starts at the begin padding (so at 0 when ``a`` starts before the
    full result); the end padding drops what ``a`` leaves of the full result, or
    ``outputPadding`` (below the stride) appends what ``a`` runs past it.
    """

    def axis_of(begin: int, end: int, op: int) -> Axis:
        options = {"padding": [begin, end, 0, 0], "strides": [a.stride, 1], "dilations": [a.dilation, 1],
                   "outputPadding": [op, 0]}  # fmt: skip
        return webnn_geometry([a.size, 1], [a.kernel, 1], options).axes[0]  # a dummy width axis: WebNN is 2-D

    begin = max(a.start, 0)
    left = a.end_crop  # of the full result after the window; negative: the window runs past it
    end, op = (left, 0) if left >= 0 else (0, min(-left, a.stride - 1))
    return porting.best(a, [((begin, end, op), lambda: axis_of(begin, end, op))],
                        fallback=((0, 0, 0), lambda: axis_of(0, 0, 0)))  # fmt: skip


def _indices(values: list) -> str:
    """A WebNN index list over ``(N, C, *spatial)``: zeros for the batch and channels, then ``values``."""
    return "[" + ", ".join(map(str, [0, 0] + values)) + "]"


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    if nd not in (1, 2):
        raise fail(FUNC, f"WebNN has convTranspose2d only; {src.summary} has {nd} spatial dims (1-D runs as 2-D of height 1)")
    # a 1-D layer is a 2-D one of height 1: a one-element axis whose window is its whole full result
    axes = geom.axes if nd == 2 else (Axis(1, 1, 1, 1, 0, 1),) + geom.axes
    picks = [search(a) for a in axes]
    (bh, eh, oph), (bw, ew, opw) = (c for c, _ in picks)
    args = dict(padding=[bh, eh, bw, ew], strides=[a.stride for a in axes], dilations=[a.dilation for a in axes],
                outputPadding=[oph, opw], groups=geom.groups, inputLayout="nchw", filterLayout="iohw")  # fmt: skip
    rest = porting.residual(picks[2 - nd :])
    late = porting.bias_after(src, rest)
    shown = dict(args, **({"bias": "bias"} if src.bias and not late else {}))
    text = ", ".join(f"{k}: {v}" if k == "bias" else f"{k}: {v!r}" for k, v in shown.items()).replace("'", '"')
    call = f"builder.convTranspose2d(x, filter, {{{text}}})"
    if nd == 1:
        lines = [f"const y = builder.reshape({call.replace('(x,', '(builder.reshape(x, [N, C_in, 1, n]),')}, "
                 f"[N, C_out, {geom.out_size[0] + sum(rest[0]) if rest else geom.out_size[0]}]);  "
                 "// x: (N, C_in, n) as (N, C_in, 1, n); filter: iohw of height 1"]  # fmt: skip
    else:
        lines = [f"const y = {call};  // x: nchw, filter: iohw"]
    name = "y"
    if rest:
        lines.append(f"// residual: no single convTranspose2d has this window: {porting.residual_text(rest)}")
        if min(min(pair) for pair in rest) < 0:  # zeros first (builder.pad), then the crops (builder.slice)
            before, after = ([max(0, -v) for v in side] for side in zip(*rest))
            lines.append(f"const yPadded = builder.pad(y, {_indices(before)}, {_indices(after)});")
            name = "yPadded"
        if max(max(pair) for pair in rest) > 0:
            sizes = _indices(list(geom.out_size)).replace("[0, 0,", "[N, C_out,", 1)
            lines.append(f"const yWindow = builder.slice({name}, {_indices([max(0, b) for b, _ in rest])}, {sizes});")
            name = "yWindow"
    if late:
        lines += [f"// {porting.bias_text(NAME)[2:]}",
                  f"const yBiased = builder.add({name}, builder.reshape(bias, {_indices([1] * nd).replace('[0, 0,', '[1, C_out,', 1)}));"]
    return Target(args, rest, "\n".join(lines), lambda w: filter_from_canonical(w if nd == 2 else w[:, :, None], "iohw"),
                  False, late)  # fmt: skip
