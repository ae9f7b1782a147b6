"""Checks shared by the array entry points of :mod:`tconv.compat` (private)."""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..errors import TconvError

_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def as_array(func: str, name: str, value: ArrayLike) -> np.ndarray:
    """A read-only real float array (bools and ints become float64), or ``TypeError`` naming ``name``."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"tconv.{func}: {name} must be a rectangular array of real numbers; {exc}") from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in _FLOATS:
        raise TypeError(f"tconv.{func}: {name} must hold real numbers (bool, int, float16/32/64); got dtype {arr.dtype}")
    view = arr.view()
    view.flags.writeable = False
    return view


def as_int(func: str, name: str, value: object, minimum: int) -> int:
    """One int ``>= minimum`` (``TypeError`` for bools and non-integers)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"tconv.{func}: {name} must be an int; got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise TconvError(f"tconv.{func}: {name} must be >= {minimum}; got {value}")
    return int(value)


def is_seq(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def spatial_dims(*values: object) -> int:
    """The number of spatial dims of the first per-axis sequence among ``values`` (1 if none)."""
    return next((len(v) for v in values if is_seq(v)), 1)


def check_rank(func: str, name: str, arr: np.ndarray, rank: int, layout: str) -> None:
    if arr.ndim != rank:
        raise TconvError(f"tconv.{func}: {name} must have {rank} dims {layout}; got shape {arr.shape}")
    if 0 in arr.shape[1:] or (name != "input" and 0 in arr.shape):
        raise TconvError(f"tconv.{func}: {name} must have no empty dims (batch excepted); got shape {arr.shape}")


def check_bias(func: str, name: str, bias: np.ndarray | None, c_out: int) -> None:
    if bias is not None and bias.shape != (c_out,):
        raise TconvError(f"tconv.{func}: {name} must have shape ({c_out},) (C_out); got shape {bias.shape}")
