"""tconv vectors: every convention's generated vectors pass through its real implementation.

Each convention's runner takes the vector's own arguments and arrays, exactly
as written: ``run(arguments, x, w, b)`` returns the output in the
convention's layout. Conventions whose helpers add ``tests/<fw>_support.py``
(with ``run(arguments, x, w, b=None)``) are picked up from there; add others to
:data:`RUNNERS`.
"""

from __future__ import annotations

import importlib
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from converter_support import run_jax, run_keras, run_tensorflow, run_torch  # noqa: E402
from tconv import TconvError, converter, vectors  # noqa: E402
from tconv.cli import main  # noqa: E402
from tconv.compat import keras as compat_keras  # noqa: E402
from tconv.compat import onnx as compat_onnx  # noqa: E402
from tconv.compat import tensorflow as compat_tf  # noqa: E402
from tconv.compat import webnn  # noqa: E402


def _tensorflow(args, x, w, b):
    # the port writes output_shape with batch 1 (its code reads tf.shape(x)[0]): the batch is the input's
    return run_tensorflow(dict(args, output_shape=[x.shape[0]] + list(args["output_shape"][1:])), x, w, b, x.ndim - 2)


def _webnn(args, x, w, b):
    return webnn.conv_transpose2d(x, w, dict(args, bias=b))


#: convention -> run(arguments, x, w, b): the real implementation on a vector's own arguments and arrays
RUNNERS = {
    "torch": run_torch,
    "tensorflow": _tensorflow,
    "keras": run_keras,
    "jax": run_jax,
    "webnn": _webnn,  # no runtime installs here: compat.webnn, checked on the W3C conformance cases
}


def runner(convention: str):
    """The runner of a registered convention: :data:`RUNNERS`, or ``run`` of its ``tests/<fw>_support.py``."""
    if convention in RUNNERS:
        return RUNNERS[convention]
    try:
        return importlib.import_module(f"{convention}_support").run
    except (ImportError, AttributeError):
        pytest.fail(f"no runner for the registered convention {convention!r}: add it to RUNNERS or tests/{convention}_support.py")


def _load(directory, entry):
    meta = json.loads((directory / entry["files"][1]).read_text())
    with np.load(directory / entry["files"][0]) as data:
        arrays = {k: data[k] for k in data.files}
    return meta, arrays


NPZ_CONVENTIONS = [c for c in converter.FRAMEWORKS if c != "onnx"]
#: Keras builds and compiles a layer per case (seconds each): the default run gives it the first 12 corners
COUNT = {"keras": 12}


def check_vectors(directory, convention: str, count: int, seed: int) -> None:
    index = vectors.write(convention, directory, count=count, seed=seed)
    assert len(index["cases"]) + len(index["skipped"]) == count and index["cases"]
    run = runner(convention)
    for entry in index["cases"]:
        meta, a = _load(directory, entry)
        assert meta["arguments"] and meta["convention"] == convention and a["x"].dtype == np.float32
        y = np.asarray(run(meta["arguments"], a["x"], a["w"], a.get("b")))
        assert y.shape == a["y"].shape, (convention, entry["name"])
        err = float(np.abs(y.astype(np.float64) - a["y"]).max(initial=0.0))
        # the bound covers any summation order of the float32 products, plus the expected value's own rounding
        assert err <= meta["tolerance"]["atol"] + float(np.abs(a["y"]).max(initial=0.0)) * 2**-24, (entry["name"], err)


@pytest.mark.parametrize("convention", NPZ_CONVENTIONS)
def test_vectors_pass_through_the_real_implementation(tmp_path, convention):
    check_vectors(tmp_path, convention, COUNT.get(convention, 30), 3)


@pytest.mark.slow
@pytest.mark.parametrize("convention", NPZ_CONVENTIONS)
def test_many_vectors_pass_through_the_real_implementation(tmp_path, convention):
    check_vectors(tmp_path, convention, 120, 11)


