"""``tconv convert LAYER --to FRAMEWORK -i SIZE``: a transposed-conv layer ported to another framework."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from ..converter import FRAMEWORKS, convert, loads
from ..errors import TconvError
from .flags import CommandError, command, require

EPILOG = (
    'LAYER is a JSON object such as \'{"framework": "keras", "layer": "Conv2DTranspose", "filters": 64, '
    '"kernel_size": 3, "strides": 2, "padding": "same", "in_channels": 128}\', or a file holding one.'
)


def cmd_convert(args: argparse.Namespace) -> str:
    text = args.layer
    if not text.lstrip().startswith("{"):
        if not os.path.isfile(text):
            raise CommandError(f"LAYER must be a JSON object or the path of a file holding one; got {text!r}")
        try:
            with open(text, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8: {exc.reason} at byte {exc.start}"
            raise CommandError(f"LAYER file {args.layer!r} is not JSON text ({reason})") from None
    layer = loads(text)
    require(args, "input")
    # the layer decides how many spatial dims there are: convert reads one size as every axis's
    size = args.input[0] if len(args.input) == 1 else args.input
    blocks = []
    targets = FRAMEWORKS if args.to == "all" else (args.to,)
    refused: list[TconvError] = []
    for target in targets:
        try:
            result = convert(layer, target, size)
        except TconvError as exc:
            # with --to all, a target that cannot hold the layer (WebNN or LiteRT for a 3-D one) is
            # reported in its place; a layer every target refuses is the source's error
            if len(targets) == 1:
                raise
            refused.append(exc)
            message = str(exc)
            blocks.append(json.dumps({"target": target, "error": message}) if args.json else f"# {target}: {message}")
            continue
        if args.json:
            blocks.append(json.dumps({"target": target, "arguments": result.arguments, "residual": result.residual}))
        else:
            blocks.append(result.code)
    if len(refused) == len(targets):
        raise refused[0]
    return "\n\n".join(blocks)


def register(subparsers: Any) -> None:
    p = command(
        subparsers, "convert", "port a transposed-conv layer to another framework (LAYER: JSON text or a JSON file)",
        cmd_convert, "input", "out", epilog=EPILOG, input="the input's spatial size, e.g. 32,32",
    )  # fmt: skip
    p.add_argument("layer", metavar="LAYER", help="the layer description: JSON text, or the path of a JSON file")
    p.add_argument("--to", required=True, choices=FRAMEWORKS + ("all",), help="the target framework")
    p.add_argument("--json", action="store_true", help="print the arguments and residual as JSON instead of code")
