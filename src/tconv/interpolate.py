"""Interpolation (nearest, linear, bilinear, bicubic, trilinear), PyTorch's ``interpolate`` arithmetic.

The fixed upsamplers a learned transposed convolution competes with. Each
mode is separable: one ``(out, in)`` matrix per spatial axis
(:func:`interpolation_matrix`), so the gradient of :func:`upsample` is the
same matrices transposed (:func:`upsample_backward`).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .errors import TconvError
from .memory import check
from .normalise import INT_LIMIT, as_array, choice, per_axis_floats

__all__ = ["MODES", "upsample", "upsample_backward", "interpolation_matrix", "resize_matrices", "apply_matrices", "as_input"]

#: mode -> the number of spatial dims it accepts (None: any of 1-3), as PyTorch checks it.
MODES: dict[str, int | None] = {
    "nearest": None,
    "nearest-exact": None,
    "linear": 1,
    "bilinear": 2,
    "bicubic": 2,
    "trilinear": 3,
}
_CUBIC_A = -0.75


def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution (A = -0.75) at offsets ``t + 1, t, 1 - t, 2 - t``: shape ``(len(t), 4)``."""
    a = _CUBIC_A

    def near(u):  # |u| <= 1
        return ((a + 2) * u - (a + 3)) * u * u + 1

    def far(u):  # 1 < |u| < 2
        return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)


