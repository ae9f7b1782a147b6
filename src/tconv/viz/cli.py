"""``tconv animate`` and ``tconv draw matrix|overlap``: pictures from the shared geometry flags.

``-o/--out`` names the picture. The CLI's ``main`` would write the returned text
to ``-o`` as well, so a handler that wrote a picture clears ``args.out`` and
returns a one-line note for stdout instead.
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any, Sequence

from ..errors import TconvError


def _per_axis(values: Sequence, nd: int) -> Any:
    """A single CLI value applies to every axis; one axis gives a plain int."""
    values = tuple(values)
    if nd == 1:
        return values[0]
    return values * nd if len(values) == 1 else values


def _geometry(args: argparse.Namespace, command: str) -> tuple[Any, Any, dict]:
    if args.input is None or args.kernel is None:
        raise TconvError(f"tconv {command}: -i/--input and -k/--kernel are required")
    nd = max(len(args.input), len(args.kernel), len(args.stride), len(args.padding), len(args.dilation))
    kwargs = dict(
        stride=_per_axis(args.stride, nd),
        padding=_per_axis(args.padding, nd),
        output_padding=_per_axis(args.output_padding, nd),
        dilation=_per_axis(args.dilation, nd),
    )
    return _per_axis(args.input, nd), _per_axis(args.kernel, nd), kwargs


def _require_out(args: argparse.Namespace, command: str, example: str) -> str:
    """The picture's path (``-o``), after checking Pillow is there: one clean error line otherwise."""
    if importlib.util.find_spec("PIL") is None:
        raise TconvError(f"tconv {command} needs Pillow: pip install 'tconv[viz]'")
    if not args.out:
        raise TconvError(f"tconv {command}: -o/--out is required (the picture file, e.g. {example})")
    path, args.out = args.out, None  # the picture is written here; the note goes to stdout
    return path


def cmd_animate(args: argparse.Namespace) -> str:
    from .animate import animate

    n, k, kwargs = _geometry(args, "animate")
    path = _require_out(args, "animate", "conv.gif")
    frames = animate(path, n, k, view=args.view, frames_dir=args.frames, duration_ms=args.duration, **kwargs)
    note = f"wrote {path}: {len(frames)} frames ({args.view} view), {frames.images[0].size[0]}x{frames.images[0].size[1]} px"
    return note + (f"; PNG frames in {args.frames}" if args.frames else "")


def cmd_draw_matrix(args: argparse.Namespace) -> str:
    from .draw import draw_matrix

    if args.input is None:
        args.input = (2, 2)
    if args.kernel is None:
        args.kernel = (3,)
    n, k, kwargs = _geometry(args, "draw matrix")
    path = _require_out(args, "draw matrix", "matrix.png")
    picture = draw_matrix(path, n, k, **kwargs)
    rows, cols = picture.grids["C"].rows, picture.grids["C"].cols
    return f"wrote {path}: C is {rows}x{cols}, C^T is {cols}x{rows}"


def cmd_draw_overlap(args: argparse.Namespace) -> str:
    from .. import checkerboard as cb
    from .draw import draw_overlap

    if args.model:
        path = _require_out(args, "draw overlap", "overlap.png")
        draw_overlap(cb.analyze_stack(args.model), path, periods=args.periods)
        return f"wrote {path}"
    if args.kernel is None:
        raise TconvError("tconv draw overlap: give -k/--kernel (with -s, -p, -d) or --model FILE.onnx")
    nd = max(len(args.kernel), len(args.stride), len(args.padding), len(args.dilation))
    path = _require_out(args, "draw overlap", "overlap.png")
    draw_overlap(
        _per_axis(args.kernel, nd),
        path,
        stride=_per_axis(args.stride, nd),
        dilation=_per_axis(args.dilation, nd),
        padding=_per_axis(args.padding, nd),
        periods=args.periods,
    )
    return f"wrote {path}"


def register(subparsers: Any, geometry_parent: argparse.ArgumentParser) -> None:
    """Add ``tconv animate`` and ``tconv draw {matrix,overlap}``."""
    p = subparsers.add_parser("animate", help="animated GIF of a transposed conv (needs tconv[viz])", parents=[geometry_parent])
    p.add_argument("--view", choices=("zero_insertion", "scatter"), default="zero_insertion", help="which picture (default zero_insertion)")
    p.add_argument("--frames", metavar="DIR", help="also write every frame as a PNG into DIR")
    p.add_argument("--duration", type=int, default=600, help="milliseconds per frame (default 600)")
    p.set_defaults(handler=cmd_animate)

    draw = subparsers.add_parser("draw", help="still pictures: matrix (C and C^T), overlap (heatmap)")
    what = draw.add_subparsers(dest="picture", required=True, metavar="PICTURE")
    m = what.add_parser("matrix", help="C and C^T for a small case (default: 3x3 kernel, 2x2 -> 4x4)", parents=[geometry_parent])
    m.set_defaults(handler=cmd_draw_matrix)
    o = what.add_parser("overlap", help="overlap heatmap of a geometry or an ONNX stack", parents=[geometry_parent])
    o.add_argument("--model", help="an .onnx file: one panel per ConvTranspose layer")
    o.add_argument("--periods", type=int, default=3, help="periods tiled per axis (default 3)")
    o.set_defaults(handler=cmd_draw_overlap)
