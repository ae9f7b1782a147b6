"""benchmarks/models.py in quick mode: the three decoders, tiny, through tconv and every peer.

No timing is asserted: the run must write its tables, every contender must time
the model, and tconv (fused and not) must agree with PyTorch within 1e-4.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(f"tconv_benchmarks_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass looks its module up while it is being defined
    spec.loader.exec_module(module)
    return module


def test_quick_decoders_run_every_contender_and_match_torch(tmp_path):
    models = load("models")
    text = models.main(["--quick", "--repeats", "1", "--out", str(tmp_path)])
    assert (tmp_path / "models.md").read_text().strip() == text.strip()
    assert "| " + " | ".join(models.COLUMNS) + " |" in text
    assert "| " + " | ".join(models.SUMMARY_COLUMNS) + " |" in text
    every = text.split("## Every contender")[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in every.splitlines()
            if line.startswith("| ") and not line.startswith("| model")]
    got = {(r[0], r[1]): r for r in rows}
    names = [d.name for d in models.DECODERS]
    impls = ("tconv", "tconv unfused", *models.PEERS)
    assert set(got) == {(m, i) for m in names for i in impls}
    col = {c: i for i, c in enumerate(models.COLUMNS)}
    for (model, impl), row in got.items():
        assert float(row[col["ms"]]) > 0 and float(row[col["GFLOP/s"]]) > 0, (model, impl)
        err = float(row[col["rel err vs torch"]])
        assert err <= models.TOLERANCE, (model, impl, err)
    assert "(f32)" in got[("dcgan", "openvino")][col["note"]]


def test_fused_decoders_have_no_batchnorm_left_and_count_the_definitions_flops():
    models = load("models")
    from tconv import nn

    source, x = models.prepared(models.DECODERS[1], True, 0)  # the U-Net: 8 BatchNorms to fold
    fused = nn.fuse(nn.from_torch(source))
    assert len(fused) == 4 * 7 - 8
    # 4 blocks: ConvTranspose2d k2 s2 (every input meets C_out * 4 weights), two 3x3 convs at the new size
    c, n, expected = 32, 2, 0
    for _ in range(4):
        expected += 2 * (c * n * n) * (c // 2) * 4
        c, n = c // 2, 2 * n
        expected += 2 * 2 * (c * n * n) * c * 9
    assert models.definition_flops(fused, x.numpy()) == expected
