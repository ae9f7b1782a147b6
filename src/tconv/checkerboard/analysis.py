"""One layer's geometry: the periodic patterns a constant input makes, and how evenly the taps reach them.

A transposed convolution with stride ``s`` writes each input element into every
``s``-th output position, so the output splits into ``s`` phases per axis
(residue classes ``r = (o + lo) mod s``). Tap ``j`` of a kernel with dilation
``d`` lands on phase ``r`` exactly when ``j*d ≡ r (mod s)`` (the phase
bookkeeping of ``docs/geometry.md``). The pattern arithmetic here is shared by
every measurement of the package.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import memory
from ..normalise import IntOrSeq, Padding, padding_pairs, per_axis, spatial_dims

__all__ = ["EVEN_TOLERANCE", "overlap", "unevenness"]

#: A layer is artifact-prone when its pattern's max/min exceeds this (1.0 = even).
EVEN_TOLERANCE = 1e-9


def _through_transposed(pattern: np.ndarray, taps: np.ndarray, stride: int, dilation: int, start: int) -> np.ndarray:
    """One axis: the interior output pattern of a transposed conv fed a periodic input.

    ``pattern[i mod P]`` is the input far from the edges. The output is
    ``y[o] = sum_j taps[j] * x[(o + start - j*d) / s]`` over the taps with
    ``j*d ≡ o + start (mod s)``, periodic with period ``P*s``: input ``i`` and
    tap ``j`` land on ``o = (i*s + j*d - start) mod P*s``. ``bincount`` adds the
    terms tap by tap, in the order of the sum.
    """
    period = len(pattern) * stride
    j = np.arange(len(taps))[:, None]
    where = (np.arange(len(pattern))[None, :] * stride + j * dilation - start) % period
    terms = np.asarray(taps, dtype=np.float64)[:, None] * pattern[None, :]
    return np.bincount(where.ravel(), weights=terms.ravel(), minlength=period)


def _through_conv(pattern: np.ndarray, taps: np.ndarray, stride: int, dilation: int, start: int) -> np.ndarray:
    """One axis: the interior output pattern of a forward conv, ``y[o] = sum_j taps[j] x[o*s - p + j*d]``."""
    period = len(pattern) // math.gcd(len(pattern), stride)
    o = np.arange(period)[None, :]
    j = np.arange(len(taps))[:, None]
    terms = np.asarray(taps, dtype=np.float64)[:, None] * pattern[(o * stride - start + j * dilation) % len(pattern)]
    return np.bincount(np.broadcast_to(o, terms.shape).ravel(), weights=terms.ravel(), minlength=period)


def _check_pattern(func: str, inputs: Sequence[int], outputs: Sequence[int], taps: Sequence[int], what: str) -> None:
    """Refuse a pattern beyond the memory budget: ``inputs`` / ``outputs`` periods and ``taps`` per axis.

    Per axis each tap meets each input phase once (index, weight and term: three
    8-byte arrays) and the output period is one array; the N-d pattern is the
    outer product, twice (float64, then the int64 counts).
    """
    per_axis_bytes = max(24 * p * t + 8 * q for p, q, t in zip(inputs, outputs, taps))
    memory.check(f"checkerboard.{func}", 16 * math.prod(outputs) + per_axis_bytes, what)


def _minimal_period(pattern: np.ndarray) -> np.ndarray:
    """The shortest prefix whose repetition is ``pattern`` (per axis, N-d)."""
    for axis in range(pattern.ndim):
        n = pattern.shape[axis]
        for p in range(1, n + 1):
            if n % p == 0 and np.allclose(np.roll(pattern, p, axis=axis), pattern, rtol=1e-12, atol=0):
                pattern = np.take(pattern, range(p), axis=axis)
                break
    return pattern


def _outer(factors: Sequence[np.ndarray]) -> np.ndarray:
    """The N-d pattern of per-axis patterns (an N-d tap is a tuple of per-axis taps)."""
    out = np.ones(())
    for p in factors:
        out = np.multiply.outer(out, p)
    return out


def _ratio(pattern: np.ndarray) -> float:
    """max/min of a pattern: 1.0 even, ``inf`` when some position gets nothing."""
    lo, hi = float(np.min(pattern)), float(np.max(pattern))
    if hi <= 0:
        return math.inf if hi < 0 or lo < 0 else 1.0
    return math.inf if lo <= 0 else hi / lo


def _prone(ratio: float) -> bool:
    return ratio > 1.0 + EVEN_TOLERANCE


def _normalise(func: str, kernel_size: IntOrSeq, stride: IntOrSeq, dilation: IntOrSeq, padding: Padding):
    """Canonical ``(kernel, stride, dilation, lo)`` per axis; ``func`` is the public name below ``checkerboard``."""
    name = f"checkerboard.{func}"
    nd = spatial_dims(name, kernel_size=kernel_size, stride=stride, dilation=dilation, padding=padding)
    k = per_axis(name, "kernel_size", kernel_size, nd, 1)
    s = per_axis(name, "stride", stride, nd, 1)
    d = per_axis(name, "dilation", dilation, nd, 1)
    lo = tuple(p[0] for p in padding_pairs(name, padding, nd))
    return k, s, d, lo


def overlap(kernel_size: IntOrSeq, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0) -> np.ndarray:
    """How many kernel taps reach each output position, over one period.

    Parameters
    ----------
    kernel_size, stride, dilation : int or one int per spatial dim
    padding : int, per-axis ints, or ``(lo, hi)`` pairs (PyTorch's); only ``lo``
        matters: it chooses which phase comes first.

    Returns
    -------
    ndarray of int, shape ``stride``
        ``counts[o_1, ..., o_n]`` for output positions far from the edges, with
        ``o`` taken modulo the stride.

    Notes
    -----
    Output ``o`` reads ``y_full[f]``, ``f = o + lo``; tap ``j`` reaches it when
    ``f - j*d`` is a multiple of ``s``, so per axis
    ``count[o] = #{0 <= j < k : j*d ≡ o + lo (mod s)}``, and the N-d count is
    the product of the per-axis counts (an N-d tap is a tuple of per-axis taps).
    When ``gcd(d, s) = g > 1`` only the phases ``≡ -lo (mod g)`` are reachable.

    Examples
    --------
    >>> overlap(3, 2).tolist()
    [2, 1]
    >>> overlap((3, 3), 2).tolist()
    [[4, 2], [2, 1]]
    >>> overlap(3, 2, padding=1).tolist()
    [1, 2]
    >>> overlap(3, 2, dilation=2).tolist()
    [3, 0]
    """
    k, s, d, lo = _normalise("overlap", kernel_size, stride, dilation, padding)
    _check_pattern("overlap", (1,) * len(s), s, k, f"the overlap pattern (period {_dims(s)}, kernel {_dims(k)})")
    counts = [_through_transposed(np.ones(1), np.ones(ki), si, di, li) for ki, si, di, li in zip(k, s, d, lo)]
    return _outer(counts).astype(np.int64)


def unevenness(kernel_size: IntOrSeq, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0) -> float:
    """max/min of :func:`overlap`: 1.0 means even, ``math.inf`` means some positions get no tap.

    Examples
    --------
    >>> unevenness(3, 2), unevenness((3, 3), 2), unevenness(4, 2), unevenness(5, 2)
    (2.0, 4.0, 1.0, 1.5)
    >>> unevenness(1, 2)
    inf
    """
    return _ratio(overlap(kernel_size, stride, dilation=dilation, padding=padding))


# --------------------------------------------------------------------------
# how patterns print
# --------------------------------------------------------------------------


def _dims(values: Sequence[int]) -> str:
    return "x".join(map(str, values))


def _fmt_ratio(r: float) -> str:
    return "inf" if math.isinf(r) else f"{r:.4g}"


def _fmt_pattern(p: np.ndarray) -> str:
    if p.size > 16:
        return f"{'x'.join(map(str, p.shape))} pattern, min {p.min():g}, max {p.max():g}"
    return str(np.round(p, 6).tolist()).replace(".0,", ",").replace(".0]", "]")


def _zero_note(pattern: np.ndarray) -> str:
    if np.min(pattern) > 0:
        return ""
    first = np.flatnonzero(pattern <= 0)[:8]  # the first few, without listing every zero of a long period
    where = ", ".join(str(tuple(int(v) for v in z)) for z in zip(*np.unravel_index(first, pattern.shape)))
    return (
        f"unevenness is infinite: no tap reaches the output positions with phase {where} "
        f"(of period {'x'.join(map(str, pattern.shape))}); they stay zero for any input"
    )

