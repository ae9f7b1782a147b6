"""Drawing primitives shared by the pictures: lazy Pillow, the palette, cell grids."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import TconvError

# The conv_arithmetic palette: input blue, kernel shadow dark blue, output cyan.
WHITE = (255, 255, 255)
BACKGROUND = WHITE
GRID_LINE = (160, 160, 160)
TEXT = (20, 20, 20)
INPUT = (82, 142, 204)  # an input element (blue)
ZERO = WHITE  # an inserted zero or padding
KERNEL_ON_INPUT = (28, 62, 128)  # a kernel tap over an input element (dark blue)
KERNEL_ON_ZERO = (150, 170, 205)  # a kernel tap over an inserted zero / padding
OUTPUT = (64, 196, 204)  # an output already computed (cyan)
OUTPUT_CURRENT = (0, 120, 128)  # the output being computed / the current stamp (dark cyan)
CROPPED = (215, 215, 215)  # scatter view: part of y_full outside the output window
NO_TAP = (214, 96, 77)  # overlap heatmap: a position no tap reaches

CELL = 30
MARGIN = 16
TITLE = 22
GAP = 36


def pil() -> tuple[Any, Any, Any]:
    """``(Image, ImageDraw, ImageFont)``, imported only when a picture is drawn."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError("tconv.viz needs Pillow: pip install 'tconv[viz]'") from None
    return Image, ImageDraw, ImageFont


def picture_path(func: str, path: object) -> str | os.PathLike:
    """``path`` once Pillow is known to write its extension (checked before anything is drawn)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"tconv.viz.{func}: path must be a file name; got {path!r}")
    image, _, _ = pil()
    image.init()
    if image.registered_extensions().get(os.path.splitext(os.fspath(path))[1].lower()) not in image.SAVE:
        raise TconvError(f"tconv.viz.{func}: path must end in an image extension Pillow writes (.png, .gif, ...); got {path!r}")
    return path


def font(size: int) -> Any:
    _, _, image_font = pil()
    return image_font.load_default(size=size)


TITLE_SIZE = 13


def text_width(text: str) -> int:
    """Pixel width of a title."""
    return int(font(TITLE_SIZE).getlength(text)) + 4


@dataclass(frozen=True)
class Grid:
    """A ``rows x cols`` block of square cells with its top-left corner at ``(x, y)`` pixels."""

    x: int
    y: int
    rows: int
    cols: int
    cell: int = CELL

    @property
    def width(self) -> int:
        return self.cols * self.cell + 1

    @property
    def height(self) -> int:
        return self.rows * self.cell + 1

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        x0, y0 = self.x + col * self.cell, self.y + row * self.cell
        return x0, y0, x0 + self.cell, y0 + self.cell

    def center(self, row: int, col: int) -> tuple[int, int]:
        """A pixel inside cell ``(row, col)`` clear of any number drawn in it (a corner)."""
        x0, y0, _, _ = self.box(row, col)
        return x0 + 3, y0 + 3

    def cell_at(self, index: Sequence[int]) -> tuple[int, int]:
        """``(row, col)`` of a 1-D or 2-D index (1-D arrays are one row)."""
        return (0, index[0]) if len(index) == 1 else (index[0], index[1])


def as_2d_shape(shape: Sequence[int], func: str) -> tuple[int, int]:
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    raise TconvError(f"tconv.viz.{func}: draws 1-D and 2-D cases only; got {len(shape)} spatial dims {tuple(shape)}")


def check_size(func: str, what: str, shape: Sequence[int], limit: int = 40) -> None:
    if max(shape) > limit:
        raise TconvError(f"tconv.viz.{func}: {what} must be at most {limit} cells per axis to draw; got {tuple(shape)}")


def fmt(value: float) -> str:
    return f"{value:.3g}" if value != int(value) else str(int(value))


class Canvas:
    """One picture: a white image, cell grids with colours and numbers, titles."""

    def __init__(self, width: int, height: int):
        image, draw, _ = pil()
        self.image = image.new("RGB", (width, height), BACKGROUND)
        self.draw = draw.Draw(self.image)
        self.cell_font = font(max(8, CELL // 2 - 3))
        self.title_font = font(TITLE_SIZE)

    def cell(self, grid: Grid, row: int, col: int, colour: tuple[int, int, int], label: str = "") -> None:
        self.draw.rectangle(grid.box(row, col), fill=colour, outline=GRID_LINE)
        if label:
            cx, cy = grid.box(row, col)[0] + grid.cell // 2, grid.box(row, col)[1] + grid.cell // 2
            light = sum(colour) < 330
            font_ = self.cell_font if len(label) <= 3 else font(max(7, grid.cell // 3))
            self.draw.text((cx, cy), label, fill=WHITE if light else TEXT, font=font_, anchor="mm")

    def outline(self, grid: Grid, rows: range, cols: range, colour=TEXT, width: int = 2) -> None:
        x0, y0, _, _ = grid.box(rows.start, cols.start)
        _, _, x1, y1 = grid.box(rows.stop - 1, cols.stop - 1)
        self.draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)

    def title(self, x: int, y: int, text: str) -> None:
        self.draw.text((x, y), text, fill=TEXT, font=self.title_font)


def cells_fit(cell: int, shape: Sequence[int]) -> bool:
    """Numbers are drawn when the cells are big enough to hold them."""
    return cell >= 18 and int(np.prod(shape)) <= 400
