"""Still pictures: the convolution matrix and its transpose, and overlap heatmaps."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import checkerboard as cb
from .. import geometry as geo
from ..errors import TconvError
from ..normalise import IntOrSeq, Padding, as_int, padding_pairs
from ..ops import conv_matrix
from . import _canvas as cv

__all__ = ["Picture", "draw_matrix", "draw_overlap", "heat_colour", "tap_colour"]

LIGHT_BLUE = (200, 222, 245)
DARK_BLUE = (28, 62, 128)


@dataclass
class Picture:
    """A drawn picture and its named cell grids (for reading pixels back)."""

    image: Any
    grids: dict[str, cv.Grid] = field(default_factory=dict)

    def save(self, path: str | os.PathLike) -> None:
        self.image.save(path)


def _lerp(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def tap_colour(tap: int, taps: int) -> tuple[int, int, int]:
    """Colour of kernel tap ``tap`` (1-based) of ``taps`` in the matrix picture: light to dark blue."""
    return _lerp(LIGHT_BLUE, DARK_BLUE, 0.0 if taps == 1 else (tap - 1) / (taps - 1))


def heat_colour(value: float, low: float, high: float) -> tuple[int, int, int]:
    """Heatmap colour: red where nothing arrives (``value <= 0``), else light to dark blue from ``low`` to ``high``.

    An even pattern (``low == high``) is drawn in the middle blue.
    """
    if value <= 0:
        return cv.NO_TAP
    floor = max(low, 0.0)
    t = 0.5 if high <= floor else (value - floor) / (high - floor)
    return _lerp(LIGHT_BLUE, DARK_BLUE, t)


def draw_matrix(
    path: str | os.PathLike | None,
    in_size: IntOrSeq = (2, 2),
    kernel_size: IntOrSeq = 3,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
) -> Picture:
    """The convolution matrix ``C`` and its transpose ``C^T`` side by side.

    The transposed conv maps ``in_size`` to its output size ``L``; ``C`` is the
    forward conv ``L -> in_size`` (``prod(in_size)`` rows, ``prod(L)`` columns),
    built by :func:`tconv.conv_matrix` with the kernel taps numbered ``1..K``
    row-major, so each non-zero cell shows which tap sits there. The default is
    the articles' figure: a 3x3 kernel, 4x4 -> 2x2, a 4x16 ``C``.

    Examples
    --------
    >>> pic = draw_matrix(None)
    >>> pic.grids["C"].rows, pic.grids["C"].cols, pic.grids["C^T"].rows
    (4, 16, 16)
    """
    if path is not None:
        cv.picture_path("draw_matrix", path)
    func = "draw_matrix"
    geom = geo.transpose_geometry(
        f"viz.{func}", in_size, kernel_size, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation
    )
    taps = int(np.prod(geom.kernel))
    weight = np.arange(1, taps + 1, dtype=float).reshape((1, 1) + geom.kernel)
    pads = padding_pairs(f"viz.{func}", padding, geom.ndim)
    c = conv_matrix((1,) + geom.out_size, weight, stride=geom.stride, padding=pads, dilation=geom.dilation).toarray()
    if max(c.shape) > 64:
        raise TconvError(f"tconv.viz.{func}: draws small cases only (at most 64 rows and columns); C would be {c.shape[0]}x{c.shape[1]}")
    cell = 24 if max(c.shape) <= 20 else 14
    top = cv.MARGIN + cv.TITLE
    g_c = cv.Grid(cv.MARGIN, top, c.shape[0], c.shape[1], cell)
    size = lambda v: "x".join(map(str, v))  # noqa: E731
    titles = (
        f"C: conv {size(geom.out_size)} -> {size(geom.in_size)} ({c.shape[0]}x{c.shape[1]})",
        f"C^T: transposed conv {size(geom.in_size)} -> {size(geom.out_size)}",
    )
    g_t = cv.Grid(g_c.x + max(g_c.width, cv.text_width(titles[0])) + cv.GAP, top, c.shape[1], c.shape[0], cell)
    width = g_t.x + max(g_t.width, cv.text_width(titles[1])) + cv.MARGIN
    canvas = cv.Canvas(width, top + max(g_c.height, g_t.height) + cv.MARGIN)
    canvas.title(g_c.x, cv.MARGIN, titles[0])
    canvas.title(g_t.x, cv.MARGIN, titles[1])
    show = cell >= 18
    for grid, m in ((g_c, c), (g_t, c.T)):
        for r, col in np.ndindex(*m.shape):
            tap = int(m[r, col])
            canvas.cell(grid, r, col, tap_colour(tap, taps) if tap else cv.ZERO, str(tap) if tap and show else "")
    picture = Picture(canvas.image, {"C": g_c, "C^T": g_t})
    if path is not None:
        picture.save(path)
    return picture


def _panel_patterns(source: Any, stride, dilation, padding) -> list[tuple[str, np.ndarray]]:
    if isinstance(source, cb.StackReport):
        return [(f"after {r.layer.name} (max/min {_ratio_text(r.stack_unevenness)})", r.stack_pattern) for r in source.layers]
    if stride is not None:
        pattern = cb.overlap(source, stride, dilation=dilation, padding=padding)
        return [(f"k={source} s={stride} (max/min {_ratio_text(cb.unevenness(source, stride, dilation=dilation, padding=padding))})", pattern)]
    pattern = np.asarray(source)
    if pattern.ndim not in (1, 2):
        raise TconvError(f"tconv.viz.draw_overlap: a pattern must be 1-D or 2-D; got shape {pattern.shape}")
    return [("overlap", pattern)]


def _ratio_text(r: float) -> str:
    return "inf" if r == float("inf") else f"{r:.3g}"


def draw_overlap(
    source: Any,
    path: str | os.PathLike | None = None,
    *,
    stride: IntOrSeq | None = None,
    dilation: IntOrSeq = 1,
    padding: Padding = 0,
    periods: int = 3,
) -> Picture:
    """Heatmap of how many taps reach each output position, tiled over a few periods.

    Parameters
    ----------
    source : an overlap pattern (1-D or 2-D array, e.g. from
        :func:`tconv.checkerboard.overlap`), a kernel size (with ``stride``), or a
        :class:`tconv.checkerboard.StackReport` (one panel per layer: the stack's
        pattern after it)
    periods : how many periods to tile per axis

    Cells are white to dark blue by value, red where no tap arrives; thick lines
    mark the periods.

    Examples
    --------
    >>> pic = draw_overlap((3, 3), stride=2)
    >>> [(name, g.rows, g.cols) for name, g in pic.grids.items()]
    [('k=(3, 3) s=2 (max/min 4)', 6, 6)]
    """
    periods = as_int("viz.draw_overlap", "periods", periods, 1)
    if path is not None:
        cv.picture_path("draw_overlap", path)
    panels = _panel_patterns(source, stride, dilation, padding)
    tiled = [(name, np.tile(p, (periods,) * p.ndim), p.shape) for name, p in panels]
    shapes = [cv.as_2d_shape(t.shape, "draw_overlap") for _, t, _ in tiled]
    for _, t, _ in tiled:
        cv.check_size("draw_overlap", "the tiled pattern", t.shape, 60)
    cell = cv.CELL if max(max(s) for s in shapes) <= 16 else 16
    top = cv.MARGIN + cv.TITLE
    grids = {}
    x = cv.MARGIN
    for (name, _, _), shape in zip(tiled, shapes):
        grids[name] = cv.Grid(x, top, shape[0], shape[1], cell)
        x += max(grids[name].width, cv.text_width(name)) + cv.GAP
    height = top + max(g.height for g in grids.values()) + cv.MARGIN
    canvas = cv.Canvas(x - cv.GAP + cv.MARGIN, height)
    for (name, t, period), grid in zip(tiled, grids.values()):
        canvas.title(grid.x, cv.MARGIN, name)
        positive = t[t > 0]
        low, high = (float(positive.min()), float(positive.max())) if positive.size else (0.0, 0.0)
        show = cv.cells_fit(cell, t.shape)
        for index in np.ndindex(*t.shape):
            value = float(t[index])
            canvas.cell(grid, *grid.cell_at(index), heat_colour(value, low, high), cv.fmt(value) if show else "")
        p_rows, p_cols = cv.as_2d_shape(period, "draw_overlap")
        for r0 in range(0, grid.rows, p_rows):
            for c0 in range(0, grid.cols, p_cols):
                canvas.outline(grid, range(r0, r0 + p_rows), range(c0, c0 + p_cols))
    picture = Picture(canvas.image, grids)
    if path is not None:
        picture.save(path)
    return picture
