"""The flag vocabulary of every ``tconv`` subcommand, and its one reading into per-axis values.

A subcommand lists the flags it reads (:func:`command`); argparse refuses any
other. This module splits a flag's text (``7,5``, ``1:2,0``); how many spatial
dims the flags describe, and the value on every axis, only
:mod:`tconv.normalise` decides (:func:`per_axis_values`). As everywhere in
tconv, one value stands for every axis.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from ..normalise import padding_pairs, per_axis, spatial_dims

__all__ = [
    "FLAGS",
    "GEOMETRY",
    "TINY_CASE",
    "TINY_CASE_HELP",
    "CommandError",
    "Parser",
    "command",
    "ints",
    "paddings",
    "per_axis_values",
    "require",
    "sentence",
    "written",
]


class CommandError(Exception):
    """A bad command line or a command that cannot run: one line on stderr, exit code 2.

    ``prog`` is the command (``"tconv shape"``) when the parser raised it; a
    handler leaves it to ``main``, which knows the command it ran.
    """

    def __init__(self, message: str, prog: str | None = None):
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse with its errors as :class:`CommandError` (one line, not usage + message)."""

    def error(self, message: str):
        raise CommandError(message, self.prog)


def ints(text: str) -> tuple[int, ...]:
    """``"7,5"`` -> ``(7, 5)``."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas (e.g. 7 or 7,5); got {text!r}") from None


def paddings(text: str) -> tuple[int | tuple[int, int], ...]:
    """``"1:2,0"`` -> ``((1, 2), 0)``: per axis an int or a ``lo:hi`` pair."""
    entries: list[int | tuple[int, int]] = []
    try:
        for part in text.split(","):
            if ":" in part:
                lo, hi = part.split(":")
                entries.append((int(lo), int(hi)))
            else:
                entries.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 1, 1,0 or lo:hi per axis as in 1:2,0; got {text!r}") from None
    return tuple(entries)


#: name -> (option strings, argparse keywords, smallest value per axis or None).
#: ``out`` is a text destination (``main`` writes the output there); ``picture``
#: is the file a picture command draws, the same ``-o`` with another meaning.
FLAGS: dict[str, tuple[tuple[str, ...], dict[str, Any], int | None]] = {
    "input": (("-i", "--input"), dict(type=ints, help="input spatial size(s), e.g. 7 or 7,5"), 1),
    "kernel": (("-k", "--kernel"), dict(type=ints, help="kernel size(s)"), 1),
    "stride": (("-s", "--stride"), dict(type=ints, default=(1,), help="stride(s) (default 1)"), 1),
    "padding": (("-p", "--padding"), dict(type=paddings, default=(0,), help="padding: 1, 1,0 or lo:hi per axis (1:2,0)"), 0),
    "output_padding": (("--output-padding",), dict(type=ints, default=(0,), help="output_padding per axis (default 0)"), 0),
    "dilation": (("-d", "--dilation"), dict(type=ints, default=(1,), help="dilation(s) (default 1)"), 1),
    "target": (("--target",), dict(type=ints, help="the desired output size(s)"), 1),
    "out": (("-o", "--out"), dict(metavar="FILE", help="write the output to this file instead of stdout"), None),
    "picture": (("-o", "--out"), dict(dest="picture", metavar="FILE", help="the picture file to write"), None),
}

#: the geometry of one transposed conv, every per-axis flag but --target
GEOMETRY = ("input", "kernel", "stride", "padding", "output_padding", "dilation")

#: ``matrix`` and ``draw matrix`` default to the articles' case: a 3x3 kernel, 2x2 -> 4x4
TINY_CASE = dict(input=(2, 2), kernel=(3,))
TINY_CASE_HELP = dict(input="input spatial size(s) (default 2,2)", kernel="kernel size(s) (default 3)")


def flag(name: str) -> str:
    """How an error names a flag: ``-k/--kernel``."""
    return "/".join(FLAGS[name][0])


def sentence(summary: str) -> str:
    """A subcommand's one-line ``--help`` description from its summary in the ``tconv --help`` list."""
    return summary[0].upper() + summary[1:] + "."


def command(
    subparsers: Any,
    name: str,
    summary: str,
    handler: Callable[[argparse.Namespace], str],
    *flags: str,
    epilog: str | None = None,
    **helps: str,
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` reading only ``flags`` (``helps``: a flag's own help text there)."""
    p = subparsers.add_parser(name, help=summary, description=sentence(summary), epilog=epilog)
    # the per-axis flags (those with a smallest value) are listed apart, under "geometry"
    geometry = p.add_argument_group("geometry") if any(FLAGS[f][2] is not None for f in flags) else p
    for f in flags:
        options, keywords, minimum = FLAGS[f]
        keywords = dict(keywords, help=helps.get(f, keywords["help"]))
        (geometry if minimum is not None else p).add_argument(*options, **keywords)
    p.set_defaults(handler=handler, command=p.prog)
    return p


def require(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) is None:
            raise CommandError(f"{flag(name)} is required")


def per_axis_values(args: argparse.Namespace, *names: str) -> dict[str, tuple]:
    """The canonical per-axis tuple of each flag in ``names``, all with the same number of spatial dims.

    A flag given one value applies it to every axis, a ``lo:hi`` pair included;
    the flags given several must agree on their number. Padding comes back as
    ``(lo, hi)`` pairs.
    """
    given = {name: getattr(args, name) for name in names}
    func = "cli"  # main words every error as "tconv <command>: ...", in place of "tconv.cli: "
    nd = spatial_dims(func, **{flag(name): v for name, v in given.items() if len(v) > 1})
    values = {}
    for name, v in given.items():
        if name == "padding":
            # one (lo, hi) pair would read as two axes: repeat it per axis first
            values[name] = padding_pairs(func, v * nd if len(v) == 1 else v, nd)
        else:
            values[name] = per_axis(func, flag(name), v, nd, FLAGS[name][2], one_for_all=True)
    return values


def written(values: tuple[int, ...]) -> int | tuple[int, ...]:
    """A canonical per-axis tuple as a title shows it: an int for one axis (``draw_overlap``'s ``k=3 s=2``)."""
    return values[0] if len(values) == 1 else values
