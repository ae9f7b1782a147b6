"""The benchmark suite in quick mode, and the fast paths it measures (threads, chunks, depthwise).

No timing is asserted: the suite must run, write its table with the expected
columns, and every implementation must agree with the float64 scatter reference.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import tconv
from tconv.algorithms import threads, col2im
from support import assert_close

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def load_runner():
    spec = importlib.util.spec_from_file_location("tconv_benchmarks_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fast_contenders_run_the_extra_rounds(tmp_path):
    run = load_runner()
    run.main(["--quick", "--cases", "fsrcnn", "--peers", "torch", "--algorithms", "auto,col2im,zero_insert",
              "--repeats", "1", "--fast-repeats", "3", "--warmup", "1", "--no-chart", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    rounds = {r["impl"]: r["rounds ms"] for r in rows if "rounds ms" in r}
    assert set(rounds) == {"tconv.auto", "tconv.col2im", "tconv.zero_insert", "torch"}
    for impl, times in rounds.items():  # after one round: three in all when below FAST_S, else one
        assert len(times) == (3 if times[0] < run.FAST_S * 1e3 else 1), (impl, times)
    assert any(len(times) == 3 for times in rounds.values())


def test_quick_suite_writes_tables_within_tolerance(tmp_path):
    run = load_runner()
    text = run.main([
        "--quick", "--cases", "unet_up,depthwise,dilated", "--peers", "torch,onnxruntime",
        "--repeats", "1", "--warmup", "1", "--out", str(tmp_path),
    ])
    table = (tmp_path / "table.md").read_text()
    assert text.strip() == table.strip()
    assert "| " + " | ".join(run.COLUMNS) + " |" in table
    assert "| " + " | ".join(run.SUMMARY_COLUMNS) + " |" in table
    assert (tmp_path / "speed.png").stat().st_size > 0
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["rows"]
    impls = {r["impl"] for r in rows}
    assert {f"tconv.{a}" for a in tconv.ALGORITHMS} <= impls
    assert {"torch", "onnxruntime"} <= impls
    measured = [r for r in rows if r["rel err"] != ""]
    assert len(measured) >= 3 * (len(tconv.ALGORITHMS) + 1)  # matrix may decline, no peer refuses these
    assert all(r["rel err"] <= run.TOLERANCE for r in measured)
    assert all(r["ms"] > 0 and r["GFLOP/s"] > 0 for r in measured)
    assert set(results["targets"]) == {
        "geomean auto vs best peer", "worst auto vs best peer",
        "GEMM-bound cases >= 70 % of GEMM (the run's best GEMM median)",
        "GEMM-bound cases >= 70 % of GEMM (the GEMM timed in the case's own rounds)",
        "auto extra memory <= in + out", "every result within 1e-4 of float64 scatter",
    }
    # each case's GEMM share against the GEMM of its own rounds, never above the run's best
    for row in results["summary"]:
        assert row["case GEMM GFLOP/s"] > 0
        auto = next(r for r in rows if r["case"] == row["case"] and r["impl"] == "tconv.auto")
        assert abs(row["% case GEMM"] - 100 * auto["GFLOP/s"] / row["case GEMM GFLOP/s"]) < 1e-6 * row["% case GEMM"]
        assert row["% case GEMM"] >= row["% GEMM"] * (1 - 1e-9)
    assert results["targets"]["every result within 1e-4 of float64 scatter"] is True


def test_every_case_shrinks_to_a_valid_geometry():
    import sys

    sys.path.insert(0, str(BENCH))
    from cases import CASES

    for case in CASES:
        for c in (case, case.tiny()):
            assert tconv.output_size(c.size, c.kernel, stride=c.stride, padding=c.padding,
                                     output_padding=c.output_padding, dilation=c.dilation) == c.out_size
            assert c.flops == 2 * c.batch * c.c_in * (c.c_out // c.groups) * np.prod(c.size) * np.prod(c.kernel)


F = torch.nn.functional
TORCH = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

# (x shape, w shape, kwargs): big enough to take col2im's threaded, chunked and depthwise paths
MEDIUM = [
    ((6, 16, 20, 20), (16, 8, 4, 4), dict(stride=2, padding=1)),
    ((1, 24, 40, 40), (24, 12, 5, 5), dict(stride=2, padding=2, output_padding=1)),
    ((4, 32, 64), (32, 16, 16), dict(stride=8, padding=4)),
    ((3, 12, 12, 12), (12, 6, 2, 2), dict(stride=2)),  # k == s: assignments, no additions
    ((4, 12, 40, 40), (12, 1, 4, 4), dict(stride=2, padding=1, groups=12)),  # depthwise
    ((1, 12, 64, 64), (12, 2, 3, 3), dict(stride=2, padding=2, output_padding=1, dilation=2, groups=12)),
    ((2, 8, 8, 8, 8), (8, 4, 4, 4, 4), dict(stride=2, padding=1)),
    # long kernels along the last axis: additions by runs of adjacent taps
    ((1, 5, 12, 12), (5, 5, 16, 16), dict(stride=8, padding=4)),
    ((2, 6, 9, 10), (6, 3, 9, 11), dict(stride=(3, 5), padding=(2, 4), output_padding=(1, 2))),
    ((2, 4, 10), (4, 2, 9), dict(stride=8, dilation=2, padding=3, output_padding=1)),
]


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("chunk", [None, 4096])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", MEDIUM)
def test_col2im_paths_match_torch(monkeypatch, threads, chunk, x_shape, w_shape, kwargs):
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    if chunk:
        monkeypatch.setattr(col2im, "CHUNK_BYTES", chunk)
    rng = np.random.default_rng(len(x_shape) * 100 + x_shape[1])
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
    ref = TORCH[len(x_shape) - 2](torch.from_numpy(x), torch.from_numpy(w), **kwargs).numpy()
    assert_close(y, ref, np.float32)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", MEDIUM)
def test_auto_and_phase_match_float64_scatter(x_shape, w_shape, kwargs):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    ref = tconv.conv_transpose(x, w, algorithm="scatter", **kwargs)
    for name in ("auto", "phase"):
        assert_close(tconv.conv_transpose(x, w, algorithm=name, **kwargs), ref)


def test_threads_follow_threadpoolctl_and_the_environment(monkeypatch):
    from threadpoolctl import threadpool_limits

    monkeypatch.delenv("TCONV_NUM_THREADS", raising=False)
    with threadpool_limits(1):
        assert threads.num_threads() == 1
    monkeypatch.setenv("TCONV_NUM_THREADS", "3")
    assert threads.num_threads() == 3
    monkeypatch.setenv("TCONV_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="TCONV_NUM_THREADS"):
        threads.num_threads()


def test_parallel_for_runs_every_part_and_propagates_errors(monkeypatch):
    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    seen = []
    threads.parallel_for(seen.append, range(5))
    assert sorted(seen) == list(range(5))

    def boom(part):
        raise RuntimeError(f"part {part}")

    with pytest.raises(RuntimeError, match="part"):
        threads.parallel_for(boom, range(2))


def test_spread_gives_every_item_to_one_worker_with_blas_on_one_thread(monkeypatch):
    from threadpoolctl import threadpool_info

    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    blas_before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    seen, workers, inside = [], [], []

    def start():
        mine = []  # each worker's own state
        workers.append(mine)

        def work(item):
            mine.append(item)
            seen.append(item)
            inside.append((threads.num_threads(), [lib.num_threads for lib in threads.blas_libraries()]))

        return work

    threads.spread(start, list(range(9)), 2)
    assert sorted(seen) == list(range(9)) and len(workers) == 2
    assert sorted(sum(workers, [])) == list(range(9))  # no item done twice
    assert all(threads == 1 and all(n == 1 for n in blas) for threads, blas in inside)
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == blas_before
    assert threads.num_threads() == 2

    def failing():
        def work(item):
            if item == 3:
                raise RuntimeError("item 3")
        return work

    with pytest.raises(RuntimeError, match="item 3"):
        threads.spread(failing, list(range(6)), 2)
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == blas_before
    one = []
    threads.spread(lambda: one.append, [1, 2], 1)  # one worker: in the calling thread, in order
    assert one == [1, 2]


def test_inputs_are_not_mutated_and_output_is_contiguous():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 8, 16, 16), dtype=np.float32)
    w = rng.standard_normal((8, 4, 4, 4), dtype=np.float32)
    x0, w0 = x.copy(), w.copy()
    for name in ("col2im", "phase", "auto"):
        y = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm=name)
        assert y.flags.c_contiguous and y.dtype == np.float32
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
