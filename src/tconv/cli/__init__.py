"""The ``tconv`` command: a thin layer over the library.

One module per group of subcommands (:mod:`.shapes`, :mod:`.tour`,
:mod:`.convert`, :mod:`.inspect`, :mod:`.checkerboard`, :mod:`.viz`), each
with a ``register(subparsers)``; all read their flags from one vocabulary
(:mod:`.flags`). A subcommand is a function ``handler(args) -> str``: the text
to print, or to write to ``-o``.

Every failure is one stderr line ``tconv <command>: <message>``, never a
traceback (``--debug``, anywhere on the line, prints it first). A bad input
exits 2: a bad flag, a value the library refuses (``TconvError``, or a
``TypeError``/``ValueError`` the library words as ``tconv.<func>: ...``), a
file that cannot be read or written (``OSError``), a size too large to compute
(``MemoryError``, ``OverflowError``, ``RecursionError``), a missing optional
extra (``ImportError``, naming the extra). Anything else is a bug of tconv: the
line says so, with the exception's type and message, and the exit code is 1.
"""

from __future__ import annotations

import re
import sys
import traceback
from typing import Sequence

from .. import __version__
from ..errors import TconvError
from . import apply, checkerboard, convert, inspect, shapes, tour, vectors, viz
from .flags import CommandError, Parser

__all__ = ["build_parser", "main", "verdict"]

#: the subcommand groups, in the order ``tconv --help`` lists them
GROUPS = (shapes, tour, checkerboard, viz, convert, inspect, vectors, apply)

# a library message starts with the function it came from; the command line names the command instead
_LIBRARY_PREFIX = re.compile(r"^tconv\.[\w.]+: ")

DEBUG = "--debug"

#: the optional extra that installs a module the library imports on first use
EXTRAS = {"PIL": "viz", "onnx": "onnx", "matplotlib": "images", "skimage": "images", "dask": "dask", "zarr": "dask",
          "distributed": "dask"}


def build_parser() -> Parser:
    parser = Parser(prog="tconv", description="Exact transposed convolution: shapes, solvers, explanations.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(DEBUG, action="store_true", help="on an error, print the traceback too (also after COMMAND)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0; 2 for bad input; 1 for a bug of tconv; 130 if interrupted)."""
    parser = build_parser()
    args = None
    debug = False
    try:
        try:
            args, extra = parser.parse_known_args(argv)
        except SystemExit as done:  # --help and --version have printed; errors raise CommandError instead
            return int(done.code or 0)
        # --debug is read anywhere on the line, also after the subcommand (whose parser leaves it over)
        debug = args.debug or DEBUG in extra
        extra = [a for a in extra if a != DEBUG]
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
    except Exception as exc:
        prog = getattr(exc, "prog", None) or (args.command if args is not None else parser.prog)
        code, message = verdict(exc)
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        print(f"{prog}: {message}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print(f"{args.command if args is not None else parser.prog}: interrupted", file=sys.stderr)
        return 130  # the shell's code for a command ended by SIGINT


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def verdict(exc: Exception) -> tuple[int, str]:
    """``(exit code, the one line after "tconv <command>: ")`` for an exception a command raised."""
    message = _first_line(exc)
    worded = _LIBRARY_PREFIX.match(message) is not None
    if isinstance(exc, (CommandError, TconvError, OSError)) or (isinstance(exc, (TypeError, ValueError)) and worded):
        return 2, _LIBRARY_PREFIX.sub("", message)
    if isinstance(exc, MemoryError):
        return 2, f"not enough memory for this size ({message}); try smaller sizes"
    if isinstance(exc, OverflowError):
        return 2, f"a size is too large to compute ({message})"
    if isinstance(exc, RecursionError):
        return 2, f"the input is nested too deeply to read ({message})"
    if isinstance(exc, ImportError):
        # a missing extra: the library's own message names it, a bare "No module named 'PIL'" gets it added;
        # any other failed import is a broken install or a bug, reported as one below
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if "pip install" in message:
            return 2, _LIBRARY_PREFIX.sub("", message)
        if extra:
            return 2, f"{message} (install the extra: pip install 'tconv[{extra}]')"
    return 1, (
        f"internal error, please report it as a bug of tconv {__version__} with this command line "
        f"({DEBUG} shows the traceback): {type(exc).__name__}: {message}"
    )
