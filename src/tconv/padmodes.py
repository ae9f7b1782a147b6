"""Padding with PyTorch's modes, and its adjoint (folding margins back onto the interior).

Shared by ``tconv.compat.torch`` (transposed convs with a ``padding_mode``) and
``tconv.nn`` (conv layers and their gradients).

A conv with ``padding_mode=m`` is ``conv_valid(pad(x, m))``; its input gradient
is ``fold(conv_valid_backward(...), m)``, and a transposed conv with a padding
mode is ``fold(conv_transpose_unpadded(x), m)`` (see ``docs/geometry.md``, "Padding modes").
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import TconvError
from .normalise import is_seq, padding_pairs

__all__ = ["PADDING_MODES", "pad", "fold", "check_fold"]

#: PyTorch's padding_mode names and the ``numpy.pad`` mode of each.
PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _mode(func: str, mode: str) -> str:
    if mode not in PADDING_MODES:
        raise TconvError(f"tconv.{func}: padding_mode must be one of {sorted(PADDING_MODES)}; got {mode!r}")
    return PADDING_MODES[mode]


def check_fold(func: str, sizes: Sequence[int], pairs: Sequence[tuple[int, int]], mode: str) -> None:
    """Refuse margins the mode cannot make from a signal of ``sizes`` (as ``torch.nn.functional.pad``).

    Circular padding copies at most the whole signal, reflect at most all but the edge element.
    """
    _mode(func, mode)
    limit = {"circular": 0, "reflect": 1}.get(mode)
    for ax, (m, (lo, hi)) in enumerate(zip(sizes, pairs)):
        if m < 1:
            raise TconvError(f"tconv.{func}: {_empty(ax, m + lo + hi, lo, hi)}")
        if limit is not None and max(lo, hi) > m - limit:
            bound = "the output length" if mode == "circular" else "the output length - 1"
            raise TconvError(
                f"tconv.{func}: padding_mode={mode!r} needs padding <= {bound} on every axis "
                f"(as torch.nn.functional.pad); axis {ax} has output length {m} and padding {max(lo, hi)}"
            )


def _empty(ax: int, size: int, lo: int, hi: int) -> str:
    """The words for a length that the margins ``lo`` and ``hi`` bring below 1 on axis ``ax``."""
    left = size - lo - hi
    return (
        f"the output would be {'empty' if left == 0 else 'negative'} on axis {ax}: length {size} - padding "
        f"{lo} - {hi} = {left}; it must be >= 1 (reduce padding to at most {size - 1} in total)"
    )


def _pairs(func: str, arr: np.ndarray, pairs: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """``pairs`` as ``(lo, hi)`` ints >= 0, one per trailing axis of ``arr``."""
    if not is_seq(pairs) or len(pairs) > arr.ndim:
        raise TconvError(
            f"tconv.{func}: pairs must be one (lo, hi) per trailing axis (at most {arr.ndim}); got {pairs!r}"
        )
    return padding_pairs(func, tuple(pairs), len(pairs))


def pad(x: np.ndarray, pairs: Sequence[tuple[int, int]], mode: str = "zeros") -> np.ndarray:
    """Pad the trailing ``len(pairs)`` axes of ``x`` by ``(lo, hi)`` each, with PyTorch's ``mode``.

    Examples
    --------
    >>> pad(np.array([[[1., 2., 3.]]]), [(2, 1)], "reflect")[0, 0]
    array([3., 2., 1., 2., 3., 2.])
    """
    np_mode = _mode("padmodes.pad", mode)
    x = np.asarray(x)
    pairs = _pairs("padmodes.pad", x, pairs)
    lead = ((0, 0),) * (x.ndim - len(pairs))
    return np.pad(x, lead + tuple(tuple(p) for p in pairs), mode=np_mode)


def fold(g: np.ndarray, pairs: Sequence[tuple[int, int]], mode: str = "zeros") -> np.ndarray:
    """The adjoint of :func:`pad`: add each padded element's gradient onto the element it copied.

    ``g`` has the padded size; the result has the unpadded size.

    Examples
    --------
    >>> fold(np.ones((1, 1, 6)), [(2, 1)], "reflect")[0, 0]
    array([1., 3., 2.])
    """
    np_mode = _mode("padmodes.fold", mode)
    g = np.asarray(g)
    pairs = _pairs("padmodes.fold", g, pairs)
    nd = len(pairs)
    for ax, (lo, hi) in enumerate(pairs):
        axis = g.ndim - nd + ax
        size = g.shape[axis] - lo - hi
        if size < 1:
            raise TconvError(f"tconv.padmodes.fold: {_empty(ax, g.shape[axis], lo, hi)}")
        # where each padded position reads from, as numpy.pad lays it out
        source = np.pad(np.arange(size), (lo, hi), mode=np_mode) if np_mode != "constant" else None
        gathered = np.zeros((g.shape[axis], size), dtype=g.dtype)
        if source is None:
            gathered[np.arange(lo, lo + size), np.arange(size)] = 1
        else:
            gathered[np.arange(g.shape[axis]), source] = 1
        g = np.moveaxis(np.tensordot(g, gathered, axes=([axis], [0])), -1, axis)
    return g
