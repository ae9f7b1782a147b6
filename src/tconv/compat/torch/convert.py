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


def search(a: Axis, option: Any = None) -> Choice | None:
    """``(padding, output_padding)`` for ``a``: PyTorch has one padding family."""
    def axis_of(p: int, op: int) -> Axis:
        return porting.only_axis(torch_geometry(a.size, a.kernel, a.stride, p, op, 1, a.dilation))

    return porting.best(a, (
        ((p, op), lambda p=p, op=op: axis_of(p, op))
        for p in range(max(a.start, 0), -1, -1) for op in range(max(a.stride, a.dilation))
    ))  # fmt: skip


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
