"""OpenVINO's converter hooks (:class:`tconv.compat.porting.Framework`): ``(Group)ConvolutionBackpropData``.

A description names the ``"op"`` (``ConvolutionBackpropData`` or
``GroupConvolutionBackpropData``) with the node's attributes, and the kernel
as ``filters_shape`` (``(C_in, C_out, *k)`` or ``(G, C_in/G, C_out/G, *k)``)
or ``kernel_size`` with the channels (and ``groups``); its weights, passed to
``convert(weight=...)`` or ``convert_weights``, are the op's filters in that
same layout. The target is the node
with explicit ``pads_begin``, ``pads_end`` and ``output_padding`` and no
``output_shape``, searched per axis among the attributes the CPU plugin and
the opset1 text read alike; the code builds an ``ov.Model`` whose residual,
where one is needed, is a ``Pad`` node (opset12: negative pads crop).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import fail
from ...geometry import Axis
from ...normalise import per_axis
from .. import porting
from ..porting import FUNC, Choice, Source, Target
from . import from_openvino, to_openvino
from . import geometry as ov_geometry

__all__ = ["ATTRIBUTES", "KEYS", "NAME", "OPS", "describe", "search", "source", "target"]

NAME = "openvino"
OPS = ("ConvolutionBackpropData", "GroupConvolutionBackpropData")
#: the attributes (and the ``output_shape`` input) :func:`tconv.compat.openvino.geometry` reads
ATTRIBUTES = ("strides", "output_shape", "pads_begin", "pads_end", "dilations", "auto_pad", "output_padding", "behavior")
KEYS = ("op", "filters_shape", "kernel_size", "in_channels", "out_channels", "groups") + ATTRIBUTES + ("bias",)


describe = porting.no_layer_object


def _kernel(desc: Mapping[str, Any], grouped: bool) -> tuple[int, tuple[int, ...], int | None, int | None, int]:
    """(nd, kernel size, C_in, C_out, groups) from ``filters_shape`` or ``kernel_size`` + channels."""
    shape = desc.get("filters_shape")
    if shape is not None:
        shape = tuple(shape)
        lead = 3 if grouped else 2
        layout = "(G, C_in/G, C_out/G, *k)" if grouped else "(C_in, C_out, *k)"
        if len(shape) < lead + 1:
            raise fail(FUNC, f"filters_shape must be {layout} with at least one spatial dim; got {shape!r}")
        dims = per_axis(FUNC, "filters_shape", shape, len(shape), 1)
        groups = dims[0] if grouped else 1
        c_in, c_out = (dims[0] * dims[1], dims[0] * dims[2]) if grouped else (dims[0], dims[1])
        if "groups" in desc and desc["groups"] != groups:
            raise fail(FUNC, f"groups must agree with filters_shape {shape!r} (G = {groups}); got {desc['groups']!r}")
        return len(shape) - lead, dims[lead:], c_in, c_out, groups
    nd = porting.rank(desc, "kernel_size", NAME)
    groups = int(desc.get("groups", 1)) if grouped else 1
    if not grouped and desc.get("groups", 1) != 1:
        raise fail(FUNC, f"ConvolutionBackpropData has no groups: use GroupConvolutionBackpropData; got groups={desc['groups']!r}")
    k = per_axis(FUNC, "kernel_size", desc["kernel_size"], nd, 1)
    return nd, k, porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels"), groups


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    op = desc.get("op", OPS[0])
    if op not in OPS:
        raise fail(FUNC, f"the openvino description's op must be one of {', '.join(map(repr, OPS))}; got {op!r}")
    nd, k, c_in, c_out, groups = _kernel(desc, op == OPS[1])
    if "strides" not in desc:
        raise fail(FUNC, "an openvino description needs strides (the node's required attribute)")
    attrs = {key: desc[key] for key in ATTRIBUTES if key in desc}
    geom = ov_geometry(per_axis(FUNC, "input_size", input_size, nd, 1), k, groups=groups, grouped=op == OPS[1], **attrs)
    bias, summary = bool(desc.get("bias", False)), f"OpenVINO {op}"
    if op == OPS[0]:
        return Source(NAME, geom, c_in, c_out, bias, np.asarray, summary)
    # the grouped op's filters have one dim more than the data: (G, C_in/G, C_out/G, *k)
    sizes = [str(groups)] + ["?" if c is None else str(c // groups) for c in (c_in, c_out)] + [str(v) for v in k]
    layout = f"OpenVINO's (G, C_in/G, C_out/G, *k) = ({', '.join(sizes)})"
    return Source(NAME, geom, c_in, c_out, bias, from_openvino, summary, nd + 3, layout)


def search(a: Axis, option: Any = None) -> Choice | None:
    """``(pads_begin, pads_end, output_padding)`` for ``a``: explicit pads without ``output_shape``.

    Only attributes the CPU plugin and the opset1 text read alike (so not the
    1x1 path that drops the pads) are candidates.
    """

    def axis_of(begin: int, end: int, op: int) -> Axis:
        kw = dict(pads_begin=[begin], pads_end=[end], dilations=[a.dilation], output_padding=[op])
        got = porting.only_axis(ov_geometry(a.size, a.kernel, a.stride, **kw))
        if porting.only_axis(ov_geometry(a.size, a.kernel, a.stride, behavior="spec", **kw)) != got:
            raise fail(FUNC, "the CPU plugin reads these attributes differently")
        return got

    begin = max(a.start, 0)  # zeros before y_full cannot be asked for: the residual pads them
    extra = a.start + a.length - a.full  # where the window ends past y_full: output_padding, or pads_end when negative
    return porting.best(
        a,
        [((begin, max(0, -extra), max(0, extra)), lambda: axis_of(begin, max(0, -extra), max(0, extra)))],
        fallback=((0, 0, 0), lambda: axis_of(0, 0, 0)),
    )


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    choices = [search(a) for a in geom.axes]
    args = dict(
        strides=list(geom.stride),
        pads_begin=[b for (b, _, _), _ in choices],
        pads_end=[e for (_, e, _), _ in choices],
        dilations=list(geom.dilation),
        output_padding=[op for (_, _, op), _ in choices],
    )
    rest = porting.residual(choices)
    late = porting.bias_after(src, rest)
    grouped = geom.groups > 1
    op = "group_convolution_backprop_data" if grouped else "convolution_backprop_data"
    c_in = porting.need(src.in_channels, "in_channels", NAME)
    layout = "(G, C_in/G, C_out/G, *k)" if grouped else "(C_in, C_out, *k)"
    bias_shape = [1, -1] + [1] * nd
    lines = [
        f"x = ops.parameter([-1, {c_in}, {', '.join(map(str, geom.in_size))}], ov.Type.f32, name='x')  # ops: openvino.opset12",
        f"y = ops.{op}(x, ops.constant(filters), {porting.kwargs_text(args)})  # filters: {layout}",
    ]
    bias_line = f"y = ops.add(y, ops.constant(bias.reshape({bias_shape})))"
    if src.bias and not late:
        lines.append(bias_line)
    if rest:
        lines += [
            f"# residual: no single ConvolutionBackpropData has this window: {porting.residual_text(rest)}",
            f"y = ops.pad(y, {[0, 0] + [-b for b, _ in rest]}, {[0, 0] + [-e for _, e in rest]}, 'constant')"
            "  # negative pads crop",
        ]
    if late:
        lines += [porting.bias_text(NAME), bias_line]
    lines.append("model = ov.Model([y], [x], 'tconv')")
    return Target(args, rest, "\n".join(lines), lambda w: to_openvino(w, geom.groups), False, late)
