"""``tconv checkerboard``: the command-line part, kept apart until it moves into ``tconv/cli/`` (issue 16)."""

from __future__ import annotations

import argparse
from typing import Any, Sequence

from ..errors import TconvError
from .report import report
from .stack import analyze_stack


def _cmd_checkerboard(args: argparse.Namespace) -> str:
    try:  # the optional extras (onnx, Pillow) become one clean error line
        return _checkerboard_text(args)
    except ImportError as exc:
        raise TconvError(f"tconv checkerboard: {exc}") from None


def _checkerboard_text(args: argparse.Namespace) -> str:
    if args.model:
        result = analyze_stack(args.model)
        text = result.text()
        if args.heatmap:
            from ..viz import draw_overlap

            draw_overlap(result, args.heatmap)
            text += f"\nwrote {args.heatmap}"
        return text
    if args.kernel is None:
        raise TconvError("tconv checkerboard: give -k/--kernel (and -s, -p, -d) or --model FILE.onnx")
    nd = max(len(args.kernel), len(args.stride), len(args.dilation), len(args.padding))

    def per_axis(values: Sequence) -> Any:
        return values[0] if nd == 1 else (tuple(values) * nd if len(values) == 1 else tuple(values))

    kernel, stride = per_axis(args.kernel), per_axis(args.stride)
    kw = dict(dilation=per_axis(args.dilation), padding=per_axis(args.padding))
    in_size = max(args.input) if args.input else 12
    text = report(kernel, stride, in_size=in_size, **kw)
    if args.heatmap:
        from ..viz import draw_overlap

        draw_overlap(kernel, args.heatmap, stride=stride, **kw)
        text += f"\nwrote {args.heatmap}"
    return text


def register(subparsers: Any, geometry_parent: argparse.ArgumentParser) -> None:
    """Add ``tconv checkerboard`` (a geometry via the shared flags, or ``--model FILE.onnx``)."""
    p = subparsers.add_parser(
        "checkerboard",
        help="checkerboard-artifact scores for a geometry or an ONNX model",
        parents=[geometry_parent],
    )
    p.add_argument("--model", help="an .onnx file: analyse its ConvTranspose stack instead of one geometry")
    p.add_argument("--heatmap", help="write the overlap heatmap to this PNG (needs tconv[viz])")
    p.set_defaults(handler=_cmd_checkerboard)
