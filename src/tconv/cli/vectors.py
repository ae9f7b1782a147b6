"""``tconv vectors --convention NAME --out DIR``: conformance vectors with trusted expected values."""

from __future__ import annotations

import argparse
from typing import Any

from ..vectors import CONVENTIONS, DTYPES, write
from .flags import command

EPILOG = (
    "Cases a convention cannot express (no single layer has the window, no groups, a rank or dtype it refuses) "
    "are skipped and listed in DIR/index.json with the reason. ONNX vectors are backend node tests "
    "(test_<case>/model.onnx, test_data_set_0/*.pb); the others one .npz and one .json per case."
)


def cmd_vectors(args: argparse.Namespace) -> str:
    index = write(args.convention, args.directory, count=args.cases, seed=args.seed, dtype=args.dtype)
    lines = [f"{len(index['cases'])} {args.convention} vectors ({args.dtype}, seed {args.seed}) written to "
             f"{args.directory}; {len(index['skipped'])} cases skipped (index.json says why)"]  # fmt: skip
    lines += [f"  skipped {s['name']}: {s['reason']}" for s in index["skipped"]]
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    p = command(subparsers, "vectors", "write conformance test vectors for one convention", cmd_vectors, epilog=EPILOG)
    p.add_argument("--convention", required=True, choices=CONVENTIONS, help="whose arguments and layouts the cases use")
    p.add_argument("--cases", type=int, default=None, metavar="N", help="how many cases (default: the corners plus 8)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the numbers and the random cases (default 0)")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="the stored inputs' and outputs' dtype")
    p.add_argument("--out", dest="directory", required=True, metavar="DIR", help="the directory to write (created)")
