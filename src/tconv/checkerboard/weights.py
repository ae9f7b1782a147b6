"""The per-phase sums of real kernels: even geometry with uneven weights still makes a checkerboard."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..errors import fail
from ..normalise import IntOrSeq, Padding
from .analysis import _normalise

__all__ = ["WeightReport", "analyze_weight", "phase_sums"]


def phase_sums(weight: ArrayLike, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0) -> np.ndarray:
    """Per-phase sums of each kernel: shape ``(C_in, C_out/g, *stride)``.

    ``sums[c, o, r] = sum_{j : j*d ≡ r + lo (mod s)} weight[c, o, j]`` per axis:
    what output phase ``r`` of channel ``o`` receives when input channel ``c``
    is constant 1, far from the edges.

    Examples
    --------
    >>> import numpy as np
    >>> phase_sums(np.array([[[1.0, 2.0, 3.0]]]), 2)[0, 0].tolist()
    [4.0, 2.0]
    """
    w = _as_weight("phase_sums", weight)
    _, s, d, lo = _normalise("phase_sums", tuple(w.shape[2:]), stride, dilation, padding)
    return _phase_sums(w, s, d, lo)


def _as_weight(func: str, weight: ArrayLike) -> np.ndarray:
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim < 3:
        raise fail(
            f"checkerboard.{func}",
            f"weight must have shape (C_in, C_out/groups, *k) with at least one spatial dim; got shape {w.shape}",
        )
    return w


def _phase_sums(w: np.ndarray, s: tuple[int, ...], d: tuple[int, ...], lo: tuple[int, ...]) -> np.ndarray:
    """:func:`phase_sums` on normalised per-axis values (``lo`` may be negative)."""
    out = np.zeros(w.shape[:2] + s)
    for j in np.ndindex(*w.shape[2:]):
        r = tuple((ji * di - li) % si for ji, di, li, si in zip(j, d, lo, s))
        out[(slice(None), slice(None)) + r] += w[(slice(None), slice(None)) + j]
    return out


def _spread(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """(max - min) / max|.| over ``axes``: 0 when even (0 also for an all-zero kernel)."""
    hi, lo = values.max(axis=axes), values.min(axis=axes)
    scale = np.abs(values).max(axis=axes)
    return np.where(scale > 0, (hi - lo) / np.where(scale > 0, scale, 1), 0.0)


@dataclass(frozen=True)
class WeightReport:
    """The response of real kernels to a constant input, phase by phase.

    ``kernel_sums``: :func:`phase_sums`, one period per (input, output) channel pair.
    ``response``: per output channel, the period a constant input in every
    input channel produces (``(C_out, *stride)``). ``kernel_spread`` and
    ``response_spread`` are the worst ``(max - min) / max|.|`` over a period:
    0 is even, 2 the most uneven.
    """

    kernel_sums: np.ndarray
    response: np.ndarray
    kernel_spread: float
    response_spread: float

    @property
    def even(self) -> bool:
        return self.kernel_spread <= 1e-9

    def summary(self) -> str:
        state = "even" if self.even else "UNEVEN"
        return f"{state} (kernel phase-sum spread {self.kernel_spread:.3g}, constant-input response spread {self.response_spread:.3g})"


def analyze_weight(
    weight: ArrayLike, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0, groups: int = 1
) -> WeightReport:
    """Do real kernels turn a constant input into a checkerboard? (weight-aware analysis)

    Even geometry (kernel divisible by stride) is necessary, not sufficient: each
    phase of the output receives the sum of a different subset of taps, so a
    constant input comes out even only when those sums agree.

    Parameters
    ----------
    weight : array_like, shape ``(C_in, C_out/groups, *k)`` (tconv / PyTorch layout)
    stride, dilation, padding : as for :func:`overlap`
    groups : int

    Examples
    --------
    Bilinear upsampling weights are even, an arbitrary 4-tap kernel is not:

    >>> import numpy as np
    >>> analyze_weight(np.array([[[0.25, 0.75, 0.75, 0.25]]]), 2).even
    True
    >>> analyze_weight(np.array([[[1.0, 0.0, 0.5, 0.5]]]), 2).kernel_sums[0, 0].tolist()
    [1.5, 0.5]
    """
    w = _as_weight("analyze_weight", weight)
    _, s, d, lo = _normalise("analyze_weight", tuple(w.shape[2:]), stride, dilation, padding)
    return _weight_report(w, s, d, lo, groups)


def _weight_report(w: np.ndarray, s: tuple[int, ...], d: tuple[int, ...], lo: tuple[int, ...], groups: int) -> WeightReport:
    sums = _phase_sums(w, s, d, lo)
    c_in, c_out_g = sums.shape[:2]
    if not isinstance(groups, numbers.Integral) or groups < 1 or c_in % groups:
        raise fail(
            "checkerboard.analyze_weight", f"groups must be a positive int dividing C_in = {c_in}; got {groups!r}"
        )
    period = sums.shape[2:]
    per_group = sums.reshape((groups, c_in // groups, c_out_g) + period).sum(axis=1)
    response = per_group.reshape((groups * c_out_g,) + period)
    kernel_spread = float(_spread(sums, tuple(range(2, sums.ndim))).max())
    response_spread = float(_spread(response, tuple(range(1, response.ndim))).max())
    return WeightReport(sums, response, kernel_spread, response_spread)


