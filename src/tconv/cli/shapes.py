"""``tconv shape``, ``solve``, ``explain`` and ``matrix``: the geometry of one transposed conv, in text."""

from __future__ import annotations

import argparse
import math
from typing import Any, Sequence

import numpy as np

from .. import geometry as geo
from ..algorithms.zero_insert import padded_input
from ..ops import conv_matrix, conv_transpose
from ..text import grid
from .flags import GEOMETRY, TINY_CASE, TINY_CASE_HELP, CommandError, command, per_axis_values, require


def _sizes(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


def _geometry_args(args: argparse.Namespace) -> tuple[tuple[int, ...], dict[str, Any]]:
    """(input size, keyword arguments of the transposed conv) from the geometry flags."""
    require(args, "input", "kernel")
    v = per_axis_values(args, *GEOMETRY)
    return v["input"], dict(
        kernel_size=v["kernel"],
        stride=v["stride"],
        padding=v["padding"],
        output_padding=v["output_padding"],
        dilation=v["dilation"],
    )


def cmd_shape(args: argparse.Namespace) -> str:
    n, kw = _geometry_args(args)
    return f"output size: {_sizes(geo.output_size(n, **kw))}"


def cmd_solve(args: argparse.Namespace) -> str:
    require(args, "input", "kernel", "target")
    v = per_axis_values(args, "input", "kernel", "stride", "dilation", "target")
    answers = geo.solve_padding(v["input"], v["target"], v["kernel"], stride=v["stride"], dilation=v["dilation"])
    lines = [f"(padding, output_padding) pairs giving output size {_sizes(args.target)}:"]
    for ax, pairs in enumerate(answers):
        if pairs:
            lines.append(f"  axis {ax}: {_pairs(pairs)}")
        else:
            lines.append(f"  none: {pairs.reason}")
    return "\n".join(lines)


#: ``solve`` lists an axis's pairs in full up to this many; a longer progression is summarised
SHOWN_PAIRS = 8


def _pairs(pairs: geo.AxisSolutions) -> str:
    """An axis's answers in one bounded line: every pair, or the first few, the last and the progression."""
    def pair(p: int, op: int) -> str:
        return f"padding={p} output_padding={op}"

    if len(pairs) <= SHOWN_PAIRS:
        return ", ".join(pair(p, op) for p, op in pairs)
    head = ", ".join(pair(p, op) for p, op in pairs[: SHOWN_PAIRS // 2])
    padding, output_padding = pairs.ranges
    return (
        f"{head}, ..., {pair(*pairs[-1])} ({len(pairs)} pairs: padding {_progression(padding)}, "
        f"output_padding {_progression(output_padding)})"
    )


def _progression(r: range) -> str:
    return f"{r.start} to {r[-1]} in steps of {r.step}"


def cmd_explain(args: argparse.Namespace) -> str:
    n, kw = _geometry_args(args)
    parts = [geo.explain(n, **kw).text()]
    geom = geo.transpose_geometry("explain", n, **kw)
    if geom.ndim <= 2 and max(geom.full) <= 40:
        x = np.arange(1, np.prod(geom.in_size) + 1, dtype=float).reshape((1, 1) + geom.in_size)
        w = np.ones((1, 1) + geom.kernel)
        # the zero-insertion view: the dilated, padded input and a mask of its non-input cells
        view, blank = padded_input(x, geom), ~padded_input(np.ones_like(x, dtype=bool), geom)
        y = conv_transpose(x, w, **{key: v for key, v in kw.items() if key != "kernel_size"})
        parts += [
            "",
            "input x (values 1, 2, ...; kernel all ones):",
            grid(x[0, 0]),
            "",
            "zero-inserted and padded input (· = inserted zero or padding):",
            grid(view[0, 0], blank[0, 0]),
            "",
            "output (each cell sums the input values under the flipped kernel):",
            grid(y[0, 0]),
        ]
    return "\n".join(parts)


def cmd_matrix(args: argparse.Namespace) -> str:
    n, kw = _geometry_args(args)
    geom = geo.transpose_geometry("matrix", n, **kw)
    # C maps the output's cells to the input's: refuse a big case before building it
    rows, cols = math.prod(geom.in_size), math.prod(geom.out_size)
    if max(rows, cols) > 64:
        raise CommandError(f"prints tiny cases only (at most 64 rows and columns); C would be {rows}x{cols}")
    weight = np.arange(1, np.prod(geom.kernel) + 1, dtype=float).reshape((1, 1) + geom.kernel)
    c = conv_matrix((1,) + geom.out_size, weight, stride=geom.stride, padding=kw["padding"], dilation=geom.dilation)
    dense = c.toarray()
    return "\n".join(
        [
            f"kernel taps numbered 1..{weight.size} (row-major); transposed conv {_sizes(geom.in_size)} -> {_sizes(geom.out_size)}",
            f"C (the forward conv {_sizes(geom.out_size)} -> {_sizes(geom.in_size)}), {dense.shape[0]}x{dense.shape[1]}:",
            grid(dense, dense == 0),
            "",
            f"C^T (the transposed conv), {dense.shape[1]}x{dense.shape[0]}:",
            grid(dense.T, dense.T == 0),
        ]
    )


def register(subparsers: Any) -> None:
    command(subparsers, "shape", "output size of a transposed conv", cmd_shape, *GEOMETRY, "out")
    command(
        subparsers, "solve", "every (padding, output_padding) reaching --target", cmd_solve,
        "input", "kernel", "stride", "dilation", "target", "out",
    )  # fmt: skip
    command(subparsers, "explain", "the geometry axis by axis, with ASCII grids", cmd_explain, *GEOMETRY, "out")
    p = command(subparsers, "matrix", "print C and C^T for a tiny case", cmd_matrix, *GEOMETRY, "out", **TINY_CASE_HELP)
    p.set_defaults(**TINY_CASE)
