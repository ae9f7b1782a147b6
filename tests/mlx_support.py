"""The real MLX (CPU) as an oracle, in process: ``mlx.core.conv_transpose{1,2,3}d`` on NumPy arrays."""

from __future__ import annotations

import numpy as np


def run(arguments: dict, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``mlx.core.conv_transpose{nd}d(x, w, **arguments)`` (+ ``b``) in the real MLX (``nd = x.ndim - 2``).

    ``arguments`` are the function's own keyword arguments (a converter
    :class:`~tconv.compat.porting.Target`'s ``arguments``); ``x`` is
    channels-last ``(N, *n, C_in)``, ``w`` MLX's ``(C_out, *k, C_in/groups)``;
    MLX's functions have no bias, so ``b`` is added after, on the last axis.
    Never pass ``groups=0``: MLX dies of a floating-point exception there.
    """
    import mlx.core as mx

    nd = np.ndim(x) - 2
    fn = getattr(mx, f"conv_transpose{nd}d")
    y = np.array(fn(mx.array(np.asarray(x, np.float32)), mx.array(np.asarray(w, np.float32)), **arguments))
    return y if b is None else y + np.asarray(b, np.float32)
