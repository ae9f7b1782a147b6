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


def subgraph_model(control: str = "Loop") -> onnx.ModelProto:
    """ConvTranspose ``top`` (k=3, s=2) in the main graph, then an ``If`` or a ``Loop`` whose body holds ConvTranspose ``inner``.

    The body declares its input's shape and holds its own weight initializer
    ``W2`` (k=2, s=2); for ``If`` both branches are the same body.
    """
    w1 = onnx.numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "W1")
    w2 = onnx.numpy_helper.from_array(np.ones((1, 1, 2, 2), np.float32), "W2")
    conv = helper.make_node("ConvTranspose", ["H", "W2"], ["Z"], name="inner", strides=[2, 2])
    z = helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)
    if control == "If":
        body = helper.make_graph([conv], "body", [], [z], [w2])
        control_node = helper.make_node("If", ["C"], ["Y"], name="control", then_branch=body, else_branch=body)
        extra_inputs = [helper.make_tensor_value_info("C", TensorProto.BOOL, [])]
    else:
        body = helper.make_graph(
            [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["H_in"], ["H"]), conv],
            "body",
            [
                helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                helper.make_tensor_value_info("H_in", TensorProto.FLOAT, [1, 1, 9, 9]),
            ],
            [
                helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                helper.make_tensor_value_info("H_carried", TensorProto.FLOAT, [1, 1, 9, 9]),
                z,
            ],
            [w2],
        )
        body.node.append(helper.make_node("Identity", ["H"], ["H_carried"]))
        control_node = helper.make_node("Loop", ["M", "C", "H0"], ["H_last", "Y"], name="control", body=body)
        extra_inputs = [
            helper.make_tensor_value_info("M", TensorProto.INT64, []),
            helper.make_tensor_value_info("C", TensorProto.BOOL, []),
        ]
    top_out = "H" if control == "If" else "H0"
    nodes = [helper.make_node("ConvTranspose", ["X", "W1"], [top_out], name="top", strides=[2, 2]), control_node]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 4, 4])] + extra_inputs,
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [w1],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)
