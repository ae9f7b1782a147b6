"""``tconv checkerboard``: checkerboard-artifact scores for a geometry (the shared flags) or an ONNX model."""

from __future__ import annotations

import argparse
from typing import Any

from ..checkerboard import analyze_stack, report
from ..viz import draw_overlap
from .flags import CommandError, command, per_axis_values, written
from .viz import picture_file

#: the remedies' input size when ``-i`` is not given (see tconv.checkerboard.remedies)
IN_SIZE = 12


def cmd_checkerboard(args: argparse.Namespace) -> str:
    if args.model:
        result = analyze_stack(args.model)
        text = result.text()
        if args.heatmap:
            draw_overlap(result, picture_file(args.heatmap, "overlap.png", "--heatmap"))
            text += f"\nwrote {args.heatmap}"
        return text
    if args.kernel is None:
        raise CommandError("give -k/--kernel (and -s, -p, -d) or --model FILE.onnx")
    v = per_axis_values(args, "kernel", "stride", "dilation", "padding")
    kernel, stride = written(v["kernel"]), written(v["stride"])  # the heatmap's title shows them
    kw = dict(dilation=v["dilation"], padding=v["padding"])
    text = report(kernel, stride, in_size=max(args.input) if args.input else IN_SIZE, **kw)
    if args.heatmap:
        draw_overlap(kernel, picture_file(args.heatmap, "overlap.png", "--heatmap"), stride=stride, **kw)
        text += f"\nwrote {args.heatmap}"
    return text


def register(subparsers: Any) -> None:
    p = command(
        subparsers, "checkerboard", "checkerboard-artifact scores for a geometry or an ONNX model", cmd_checkerboard,
        "kernel", "stride", "padding", "dilation", "input", "out",
        input=f"input size the remedies are scored on (default {IN_SIZE}; the largest if several)",
    )  # fmt: skip
    p.add_argument("--model", help="an .onnx file: analyse its ConvTranspose stack instead of one geometry")
    p.add_argument("--heatmap", help="write the overlap heatmap to this PNG (needs tconv[viz])")
