"""Convolutional sparse coding raced against SPORCO (``sporco.admm.cbpdn``) on its own example.

The setup of SPORCO's ``cbpdn_gry`` example: a 256x256 greyscale crop of the
bundled ``kodim23.png``, high-passed by ``sporco.signal.tikhonov_filter(img, 10, 16)``,
SPORCO's bundled ``G:12x12x36`` dictionary, ``lmbda = 5e-2`` (``infer(lam=20)``),
SPORCO with the example's options but ``RelStopTol = 0``, float32, 2 threads for
both (FFTW through pyfftw for SPORCO, ``scipy.fft`` workers for tconv).

The race's objective is SPORCO's ``F = 0.5*||Dz - s||^2 + lmbda*||z||_1``, computed
in float64 from each solver's iterate by the same code (:func:`objective64`),
outside the clock. ``F*`` is the best value of a long tconv run; the table gives
the wall time and iterations to reach ``F <= F*(1 + eps)``. Three problems:

- circular: tconv ``infer(boundary="circular")`` vs ``cbpdn.ConvBPDN``;
- zero: tconv ``infer(boundary="zero")`` (z of 267x267) vs ``cbpdn.ConvBPDNMaskDcpl``
  on the image padded by 11 zeros (a mask on the padded grid: the same problem);
- stride 2: tconv ``infer(boundary="circular", stride=2)`` (SPORCO has no strides).

The solvers run interleaved in one process (``--rounds`` times each; medians).

    python benchmarks/deconvnet.py [--iters 150] [--long 500] [--rounds 1] [--problems circular,zero,stride2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LMBDA = 5e-2
EPS = (1e-2, 1e-3, 1e-4)


def setup():
    """The example's high-passed image ``(256, 256)`` and dictionary ``(12, 12, 36)``, float32."""
    from sporco import signal, util

    img = util.ExampleImages().image("kodim23.png", scaled=True, gray=True, idxexp=np.s_[160:416, 60:316])
    _, sh = signal.tikhonov_filter(img, 10, 16)
    d = util.convdicts()["G:12x12x36"]
    return sh.astype(np.float32), d.astype(np.float32)


def objective64(z: np.ndarray, d: np.ndarray, s: np.ndarray, boundary: str, stride: int = 1) -> float:
    """SPORCO's ``F`` in float64 for maps ``z`` ``(K, *m)``: linear convolution by FFT, then the boundary's cut
    (the dictionary's spectrum computed once per dictionary and shape)."""
    z = np.asarray(z, np.float64)
    if stride > 1:
        up = np.zeros((z.shape[0],) + tuple(m * stride for m in z.shape[1:]))
        up[:, ::stride, ::stride] = z
        z = up
    k = d.shape[:2]
    full_shape = tuple(m + ki - 1 for m, ki in zip(z.shape[1:], k))
    zf = np.fft.rfft2(z, full_shape)
    key = (d.shape, d.tobytes(), full_shape)
    if key not in _SPECTRA:
        _SPECTRA[key] = np.fft.rfft2(np.moveaxis(np.asarray(d, np.float64), -1, 0), full_shape)
    df = _SPECTRA[key]
    full = np.fft.irfft2((zf * df).sum(0), full_shape)
    n = s.shape
    if boundary == "circular":
        out = np.zeros(n)
        for i0 in range(0, full.shape[0], n[0]):
            for i1 in range(0, full.shape[1], n[1]):
                block = full[i0:i0 + n[0], i1:i1 + n[1]]
                out[:block.shape[0], :block.shape[1]] += block
    else:
        out = full[k[0] - 1:k[0] - 1 + n[0], k[1] - 1:k[1] - 1 + n[1]]
    r = out - s
    return 0.5 * float(np.vdot(r, r)) + LMBDA * float(np.abs(z).sum())


_SPECTRA: dict = {}  # objective64's dictionary spectra, by the dictionary's values and the shape


