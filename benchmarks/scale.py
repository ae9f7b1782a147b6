"""Scale benchmark: a 2-layer decoder over an input several times the cluster's memory, Zarr to Zarr.

Usage (from the repository root)::

    python benchmarks/scale.py                 # the issue's run: 8 GiB of float32 input
    python benchmarks/scale.py --gib 0.5       # a quick run
    python benchmarks/scale.py --dir /some/disk --json results.json

The decoder is ``ConvTranspose2d(16, 16, 4, stride=2, padding=1)`` then
``Conv2d(16, 4, 3, padding=1)`` (float32, seeded): the output has as many values
as the input. The input, ``(N, 16, side, side)`` float32 of at least ``--gib``
GiB, is generated chunk by chunk (each chunk from its own seed, never the whole
array) into a Zarr store on local disk (a temporary directory, or ``--dir``),
then :func:`tconv.distributed.apply_zarr` runs on
``LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="1.5GiB")``.

Reported: every worker's peak resident memory (polled), the bytes it spilled,
whether a worker paused or restarted; throughput (output values per second)
against the in-memory single-process op with 2 threads on an input that fits;
the overhead per task (wall time x workers / tasks, minus the mean task's own
time, and the task's time beyond computing its tile in memory); a spot check of
a few output tiles against the in-memory model on the corresponding input crops;
then a second run into a fresh store with one worker process killed mid-run,
resumed, and compared ``np.array_equal`` with the clean run's output. The stores
are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

CHANNELS = 16
GiB = 2**30


def decoder():
    from tconv import nn

    return nn.Sequential(
        nn.ConvTranspose2d(CHANNELS, CHANNELS, 4, stride=2, padding=1, rng=0),
        nn.Conv2d(CHANNELS, 4, 3, padding=1, rng=1),
    ).eval()


def generate_chunk(array, seed: int, index: tuple[int, ...], tile: int) -> None:
    """One input chunk from its own seed, written in place (the whole input never exists in memory)."""
    n, s0, s1 = index
    rng = np.random.default_rng([seed, n, s0, s1])
    array[n : n + 1, :, s0 * tile : (s0 + 1) * tile, s1 * tile : (s1 + 1) * tile] = rng.standard_normal(
        (1, CHANNELS, tile, tile), dtype=np.float32)


def probe(dask_worker) -> dict:
    """What a worker reports to the poller: resident memory, spilled bytes, status, process id."""
    import psutil

    spilled = sum(v for k, v in dask_worker.digests_total.items()
                  if isinstance(k, tuple) and "disk-write" in k and "bytes" in k)
    return {"rss": psutil.Process().memory_info().rss, "spilled": spilled, "status": str(dask_worker.status),
            "pid": os.getpid()}


class Monitor:
    """Polls every worker (:func:`probe`) in a thread: peak memory, spilled bytes, statuses and pids seen."""

    def __init__(self, client, every: float = 0.5):
        self.client, self.every = client, every
        self.peak: dict[str, int] = {}
        self.spilled: dict[str, int] = {}
        self.statuses: set[str] = set()
        self.pids: dict[str, set[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        last = time.perf_counter()
        while not self._stop.is_set():
            if time.perf_counter() - last > 60:  # a long run shows its figures as it goes
                last = time.perf_counter()
                print(f"\n[monitor] peak MiB {[round(v / 2**20) for v in self.peak.values()]}, spilled "
                      f"{list(self.spilled.values())}, statuses {sorted(self.statuses)}", flush=True)
            try:
                for addr, info in self.client.run(probe).items():
                    self.peak[addr] = max(self.peak.get(addr, 0), info["rss"])
                    self.spilled[addr] = max(self.spilled.get(addr, 0), info["spilled"])
                    self.statuses.add(info["status"])
                    self.pids.setdefault(addr, set()).add(info["pid"])
            except Exception:  # noqa: BLE001 - a worker that just died does not answer this round
                pass
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def task_seconds(stream: list[dict], prefix: str = "tconv-block") -> list[float]:
    """Each block task's own run time, from Dask's task stream."""
    out = []
    for t in stream:
        if str(t.get("key", "")).startswith(prefix):
            out += [s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute"]
    return out


def in_memory_rate(model, side: int, threads: int, repeats: int) -> tuple[float, float]:
    """Output values per second of the in-memory model in this process with ``threads`` threads, and the
    median seconds of one call, on ``(1, 16, side, side)``."""
    from threadpoolctl import threadpool_limits

    os.environ["TCONV_NUM_THREADS"] = str(threads)
    x = np.random.default_rng(7).standard_normal((1, CHANNELS, side, side), dtype=np.float32)
    with threadpool_limits(threads):
        y = model(x)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return y.size / median, median


def tile_seconds(model, tile: int, repeats: int) -> float:
    """Median seconds to compute one interior output tile in memory (the task's work without I/O), 1 thread."""
    from threadpoolctl import threadpool_limits

    from tconv.distributed.tiling import pipeline

    os.environ["TCONV_NUM_THREADS"] = "1"
    pipe = pipeline("scale", model, (1, CHANNELS, 4 * tile, 4 * tile), np.float32)
    chains = [pipe.chain(ax, (2 * tile, 4 * tile)) for ax in range(2)]
    x = np.random.default_rng(3).standard_normal((1, CHANNELS) + tuple(c[0][1] - c[0][0] for c in chains),
                                                 dtype=np.float32)
    with threadpool_limits(1):
        pipe.run(x, chains)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            pipe.run(x, chains)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def spot_check(model, source, data, rng, count: int, tile: int) -> list[dict]:
    """Compare ``count`` output tiles with the in-memory model run on an input crop around each
    (a margin of 4 inputs, beyond the stack's halo of 2; the crop's own edges are cut off again)."""
    n, _, side, _ = source.shape
    grid = side // tile
    picks = {(0, 0, 0)} | {(int(rng.integers(n)), int(rng.integers(grid)), int(rng.integers(grid)))
                           for _ in range(count - 1)}
    found = []
    for b, i, j in sorted(picks):
        out = [(2 * tile * i, 2 * tile * (i + 1)), (2 * tile * j, 2 * tile * (j + 1))]
        crop = [(max(0, t0 // 2 - 4), min(side, t1 // 2 + 4)) for t0, t1 in out]
        x = np.asarray(source[b : b + 1, :, crop[0][0] : crop[0][1], crop[1][0] : crop[1][1]])
        ref = model(x)[(0, slice(None)) + tuple(slice(t0 - 2 * c0, t1 - 2 * c0) for (t0, t1), (c0, _) in zip(out, crop))]
        got = np.asarray(data[(b, slice(None)) + tuple(slice(*o) for o in out)])
        err = float(np.abs(got - ref).max())
        found.append({"tile": [b, i, j], "max_abs_error": err, "equal": bool(np.array_equal(got, ref)),
                      "close": bool(np.allclose(got, ref, rtol=1e-5, atol=1e-5))})
    return found


def count_flags(record_dir: str) -> int:
    """Completion flags set so far: the record's chunk files (one per completed block; cheap to count)."""
    return sum(len(files) for _, _, files in os.walk(os.path.join(record_dir, "c")))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gib", type=float, default=8.0, help="input size in GiB (default 8)")
    p.add_argument("--side", type=int, default=2048, help="spatial side of one sample (default 2048)")
    p.add_argument("--tile", type=int, default=256, help="input chunk side (default 256: output chunks 512)")
    p.add_argument("--dir", help="where the Zarr stores go (default: a temporary directory)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="1.5GiB")
    p.add_argument("--fit-side", type=int, default=1024, help="side of the in-memory reference's input")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--spot", type=int, default=4, help="output tiles spot-checked")
    p.add_argument("--kill-at", type=float, default=0.3, help="fraction of blocks complete when a worker dies")
    p.add_argument("--no-kill", action="store_true", help="skip the killed-worker run")
    p.add_argument("--keep", action="store_true", help="keep the Zarr stores")
    p.add_argument("--json", help="write the figures to this JSON file too")
    args = p.parse_args(argv)

    import dask
    import zarr
    from distributed import Client, LocalCluster, get_task_stream

    from tconv import distributed

    side, tile = args.side, args.tile
    if side % tile:
        p.error(f"--side must be a multiple of --tile; got {side} and {tile}")
    sample = CHANNELS * side * side * 4
    n = max(1, math.ceil(args.gib * GiB / sample))
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="tconv-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    model = decoder()
    results: dict = {"input_shape": [n, CHANNELS, side, side], "input_gib": n * sample / GiB, "tile": tile,
                     "workers": args.workers, "memory_limit": args.memory_limit}
    print(f"input (N={n}, {CHANNELS}, {side}, {side}) float32 = {n * sample / GiB:.2f} GiB in chunks of "
          f"{tile}x{tile}; stores under a {'given' if args.dir else 'temporary'} directory", flush=True)
    try:
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, memory_limit=args.memory_limit,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            src_path = str(root / "input.zarr")
            source = zarr.create_array(src_path, shape=(n, CHANNELS, side, side), chunks=(1, CHANNELS, tile, tile),
                                       dtype="float32", compressors=None)
            t = time.perf_counter()
            grid = side // tile
            gen = [dask.delayed(generate_chunk)(source, 2026, (b, i, j), tile)
                   for b in range(n) for i in range(grid) for j in range(grid)]
            client.gather(client.compute(gen))
            results["generate_seconds"] = time.perf_counter() - t
            print(f"generated the input in {results['generate_seconds']:.1f} s", flush=True)

            pids_before = {a: i["pid"] for a, i in client.run(probe).items()}
            clean = str(root / "clean.zarr")
            with Monitor(client) as mon, get_task_stream(client) as stream:
                t = time.perf_counter()
                run = distributed.apply_zarr(model, src_path, clean, client=client)
                wall = time.perf_counter() - t
            pids_after = {a: i["pid"] for a, i in client.run(probe).items()}
            durations = task_seconds(stream.data)
            out_values = math.prod(run.shape)
            results.update({
                "blocks": run.blocks, "wall_seconds": wall, "throughput_values_per_s": out_values / wall,
                "peak_rss_per_worker_mib": {a: v / 2**20 for a, v in mon.peak.items()},
                "spilled_bytes_per_worker": mon.spilled, "statuses_seen": sorted(mon.statuses),
                "restarted": pids_before != pids_after or any(len(v) > 1 for v in mon.pids.values()),
                "task_seconds_median": statistics.median(durations) if durations else None,
            })
            print(f"clean run: {run.text()} in {wall:.1f} s", flush=True)
            # the in-memory peers, in this process while the cluster is idle
            rate, one = in_memory_rate(model, args.fit_side, 2, args.repeats)
            per_tile = tile_seconds(model, tile, args.repeats)
            results.update({"in_memory_values_per_s": rate, "in_memory_call_seconds": one,
                            "tile_compute_seconds": per_tile})
            results["throughput_ratio"] = results["throughput_values_per_s"] / rate
            if durations:
                results["overhead_per_task_seconds"] = wall * args.workers / run.blocks - statistics.mean(durations)
                results["in_task_beyond_compute_seconds"] = statistics.median(durations) - per_tile
            data = zarr.open_group(clean, mode="r")["data"]
            results["spot_checks"] = spot_check(model, source, data, np.random.default_rng(11), args.spot, tile)

            if not args.no_kill:
                killed = str(root / "killed.zarr")
                state: dict = {}

                def first_run():
                    try:
                        state["result"] = distributed.apply_zarr(model, src_path, killed, client=client, progress=False)
                    except Exception as exc:  # noqa: BLE001 - KilledWorker is one allowed outcome
                        state["error"] = f"{type(exc).__name__}: {exc}"

                runner = threading.Thread(target=first_run)
                runner.start()
                while runner.is_alive() and (not os.path.isdir(killed + "/complete")
                                             or count_flags(killed + "/complete") < args.kill_at * run.blocks):
                    time.sleep(0.5)
                at_kill = count_flags(killed + "/complete") if os.path.isdir(killed + "/complete") else 0
                victim = sorted(client.scheduler_info()["workers"])[0]
                try:
                    client.run(os._exit, 1, workers=[victim])
                except Exception:  # noqa: BLE001 - the worker dies before it answers
                    pass
                runner.join()
                client.wait_for_workers(args.workers, timeout=120)
                resumed = distributed.apply_zarr(model, src_path, killed, client=client, progress=False)
                a = dask.array.from_zarr(clean, component="data")
                b = dask.array.from_zarr(killed, component="data")
                equal = bool(client.compute((a == b).all()).result())
                results["kill"] = {"blocks_complete_at_kill": at_kill, "first_run": state.get("error") or
                                   state["result"].text(), "rerun_computed": resumed.computed,
                                   "array_equal_to_clean_run": equal}
                print(f"killed a worker with {at_kill}/{run.blocks} blocks complete; rerun computed "
                      f"{resumed.computed}; array_equal to the clean run: {equal}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


def report(r: dict) -> None:
    mib = r["peak_rss_per_worker_mib"]
    lines = [
        "| figure | value |", "| --- | --- |",
        f"| input | {tuple(r['input_shape'])} float32, {r['input_gib']:.2f} GiB, chunks {r['tile']}x{r['tile']} |",
        f"| cluster | {r['workers']} worker processes x 1 thread, memory_limit {r['memory_limit']} |",
        f"| blocks (tasks) | {r['blocks']} |",
        f"| wall time | {r['wall_seconds']:.1f} s |",
        f"| peak memory per worker | {', '.join(f'{v:.0f} MiB' for v in mib.values())} |",
        f"| spilled | {', '.join(str(v) for v in r['spilled_bytes_per_worker'].values())} bytes |",
        f"| worker statuses seen; restarted | {', '.join(r['statuses_seen'])}; {r['restarted']} |",
        f"| throughput | {r['throughput_values_per_s'] / 1e6:.2f} M output values/s |",
        f"| in-memory, 1 process, 2 threads | {r['in_memory_values_per_s'] / 1e6:.2f} M values/s "
        f"({r['in_memory_call_seconds']:.2f} s per call) |",
        f"| ratio | {100 * r['throughput_ratio']:.0f}% |",
    ]
    if "overhead_per_task_seconds" in r:
        lines += [
            f"| task time (median) / tile compute in memory | {r['task_seconds_median']:.3f} s / "
            f"{r['tile_compute_seconds']:.3f} s |",
            f"| overhead per task: scheduling | {1000 * r['overhead_per_task_seconds']:.1f} ms |",
            f"| overhead per task: inside (zarr read + write, joins) | "
            f"{1000 * r['in_task_beyond_compute_seconds']:.1f} ms |",
        ]
    for s in r["spot_checks"]:
        lines.append(f"| spot check tile {tuple(s['tile'])} | max abs error {s['max_abs_error']:.3g}, "
                     f"equal {s['equal']}, allclose(1e-5) {s['close']} |")
    if "kill" in r:
        k = r["kill"]
        lines.append(f"| killed worker run | {k['blocks_complete_at_kill']} blocks complete at the kill; first run: "
                     f"{k['first_run']}; rerun computed {k['rerun_computed']}; array_equal to the clean run: "
                     f"{k['array_equal_to_clean_run']} |")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
