"""Whole decoders end to end: tconv (fused) beside PyTorch, ONNX Runtime and OpenVINO.

Usage (from the repository root)::

    python benchmarks/models.py                  # the three decoders at their real sizes
    python benchmarks/models.py --quick          # tiny sizes, few rounds: a smoke test
    python benchmarks/models.py --models hifigan --peers torch,openvino

Three plain chains (no skip connections, so :func:`tconv.nn.from_torch` loads
them exactly), built in PyTorch with seeded weights and BatchNorm running
statistics taken from a seeded batch (so the fold has real numbers to fold):

- ``dcgan``: the generator of PyTorch's DCGAN tutorial (nz=100, ngf=64, its
  ``weights_init``), batch 64, 100x1x1 -> 3x64x64;
- ``unet``: a U-Net-style decoder without skips, 1024 channels at 16x16 ->
  512 -> 256 -> 128 -> 64, each up-block a ConvTranspose2d k2 s2 then two
  Conv2d 3x3 + BatchNorm + ReLU, batch 1;
- ``hifigan``: HiFi-GAN V1's upsampling stack without its residual blocks
  (ConvTranspose1d 512->256 k16 s8 p4, 256->128 k16 s8 p4, 128->64 k4 s2 p1,
  64->32 k4 s2 p1, each followed by Conv1d k3 p1 and LeakyReLU(0.1)), batch 1,
  87 mel frames: 1 s of audio at 22.05 kHz (hop 256).

tconv runs the model loaded by ``from_torch`` and fused by :func:`tconv.nn.fuse`
(and, for comparison, unfused); PyTorch runs it in eval mode under
``torch.no_grad``; ONNX Runtime and OpenVINO (float32, asked for and read back)
run the ONNX file ``torch.onnx.export(..., dynamo=False)`` writes. All of them in
one run, interleaved round by round as ``run.py`` does, on ``--threads``
threads. It reports each contender's median time, the ratio to the fastest
peer, the effective GFLOP/s by the definition's multiply-adds of every
convolution, and the error against PyTorch's output
(``max|y - ref| / max|ref|``, which must stay below 1e-4 for tconv); it prints
markdown and writes ``results/models.md`` beside this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import Refused, onnxruntime_runner, openvino_runner  # noqa: E402
from run import PAUSE, TOLERANCE, fmt, machine_description, markdown, timed_rounds  # noqa: E402

import tconv  # noqa: E402
from tconv import nn  # noqa: E402

PEERS = ("torch", "onnxruntime", "openvino")
COLUMNS = ("model", "impl", "ms", "vs best peer", "GFLOP/s", "rel err vs torch", "note")
SUMMARY_COLUMNS = ("model", "what", "tconv ms", "tconv unfused ms", "best peer", "peer ms", "tconv vs best peer")


@dataclass(frozen=True)
class Decoder:
    """One model: how to build it in PyTorch at a size, and what it is."""

    name: str
    build: Callable[[bool], tuple[object, tuple[int, ...]]]  # quick -> (torch module, input shape)
    what: str


def dcgan(quick: bool):
    """PyTorch's DCGAN tutorial generator (its ``Generator`` class, ``self.main``) and ``weights_init``."""
    from torch import nn as tnn

    nz, ngf, nc, batch = (8, 4, 3, 2) if quick else (100, 64, 3, 64)

    # the tutorial's five layers: 4x4 kernels, stride 1 then 2, channels nz -> 8 ngf -> ... -> ngf -> nc
    channels = (nz, ngf * 8, ngf * 4, ngf * 2, ngf, nc)
    layers = []
    for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
        layers.append(tnn.ConvTranspose2d(c_in, c_out, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False))
        layers += [tnn.BatchNorm2d(c_out), tnn.ReLU(True)] if i < len(channels) - 2 else [tnn.Tanh()]

    class Generator(tnn.Module):
        def __init__(self):
            super().__init__()
            self.main = tnn.Sequential(*layers)

        def forward(self, input):
            return self.main(input)

    model = Generator()
    for m in model.modules():  # the tutorial's weights_init
        if isinstance(m, tnn.ConvTranspose2d):
            tnn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, tnn.BatchNorm2d):
            tnn.init.normal_(m.weight, 1.0, 0.02)
            tnn.init.zeros_(m.bias)
    return model, (batch, nz, 1, 1)


