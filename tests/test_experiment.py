"""A shortened run of examples/learned_upsampling.py: learned upsampling beats nearest on its training images."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("skimage")

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "examples", "learned_upsampling.py")
TRAIN = ("astronaut", "chelsea")


@pytest.fixture(scope="module")
def lu():
    spec = importlib.util.spec_from_file_location("learned_upsampling", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def psnr_by_method(results):
    out = {}
    for r in results:
        out.setdefault(r.method, []).append(r.psnr)
    return {m: float(np.mean(v)) for m, v in out.items()}


def test_learned_beats_nearest_on_training_images(lu):
    results, outputs = lu.run(
        factors=(2,), models=("tconv", "stack"), steps=15, train_names=TRAIN, test_names=TRAIN, report=None
    )
    psnr = psnr_by_method(results)
    assert psnr["tconv"] > psnr["nearest"] + 0.5
    assert psnr["stack"] > psnr["nearest"]
    assert outputs[2]["astronaut"]["stack"].shape == lu.load_image("astronaut").shape
    table = lu.table(results, TRAIN, lu.INTERPOLATIONS + ("tconv", "stack"))
    assert "| **mean** |" in table and table.count("**") >= 4


def test_training_lowers_the_loss_and_is_seeded(lu):
    images = [lu.load_image(name) for name in TRAIN]
    pairs = [(lu.downscale(img, 2), img) for img in images]
    low, high = lu.sample_batch(pairs, 2, 32, np.random.default_rng(9))
    loss = lu.nn.MSELoss()
    model = lu.build_model("stack", 2, seed=3)
    before = loss(model(low), high)
    losses = lu.train(model, pairs, 2, 16, seed=4, report=None)
    assert loss(model(low), high) < before
    again = lu.train(lu.build_model("stack", 2, seed=3), pairs, 2, 4, seed=4, report=None)
    assert again == losses[:4]  # same seeds, same numbers


def test_refuses_images_that_would_be_downloaded(lu, monkeypatch):
    monkeypatch.setitem(lu.FILES, "camera", "not_in_the_wheel.png")
    with pytest.raises(FileNotFoundError, match="refusing to fetch"):
        lu.load_image("camera")


def test_runs_without_torch_or_keras():
    code = (
        "import runpy, sys; sys.argv = ['x']; "
        f"m = runpy.run_path({SCRIPT!r}); "
        "m['run'](factors=(2,), models=('tconv',), steps=2, train_names=('astronaut',), test_names=('camera',), "
        "report=None); "
        "assert not {'torch', 'keras', 'tensorflow', 'jax'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
