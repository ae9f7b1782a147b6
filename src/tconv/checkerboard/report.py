"""The text ``tconv checkerboard`` prints for one geometry."""

from __future__ import annotations

import math

import numpy as np

from ..normalise import IntOrSeq, Padding
from .analysis import _fmt_pattern, _fmt_ratio, _normalise, _prone, _ratio, _zero_note, overlap
from .remedies import remedies

__all__ = ["report"]


def report(
    kernel_size: IntOrSeq, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0, in_size: int = 12
) -> str:
    """The text ``tconv checkerboard`` prints for one geometry (``in_size``: see :func:`remedies`).

    Examples
    --------
    >>> for line in report(1, 2).splitlines()[:4]:
    ...     print(line)
    overlap (taps per output position over one period 2):
      1 0
    unevenness: inf
    unevenness is infinite: no tap reaches the output positions with phase (1,) (of period 2); they stay zero for any input
    """
    counts = overlap(kernel_size, stride, dilation=dilation, padding=padding)
    ratio = _ratio(counts)
    lines = [
        f"overlap (taps per output position over one period {'x'.join(map(str, counts.shape))}):",
        _grid(counts),
        f"unevenness: {_fmt_ratio(ratio)}",
        _zero_note(counts) or ("UNEVEN: expect a checkerboard" if _prone(ratio) else "even: no checkerboard from the geometry"),
    ]
    _, s, d, _ = _normalise("report", kernel_size, stride, dilation, padding)
    shared = [(ax, math.gcd(di, si)) for ax, (di, si) in enumerate(zip(d, s)) if math.gcd(di, si) > 1]
    for ax, g in shared:
        lines.append(
            f"axis {ax}: dilation {d[ax]} and stride {s[ax]} share the factor {g}, so taps reach only every "
            f"{g}-th phase whatever the kernel size: use a dilation coprime with the stride"
        )
    if not _prone(ratio) and counts.size > 1:
        lines.append("(real weights can still respond unevenly: their per-phase sums decide; see analyze_weight)")
    if _prone(ratio):
        lines.append("remedies (image score of a constant input's response, before -> after):")
        lines += ["  " + r.text().replace("\n", "\n  ") for r in remedies(kernel_size, stride, dilation=dilation, padding=padding, in_size=in_size)]
    return "\n".join(lines)


#: the most positions a report prints one by one (a 32x32 period)
_GRID_LIMIT = 1024


def _grid(a: np.ndarray) -> str:
    """The pattern as rows of the last axis; beyond 2-D one block per leading phase, headed ``[i, j, :, :]``.

    A pattern of more than :data:`_GRID_LIMIT` positions is summarised (its shape, min and max).
    """
    if a.size > _GRID_LIMIT:
        return "  " + _fmt_pattern(a)
    width = max(len(f"{v:g}") for v in a.ravel())

    def rows(plane: np.ndarray, indent: str) -> list[str]:
        return [indent + " ".join(f"{v:g}".rjust(width) for v in row) for row in np.atleast_2d(plane)]

    if a.ndim <= 2:
        return "\n".join(rows(a, "  "))
    lines = []
    for lead in np.ndindex(*a.shape[:-2]):
        lines.append("  [" + ", ".join(map(str, lead)) + ", :, :]")
        lines += rows(a[lead], "    ")
    return "\n".join(lines)

