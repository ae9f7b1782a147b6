"""``auto`` keeps its choices: the algorithm it picks for every benchmark case and a seeded set of geometries.

``tests/data/auto_choices.json`` holds, per geometry, what ``choose`` answered
with the compiled kernels and with ``TCONV_KERNELS=numpy``. A change of the cost
model that is meant to change a choice rewrites the file on purpose::

    PYTHONPATH=src python tests/test_auto_choice.py

and says so in its commit; any other change of an answer is a regression.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tconv.algorithms import choose
from tconv.geometry import Axis, Geometry, build_transpose, transpose_geometry

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "auto_choices.json"
PATHS = ("numba", "numpy")


def _bench_cases():
    spec = importlib.util.spec_from_file_location("tconv_benchmarks_cases", HERE.parent / "benchmarks" / "cases.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module of the class they decorate
    spec.loader.exec_module(module)
    return module.CASES


def _entry(name: str, x_shape, w_shape, geom: Geometry) -> dict:
    axes = [[a.size, a.kernel, a.stride, a.dilation, a.start, a.length] for a in geom.axes]
    return dict(name=name, x_shape=list(x_shape), w_shape=list(w_shape), axes=axes, groups=geom.groups)


def _geometry(entry: dict) -> Geometry:
    return Geometry(tuple(Axis(*a) for a in entry["axes"]), entry["groups"])


def _random_entries(count: int = 300, seed: int = 16) -> list[dict]:
    """Seeded geometries: 1-3 spatial axes, groups, dilation, asymmetric padding, output_padding,
    batch sizes, and now and then a window of another convention (negative start, past the end).

    Only their shapes matter (``choose`` runs nothing), so channels and sizes span real layers'."""
    rng = np.random.default_rng(seed)
    max_size = {1: 512, 2: 64, 3: 16}
    entries: list[dict] = []
    while len(entries) < count:
        nd = int(rng.integers(1, 4))
        n = tuple(int(v) for v in rng.integers(1, max_size[nd] + 1, nd))
        k = tuple(int(rng.choice([1, 2, 3, 4, 5, 7, 9, 16, 25, 64], p=[.05, .15, .2, .2, .1, .08, .08, .06, .04, .04]))
                  for _ in range(nd))
        s = tuple(int(rng.choice([1, 2, 3, 4, 8, 32], p=[.15, .45, .15, .15, .06, .04])) for _ in range(nd))
        if rng.random() < 0.12:  # large kernels at stride 1: where the transforms win
            s = (1,) * nd
            k = tuple(int(rng.choice([15, 25, 31, 64])) for _ in range(nd))
        d = tuple(int(rng.choice([1, 1, 1, 2, 3])) for _ in range(nd))
        op = tuple(int(rng.integers(0, max(si, di))) if rng.random() < 0.3 else 0 for si, di in zip(s, d))
        pads = tuple((int(rng.integers(0, ki * di)), int(rng.integers(0, ki * di))) if rng.random() < 0.4
                     else (p := int(rng.integers(0, (ki * di + 1) // 2 + 1)), p) for ki, di in zip(k, d))
        groups = int(rng.choice([1, 1, 1, 2, 4, 0]))
        c_in = int(2 ** rng.integers(0, 10))
        c_out = int(2 ** rng.integers(0, 10))
        if groups == 0:  # depthwise
            groups, c_out = c_in, c_in * int(rng.choice([1, 1, 2]))
        if c_in % groups or c_out % groups:
            continue
        batch = int(rng.choice([1, 1, 2, 4, 8, 16, 64, 256]))
        try:
            geom = build_transpose("test", n, k, s, d, pads, op, groups)
        except ValueError:
            continue
        if rng.random() < 0.1:  # another convention's window: starting before y_full, or ending past it
            geom = Geometry(tuple(Axis(a.size, a.kernel, a.stride, a.dilation, a.start - int(rng.integers(0, 3)),
                                       a.length + int(rng.integers(0, 4))) for a in geom.axes), groups)
        x_shape = (batch, c_in) + n
        w_shape = (c_in, c_out // groups) + k
        entries.append(_entry(f"random_{len(entries)}", x_shape, w_shape, geom))
    return entries


def entries() -> list[dict]:
    """Every benchmark case (full size and its ``--quick`` shape), then the seeded geometries."""
    out = []
    for case in _bench_cases():
        for name, c in ((case.name, case), (case.name + "_tiny", case.tiny())):
            kw = c.kwargs()
            geom = transpose_geometry("bench", c.size, c.kernel, **{k: v for k, v in kw.items() if k != "groups"},
                                      groups=c.groups)
            out.append(_entry(name, c.x_shape, c.w_shape, geom))
    return out + _random_entries()


def _answers(data: list[dict]) -> list[str]:
    """What ``choose`` says for each entry, on the path ``TCONV_KERNELS`` selects now."""
    return [choose(tuple(e["x_shape"]), tuple(e["w_shape"]), _geometry(e)) for e in data]


@pytest.mark.parametrize("path", PATHS)
def test_auto_picks_what_it_picked_before(path, monkeypatch):
    monkeypatch.setenv("TCONV_KERNELS", path)
    data = json.loads(DATA.read_text())["geometries"]
    got = _answers(data)
    changed = [(e["name"], e["choice"][path], g) for e, g in zip(data, got) if e["choice"][path] != g]
    assert not changed, f"{len(changed)} choices changed (name, before, now): {changed[:20]}"


def test_the_record_covers_every_benchmark_case_and_each_choice():
    data = json.loads(DATA.read_text())["geometries"]
    names = {e["name"] for e in data}
    assert all(c.name in names and c.name + "_tiny" in names for c in _bench_cases())
    for path in PATHS:
        assert {e["choice"][path] for e in data} == {"col2im", "subpixel", "phase", "fft", "winograd"}


def _write() -> None:
    import os
    import subprocess

    found = {}
    for path in PATHS:  # a fresh process per setting: nothing cached from the other
        code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import test_auto_choice as t; "
                "print(json.dumps(t._answers(t.entries())))")
        out = subprocess.run([sys.executable, "-c", code, str(HERE)], check=True, capture_output=True,
                             text=True, env=dict(os.environ, TCONV_KERNELS=path)).stdout
        found[path] = json.loads(out)
    data = entries()
    for i, e in enumerate(data):
        e["choice"] = {path: found[path][i] for path in PATHS}
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps(dict(geometries=data), indent=None, separators=(",", ":")).replace("},{", "},\n{")
                    + "\n")


if __name__ == "__main__":
    _write()
