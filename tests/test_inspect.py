"""tconv inspect: ONNX models built with onnx.helper, checked against ONNX Runtime and PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper  # noqa: E402
from onnx_support import OPSET, convtranspose_model, run_onnxruntime, subgraph_model  # noqa: E402
from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.cli import main  # noqa: E402
from tconv.compat.onnx import graph as onnx_graph  # noqa: E402
from tconv.inspect import format_reports, inspect_model  # noqa: E402


def _save(tmp_path, model, name="model.onnx") -> str:
    path = tmp_path / name
    onnx.save(model, str(path))
    return str(path)


def _static(x_shape, w_shape, seed=0, **attrs):
    weight = np.random.default_rng(seed).standard_normal(w_shape).astype(np.float32)
    return convtranspose_model(x_shape, w_shape, static_weight=weight, **attrs), weight


@pytest.mark.parametrize(
    "x_shape, w_shape, attrs",
    [
        ([1, 3, 5, 6], [3, 2, 3, 3], dict(auto_pad="SAME_UPPER", strides=[2, 2])),
        ([1, 3, 5, 6], [3, 2, 4, 4], dict(pads=[1, 1, 1, 1], strides=[2, 2])),
        ([1, 3, 5, 6], [3, 2, 3, 3], dict(pads=[0, 1, 2, 1], strides=[2, 3], output_padding=[1, 0])),
        ([1, 2, 7], [2, 4, 5], dict(auto_pad="SAME_LOWER", strides=[2], dilations=[2])),
        ([1, 2, 7], [2, 3, 3], dict(output_shape=[15], strides=[2])),
        ([1, 4, 6], [4, 1, 3], dict(group=2, auto_pad="VALID", strides=[3])),
    ],
)
def test_pytorch_equivalent_runs_to_onnxruntime_numbers(tmp_path, x_shape, w_shape, attrs):
    """The PyTorch arguments plus the residual crop give ONNX Runtime's output on the same weights."""
    torch = pytest.importorskip("torch")
    model, weight = _static(x_shape, w_shape, **attrs)
    (report,) = inspect_model(_save(tmp_path, model))
    assert report.static and report.error is None
    x = np.random.default_rng(1).standard_normal(x_shape).astype(np.float32)
    ref = run_onnxruntime(model, {"X": x})
    assert [a["length"] for a in report.spec] == list(ref.shape[2:])
    nd = len(x_shape) - 2
    args = dict(report.torch_arguments)
    layer = getattr(torch.nn, f"ConvTranspose{nd}d")(**args)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        y = layer(torch.from_numpy(x))
        if report.residual is not None:
            y = torch.nn.functional.pad(y, [-v for pair in reversed(report.residual) for v in pair])
    assert_close(y.numpy(), ref, np.float32)


def test_same_upper_stride_2_reports_the_residual_and_the_split(tmp_path):
    model, _ = _static([1, 4, 8, 8], [4, 2, 3, 3], auto_pad="SAME_UPPER", strides=[2, 2])
    (report,) = inspect_model(_save(tmp_path, model))
    assert report.in_channels == 4 and report.out_channels == 2 and report.kernel == [3, 3]
    assert [(a["start"], a["length"], a["pads"]) for a in report.spec] == [(0, 16, [0, 1])] * 2
    assert report.onnxruntime == report.spec
    assert report.residual == [[0, 1], [0, 1]]
    assert any("SAME_UPPER and SAME_LOWER" in f for f in report.flags)
    text = format_reports([report])
    assert "ConvTranspose2d(" in text and "crop 1 at the end" in text


def test_dynamic_input_is_resolved_as_far_as_it_goes(tmp_path):
    model, _ = _static([1, 4, "H", "W"], [4, 2, 4, 4], pads=[1, 1, 1, 1], strides=[2, 2])
    (report,) = inspect_model(_save(tmp_path, model))
    assert not report.static and report.error is None
    assert report.length_formula == ["2*n", "2*n"]
    assert report.residual is None and report.torch_arguments["padding"] == [1, 1]
    assert "n -> 2*n" in format_reports([report])
    model, _ = _static([1, 4, "H"], [4, 2, 3], output_shape=[16], strides=[2])
    (report,) = inspect_model(_save(tmp_path, model))
    assert "output_shape" in report.error
    assert "cannot resolve" in format_reports([report])


