"""``tconv apply MODEL --input in.zarr --output out.zarr``: a saved model over a Zarr array, tile by tile, resumably."""

from __future__ import annotations

import argparse
from typing import Any

from .flags import CommandError, command, ints

EPILOG = (
    "MODEL is a directory written by tconv.nn.save (model.json and weights.npz). The output is a Zarr group "
    "(data, complete, and the run's key); rerunning after an interruption computes only the missing blocks."
)


def cmd_apply(args: argparse.Namespace) -> str:
    from ..distributed import apply_zarr
    from ..nn import load

    model = load(args.model)
    chunks = None if args.chunks is None else (args.chunks[0] if len(args.chunks) == 1 else args.chunks)
    if args.workers is None:
        if args.memory_limit is not None:
            raise CommandError("--memory-limit needs --workers (it limits each worker process)")
        return apply_zarr(model, args.input, args.output, chunks=chunks, progress=not args.quiet).text()
    if args.workers < 1:
        raise CommandError(f"--workers must be >= 1; got {args.workers}")
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("tconv apply --workers needs Dask's distributed: pip install 'tconv[dask]'",
                          name="distributed") from exc
    limit = "auto" if args.memory_limit is None else args.memory_limit
    try:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, memory_limit=limit,
                               dashboard_address=None)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"--memory-limit must be a size such as 2GiB; got {args.memory_limit!r} ({exc})") from None
    with cluster, Client(cluster) as client:
        return apply_zarr(model, args.input, args.output, chunks=chunks, client=client,
                          progress=not args.quiet).text()


def register(subparsers: Any) -> None:
    p = command(subparsers, "apply", "run a saved model over a Zarr array, exactly tiled and resumable",
                cmd_apply, epilog=EPILOG)
    p.add_argument("model", metavar="MODEL", help="the saved model's directory (tconv.nn.save)")
    p.add_argument("--input", required=True, metavar="IN.zarr", help="the input Zarr array (N, C, *spatial)")
    p.add_argument("--output", required=True, metavar="OUT.zarr", help="the output Zarr group (created or resumed)")
    p.add_argument("--chunks", type=ints, help="the output's spatial chunk sizes, e.g. 512,512 (default: the "
                                               "input's scaled by the model's strides)")
    p.add_argument("--workers", type=int, help="run on a local Dask cluster of N worker processes (default: threads)")
    p.add_argument("--memory-limit", help="memory limit per worker, e.g. 2GiB (with --workers)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
