"""PaddlePaddle's converter hooks (:class:`tconv.compat.porting.Framework`): ``paddle.nn.Conv{1,2,3}DTranspose``.

A description names the ``"layer"`` class with its constructor arguments (and,
optionally, the ``output_size`` its call is given); the target is
``paddle.nn.functional.conv{nd}d_transpose`` with explicit ``padding``
(``[before, after]`` per axis), ``"SAME"`` or ``"VALID"``, and
``output_padding`` searched per axis (the kernel layout is tconv's own).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import fail
from ...geometry import Axis
from ...normalise import per_axis
from .. import porting
from ..porting import FUNC, Choice, Source, Target
from . import DATA_FORMATS
from . import geometry as paddle_geometry

__all__ = ["KEYS", "NAME", "describe", "search", "source", "target"]

NAME = "paddle"
KEYS = ("layer", "in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "dilation",
        "groups", "data_format", "bias", "output_size")  # fmt: skip
#: the padding families the search tries, in the order a tie is settled
MODES = ("EXPLICIT", "SAME", "VALID")


def describe(layer: object) -> dict | None:
    """A live ``paddle.nn.Conv{1,2,3}DTranspose`` as a description (None for anything else)."""
    cls = porting.live_class(layer, "paddle", r"Conv[123]DTranspose")
    if cls is None:
        return None
    private = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "data_format")
    desc = {key: getattr(layer, f"_{key}") for key in private}
    return {"framework": NAME, "layer": cls, "output_padding": layer.output_padding, "bias": layer.bias is not None,
            **desc}  # fmt: skip


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    nd = porting.nd_from_name(desc.get("layer"), r"Conv([123])DTranspose", "layer")
    geom = paddle_geometry(
        per_axis(FUNC, "input_size", input_size, nd, 1),
        per_axis(FUNC, "kernel_size", desc.get("kernel_size"), nd, 1),
        desc.get("stride", 1),
        desc.get("padding", 0),
        desc.get("output_padding", 0),
        desc.get("dilation", 1),
        desc.get("groups", 1),
        desc.get("output_size"),
        desc.get("data_format", DATA_FORMATS[nd][0]),
    )
    c_in, c_out = porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels")
    return Source(NAME, geom, c_in, c_out, bool(desc.get("bias", True)), np.asarray, f"paddle.nn.Conv{nd}DTranspose")


def _axis(a: Axis, padding: Any, output_padding: int) -> Axis:
    """The axis Paddle computes for ``a``'s sizes with this padding (``[before, after]`` or a mode)."""
    got = porting.only_axis(paddle_geometry(a.size, a.kernel, a.stride, padding, output_padding, a.dilation))
    if got.dilation != a.dilation:  # "SAME" drops the dilation: another kernel, whatever the window
        raise fail(FUNC, "Paddle's SAME runs with dilation 1")
    return got


def search(a: Axis, option: Any) -> Choice | None:
    """``(padding, output_padding)`` for ``a`` in the family ``option`` (``"EXPLICIT"``, ``"SAME"`` or ``"VALID"``)."""
    if option == "EXPLICIT":
        begin = max(a.start, 0)
        pairs = [([begin, max(0, a.full + op - begin - a.length)], op) for op in range(a.stride)]
        fallback = (([0, 0], 0), lambda: _axis(a, [0, 0], 0))
    else:
        pairs, fallback = [(option, op) for op in range(a.stride)], None
    return porting.best(a, (((p, op), lambda p=p, op=op: _axis(a, p, op)) for p, op in pairs), fallback)


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    mode, choices = porting.pick({m: [search(a, m) for a in geom.axes] for m in MODES})
    padding = mode if mode != "EXPLICIT" else [v for (pair, _), _ in choices for v in pair]
    args = dict(
        stride=list(geom.stride),
        padding=padding,
        output_padding=[op for (_, op), _ in choices],
        dilation=list(geom.dilation),
        groups=geom.groups,
        data_format=DATA_FORMATS[nd][0],
    )
    rest = porting.residual(choices)
    late = porting.bias_after(src, rest)
    bias = "bias" if src.bias and not late else "None"
    lines = [f"y = paddle.nn.functional.conv{nd}d_transpose(x, weight, {bias}, {porting.kwargs_text(args)})"
             "  # x: (N, C_in, *spatial), weight: (C_in, C_out/groups, *k)"]  # fmt: skip
    if rest:
        pads = [0, 0, 0, 0] + [max(0, -v) for pair in rest for v in pair]
        slices = ", ".join(f"{max(0, b)}:{-a if a > 0 else ''}" for b, a in rest)
        lines.append(f"# residual: no single conv{nd}d_transpose has this window: {porting.residual_text(rest)}")
        if any(pads):
            lines.append(f"y = paddle.nn.functional.pad(y, {pads!r})  # zeros, from the first dim to the last")
        if any(v > 0 for pair in rest for v in pair):
            lines.append(f"y = y[:, :, {slices}]")
    if late:
        lines += [porting.bias_text(NAME), f"y = y + bias.reshape([-1{', 1' * nd}])"]
    return Target(args, rest, "\n".join(lines), np.asarray, False, late)