class Trace:
    """Times (clock minus the time spent in this callback) and ``F`` every ``every`` iterations."""

    every = 1

    def __init__(self, evaluate):
        self.evaluate, self.times, self.values, self.iters, self.spent, self.start = evaluate, [], [], [], 0.0, 0.0
        self.calls = 0

    def begin(self):
        self.start, self.spent, self.calls = time.perf_counter(), 0.0, 0

    def record(self, z):
        now = time.perf_counter()
        self.calls += 1
        if self.calls % self.every:
            self.spent += time.perf_counter() - now
            return
        self.times.append(now - self.start - self.spent)
        self.iters.append(self.calls)
        self.values.append(self.evaluate(z))
        self.spent += time.perf_counter() - now


def run_tconv(s, d, boundary, stride, iters, evaluate=None):
    from scipy import fft

    from tconv import deconvnet

    f = np.ascontiguousarray(np.moveaxis(d, -1, 0)[:, None])
    trace = Trace(evaluate) if evaluate else None

    def cb(k, z, e):
        trace.record(z[0])

    with fft.set_workers(2):
        if trace:
            trace.begin()
        res = deconvnet.infer(s[None, None], f, 1 / LMBDA, boundary=boundary, stride=stride, method="admm",
                              max_iter=iters, tol=0.0, callback=cb if trace else None)
    return res, trace


def sporco_maps(x: np.ndarray) -> np.ndarray:
    """SPORCO's ``(H, W, 1, 1, K)`` coefficient maps as ``(K, H, W)``."""
    return np.moveaxis(x.reshape(x.shape[0], x.shape[1], -1), -1, 0)


def run_sporco(s, d, boundary, iters, evaluate):
    from sporco.admm import cbpdn

    trace = Trace(evaluate)
    opt = {"Verbose": False, "MaxMainIter": iters, "RelStopTol": 0.0, "AuxVarObj": False, "DataType": np.float32,
           "Callback": lambda solver: trace.record(sporco_maps(solver.X))}
    if boundary == "circular":
        solver = cbpdn.ConvBPDN(d, s, LMBDA, cbpdn.ConvBPDN.Options(opt), dimK=0)
    else:
        k = d.shape[0] - 1
        padded = np.pad(s, ((k, 0), (k, 0)))
        mask = np.pad(np.ones_like(s), ((k, 0), (k, 0)))
        solver = cbpdn.ConvBPDNMaskDcpl(d, padded, LMBDA, mask, cbpdn.ConvBPDNMaskDcpl.Options(opt), dimK=0)
    trace.begin()
    solver.solve()
    return solver, trace


