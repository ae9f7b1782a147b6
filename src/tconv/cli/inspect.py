"""``tconv inspect MODEL.onnx``: every ConvTranspose node of an ONNX model, resolved and flagged."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from ..inspect import format_reports, inspect_model
from .flags import command


def cmd_inspect(args: argparse.Namespace) -> str:
    reports = inspect_model(args.model)
    if args.json:
        return json.dumps([asdict(r) for r in reports], indent=2)
    return format_reports(reports, args.model)


def register(subparsers: Any) -> None:
    p = command(subparsers, "inspect", "every ConvTranspose node of an ONNX model, resolved and flagged", cmd_inspect, "out")
    p.add_argument("model", help="path of an .onnx file")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
