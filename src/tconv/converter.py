"""Port a transposed-conv layer between PyTorch, TensorFlow, Keras, JAX and ONNX.

The converter is the compat parse run in reverse. The source's arguments are
parsed into one :class:`~tconv.geometry.Geometry` by its framework's
``tconv.compat.<framework>.geometry``; then, per axis, the target's own
``geometry`` is searched over the target's argument space for the arguments
whose window ``y_full[start : start + length]`` is the source's. When no single
target layer has that window (TensorFlow/Keras SAME with stride 2 and an odd
kernel in PyTorch: a one-element shift), the closest one is taken and the
difference is returned as a residual crop or zero-pad, and said in the code.

No framework is imported: the answer is arguments, a ready-to-paste line and
weights converted with :mod:`tconv.compat.layouts`.
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .compat import layouts
from .errors import TconvError
from .geometry import Axis, Geometry
from .normalise import per_axis

__all__ = ["FRAMEWORKS", "Conversion", "convert"]

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "onnx")
_FUNC = "convert"

#: keys a description may carry that do not change the geometry (layer names, initialisers, ...)
_IGNORED = {
    "framework", "name", "activation", "activity_regularizer", "bias_constraint", "bias_initializer",
    "bias_regularizer", "kernel_constraint", "kernel_initializer", "kernel_regularizer", "trainable",
    "dtype", "device", "precision", "preferred_element_type",
}  # fmt: skip


#: the keys of a description, per source framework (its own argument names, plus channels)
_KEYS = {
    "torch": ("layer", "in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding",
              "groups", "bias", "dilation", "padding_mode"),
    "keras": ("layer", "filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
              "dilation_rate", "use_bias", "in_channels", "groups"),
    "tensorflow": ("op", "filters_shape", "kernel_size", "in_channels", "out_channels", "output_shape", "strides",
                   "padding", "data_format", "dilations", "bias"),
    "jax": ("op", "kernel_size", "in_channels", "out_channels", "strides", "padding", "rhs_dilation",
            "dimension_numbers", "transpose_kernel", "use_consistent_padding", "bias"),
    "onnx": ("op_type", "kernel_shape", "in_channels", "out_channels", "auto_pad", "dilations", "group",
             "output_padding", "output_shape", "pads", "strides", "behavior", "bias"),
}  # fmt: skip
_ONNX_ATTRIBUTES = ("auto_pad", "dilations", "group", "output_padding", "output_shape", "pads", "strides", "behavior")


def _fail(message: str) -> TconvError:
    return TconvError(f"tconv.{_FUNC}: {message}")


def _compat(framework: str):
    return importlib.import_module(f"tconv.compat.{framework}")


# --------------------------------------------------------------------------
# Sources: a description in the framework's own words -> geometry and channels
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    framework: str
    geometry: Geometry
    in_channels: int | None
    out_channels: int | None
    bias: bool
    to_canonical: Callable[[np.ndarray], np.ndarray]  # source kernel layout -> (C_in, C_out/g, *k)
    summary: str


def _nd_from_name(name: str, pattern: str, what: str) -> int:
    match = re.fullmatch(pattern, name or "")
    if not match:
        raise _fail(f"{what} must match {pattern.replace('([123])', '{1,2,3}')}; got {name!r}")
    return int(match.group(1))


def _sizes(name: str, value: object, nd: int, minimum: int = 1) -> tuple[int, ...]:
    return per_axis(_FUNC, name, tuple(value) if isinstance(value, list) else value, nd, minimum)


def _check_keys(desc: Mapping[str, Any], allowed: Iterable[str], framework: str) -> None:
    unknown = sorted(set(desc) - set(allowed) - _IGNORED)
    if unknown:
        raise _fail(f"unknown keys for a {framework} layer: {unknown}; allowed: {sorted(set(allowed))}")


def _opt_int(desc: Mapping[str, Any], key: str) -> int | None:
    value = desc.get(key)
    return None if value is None else per_axis(_FUNC, key, value, 1, 1)[0]


def _listify(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _source_torch(desc: Mapping[str, Any], input_size: object) -> _Source:
    _check_keys(desc, _KEYS["torch"], "torch")
    nd = _nd_from_name(desc.get("layer"), r"ConvTranspose([123])d", "layer")
    mode = desc.get("padding_mode", "zeros")
    if mode != "zeros":
        raise _fail(f"torch.nn.ConvTranspose{nd}d only supports padding_mode='zeros' (as PyTorch); got {mode!r}")
    n = _sizes("input_size", input_size, nd)
    k = _sizes("kernel_size", desc.get("kernel_size"), nd)
    geom = _compat("torch").geometry(
        n,
        k,
        desc.get("stride", 1),
        desc.get("padding", 0),
        desc.get("output_padding", 0),
        desc.get("groups", 1),
        desc.get("dilation", 1),
    )
    c_in, c_out = _opt_int(desc, "in_channels"), _opt_int(desc, "out_channels")
    return _Source("torch", geom, c_in, c_out, bool(desc.get("bias", True)), np.asarray, f"torch.nn.ConvTranspose{nd}d")


def _source_keras(desc: Mapping[str, Any], input_size: object) -> _Source:
    _check_keys(desc, _KEYS["keras"], "keras")
    nd = _nd_from_name(desc.get("layer"), r"Conv([123])DTranspose", "layer")
    if desc.get("groups", 1) != 1:
        raise _fail(f"keras Conv{nd}DTranspose has no groups; got groups={desc['groups']!r}")
    n = _sizes("input_size", input_size, nd)
    k = _sizes("kernel_size", desc.get("kernel_size"), nd)
    geom = _compat("keras").geometry(
        n,
        k,
        _listify(desc.get("strides", 1)),
        desc.get("padding", "valid"),
        _listify(desc.get("output_padding")),
        _listify(desc.get("dilation_rate", 1)),
    )
    c_in, c_out = _opt_int(desc, "in_channels"), _opt_int(desc, "filters")
    bias = bool(desc.get("use_bias", True))
    return _Source("keras", geom, c_in, c_out, bias, layouts.from_keras, f"keras.layers.Conv{nd}DTranspose")


def _tf_channels(desc: Mapping[str, Any], nd: int | None) -> tuple[int, tuple[int, ...], int | None, int | None]:
    """(nd, kernel size, C_in, C_out) from ``filters_shape`` ``(*k, out, in)`` or ``kernel_size`` + channels."""
    shape = desc.get("filters_shape")
    if shape is not None:
        shape = tuple(shape)
        nd = nd or len(shape) - 2
        if len(shape) != nd + 2:
            raise _fail(f"filters_shape must be (*kernel, out_channels, in_channels) with {nd} spatial dims; got {shape!r}")
        return nd, _sizes("filters_shape", shape[:nd], nd), shape[-1], shape[-2]
    kernel = desc.get("kernel_size")
    nd = nd or (len(kernel) if isinstance(kernel, (list, tuple)) else None)
    if nd is None:
        raise _fail("a tensorflow conv_transpose description needs filters_shape or a per-axis kernel_size to know its rank")
    return nd, _sizes("kernel_size", kernel, nd), _opt_int(desc, "in_channels"), _opt_int(desc, "out_channels")


def _source_tensorflow(desc: Mapping[str, Any], input_size: object) -> _Source:
    _check_keys(desc, _KEYS["tensorflow"], "tensorflow")
    op = desc.get("op")
    nd = None if op == "conv_transpose" else _nd_from_name(op, r"conv([123])d_transpose", "op")
    nd, k, c_in, c_out = _tf_channels(desc, nd)
    n = _sizes("input_size", input_size, nd)
    strides = _listify(desc.get("strides", 1))
    padding = desc.get("padding", "SAME")
    data_format, dilations = desc.get("data_format"), _listify(desc.get("dilations"))
    tf = _compat("tensorflow")
    output_shape = desc.get("output_shape")
    if output_shape is None:  # what users mean without one: SAME's n*s, else the shortest length TF accepts
        ranges = tf.output_shape_range(n, k, strides, padding, data_format, dilations)
        output_shape = [hi if padding == "SAME" else lo for lo, hi in ranges]
    geom = tf.geometry(n, k, output_shape, strides, padding, data_format, dilations)
    bias = bool(desc.get("bias", False))
    return _Source("tensorflow", geom, c_in, c_out, bias, layouts.from_tf, f"tf.nn.conv{nd}d_transpose")


def _jax_specs(dimension_numbers: object, nd: int) -> tuple[str, str, str]:
    if dimension_numbers is None:  # jax.lax.conv_transpose's defaults: TensorFlow's
        spatial = "HWD"[:nd] if nd > 1 else "H"
        return "N" + spatial + "C", spatial + "IO", "N" + spatial + "C"
    specs = dimension_numbers if isinstance(dimension_numbers, (list, tuple)) else ()
    if len(specs) != 3 or not all(isinstance(v, str) for v in specs):
        raise _fail(
            "dimension_numbers must be None or three spec strings such as ('NHWC', 'HWIO', 'NHWC'); "
            f"got {dimension_numbers!r}"
        )
    orders = {"".join(c for c in spec if c not in skip) for spec, skip in zip(specs, ("NC", "IO", "NC"))}
    if len(orders) != 1:  # then JAX's per-axis arguments follow the kernel's order, not the input's
        raise _fail(f"dimension_numbers must list the spatial dims in one order in all three specs; got {dimension_numbers!r}")
    return tuple(specs)


def _source_jax(desc: Mapping[str, Any], input_size: object) -> _Source:
    _check_keys(desc, _KEYS["jax"], "jax")
    if desc.get("op", "conv_transpose") != "conv_transpose":
        raise _fail(f"a jax description's op must be 'conv_transpose' (jax.lax.conv_transpose); got {desc.get('op')!r}")
    kernel = desc.get("kernel_size")
    if not isinstance(kernel, (list, tuple)):
        raise _fail(f"a jax description needs kernel_size as one int per spatial dim; got {kernel!r}")
    nd = len(kernel)
    n = _sizes("input_size", input_size, nd)
    strides = desc.get("strides", (1,) * nd)
    padding = desc.get("padding", "SAME")
    padding = [tuple(p) for p in padding] if isinstance(padding, (list, tuple)) else padding
    consistent = bool(desc.get("use_consistent_padding", False))
    geom = _compat("jax").geometry(n, tuple(kernel), tuple(strides), padding, desc.get("rhs_dilation"), consistent)
    lhs, rhs, _ = _jax_specs(desc.get("dimension_numbers"), nd)
    transpose = bool(desc.get("transpose_kernel", False))

    def to_canonical(w: np.ndarray) -> np.ndarray:
        return layouts.from_jax(w, rhs, transpose_kernel=transpose, lhs_spec=lhs)

    c_in, c_out = _opt_int(desc, "in_channels"), _opt_int(desc, "out_channels")
    return _Source("jax", geom, c_in, c_out, bool(desc.get("bias", False)), to_canonical, "jax.lax.conv_transpose")


def _source_onnx(desc: Mapping[str, Any], input_size: object) -> _Source:
    _check_keys(desc, _KEYS["onnx"], "onnx")
    if desc.get("op_type", "ConvTranspose") != "ConvTranspose":
        raise _fail(f"an onnx description's op_type must be 'ConvTranspose'; got {desc.get('op_type')!r}")
    kernel = desc.get("kernel_shape")
    if not isinstance(kernel, (list, tuple)):
        raise _fail(f"an onnx description needs kernel_shape (one int per spatial dim); got {kernel!r}")
    nd = len(kernel)
    attrs = {key: _listify(desc[key]) for key in _ONNX_ATTRIBUTES if key in desc}
    geom = _compat("onnx").geometry(_sizes("input_size", input_size, nd), tuple(kernel), **attrs)
    c_in, c_out = _opt_int(desc, "in_channels"), _opt_int(desc, "out_channels")
    return _Source("onnx", geom, c_in, c_out, bool(desc.get("bias", False)), layouts.from_onnx, "ONNX ConvTranspose")


_SOURCES = {
    "torch": _source_torch,
    "keras": _source_keras,
    "tensorflow": _source_tensorflow,
    "jax": _source_jax,
    "onnx": _source_onnx,
}


def _describe_live(layer: object) -> dict:
    """A live ``torch.nn.ConvTranspose*d``, Keras ``Conv*DTranspose`` or ONNX node as a description dict."""
    cls = type(layer).__name__
    module = type(layer).__module__
    if module.startswith("torch") and re.fullmatch(r"ConvTranspose[123]d", cls):
        desc = {key: getattr(layer, key) for key in _KEYS["torch"] if key not in ("layer", "bias")}
        return {"framework": "torch", "layer": cls, "bias": layer.bias is not None, **desc}
    if module.startswith("keras") and re.fullmatch(r"Conv[123]DTranspose", cls):
        config = layer.get_config()
        desc = {"framework": "keras", "layer": cls, **{k: v for k, v in config.items() if k not in _IGNORED}}
        kernel = getattr(layer, "kernel", None) if getattr(layer, "built", False) else None
        if kernel is not None:
            desc["in_channels"] = int(kernel.shape[-1])
        return desc
    if module.startswith("onnx") and cls == "NodeProto":
        from onnx import helper

        attrs = {a.name: helper.get_attribute_value(a) for a in layer.attribute}
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
        return {"framework": "onnx", "op_type": layer.op_type, "bias": len(layer.input) > 2, **attrs}
    raise TypeError(
        f"tconv.{_FUNC}: layer must be a dict, a torch.nn.ConvTranspose{{1,2,3}}d, a keras Conv{{1,2,3}}DTranspose "
        f"or an onnx NodeProto; got {cls}"
    )


# --------------------------------------------------------------------------
# The reverse parse: search the target's arguments for the source's window
# --------------------------------------------------------------------------


def _crop(want: Axis, got: Axis) -> tuple[int, int] | None:
    """(before, after) to crop from ``got``'s window to reach ``want``'s (negative: zeros to add).

    None when ``got`` misses an element of ``y_full`` that ``want`` holds: zeros can
    only stand in for positions outside the full result.
    """
    inner_lo, inner_hi = max(want.start, 0), min(want.start + want.length, want.full)
    if inner_lo < inner_hi and not (got.start <= inner_lo and inner_hi <= got.start + got.length):
        return None
    return want.start - got.start, got.start + got.length - want.start - want.length


def _cost(crop: tuple[int, int]) -> tuple[int, int, int]:
    """Exact first, then crops only (no zeros to add), then the fewest elements moved."""
    return (crop != (0, 0), min(crop) < 0, abs(crop[0]) + abs(crop[1]))


def _best(
    want: Axis, candidates: Iterable[tuple[Any, Callable[[], Axis]]], fallback: tuple[Any, Callable[[], Axis]] | None = None
) -> tuple[Any, tuple[int, int]] | None:
    """The candidate arguments whose axis (from the target's own geometry) is closest to ``want``; None if it refuses all."""
    best = None
    for args, axis_of in itertools.chain(candidates, [fallback] if fallback else []):
        try:
            got = axis_of()
        except TconvError:
            continue  # arguments the target refuses for this axis
        crop = _crop(want, got)
        if crop is None:
            continue
        if best is None or _cost(crop) < _cost(best[1]):
            best = (args, crop)
            if crop == (0, 0):
                break
    return best


def _total(choices: Sequence[tuple[Any, tuple[int, int]] | None]) -> tuple[float, ...]:
    if None in choices:  # an axis this option cannot express at all
        return (float("inf"),)
    costs = [_cost(c) for _, c in choices]
    return (max(c[0] for c in costs), max(c[1] for c in costs), sum(c[2] for c in costs))


def _residual(choices: Sequence[tuple[Any, tuple[int, int]]]) -> tuple[tuple[int, int], ...] | None:
    crops = tuple(c for _, c in choices)
    return None if all(c == (0, 0) for c in crops) else crops


def _axis(geom: Geometry) -> Axis:
    return geom.axes[0]


def _search_torch(a: Axis) -> tuple[Any, tuple[int, int]]:
    torch = _compat("torch")
    return _best(a, (
        ((p, op), lambda p=p, op=op: _axis(torch.geometry(a.size, a.kernel, a.stride, p, op, 1, a.dilation)))
        for p in range(max(a.start, 0), -1, -1) for op in range(max(a.stride, a.dilation))
    ))  # fmt: skip


def _search_onnx(a: Axis) -> tuple[Any, tuple[int, int]]:
    onnx = _compat("onnx")

    def axis_of(begin: int, end: int, op: int) -> Axis:
        kw = dict(strides=[a.stride], dilations=[a.dilation], pads=[begin, end], output_padding=[op])
        got = _axis(onnx.geometry(a.size, a.kernel, **kw))
        if _axis(onnx.geometry(a.size, a.kernel, behavior="onnxruntime", **kw)) != got:
            raise TconvError("ONNX Runtime reads these attributes differently")  # only portable nodes
        return got

    begin = max(a.start, 0)
    return _best(a, (
        ((begin, end, op), lambda end=end, op=op: axis_of(begin, end, op))
        for op in range(a.stride) for end in [max(0, a.full + op - begin - a.length)]
    ), fallback=((0, 0, 0), lambda: axis_of(0, 0, 0)))  # fmt: skip


def _search_tensorflow(a: Axis, padding: str) -> tuple[Any, tuple[int, int]]:
    tf = _compat("tensorflow")
    n, k, s, d = a.size, a.kernel, a.stride, a.dilation
    if padding == "EXPLICIT":
        begin = max(a.start, 0)

        def explicit(end: int, length: int) -> Axis:  # explicit pads exist for 2-D only: a dummy second axis
            pads = [[0, 0], [begin, end], [0, 0], [0, 0]]
            return _axis(tf.geometry((n, 1), (k, 1), (length, 1), (s, 1), pads, None, (d, 1)))

        candidates = (
            (((begin, end), length), lambda end=end, length=length: explicit(end, length))
            for end in range(0, max(1, a.full - begin - a.length + 1) + 1)
            for length in sorted(range(a.full - begin - end, a.full - begin - end + s), key=lambda v: abs(v - a.length))
        )
    else:
        lengths = range((n - 1) * s + 1, n * s + 1) if padding == "SAME" else range(a.full, a.full + s)
        candidates = (
            (length, lambda length=length: _axis(tf.geometry(n, k, [length], s, padding, None, d)))
            for length in sorted(lengths, key=lambda v: abs(v - a.length))
        )
    return _best(a, candidates)


def _search_keras(a: Axis, padding: str, output_padding: str) -> tuple[Any, tuple[int, int]]:
    keras = _compat("keras")
    ops = [None] if output_padding == "None" else range(a.stride)
    return _best(
        a, ((op, lambda op=op: _axis(keras.geometry(a.size, a.kernel, a.stride, padding, op, a.dilation))) for op in ops)
    )


def _jax_pair(a: Axis) -> tuple[int, int]:
    """The pads of the zero-inserted input giving ``a``'s window: ``start = k_eff - 1 - pad_a``."""
    pad_a = a.k_eff - 1 - a.start
    return pad_a, a.length + a.k_eff - 2 - (a.size - 1) * a.stride - pad_a


def _jax_axis(a: Axis, padding: Any) -> Axis:
    """The axis ``jax.lax.conv_transpose`` computes for ``a``'s sizes and this padding."""
    pads = padding if isinstance(padding, str) else [padding]
    return _axis(_compat("jax").geometry((a.size,), (a.kernel,), (a.stride,), pads, (a.dilation,)))


def _search_jax(a: Axis, options: Sequence[Any]) -> tuple[Any, tuple[int, int]]:
    return _best(a, ((p, lambda p=p: _jax_axis(a, p)) for p in options))


# --------------------------------------------------------------------------
# Targets: arguments, code and weight layout
# --------------------------------------------------------------------------


def _tup(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _need(value: int | None, what: str, target: str) -> int:
    if value is None:
        raise _fail(f"{target} needs {what}: add it to the layer description (or pass weight=...)")
    return value


def _kwargs(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def _residual_text(residual: tuple[tuple[int, int], ...]) -> str:
    parts = []
    for ax, (before, after) in enumerate(residual):
        for where, amount in (("start", before), ("end", after)):
            if amount:
                parts.append(f"{'crop' if amount > 0 else 'zero-pad'} {abs(amount)} at the {where} of spatial axis {ax}")
    return "; ".join(parts)


@dataclass(frozen=True)
class _Target:
    arguments: dict
    residual: tuple[tuple[int, int], ...] | None
    code: str
    from_canonical: Callable[[np.ndarray], np.ndarray]
    channels_last: bool
    bias_after: bool


def _bias_after(src: _Source, residual: tuple[tuple[int, int], ...] | None) -> bool:
    """Whether the bias must be added after the residual: zeros padded in stand for bias-only outputs."""
    return src.bias and residual is not None and min(min(pair) for pair in residual) < 0


def _bias_text(target: str) -> str:
    return (
        "# the bias is added after the residual, so zero-padded positions get it as in the source "
        f"({target} layer built without it)"
    )


def _target_torch(src: _Source, nd: int) -> _Target:
    geom = src.geometry
    choices = [_search_torch(a) for a in geom.axes]
    residual = _residual(choices)
    late = _bias_after(src, residual)
    args = dict(
        in_channels=_need(src.in_channels, "in_channels", "torch"),
        out_channels=_need(src.out_channels, "out_channels", "torch"),
        kernel_size=geom.kernel,
        stride=geom.stride,
        padding=_tup(p for (p, _), _ in choices),
        output_padding=_tup(op for (_, op), _ in choices),
        groups=geom.groups,
        bias=src.bias and not late,
        dilation=geom.dilation,
    )
    lines = [f"layer = torch.nn.ConvTranspose{nd}d({_kwargs(args)})", "y = layer(x)  # x: (N, C_in, *spatial)"]
    if residual:
        pads = [-v for before, after in reversed(residual) for v in (before, after)]
        lines += [f"# residual: no single ConvTranspose{nd}d has this window: {_residual_text(residual)}",
                  f"y = torch.nn.functional.pad(y, {tuple(pads)!r})  # negative pads crop"]  # fmt: skip
    if late:
        lines += [_bias_text("torch"), f"y = y + bias.view(-1{', 1' * nd})"]
    return _Target(args, residual, "\n".join(lines), np.asarray, False, late)


def _target_onnx(src: _Source, nd: int) -> _Target:
    geom = src.geometry
    choices = [_search_onnx(a) for a in geom.axes]
    args = dict(
        kernel_shape=list(geom.kernel),
        strides=list(geom.stride),
        dilations=list(geom.dilation),
        pads=[b for (b, _, _), _ in choices] + [e for (_, e, _), _ in choices],
        output_padding=[op for (_, _, op), _ in choices],
        group=geom.groups,
    )
    residual = _residual(choices)
    late = _bias_after(src, residual)
    inputs = ["X", "W", "B"] if src.bias and not late else ["X", "W"]
    lines = [f"node = onnx.helper.make_node('ConvTranspose', {inputs!r}, ['Y'], {_kwargs(args)})"]
    if residual:
        lines.append(
            f"# residual: no single ConvTranspose node has this window: {_residual_text(residual)} "
            "(a Pad node; negative pads crop)"
        )
    if late:
        lines.append(_bias_text("onnx") + ": an Add node with B reshaped to (C_out" + ", 1" * nd + ")")
    return _Target(args, residual, "\n".join(lines), np.asarray, False, late)


def _pick(options: dict[Any, list]) -> tuple[Any, list]:
    key = min(options, key=lambda o: _total(options[o]))
    return key, options[key]


def _target_tensorflow(src: _Source, nd: int) -> _Target:
    geom = src.geometry
    modes = ["SAME", "VALID"] + (["EXPLICIT"] if nd == 2 else [])
    mode, choices = _pick({m: [_search_tensorflow(a, m) for a in geom.axes] for m in modes})
    c_out = _need(src.out_channels, "out_channels", "tensorflow")
    if mode == "EXPLICIT":
        lengths = [length for (_, length), _ in choices]
        padding: Any = [[0, 0]] + [list(pads) for (pads, _), _ in choices] + [[0, 0]]
    else:
        lengths, padding = [length for length, _ in choices], mode
    fmt = {1: "NWC", 2: "NHWC", 3: "NDHWC"}[nd]
    args = dict(
        output_shape=[1] + lengths + [c_out],
        strides=list(geom.stride),
        padding=padding,
        data_format=fmt,
        dilations=list(geom.dilation),
    )
    residual = _residual(choices)
    shown = {**args, "output_shape": f"[tf.shape(x)[0], {', '.join(map(str, lengths))}, {c_out}]"}
    call = ", ".join(f"{k}={v}" if k == "output_shape" else f"{k}={v!r}" for k, v in shown.items())
    late = _bias_after(src, residual)
    lines = [f"y = tf.nn.conv{nd}d_transpose(x, filters, {call})  # x: {fmt}, filters: (*k, C_out, C_in)"]
    if src.bias and not late:
        lines.append("y = tf.nn.bias_add(y, bias)")
    if residual:
        lines += [f"# residual: no single tf.nn.conv{nd}d_transpose has this window: {_residual_text(residual)}",
                  f"y = {_slice_code('y', residual, 'tf.pad')}"]  # fmt: skip
    if late:
        lines += [_bias_text("tensorflow"), "y = tf.nn.bias_add(y, bias)"]
    return _Target(args, residual, "\n".join(lines), lambda w: layouts.to_tf(layouts.ungroup(w, geom.groups)), True, late)


def _slice_code(name: str, residual: tuple[tuple[int, int], ...], pad_fn: str) -> str:
    """Channels-last code: zero-pad (``pad_fn``) where the residual is negative, then slice off the crops."""
    pads = [[0, 0]] + [[max(0, -b), max(0, -a)] for b, a in residual] + [[0, 0]]
    expr = name if all(p == [0, 0] for p in pads) else f"{pad_fn}({name}, {pads})"
    slices = ", ".join(f"{max(0, b)}:{-a if a > 0 else ''}" for b, a in residual)
    return expr if all(b <= 0 and a <= 0 for b, a in residual) else f"{expr}[:, {slices}, :]"


def _target_keras(src: _Source, nd: int) -> _Target:
    geom = src.geometry
    options = {(p, o): [_search_keras(a, p, o) for a in geom.axes] for p in ("same", "valid") for o in ("None", "ints")}
    (padding, op_kind), choices = _pick(options)
    output_padding = None if op_kind == "None" else _tup(op for op, _ in choices)
    residual = _residual(choices)
    late = _bias_after(src, residual)
    filters = _need(src.out_channels, "out_channels (filters)", "keras")
    args = dict(
        filters=filters,
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
            f"y = keras.ops.conv_transpose(x, kernel, {_kwargs(ops_args)})  "
            "# keras.layers refuses strides > 1 with dilation_rate > 1; kernel: (*k, filters, C_in)"
        ]
        if src.bias and not late:
            lines.append("y = y + bias")
    else:
        lines = [f"layer = keras.layers.Conv{nd}DTranspose({_kwargs(args)})", "y = layer(x)  # x: channels_last"]
    if residual:
        lines.append(f"# residual: no single Conv{nd}DTranspose has this window: {_residual_text(residual)}")
        pads = tuple((max(0, -b), max(0, -a)) for b, a in residual)
        crops = tuple((max(0, b), max(0, a)) for b, a in residual)
        if any(map(any, pads)):
            lines.append(f"y = keras.layers.ZeroPadding{nd}D({pads if nd > 1 else pads[0]!r})(y)")
        if any(map(any, crops)):
            lines.append(f"y = keras.layers.Cropping{nd}D({crops if nd > 1 else crops[0]!r})(y)")
    if late:
        lines += [_bias_text("keras"), "y = y + bias"]
    return _Target(args, residual, "\n".join(lines), lambda w: layouts.to_keras(layouts.ungroup(w, geom.groups)), True, late)


def _target_jax(src: _Source, nd: int) -> _Target:
    geom = src.geometry
    specs = _jax_specs(None, nd)
    padding: Any = None
    for mode in ("SAME", "VALID"):  # a string when it gives every axis's window, else one pair per axis
        choices = [_search_jax(a, [mode]) for a in geom.axes]
        if None not in choices and _residual(choices) is None:
            padding = mode
            break
    if padding is None:  # VALID (written as its pair) only where JAX refuses the exact pair
        choices = [_search_jax(a, [_jax_pair(a), "VALID"]) for a in geom.axes]
        padding = [list(_jax_pair(_jax_axis(a, p)) if isinstance(p, str) else p) for a, (p, _) in zip(geom.axes, choices)]
    args = dict(
        strides=list(geom.stride),
        padding=padding,
        rhs_dilation=list(geom.dilation),
        dimension_numbers=tuple(specs),
        transpose_kernel=True,
    )
    residual = _residual(choices)
    late = _bias_after(src, residual)
    lines = [f"y = jax.lax.conv_transpose(x, kernel, {_kwargs(args)})  # x: {specs[0]}, kernel: (*k, C_out, C_in)"]
    if src.bias and not late:
        lines.append("y = y + bias")
    if residual:
        config = [(0, 0, 0)] + [(-b, -a, 0) for b, a in residual] + [(0, 0, 0)]
        lines += [f"# residual: no single conv_transpose has this window: {_residual_text(residual)}",
                  f"y = jax.lax.pad(y, jnp.zeros((), y.dtype), {config!r})  # negative pads crop"]  # fmt: skip
    if late:
        lines += [_bias_text("jax"), "y = y + bias"]
    to_target = lambda w: layouts.to_jax(layouts.ungroup(w, geom.groups), specs[1], transpose_kernel=True)  # noqa: E731
    return _Target(args, residual, "\n".join(lines), to_target, True, late)



_TARGETS = {
    "torch": _target_torch,
    "tensorflow": _target_tensorflow,
    "keras": _target_keras,
    "jax": _target_jax,
    "onnx": _target_onnx,
}


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """A layer ported to another framework.

    Attributes
    ----------
    source, target : framework names
    geometry : the :class:`~tconv.geometry.Geometry` both compute
    arguments : dict, the target's constructor or call arguments
    residual : ``None``, or one ``(crop_before, crop_after)`` per spatial axis to apply to
        the target's output (negative: zeros to add) when no single target layer has
        the source's window
    code : str, ready-to-paste lines for the target, residual included
    bias_after : bool, whether the target layer is built without its bias and the code adds
        it after the residual (when the residual zero-pads: those outputs are bias only)
    """

    source: str
    target: str
    geometry: Geometry
    arguments: dict
    residual: tuple[tuple[int, int], ...] | None
    code: str
    groups: int
    bias: bool
    channels_last: bool
    bias_after: bool
    _to_canonical: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    _from_canonical: Callable[[np.ndarray], np.ndarray] = field(repr=False)

    def convert_weights(self, weight: ArrayLike, bias: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The source's kernel (and bias) in the target's layout.

        Grouped kernels become block-diagonal where the target has no groups.
        """
        w = np.asarray(weight)
        if w.ndim != self.geometry.ndim + 2:
            raise TconvError(
                f"tconv.Conversion.convert_weights: weight must have {self.geometry.ndim + 2} dims; got shape {w.shape}"
            )
        out = np.array(self._from_canonical(self._to_canonical(w)), order="C")  # a fresh array, positive strides
        return out, None if bias is None else np.array(bias, copy=True)

    def apply_residual(self, y: ArrayLike, bias: ArrayLike | None = None) -> np.ndarray:
        """The target's output (in its default data layout) cropped or zero-padded by :attr:`residual`.

        When :attr:`bias_after` is set the target layer was built without its bias
        (zeros padded in stand for outputs that are bias only): pass ``bias`` to add it.
        """
        from .algorithms.common import window

        y = np.asarray(y)
        if self.residual is None:
            return y
        moved = np.moveaxis(y, -1, 1) if self.channels_last else y
        out = window(moved, tuple(b for b, _ in self.residual), self.geometry.out_size)
        if self.bias_after and bias is not None:
            out = out + np.asarray(bias).reshape((-1,) + (1,) * self.geometry.ndim)
        return np.moveaxis(out, 1, -1) if self.channels_last else out


def convert(layer: Any, to: str, input_size: int | Sequence[int], *, weight: ArrayLike | None = None) -> Conversion:
    """Port a transposed-conv layer to another framework: arguments, code, weights and any residual crop.

    Parameters
    ----------
    layer : dict, or a live ``torch.nn.ConvTranspose*d`` / Keras ``Conv*DTranspose`` / ``onnx.NodeProto``
        The source in its own framework's words plus ``"framework"``: ``torch`` and
        ``keras`` name a ``"layer"`` class with its constructor arguments;
        ``tensorflow`` (``"op": "conv2d_transpose"``, ...) gives ``filters_shape``
        ``(*k, out, in)`` or ``kernel_size`` and channels, and optionally
        ``output_shape`` (default: ``n*s`` for SAME, the full result otherwise);
        ``jax`` (``"op": "conv_transpose"``) gives ``kernel_size`` and
        ``jax.lax.conv_transpose``'s arguments; ``onnx`` gives the node's
        attributes. ``in_channels`` / ``out_channels`` are needed where the
        source's arguments lack them and the target needs them.
    to : one of :data:`FRAMEWORKS`
    input_size : int or one int per spatial dim, the input's spatial size
    weight : array_like, optional
        The source's kernel in the source's layout: supplies the channels.

    Returns
    -------
    Conversion

    Examples
    --------
    >>> keras_layer = {"framework": "keras", "layer": "Conv2DTranspose", "filters": 64, "kernel_size": 3,
    ...                "strides": 2, "padding": "same", "in_channels": 128}
    >>> c = convert(keras_layer, "torch", (32, 32))
    >>> c.arguments["padding"], c.arguments["output_padding"], c.residual
    ((0, 0), (0, 0), ((0, 1), (0, 1)))
    >>> print(c.code)
    # keras.layers.Conv2DTranspose -> torch, input (32, 32) -> output (64, 64)
    layer = torch.nn.ConvTranspose2d(in_channels=128, out_channels=64, kernel_size=(3, 3), stride=(2, 2), padding=(0, 0), output_padding=(0, 0), groups=1, bias=True, dilation=(1, 1))
    y = layer(x)  # x: (N, C_in, *spatial)
    # residual: no single ConvTranspose2d has this window: crop 1 at the end of spatial axis 0; crop 1 at the end of spatial axis 1
    y = torch.nn.functional.pad(y, (0, -1, 0, -1))  # negative pads crop
    """
    if not isinstance(layer, Mapping):
        layer = _describe_live(layer)
    framework = layer.get("framework")
    if framework not in _SOURCES:
        raise _fail(f"layer['framework'] must be one of {', '.join(map(repr, FRAMEWORKS))}; got {framework!r}")
    if to not in _TARGETS:
        raise _fail(f"to must be one of {', '.join(map(repr, FRAMEWORKS))}; got {to!r}")
    desc = dict(layer)
    src = _SOURCES[framework](desc, input_size)
    if weight is not None:
        canonical = src.to_canonical(np.asarray(weight))
        src = _Source(src.framework, src.geometry, canonical.shape[0], canonical.shape[1] * src.geometry.groups,
                      src.bias, src.to_canonical, src.summary)  # fmt: skip
    target = _TARGETS[to](src, src.geometry.ndim)
    header = f"# {src.summary} -> {to}, input {src.geometry.in_size} -> output {src.geometry.out_size}"
    return Conversion(framework, to, src.geometry, target.arguments, target.residual, header + "\n" + target.code,
                      src.geometry.groups, src.bias, target.channels_last, target.bias_after, src.to_canonical,
                      target.from_canonical)  # fmt: skip


def loads(text: str) -> dict:
    """A layer description from JSON text (the CLI's input)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"the layer description is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _fail(f"the layer description must be a JSON object; got {type(value).__name__}")
    return value
