"""Write docs/peer-findings.md: where a real implementation disagrees with its own documentation or specification.

Usage::

    python scripts/peer_findings.py            # rewrites docs/peer-findings.md
    python scripts/peer_findings.py --check    # exit 1 if the checked-in page is not what this run gives

Each finding is a minimal reproduction, run here against the installed
framework exactly as the page shows it (after its section's setup); every
result on the page is what that run gave. Where a reproduction writes the
documented answer as a literal (``expected``), this script checks it against
tconv's reading of the same text (``tconv.compat.onnx``'s ``behavior="spec"``,
``tconv.compat.openvino``'s ``behavior="spec"``, the definition in
``tconv.conv_transpose``), so a wrong literal cannot slip in.

ONNX's reproductions (onnx.reference and ONNX Runtime) run in this process,
each also on the other runtime. PaddlePaddle's, MLX's, OpenVINO's and JAX's run
in fresh interpreters, one per framework, and alone where the reproduction
kills the interpreter (that death is the result recorded): importing Paddle
after TensorFlow crashes the interpreter, so Paddle never runs where a test
has imported TensorFlow. A finding the installed version no longer shows is
marked so, with the version.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "peer-findings.md"

ONNX_SETUP = '''\
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def conv_transpose(x_shape, w_shape, bias=False, dtype=TensorProto.FLOAT, **attrs):
    """A model of one ConvTranspose node (opset 22), its inputs X, W and optionally B."""
    names = ["X", "W"] + (["B"] if bias else [])
    shapes = [x_shape, w_shape, [w_shape[1] * attrs.get("group", 1)]]
    node = helper.make_node("ConvTranspose", names, ["Y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, dtype, s) for n, s in zip(names, shapes)],
                              [helper.make_tensor_value_info("Y", dtype, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)], ir_version=10)


def outcome(run, model, feeds):
    """The output, or the exception's type and first line."""
    try:
        return run(model, feeds)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"


def reference(model, feeds):
    return ReferenceEvaluator(model).run(None, feeds)[0]


def onnxruntime(model, feeds):
    options = ort.SessionOptions()
    options.log_severity_level = 4
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
'''


@dataclass(frozen=True)
class OnnxFinding:
    title: str
    runtime: str  # "onnx" (onnx.reference) or "onnxruntime": whose version the page records
    spec: str  # what the specification says, quoted or paraphrased with its source
    code: str  # sets ``observed`` and ``expected`` (the spec's answer, a literal)
    spec_answer: Callable[[], np.ndarray]  # the same answer from tconv's reading of the spec text


def _spec(*args, **kwargs) -> Callable[[], np.ndarray]:
    from tconv.compat import onnx as compat_onnx

    return lambda: compat_onnx.conv_transpose(*args, **kwargs)


_F32 = np.float32

ONNX_FINDINGS = [
    OnnxFinding(
        "onnx.reference adds B[0] to every group of a grouped ConvTranspose",
        "onnx",
        "ConvTranspose's B is the *1D bias to be added to the convolution, has size of M* (one per output channel).",
        '''\