def test_float64_vectors_pass_through_torch(tmp_path):
    index = vectors.write("torch", tmp_path, count=20, dtype="float64")
    for entry in index["cases"]:
        meta, a = _load(tmp_path, entry)
        assert a["x"].dtype == np.float64
        args = meta["arguments"]
        functional = getattr(torch.nn.functional, f"conv_transpose{a['x'].ndim - 2}d")  # the float64 functional path
        b = None if a.get("b") is None else torch.from_numpy(a["b"])
        y = functional(torch.from_numpy(a["x"]), torch.from_numpy(a["w"]), b, args["stride"], args["padding"],
                       args["output_padding"], args["groups"], args["dilation"]).numpy()
        assert float(np.abs(y - a["y"]).max(initial=0.0)) <= meta["tolerance"]["atol"] + 1e-300, entry["name"]


def _onnx_case(directory):
    model = onnx.load(str(directory / "model.onnx"))
    data = directory / "test_data_set_0"
    feeds = {}
    for path in sorted(data.glob("input_*.pb")):
        tensor = onnx.TensorProto()
        tensor.ParseFromString(path.read_bytes())
        feeds[tensor.name] = onnx.numpy_helper.to_array(tensor)
    out = onnx.TensorProto()
    out.ParseFromString((data / "output_0.pb").read_bytes())
    return model, feeds, onnx.numpy_helper.to_array(out), json.loads((directory / "data.json").read_text())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_vectors_pass_through_onnx_runtime_and_onnx_reference(tmp_path, dtype):
    from onnx.reference import ReferenceEvaluator

    index = vectors.write("onnx", tmp_path, count=30, seed=4, dtype=dtype)
    checked = 0
    for entry in index["cases"]:
        model, feeds, expected, meta = _onnx_case(tmp_path / entry["files"][0])
        assert expected.dtype == np.dtype(dtype)
        outputs = {}
        # onnx.reference raises on grouped layers and on an empty batch, and adds B[0] to every group of a
        # depthwise one (docs/peer-findings.md): it runs the others
        if not _grouped(model) and feeds["X"].shape[0] > 0:
            outputs["onnx.reference"] = ReferenceEvaluator(model).run(None, feeds)[0]
        if dtype == "float32":  # ONNX Runtime has no float64 ConvTranspose kernel (docs/peer-findings.md)
            session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            outputs["onnxruntime"] = session.run(None, feeds)[0]
        for name, y in outputs.items():
            assert y.shape == expected.shape, (name, entry["name"])
            err = float(np.abs(y.astype(np.float64) - expected).max(initial=0.0))
            assert err <= meta["atol"] + float(np.abs(expected).max(initial=0.0)) * np.finfo(dtype).eps, (name, entry["name"], err)
        checked += bool(outputs)
    assert checked >= 10


def _grouped(model) -> bool:
    return any(a.name == "group" and a.i > 1 for a in model.graph.node[0].attribute)


def test_onnx_vectors_load_in_onnx_backend_test_runner(tmp_path, monkeypatch):
    """The directory is a kind of ONNX backend tests: onnx's loader reads it and its Runner runs it on ONNX Runtime."""
    import unittest

    import onnxruntime.backend
    from onnx.backend.test import loader, runner as runner_module

    out = tmp_path / "tconv"
    index = vectors.write("onnx", out, count=12)
    cases = loader.load_model_tests(data_dir=str(tmp_path), kind="tconv")
    assert sorted(c.name for c in cases) == sorted(e["files"][0] for e in index["cases"])
    atol = {e["files"][0]: e["atol"] for e in index["cases"]}
    assert all(c.atol == atol[c.name] and c.rtol == 0 for c in cases)  # the loader reads each case's tolerance
    # the Runner loads onnx's own thousands of node tests first: not needed to run ours
    monkeypatch.setattr(runner_module, "load_model_tests", lambda *a, **k: [])
    backend_runner = runner_module.Runner(onnxruntime.backend, __name__)
    for case in cases:
        backend_runner._add_model_test(case, "Tconv")
    suite = unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(cls) for cls in backend_runner.test_cases.values())
    result = unittest.TextTestRunner(stream=open(os.devnull, "w"), verbosity=0).run(suite)
    assert result.testsRun >= len(cases) and result.wasSuccessful(), result.failures + result.errors


