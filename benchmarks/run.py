"""Benchmark suite: tconv's algorithms beside PyTorch, ONNX Runtime, OpenVINO, TensorFlow and JAX.

Usage (from the repository root)::

    python benchmarks/run.py                      # every case, every algorithm, every installed peer
    python benchmarks/run.py --quick              # tiny shapes, 1 warm-up + 3 runs: a smoke test
    python benchmarks/run.py --cases dcgan,unet --algorithms auto,phase --peers torch
    python benchmarks/run.py --algorithms auto,auto@numpy   # auto, and auto on the pure NumPy path

For every case, in one run and interleaved round by round (so the machine's
load drifts over all contenders alike; each round in a new seeded order, and a
pause precedes each call so that one contender's spinning worker threads do not
slow the next), it reports the median time after
warm-up of each implementation (contenders faster than 50 ms run three times as
many rounds), the effective GFLOP/s by the definition's multiply-adds, ``2 * N * C_in * (C_out/g) *
prod(n) * prod(k)`` over the time whatever an implementation really computes (so a
formulation that does fewer multiplies, such as Winograd's, can pass the GEMM rate), the percentage of this machine's float32 GEMM rate (a
2048^3 ``numpy.matmul`` measured in the same run), the speed relative to the
fastest peer that accepts the case, tconv's peak extra memory (tracemalloc,
beyond the inputs and the returned output) and the error against the float64
``scatter`` reference. An algorithm written ``NAME@numpy`` (``auto@numpy`` is in the
default list) runs with ``TCONV_KERNELS=numpy``: the pure NumPy path, in the same
rounds as the compiled one. It prints markdown and writes ``results/table.md``,
``results/results.json`` (with every round's time, in the order they ran) and
``results/speed.png`` beside this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, Case, select  # noqa: E402
from peers import PEERS, Refused, environment  # noqa: E402

import tconv  # noqa: E402
from tconv import algorithms  # noqa: E402
from tconv.algorithms import col2im  # noqa: E402
from tconv.algorithms.threads import num_threads  # noqa: E402

#: Seconds of idle before each timed call. OpenBLAS's and ONNX Runtime's worker threads spin
#: for a while after a call; measured here, a contender started 0.05 s after another ran up to
#: twice as slow, and after 0.2 s not measurably. ``--pause`` changes it.
PAUSE = 0.25
#: Contenders whose median after the first rounds is below this (seconds) run more rounds,
#: ``FAST_FACTOR`` times as many in all: a call of a few milliseconds is the one a burst of host
#: noise (a worker thread woken late) moves most, and its extra rounds cost little.
FAST_S = 0.05
FAST_FACTOR = 3
TOLERANCE = 1e-4  # the project's float32 tolerance: max|y - ref| <= tol * max(1, max|ref|)

#: The long table's columns, in order.
COLUMNS = ("case", "impl", "ms", "GFLOP/s", "% GEMM", "vs best peer", "extra MiB", "rel err", "note")
#: The summary table's columns (one row per case: what ``auto`` does).
SUMMARY_COLUMNS = (
    "case", "layer", "auto runs", "auto ms", "% GEMM", "case GEMM GFLOP/s", "% case GEMM", "best peer", "peer ms",
    "auto vs best peer", "auto GFLOP/s", "peer GFLOP/s", "numpy ms", "numpy vs best peer", "auto extra MiB",
    "in+out MiB",
)
#: The suffix of an algorithm run on the pure NumPy path (``TCONV_KERNELS=numpy``), and the default extra contender.
NUMPY = "@numpy"
DEFAULT_ALGORITHMS = (*algorithms.ALGORITHMS, "auto" + NUMPY)


def on_numpy_path(fn):
    """``fn`` run with ``TCONV_KERNELS=numpy`` (read by tconv on every call), the variable restored after."""
    def run():
        with environment("TCONV_KERNELS", "numpy"):
            return fn()

    return run


def machine_description(threads: int, pause: float) -> dict:
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = sorted({f"{i['internal_api']} {i['version']} ({i.get('architecture', '?')})"
                   for i in threadpool_info() if i["user_api"] == "blas"})
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": ", ".join(blas),
        # OpenBLAS's kernels are the ones this names when it is set (read once, when NumPy loads it)
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE") or "(not set: OpenBLAS detects the CPU)",
        "tconv": tconv.__version__,
        "element-wise threads (tconv)": num_threads(),
        "tconv kernels (col2im passes, depthwise)": algorithms.backend(),
        "pause before each timed call (s)": pause,
        # other processes on a shared host: the load moves every contender's time
        "load average (1, 5, 15 min) at the start": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }


#: Side of the square float32 GEMM whose rate is the reference (``--quick``: :data:`QUICK_GEMM_SIZE`).
GEMM_SIZE = 2048
QUICK_GEMM_SIZE = 512


def gemm_rate(repeats: int, size: int = GEMM_SIZE) -> float:
    """float32 GFLOP/s of a ``size``^3 ``numpy.matmul``, median after one warm-up."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * size**3 / statistics.median(times) / 1e9


