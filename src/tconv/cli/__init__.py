"""The ``tconv`` command: a thin layer over the library.

One module per group of subcommands (:mod:`.shapes`, :mod:`.tour`,
:mod:`.convert`, :mod:`.inspect`, :mod:`.checkerboard`, :mod:`.viz`), each
with a ``register(subparsers)``; all read their flags from one vocabulary
(:mod:`.flags`). A subcommand is a function ``handler(args) -> str``: the text
to print, or to write to ``-o``. Every error, a bad flag or a failing library
call, is one stderr line ``tconv <command>: <message>`` and exit code 2.
"""

from __future__ import annotations

import re
import sys
from typing import Sequence

from .. import __version__
from ..errors import TconvError
from . import checkerboard, convert, inspect, shapes, tour, viz
from .flags import CommandError, Parser

__all__ = ["build_parser", "main"]

#: the subcommand groups, in the order ``tconv --help`` lists them
GROUPS = (shapes, tour, checkerboard, viz, convert, inspect)

# a library message starts with the function it came from; the command line names the command instead
_LIBRARY_PREFIX = re.compile(r"^tconv\.[\w.]+: ")


def build_parser() -> Parser:
    parser = Parser(prog="tconv", description="Exact transposed convolution: shapes, solvers, explanations.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, or 2 for bad input)."""
    parser = build_parser()
    args = None
    try:
        try:
            args, extra = parser.parse_known_args(argv)
        except SystemExit as done:  # --help and --version have printed; errors raise CommandError instead
            return int(done.code or 0)
        if extra:
            raise CommandError(f"unrecognized arguments: {' '.join(extra)} ({args.command} --help lists what it reads)")
        text = args.handler(args)
        if text:
            out = getattr(args, "out", None)
            if out:
                with open(out, "w", encoding="utf-8") as f:
                    f.write(text + "\n")
            else:
                print(text)
        return 0
    except (CommandError, TconvError, TypeError, ValueError, OSError, ImportError) as exc:
        # ImportError: an optional extra (onnx, Pillow) is missing; its message says what to install
        prog = getattr(exc, "prog", None) or (args.command if args is not None else parser.prog)
        message = _LIBRARY_PREFIX.sub("", str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
        print(f"{prog}: {message}", file=sys.stderr)
        return 2
