"""Pictures that explain transposed convolution (needs the ``tconv[viz]`` extra: Pillow).

- :func:`animate`: an animated GIF of any 1-D or 2-D geometry, in the
  zero-insertion view (conv_arithmetic's) or the scatter view.
- :func:`draw_matrix`: the convolution matrix ``C`` and its transpose ``C^T``.
- :func:`draw_overlap`: the overlap heatmap of a geometry or a stack.

Pillow is imported only when a picture is drawn.
"""

from .animate import Frames, animate, save_gif, scatter_frames, zero_insertion_frames
from ._canvas import picture_path
from .draw import draw_matrix, draw_overlap

__all__ = ["Frames", "animate", "draw_matrix", "draw_overlap", "picture_path", "save_gif", "scatter_frames", "zero_insertion_frames"]
