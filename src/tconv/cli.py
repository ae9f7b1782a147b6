"""The ``tconv`` command: a thin layer over the library.

Every subcommand shares one flag vocabulary (:func:`geometry_flags`). A
subcommand is a function ``handler(args) -> str`` (the text to print, or to
write with ``-o``); errors raise and become one line on stderr with exit code 2.
Other modules add subcommands by listing a ``register(subparsers, geometry_parent)``
function in :data:`PLUGINS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

import numpy as np

from . import geometry as geo
from .algorithms.zero_insert import padded_input
from .errors import TconvError
from .ops import conv_matrix, conv_transpose

#: ``module:function`` names of further subcommand registrations.
PLUGINS: tuple[str, ...] = ("tconv.checkerboard:register", "tconv.viz.cli:register", "tconv.converter:register", "tconv.inspect:register")


class UsageError(Exception):
    """A bad command line: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clean line instead of usage + message
        raise UsageError(f"{self.prog}: {message}")


# --------------------------------------------------------------------------
# the shared flag vocabulary
# --------------------------------------------------------------------------


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas (e.g. 7 or 7,5); got {text!r}")
    return values


def _padding(text: str) -> tuple[int | tuple[int, int], ...]:
    entries: list[int | tuple[int, int]] = []
    try:
        for part in text.split(","):
            if ":" in part:
                lo, hi = part.split(":")
                entries.append((int(lo), int(hi)))
            else:
                entries.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 1, 1,0 or lo:hi per axis as in 1:2,0; got {text!r}")
    return tuple(entries)


