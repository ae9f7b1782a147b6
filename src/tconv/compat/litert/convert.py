"""LiteRT's converter hooks (:class:`tconv.compat.porting.Framework`): the ``TRANSPOSE_CONV`` op.

A description gives the op's options (``padding``, ``stride_h``,
``stride_w``), its ``output_shape`` (default: ``n*s`` for SAME, the full
result for VALID) and the kernel as ``weights_shape`` ``(C_out, kH, kW, C_in)``
(or ``kernel_size`` and channels). The op is 2-D only. As a target it takes
any 2-D layer: a dilated kernel becomes a larger one with zeros between the
taps, a grouped one a block-diagonal one, and ``output_shape`` is searched per
axis under SAME and VALID (LiteRT reads them as TensorFlow does, so the search
is TensorFlow's). The code builds the op through TensorFlow's TFLite converter.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import fail
from ...geometry import Axis
from ...normalise import per_axis
from .. import layouts, porting
from ..porting import FUNC, Choice, Source, Target
from ..tensorflow import convert as tf_port
from . import PADDINGS, output_shape_range_of
from . import geometry as litert_geometry

__all__ = ["KEYS", "NAME", "describe", "dilate", "search", "source", "target"]

NAME = "litert"
#: what `tconv vectors` may write for it: the op runs float32 (or quantized) tensors, and a batch of at least one
DTYPES = ("float32",)
EMPTY_BATCH = False
KEYS = ("op", "weights_shape", "kernel_size", "in_channels", "out_channels", "output_shape", "padding", "stride_h",
        "stride_w", "bias")  # fmt: skip


describe = porting.no_layer_object


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    porting.check_op(desc, "op", "TRANSPOSE_CONV", NAME)
    shape = desc.get("weights_shape")
    if shape is not None:
        if len(shape) != 4:
            raise fail(FUNC, f"weights_shape must be (C_out, kH, kW, C_in); got {shape!r}")
        c_out, kh, kw, c_in = per_axis(FUNC, "weights_shape", shape, 4, 1)
        k: tuple[int, ...] = (kh, kw)
    else:
        if porting.rank(desc, "kernel_size", NAME) != 2:
            raise fail(FUNC, f"LiteRT's TRANSPOSE_CONV is 2-D: kernel_size must be (kH, kW); got {desc['kernel_size']!r}")
        k = per_axis(FUNC, "kernel_size", desc["kernel_size"], 2, 1)
        c_in, c_out = porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels")
    n = per_axis(FUNC, "input_size", input_size, 2, 1)
    padding = desc.get("padding", "SAME")
    strides = desc.get("stride_h", 1), desc.get("stride_w", 1)
    output_shape = desc.get("output_shape")
    if output_shape is None:  # what users mean without one: SAME's n*s, else the full result
        ranges = output_shape_range_of(n, k, padding, *strides)
        output_shape = [hi if padding == "SAME" else lo for lo, hi in ranges]
    geom = litert_geometry(n, k, output_shape, padding, *strides)
    return Source(NAME, geom, c_in, c_out, bool(desc.get("bias", False)), layouts.from_ohwi, "LiteRT TRANSPOSE_CONV")


def search(a: Axis, option: Any) -> Choice | None:
    """``output_shape``'s entry for ``a`` under the padding ``option``, the dilated kernel spelled out as taps."""
    return tf_port.search(Axis(a.size, a.k_eff, a.stride, 1, a.start, a.length), option)


def dilate(weight: np.ndarray, dilation: tuple[int, ...]) -> np.ndarray:
    """``(C_in, C_out, *k)`` dilated by ``dilation`` as an undilated kernel: zeros between the taps."""
    k = weight.shape[2:]
    out = np.zeros(weight.shape[:2] + tuple(d * (ki - 1) + 1 for ki, d in zip(k, dilation)), weight.dtype)
    out[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in dilation)] = weight
    return out


def target(src: Source) -> Target:
    geom = src.geometry
    if geom.ndim != 2:
        raise fail(FUNC, f"LiteRT's TRANSPOSE_CONV is 2-D only; {src.summary} has {geom.ndim} spatial dims")
    padding, choices = porting.pick({p: [search(a, p) for a in geom.axes] for p in PADDINGS})
    c_in = porting.need(src.in_channels, "in_channels", NAME)
    c_out = porting.need(src.out_channels, "out_channels", NAME)
    lengths = [length for length, _ in choices]
    args = dict(output_shape=[1] + lengths + [c_out], padding=padding, stride_h=geom.stride[0], stride_w=geom.stride[1])
    rest = porting.residual(choices)
    late = porting.bias_after(src, rest)
    k = [a.k_eff for a in geom.axes]
    spec = f"[{', '.join(map(str, (1,) + geom.in_size + (c_in,)))}]"
    lines = [
        f"# LiteRT TRANSPOSE_CONV {porting.kwargs_text(args)}; weights (C_out, {k[0]}, {k[1]}, C_in), input NHWC",
        "# made by TensorFlow's TFLite converter (which fuses the bias add into the op):",
        "def layer(x):",
        f"    y = tf.nn.conv2d_transpose(x, np.transpose(weights, (1, 2, 0, 3)), {args['output_shape']}, "
        f"strides={list(geom.stride)}, padding={padding!r})",
        "    return tf.nn.bias_add(y, bias)" if src.bias and not late else "    return y",
        f"f = tf.function(layer, input_signature=[tf.TensorSpec({spec}, tf.float32)])",
        "tflite_model = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()",
        "interpreter = ai_edge_litert.interpreter.Interpreter(model_content=tflite_model)",
        "interpreter.allocate_tensors()",
        "interpreter.set_tensor(interpreter.get_input_details()[0]['index'], x)",
        "interpreter.invoke()",
        "y = interpreter.get_tensor(interpreter.get_output_details()[0]['index'])",
    ]
    if rest:
        lines += [f"# residual: no single TRANSPOSE_CONV has this window: {porting.residual_text(rest)}",
                  f"y = {porting.slice_code('y', rest, 'np.pad')}"]  # fmt: skip
    if late:
        lines += [porting.bias_text(NAME), "y = y + bias"]
    dilation = geom.dilation

    def to_target(w: np.ndarray) -> np.ndarray:
        return layouts.to_ohwi(dilate(layouts.ungroup(w, geom.groups), dilation))

    return Target(args, rest, "\n".join(lines), to_target, True, late)
