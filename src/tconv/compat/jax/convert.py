"""JAX's converter hooks (:class:`tconv.compat.porting.Framework`): ``jax.lax.conv_transpose``.

A description gives ``kernel_size`` (one int per spatial dim, so the rank) and
``jax.lax.conv_transpose``'s own arguments; the target is that call with
``transpose_kernel=True`` (TensorFlow's kernel layout), a padding string where
one gives every axis's window, else one pair per axis.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ...errors import fail
from ...geometry import Axis
from ...normalise import per_axis
from .. import layouts, porting
from ..porting import FUNC, Choice, Source, Target
from . import _DEFAULT_SPECS
from . import geometry as jax_geometry

__all__ = ["KEYS", "NAME", "describe", "search", "source", "target"]

NAME = "jax"
KEYS = ("op", "kernel_size", "in_channels", "out_channels", "strides", "padding", "rhs_dilation", "dimension_numbers",
        "transpose_kernel", "use_consistent_padding", "bias")  # fmt: skip


describe = porting.no_layer_object


def _specs(dimension_numbers: object, nd: int) -> tuple[str, str, str]:
    """The three layout strings; the default is ``jax.lax.conv_transpose``'s (TensorFlow's)."""
    if dimension_numbers is None:
        return _DEFAULT_SPECS[nd + 2]
    specs = dimension_numbers if isinstance(dimension_numbers, (list, tuple)) else ()
    if len(specs) != 3 or not all(isinstance(v, str) for v in specs):
        raise fail(
            FUNC,
            "dimension_numbers must be None or three spec strings such as ('NHWC', 'HWIO', 'NHWC'); "
            f"got {dimension_numbers!r}",
        )
    orders = {"".join(c for c in spec if c not in skip) for spec, skip in zip(specs, ("NC", "IO", "NC"))}
    if len(orders) != 1:  # then JAX's per-axis arguments follow the kernel's order, not the input's
        raise fail(FUNC, f"dimension_numbers must list the spatial dims in one order in all three specs; got {dimension_numbers!r}")
    return tuple(specs)


def source(desc: Mapping[str, Any], input_size: object) -> Source:
    porting.check_keys(desc, KEYS, NAME)
    porting.check_op(desc, "op", "conv_transpose", NAME, " (jax.lax.conv_transpose)")
    nd = porting.rank(desc, "kernel_size", NAME)
    geom = jax_geometry(
        per_axis(FUNC, "input_size", input_size, nd, 1),
        desc["kernel_size"],
        desc.get("strides", (1,) * nd),
        desc.get("padding", "SAME"),
        desc.get("rhs_dilation"),
        bool(desc.get("use_consistent_padding", False)),
    )
    lhs, rhs, _ = _specs(desc.get("dimension_numbers"), nd)
    transpose = bool(desc.get("transpose_kernel", False))

    def to_canonical(w: np.ndarray) -> np.ndarray:
        return layouts.from_jax(w, rhs, transpose_kernel=transpose, lhs_spec=lhs)

    c_in, c_out = porting.channels(desc, "in_channels"), porting.channels(desc, "out_channels")
    return Source(NAME, geom, c_in, c_out, bool(desc.get("bias", False)), to_canonical, "jax.lax.conv_transpose")


def _axis(a: Axis, padding: Any) -> Axis:
    """The axis ``jax.lax.conv_transpose`` computes for ``a``'s sizes and this padding."""
    pads = padding if isinstance(padding, str) else [padding]
    return porting.only_axis(jax_geometry((a.size,), (a.kernel,), (a.stride,), pads, (a.dilation,)))


def search(a: Axis, option: Any) -> Choice | None:
    """The padding for ``a``: ``option`` ``"SAME"`` or ``"VALID"``, or ``"pairs"`` (``a``'s own pair, else VALID)."""
    paddings = [(a.pad_before, a.pad_after), "VALID"] if option == "pairs" else [option]
    return porting.best(a, ((p, lambda p=p: _axis(a, p)) for p in paddings))


def target(src: Source) -> Target:
    geom, nd = src.geometry, src.geometry.ndim
    specs = _DEFAULT_SPECS[nd + 2]
    padding: Any = None
    for mode in ("SAME", "VALID"):  # a string when it gives every axis's window, else one pair per axis
        choices = [search(a, mode) for a in geom.axes]
        if None not in choices and porting.residual(choices) is None:
            padding = mode
            break
    if padding is None:  # VALID (written as its pair) only where JAX refuses the exact pair
        choices = [search(a, "pairs") for a in geom.axes]
        padding = [[got.pad_before, got.pad_after] for got in (_axis(a, p) for a, (p, _) in zip(geom.axes, choices))]
    args = dict(
        strides=list(geom.stride),
        padding=padding,
        rhs_dilation=list(geom.dilation),
        dimension_numbers=tuple(specs),
        transpose_kernel=True,
    )
    rest = porting.residual(choices)
    late = porting.bias_after(src, rest)
    call = f"y = jax.lax.conv_transpose(x, kernel, {porting.kwargs_text(args)})"
    lines = [f"{call}  # x: {specs[0]}, kernel: (*k, C_out, C_in)"]
    if src.bias and not late:
        lines.append("y = y + bias")
    if rest:
        config = [(0, 0, 0)] + [(-b, -a, 0) for b, a in rest] + [(0, 0, 0)]
        lines += [f"# residual: no single conv_transpose has this window: {porting.residual_text(rest)}",
                  f"y = jax.lax.pad(y, jnp.zeros((), y.dtype), {config!r})  # negative pads crop"]  # fmt: skip
    if late:
        lines += [porting.bias_text(NAME), "y = y + bias"]
    to_target = lambda w: layouts.to_jax(layouts.ungroup(w, geom.groups), specs[1], transpose_kernel=True)  # noqa: E731
    return Target(args, rest, "\n".join(lines), to_target, True, late)
