"""The checked-in referee data: well formed, and current (a sample regenerated with the real frameworks)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import tconv
from tconv.referee import FRAMEWORKS, PARAMETERS, disagreements

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "referee.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("referee_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _key(layer: dict) -> tuple:
    return tuple(layer[name] for name in PARAMETERS)


def test_rows_are_dicts_of_the_documented_columns():
    rows = disagreements()
    assert rows and tconv.disagreements() == rows
    for row in rows:
        assert list(row) == list(PARAMETERS + FRAMEWORKS)
        assert all(isinstance(row[name], int) for name in ("n", "k", "s", "d"))
        assert all(row[f] in ("refused", "n/a", "other") or "@" in row[f] for f in FRAMEWORKS)
        assert len({row[f] for f in FRAMEWORKS if row[f] != "n/a"}) > 1, row
    assert {row["concept"] for row in rows} == {"same", "valid", "same+output_padding", "padding=p", "output_shape=L"}


def test_file_is_what_the_script_writes_for_its_grid(script):
    rows = disagreements()
    grid_keys = {_key(layer) for layer in script.grid()}
    assert all(_key(row) in grid_keys for row in rows)
    text = (Path(tconv.__file__).parent / "data" / "disagreements.csv").read_text(encoding="utf-8")
    assert script.to_csv(rows) == text


# stride-1 dilation only: TensorFlow's CPU acceptance of dilation > 1 depends on how it was first imported (oneDNN)
SAMPLE = [
    dict(concept="same", k=3, s=2, d=1),
    dict(concept="same", k=1, s=3, d=1),
    dict(concept="valid", k=1, s=2, d=1),
    dict(concept="valid", k=3, s=2, d=1),  # everyone agrees: not in the file
    dict(concept="same+output_padding", k=4, s=2, d=1, output_padding=1),
    dict(concept="padding=p", k=3, s=2, d=1, padding=1, output_padding=1),
    dict(concept="padding=p", k=4, s=2, d=1, padding=1, output_padding=0),
    dict(concept="output_shape=L", k=1, s=3, d=1, output_shape=9),
    dict(concept="output_shape=L", k=3, s=2, d=1, output_shape=5),
]


def test_a_regenerated_sample_matches_the_file(script):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    pytest.importorskip("jax")
    pytest.importorskip("onnxruntime")
    by_key = {_key(row): row for row in disagreements()}
    layers = [
        layer
        for layer in script.grid()
        if any(all(layer[name] == value for name, value in wanted.items()) for wanted in SAMPLE)
    ]
    assert len(layers) == len(SAMPLE)
    for layer in layers:
        row = script.referee(layer)
        if script.disagrees(row):
            assert by_key.get(_key(layer)) == row, f"out of date, run python scripts/referee.py: {row}"
        else:
            assert _key(layer) not in by_key, row


@pytest.mark.slow
def test_the_whole_file_is_current():
    # in a fresh process: TensorFlow fixes its oneDNN setting (which decides what it accepts)
    # when first imported, and another test module may already have imported it here
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
