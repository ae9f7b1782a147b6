"""The real LiteRT interpreter as an oracle: a TRANSPOSE_CONV model made by TensorFlow's TFLite converter."""

from __future__ import annotations

import functools
import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@functools.lru_cache(maxsize=64)
def _model(x_shape: tuple, weights: bytes, w_shape: tuple, bias: bytes | None, arguments: str) -> bytes:
    """The ``.tflite`` flatbuffer of ``tf.nn.conv2d_transpose`` (+ bias) for one geometry and one set of weights."""
    import tensorflow as tf

    args = json.loads(arguments)
    w = np.frombuffer(weights, np.float32).reshape(w_shape)  # (C_out, kH, kW, C_in)
    b = None if bias is None else np.frombuffer(bias, np.float32)
    shape = [x_shape[0]] + list(args["output_shape"][1:])

    def layer(x):
        y = tf.nn.conv2d_transpose(x, np.transpose(w, (1, 2, 0, 3)), shape, strides=[args.get("stride_h", 1),
                                   args.get("stride_w", 1)], padding=args.get("padding", "SAME"))  # fmt: skip
        return y if b is None else tf.nn.bias_add(y, b)

    f = tf.function(layer, input_signature=[tf.TensorSpec(list(x_shape), tf.float32)])
    return tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()


def interpreter(model: bytes, delegate: bool = True):
    """LiteRT's interpreter, with its default XNNPACK delegate or the builtin kernels only."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=model, experimental_op_resolver_type=kind)
    it.allocate_tensors()
    return it


def ops(it) -> list[str]:
    return [op["op_name"] for op in it._get_ops_details()]


def run(arguments: dict, x, w, b=None, *, delegate: bool = True) -> np.ndarray:
    """``TRANSPOSE_CONV`` with ``arguments`` (``output_shape``, ``padding``, ``stride_h``, ``stride_w``).

    ``x`` is NHWC, ``w`` LiteRT's weights ``(C_out, kH, kW, C_in)``, ``b`` ``(C_out,)``;
    ``output_shape``'s batch is taken from ``x``.
    """
    x = np.ascontiguousarray(x, np.float32)
    w = np.ascontiguousarray(w, np.float32)
    bias = None if b is None else np.ascontiguousarray(b, np.float32).tobytes()
    clean = {key: (list(map(int, v)) if key == "output_shape" else v) for key, v in arguments.items()}
    it = interpreter(_model(x.shape, w.tobytes(), w.shape, bias, json.dumps(clean, sort_keys=True)), delegate)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])