def test_the_corners_are_the_conventions_own_windows():
    corners = {c.name: c.geometry for c in vectors.cases()}
    assert corners["same_odd_kernel_stride_2"].axes[0] == compat_tf.geometry(4, 3, [8], 2, "SAME").axes[0]
    assert corners["same_lower"].axes[0] == compat_onnx.geometry(4, 4, auto_pad="SAME_LOWER", strides=2).axes[0]
    assert corners["window_before_full"].axes[0] == compat_onnx.geometry(3, 1, auto_pad="SAME_UPPER", strides=3).axes[0]
    assert corners["keras_same_output_padding"].axes[0] == compat_keras.geometry(3, 3, 3, "same", 1).axes[0]
    a = corners["output_padding_max_dilation"].axes[0]
    assert a.end_crop == -(a.dilation - 1) and a.dilation - 1 > a.stride - 1
    assert {len(g.axes) for g in corners.values()} == {1, 2, 3}
    assert any(g.groups > 1 for g in corners.values())
    assert [c.batch for c in vectors.cases() if c.name == "empty_batch"] == [0]


def test_what_each_convention_cannot_express_is_skipped_with_its_reason(tmp_path):
    skipped = {c: {s["name"]: s["reason"] for s in vectors.write(c, tmp_path / c)["skipped"]} for c in ("webnn", "keras", "torch")}
    assert "convTranspose2d only" in skipped["webnn"]["rank_3"] and "empty batch" in skipped["webnn"]["empty_batch"]
    assert "no 1-D layer" in skipped["webnn"]["rank_1"]
    assert "no grouped layer" in skipped["keras"]["groups"]
    assert "no single torch layer has this window" in skipped["torch"]["asymmetric_padding"]
    assert "float64" in vectors.write("webnn", tmp_path / "w64", count=2, dtype="float64")["skipped"][0]["reason"]


def test_vectors_are_seeded(tmp_path):
    vectors.write("torch", tmp_path / "a", count=20, seed=7)
    vectors.write("torch", tmp_path / "b", count=20, seed=7)
    vectors.write("torch", tmp_path / "c", count=20, seed=8)
    same = [(tmp_path / "a" / p.name).read_bytes() == p.read_bytes() for p in (tmp_path / "b").glob("*.npz")]
    assert same and all(same)
    assert (tmp_path / "a" / "rank_1.npz").read_bytes() != (tmp_path / "c" / "rank_1.npz").read_bytes()


@pytest.mark.parametrize("convention", [c for c in vectors.CONVENTIONS if c not in converter.FRAMEWORKS] or ["none"])
def test_a_convention_without_a_port_in_this_tree_is_refused_by_name(tmp_path, convention):
    if convention == "none":
        pytest.skip("every convention's port is registered")
    with pytest.raises(TconvError, match=f"the {convention} convention has no converter hooks in this tree"):
        vectors.write(convention, tmp_path)
    assert main(["vectors", "--convention", convention, "--out", str(tmp_path)]) == 2


def test_cli_writes_the_vectors_and_refuses_bad_arguments(tmp_path, capsys):
    assert main(["vectors", "--convention", "webnn", "--cases", "6", "--seed", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    index = json.loads((tmp_path / "index.json").read_text())
    assert f"{len(index['cases'])} webnn vectors (float32, seed 1)" in out and "skipped rank_1" not in out
    assert len(index["cases"]) + len(index["skipped"]) == 6
    assert main(["vectors", "--convention", "webnn", "--out", str(tmp_path), "--cases", "0"]) == 2
    assert "cases must be >= 1" in capsys.readouterr().err
    assert main(["vectors", "--convention", "onnx", "--dtype", "float16", "--out", str(tmp_path)]) == 2
