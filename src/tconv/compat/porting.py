"""What every framework's converter hooks share: the records of a port and the search primitives.

:func:`tconv.convert` ports a layer in two steps, each done by a framework's
own module ``tconv.compat.<framework>.convert`` (the :class:`Framework`
interface: ``NAME``, ``KEYS``, ``describe``, ``source``, ``search`` and
``target`` in each):

1. the source's ``source(description, input_size)`` parses the description,
   in the framework's own words, with that framework's ``geometry`` into a
   :class:`Source`: one :class:`~tconv.geometry.Geometry` plus the channels
   and the kernel layout;
2. the target's ``target(source)`` runs that parse in reverse: per axis its
   ``search`` tries the target's own arguments through the target's
   ``geometry`` and keeps, with :func:`best`, the window closest to the
   source's; the answer is a :class:`Target` (arguments, code, weight layout,
   any residual crop).

This module is framework-independent and sits below the framework modules and
the converter: both import it, so neither imports the other.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from ..errors import TconvError, fail
from ..geometry import Axis, Geometry
from ..normalise import as_int, is_seq

__all__ = [
    "FUNC",
    "IGNORED",
    "Choice",
    "Framework",
    "Source",
    "Target",
    "best",
    "bias_after",
    "bias_text",
    "channels",
    "check_keys",
    "check_op",
    "crop",
    "cost",
    "kwargs_text",
    "live_class",
    "need",
    "nd_from_name",
    "no_layer_object",
    "only_axis",
    "pick",
    "rank",
    "residual",
    "residual_text",
    "slice_code",
    "total",
]

#: the public function whose errors the hooks word (``tconv.convert: ...``)
FUNC = "convert"

#: keys a description may carry that do not change the geometry (layer names, initialisers, ...)
IGNORED = {
    "framework", "name", "activation", "activity_regularizer", "bias_constraint", "bias_initializer",
    "bias_regularizer", "kernel_constraint", "kernel_initializer", "kernel_regularizer", "trainable",
    "dtype", "device", "precision", "preferred_element_type",
}  # fmt: skip

#: one axis's pick: the target's arguments for it and the ``(before, after)`` crop still needed
Choice = tuple[Any, tuple[int, int]]


@dataclass(frozen=True)
class Source:
    """A layer read from its framework's description."""

    framework: str
    geometry: Geometry
    in_channels: int | None
    out_channels: int | None
    bias: bool
    to_canonical: Callable[[np.ndarray], np.ndarray]  # source kernel layout -> (C_in, C_out/g, *k)
    summary: str
    #: the rank of the kernel in the source's layout (None: ``geometry.ndim + 2``), and that layout as text
    #: for refusals, e.g. ``"(G, C_in/G, C_out/G, *k) = (2, 1, 3, 3, 3)"``
    weight_rank: int | None = None
    weight_layout: str | None = None


@dataclass(frozen=True)
class Target:
    """A source's layer written for the target framework."""

    arguments: dict
    residual: tuple[tuple[int, int], ...] | None
    code: str
    from_canonical: Callable[[np.ndarray], np.ndarray]  # (C_in, C_out/g, *k) -> target kernel layout
    channels_last: bool
    bias_after: bool


class Framework(Protocol):
    """The converter hooks a framework module defines (``tconv.compat.<framework>.convert``)."""

    NAME: str
    KEYS: tuple[str, ...]  # the keys of a description: the framework's own argument names, plus channels

    def describe(self, layer: object) -> dict | None:
        """A live layer object of this framework as a description dict; None if ``layer`` is none of its."""

    def source(self, desc: Mapping[str, Any], input_size: object) -> Source:
        """The description (checked against :attr:`KEYS`) parsed with this framework's ``geometry``."""

    def search(self, a: Axis, option: Any) -> Choice | None:
        """The arguments of this framework closest to ``a``'s window, within its padding family ``option``.

        ``option`` is the framework's own (a padding mode, say); None where it has one family only.
        """

    def target(self, src: Source) -> Target:
        """``src``'s layer in this framework: the arguments :meth:`search` found, the code, the weight layout."""


# --------------------------------------------------------------------------
# Reading a description
# --------------------------------------------------------------------------


def check_keys(desc: Mapping[str, Any], allowed: Iterable[str], framework: str) -> None:
    unknown = sorted(set(desc) - set(allowed) - IGNORED)
    if unknown:
        raise fail(FUNC, f"unknown keys for a {framework} layer: {unknown}; allowed: {sorted(set(allowed))}")


def live_class(layer: object, module: str, pattern: str) -> str | None:
    """The class name of ``layer`` when it is a ``module`` object whose name matches ``pattern``, else None."""
    name = type(layer).__name__
    return name if type(layer).__module__.startswith(module) and re.fullmatch(pattern, name) else None


def no_layer_object(layer: object) -> None:
    """``describe`` for a framework whose op is a function (``tf.nn``, ``jax.lax``): no layer object to read."""
    return None


def check_op(desc: Mapping[str, Any], key: str, expected: str, framework: str, what: str = "") -> None:
    """The description's ``key`` (default ``expected``) names the one op this framework's hooks read."""
    if desc.get(key, expected) != expected:
        raise fail(FUNC, f"the {framework} description's {key} must be {expected!r}{what}; got {desc.get(key)!r}")


