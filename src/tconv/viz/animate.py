"""Animations of a transposed convolution, in the two views the articles draw.

- The zero-insertion view (conv_arithmetic's): the input with ``s - 1`` zeros
  inserted between elements and ``k_eff - 1 - lo`` zeros of padding around it
  (blue cells are input elements, white cells zeros), the flipped kernel
  sliding over it at stride 1 (dark blue), and the output filling in (cyan).
  One frame per output element.
- The scatter view (the definition): each input element stamps the kernel,
  scaled by its value, into the full result ``y_full`` at offset ``i*s``; the
  output is the window ``[lo, lo + L)`` of ``y_full`` (cells outside it grey).
  One frame per input element.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import geometry as geo
from ..algorithms.zero_insert import padded_input
from ..errors import TconvError
from ..geometry import Geometry
from ..normalise import IntOrSeq, Padding, as_int, choice
from . import _canvas as cv

__all__ = ["Frames", "zero_insertion_frames", "scatter_frames", "animate", "save_gif"]

MAX_FRAMES = 1600


@dataclass
class Frames:
    """The frames of an animation and where its cells are, for reading pixels back.

    ``input_grid`` / ``output_grid`` are :class:`~tconv.viz._canvas.Grid` objects;
    in the scatter view ``output_grid`` shows ``y_full`` positions starting at
    ``output_offset`` (negative when the window starts before ``y_full``).
    """

    images: list
    view: str
    geometry: Geometry
    input_grid: cv.Grid
    output_grid: cv.Grid
    output_offset: tuple[int, ...] = (0, 0)

    def __len__(self) -> int:
        return len(self.images)


def _setup(func: str, in_size, kernel_size, stride, padding, output_padding, dilation, x, weight):
    geom = geo.transpose_geometry(
        f"viz.{func}", in_size, kernel_size, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation
    )
    if geom.ndim > 2:
        raise TconvError(f"tconv.viz.{func}: draws 1-D and 2-D geometries only; got {geom.ndim} spatial dims")
    n = geom.in_size
    xs = np.arange(1, int(np.prod(n)) + 1, dtype=float).reshape(n) if x is None else np.asarray(x, dtype=float)
    ws = np.ones(geom.kernel) if weight is None else np.asarray(weight, dtype=float)
    if xs.shape != n:
        raise TconvError(f"tconv.viz.{func}: x must have the input's spatial shape {n}; got {xs.shape}")
    if ws.shape != geom.kernel:
        raise TconvError(f"tconv.viz.{func}: weight must have the kernel's shape {geom.kernel}; got {ws.shape}")
    return geom, xs, ws


def _cell_size(*shapes: Sequence[int]) -> int:
    return cv.CELL if max(max(s) for s in shapes) <= 16 else 18


def _sizes(values: Sequence[int]) -> str:
    return "x".join(str(v) for v in values)


def _two_panels(
    left: tuple[int, int], right: tuple[int, int], cell: int, titles: tuple[str, str]
) -> tuple[cv.Grid, cv.Grid, int, int]:
    """Two grids side by side under their titles: (left grid, right grid, width, height)."""
    top = cv.MARGIN + cv.TITLE
    g_left = cv.Grid(cv.MARGIN, top, left[0], left[1], cell)
    g_right = cv.Grid(g_left.x + max(g_left.width, cv.text_width(titles[0])) + cv.GAP, top, right[0], right[1], cell)
    width = g_right.x + max(g_right.width, cv.text_width(titles[1])) + cv.MARGIN
    height = top + max(g_left.height, g_right.height) + cv.MARGIN
    return g_left, g_right, width, height


def _check_frames(func: str, count: int) -> None:
    if count > MAX_FRAMES:
        raise TconvError(f"tconv.viz.{func}: would draw {count} frames; at most {MAX_FRAMES} (use a smaller case)")


def zero_insertion_frames(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    x: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    numbers: bool | None = None,
) -> Frames:
    """One frame per output element: the flipped kernel sliding over the zero-inserted, padded input.

    Notes
    -----
    The padded input has ``L + k_eff - 1`` cells per axis; cell ``v`` holds
    ``x[t/s]`` when ``t = v - (k_eff - 1 - lo)`` is a multiple of ``s`` in
    ``[0, (n-1)*s]``, else zero. Output ``o`` is
    ``sum_j w[k-1-j] * padded[o + j*d]``. Values default to ``x = 1, 2, ...``
    and an all-ones kernel; ``numbers`` (default: when the cells fit) writes them
    in the cells.
    """
    func = "zero_insertion_frames"
    geom, xs, ws = _setup(func, in_size, kernel_size, stride, padding, output_padding, dilation, x, weight)
    axes = geom.axes
    view_shape = tuple(a.length + a.k_eff - 1 for a in axes)
    cv.check_size(func, "the padded input", view_shape)
    _check_frames(func, int(np.prod(geom.out_size)))
    view = padded_input(np.asarray(xs, dtype=float)[None, None], geom)[0, 0]
    is_input = padded_input(np.ones((1, 1) + geom.in_size, dtype=bool), geom)[0, 0]
    flipped = ws[(slice(None, None, -1),) * geom.ndim]
    out = np.zeros(geom.out_size)
    for o in np.ndindex(*geom.out_size):
        for j in np.ndindex(*geom.kernel):
            out[o] += flipped[j] * view[tuple(oi + ji * a.dilation for oi, ji, a in zip(o, j, axes))]

    cell = _cell_size(view_shape, geom.out_size)
    titles = (f"input {_sizes(geom.in_size)}, zeros inserted (s={_sizes(geom.stride)}), padded", f"output {_sizes(geom.out_size)}")
    g_in, g_out, width, height = _two_panels(
        cv.as_2d_shape(view_shape, func), cv.as_2d_shape(geom.out_size, func), cell, titles
    )
    show = cv.cells_fit(cell, view_shape) if numbers is None else numbers
    images = []
    order = list(np.ndindex(*geom.out_size))
    for step, o in enumerate(order):
        canvas = cv.Canvas(width, height)
        canvas.title(g_in.x, cv.MARGIN, titles[0])
        canvas.title(g_out.x, cv.MARGIN, titles[1])
        taps = {tuple(oi + ji * a.dilation for oi, ji, a in zip(o, j, axes)): flipped[j] for j in np.ndindex(*geom.kernel)}
        for v in np.ndindex(*view_shape):
            under = v in taps
            colour = (cv.KERNEL_ON_INPUT if under else cv.INPUT) if is_input[v] else (cv.KERNEL_ON_ZERO if under else cv.ZERO)
            label = cv.fmt(view[v]) if show and is_input[v] else ""
            canvas.cell(g_in, *g_in.cell_at(v), colour, label)
        for index, p in enumerate(order):
            colour = cv.OUTPUT_CURRENT if index == step else (cv.OUTPUT if index < step else cv.ZERO)
            label = cv.fmt(out[p]) if show and index <= step else ""
            canvas.cell(g_out, *g_out.cell_at(p), colour, label)
        images.append(canvas.image)
    return Frames(images, "zero_insertion", geom, g_in, g_out)


def scatter_frames(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    x: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    numbers: bool | None = None,
) -> Frames:
    """One frame per input element: it stamps ``x[i] * w`` into ``y_full`` at ``i*s + j*d``.

    The right panel spans ``y_full`` and the output window ``[lo, lo + L)``
    (outlined); cells outside the window are cropped (grey). Cells touched so far
    are cyan, the current stamp dark cyan; numbers are the running sums.
    """
    func = "scatter_frames"
    geom, xs, ws = _setup(func, in_size, kernel_size, stride, padding, output_padding, dilation, x, weight)
    axes = geom.axes
    first = tuple(min(0, a.start) for a in axes)
    last = tuple(max(a.full, a.start + a.length) for a in axes)
    span = tuple(b - a for a, b in zip(first, last))
    cv.check_size(func, "the full result", span)
    _check_frames(func, int(np.prod(geom.in_size)))
    cell = _cell_size(span, geom.in_size)
    titles = (f"input {_sizes(geom.in_size)}", f"full result; outlined: the output ({_sizes(geom.out_size)})")
    g_in, g_out, width, height = _two_panels(cv.as_2d_shape(geom.in_size, func), cv.as_2d_shape(span, func), cell, titles)
    show = cv.cells_fit(cell, span) if numbers is None else numbers
    inside = np.zeros(span, dtype=bool)
    inside[tuple(slice(a.start - f, a.start - f + a.length) for a, f in zip(axes, first))] = True
    total = np.zeros(span)
    touched = np.zeros(span, dtype=bool)
    images = []
    inputs = list(np.ndindex(*geom.in_size))
    for i in inputs:
        stamp = set()
        for j in np.ndindex(*geom.kernel):
            pos = tuple(ii * a.stride + ji * a.dilation - f for ii, ji, a, f in zip(i, j, axes, first))
            total[pos] += xs[i] * ws[j]
            touched[pos] = True
            stamp.add(pos)
        canvas = cv.Canvas(width, height)
        canvas.title(g_in.x, cv.MARGIN, titles[0])
        canvas.title(g_out.x, cv.MARGIN, titles[1])
        for p in inputs:
            canvas.cell(g_in, *g_in.cell_at(p), cv.KERNEL_ON_INPUT if p == i else cv.INPUT, cv.fmt(xs[p]) if show else "")
        for pos in np.ndindex(*span):
            if pos in stamp:
                colour = cv.OUTPUT_CURRENT
            elif not inside[pos]:
                colour = cv.CROPPED
            else:
                colour = cv.OUTPUT if touched[pos] else cv.ZERO
            canvas.cell(g_out, *g_out.cell_at(pos), colour, cv.fmt(total[pos]) if show and touched[pos] else "")
        rows, cols = _window_ranges(geom, first)
        canvas.outline(g_out, rows, cols)
        images.append(canvas.image)
    return Frames(images, "scatter", geom, g_in, g_out, first)


def _window_ranges(geom: Geometry, first: tuple[int, ...]) -> tuple[range, range]:
    spans = [range(a.start - f, a.start - f + a.length) for a, f in zip(geom.axes, first)]
    return (range(0, 1), spans[0]) if geom.ndim == 1 else (spans[0], spans[1])


def save_gif(images: list, path: str | os.PathLike, duration_ms: int = 600, hold_ms: int = 1800) -> None:
    """Write frames as a looping GIF (the last frame held longer)."""
    durations = [duration_ms] * (len(images) - 1) + [hold_ms]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=durations if len(images) > 1 else hold_ms, loop=0, optimize=False
    )


def animate(
    path: str | os.PathLike,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    view: str = "zero_insertion",
    frames_dir: str | os.PathLike | None = None,
    duration_ms: int = 600,
    x: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    numbers: bool | None = None,
) -> Frames:
    """Write an animated GIF of a transposed convolution (and the frames as PNGs on request).

    Parameters
    ----------
    path : where the GIF goes
    in_size, kernel_size, stride, padding, output_padding, dilation : PyTorch's
        arguments, 1-D or 2-D
    view : ``"zero_insertion"`` (one frame per output element) or ``"scatter"``
        (one frame per input element)
    frames_dir : if given, also write ``frame_000.png``, ... there
    x, weight : the values drawn (default ``1, 2, ...`` and all ones)

    Returns
    -------
    Frames

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     frames = animate(os.path.join(d, "a.gif"), 2, 3, stride=2)
    >>> len(frames), frames.geometry.out_size
    (5, (5,))
    """
    makers = {"zero_insertion": zero_insertion_frames, "scatter": scatter_frames}
    view = choice("viz.animate", "view", view, sorted(makers))
    # a GIF frame's delay is 16 bits of centiseconds; Pillow takes milliseconds
    duration_ms = as_int("viz.animate", "duration_ms", duration_ms, 1)
    if duration_ms > 655350:
        raise TconvError(f"tconv.viz.animate: duration_ms must be in [1, 655350] (a GIF frame's longest delay); got {duration_ms}")
    cv.picture_path("animate", path)
    frames = makers[view](
        in_size,
        kernel_size,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        x=x,
        weight=weight,
        numbers=numbers,
    )
    save_gif(frames.images, path, duration_ms)
    if frames_dir is not None:
        os.makedirs(frames_dir, exist_ok=True)
        for index, image in enumerate(frames.images):
            image.save(os.path.join(frames_dir, f"frame_{index:03d}.png"))
    return frames
