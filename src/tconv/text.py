"""Arrays as aligned text grids: what ``tconv tour``, ``tconv explain`` and ``tconv matrix`` print."""

from __future__ import annotations

import numpy as np

__all__ = ["grid"]


def grid(a: np.ndarray, blank: np.ndarray | None = None) -> str:
    """A 1-D or 2-D array as an aligned text grid; ``blank`` marks cells shown as ``·``.

    >>> print(grid(np.array([[1, 0], [10, 2]]), blank=np.array([[False, True], [False, False]])))
     1  ·
    10  2
    """
    a2 = np.atleast_2d(a)
    marks = None if blank is None else np.atleast_2d(blank)
    cells = [[("·" if marks is not None and marks[r, c] else f"{v:g}") for c, v in enumerate(row)] for r, row in enumerate(a2)]
    width = max(len(c) for row in cells for c in row)
    return "\n".join(" ".join(c.rjust(width) for c in row) for row in cells)
