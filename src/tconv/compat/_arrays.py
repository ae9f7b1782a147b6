"""Checks shared by the array entry points of :mod:`tconv.compat` (private)."""

from __future__ import annotations

from ..normalise import as_array, as_int, check_bias, check_rank, is_seq

__all__ = ["as_array", "as_int", "check_bias", "check_rank", "is_seq", "spatial_dims"]


def spatial_dims(*values: object) -> int:
    """The number of spatial dims of the first per-axis sequence among ``values`` (1 if none)."""
    return next((len(v) for v in values if is_seq(v)), 1)
