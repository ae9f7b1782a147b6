"""ONNX's converter hooks (:class:`tconv.compat.porting.Framework`): the ``ConvTranspose`` node.

A description gives the node's attributes and ``kernel_shape``; the target is
``onnx.helper.make_node`` with explicit ``pads`` and ``output_padding``,
searched per axis among the attributes the spec text and ONNX Runtime read
alike (the kernel layout is tconv's own).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import fail
from ...geometry import Axis
from ...normalise import per_axis
from .. import layouts, porting
from ..porting import FUNC, Choice, Source, Target
from . import geometry as onnx_geometry
from . import graph
from .models import GEOMETRY_ATTRIBUTES

__all__ = ["ATTRIBUTES", "KEYS", "NAME", "describe", "search", "source", "target"]

NAME = "onnx"
#: the node's attributes :func:`tconv.compat.onnx.geometry` reads (all but ``kernel_shape``)
ATTRIBUTES = GEOMETRY_ATTRIBUTES + ("behavior",)
KEYS = ("op_type", "kernel_shape", "in_channels", "out_channels") + ATTRIBUTES + ("bias",)


def describe(layer: object) -> dict | None:
    """A live ``onnx.NodeProto`` as a description (None for anything else)."""
    if porting.live_class(layer, "onnx", "NodeProto") is None:
        return None
    attrs = graph.attributes(layer)
    return {"framework": NAME, "op_type": layer.op_type, "bias": len(layer.input) > 2, **attrs}


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    porting.check_op(desc, "op_type", "ConvTranspose", NAME)
    nd = porting.rank(desc, "kernel_shape", NAME)
    attrs = {key: desc[key] for key in ATTRIBUTES if key in desc}
    geom = onnx_geometry(per_axis(FUNC, "input_size", input_size, nd, 1), desc["kernel_shape"], **attrs)
    c_in, c_out = porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels")
    return Source(NAME, geom, c_in, c_out, bool(desc.get("bias", False)), layouts.from_onnx, "ONNX ConvTranspose")


def search(a: Axis, option: Any = None) -> Choice | None:
    """``(pad_begin, pad_end, output_padding)`` for ``a``: explicit pads are ONNX's one portable family."""

    def axis_of(begin: int, end: int, op: int) -> Axis:
        kw = dict(strides=[a.stride], dilations=[a.dilation], pads=[begin, end], output_padding=[op])
        got = porting.only_axis(onnx_geometry(a.size, a.kernel, **kw))
        if porting.only_axis(onnx_geometry(a.size, a.kernel, behavior="onnxruntime", **kw)) != got:
            raise fail(FUNC, "ONNX Runtime reads these attributes differently")  # only portable nodes
        return got

    begin = max(a.start, 0)
    return porting.best(a, (
        ((begin, end, op), lambda end=end, op=op: axis_of(begin, end, op))
        for op in range(a.stride) for end in [max(0, a.full + op - begin - a.length)]
    ), fallback=((0, 0, 0), lambda: axis_of(0, 0, 0)))  # fmt: skip


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    choices = [search(a) for a in geom.axes]
    args = dict(
        kernel_shape=list(geom.kernel),
        strides=list(geom.stride),
        dilations=list(geom.dilation),
        pads=[b for (b, _, _), _ in choices] + [e for (_, e, _), _ in choices],
        output_padding=[op for (_, _, op), _ in choices],
        group=geom.groups,
    )
    rest = porting.residual(choices)
    late = porting.bias_after(src, rest)
    inputs = ["X", "W", "B"] if src.bias and not late else ["X", "W"]
    lines = [f"node = onnx.helper.make_node('ConvTranspose', {inputs!r}, ['Y'], {porting.kwargs_text(args)})"]
    if rest:
        lines.append(
            f"# residual: no single ConvTranspose node has this window: {porting.residual_text(rest)} "
            "(a Pad node; negative pads crop)"
        )
    if late:
        lines.append(porting.bias_text(NAME) + ": an Add node with B reshaped to (C_out" + ", 1" * nd + ")")
    return Target(args, rest, "\n".join(lines), np.asarray, False, late)