@pytest.mark.parametrize(
    "x_shape, w_shape, attrs, flag",
    [
        ([1, 1, 3], [1, 1, 1], dict(auto_pad="SAME_UPPER", strides=[3]), "clamps a negative total"),
        ([1, 1, 3], [1, 1, 1], dict(auto_pad="SAME_UPPER", strides=[3]), "shape inference gives output sizes [7]"),
        ([1, 1, 4], [1, 1, 3], dict(auto_pad="SAME_UPPER", strides=[2], output_padding=[1]), "only shifts the window"),
        ([1, 1, 3], [1, 1, 3], dict(strides=[1], dilations=[2], output_padding=[1]), "ONNX Runtime refuses"),
        ([1, 1, 3], [1, 1, 3], dict(strides=[2], output_shape=[6]), "'Else' branch"),
        ([1, 1, 3], [1, 1, 3], dict(strides=[2], output_shape=[6], pads=[1, 1]), "pads are ignored"),
        ([1, 4, 3], [4, 3, 3], dict(group=2), "not depthwise"),
    ],
)
def test_flags(tmp_path, x_shape, w_shape, attrs, flag):
    model, _ = _static(x_shape, w_shape, **attrs)
    (report,) = inspect_model(_save(tmp_path, model))
    assert any(flag in f for f in report.flags), report.flags


def test_the_runtime_really_disagrees_where_flagged(tmp_path):
    model, _ = _static([1, 1, 3], [1, 1, 1], auto_pad="SAME_UPPER", strides=[3])
    (report,) = inspect_model(_save(tmp_path, model))
    ref = run_onnxruntime(model, {"X": np.ones((1, 1, 3), np.float32)})
    assert [a["length"] for a in report.onnxruntime] == list(ref.shape[2:]) == [7]
    assert [a["length"] for a in report.spec] == [9]


def test_every_convtranspose_node_in_order_subgraphs_included(tmp_path):
    w1 = onnx.numpy_helper.from_array(np.ones((2, 2, 2), np.float32), "W1")
    w2 = onnx.numpy_helper.from_array(np.ones((2, 1, 3), np.float32), "W2")
    inner = helper.make_graph(
        [helper.make_node("ConvTranspose", ["H", "W2"], ["Z"], name="inner", strides=[2])],
        "branch",
        [],
        [helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)],
    )
    nodes = [
        helper.make_node("ConvTranspose", ["X", "W1"], ["H"], name="first", strides=[2]),
        helper.make_node("Relu", ["H"], ["R"]),
        helper.make_node("If", ["C"], ["Y"], name="branch", then_branch=inner, else_branch=inner),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2, 5]), helper.make_tensor_value_info("C", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)
    reports = inspect_model(model)
    assert [r.name for r in reports] == ["first", "inner", "inner"]
    assert [a["length"] for a in reports[0].spec] == [10]


@pytest.mark.parametrize("control", ["If", "Loop"])
def test_the_graph_reader_walks_subgraph_bodies_with_their_shapes_and_weights(tmp_path, control):
    # the one subgraph rule: every node of every body, depth first, each with where it sits
    graph = onnx_graph.read(_save(tmp_path, subgraph_model(control)), "inspect")
    nodes = graph.nodes("ConvTranspose")
    branches = ["else_branch", "then_branch"] if control == "If" else ["body"]
    assert [n.proto.name for n in nodes] == ["top"] + ["inner"] * len(branches)
    assert nodes[0].scope == () and not nodes[0].in_subgraph
    assert [n.scope for n in nodes[1:]] == [((control, "control", b),) for b in branches]
    assert nodes[1].where() == f"{control} 'control' ({branches[0]})"
    assert set(graph.initializers()) == {"W1", "W2"}  # the body's own initializer too
    assert graph.shapes()["Z"] == [1, 1, 18, 18]  # inferred inside the body
    reports = inspect_model(subgraph_model(control))
    assert [r.name for r in reports] == ["top"] + ["inner"] * len(branches)
    assert all(r.static and [a["length"] for a in r.spec] == [18, 18] for r in reports[1:])