def interpolation_matrix(
    in_size: int, out_size: int, mode: str, align_corners: bool = False, scale: float | None = None
) -> np.ndarray:
    """The ``(out_size, in_size)`` float64 matrix of one axis: ``y = A @ x``.

    ``scale`` is the user's scale factor for this axis (PyTorch then maps output
    ``o`` with ``1 / scale``); None maps with ``in_size / out_size``.

    Notes
    -----
    Source coordinates follow PyTorch: nearest ``min(floor(o * r), n - 1)``
    (float32 arithmetic, with PyTorch's shortcuts for ``out = in`` and
    ``out = 2 in``), nearest-exact ``floor((o + 0.5) r)``; linear and cubic use
    ``src = r (o + 0.5) - 0.5`` (clamped at 0 for linear), or ``src = o (n-1)/(out-1)``
    with ``align_corners``. Linear interpolates between ``floor(src)`` and the next
    sample (the last sample repeats); cubic reads four samples with indices
    clamped to the border.

    Examples
    --------
    >>> interpolation_matrix(2, 4, "linear")
    array([[1.  , 0.  ],
           [0.75, 0.25],
           [0.25, 0.75],
           [0.  , 1.  ]])
    """
    a = np.zeros((out_size, in_size))
    o = np.arange(out_size)
    if mode.startswith("nearest"):
        if mode == "nearest" and out_size in (in_size, 2 * in_size):
            src = o * in_size // out_size
        else:
            r = np.float32(1.0 / scale) if scale else np.float32(in_size) / np.float32(out_size)
            pos = o.astype(np.float32) * r if mode == "nearest" else ((o + 0.5) * np.float64(r)).astype(np.float32)
            src = np.minimum(np.floor(pos).astype(np.int64), in_size - 1)
        a[o, src] = 1.0
        return a
    if align_corners:
        r = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = r * o
    else:
        r = 1.0 / scale if scale else in_size / out_size
        src = r * (o + 0.5) - 0.5
    if mode == "bicubic":
        base = np.floor(src).astype(np.int64)
        weights = _cubic_weights(src - base)
        for tap in range(4):
            np.add.at(a, (o, np.clip(base - 1 + tap, 0, in_size - 1)), weights[:, tap])
        return a
    if out_size == in_size:  # PyTorch copies: no arithmetic, exactly the identity
        return np.eye(in_size)
    src = np.maximum(src, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    frac = np.clip(src - lo, 0.0, 1.0)
    hi = np.minimum(lo + 1, in_size - 1)
    np.add.at(a, (o, lo), 1.0 - frac)
    np.add.at(a, (o, hi), frac)
    return a


def resize_matrices(
    func: str,
    in_size: tuple[int, ...],
    scale_factor,
    size,
    mode: str,
    align_corners: bool | None,
    recompute_scale_factor: bool | None,
    lead: int = 1,
) -> list[np.ndarray]:
    """The per-axis interpolation matrices, after the memory they and the resize of ``lead`` planes need is checked."""
    nd = len(in_size)
    choice(func, "mode", mode, MODES)
    if MODES[mode] is not None and MODES[mode] != nd:
        raise TconvError(
            f"tconv.{func}: mode {mode!r} needs {MODES[mode]} spatial dim(s) (input of {MODES[mode] + 2} dims); "
            f"got {nd} spatial dim(s)"
        )
    if not 1 <= nd <= 3:
        raise TconvError(f"tconv.{func}: x must have 1 to 3 spatial dims (3 to 5 dims in all); got {nd}")
    if align_corners is not None and mode.startswith("nearest"):
        raise TconvError(
            f"tconv.{func}: align_corners can only be set with the interpolating modes "
            f"(linear, bilinear, bicubic, trilinear); got align_corners={align_corners!r} with mode {mode!r}"
        )
    if (scale_factor is None) == (size is None):
        raise TconvError(f"tconv.{func}: give exactly one of size and scale_factor; got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    if size is not None:
        out = tuple(int(v) for v in per_axis_floats(func, "size", size, nd))
        scales: tuple[float | None, ...] = (None,) * nd
    else:
        factors = per_axis_floats(func, "scale_factor", scale_factor, nd)
        out = tuple(math.floor(n * f) for n, f in zip(in_size, factors))
        if max(out) > INT_LIMIT:
            raise TconvError(
                f"tconv.{func}: scale_factor {scale_factor!r} gives an output of {max(out):.3g} elements on an axis, "
                "past 2**62 (64-bit index arithmetic)"
            )
        if min(out) < 1:
            raise TconvError(f"tconv.{func}: scale_factor {scale_factor!r} gives an empty output {out} from {in_size}")
        scales = (None,) * nd if recompute_scale_factor else factors
    # the dense (out, in) matrices, and two float64 planes as large as the largest intermediate of the axis passes
    largest = math.prod(max(n, m) for n, m in zip(in_size, out))
    check(func, 8 * (sum(n * m for n, m in zip(in_size, out)) + 2 * lead * largest), f"resizing {in_size} to {out}")
    return [
        interpolation_matrix(n, m, mode, bool(align_corners), s) for n, m, s in zip(in_size, out, scales)
    ]


def apply_matrices(x: np.ndarray, matrices: Sequence[np.ndarray]) -> np.ndarray:
    """Multiply spatial axis ``i`` of ``x`` by ``matrices[i]``, in the compute dtype of ``x``."""
    dtype = np.float32 if x.dtype == np.float16 else x.dtype
    y = x.astype(dtype, copy=False)
    nd = len(matrices)
    for i, a in enumerate(matrices):
        axis = y.ndim - nd + i
        y = np.moveaxis(np.tensordot(y, a.astype(dtype), axes=([axis], [1])), -1, axis)
    return np.ascontiguousarray(y, dtype=x.dtype)


def as_input(func: str, x: ArrayLike) -> np.ndarray:
    """``x`` as a real float array ``(N, C, *spatial)`` (ints become float64)."""
    x = as_array(func, "x", x)
    if x.ndim < 3:
        raise TconvError(f"tconv.{func}: x must have shape (N, C, *spatial) with 1-3 spatial dims; got {x.shape}")
    return x


def upsample(
    x: ArrayLike,
    scale_factor: float | Sequence[float] | None = None,
    size: int | Sequence[int] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> np.ndarray:
    """Resize ``x`` ``(N, C, *spatial)`` as ``torch.nn.functional.interpolate`` does.

    Parameters
    ----------
    x : array_like, 3 to 5 dims, channels first
    scale_factor : float or one per spatial dim
        Output size ``floor(n * scale_factor)``; the index arithmetic uses
        ``1 / scale_factor`` unless ``recompute_scale_factor`` is True.
    size : int or one per spatial dim
    mode : 'nearest', 'nearest-exact', 'linear' (1-d), 'bilinear' (2-d), 'bicubic' (2-d), 'trilinear' (3-d)
    align_corners : bool, for the interpolating modes only (default False)

    Returns
    -------
    ndarray of the input's dtype (ints become float64)

    Notes
    -----
    See :func:`interpolation_matrix` for the source coordinates of each mode.

    Examples
    --------
    >>> import numpy as np
    >>> upsample(np.array([[[1.0, 2.0, 4.0]]]), scale_factor=2, mode="linear")[0, 0]
    array([1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ])
    """
    func = "upsample"
    x = as_input(func, x)
    matrices = resize_matrices(func, x.shape[2:], scale_factor, size, mode, align_corners, recompute_scale_factor, x.shape[0] * x.shape[1])
    return apply_matrices(x, matrices)


def upsample_backward(
    grad_output: ArrayLike,
    in_size: Sequence[int],
    scale_factor: float | Sequence[float] | None = None,
    size: int | Sequence[int] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> np.ndarray:
    """The gradient of :func:`upsample` with respect to its input of spatial size ``in_size``.

    Examples
    --------
    >>> upsample_backward(np.ones((1, 1, 4)), (2,), scale_factor=2)[0, 0]
    array([2., 2.])
    """
    func = "upsample_backward"
    g = as_input(func, grad_output)
    matrices = resize_matrices(
        func, tuple(in_size), scale_factor, size, mode, align_corners, recompute_scale_factor, g.shape[0] * g.shape[1]
    )
    expected = tuple(a.shape[0] for a in matrices)
    if g.shape[2:] != expected:
        raise TconvError(f"tconv.{func}: grad_output must have spatial size {expected}; got shape {g.shape}")
    return apply_matrices(g, [a.T for a in matrices])
