"""docs/peer-findings.md is what scripts/peer_findings.py gives against the installed runtimes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "peer_findings.py"


def _script():
    spec = importlib.util.spec_from_file_location("peer_findings_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_the_page_is_up_to_date():
    script = _script()
    assert script.PAGE.read_text() == script.render(), "out of date: run python scripts/peer_findings.py"


def test_every_finding_disagrees_with_the_spec_and_the_other_runtime_agrees():
    script = _script()
    for finding in script.FINDINGS:
        observed, expected = script.run(finding)
        assert not script._same(observed, expected), f"fixed now? {finding.title}"
        theirs, _ = script.run(finding, script.OTHER[finding.runtime])
        assert script._same(np.asarray(theirs), expected), finding.title
