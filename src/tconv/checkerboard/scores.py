"""The checkerboard in an image: the share of spectral energy at a stride's checkerboard frequencies."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import memory
from ..errors import fail
from ..normalise import IntOrSeq, as_array, as_int, per_axis

__all__ = ["image_score"]


def image_score(image: ArrayLike, stride: IntOrSeq, *, channel_axis: int | None = -1) -> float:
    """Fraction of an image's spectral energy at the checkerboard frequencies of a stride.

    Parameters
    ----------
    image : array_like
        1-D or 2-D grayscale, or 3-D with a colour axis (``channel_axis``,
        default last), which is averaged. With ``channel_axis=None`` every axis
        is spatial.
    stride : int or one int per spatial axis

    Returns
    -------
    float in ``[0, 1]``
        0.0 for a constant image.

    Notes
    -----
    Each axis is cropped to a multiple of its stride ``s`` (from the start), the
    mean is removed, and ``E = |FFT(image)|^2``. The score is
    ``sum(E[bins with some axis at a non-zero multiple of 1/s]) / sum(E)``
    (DC excluded from both): for length ``N`` those are the indices ``m*N/s``,
    ``0 < m < s``. A pure stride-2 checkerboard scores 1; white noise scores
    about the share of such bins, ``1 - prod(1 - (s-1)/N)``.

    Examples
    --------
    >>> import numpy as np
    >>> image_score(np.indices((8, 8)).sum(axis=0) % 2, 2)
    1.0
    >>> image_score(np.ones((8, 8)), 2)
    0.0
    >>> round(image_score(np.tile([1.0, 0.0, 0.0, 0.0], (4, 4)), 2), 3)
    0.333
    """
    func = "checkerboard.image_score"
    a = as_array(func, "image", image).astype(np.float64)
    if a.ndim == 3 and channel_axis is not None:
        axis = as_int(func, "channel_axis", channel_axis)
        if not -3 <= axis < 3:
            raise fail(func, f"channel_axis must be in [-3, 2] for a 3-D image, or None; got {axis}")
        a = a.mean(axis=axis)
    elif a.ndim not in (1, 2) and channel_axis is not None or a.ndim == 0:
        raise fail(
            func, f"image must be 1-D, 2-D, or 3-D with a colour axis (or pass channel_axis=None); got shape {a.shape}"
        )
    if not np.isfinite(a).all():
        raise fail(func, f"image must be finite; it holds {int(np.count_nonzero(~np.isfinite(a)))} NaN or inf values")
    # the FFT's complex spectrum, its energy and the mask, beside the image
    memory.check(func, a.size * (16 + 8 + 1), "the image's spectrum")
    s = per_axis(func, "stride", stride, a.ndim, 1)
    crop = tuple(n - n % si for n, si in zip(a.shape, s))
    if min(crop) < 1:
        raise fail(func, f"image must be at least one stride long on every axis (stride {s}); got shape {a.shape}")
    raw = a[tuple(slice(0, c) for c in crop)]
    a = raw - raw.mean()
    if np.sum(a**2) <= 1e-20 * np.sum(raw**2):
        return 0.0  # constant up to rounding: no pattern at all (also avoids 0/0)
    energy = np.abs(np.fft.fftn(a)) ** 2
    energy.flat[0] = 0.0
    total = energy.sum()
    mask = np.zeros(a.shape, dtype=bool)
    for axis, (n, si) in enumerate(zip(a.shape, s)):
        idx = np.arange(n)
        hit = (idx % (n // si) == 0) & (idx != 0) if si > 1 else np.zeros(n, dtype=bool)
        shape = [1] * a.ndim
        shape[axis] = n
        mask |= hit.reshape(shape)
    return float(energy[mask].sum() / total)