model = conv_transpose([1, 2, 1], [2, 1, 1], bias=True, group=2)  # depthwise, 1x1 kernel of ones
feeds = {"X": np.ones((1, 2, 1), np.float32), "W": np.ones((2, 1, 1), np.float32), "B": np.array([1, 10], np.float32)}
observed = outcome(reference, model, feeds)
expected = np.array([[[2.0], [11.0]]])  # x * w + B[m] per output channel m''',
        _spec(np.ones((1, 2, 1), _F32), np.ones((2, 1, 1), _F32), np.array([1, 10], _F32), group=2),
    ),
    OnnxFinding(
        "onnx.reference raises on a grouped ConvTranspose that is not depthwise",
        "onnx",
        "ConvTranspose's group attribute: *number of groups input channels and output channels are divided into*; "
        "W is *(C x M/group x kH x kW)*. Any group dividing C is valid.",
        '''\
model = conv_transpose([1, 4, 1], [4, 1, 1], group=2)  # 2 groups of 2 input channels, 1 output channel each
observed = outcome(reference, model, {"X": np.ones((1, 4, 1), np.float32), "W": np.ones((4, 1, 1), np.float32)})
expected = np.array([[[2.0], [2.0]]])  # each output sums its group's two inputs''',
        _spec(np.ones((1, 4, 1), _F32), np.ones((4, 1, 1), _F32), group=2),
    ),
    OnnxFinding(
        "onnx.reference raises on an empty batch",
        "onnx",
        "ConvTranspose's X is *(N x C x H x W), where N is the batch size*; nothing excludes N = 0, and the output "
        "is then empty, (0 x M x ...).",
        '''\
model = conv_transpose([0, 1, 3], [1, 1, 2], strides=[2])
observed = outcome(reference, model, {"X": np.ones((0, 1, 3), np.float32), "W": np.ones((1, 1, 2), np.float32)})
expected = np.zeros((0, 1, 6))  # (3 - 1) * 2 + 2 = 6 per sample, no samples''',
        _spec(np.ones((0, 1, 3), _F32), np.ones((1, 1, 2), _F32), strides=[2]),
    ),
    OnnxFinding(
        "onnx.reference refuses an output_shape the spec's padding formula reaches",
        "onnx",
        "ConvTranspose: *output_shape can also be explicitly specified in which case pads values are auto generated*: "
        "`total_padding = stride * (input_size - 1) + output_padding + ((kernel_shape - 1) * dilations + 1) - "
        "output_shape`, and (auto_pad not SAME_UPPER) `pads[start] = total_padding - total_padding/2`, "
        "`pads[end] = total_padding/2`. Here total_padding = 1: one element cropped at the start.",
        '''\
model = conv_transpose([1, 1, 3], [1, 1, 3], strides=[2], output_shape=[6])
feeds = {"X": np.array([[[1, 2, 3]]], np.float32), "W": np.ones((1, 1, 3), np.float32)}
observed = outcome(reference, model, feeds)
expected = np.array([[[1.0, 3.0, 2.0, 5.0, 3.0, 3.0]]])  # the full result [1, 1, 3, 2, 5, 3, 3] without its first''',
        _spec(np.array([[[1, 2, 3]]], _F32), np.ones((1, 1, 3), _F32), strides=[2], output_shape=[6]),
    ),
    OnnxFinding(
        "ONNX Runtime's SAME_UPPER output is shorter than input * stride when the kernel is shorter than the stride",
        "onnxruntime",
        "ConvTranspose's auto_pad: *SAME_UPPER or SAME_LOWER mean pad the input so that "
        "`output_shape[i] = input_shape[i] * strides[i]` for each axis i*. ONNX Runtime clamps the total padding "
        "(here 7 - 9 = -2) at 0 and returns the 7 elements of the full result.",
        '''\
model = conv_transpose([1, 1, 3], [1, 1, 1], strides=[3], auto_pad="SAME_UPPER")
feeds = {"X": np.array([[[1, 2, 3]]], np.float32), "W": np.ones((1, 1, 1), np.float32)}
observed = outcome(onnxruntime, model, feeds)
expected = np.array([[[0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0]]])  # 3 * 3 = 9 outputs, the -2 split evenly''',
        _spec(np.array([[[1, 2, 3]]], _F32), np.ones((1, 1, 1), _F32), strides=[3], auto_pad="SAME_UPPER"),
    ),
    OnnxFinding(
        "ONNX Runtime has no float64 ConvTranspose",
        "onnxruntime",
        "ConvTranspose's type constraint: *T: tensor(float16), tensor(float), tensor(double), tensor(bfloat16)*.",
        '''\
model = conv_transpose([1, 1, 3], [1, 1, 2], dtype=TensorProto.DOUBLE, strides=[2])
observed = outcome(onnxruntime, model, {"X": np.ones((1, 1, 3)), "W": np.ones((1, 1, 2))})
expected = np.ones((1, 1, 6))  # no overlap at stride 2: every output is one product''',
        _spec(np.ones((1, 1, 3)), np.ones((1, 1, 2)), strides=[2]),
    ),
]