def reference(case: Case, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), algorithm="scatter", **case.kwargs())


def rel_error(y: np.ndarray, ref: np.ndarray) -> float:
    y = np.asarray(y)
    if y.shape != ref.shape:
        return math.inf
    return float(np.abs(y.astype(np.float64) - ref).max() / max(1.0, float(np.abs(ref).max())))


def extra_memory(fn) -> float:
    """Peak bytes allocated by ``fn()`` beyond what it returns (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        y = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return max(0, peak - np.asarray(y).nbytes)


def bench_case(case: Case, names: list[str], peers: list[str], *, warmup: int, repeats: int,
               budget: float, threads: int, seed: int, gemm_size: int = GEMM_SIZE,
               pause: float = PAUSE, fast_repeats: int | None = None) -> tuple[list[dict], dict]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case.x_shape, dtype=np.float32)
    w = (rng.standard_normal(case.w_shape, dtype=np.float32) / math.sqrt(case.c_in // case.groups * math.prod(case.kernel)))
    ref = reference(case, x, w)
    kw = case.kwargs()
    contenders: dict[str, dict] = {}
    for label in names:
        name = label.removesuffix(NUMPY)

        def run(name=name):
            return tconv.conv_transpose(x, w, algorithm=name, **kw)

        def describe(name=name):
            from tconv.geometry import transpose_geometry

            geom = transpose_geometry("bench", case.size, case.kernel, **{k: v for k, v in kw.items() if k != "groups"},
                                      groups=case.groups)
            note = algorithms.choose(case.x_shape, case.w_shape, geom)
            if note == "col2im":  # which path ran: the compiled passes or pure NumPy
                note += " (numba)" if col2im.compiled_kernels(geom) is not None else " (numpy)"
            return note

        if label != name:
            run, describe = on_numpy_path(run), on_numpy_path(describe)
        note = describe() if name == "auto" else ""
        contenders[f"tconv.{label}"] = dict(run=run, convert=lambda y: y, note=note, tconv=name)
    for peer in peers:
        try:
            run, convert, note = PEERS[peer](case, x, w, threads)
        except ImportError:
            continue
        except Refused as exc:
            contenders[peer] = dict(refused=str(exc), note=f"refused: {exc}")
            continue
        contenders[peer] = dict(run=run, convert=convert, note=note)

    # the machine's GEMM rate, timed in the same rounds: the host's load moves it from minute to minute
    a = rng.standard_normal((gemm_size, gemm_size), dtype=np.float32)
    contenders["gemm"] = dict(run=lambda: a @ a, convert=None, note="", reference=True)

    # warm-up (and the accuracy check on the first result); a contender slower than the budget runs once
    for label, c in contenders.items():
        if "refused" in c:
            continue
        if "reference" in c:
            c["run"]()
            c["times"] = []
            continue
        try:
            t0 = time.perf_counter()
            y = c["run"]()
            elapsed = time.perf_counter() - t0
            c["err"] = rel_error(c["convert"](y), ref)
            del y
            if elapsed > budget:  # the first call may have compiled (numba, XLA): once more to tell
                t0 = time.perf_counter()
                c["run"]()
                elapsed = time.perf_counter() - t0
            for _ in range(warmup - 1):
                c["run"]()
        except Exception as exc:  # noqa: BLE001 - a declining algorithm or refusing peer is a result
            c["refused"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
            c["note"] = ("declined: " if "tconv" in c else "refused: ") + c["refused"]
            continue
        c["times"] = []
        if elapsed > budget:
            c["times"] = [elapsed]
            c["note"] = (c["note"] + "; " if c["note"] else "") + f"1 run (> {budget:g} s budget)"
    timed = [c for c in contenders.values()
             if "refused" not in c and not (len(c["times"]) == 1 and c["times"][0] > budget)]
    shuffle = random.Random(seed)
    timed_rounds(timed, repeats, shuffle, pause)
    # the fast contenders (each the same) run more rounds, still interleaved: their medians are
    # the ones a few slow calls move most
    fast = [c for c in timed if "reference" not in c and statistics.median(c["times"]) < FAST_S]
    timed_rounds(fast, (fast_repeats or FAST_FACTOR * repeats) - repeats, shuffle, pause)
    for c in contenders.values():
        if "tconv" in c and "refused" not in c:
            c["extra"] = extra_memory(c["run"])

    gemm = contenders.pop("gemm")
    gemm_rate_here = 2 * gemm_size**3 / statistics.median(gemm["times"]) / 1e9
    peer_times = {k: statistics.median(c["times"]) for k, c in contenders.items()
                  if "tconv" not in c and c.get("times")}
    best_peer = min(peer_times, key=peer_times.get) if peer_times else None
    rows = []
    for label, c in contenders.items():
        row = dict.fromkeys(COLUMNS, "")
        row.update(case=case.name, impl=label, note=c.get("note", ""))
        if c.get("times"):
            t = statistics.median(c["times"])
            row.update(ms=t * 1e3, **{"GFLOP/s": case.flops / t / 1e9, "rel err": c["err"]})
            row["rounds ms"] = [round(s * 1e3, 3) for s in c["times"]]  # results.json only: the spread
            if best_peer:
                row["vs best peer"] = peer_times[best_peer] / t
            if "extra" in c:
                row["extra MiB"] = c["extra"] / 2**20
        rows.append(row)
    in_out = (x.nbytes + ref.nbytes // 2) / 2**20
    summary = dict(case=case, best_peer=best_peer, in_out=in_out, gemm=gemm_rate_here)
    return rows, summary


def timed_rounds(contenders: list[dict], count: int, shuffle: random.Random, pause: float) -> None:
    """``count`` rounds in which every contender runs once, timed."""
    order = list(contenders)
    for _ in range(count):
        # a new order every round (seeded), so no contender always follows the same neighbour
        # (rotating the order kept the neighbours: `auto` always ran after JAX and was slower
        # than the very algorithm it ran), and a pause lets spinning worker threads go idle
        shuffle.shuffle(order)
        for c in order:
            time.sleep(pause)
            t0 = time.perf_counter()
            c["run"]()
            c["times"].append(time.perf_counter() - t0)


def fmt(value, digits: int = 3) -> str:
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 10**6):
            return f"{value:.1e}"
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"
    return str(value)


def markdown(columns, rows) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def summarise(rows: list[dict], summaries: list[dict], gemm: float) -> tuple[list[dict], dict]:
    """One row per case for ``auto``, and the targets: geomean, worst case, GEMM share, memory, accuracy.

    The GEMM share is given against two references: the run's best GEMM median (``% GEMM``,
    the strict one: the machine at its fastest moment of the run) and the GEMM timed in
    the case's own rounds (``% case GEMM``: the same minutes, the same load of the shared host).
    """
    out = []
    ratios = []
    for s in summaries:
        case: Case = s["case"]
        by_impl = {r["impl"]: r for r in rows if r["case"] == case.name}
        auto = by_impl.get("tconv.auto")
        if auto is None or auto["ms"] == "":
            continue
        peer = by_impl.get(s["best_peer"]) if s["best_peer"] else None
        numpy_auto = by_impl.get("tconv.auto" + NUMPY) or {}
        row = {
            "case": case.name, "layer": case.describe(), "auto runs": auto["note"].split(";")[0],
            "auto ms": auto["ms"], "% GEMM": 100 * auto["GFLOP/s"] / gemm,
            "case GEMM GFLOP/s": s["gemm"], "% case GEMM": 100 * auto["GFLOP/s"] / s["gemm"],
            "best peer": s["best_peer"] or "none", "peer ms": peer["ms"] if peer else "",
            "auto vs best peer": auto["vs best peer"], "auto GFLOP/s": auto["GFLOP/s"],
            "peer GFLOP/s": peer["GFLOP/s"] if peer else "", "numpy ms": numpy_auto.get("ms", ""),
            "numpy vs best peer": numpy_auto.get("vs best peer", ""), "auto extra MiB": auto["extra MiB"], "in+out MiB": s["in_out"],
            "gemm_bound": case.gemm_bound, "rel err": auto["rel err"],
        }
        if peer:
            ratios.append(auto["vs best peer"])
        out.append(row)
    targets = {
        "geomean auto vs best peer": math.exp(statistics.fmean(math.log(r) for r in ratios)) if ratios else None,
        "worst auto vs best peer": min(ratios) if ratios else None,
        "GEMM-bound cases >= 70 % of GEMM (the run's best GEMM median)": all(
            r["% GEMM"] >= 70 for r in out if r["gemm_bound"]),
        "GEMM-bound cases >= 70 % of GEMM (the GEMM timed in the case's own rounds)": all(
            r["% case GEMM"] >= 70 for r in out if r["gemm_bound"]),
        "auto extra memory <= in + out": all(r["auto extra MiB"] <= r["in+out MiB"] for r in out),
        "every result within 1e-4 of float64 scatter": all(
            r["rel err"] <= TOLERANCE for r in rows if isinstance(r["rel err"], float)),
    }
    return out, targets


def chart(rows: list[dict], path: Path) -> None:
    """Bars of speed relative to the best peer (log scale), per case: ``auto`` and each peer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(r["case"] for r in rows))
    impls = ["tconv.auto"] + [p for p in PEERS if any(r["impl"] == p for r in rows)]
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(cases) + 2), 4.5))
    width = 0.8 / len(impls)
    for i, impl in enumerate(impls):
        vals = []
        for c in cases:
            r = next((r for r in rows if r["case"] == c and r["impl"] == impl), None)
            vals.append(r["vs best peer"] if r and r["vs best peer"] != "" else np.nan)
        ax.bar(np.arange(len(cases)) + (i - (len(impls) - 1) / 2) * width, vals, width, label=impl)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(0.67, color="gray", linewidth=0.8, linestyle="--")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(cases)), cases, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("speed / fastest peer's speed")
    ax.set_title("Transposed convolution, float32, one run (no bar: refused; dashed: 0.67)")
    ax.legend(fontsize=8, ncol=len(impls))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few runs: a smoke test")
    parser.add_argument("--cases", help="comma-separated substrings of case names (default: all): "
                        + ", ".join(c.name for c in CASES))
    parser.add_argument("--algorithms", default=",".join(DEFAULT_ALGORITHMS),
                        help=f"comma-separated tconv algorithms, NAME{NUMPY} for NAME on the pure NumPy path "
                        f"(default: all, and auto{NUMPY})")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers (default: all installed)")
    parser.add_argument("--repeats", type=int, help="timed runs per contender (default 9, quick 3)")
    parser.add_argument("--fast-repeats", type=int, help=f"timed runs of each contender faster than "
                        f"{FAST_S * 1e3:g} ms (default {FAST_FACTOR} x --repeats)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--budget", type=float, help="seconds: a slower warm-up is reported as one run "
                        "(default 3, quick 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for BLAS and every peer")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where to write table.md, "
                        "results.json and speed.png")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG")
    parser.add_argument("--pause", type=float, default=PAUSE,
                        help=f"seconds idle before each timed call, so no thread pool is still spinning (default {PAUSE})")
    args = parser.parse_args(argv)
    pause = 0.0 if args.quick else args.pause
    from threadpoolctl import threadpool_limits

    names = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    unknown = [a for a in names if a.removesuffix(NUMPY) not in algorithms.ALGORITHMS]
    if unknown:
        parser.error(f"unknown algorithm(s) {unknown}; choose from {', '.join(algorithms.ALGORITHMS)}")
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if any(p not in PEERS for p in peers):
        parser.error(f"unknown peer in {peers}; choose from {', '.join(PEERS)}")
    cases = select(args.cases)
    if args.quick:
        cases = tuple(c.tiny() for c in cases)
    gemm_size = QUICK_GEMM_SIZE if args.quick else GEMM_SIZE
    repeats = args.repeats or (3 if args.quick else 9)
    budget = args.budget or (1.0 if args.quick else 3.0)
    with threadpool_limits(args.threads):
        machine = machine_description(args.threads, pause)
        gemm = gemm_rate(3 if args.quick else 5, gemm_size)
        rows, summaries = [], []
        for i, case in enumerate(cases):
            print(f"[{i + 1}/{len(cases)}] {case.name}: {case.describe()}", file=sys.stderr, flush=True)
            r, s = bench_case(case, names, peers, warmup=1 if args.quick else args.warmup, repeats=repeats,
                              budget=budget, threads=args.threads, seed=i, gemm_size=gemm_size, pause=pause,
                              fast_repeats=args.fast_repeats or (repeats if args.quick else None))
            rows += r
            summaries.append(s)
        gemm_end = gemm_rate(3 if args.quick else 5, gemm_size)
        machine["load average (1, 5, 15 min) at the end"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    # the best of the medians at the start, at the end and within each case's rounds
    gemm = max([gemm, gemm_end] + [s["gemm"] for s in summaries])
    for r in rows:
        if r["GFLOP/s"] != "":
            r["% GEMM"] = 100 * r["GFLOP/s"] / gemm
    summary, targets = summarise(rows, summaries, gemm)
    machine[f"float32 GEMM GFLOP/s ({gemm_size}^3 matmul: best median of start, end and each case's rounds)"
            if not args.quick else f"float32 GEMM GFLOP/s ({gemm_size}^3, quick)"] = round(gemm, 1)
    text = "\n".join([
        "## Machine", "", *(f"- {k}: {v}" for k, v in machine.items()), "",
        "## Cases", "", markdown(("case", "layer", "source"), [
            dict(case=c.name, layer=c.describe(), source=c.source) for c in cases]), "",
        "## auto, per case", "", markdown(SUMMARY_COLUMNS, summary), "",
        "## Targets", "", *(f"- {k}: {fmt(v) if isinstance(v, float) else v}" for k, v in targets.items()), "",
        "## Every implementation", "", markdown(COLUMNS, rows), "",
    ])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text + "\n")
    (args.out / "results.json").write_text(json.dumps(
        dict(machine=machine, rows=rows, summary=summary, targets=targets), indent=1, default=str) + "\n")
    if not args.no_chart:
        chart(rows, args.out / "speed.png")
    return text


if __name__ == "__main__":
    print(main())
