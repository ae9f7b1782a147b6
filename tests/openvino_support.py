"""The real OpenVINO runtime (CPU plugin, float32) as an oracle: one node built with ``openvino.opset1``."""

from __future__ import annotations

import numpy as np

#: float32 inference: on CPUs with AMX the plugin's default precision is bfloat16
CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


def compile_node(x_shape, w: np.ndarray, arguments: dict, grouped: bool | None = None):
    """A compiled model of one ``(Group)ConvolutionBackpropData`` node; ``grouped`` defaults to ``w``'s rank."""
    import openvino as ov
    import openvino.opset1 as ops

    grouped = len(w.shape) == len(x_shape) + 1 if grouped is None else grouped
    data = ops.parameter(list(x_shape), ov.Type.f32, name="data")
    kw = {key: v for key, v in arguments.items() if key != "behavior"}  # behavior: tconv's reading, not an attribute
    if kw.get("output_shape") is not None:
        kw["output_shape"] = ops.constant(np.asarray(kw["output_shape"], np.int64).ravel())
    else:
        kw.pop("output_shape", None)
    fn = ops.group_convolution_backprop_data if grouped else ops.convolution_backprop_data
    node = fn(data, ops.constant(np.asarray(w, np.float32)), **kw)
    return ov.Core().compile_model(ov.Model([node], [data], "oracle"), "CPU", CONFIG)


def run(arguments: dict, x, w, b=None) -> np.ndarray:
    """The node with the converter target's (or a description's) ``arguments`` on ``x`` ``(N, C_in, *n)``.

    ``w`` is OpenVINO's filters (``(C_in, C_out, *k)``, or ``(G, C_in/G, C_out/G, *k)``
    for the grouped node); ``b`` ``(C_out,)`` is added after the node (OpenVINO has no bias input).
    """
    x = np.asarray(x, np.float32)
    y = compile_node(x.shape, np.asarray(w), arguments)(x)[0]
    return y if b is None else y + np.asarray(b, np.float32).reshape((1, -1) + (1,) * (x.ndim - 2))


def run_code(code: str, x, filters, bias=None) -> np.ndarray:
    """Run a converter target's code (it builds ``model``, an ``ov.Model``) on ``x``."""
    import openvino as ov
    import openvino.opset12 as ops

    namespace = {"ov": ov, "ops": ops, "np": np, "filters": np.asarray(filters, np.float32),
                 "bias": None if bias is None else np.asarray(bias, np.float32)}  # fmt: skip
    exec(code, namespace)
    return ov.Core().compile_model(namespace["model"], "CPU", CONFIG)(np.asarray(x, np.float32))[0]
