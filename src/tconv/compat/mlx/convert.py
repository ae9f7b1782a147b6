"""MLX's converter hooks (:class:`tconv.compat.porting.Framework`): ``mlx.nn.ConvTranspose{1,2,3}d`` and ``mlx.core``.

A description names either the ``"layer"`` class (``mlx.nn``, no groups) with
its constructor arguments, or the ``"op"`` (``conv_transpose2d``, ...) with
``kernel_size``, the channels and ``mlx.core``'s arguments (``groups`` in 1-D
and 2-D). The target is the ``mlx.core.conv_transpose{nd}d`` call (the one
with groups), ``padding`` and ``output_padding`` searched per axis; its weight
is MLX's ``(C_out, *k, C_in/groups)``, block-diagonal for groups in 3-D.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import fail
from ...geometry import Axis
from ...normalise import is_seq, per_axis
from .. import layouts, porting
from ..porting import FUNC, Choice, Source, Target
from . import from_mlx, to_mlx
from . import geometry as mlx_geometry

__all__ = ["KEYS", "NAME", "describe", "search", "source", "target"]

NAME = "mlx"
KEYS = ("layer", "op", "kernel_size", "in_channels", "out_channels", "stride", "padding", "dilation", "output_padding",
        "groups", "bias")  # fmt: skip


def describe(layer: object) -> dict | None:
    """A live ``mlx.nn.ConvTranspose{1,2,3}d`` as a description (None for anything else)."""
    cls = porting.live_class(layer, "mlx", r"ConvTranspose[123]d")
    if cls is None:
        return None
    shape = tuple(layer.weight.shape)  # (C_out, *k, C_in)
    desc = {key: getattr(layer, key) for key in ("stride", "padding", "dilation", "output_padding")}
    return {"framework": NAME, "layer": cls, "in_channels": shape[-1], "out_channels": shape[0],
            "kernel_size": list(shape[1:-1]), "bias": "bias" in layer, **desc}  # fmt: skip


def _scalar(value: Any, nd: int) -> Any:
    """A 1-D value as MLX's 1-D function takes it: an int (a one-entry list is read as its entry)."""
    return value[0] if nd == 1 and is_seq(value) and len(value) == 1 else value


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    if desc.get("layer") is not None:
        nd = porting.nd_from_name(desc["layer"], r"ConvTranspose([123])d", "layer")
        if desc.get("groups", 1) != 1:
            raise fail(FUNC, f"mlx.nn.ConvTranspose{nd}d has no groups; describe the mlx.core op (\"op\") instead")
        summary, bias = f"mlx.nn.ConvTranspose{nd}d", bool(desc.get("bias", True))
    else:
        nd = porting.nd_from_name(desc.get("op"), r"conv_transpose([123])d", "op")
        summary, bias = f"mlx.core.conv_transpose{nd}d", bool(desc.get("bias", False))
    values = {key: _scalar(desc.get(key, default), nd) for key, default in
              (("stride", 1), ("padding", 0), ("dilation", 1), ("output_padding", 0))}  # fmt: skip
    geom = mlx_geometry(
        per_axis(FUNC, "input_size", input_size, nd, 1),
        per_axis(FUNC, "kernel_size", desc.get("kernel_size"), nd, 1),
        groups=desc.get("groups", 1),
        **values,
    )
    c_in, c_out = porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels")
    return Source(NAME, geom, c_in, c_out, bias, lambda w: from_mlx(w, geom.groups), summary)


def search(a: Axis, option: Any = None) -> Choice | None:
    """``(padding, output_padding)`` for ``a``: MLX has one padding family.

    MLX's window is ``y_full[p : full - p + op]`` for ``p <= d*(k-1)`` and any
    ``op >= 0``: ``p`` is the start (at most the kernel span, a crop beyond
    it) and ``op`` reaches the end.
    """
    p = min(a.start, a.k_eff - 1)
    op = max(0, a.start + a.length - a.full + p)

    def axis_of(p: int, op: int) -> Axis:
        return porting.only_axis(mlx_geometry(a.size, a.kernel, a.stride, p, a.dilation, op))

    # the full result, cropped: for a window MLX cannot end at (an empty one)
    fallback = ((0, 0), lambda: axis_of(0, 0))
    return porting.best(a, [((p, op), lambda: axis_of(p, op))], fallback)


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    choices = [search(a) for a in geom.axes]
    groups = geom.groups if nd < 3 else 1  # MLX has groups in 1-D and 2-D only: block-diagonal in 3-D

    def per_axis_arg(values: tuple[int, ...] | list[int]) -> Any:
        return int(values[0]) if nd == 1 else tuple(values)  # MLX's 1-D function takes ints only

    args = dict(
        stride=per_axis_arg(geom.stride),
        padding=per_axis_arg([p for (p, _), _ in choices]),
        dilation=per_axis_arg(geom.dilation),
        output_padding=per_axis_arg([op for (_, op), _ in choices]),
        groups=groups,
    )
    rest = porting.residual(choices)
    late = porting.bias_after(src, rest)
    lines = [f"y = mx.conv_transpose{nd}d(x, weight, {porting.kwargs_text(args)})"
             "  # x: (N, *spatial, C_in), weight: (C_out, *k, C_in/groups)"]  # fmt: skip
    if src.bias and not late:
        lines.append("y = y + bias")
    if rest:
        lines.append(f"# residual: no single conv_transpose{nd}d has this window: {porting.residual_text(rest)}")
        widths = [(0, 0)] + [(max(0, -b), max(0, -a)) for b, a in rest] + [(0, 0)]
        if any(v for pair in widths for v in pair):
            lines.append(f"y = mx.pad(y, {widths!r})  # zeros")
        if any(v > 0 for pair in rest for v in pair):
            lines.append(f"y = y[:, {', '.join(f'{max(0, b)}:{-a if a > 0 else str()}' for b, a in rest)}, :]")
    if late:
        lines += [porting.bias_text(NAME), "y = y + bias"]

    def from_canonical(w: np.ndarray) -> np.ndarray:
        return to_mlx(w if groups == geom.groups else layouts.ungroup(w, geom.groups), groups)

    return Target(args, rest, "\n".join(lines), from_canonical, True, late)
