"""Write docs/peer-findings.md: where a real implementation disagrees with its own specification.

Usage::

    python scripts/peer_findings.py            # rewrites docs/peer-findings.md
    python scripts/peer_findings.py --check    # exit 1 if the checked-in page is not what this run gives

Each finding is a minimal reproduction, run here against the installed
runtime exactly as the page shows it (after the shared setup), next to the
answer the specification's text gives. That answer is written into the
reproduction as a literal, so anyone can run it without tconv; this script
also checks it against ``tconv.compat.onnx`` (the spec text, ``behavior="spec"``)
so a wrong literal cannot slip in. A finding the installed runtime no longer
shows is marked fixed, with the version.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "peer-findings.md"

SETUP = '''\
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
class Finding:
    title: str
    runtime: str  # "onnx" (onnx.reference) or "onnxruntime": whose version the page records
    spec: str  # what the specification says, quoted or paraphrased with its source
    code: str  # sets ``observed`` and ``expected`` (the spec's answer, a literal)
    spec_answer: Callable[[], np.ndarray]  # the same answer from tconv's reading of the spec text


def _spec(*args, **kwargs) -> Callable[[], np.ndarray]:
    from tconv.compat import onnx as compat_onnx

    return lambda: compat_onnx.conv_transpose(*args, **kwargs)


_F32 = np.float32

FINDINGS = [
    Finding(
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
    Finding(
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
    Finding(
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
    Finding(
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
    Finding(
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
    Finding(
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


def run(finding: Finding, runtime: str | None = None) -> tuple[object, np.ndarray]:
    """Run the reproduction after the shared setup (on ``runtime``'s runner instead, when given).

    Returns ``(observed, expected)``.
    """
    code = finding.code
    if runtime is not None:
        code = code.replace(f"outcome({RUNNERS[finding.runtime]},", f"outcome({RUNNERS[runtime]},")
    namespace: dict = {}
    exec(compile(SETUP + "\n" + code, finding.title, "exec"), namespace)
    expected = namespace["expected"]
    spec = finding.spec_answer()
    if spec.shape != expected.shape or not np.allclose(spec, expected):
        raise AssertionError(f"{finding.title}: the literal spec answer {expected.tolist()} is not the spec's {spec.tolist()}")
    return namespace["observed"], expected


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def render() -> str:
    v = versions()
    lines = [
        "# Where real implementations disagree with their own specification",
        "",
        "Generated by `python scripts/peer_findings.py` against the installed runtimes "
        f"(onnx {v['onnx']}, onnxruntime {v['onnxruntime']}); `tests/test_peer_findings.py` fails when this page is "
        "not what a fresh run gives. Each reproduction is minimal and runs as written after the shared setup, "
        "without tconv; its `expected` is the answer of the specification's text (checked against "
        "`tconv.compat.onnx`, which follows the text). tconv reproduces ONNX Runtime's reading on request "
        '(`tconv.compat.onnx.conv_transpose(..., behavior="onnxruntime")`), and `tconv vectors` writes test cases '
        "whose expected values come from the definition (docs/vectors.md).",
        "",
        "## Shared setup",
        "",
        "```python",
        SETUP.rstrip(),
        "```",
    ]
    for number, finding in enumerate(FINDINGS, 1):
        observed, expected = run(finding)
        other = OTHER[finding.runtime]
        theirs, _ = run(finding, other)
        name = NAMES[finding.runtime]
        status = (f"fixed in {finding.runtime} {v[finding.runtime]} (it now gives the spec's answer)"
                  if _same(observed, expected) else f"reproduces with {finding.runtime} {v[finding.runtime]}")  # fmt: skip
        lines += [
            "",
            f"## {number}. {finding.title}",
            "",
            *textwrap.wrap(f"**The spec:** {finding.spec}", 110, break_on_hyphens=False),
            "",
            "```python",
            finding.code,
            "```",
            "",
            f"- {name} gives: `{_text(observed)}`",
            f"- the spec's answer: `{_text(expected)}`",
            f"- {NAMES[other]} {v[other]} on the same model: "
            + ("the spec's answer" if _same(theirs, expected) else f"`{_text(theirs)}`"),
            f"- status: {status}",
        ]
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
    print(f"wrote {PAGE.relative_to(ROOT)} ({len(FINDINGS)} findings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