def test_the_graph_reader_decodes_attributes(tmp_path):
    model, _ = _static([1, 2, 5], [2, 1, 3], auto_pad="SAME_UPPER", strides=[2])
    (node,) = onnx_graph.read(model, "inspect").nodes("ConvTranspose")
    assert node.attributes == {"auto_pad": "SAME_UPPER", "strides": [2]}
    assert onnx_graph.attributes(node.proto) == node.attributes
    assert onnx_graph.read(model.SerializeToString(), "inspect").nodes()[0].attributes == node.attributes


def test_cli_prints_the_report_and_json(tmp_path, capsys):
    model, _ = _static([1, 4, 8, 8], [4, 2, 3, 3], auto_pad="SAME_UPPER", strides=[2, 2])
    path = _save(tmp_path, model)
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "1 ConvTranspose node" in out and "axis 1: n=8 -> 16" in out
    assert main(["inspect", "--json", path]) == 0
    (node,) = json.loads(capsys.readouterr().out)
    assert node["spec"][0]["length"] == 16 and node["residual"] == [[0, 1], [0, 1]]


def test_a_model_without_convtranspose(tmp_path, capsys):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["X"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)
    assert main(["inspect", _save(tmp_path, model)]) == 0
    assert "0 ConvTranspose nodes" in capsys.readouterr().out


def test_bad_and_truncated_files_give_one_clean_line(tmp_path, capsys):
    model, _ = _static([1, 2, 5], [2, 1, 3], auto_pad="SAME_UPPER", strides=[2])
    data = model.SerializeToString()
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"definitely not a protobuf \xff\xfe")
    for target in (str(junk), str(tmp_path / "missing.onnx"), str(tmp_path)):
        assert main(["inspect", target]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tconv inspect: ") and err.count("\n") == 1, err
    # every truncation either reads as a (smaller) model or fails in one line: never a traceback
    for cut in range(0, len(data), 3):
        path = tmp_path / "cut.onnx"
        path.write_bytes(data[:cut])
        code = main(["inspect", str(path)])
        captured = capsys.readouterr()
        assert code in (0, 2)
        if code == 2:
            assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_inspect_model_raises_tconv_error():
    with pytest.raises(TconvError, match="cannot read"):
        inspect_model(b"\x08\x07garbage\xff")


def test_a_group_that_does_not_divide_the_channels_is_not_resolved(tmp_path):
    from tconv import checkerboard

    model, _ = _static([1, 4, 5, 5], [4, 2, 3, 3], group=3, strides=[2, 2])
    (report,) = inspect_model(model)
    assert report.spec is None and report.torch_code is None
    assert report.error == "group = 3 must divide the input channels; got 4 channels"
    assert "cannot resolve: group = 3 must divide the input channels" in format_reports([report])
    layers, skipped = checkerboard.layers_from(_save(tmp_path, model))
    assert layers == [] and skipped == ["up: group = 3 must divide the input channels; W's shape is (4, 2, 3, 3)"]


def test_truncated_and_garbage_files_are_one_error_for_every_feature(tmp_path):
    from tconv import checkerboard

    data = _static([1, 2, 5, 5], [2, 2, 3, 3], strides=[2, 2])[0].SerializeToString()
    for name, content in (("trunc.onnx", data[: len(data) // 2]), ("garbage.onnx", b"\x00garbage\xff" * 50)):
        path = tmp_path / name
        path.write_bytes(content)
        for feature in (checkerboard.layers_from, checkerboard.analyze_stack, inspect_model):
            with pytest.raises(TconvError, match=r"cannot read .* as an ONNX model \(truncated or not ONNX\)"):
                feature(str(path))
