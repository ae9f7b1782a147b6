"""docs/peer-findings.md is what scripts/peer_findings.py gives against the installed frameworks, and every finding
on it still reproduces."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
for _name in ("paddle", "mlx", "openvino", "jax"):  # run by the script in their own interpreters: only present here
    if importlib.util.find_spec(_name) is None:
        pytest.skip(f"{_name} is not installed: the page's findings need it", allow_module_level=True)

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "peer_findings.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("peer_findings_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def values(script):
    """One run of every PaddlePaddle, MLX, OpenVINO and JAX reproduction (a few seconds of fresh interpreters)."""
    return script.run_all()


def test_the_page_is_up_to_date(script, values):
    assert script.PAGE.read_text() == script.render(values), "out of date: run python scripts/peer_findings.py"


def test_every_onnx_finding_disagrees_with_the_spec_and_the_other_runtime_agrees(script):
    for finding in script.ONNX_FINDINGS:
        observed, expected = script.run(finding)
        assert not script._same(observed, expected), f"fixed now? {finding.title}"
        theirs, _ = script.run(finding, script.OTHER[finding.runtime])
        assert script._same(np.asarray(theirs), expected), finding.title


def test_every_other_finding_still_reproduces(script, values):
    assert {f.framework for f in script.FINDINGS} == set(script.SECTIONS)
    for finding in script.FINDINGS:
        assert finding.reproduces(values[finding.title]), f"fixed now? {finding.framework}: {finding.title}"


def test_a_reproduction_that_kills_its_interpreter_is_reported_as_its_death(script):
    finding = script.Finding("mlx", "a deliberate SIGABRT", "", "import os\nos.abort()", script._dead, dies=True)
    (got,) = script._interpreter([finding])
    assert got == {"observed": "the interpreter dies of SIGABRT"}
    with pytest.raises(RuntimeError, match="reproductions failed"):  # one that should not die is an error
        script._interpreter([script.Finding("mlx", "t", "", "import os\nos.abort()", script._dead)])
