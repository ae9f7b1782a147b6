"""``tconv tour``: the articles' worked examples through every algorithm."""

from __future__ import annotations

import argparse
from typing import Any

from ..tour import tour
from .flags import command


def cmd_tour(args: argparse.Namespace) -> str:
    return tour()


def register(subparsers: Any) -> None:
    command(subparsers, "tour", "the articles' worked examples through every algorithm", cmd_tour, "out")
