"""Small ONNX models built with onnx.helper (no downloads), and the two ONNX runtimes as oracles."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 22


def convtranspose_model(
    x_shape, w_shape, *, bias: bool = False, static_weight: np.ndarray | None = None, name: str = "up", **attrs
) -> onnx.ModelProto:
    """One ConvTranspose node ``Y = ConvTranspose(X, W[, B])``; ``W`` an initializer when ``static_weight`` is given."""
    inputs = ["X", "W"] + (["B"] if bias else [])
    node = helper.make_node("ConvTranspose", inputs, ["Y"], name=name, **attrs)
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape))]
    initializers = []
    if static_weight is None:
        graph_inputs.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, list(w_shape)))
    else:
        initializers.append(onnx.numpy_helper.from_array(static_weight.astype(np.float32), "W"))
    if bias:
        graph_inputs.append(helper.make_tensor_value_info("B", TensorProto.FLOAT, [w_shape[1] * attrs.get("group", 1)]))
    graph = helper.make_graph(
        [node], "g", graph_inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], initializers
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)


def run_onnxruntime(model: onnx.ModelProto, feeds: dict) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def run_reference(model: onnx.ModelProto, feeds: dict) -> np.ndarray:
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, feeds)[0]