def reach(trace: Trace, f_star: float, eps: float):
    """``(iterations, seconds)`` to the first ``F <= F*(1 + eps)``, or ``None``."""
    for i, t, v in zip(trace.iters, trace.times, trace.values):
        if v <= f_star * (1 + eps):
            return i, t
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=150, help="iterations per raced run")
    ap.add_argument("--long", type=int, default=500, help="iterations of the reference run for F*")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved runs of each solver")
    ap.add_argument("--every", type=int, default=1,
                    help="evaluate F every this many iterations (the iterations to a tolerance then round up to it)")
    ap.add_argument("--problems", default="circular,zero,stride2",
                    help="comma-separated subset of circular, zero, stride2 (default: all three)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "deconvnet.md"))
    ap.add_argument("--png", default=str(ROOT / "docs" / "images" / "deconvnet_race.png"))
    args = ap.parse_args(argv)
    Trace.every = max(1, args.every)
    import numba

    numba.set_num_threads(2)
    s, d = setup()
    known = {"circular": ("circular", 1, "ConvBPDN"), "zero": ("zero", 1, "ConvBPDNMaskDcpl"),
             "stride2": ("circular", 2, None)}
    chosen = args.problems.split(",")
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        ap.error(f"--problems takes {', '.join(known)}; got {', '.join(unknown)}")
    problems = [known[name] for name in chosen]
    # warm-up: compile tconv's kernels and plan SPORCO's FFTs (pyfftw's plans are cached per shape)
    # for every problem before any clock runs
    for boundary, stride, peer in problems:
        run_tconv(s, d, boundary, stride, 2)
        if peer:
            run_sporco(s, d, boundary, 2, lambda z: 0.0)
    load_start = os.getloadavg()
    rows, curves = [], {}
    f64 = np.float64
    for boundary, stride, peer in problems:
        label = f"{boundary}" + (f", stride {stride}" if stride > 1 else "")
        evaluate = (lambda z, b=boundary, st=stride: objective64(z, d, s, b, st))
        ref, _ = run_tconv(s, d, boundary, stride, args.long)
        f_star = evaluate(ref.z[0])
        if peer:
            from tconv import deconvnet

            f = np.moveaxis(d, -1, 0)[:, None].astype(f64)
            check = deconvnet.objective(s[None, None].astype(f64), ref.z.astype(f64), f, 1 / LMBDA,
                                        boundary=boundary) * LMBDA
            assert abs(check - f_star) <= 1e-6 * f_star, (check, f_star)
        traces = {"tconv": [], peer: []} if peer else {"tconv": []}
        for rnd in range(args.rounds):
            order = ["tconv", peer] if rnd % 2 == 0 else [peer, "tconv"]
            for name in order:
                if name is None:
                    continue
                if name == "tconv":
                    traces[name].append(run_tconv(s, d, boundary, stride, args.iters, evaluate)[1])
                else:
                    solver, trace = run_sporco(s, d, boundary, args.iters, evaluate)
                    traces[name].append(trace)
                    sp_f = float(solver.getitstat().ObjFun[-1])
                    mine = trace.values[-1]
                    print(f"{label}: SPORCO's own F {sp_f:.8g}, tconv's F of SPORCO's iterate {mine:.8g} "
                          f"(rel {abs(sp_f - mine) / abs(sp_f):.1e})")
        for tr in traces.values():
            f_star = min(f_star, min(min(t.values) for t in tr))
        for name, tr in traces.items():
            per_it = statistics.median(
                statistics.median(np.diff([0.0] + t.times) / np.diff([0] + t.iters)) for t in tr) * 1e3
            cells = []
            for eps in EPS:
                hits = [reach(t, f_star, eps) for t in tr]
                if any(h is None for h in hits):
                    cells.append("not reached")
                else:
                    cells.append(f"{statistics.median(h[0] for h in hits):.0f} it, "
                                 f"{statistics.median(h[1] for h in hits):.2f} s")
            rows.append((label, name if name == "tconv" else f"SPORCO {name}", f"{per_it:.0f}", *cells))
            curves[(label, name)] = (tr[0].times, [(v - f_star) / f_star for v in tr[0].values])
        print(f"{label}: F* = {f_star:.10g}")
    head = ("problem", "solver", "ms / iter", *(f"to 1e{int(np.log10(e))}" for e in EPS))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    table = "\n".join(lines)
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        "# Convolutional sparse coding: tconv vs SPORCO (benchmarks/deconvnet.py)\n\n"
        f"SPORCO's cbpdn_gry setup, float32, 2 threads each, {args.iters} iterations per run, "
        f"{args.rounds} interleaved round(s), F evaluated every {Trace.every} iteration(s), F* from a {args.long}-iteration tconv run (or the lowest F any "
        "raced run reached). Wall times exclude the objective's evaluation; medians over rounds. Load average "
        f"(1 min) at the start {load_start[0]:.1f}, at the end {os.getloadavg()[0]:.1f} (2 cores).\n\n"
        + table + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(k[0] for k in curves))
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4), squeeze=False)
    for ax, label in zip(axes[0], labels):
        for (lab, name), (t, gap) in curves.items():
            if lab == label:
                ax.semilogy(t, np.maximum(gap, 1e-7), label="tconv" if name == "tconv" else f"SPORCO {name}")
        for eps in EPS:
            ax.axhline(eps, color="grey", lw=0.5, ls=":")
        ax.set(title=label, xlabel="wall time (s)", ylabel="(F - F*) / F*")
        ax.legend()
    fig.tight_layout()
    Path(args.png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.png, dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
