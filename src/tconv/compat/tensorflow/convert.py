"""TensorFlow's converter hooks (:class:`tconv.compat.porting.Framework`): ``tf.nn.conv{1,2,3}d_transpose``.

A description names the ``"op"`` with its arguments and the kernel as
``filters_shape`` ``(*k, out, in)`` (or ``kernel_size`` and channels); the
target is the op's call, with ``output_shape`` searched per axis under each
padding mode (explicit pads exist for 2-D only, as in TensorFlow).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...errors import fail
from ...geometry import Axis
from ...normalise import is_seq, per_axis
from .. import layouts, porting
from ..porting import FUNC, Choice, Source, Target
from . import _FORMATS, output_shape_range
from . import geometry as tf_geometry

__all__ = ["KEYS", "NAME", "describe", "search", "source", "target"]

NAME = "tensorflow"
KEYS = ("op", "filters_shape", "kernel_size", "in_channels", "out_channels", "output_shape", "strides", "padding",
        "data_format", "dilations", "bias")  # fmt: skip


describe = porting.no_layer_object


def _kernel(desc: Mapping[str, Any], nd: int | None) -> tuple[int, tuple[int, ...], int | None, int | None]:
    """(nd, kernel size, C_in, C_out) from ``filters_shape`` ``(*k, out, in)`` or ``kernel_size`` + channels."""
    shape = desc.get("filters_shape")
    if shape is not None:
        shape = tuple(shape)
        nd = nd or len(shape) - 2
        if len(shape) != nd + 2:
            raise fail(FUNC, f"filters_shape must be (*kernel, out_channels, in_channels) with {nd} spatial dims; got {shape!r}")
        return nd, per_axis(FUNC, "filters_shape", shape[:nd], nd, 1), shape[-1], shape[-2]
    kernel = desc.get("kernel_size")
    nd = nd or (len(kernel) if is_seq(kernel) else None)
    if nd is None:
        raise fail(FUNC, "a tensorflow conv_transpose description needs filters_shape or a per-axis kernel_size to know its rank")
    k = per_axis(FUNC, "kernel_size", kernel, nd, 1)
    return nd, k, porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels")


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    op = desc.get("op")
    nd = None if op == "conv_transpose" else porting.nd_from_name(op, r"conv([123])d_transpose", "op")
    nd, k, c_in, c_out = _kernel(desc, nd)
    n = per_axis(FUNC, "input_size", input_size, nd, 1)
    strides = desc.get("strides", 1)
    padding = desc.get("padding", "SAME")
    data_format, dilations = desc.get("data_format"), desc.get("dilations")
    output_shape = desc.get("output_shape")
    if output_shape is None:  # what users mean without one: SAME's n*s, else the shortest length TF accepts
        ranges = output_shape_range(n, k, strides, padding, data_format, dilations)
        output_shape = [hi if padding == "SAME" else lo for lo, hi in ranges]
    geom = tf_geometry(n, k, output_shape, strides, padding, data_format, dilations)
    bias = bool(desc.get("bias", False))
    return Source(NAME, geom, c_in, c_out, bias, layouts.from_tf, f"tf.nn.conv{nd}d_transpose")


def search(a: Axis, option: Any) -> Choice | None:
    """``output_shape`` (and, for ``option="EXPLICIT"``, the pads) for ``a`` under the padding mode ``option``."""
    n, k, s, d = a.size, a.kernel, a.stride, a.dilation
    if option == "EXPLICIT":
        begin = max(a.start, 0)

        def explicit(end: int, length: int) -> Axis:  # explicit pads exist for 2-D only: a dummy second axis
            pads = [[0, 0], [begin, end], [0, 0], [0, 0]]
            return porting.only_axis(tf_geometry((n, 1), (k, 1), (length, 1), (s, 1), pads, None, (d, 1)))

        candidates = (
            (((begin, end), length), lambda end=end, length=length: explicit(end, length))
            for end in range(0, max(1, a.full - begin - a.length + 1) + 1)
            for length in sorted(range(a.full - begin - end, a.full - begin - end + s), key=lambda v: abs(v - a.length))
        )
    else:  # the lengths TensorFlow accepts for this mode (output_shape_range), nearest first
        lengths = range(a.dilated_size, n * s + 1) if option == "SAME" else range(a.full, a.full + s)
        candidates = (
            (length, lambda length=length: porting.only_axis(tf_geometry(n, k, [length], s, option, None, d)))
            for length in sorted(lengths, key=lambda v: abs(v - a.length))
        )
    return porting.best(a, candidates)


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    modes = ["SAME", "VALID"] + (["EXPLICIT"] if nd == 2 else [])
    mode, choices = porting.pick({m: [search(a, m) for a in geom.axes] for m in modes})
    c_out = porting.need(src.out_channels, "out_channels", NAME)
    if mode == "EXPLICIT":
        lengths = [length for (_, length), _ in choices]
        padding: Any = [[0, 0]] + [list(pads) for (pads, _), _ in choices] + [[0, 0]]
    else:
        lengths, padding = [length for length, _ in choices], mode
    fmt = _FORMATS[nd][0]  # channels last, TensorFlow's default
    args = dict(
        output_shape=[1] + lengths + [c_out],
        strides=list(geom.stride),
        padding=padding,
        data_format=fmt,
        dilations=list(geom.dilation),
    )
    rest = porting.residual(choices)
    shown = {**args, "output_shape": f"[tf.shape(x)[0], {', '.join(map(str, lengths))}, {c_out}]"}
    call = ", ".join(f"{k}={v}" if k == "output_shape" else f"{k}={v!r}" for k, v in shown.items())
    late = porting.bias_after(src, rest)
    lines = [f"y = tf.nn.conv{nd}d_transpose(x, filters, {call})  # x: {fmt}, filters: (*k, C_out, C_in)"]
    if src.bias and not late:
        lines.append("y = tf.nn.bias_add(y, bias)")
    if rest:
        lines += [f"# residual: no single tf.nn.conv{nd}d_transpose has this window: {porting.residual_text(rest)}",
                  f"y = {porting.slice_code('y', rest, 'tf.pad')}"]  # fmt: skip
    if late:
        lines += [porting.bias_text(NAME), "y = tf.nn.bias_add(y, bias)"]
    to_target = lambda w: layouts.to_tf(layouts.ungroup(w, geom.groups))  # noqa: E731
    return Target(args, rest, "\n".join(lines), to_target, True, late)
