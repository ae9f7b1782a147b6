"""Checks shared by the array entry points of :mod:`tconv.compat` (private)."""

from __future__ import annotations

import numpy as np

from .._validate import as_array, check_bias
from ..errors import TconvError
from ..geometry import as_int, is_seq

__all__ = ["as_array", "as_int", "check_bias", "check_rank", "is_seq", "spatial_dims"]


def spatial_dims(*values: object) -> int:
    """The number of spatial dims of the first per-axis sequence among ``values`` (1 if none)."""
    return next((len(v) for v in values if is_seq(v)), 1)


def check_rank(func: str, name: str, arr: np.ndarray, rank: int, layout: str) -> None:
    if arr.ndim != rank:
        raise TconvError(f"tconv.{func}: {name} must have {rank} dims {layout}; got shape {arr.shape}")
    if 0 in arr.shape[1:] or (name != "input" and 0 in arr.shape):
        raise TconvError(f"tconv.{func}: {name} must have no empty dims (batch excepted); got shape {arr.shape}")