def unet(quick: bool):
    """Four up-blocks: ConvTranspose2d k2 s2, then (Conv2d 3x3, BatchNorm, ReLU) twice; no skips."""
    from torch import nn as tnn

    top, size = (32, 2) if quick else (1024, 16)
    blocks = []
    c = top
    for _ in range(4):
        blocks.append(tnn.Sequential(
            tnn.ConvTranspose2d(c, c // 2, 2, 2),
            tnn.Conv2d(c // 2, c // 2, 3, padding=1, bias=False), tnn.BatchNorm2d(c // 2), tnn.ReLU(inplace=True),
            tnn.Conv2d(c // 2, c // 2, 3, padding=1, bias=False), tnn.BatchNorm2d(c // 2), tnn.ReLU(inplace=True),
        ))
        c //= 2
    return tnn.Sequential(*blocks), (1, top, size, size)


def hifigan(quick: bool):
    """HiFi-GAN V1's upsampling stack without its residual blocks (weight norm removed, as for inference)."""
    from torch import nn as tnn

    scale = 16 if quick else 1
    frames = 5 if quick else math.ceil(22050 / 256)  # 1 s at 22.05 kHz, hop 256 = 8 * 8 * 2 * 2
    layers = []
    c = 512 // scale
    for k, s, p in ((16, 8, 4), (16, 8, 4), (4, 2, 1), (4, 2, 1)):
        layers += [tnn.ConvTranspose1d(c, c // 2, k, s, p), tnn.Conv1d(c // 2, c // 2, 3, padding=1),
                   tnn.LeakyReLU(0.1)]
        c //= 2
    model = tnn.Sequential(*layers)
    # He-normal over the taps that meet each output (C_in * k / s), not HiFi-GAN's std 0.01, which
    # shrinks the signal about 4x a layer until the biases alone make the output and any error hides
    for m in model.modules():
        if isinstance(m, (tnn.Conv1d, tnn.ConvTranspose1d)):
            fan_in = m.in_channels * m.kernel_size[0] / m.stride[0]
            tnn.init.normal_(m.weight, 0.0, math.sqrt(2 / fan_in))
    return model, (1, 512 // scale, frames)


DECODERS = (
    Decoder("dcgan", dcgan, "PyTorch DCGAN tutorial generator, nz=100 ngf=64, batch 64, 100x1x1 -> 3x64x64"),
    Decoder("unet", unet, "U-Net-style decoder without skips, 1024ch@16x16 -> 64ch@256x256, batch 1"),
    Decoder("hifigan", hifigan, "HiFi-GAN V1 upsampling stack without resblocks, 512ch x 87 -> 32ch x 22272, batch 1"),
)


def prepared(decoder: Decoder, quick: bool, seed: int):
    """The seeded PyTorch model in eval mode (running statistics from one seeded batch) and its input."""
    import torch

    torch.manual_seed(seed)
    model, shape = decoder.build(quick)
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal(shape, dtype=np.float32))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:  # one training-mode pass with momentum 1: the running statistics are that batch's
        m.momentum = 1.0
    with torch.no_grad():
        model.train()(x)
    for m in bns:
        m.momentum = 0.1
    return model.eval(), x


def definition_flops(model: nn.Module, x: np.ndarray) -> float:
    """``2 *`` the multiplies of every convolution's definition in a flat chain (``x`` is run through it)."""
    total = 0.0
    for module in model:
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                               nn.ConvTranspose3d)):
            taps = math.prod(module.weight.shape[1:])  # (C_out/g or C_in/g) * prod(k)
            if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                total += 2.0 * x.size * taps  # every input value meets C_out/g * prod(k) weights
                x = module(x)
            else:
                x = module(x)
                total += 2.0 * x.size * taps  # every output value sums C_in/g * prod(k) products
        else:
            x = module(x)
    return total


def onnx_bytes(model, x) -> bytes:
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, (x,), buffer, dynamo=False, opset_version=17, input_names=["x"],
                          output_names=["y"])
    return buffer.getvalue()


def contenders(decoder: Decoder, quick: bool, peers: list[str], threads: int, seed: int) -> tuple[dict, float]:
    """Every contender's ``run`` (returning a NumPy array) and note, and the model's FLOPs by definition."""
    import torch

    torch.set_num_threads(threads)
    source, xt = prepared(decoder, quick, seed)
    x = xt.numpy()
    unfused = nn.from_torch(source)
    fused = nn.fuse(unfused)
    out = {
        "tconv": dict(run=lambda: fused(x), note=f"tconv {tconv.__version__}, nn.fuse: {len(fused)} layers"),
        "tconv unfused": dict(run=lambda: unfused(x), note="nn.from_torch, not fused"),
    }
    if "torch" in peers:
        def run_torch():
            with torch.no_grad():
                return source(xt)

        out["torch"] = dict(run=run_torch, convert=lambda y: y.numpy(), note=f"torch {torch.__version__}, eval, no_grad")
    model = onnx_bytes(source, xt) if {"onnxruntime", "openvino"} & set(peers) else None
    for peer, runner in (("onnxruntime", onnxruntime_runner), ("openvino", openvino_runner)):
        if peer in peers:
            try:
                run, note = runner(model, x, threads)
                out[peer] = dict(run=run, note=note, convert=np.array)  # OpenVINO reuses its output buffer
            except Refused as exc:
                out[peer] = dict(refused=str(exc), note=f"refused: {exc}")
    return out, definition_flops(fused, x)


def relative(y: np.ndarray, ref: np.ndarray) -> float:
    y = np.asarray(y, dtype=np.float64)
    if y.shape != ref.shape:
        return math.inf
    return float(np.abs(y - ref).max() / np.abs(ref).max())


def bench_model(decoder: Decoder, quick: bool, peers: list[str], *, threads: int, repeats: int, warmup: int,
                pause: float, seed: int) -> list[dict]:
    cands, flops = contenders(decoder, quick, peers, threads, seed)
    ref = None
    for label, c in cands.items():
        if "refused" in c:
            continue
        c.setdefault("convert", lambda y: y)
        y = np.asarray(c["convert"](c["run"]()), dtype=np.float64)
        if label == "torch" or ref is None and "torch" not in cands:
            ref = y
        c["first"] = y
        for _ in range(warmup - 1):
            c["run"]()
        c["times"] = []
    timed = [c for c in cands.values() if "times" in c]
    timed_rounds(timed, repeats, random.Random(seed), pause)
    medians = {k: statistics.median(c["times"]) for k, c in cands.items() if "times" in c}
    peer_times = {k: t for k, t in medians.items() if k in PEERS}
    best = min(peer_times, key=peer_times.get) if peer_times else None
    rows = []
    for label, c in cands.items():
        row = dict.fromkeys(COLUMNS, "")
        row.update(model=decoder.name, impl=label, note=c["note"])
        if label in medians:
            t = medians[label]
            row.update({"ms": t * 1e3, "GFLOP/s": flops / t / 1e9, "rel err vs torch": relative(c["first"], ref)})
            row["rounds ms"] = [round(s * 1e3, 3) for s in c["times"]]
            if best:
                row["vs best peer"] = peer_times[best] / t
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for decoder in dict.fromkeys(r["model"] for r in rows):
        by = {r["impl"]: r for r in rows if r["model"] == decoder}
        peers = {k: r for k, r in by.items() if k in PEERS and r["ms"] != ""}
        best = min(peers, key=lambda k: peers[k]["ms"]) if peers else None
        what = next(d.what for d in DECODERS if d.name == decoder)
        out.append({"model": decoder, "what": what, "tconv ms": by["tconv"]["ms"],
                    "tconv unfused ms": by["tconv unfused"]["ms"], "best peer": best or "none",
                    "peer ms": peers[best]["ms"] if best else "", "tconv vs best peer": by["tconv"]["vs best peer"]})
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few rounds: a smoke test")
    parser.add_argument("--models", default=",".join(d.name for d in DECODERS),
                        help="comma-separated models (default: all): " + ", ".join(d.name for d in DECODERS))
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers (default: all)")
    parser.add_argument("--repeats", type=int, help="timed rounds (default 9, quick 2)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for BLAS and every peer")
    parser.add_argument("--pause", type=float, default=PAUSE, help=f"seconds idle before each timed call (default {PAUSE})")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where to write models.md")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    chosen = [d for d in DECODERS if d.name in names]
    if len(chosen) != len(names):
        parser.error(f"unknown model in {names}; choose from {', '.join(d.name for d in DECODERS)}")
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if any(p not in PEERS for p in peers):
        parser.error(f"unknown peer in {peers}; choose from {', '.join(PEERS)}")
    repeats = args.repeats or (2 if args.quick else 9)
    pause = 0.0 if args.quick else args.pause
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        machine = machine_description(args.threads, pause)
        rows = []
        for i, decoder in enumerate(chosen):
            print(f"[{i + 1}/{len(chosen)}] {decoder.name}: {decoder.what}", file=sys.stderr, flush=True)
            rows += bench_model(decoder, args.quick, peers, threads=args.threads, repeats=repeats,
                                warmup=1 if args.quick else args.warmup, pause=pause, seed=i)
    summary = summarise(rows)
    machine["load average (1, 5, 15 min) at the end"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    text = "\n".join([
        "## Machine", "", *(f"- {k}: {v}" for k, v in machine.items()), f"- timed rounds: {repeats}"
        + (" (quick: tiny sizes)" if args.quick else ""), "",
        "## Whole decoders", "", markdown(SUMMARY_COLUMNS, summary), "",
        "## Every contender", "", markdown(COLUMNS, rows), "",
    ])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "models.md").write_text(text + "\n")
    bad = [r for r in rows if r["impl"].startswith("tconv") and r["ms"] != "" and not r["rel err vs torch"] <= TOLERANCE]
    if bad:
        raise SystemExit(f"tconv differs from PyTorch by more than {TOLERANCE:g}: "
                         + ", ".join(f"{r['model']} {r['impl']} {r['rel err vs torch']:.2g}" for r in bad))
    return text


if __name__ == "__main__":
    print(main())
