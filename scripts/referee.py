"""Run the real frameworks over a grid of 1-D layers and write where they disagree.

Usage::

    python scripts/referee.py            # rewrites src/tconv/data/disagreements.csv
    python scripts/referee.py --check    # exit 1 if the checked-in file is not what this run gives

Every row of the grid is one layer as a user would describe it: a padding
*concept* (``same``, ``valid``, ``same+output_padding``, ``padding=p``,
``output_shape=L``) with input length ``n``, kernel ``k``, stride ``s``,
dilation ``d``. Each framework gets the call a user would write for that layer
(``layer_calls`` says which), on a random input and kernel; its output is then
located in the full scatter result ``y_full[i*s + j*d] += x[i] * w[j]``
and recorded as ``length@start`` (``start`` negative: zeros before
``y_full``), ``refused`` when the framework raises, ``n/a`` when it has no such
call, or ``other`` when the numbers are no window of ``y_full`` at all. A row is
written when the recorded outcomes (``n/a`` aside) are not all equal.

The axes of a transposed conv are independent, so one spatial dim shows every
per-axis disagreement; the totals that decide them (``k_eff - s + op``) do not
depend on ``n``, so one input length suffices for all but ``output_shape``.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")  # keras reads it once, at import
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow's CPU kernels accept dilation > 1 only through oneDNN; fix the choice so the file is reproducible
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402

from tconv.geometry import string_axis  # noqa: E402
from tconv.geometry import effective_kernel, full_length  # noqa: E402
from tconv.referee import FRAMEWORKS, PARAMETERS  # noqa: E402

DATA_FILE = Path(__file__).resolve().parents[1] / "src" / "tconv" / "data" / "disagreements.csv"
COLUMNS = PARAMETERS + FRAMEWORKS


def grid() -> list[dict]:
    """Every layer the referee tries, as dicts of :data:`PARAMETERS` (``None`` where a concept has no such value)."""
    layers = []
    n = 3
    for k in range(1, 6):
        for s in range(1, 4):
            for d in (1, 2):
                base = dict(n=n, k=k, s=s, d=d, padding=None, output_padding=None, output_shape=None)
                layers.append(dict(base, concept="same"))
                layers.append(dict(base, concept="valid"))
                for op in range(1, max(s, d)):
                    layers.append(dict(base, concept="same+output_padding", output_padding=op))
                for p in range(3):
                    for op in range(max(s, d)):
                        layers.append(dict(base, concept="padding=p", padding=p, output_padding=op))
                for target in (n * s - 1, n * s, n * s + 1):
                    layers.append(dict(base, concept="output_shape=L", output_shape=target))
    return layers


def layer_calls(layer: dict) -> dict:
    """The call each framework gets for ``layer``: ``{framework: (kind, keyword arguments)}`` or ``None`` (n/a)."""
    concept, s, d, k = layer["concept"], layer["s"], layer["d"], layer["k"]
    op, p, target = layer["output_padding"] or 0, layer["padding"], layer["output_shape"]
    k_eff = effective_kernel(k, d)
    calls: dict = dict.fromkeys(FRAMEWORKS)
    if concept in ("same", "same+output_padding"):
        # PyTorch has no "same": the usual port picks padding (k_eff-1)//2 and the output_padding reaching n*s (+op)
        torch_p = (k_eff - 1) // 2
        torch_op = s - k_eff + 2 * torch_p + op
        if 0 <= torch_op < max(s, d):
            calls["torch"] = dict(stride=s, padding=torch_p, output_padding=torch_op, dilation=d)
        if concept == "same":
            calls["tensorflow"] = dict(padding="SAME", output_shape=layer["n"] * s)
            calls["jax"] = dict(padding="SAME")
        calls["keras"] = dict(padding="same", output_padding=op if concept != "same" else None)
        calls["openvino"] = dict(auto_pad="same_upper", output_padding=[op])
        if concept == "same" and d == 1:
            calls["litert"] = dict(padding="SAME", output_shape=layer["n"] * s)
        onnx = dict(auto_pad="SAME_UPPER", output_padding=[op])
    elif concept == "valid":
        calls["torch"] = dict(stride=s, padding=0, output_padding=0, dilation=d)
        calls["tensorflow"] = dict(padding="VALID", output_shape=string_axis("valid", layer["n"], k, s, d).length)
        calls["keras"] = dict(padding="valid", output_padding=None)
        calls["jax"] = dict(padding="VALID")
        calls["openvino"] = dict(auto_pad="valid")
        if d == 1:
            calls["litert"] = dict(padding="VALID", output_shape=calls["tensorflow"]["output_shape"])
        onnx = dict(auto_pad="VALID")
    elif concept == "padding=p":
        calls["torch"] = dict(stride=s, padding=p, output_padding=op, dilation=d)
        full = full_length(layer["n"], k, s, d)
        calls["tensorflow"] = dict(padding=[[0, 0], [0, 0], [p, p], [0, 0]], output_shape=full - 2 * p + op)
        if op == 0:
            calls["jax"] = dict(padding=[(p, p)])  # the pair a user would type: JAX reads it as the dilated input's padding
        calls["openvino"] = dict(pads_begin=[p], pads_end=[p], output_padding=[op])
        onnx = dict(pads=[p, p], output_padding=[op])
    else:
        calls["tensorflow"] = dict(padding="SAME", output_shape=target)
        calls["openvino"] = dict(output_shape=[target])
        if d == 1:
            calls["litert"] = dict(padding="SAME", output_shape=target)
        calls["paddle"] = dict(stride=s, padding="SAME", dilation=d, output_size=target)
        onnx = dict(output_shape=[target])
    for name in ("onnx_spec", "onnx_reference", "onnxruntime"):
        calls[name] = dict(onnx, strides=[s], dilations=[d])
    calls["openvino"] = dict(calls["openvino"], strides=[s], dilations=[d])
    if concept in ("same", "same+output_padding", "valid"):
        calls["paddle"] = dict(stride=s, padding="SAME" if concept != "valid" else "VALID", output_padding=op, dilation=d)
    elif concept == "padding=p":
        calls["paddle"] = dict(stride=s, padding=p, output_padding=op, dilation=d)
    if calls["torch"] is not None:  # MLX has PyTorch's arguments (no padding strings): the same calls
        calls["mlx"] = dict(calls["torch"])
    elif concept in ("same", "same+output_padding"):  # the usual port, which MLX takes beyond PyTorch's op range
        torch_p = (k_eff - 1) // 2
        calls["mlx"] = dict(stride=s, padding=torch_p, output_padding=s - k_eff + 2 * torch_p + op, dilation=d)
    return calls


def _run(framework: str, call: dict, x: np.ndarray, w: np.ndarray, layer: dict) -> np.ndarray:
    """One framework's output for a single-channel 1-D input ``x`` (n,) and scatter kernel ``w`` (k,)."""
    s, d = layer["s"], layer["d"]
    if framework == "torch":
        import torch

        y = torch.nn.functional.conv_transpose1d(
            torch.from_numpy(x.reshape(1, 1, -1)), torch.from_numpy(w.reshape(1, 1, -1)), **call
        )
        return y.numpy().ravel()
    if framework == "tensorflow":
        import tensorflow as tf

        y = tf.nn.conv2d_transpose(
            x.reshape(1, 1, -1, 1),
            w.reshape(1, -1, 1, 1),
            output_shape=[1, 1, call["output_shape"], 1],
            strides=[1, 1, s, 1],
            padding=call["padding"],
            dilations=[1, 1, d, 1],
        )
        return np.asarray(y).ravel()
    if framework == "keras":
        import keras

        y = keras.ops.conv_transpose(x.reshape(1, -1, 1), w.reshape(-1, 1, 1), strides=s, dilation_rate=d, **call)
        return np.asarray(y).ravel()
    if framework == "jax":
        from jax import lax

        y = lax.conv_transpose(x.reshape(1, -1, 1), w.reshape(-1, 1, 1), (s,), call["padding"], (d,), transpose_kernel=True)
        return np.asarray(y).ravel()
    if framework == "openvino":
        return _run_openvino(call, x, w)
    if framework == "litert":
        return _run_litert(call, x, w, s)
    if framework == "paddle":  # in its own process: importing Paddle after TensorFlow crashes the interpreter
        return _PADDLE.run(call, x.reshape(1, 1, -1), w.reshape(1, 1, -1)).ravel()
    if framework == "mlx":
        import mlx.core as mx

        return np.array(mx.conv_transpose1d(mx.array(x.reshape(1, -1, 1)), mx.array(w.reshape(1, -1, 1)), **call)).ravel()
    if framework == "onnx_spec":
        from tconv.compat import onnx as compat_onnx

        return compat_onnx.conv_transpose(x.reshape(1, 1, -1), w.reshape(1, 1, -1), **call).ravel()
    return _run_onnx_model(framework, call, x, w)