def _text(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array {value.tolist()} of shape {value.shape}, {value.dtype}"
    return str(value)


def _same(observed: object, expected: np.ndarray) -> bool:
    return isinstance(observed, np.ndarray) and observed.shape == expected.shape and np.allclose(observed, expected)


#: the runner each runtime's reproductions call, and the other runtime's, run on the same model for comparison
RUNNERS = {"onnx": "reference", "onnxruntime": "onnxruntime"}
OTHER = {"onnx": "onnxruntime", "onnxruntime": "onnx"}
NAMES = {"onnx": "onnx.reference", "onnxruntime": "ONNX Runtime"}


def run(finding: OnnxFinding, runtime: str | None = None) -> tuple[object, np.ndarray]:
    """Run the reproduction after the shared setup (on ``runtime``'s runner instead, when given).

    Returns ``(observed, expected)``.
    """
    code = finding.code
    if runtime is not None:
        code = code.replace(f"outcome({RUNNERS[finding.runtime]},", f"outcome({RUNNERS[runtime]},")
    namespace: dict = {}
    exec(compile(ONNX_SETUP + "\n" + code, finding.title, "exec"), namespace)
    expected = namespace["expected"]
    _check_literal(finding.title, expected, finding.spec_answer())
    return namespace["observed"], expected


def _check_literal(title: str, expected: np.ndarray, answer: np.ndarray) -> None:
    if answer.shape != expected.shape or not np.allclose(answer, expected):
        raise AssertionError(f"{title}: the literal documented answer {expected.tolist()} is not tconv's {answer.tolist()}")


# --------------------------------------------------------------------------
# PaddlePaddle, MLX, OpenVINO and JAX: each reproduction in a fresh interpreter
# --------------------------------------------------------------------------

def _outcome(which: str, index: int) -> str:
    """The setup's ``outcome`` helper, quoting the ``which`` (first or last) line of an exception's message."""
    return f'''


def outcome(f):
    """f()'s value, or the exception's type and the {which} line of its message."""
    try:
        return f()
    except Exception as exc:
        return f"{{type(exc).__name__}}: {{str(exc).strip().splitlines()[{index}][:150]}}"'''


OPENVINO_SETUP = '''\
import numpy as np
import openvino as ov
import openvino.opset1 as ops


def backprop_data(data, kernel, strides, output_shape=None, grouped=False, **attributes):
    """One (Group)ConvolutionBackpropData node on 1-D data of one channel, a kernel of ones, on the CPU plugin (f32)."""
    x = ops.parameter([1, 1, len(data)], ov.Type.f32)
    filters = ops.constant(np.ones([1] * (3 if grouped else 2) + [kernel], np.float32))
    shape = None if output_shape is None else ops.constant(np.array(output_shape))
    op = ops.group_convolution_backprop_data if grouped else ops.convolution_backprop_data
    model = ov.Model([op(x, filters, strides, output_shape=shape, **attributes)], [x])
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(np.array([[data]], np.float32))[0][0, 0]'''


@dataclass(frozen=True)
class Section:
    """One framework's part of the page: its name, the packages whose versions it records, its setup."""

    title: str
    packages: tuple[str, ...]
    setup: str
    env: dict = field(default_factory=dict)  # for its interpreters, on top of this one's environment


SECTIONS = {
    "paddle": Section("PaddlePaddle", ("paddlepaddle",),
                      'import paddle\nimport paddle.nn.functional as F\n\npaddle.set_device("cpu")' + _outcome("first", 0),
                      {"GLOG_minloglevel": "3"}),
    "mlx": Section("MLX", ("mlx",), "import mlx.core as mx\nimport numpy as np" + _outcome("first", 0)),
    "openvino": Section("OpenVINO", ("openvino",), OPENVINO_SETUP + _outcome("last", -1), {"CI": "true"}),  # CI: no usage report
    "jax": Section("JAX", ("jax", "jaxlib"), "import jax\nimport numpy as np", {"JAX_PLATFORMS": "cpu"}),
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """A reproduction run as written, after its section's setup, in a fresh interpreter."""

    framework: str  # a key of SECTIONS
    title: str
    claim: str  # what the documentation or specification says, quoted or paraphrased with its source
    code: str  # sets ``observed`` and the names in ``shown``; ``expected`` where the documented answer is a literal
    reproduces: Callable[[dict], bool]  # on the values the run set: whether the disagreement is still there
    shown: tuple[tuple[str, str], ...] = ()  # (name, label): more of the run's values the page shows
    answer: Callable[[], np.ndarray] | None = None  # tconv's reading of the documented answer (checks ``expected``)
    dies: bool = False  # the reproduction kills the interpreter: it runs alone, and its death is ``observed``
    again: tuple[str, dict] | None = None  # (label, environment): ``observed`` of one more run in that environment


def _torch_window_channels_last() -> np.ndarray:
    """PyTorch's window (MLX's arguments are PyTorch's) of the MLX finding, by the definition, channels last."""
    import tconv

    y = tconv.conv_transpose(np.array([[[1.0, 2.0]]]), np.ones((1, 1, 1)), stride=2, padding=1, output_padding=1)
    return np.moveaxis(y, 1, -1)


def _opset1_text(data, kernel, strides, output_shape=None, grouped=False, **attributes) -> Callable[[], np.ndarray]:
    """The opset1 text's answer for the setup's ``backprop_data`` node (``tconv.compat.openvino``, ``behavior="spec"``)."""

    def answer() -> np.ndarray:
        from tconv.compat import openvino as compat_ov

        op = compat_ov.group_convolution_backprop_data if grouped else compat_ov.convolution_backprop_data
        filters = np.ones([1] * (3 if grouped else 2) + [kernel])
        return op(np.array([[data]], float), filters, strides, output_shape, behavior="spec", **attributes)[0, 0]

    return answer


def _jax_definition() -> np.ndarray:
    from tconv.compat import jax as compat_jax

    return compat_jax.conv_transpose(np.ones((1, 4, 2, 1)), np.ones((2, 3, 1, 1)), strides=(2, 1),
                                     padding=[(0, 0), (2, 2)], dimension_numbers=("NHWC", "HWIO", "NHWC"))  # fmt: skip


def _error(value: object) -> bool:
    """Whether ``value`` is ``outcome``'s words for an exception."""
    return isinstance(value, str) and value.split(":")[0].endswith("Error")


def _dead(value: object) -> bool:
    return isinstance(value, str) and value.startswith("the interpreter dies")


FINDINGS = [
    Finding(
        "paddle",
        'padding="SAME" drops the dilation, silently',
        "`paddle.nn.functional.conv1d_transpose`'s `dilation` is *the dilation size*, the spacing between kernel "
        'points, with no exception for `padding="SAME"`; the C++ `UpdatePaddingAndDilation` sets it to 1 there.',
        """\
x, w = paddle.ones([1, 1, 3]), paddle.ones([1, 1, 3])
observed = F.conv1d_transpose(x, w, stride=2, padding="SAME", dilation=2).numpy()
undilated = F.conv1d_transpose(x, w, stride=2, padding="SAME", dilation=1).numpy()""",
        lambda v: _same(v["observed"], v["undilated"]),
        (("undilated", "the same call with dilation=1"),),
    ),
    Finding(
        "paddle",
        "output_size may not reach H'_out + stride, which the documentation allows",
        "`conv2d_transpose`'s docstring: `output_size` may be given, with *H_out ∈ [H'_out, H'_out + strides[0]]* "
        "(H'_out the size inferred without it): a closed range. The call asks for H'_out + strides[0].",
        """\
x, w = paddle.ones([1, 1, 4, 4]), paddle.ones([1, 1, 3, 3])
inferred = list(F.conv2d_transpose(x, w, stride=2).shape)
observed = outcome(lambda: list(F.conv2d_transpose(x, w, stride=2, output_size=[11, 11]).shape))""",
        lambda v: _error(v["observed"]),
        (("inferred", "without output_size"),),
    ),
    Finding(
        "paddle",
        "output_padding between the stride and the dilation passes the checks and fails in the kernel",
        "The shape inference (`phi/infermeta/binary.cc`) admits `output_padding < max(stride, dilation)`, PyTorch's "
        "rule, and its message says so (*should be less than either stride or dilation*); the CPU kernel "
        "(`im2col`) then refuses the shape it inferred.",
        """\
x, w = paddle.ones([1, 1, 4]), paddle.ones([1, 1, 3])
observed = outcome(lambda: list(F.conv1d_transpose(x, w, stride=1, dilation=2, padding=1, output_padding=1).shape))
rule = outcome(lambda: list(F.conv1d_transpose(x, w, stride=1, dilation=1, padding=1, output_padding=1).shape))""",
        lambda v: _error(v["observed"]) and "inconsistent" in v["observed"],
        (("rule", "with dilation=1, where the shape inference refuses it"),),
    ),
    Finding(
        "paddle",
        "A padding beyond the full result gives a tensor of negative shape",
        "The inferred length is negative here, (4 - 1) * 1 + 3 - 2 * 4 = -2: an error is expected, as Paddle "
        "raises for its other invalid arguments.",
        """\
y = F.conv2d_transpose(paddle.ones([1, 2, 4, 4]), paddle.ones([2, 3, 3, 3]), padding=4)
observed = list(y.shape)""",
        lambda v: min(v["observed"]) < 0,
    ),
    Finding(
        "paddle",
        "Reading that tensor kills the interpreter",
        "As above: an error is expected, and a tensor Paddle returns can be read.",
        """\
y = F.conv2d_transpose(paddle.ones([1, 2, 4, 4]), paddle.ones([2, 3, 3, 3]), padding=4)
observed = outcome(lambda: y.numpy().shape)""",
        lambda v: _dead(v["observed"]),
        dies=True,
    ),
    Finding(
        "paddle",
        "An empty output is returned channels first and refused channels last",
        '`data_format` names where the channels are (*"NCL" or "NLC"*); the output length here is '
        "(1 - 1) * 2 + 2 - 1 - 1 = 0 either way (the input, one element of one channel, reads the same in both).",
        """\
x, w = paddle.ones([1, 1, 1]), paddle.ones([1, 1, 2])
channels_first = outcome(lambda: list(F.conv1d_transpose(x, w, stride=2, padding=[1, 1]).shape))
observed = outcome(lambda: list(F.conv1d_transpose(x, w, stride=2, padding=[1, 1], data_format="NLC").shape))""",
        lambda v: isinstance(v["channels_first"], list) and _error(v["observed"]),
        (("channels_first", "the same call channels first (NCL)"),),
    ),
    Finding(
        "mlx",
        "groups=0 kills the interpreter",
        "`mlx.core.conv_transpose1d`'s `groups` is *input feature groups*; 0 is none, and MLX refuses other "
        "invalid groups with a `ValueError`.",
        """\
observed = outcome(lambda: mx.conv_transpose1d(mx.ones((1, 4, 2)), mx.ones((2, 3, 2)), groups=0).shape)""",
        lambda v: _dead(v["observed"]),
        dies=True,
    ),
    Finding(
        "mlx",
        "A padding beyond the kernel span gives no window of the transposed convolution",
        "MLX's `conv_transpose1d` takes PyTorch's `padding`, `dilation` and `output_padding`: the output is "
        "`y_full[padding : padding + L]` with `L = (n - 1) * stride + dilation * (k - 1) + 1 - 2 * padding + "
        "output_padding`. MLX runs a forward conv with padding `dilation * (k - 1) - padding`, negative here.",
        """\
x, w = mx.array([[[1.0], [2.0]]]), mx.ones((1, 1, 1))  # (N, L, C): x = [1, 2], one tap
observed = np.array(mx.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1))
expected = np.array([[[0.0], [2.0]]])  # the full result [1, 0, 2] from index 1, (2 - 1) * 2 + 1 - 2 + 1 = 2 long""",
        lambda v: not _same(v["observed"], v["expected"]),
        answer=_torch_window_channels_last,
    ),
    Finding(
        "mlx",
        "Groups in 2-D work, although the docstring says they do not",
        "`mlx.core.conv_transpose2d.__doc__` (and `conv_transpose3d`'s): *Only the default `groups=1` is currently "
        "supported*. In 2-D grouped calls run; in 3-D they are refused.",
        """\
note = next((line.strip() for line in mx.conv_transpose2d.__doc__.splitlines() if "groups=1" in line), None)
observed = outcome(lambda: mx.conv_transpose2d(mx.ones((1, 3, 3, 4)), mx.ones((4, 2, 2, 2)), stride=2, groups=2).shape)
three_d = outcome(lambda: mx.conv_transpose3d(mx.ones((1, 3, 3, 3, 4)), mx.ones((4, 2, 2, 2, 2)), groups=2).shape)""",
        lambda v: v["note"] is not None and "supported" in v["note"] and not isinstance(v["observed"], str),
        (("note", "the installed docstring"), ("three_d", "the 3-D call")),
    ),
    Finding(
        "openvino",
        "With output_shape, the CPU plugin keeps pads_begin, which the text ignores",
        "opset1 `ConvolutionBackpropData`: *If `output_shape` is specified, `pads_begin` and `pads_end` are ignored, "
        "and `auto_pad` defines how to distribute padding amount*: `total_padding = stride * (X - 1) + ((K - 1) * "
        "dilations + 1) - output_shape + output_padding`, `pads_begin = total_padding // 2` unless `same_upper`. "
        "Here the total is 1: nothing cropped at the start.",
        """\
observed = backprop_data([1, 2, 3, 4], 3, [2], [8], pads_begin=[1], pads_end=[0])
expected = np.array([1.0, 1.0, 3.0, 2.0, 5.0, 3.0, 7.0, 4.0])  # the full result's first 8""",
        lambda v: not _same(v["observed"], v["expected"]),
        answer=_opset1_text([1, 2, 3, 4], 3, [2], [8], pads_begin=[1], pads_end=[0]),
    ),
    Finding(
        "openvino",
        'With output_shape and auto_pad="valid", the CPU plugin crops nothing at the start',
        "opset1 `ConvolutionBackpropData`, as above: with `output_shape`, every `auto_pad` but `same_upper` puts "
        "`total_padding // 2` at the start. Here the total is 10 - 7 = 3: one element cropped at the start.",
        """\
observed = backprop_data([1, 2, 3, 4], 4, [2], [7], auto_pad="valid")
expected = np.array([1.0, 3.0, 3.0, 5.0, 5.0, 7.0, 7.0])  # the full result from its second element""",
        lambda v: not _same(v["observed"], v["expected"]),
        answer=_opset1_text([1, 2, 3, 4], 4, [2], [7], auto_pad="valid"),
    ),
    Finding(
        "openvino",
        "An output_shape past the full result gets its zeros at the end only",
        "opset1 `ConvolutionBackpropData`, as above, with `same_upper`: `pads_end = total_padding // 2`, "
        "`pads_begin = total_padding - pads_end`. Here the total is 9 - 11 = -2: one zero at each end.",
        """\
observed = backprop_data([1, 2, 3, 4], 3, [2], [11], auto_pad="same_upper")
expected = np.array([0.0, 1.0, 1.0, 3.0, 2.0, 5.0, 3.0, 7.0, 4.0, 4.0, 0.0])  # the full result, a zero each side""",
        lambda v: not _same(v["observed"], v["expected"]),
        answer=_opset1_text([1, 2, 3, 4], 3, [2], [11], auto_pad="same_upper"),
    ),
    Finding(
        "openvino",
        "A 1x1 node whose output is as long as its input drops the padding",
        "opset1 `ConvolutionBackpropData` without `output_shape`: *`Y = stride * (X - 1) + ((K - 1) * dilations + 1) "
        "- pads_begin - pads_end + output_padding`*, the window starting at `pads_begin`, whatever the kernel. "
        "The CPU plugin runs a node with kernel 1, stride 1 and `Y = X` as a 1x1 convolution without it.",
        """\
observed = backprop_data([1, 2, 3], 1, [1], pads_begin=[1], pads_end=[0], output_padding=[1])
expected = np.array([2.0, 3.0, 0.0])  # from pads_begin = 1, the output_padding a zero at the end
same_upper = backprop_data([1, 2, 3], 1, [1], [3], auto_pad="same_upper", output_padding=[2])""",
        lambda v: not _same(v["observed"], v["expected"]) and not _same(v["same_upper"], v["expected"]),
        (("same_upper", "the same window by same_upper and output_shape"),),
        answer=_opset1_text([1, 2, 3], 1, [1], pads_begin=[1], pads_end=[0], output_padding=[1]),
    ),
    Finding(
        "openvino",
        "GroupConvolutionBackpropData reads explicit pads with output_shape its own way",
        "opset1 `GroupConvolutionBackpropData` takes `ConvolutionBackpropData`'s attributes with the same "
        "meaning: with `output_shape` the pads are ignored and the start is `total_padding // 2`, here "
        "(11 - 7) // 2 = 2.",
        """\
observed = backprop_data([1, 2, 3, 4], 5, [2], [7], grouped=True, pads_begin=[1], pads_end=[0])
expected = np.array([3.0, 3.0, 6.0, 5.0, 9.0, 7.0, 7.0])  # the full result from its third element
ungrouped = backprop_data([1, 2, 3, 4], 5, [2], [7], pads_begin=[1], pads_end=[0])""",
        lambda v: not _same(v["observed"], v["expected"]) and not _same(v["observed"], v["ungrouped"]),
        (("ungrouped", "the same node as ConvolutionBackpropData"),),
        answer=_opset1_text([1, 2, 3, 4], 5, [2], [7], grouped=True, pads_begin=[1], pads_end=[0]),
    ),
    Finding(
        "openvino",
        "The CPU plugin refuses a GroupConvolutionBackpropData that it runs as ConvolutionBackpropData",
        "opset1 `GroupConvolutionBackpropData` with one group is `ConvolutionBackpropData` on filters with a "
        "leading 1: every attribute the one takes, the other takes.",
        """\
x = ops.parameter([1, 2, 3, 1, 1], ov.Type.f32)
attributes = dict(strides=[3, 2, 1], dilations=[2, 1, 1], auto_pad="valid", output_shape=ops.constant(np.array([12, 4, 1])))
plain = ops.convolution_backprop_data(x, ops.constant(np.ones((2, 1, 3, 3, 1), np.float32)), **attributes)
group = ops.group_convolution_backprop_data(x, ops.constant(np.ones((1, 2, 1, 3, 3, 1), np.float32)), **attributes)
ungrouped = outcome(lambda: list(ov.Core().compile_model(ov.Model([plain], [x]), "CPU").output(0).get_shape()))
observed = outcome(lambda: list(ov.Core().compile_model(ov.Model([group], [x]), "CPU").output(0).get_shape()))""",
        lambda v: isinstance(v["ungrouped"], list) and _error(v["observed"]),
        (("ungrouped", "the same node as ConvolutionBackpropData compiles, output shape"),),
    ),
    Finding(
        "jax",
        "XLA aborts the interpreter on a transposed convolution with a kernel-2, stride-2 axis",
        "`jax.lax.conv_transpose` takes any strides, padding pairs and kernel; XLA's CPU compiler checks the "
        "convolutions its passes write and aborts on an invalid one. Its algebraic simplifier swaps the operands "
        "when the kernel is larger than the input, but takes an axis whose base dilation (the stride) equals a "
        "kernel of 2, with window stride 1 and no padding, for a group axis it need not swap: it keeps that "
        "axis's window of 2 where the swapped kernel, the input, is 4 long. The call is PyTorch's "
        "`ConvTranspose2d(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0))` in `jax.lax` (tconv's converter "
        "writes these arguments).",
        """\
x, w = np.ones((1, 4, 2, 1), np.float32), np.ones((2, 3, 1, 1), np.float32)
observed = np.asarray(jax.lax.conv_transpose(x, w, strides=(2, 1), padding=[(0, 0), (2, 2)],
                                             dimension_numbers=("NHWC", "HWIO", "NHWC")))
expected = np.tile(np.array([1.0, 2.0, 2.0, 1.0])[:, None], (1, 6, 1, 1))  # all of W's full result, H's y_full[1:7]""",
        lambda v: _dead(v["observed"]),
        answer=_jax_definition,
        dies=True,
        again=("with `XLA_FLAGS=--xla_disable_hlo_passes=algsimp` (the simplifier off)",
               {"XLA_FLAGS": "--xla_disable_hlo_passes=algsimp"}),
    ),
]

#: the interpreter a group of reproductions runs in: each one's code in a fresh namespace, its values pickled
_WORKER = """
import pickle, sys, warnings
warnings.filterwarnings("ignore")
with open(sys.argv[1], "rb") as f:
    jobs = pickle.load(f)
results = []
for code, names in jobs:
    namespace = {}
    exec(compile(code, "<finding>", "exec"), namespace)
    results.append({name: namespace[name] for name in names if name in namespace})
with open(sys.argv[2], "wb") as f:
    pickle.dump(results, f)
"""
#: seconds a reproduction may take before it counts as hanging
TIMEOUT = 120


def _death(returncode: int, stderr: str) -> str:
    """How the interpreter died, in words: the signal, and XLA's failed check where it printed one."""
    checks = [line[line.index("Check failed") :].rstrip(": ") for line in stderr.splitlines() if "Check failed" in line]
    return f"the interpreter dies of {signal.Signals(-returncode).name}" + (f" ({checks[0]})" if checks else "")


def _interpreter(findings: list[Finding], env: dict | None = None) -> list[dict]:
    """The values the findings' reproductions set, from one fresh interpreter.

    A finding that ``dies`` runs alone: its death (or hang) is then its ``observed``.
    """
    section = SECTIONS[findings[0].framework]
    alone = len(findings) == 1 and findings[0].dies
    names = [["observed", "expected", *(name for name, _ in f.shown)] for f in findings]
    jobs = [(section.setup + "\n\n" + f.code, n) for f, n in zip(findings, names)]
    with tempfile.TemporaryDirectory() as tmp:
        jobs_path, values_path = os.path.join(tmp, "jobs.pkl"), os.path.join(tmp, "values.pkl")
        with open(jobs_path, "wb") as f:
            pickle.dump(jobs, f)
        try:
            done = subprocess.run([sys.executable, "-c", _WORKER, jobs_path, values_path], capture_output=True,
                                  text=True, timeout=TIMEOUT, env={**os.environ, **section.env, **(env or {})})  # fmt: skip
        except subprocess.TimeoutExpired:
            if alone:
                return [{"observed": f"the interpreter gives no answer within {TIMEOUT} s"}]
            raise
        if done.returncode < 0 and alone:
            return [{"observed": _death(done.returncode, done.stderr)}]
        if done.returncode != 0:
            raise RuntimeError(f"{section.title}'s reproductions failed ({done.returncode}): {done.stderr[-3000:]}")
        with open(values_path, "rb") as f:
            return pickle.load(f)


def run_all() -> dict[str, dict]:
    """The values every :data:`FINDINGS` reproduction set, by title: one interpreter per framework, the deadly ones
    alone; a literal ``expected`` checked against tconv, and ``again``: ``observed`` of the run in that environment."""
    values: dict[str, dict] = {}
    for name in SECTIONS:
        mild = [f for f in FINDINGS if f.framework == name and not f.dies]
        for group in ([mild] if mild else []) + [[f] for f in FINDINGS if f.framework == name and f.dies]:
            values.update((f.title, v) for f, v in zip(group, _interpreter(group)))
    for finding in FINDINGS:
        got = values[finding.title]
        if finding.again is not None:
            again = _interpreter([finding], finding.again[1])[0]
            got["again"] = again.get("observed")
            if "expected" in again:  # a reproduction that dies sets its literal only where it lives
                got.setdefault("expected", again["expected"])
        if finding.answer is not None:
            if "expected" not in got:
                raise AssertionError(f"{finding.title}: no run set the literal expected to check")
            _check_literal(finding.title, got["expected"], finding.answer())
    return values


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    found = {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
    for section in SECTIONS.values():  # without importing them: Paddle must not be imported after TensorFlow
        found.update((package, importlib.metadata.version(package)) for package in section.packages)
    return found


def _entry(number: int, title: str, label: str, text: str, code: str) -> list[str]:
    """A finding's heading, what its source says and its reproduction."""
    said = textwrap.wrap(f"**{label}:** {text}", 110, break_on_hyphens=False)
    return ["", f"### {number}. {title}", "", *said, "", "```python", code, "```", ""]


def _onnx_lines(v: dict[str, str]) -> list[str]:
    lines = [
        "## ONNX: onnx.reference and ONNX Runtime",
        "",
        "Each reproduction's `expected` is the answer of the specification's text (checked against "
        "`tconv.compat.onnx`, which follows the text), and each also runs on the other runtime. tconv reproduces "
        'ONNX Runtime\'s reading on request (`tconv.compat.onnx.conv_transpose(..., behavior="onnxruntime")`), and '
        "`tconv vectors` writes test cases whose expected values come from the definition (docs/vectors.md).",
        "",
        "### Shared setup",
        "",
        "```python",
        ONNX_SETUP.rstrip(),
        "```",
    ]
    for number, finding in enumerate(ONNX_FINDINGS, 1):
        observed, expected = run(finding)
        other = OTHER[finding.runtime]
        theirs, _ = run(finding, other)
        name = NAMES[finding.runtime]
        status = (f"fixed in {finding.runtime} {v[finding.runtime]} (it now gives the spec's answer)"
                  if _same(observed, expected) else f"reproduces with {finding.runtime} {v[finding.runtime]}")  # fmt: skip
        lines += [
            *_entry(number, finding.title, "The spec", finding.spec, finding.code),
            f"- {name} gives: `{_text(observed)}`",
            f"- the spec's answer: `{_text(expected)}`",
            f"- {NAMES[other]} {v[other]} on the same model: "
            + ("the spec's answer" if _same(theirs, expected) else f"`{_text(theirs)}`"),
            f"- status: {status}",
        ]
    return lines


def _section_lines(name: str, v: dict[str, str], values: dict[str, dict], first: int) -> list[str]:
    section = SECTIONS[name]
    installed = ", ".join(f"{package} {v[package]}" for package in section.packages)
    lines = ["", f"## {section.title} ({installed}, CPU)", "", "### Setup", "", "```python", section.setup.rstrip(), "```"]
    for number, finding in enumerate((f for f in FINDINGS if f.framework == name), first):
        got = values[finding.title]
        lines += [
            *_entry(number, finding.title, "The documentation", finding.claim, finding.code),
            f"- {section.title} gives: `{_text(got['observed'])}`",
            *(f"- {label}: `{_text(got.get(key))}`" for key, label in finding.shown),
        ]
        if "expected" in got:
            lines.append(f"- the documented answer: `{_text(got['expected'])}`")
        if finding.again is not None:
            same = "expected" in got and _same(got["again"], got["expected"])
            lines.append(f"- {finding.again[0]}: " + ("the documented answer" if same else f"`{_text(got['again'])}`"))
        status = "reproduces" if finding.reproduces(got) else "no longer reproduces"
        lines.append(f"- status: {status} with {installed}")
    return lines


def render(values: dict[str, dict] | None = None) -> str:
    """The page; ``values`` are :func:`run_all`'s (run here when not given)."""
    values = run_all() if values is None else values
    v = versions()
    lines = [
        "# Where real implementations disagree with their own documentation",
        "",
        "Generated by `python scripts/peer_findings.py` from runs against the installed frameworks "
        f"({', '.join(f'{package} {version}' for package, version in v.items())}); `tests/test_peer_findings.py` "
        "fails when this page is not what a fresh run gives, or when a finding stops reproducing. Each "
        "reproduction is minimal and runs as written after its section's setup, without tconv; every result "
        "below is what that run gave. Where a reproduction writes the documented answer as a literal "
        "(`expected`), the script checks it against tconv's reading of the same text. PaddlePaddle's, MLX's, "
        "OpenVINO's and JAX's reproductions run in fresh interpreters: importing Paddle after TensorFlow crashes "
        "the interpreter, and some reproductions kill it (that death is the result given).",
        "",
        *_onnx_lines(v),
    ]
    first = len(ONNX_FINDINGS) + 1
    for name in SECTIONS:
        lines += _section_lines(name, v, values, first)
        first += sum(f.framework == name for f in FINDINGS)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/peer-findings.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = PAGE.read_text() if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python scripts/peer_findings.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)} ({len(ONNX_FINDINGS) + len(FINDINGS)} findings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
