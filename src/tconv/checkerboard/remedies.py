"""Fixes for a checkerboard-prone geometry, each scored before and after on a constant input."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .. import geometry as geo
from .. import memory
from ..errors import fail
from ..init import icnr_transpose
from ..normalise import IntOrSeq, Padding, as_int, as_rng
from ..ops import conv, conv_transpose
from .analysis import _fmt_pattern, _normalise
from .scores import image_score

__all__ = ["Remedy", "remedies"]


@dataclass(frozen=True)
class Remedy:
    """A suggested fix with its before/after scores.

    ``before`` / ``after`` are the :func:`image_score` of the layer's response
    to a constant input (interior, edges cropped); ``before_pattern`` /
    ``after_pattern`` one period of that response.
    """

    name: str
    suggestion: str
    before: float
    after: float
    before_pattern: np.ndarray = field(repr=False, compare=False)
    after_pattern: np.ndarray = field(repr=False, compare=False)

    def text(self) -> str:
        return (
            f"{self.name}: {self.suggestion}\n"
            f"    image score {self.before:.3f} -> {self.after:.3f}; "
            f"period {_fmt_pattern(self.before_pattern)} -> {_fmt_pattern(self.after_pattern)}"
        )


def _interior(y: np.ndarray, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> np.ndarray:
    """``y`` with the edges cropped by one kernel span and one period, in whole periods (so it starts at phase 0)."""
    margin = [-(-(geo.effective_kernel(k, d) + s) // s) * s for k, s, d in zip(kernel, stride, dilation)]
    return y[tuple(slice(m, y.shape[a] - m) for a, m in enumerate(margin))]


def _constant_response(weight: np.ndarray, stride, dilation, padding, n: int) -> np.ndarray:
    """The interior of ``conv_transpose(ones, weight)`` (channel 0)."""
    nd = weight.ndim - 2
    x = np.ones((1, weight.shape[0]) + (n,) * nd)
    y = conv_transpose(x, weight, stride=stride, dilation=dilation, padding=padding)[0, 0]
    return _interior(y, weight.shape[2:], stride, dilation)


def _resize_conv_response(kernel: tuple[int, ...], stride: tuple[int, ...], n: int) -> np.ndarray:
    """Nearest upsampling by the stride, then a stride-1 'same' conv with the same kernel size."""
    x = np.ones((1, 1) + (n,) * len(kernel))
    for axis, s in enumerate(stride):
        x = np.repeat(x, s, axis=2 + axis)
    starts = [geo.same_start(1, k, 1, 1, 1) for k in kernel]  # 'same': k - 1 in total, the smaller half first
    y = conv(x, np.ones((1, 1) + kernel), padding=[(lo, k - 1 - lo) for lo, k in zip(starts, kernel)])[0, 0]
    return _interior(y, kernel, stride, (1,) * len(kernel))


def _check_responses(kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], n: int) -> None:
    """The largest response the remedies compute (a kernel rounded up to the stride, or the resize-conv input)
    with its spectrum (:func:`image_score`) must fit the memory budget."""
    sizes = [
        max(geo.full_length(n, -(-k // s) * s, s, d), n * s + k)
        for k, s, d in zip(kernel, stride, dilation)
    ]
    memory.check("checkerboard.remedies", 8 * 5 * math.prod(sizes), f"each remedy's response on an input of {n} per axis")


def _score_pair(response: np.ndarray, stride: tuple[int, ...], in_size: int) -> tuple[float, np.ndarray]:
    for axis, (n, s) in enumerate(zip(response.shape, stride)):
        if n < s:
            raise fail(
                "checkerboard.remedies",
                f"in_size={in_size} leaves no whole period of the response inside its edges on axis {axis} "
                f"({n} elements left, period {s}); use a larger in_size",
            )
    period = response[tuple(slice(0, s) for s in stride)]
    return image_score(response, stride, channel_axis=None), np.round(period, 12)


def remedies(
    kernel_size: IntOrSeq,
    stride: IntOrSeq,
    *,
    dilation: IntOrSeq = 1,
    padding: Padding = 0,
    in_size: int = 12,
    seed: int = 0,
) -> list[Remedy]:
    """Fixes for a checkerboard-prone geometry, each with a before/after score.

    1. A kernel size divisible by the stride (with the padding that keeps the
       output size, from :func:`tconv.solve_padding`).
    2. Resize-convolution: nearest upsampling by the stride, then a stride-1 conv.
    3. ICNR initialisation of the divisible kernel: a randomly initialised
       kernel (uniform, seeded) is uneven even with even geometry; ICNR is not.

    Scores are :func:`image_score` of the response to a constant input, on a
    square input of ``in_size`` per axis (edges cropped).

    Examples
    --------
    >>> [(r.name, round(r.before, 2), round(r.after, 2)) for r in remedies(3, 2)[:2]]
    [('kernel divisible by stride', 1.0, 0.0), ('resize-convolution', 1.0, 0.0)]
    """
    func = "remedies"
    k, s, d, lo = _normalise(func, kernel_size, stride, dilation, padding)
    in_size = as_int(f"checkerboard.{func}", "in_size", in_size, 1)
    nd = len(k)
    _check_responses(k, s, d, in_size)
    pad = [(p, p) for p in lo]
    before, before_period = _score_pair(_constant_response(np.ones((1, 1) + k), s, d, pad, in_size), s, in_size)
    out: list[Remedy] = []

    k_div = tuple(-(-ki // si) * si for ki, si in zip(k, s))
    full_old = [geo.full_length(in_size, ki, si, di) - 2 * li for ki, si, di, li in zip(k, s, d, lo)]
    choices = []
    for ax in range(nd):
        pairs = geo.solve_padding(in_size, full_old[ax], k_div[ax], stride=s[ax], dilation=d[ax])[0]
        choices.append(pairs[0] if pairs else (lo[ax], 0))
    new_pad = [(p, p) for p, _ in choices]
    after, after_period = _score_pair(_constant_response(np.ones((1, 1) + k_div), s, d, new_pad, in_size), s, in_size)
    if len(set(choices)) == 1:
        shown = f"padding={choices[0][0]}, output_padding={choices[0][1]}"
    else:
        shown = f"padding={tuple(p for p, _ in choices)}, output_padding={tuple(op for _, op in choices)}"
    out.append(
        Remedy(
            "kernel divisible by stride",
            f"kernel_size={k_div if nd > 1 else k_div[0]} (same output size with {shown})",
            before,
            after,
            before_period,
            after_period,
        )
    )

    after, after_period = _score_pair(_resize_conv_response(k, s, in_size), s, in_size)
    out.append(
        Remedy(
            "resize-convolution",
            f"nearest upsampling by {s if nd > 1 else s[0]}, then a stride-1 conv with kernel {k if nd > 1 else k[0]}",
            before,
            after,
            before_period,
            after_period,
        )
    )

    # ICNR needs k >= s; it keeps the kernel size otherwise (k=3, s=2 works: taps b0, b0+b1, b1)
    k_icnr = tuple(max(ki, si) for ki, si in zip(k, s))
    icnr_pad = pad if k_icnr == k else new_pad
    rng = as_rng(f"checkerboard.{func}", seed)
    bound = 1 / math.sqrt(math.prod(k_icnr))  # PyTorch's default init scale for one channel
    random_w = rng.uniform(-bound, bound, (1, 1) + k_icnr)
    rand_score, rand_period = _score_pair(_constant_response(random_w, s, d, icnr_pad, in_size), s, in_size)
    icnr_w = icnr_transpose(1, 1, k_icnr, s, rng=seed, dtype=np.float64)
    after, after_period = _score_pair(_constant_response(icnr_w, s, d, icnr_pad, in_size), s, in_size)
    out.append(
        Remedy(
            "ICNR initialisation",
            f"kernel_size={k_icnr if nd > 1 else k_icnr[0]} initialised as nearest upsampling then a random "
            f"sub-kernel (before: a uniform random init, uneven whatever the geometry)",
            rand_score,
            after,
            rand_period,
            after_period,
        )
    )
    return out