def _run_openvino(call: dict, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One ``ConvolutionBackpropData`` node on OpenVINO's CPU plugin, in float32 (its default may be bfloat16)."""
    import openvino as ov
    import openvino.opset1 as ops

    kw = dict(call)
    if "output_shape" in kw:
        kw["output_shape"] = ops.constant(np.asarray(kw["output_shape"], np.int64))
    data = ops.parameter([1, 1, x.size], ov.Type.f32)
    node = ops.convolution_backprop_data(data, ops.constant(w.reshape(1, 1, -1)), **kw)
    model = ov.Core().compile_model(ov.Model([node], [data]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return model(x.reshape(1, 1, -1))[0].ravel()


def _run_litert(call: dict, x: np.ndarray, w: np.ndarray, s: int) -> np.ndarray:
    """A TRANSPOSE_CONV made by TensorFlow's TFLite converter (an H of 1), run by LiteRT's interpreter."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    filters = w.reshape(1, -1, 1, 1)
    shape = [1, 1, call["output_shape"], 1]
    def layer(v):
        return tf.nn.conv2d_transpose(v, filters, shape, strides=[1, s], padding=call["padding"])

    f = tf.function(layer, input_signature=[tf.TensorSpec([1, 1, x.size, 1], tf.float32)])
    model = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()
    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.reshape(1, 1, -1, 1))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).ravel()


def _run_onnx_model(framework: str, call: dict, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    from onnx import TensorProto, helper

    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], **call)
    graph = helper.make_graph(
        [node],
        "referee",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, x.size]),
            helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, w.size]),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)], ir_version=10)
    feeds = {"X": x.reshape(1, 1, -1), "W": w.reshape(1, 1, -1)}
    if framework == "onnx_reference":
        from onnx.reference import ReferenceEvaluator

        return np.asarray(ReferenceEvaluator(model).run(None, feeds)[0]).ravel()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0].ravel()


class _PaddleProcess:
    """One PaddlePaddle interpreter, started on first use, running ``conv1d_transpose`` calls sent as pickles.

    A call that kills it (Paddle's kernels can crash on a padding beyond the full
    result) raises ``RuntimeError`` (recorded as ``refused``) and the next call starts another.
    """

    _CODE = (
        "import os, pickle, sys\n"
        "out = os.fdopen(os.dup(1), 'wb'); os.dup2(2, 1)  # Paddle's own prints must not reach the pipe\n"
        "import paddle\n"
        "paddle.set_device('cpu')\n"
        "while True:\n"
        "    call, x, w = pickle.load(sys.stdin.buffer)\n"
        "    try:\n"
        "        y = paddle.nn.functional.conv1d_transpose(paddle.to_tensor(x), paddle.to_tensor(w), **call).numpy()\n"
        "    except Exception as exc:\n"
        "        y = repr(exc)\n"
        "    pickle.dump(y, out); out.flush()\n"
    )

    def __init__(self) -> None:
        self.process = None

    def run(self, call: dict, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        import pickle
        import subprocess

        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([sys.executable, "-c", self._CODE], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            pickle.dump((call, x, w), self.process.stdin)
            self.process.stdin.flush()
            y = pickle.load(self.process.stdout)
        except (EOFError, BrokenPipeError, pickle.UnpicklingError):
            self.process = None
            raise RuntimeError("the Paddle process died") from None
        if isinstance(y, str):
            raise RuntimeError(y)
        return y


_PADDLE = _PaddleProcess()


def locate(y: np.ndarray, x: np.ndarray, w: np.ndarray, s: int, d: int) -> str:
    """``length@start`` of ``y`` as a window of the full scatter result, or ``other``."""
    full = np.zeros(full_length(x.size, w.size, s, d))
    for j, wj in enumerate(w):
        full[j * d : j * d + (x.size - 1) * s + 1 : s] += x * wj
    length = y.size
    for start in range(-length - 1, full.size + 1):
        window = np.zeros(length)
        lo, hi = max(start, 0), min(start + length, full.size)
        if lo < hi:
            window[lo - start : hi - start] = full[lo:hi]
        if np.allclose(window, y, rtol=1e-4, atol=1e-4):
            return f"{length}@{start}"
    return "other"


def referee(layer: dict, seed: int = 0) -> dict:
    """One row: the layer's parameters and every framework's outcome."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, layer["n"]).astype(np.float32)  # no zeros: a window is found unambiguously
    w = rng.uniform(0.5, 1.5, layer["k"]).astype(np.float32)
    row = {name: layer[name] for name in PARAMETERS}
    for framework, call in layer_calls(layer).items():
        if call is None:
            row[framework] = "n/a"
            continue
        try:
            y = _run(framework, call, x, w, layer)
        except Exception:  # every framework raises its own exception types
            row[framework] = "refused"
            continue
        row[framework] = locate(y, x, w, layer["s"], layer["d"])
    return row


def disagrees(row: dict) -> bool:
    return len({row[f] for f in FRAMEWORKS if row[f] != "n/a"}) > 1


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row[key] is None else row[key]) for key in COLUMNS})
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the checked-in file instead of writing")
    args = parser.parse_args(argv)
    rows = [row for row in (referee(layer) for layer in grid()) if disagrees(row)]
    text = to_csv(rows)
    if args.check:
        current = DATA_FILE.read_text(encoding="utf-8") if DATA_FILE.exists() else ""
        if current != text:
            print(f"{DATA_FILE.name} is out of date: run python scripts/referee.py", file=sys.stderr)
            return 1
        print(f"{DATA_FILE.name} is current ({len(rows)} disagreements)")
        return 0
    DATA_FILE.parent.mkdir(parents=True, exist_ok=True)
    DATA_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {len(rows)} disagreements of {len(grid())} layers to {DATA_FILE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
