"""PyTorch's converter hooks (:class:`tconv.compat.porting.Framework`): ``torch.nn.ConvTranspose{1,2,3}d``.

A description names the ``"layer"`` class with its constructor arguments; the
target is that constructor, with ``padding`` and ``output_padding`` searched
per axis (the kernel layout is tconv's own).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import fail
from ...geometry import Axis
from .. import porting
from ..porting import FUNC, Choice, Source, Target
from ...normalise import per_axis
from . import geometry as torch_geometry

__all__ = ["KEYS", "NAME", "describe", "search", "source", "target"]

NAME = "torch"
KEYS = ("layer", "in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "groups",
        "bias", "dilation", "padding_mode")  # fmt: skip


def describe(layer: object) -> dict | None:
    """A live ``torch.nn.ConvTranspose{1,2,3}d`` as a description (None for anything else)."""
    cls = porting.live_class(layer, "torch", r"ConvTranspose[123]d")
    if cls is None:
        return None
    desc = {key: getattr(layer, key) for key in KEYS if key not in ("layer", "bias")}
    return {"framework": NAME, "layer": cls, "bias": layer.bias is not None, **desc}


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    nd = porting.nd_from_name(desc.get("layer"), r"ConvTranspose([123])d", "layer")
    mode = desc.get("padding_mode", "zeros")
    if mode != "zeros":
        raise fail(FUNC, f"torch.nn.ConvTranspose{nd}d only supports padding_mode='zeros' (as PyTorch); got {mode!r}")
    geom = torch_geometry(
        per_axis(FUNC, "input_size", input_size, nd, 1),
        per_axis(FUNC, "kernel_size", desc.get("kernel_size"), nd, 1),
        desc.get("stride", 1),
        desc.get("padding", 0),
        desc.get("output_padding", 0),
        desc.get("groups", 1),
        desc.get("dilation", 1),
    )
    c_in, c_out = porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels")
    return Source(NAME, geom, c_in, c_out, bool(desc.get("bias", True)), np.asarray, f"torch.nn.ConvTranspose{nd}d")


#: past this many (padding, output_padding) pairs the search tries only those where its cost can turn
_ENUMERATE_LIMIT = 4096


def _candidates(a: Axis) -> list[tuple[int, int]]:
    """The ``(padding, output_padding)`` pairs to try, padding descending then output_padding ascending.

    PyTorch's window is ``y_full[p : full - p + op]``: the crop before is
    ``start - p`` and after ``full - p + op - start - length``, both linear, so
    the cost (exact first, then crops only, then elements moved) turns only
    where the crop after meets zero (``op0 = start + length + p - full``) or
    ``op`` meets its bounds ``0`` and ``max(s, d) - 1``, or where the window
    stops covering the source's part of ``y_full``, or PyTorch's output
    length ``full - 2p + op`` meets 1. A small space is tried
    whole; a large one at those turning points and their neighbours, in the
    same order, so the first best pick is the same.
    """
    top, ops = max(a.start, 0), max(a.stride, a.dilation)
    if (top + 1) * ops <= _ENUMERATE_LIMIT:
        return [(p, op) for p in range(top, -1, -1) for op in range(ops)]
    base = a.start + a.length - a.full  # op0 at p = 0
    # the window must still hold all of y_full that the source's does: p <= op + full - min(end, full)
    cover = a.full - min(a.start + a.length, a.full)
    # and PyTorch must have an output at all: full - 2p + op >= 1
    turns = {top, 0, -base, ops - 1 - base, cover, cover + ops - 1, (a.full - 1) // 2, (a.full + ops - 2) // 2}
    pads = sorted({p + e for p in turns for e in (-1, 0, 1) if 0 <= p + e <= top}, reverse=True)
    pairs = []
    for p in pads:
        op0 = base + p
        edges = (op0, 2 * p + 1 - a.full, p - cover)  # crop after 0; output length 1; covering again
        picks = {op + e for op in edges for e in (-1, 0, 1)} | {0, 1, ops - 2, ops - 1}
        pairs += [(p, op) for op in sorted(picks) if 0 <= op < ops]
    return pairs


def search(a: Axis, option: Any = None) -> Choice | None:
    """``(padding, output_padding)`` for ``a``: PyTorch has one padding family."""
    def axis_of(p: int, op: int) -> Axis:
        return porting.only_axis(torch_geometry(a.size, a.kernel, a.stride, p, op, 1, a.dilation))

    return porting.best(a, (((p, op), lambda p=p, op=op: axis_of(p, op)) for p, op in _candidates(a)))


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    choices = [search(a) for a in geom.axes]
    rest = porting.residual(choices)
    late = porting.bias_after(src, rest)
    args = dict(
        in_channels=porting.need(src.in_channels, "in_channels", NAME),
        out_channels=porting.need(src.out_channels, "out_channels", NAME),
        kernel_size=geom.kernel,
        stride=geom.stride,
        padding=tuple(p for (p, _), _ in choices),
        output_padding=tuple(op for (_, op), _ in choices),
        groups=geom.groups,
        bias=src.bias and not late,
        dilation=geom.dilation,
    )
    lines = [
        f"layer = torch.nn.ConvTranspose{nd}d({porting.kwargs_text(args)})",
        "y = layer(x)  # x: (N, C_in, *spatial)",
    ]
    if rest:
        pads = [-v for before, after in reversed(rest) for v in (before, after)]
        lines += [f"# residual: no single ConvTranspose{nd}d has this window: {porting.residual_text(rest)}",
                  f"y = torch.nn.functional.pad(y, {tuple(pads)!r})  # negative pads crop"]  # fmt: skip
    if late:
        lines += [porting.bias_text(NAME), f"y = y + bias.view(-1{', 1' * nd})"]
    return Target(args, rest, "\n".join(lines), np.asarray, False, late)