def geometry_flags() -> argparse.ArgumentParser:
    """The flags every subcommand shares (an argparse parent parser)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("geometry")
    g.add_argument("-i", "--input", type=_ints, help="input spatial size(s), e.g. 7 or 7,5")
    g.add_argument("-k", "--kernel", type=_ints, help="kernel size(s)")
    g.add_argument("-s", "--stride", type=_ints, default=(1,), help="stride(s) (default 1)")
    g.add_argument("-p", "--padding", type=_padding, default=(0,), help="padding: 1, 1,0 or lo:hi per axis (1:2,0)")
    g.add_argument("--output-padding", type=_ints, default=(0,), help="output_padding per axis (default 0)")
    g.add_argument("-d", "--dilation", type=_ints, default=(1,), help="dilation(s) (default 1)")
    g.add_argument("-g", "--groups", type=int, default=1, help="groups (default 1)")
    g.add_argument("--target", type=_ints, help="a desired output size (solve)")
    g.add_argument("-o", "--out", help="write the output to this file instead of stdout")
    return p


def _one_or_all(values: Sequence, nd: int) -> object:
    """A single CLI value applies to every axis."""
    return values[0] if len(values) == 1 and nd > 1 else tuple(values)


def _require(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) is None:
            flag = {"input": "-i/--input", "kernel": "-k/--kernel", "target": "--target"}[name]
            raise UsageError(f"tconv {args.command}: {flag} is required")


def _geometry_args(args: argparse.Namespace) -> tuple[tuple[int, ...], dict]:
    """(input size, keyword arguments of the transposed conv) from the shared flags."""
    _require(args, "input", "kernel")
    nd = max(len(args.input), len(args.kernel), len(args.stride), len(args.padding), len(args.dilation))
    kwargs = dict(
        stride=_one_or_all(args.stride, nd),
        padding=_one_or_all(args.padding, nd),
        output_padding=_one_or_all(args.output_padding, nd),
        dilation=_one_or_all(args.dilation, nd),
    )
    return _one_or_all(args.input, nd), dict(kernel_size=_one_or_all(args.kernel, nd), **kwargs)


def _sizes(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------


def grid(a: np.ndarray, blank: np.ndarray | None = None) -> str:
    """A 1-D or 2-D array as an aligned text grid; ``blank`` marks cells shown as ``·``."""
    a2 = np.atleast_2d(a)
    marks = None if blank is None else np.atleast_2d(blank)
    cells = [[("·" if marks is not None and marks[r, c] else f"{v:g}") for c, v in enumerate(row)] for r, row in enumerate(a2)]
    width = max(len(c) for row in cells for c in row)
    return "\n".join(" ".join(c.rjust(width) for c in row) for row in cells)


def _zero_insertion_view(x: np.ndarray, geom: geo.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """The dilated, padded input of the zero-insertion view and a mask of its non-input cells."""
    return padded_input(x, geom), ~padded_input(np.ones_like(x, dtype=bool), geom)


# --------------------------------------------------------------------------
# subcommands
# --------------------------------------------------------------------------


def cmd_shape(args: argparse.Namespace) -> str:
    n, kw = _geometry_args(args)
    out = geo.output_size(n, **kw)
    return f"output size: {_sizes(out)}"


def cmd_solve(args: argparse.Namespace) -> str:
    _require(args, "target")
    n, kw = _geometry_args(args)
    nd = max(len(args.input), len(args.kernel), len(args.target))
    answers = geo.solve_padding(
        n, _one_or_all(args.target, nd), kw["kernel_size"], stride=kw["stride"], dilation=kw["dilation"]
    )
    lines = [f"(padding, output_padding) pairs giving output size {_sizes(args.target)}:"]
    for ax, pairs in enumerate(answers):
        if pairs:
            lines.append(f"  axis {ax}: " + ", ".join(f"padding={p} output_padding={op}" for p, op in pairs))
        else:
            lines.append(f"  none: {pairs.reason}")
    return "\n".join(lines)


def cmd_explain(args: argparse.Namespace) -> str:
    n, kw = _geometry_args(args)
    explanation = geo.explain(n, **kw)
    parts = [explanation.text()]
    geom = geo.transpose_geometry("explain", n, **kw)
    if geom.ndim <= 2 and max(geom.full) <= 40:
        x = np.arange(1, np.prod(geom.in_size) + 1, dtype=float).reshape((1, 1) + geom.in_size)
        w = np.ones((1, 1) + geom.kernel)
        view, blank = _zero_insertion_view(x, geom)
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
    if args.input is None:
        args.input = (2, 2)
    if args.kernel is None:
        args.kernel = (3,)
    n, kw = _geometry_args(args)
    geom = geo.transpose_geometry("matrix", n, **kw)
    weight = np.arange(1, np.prod(geom.kernel) + 1, dtype=float).reshape((1, 1) + geom.kernel)
    c = conv_matrix(
        (1,) + geom.out_size,
        weight,
        stride=geom.stride,
        padding=kw["padding"],
        dilation=geom.dilation,
    )
    if max(c.shape) > 64:
        raise TconvError(f"tconv matrix: prints tiny cases only (at most 64 rows and columns); C would be {c.shape[0]}x{c.shape[1]}")
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


def cmd_tour(args: argparse.Namespace) -> str:
    from .tour import tour

    return tour()


COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], str]]] = {
    "shape": ("output size of a transposed conv", cmd_shape),
    "solve": ("every (padding, output_padding) reaching --target", cmd_solve),
    "explain": ("the geometry axis by axis, with ASCII grids", cmd_explain),
    "matrix": ("print C and C^T for a tiny case", cmd_matrix),
    "tour": ("the articles' worked examples through every algorithm", cmd_tour),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tconv", description="Exact transposed convolution: shapes, solvers, explanations.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    parent = geometry_flags()
    for name, (help_text, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, parents=[parent])
        p.set_defaults(handler=handler)
    for plugin in PLUGINS:
        module, func = plugin.split(":")
        getattr(importlib.import_module(module), func)(sub, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, or 2 for bad input)."""
    try:
        args = build_parser().parse_args(argv)
        text = args.handler(args)
        if text:
            if args.out:
                with open(args.out, "w", encoding="utf-8") as f:
                    f.write(text + "\n")
            else:
                print(text)
        return 0
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (TconvError, TypeError, ValueError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"tconv: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
