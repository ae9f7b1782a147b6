"""``winograd`` beside the algorithm ``auto`` ran before it existed, ``auto`` now, PyTorch and ONNX Runtime.

Usage (from the repository root)::

    python benchmarks/winograd.py                       # every case, 7 rounds
    python benchmarks/winograd.py --cases dcgan,pix2pix --rounds 9
    python benchmarks/winograd.py --errors-only         # the float32 error per case, no timing

Per case, in one process and interleaved round by round (each round in a new seeded
order, a pause before each call, as ``benchmarks/run.py`` does), the median seconds of:
``tconv.winograd``; ``tconv.before``, the algorithm the cost model ranks first among
the others (what ``auto`` ran before ``winograd`` was registered); ``tconv.auto``; and
the installed peers of ``peers.py`` among PyTorch and ONNX Runtime. It prints the
medians, the effective GFLOP/s by the definition's multiplies (``Case.flops``), the
tiles ``winograd`` chose per axis and its float32 error against the float64 ``scatter``
reference (``max|y - ref| / max(1, max|ref|)``), and that error at the largest tile
``winograd.MAX_TILE`` allows on every axis (beyond ``MAX_POINTS`` in 3-D: a margin check).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import Case, select  # noqa: E402
from peers import PEERS, Refused  # noqa: E402

import tconv  # noqa: E402
from tconv import algorithms  # noqa: E402
from tconv.algorithms import winograd  # noqa: E402
from tconv.algorithms.threads import num_threads  # noqa: E402
from tconv.ops import transpose_inputs  # noqa: E402


def errors(case: Case, x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """``winograd``'s float32 error against the float64 definition: at the tiles it chooses, and at
    the largest tile :data:`winograd.MAX_TILE` allows on every axis."""
    kw = case.kwargs()
    geom = transpose_inputs("bench", x, w, None, **kw)[3]
    ref = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), algorithm="scatter", **kw)
    scale = max(1.0, float(np.abs(ref).max()))
    chosen = tconv.conv_transpose(x, w, algorithm="winograd", **kw)
    largest = winograd.conv_transpose(x, w, geom, tuple(winograd.MAX_TILE.get(a.shifts, 1) for a in geom.axes))
    return float(np.abs(chosen - ref).max() / scale), float(np.abs(largest - ref).max() / scale)


def contenders(case: Case, x: np.ndarray, w: np.ndarray, peers: list[str]) -> dict:
    kw = case.kwargs()
    geom = transpose_inputs("bench", x, w, None, **kw)[3]
    before = next(n for n in algorithms.ranked(x.shape, w.shape, geom) if n != "winograd")
    runs = {
        "tconv.winograd": lambda: tconv.conv_transpose(x, w, algorithm="winograd", **kw),
        f"tconv.before ({before})": lambda: tconv.conv_transpose(x, w, algorithm=before, **kw),
        f"tconv.auto ({algorithms.choose(x.shape, w.shape, geom)})": lambda: tconv.conv_transpose(x, w, **kw),
    }
    for peer in peers:
        try:
            run, _convert, _note = PEERS[peer](case, x, w, num_threads())
        except (ImportError, Refused):
            continue
        runs[peer] = run
    return runs


def measure(runs: dict, rounds: int, pause: float, seed: int) -> dict[str, float]:
    for run in runs.values():  # warm-up: compilation, caches, the peers' sessions
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            time.sleep(pause)
            t = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help="comma-separated substrings of case names (default: all)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pause", type=float, default=0.25)
    parser.add_argument("--peers", default="torch,onnxruntime")
    parser.add_argument("--errors-only", action="store_true")
    args = parser.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    print(f"kernels: {algorithms.backend()}, threads: {num_threads()}")
    head = "| case | layer | winograd tiles | float32 error | error, largest tiles |"
    if not args.errors_only:
        head += " winograd ms | GFLOP/s | before ms | auto ms | " + " | ".join(f"{p} ms" for p in peers) + \
            " | winograd vs best peer |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for i, case in enumerate(select(args.cases)):
        rng = np.random.default_rng(i)
        x = rng.standard_normal(case.x_shape, dtype=np.float32)
        w = rng.standard_normal(case.w_shape, dtype=np.float32)
        geom = transpose_inputs("bench", x, w, None, **case.kwargs())[3]
        tiles = "x".join(str(t.m) for t in winograd.plan(x.shape, w.shape, geom).transforms)
        err, err_largest = errors(case, x, w)
        row = f"| {case.name} | {case.describe()} | {tiles} | {err:.1e} | {err_largest:.1e} |"
        if not args.errors_only:
            med = measure(contenders(case, x, w, peers), args.rounds, args.pause, i)
            names = list(med)
            peer_ms = [1e3 * med[p] if p in med else float("nan") for p in peers]
            best = min((med[p] for p in peers if p in med), default=float("nan"))
            label = [name.split("(")[-1].rstrip(")") for name in names]
            row += (f" {1e3 * med[names[0]]:.1f} | {case.flops / med[names[0]] / 1e9:.0f} | {label[1]} "
                    f"{1e3 * med[names[1]]:.1f} | {label[2]} {1e3 * med[names[2]]:.1f} | "
                    + " | ".join(f"{v:.1f}" for v in peer_ms) + f" | {best / med[names[0]]:.2f} |")
        print(row, flush=True)


if __name__ == "__main__":
    main()