def rank(desc: Mapping[str, Any], key: str, framework: str) -> int:
    """The number of spatial dims of a description whose ``key`` lists one kernel size per spatial dim."""
    kernel = desc.get(key)
    if not is_seq(kernel):
        raise fail(FUNC, f"the {framework} description needs {key} as one int per spatial dim; got {kernel!r}")
    return len(kernel)


def nd_from_name(name: str, pattern: str, what: str) -> int:
    """The rank a layer or op name carries (``ConvTranspose2d`` -> 2)."""
    match = re.fullmatch(pattern, name or "")
    if not match:
        raise fail(FUNC, f"{what} must match {pattern.replace('([123])', '{1,2,3}')}; got {name!r}")
    return int(match.group(1))


def channels(desc: Mapping[str, Any], key: str) -> int | None:
    """A channel count of the description, None when it is not given."""
    value = desc.get(key)
    return None if value is None else as_int(FUNC, key, value, 1)


def need(value: int | None, what: str, target: str) -> int:
    if value is None:
        raise fail(FUNC, f"{target} needs {what}: add it to the layer description (or pass weight=...)")
    return value


# --------------------------------------------------------------------------
# The reverse parse: search the target's arguments for the source's window
# --------------------------------------------------------------------------


def only_axis(geom: Geometry) -> Axis:
    """The axis of a one-axis geometry (the searches try one axis at a time)."""
    return geom.axes[0]


def crop(want: Axis, got: Axis) -> tuple[int, int] | None:
    """(before, after) to crop from ``got``'s window to reach ``want``'s (negative: zeros to add).

    None when ``got`` misses an element of ``y_full`` that ``want`` holds: zeros can
    only stand in for positions outside the full result.
    """
    inner_lo, inner_hi = max(want.start, 0), min(want.start + want.length, want.full)
    if inner_lo < inner_hi and not (got.start <= inner_lo and inner_hi <= got.start + got.length):
        return None
    return want.start - got.start, got.start + got.length - want.start - want.length


def cost(crop: tuple[int, int]) -> tuple[int, int, int]:
    """Exact first, then crops only (no zeros to add), then the fewest elements moved."""
    return (crop != (0, 0), min(crop) < 0, abs(crop[0]) + abs(crop[1]))


def best(
    want: Axis, candidates: Iterable[tuple[Any, Callable[[], Axis]]], fallback: tuple[Any, Callable[[], Axis]] | None = None
) -> Choice | None:
    """The candidate arguments whose axis (from the target's own geometry) is closest to ``want``; None if it refuses all."""
    found = None
    for args, axis_of in itertools.chain(candidates, [fallback] if fallback else []):
        try:
            got = axis_of()
        except TconvError:
            continue  # arguments the target refuses for this axis
        needed = crop(want, got)
        if needed is None:
            continue
        if found is None or cost(needed) < cost(found[1]):
            found = (args, needed)
            if needed == (0, 0):
                break
    return found


def total(choices: Sequence[Choice | None]) -> tuple[float, ...]:
    """The cost of one option over all axes: its worst axis first, then the elements moved."""
    if None in choices:  # an axis this option cannot express at all
        return (float("inf"),)
    costs = [cost(c) for _, c in choices]
    return (max(c[0] for c in costs), max(c[1] for c in costs), sum(c[2] for c in costs))


def pick(options: dict[Any, list]) -> tuple[Any, list]:
    """The option (and its per-axis choices) of least :func:`total` cost; the first one on a tie."""
    key = min(options, key=lambda o: total(options[o]))
    return key, options[key]


def residual(choices: Sequence[Choice]) -> tuple[tuple[int, int], ...] | None:
    crops = tuple(c for _, c in choices)
    return None if all(c == (0, 0) for c in crops) else crops


# --------------------------------------------------------------------------
# Writing the target's code
# --------------------------------------------------------------------------


def kwargs_text(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def residual_text(residual: tuple[tuple[int, int], ...]) -> str:
    parts = []
    for ax, (before, after) in enumerate(residual):
        for where, amount in (("start", before), ("end", after)):
            if amount:
                parts.append(f"{'crop' if amount > 0 else 'zero-pad'} {abs(amount)} at the {where} of spatial axis {ax}")
    return "; ".join(parts)


def bias_after(src: Source, residual: tuple[tuple[int, int], ...] | None) -> bool:
    """Whether the bias must be added after the residual: zeros padded in stand for bias-only outputs."""
    return src.bias and residual is not None and min(min(pair) for pair in residual) < 0


def bias_text(target: str) -> str:
    return (
        "# the bias is added after the residual, so zero-padded positions get it as in the source "
        f"({target} layer built without it)"
    )


def slice_code(name: str, residual: tuple[tuple[int, int], ...], pad_fn: str) -> str:
    """Channels-last code for a residual window.

    Zero-pads (``pad_fn``) where the residual is negative, then slices off the crops.
    """
    pads = [[0, 0]] + [[max(0, -b), max(0, -a)] for b, a in residual] + [[0, 0]]
    expr = name if all(p == [0, 0] for p in pads) else f"{pad_fn}({name}, {pads})"
    slices = ", ".join(f"{max(0, b)}:{-a if a > 0 else ''}" for b, a in residual)
    return expr if all(b <= 0 and a <= 0 for b, a in residual) else f"{expr}[:, {slices}, :]"
