"""``tconv animate`` and ``tconv draw matrix|overlap``: pictures (the ``tconv[viz]`` extra), ``-o`` names the file."""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

from ..checkerboard import analyze_stack
from .. import viz
from ..errors import TconvError
from ..viz import animate, draw_matrix, draw_overlap
from .flags import GEOMETRY, TINY_CASE, TINY_CASE_HELP, CommandError, command, per_axis_values, require, sentence, written


def _picture(args: argparse.Namespace, example: str) -> str:
    """The picture's path (``-o``), checked by :func:`picture_file`."""
    return picture_file(args.picture, example)


def picture_file(path: str | None, example: str, flag: str = "-o/--out") -> str:
    """``path`` after checking Pillow is there and can write its extension: one clean error line otherwise."""
    if importlib.util.find_spec("PIL") is None:
        raise CommandError("needs Pillow: pip install 'tconv[viz]'")
    if not path:
        raise CommandError(f"{flag} is required (the picture file, e.g. {example})")
    try:  # Pillow picks the format from the extension: refuse one it cannot write before drawing anything
        return viz.picture_path("cli", path)
    except TconvError:
        raise CommandError(f"{flag} must end in an image extension Pillow writes (e.g. {example}); got {path!r}") from None


def _geometry(args: argparse.Namespace) -> tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]:
    require(args, "input", "kernel")
    v = per_axis_values(args, *GEOMETRY)
    kwargs = dict(stride=v["stride"], padding=v["padding"], output_padding=v["output_padding"], dilation=v["dilation"])
    return v["input"], v["kernel"], kwargs


def cmd_animate(args: argparse.Namespace) -> str:
    n, k, kwargs = _geometry(args)
    path = _picture(args, "conv.gif")
    frames = animate(path, n, k, view=args.view, frames_dir=args.frames, duration_ms=args.duration, **kwargs)
    note = f"wrote {path}: {len(frames)} frames ({args.view} view), {frames.images[0].size[0]}x{frames.images[0].size[1]} px"
    return note + (f"; PNG frames in {args.frames}" if args.frames else "")


def cmd_draw_matrix(args: argparse.Namespace) -> str:
    n, k, kwargs = _geometry(args)
    path = _picture(args, "matrix.png")
    picture = draw_matrix(path, n, k, **kwargs)
    rows, cols = picture.grids["C"].rows, picture.grids["C"].cols
    return f"wrote {path}: C is {rows}x{cols}, C^T is {cols}x{rows}"


def cmd_draw_overlap(args: argparse.Namespace) -> str:
    if args.model:
        path = _picture(args, "overlap.png")
        draw_overlap(analyze_stack(args.model), path, periods=args.periods)
        return f"wrote {path}"
    if args.kernel is None:
        raise CommandError("give -k/--kernel (with -s, -p, -d) or --model FILE.onnx")
    v = per_axis_values(args, "kernel", "stride", "padding", "dilation")
    path = _picture(args, "overlap.png")
    draw_overlap(
        written(v["kernel"]),  # the panel's title shows kernel and stride
        path,
        stride=written(v["stride"]),
        dilation=v["dilation"],
        padding=v["padding"],
        periods=args.periods,
    )
    return f"wrote {path}"


def register(subparsers: Any) -> None:
    p = command(subparsers, "animate", "animated GIF of a transposed conv (needs tconv[viz])", cmd_animate, *GEOMETRY, "picture")
    p.add_argument(
        "--view", choices=("zero_insertion", "scatter"), default="zero_insertion", help="which picture (default zero_insertion)"
    )
    p.add_argument("--frames", metavar="DIR", help="also write every frame as a PNG into DIR")
    p.add_argument("--duration", type=int, default=600, help="milliseconds per frame (default 600)")

    summary = "still pictures: matrix (C and C^T), overlap (heatmap)"
    draw = subparsers.add_parser("draw", help=summary, description=sentence(summary))
    what = draw.add_subparsers(required=True, metavar="PICTURE")
    m = command(
        what, "matrix", "C and C^T for a small case (default: 3x3 kernel, 2x2 -> 4x4)", cmd_draw_matrix,
        *GEOMETRY, "picture", **TINY_CASE_HELP,
    )  # fmt: skip
    m.set_defaults(**TINY_CASE)
    o = command(
        what, "overlap", "overlap heatmap of a geometry or an ONNX stack", cmd_draw_overlap,
        "kernel", "stride", "padding", "dilation", "picture",
    )  # fmt: skip
    o.add_argument("--model", help="an .onnx file: one panel per ConvTranspose layer")
    o.add_argument("--periods", type=int, default=3, help="periods tiled per axis (default 3)")
