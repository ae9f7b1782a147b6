"""Keras's converter hooks (:class:`tconv.compat.porting.Framework`): ``keras.layers.Conv{1,2,3}DTranspose``.

A description names the ``"layer"`` class with its constructor arguments (a
live layer's ``get_config()``); the target is that layer, or
``keras.ops.conv_transpose`` where the layer refuses strides with dilation.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...errors import fail
from ...geometry import Axis
from ...normalise import per_axis
from .. import layouts, porting
from ..porting import FUNC, Choice, Source, Target
from . import geometry as keras_geometry

__all__ = ["KEYS", "NAME", "describe", "search", "source", "target"]

NAME = "keras"
KEYS = ("layer", "filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate",
        "use_bias", "in_channels", "groups")  # fmt: skip


def describe(layer: object) -> dict | None:
    """A live Keras ``Conv{1,2,3}DTranspose`` as a description (None for anything else)."""
    cls = porting.live_class(layer, "keras", r"Conv[123]DTranspose")
    if cls is None:
        return None
    config = {k: v for k, v in layer.get_config().items() if k not in porting.IGNORED}
    desc = {"framework": NAME, "layer": cls, **config}
    kernel = getattr(layer, "kernel", None) if getattr(layer, "built", False) else None
    if kernel is not None:
        desc["in_channels"] = int(kernel.shape[-1])
    return desc


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    nd = porting.nd_from_name(desc.get("layer"), r"Conv([123])DTranspose", "layer")
    if desc.get("groups", 1) != 1:
        raise fail(FUNC, f"keras Conv{nd}DTranspose has no groups; got groups={desc['groups']!r}")
    geom = keras_geometry(
        per_axis(FUNC, "input_size", input_size, nd, 1),
        per_axis(FUNC, "kernel_size", desc.get("kernel_size"), nd, 1),
        desc.get("strides", 1),
        desc.get("padding", "valid"),
        desc.get("output_padding"),
        desc.get("dilation_rate", 1),
    )
    c_in, c_out = porting.channels(desc, "in_channels"), porting.channels(desc, "filters")
    bias = bool(desc.get("use_bias", True))
    return Source(NAME, geom, c_in, c_out, bias, layouts.from_keras, f"keras.layers.Conv{nd}DTranspose")


def search(a: Axis, option: Any) -> Choice | None:
    """``output_padding`` for ``a`` within ``option = (padding, "None" or "ints")``: ``output_padding=None`` or ints."""
    padding, output_padding = option
    ops = [None] if output_padding == "None" else range(a.stride)
    def axis_of(op: int | None) -> Axis:
        return porting.only_axis(keras_geometry(a.size, a.kernel, a.stride, padding, op, a.dilation))

    return porting.best(a, ((op, lambda op=op: axis_of(op)) for op in ops))


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    options = {(p, o): [search(a, (p, o)) for a in geom.axes] for p in ("same", "valid") for o in ("None", "ints")}
    (padding, op_kind), choices = porting.pick(options)
    output_padding = None if op_kind == "None" else tuple(op for op, _ in choices)
    rest = porting.residual(choices)
    late = porting.bias_after(src, rest)
    args = dict(
        filters=porting.need(src.out_channels, "out_channels (filters)", NAME),
        kernel_size=geom.kernel,
        strides=geom.stride,
        padding=padding,
        output_padding=output_padding,
        dilation_rate=geom.dilation,
        use_bias=src.bias and not late,
    )
    if max(geom.stride) > 1 and max(geom.dilation) > 1:  # keras.layers refuses both; keras.ops computes it
        ops_args = {k: v for k, v in args.items() if k not in ("filters", "kernel_size", "use_bias")}
        lines = [
            f"y = keras.ops.conv_transpose(x, kernel, {porting.kwargs_text(ops_args)})  "
            "# keras.layers refuses strides > 1 with dilation_rate > 1; kernel: (*k, filters, C_in)"
        ]
        if src.bias and not late:
            lines.append("y = y + bias")
    else:
        lines = [
            f"layer = keras.layers.Conv{nd}DTranspose({porting.kwargs_text(args)})",
            "y = layer(x)  # x: channels_last",
        ]
    if rest:
        lines.append(f"# residual: no single Conv{nd}DTranspose has this window: {porting.residual_text(rest)}")
        pads = tuple((max(0, -b), max(0, -a)) for b, a in rest)
        crops = tuple((max(0, b), max(0, a)) for b, a in rest)
        if any(map(any, pads)):
            lines.append(f"y = keras.layers.ZeroPadding{nd}D({pads if nd > 1 else pads[0]!r})(y)")
        if any(map(any, crops)):
            lines.append(f"y = keras.layers.Cropping{nd}D({crops if nd > 1 else crops[0]!r})(y)")
    if late:
        lines += [porting.bias_text(NAME), "y = y + bias"]
    to_target = lambda w: layouts.to_keras(layouts.ungroup(w, geom.groups))  # noqa: E731
    return Target(args, rest, "\n".join(lines), to_target, True, late)
