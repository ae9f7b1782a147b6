"""Validation of arrays at the public boundary, shared by every entry point (private).

Scalar and per-axis arguments are normalised in :mod:`tconv.geometry`; this
module checks the arrays: types, ranks, channel counts and dtypes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .errors import TconvError
from .geometry import as_int

_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def as_array(func: str, name: str, value: ArrayLike) -> np.ndarray:
    """A read-only real float array view of ``value`` (ints and bools promoted to float64)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"tconv.{func}: {name} must be a rectangular array of real numbers; {exc}") from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"tconv.{func}: {name} must hold real numbers (bool, int, float16/32/64); got dtype {arr.dtype}"
        )
    view = arr.view()
    view.flags.writeable = False  # the algorithms only read their inputs: make sure of it
    return view


def as_groups(func: str, groups: object, name: str = "groups") -> int:
    return as_int(func, name, groups, 1)


def check_ranks(func: str, x: np.ndarray, weight: np.ndarray, x_name: str = "x") -> int:
    """``x`` is ``(N, C, *spatial)`` and ``weight`` has as many dims; returns the spatial rank."""
    if x.ndim < 3:
        raise TconvError(
            f"tconv.{func}: {x_name} must have shape (N, C, *spatial) with at least one spatial dim; "
            f"got shape {x.shape}"
        )
    if weight.ndim != x.ndim:
        raise TconvError(
            f"tconv.{func}: weight must have {x.ndim} dims to match {x_name} ({x.ndim - 2} spatial); "
            f"got shape {weight.shape}"
        )
    if min(weight.shape) < 1:
        raise TconvError(f"tconv.{func}: weight must have no empty dims; got shape {weight.shape}")
    if min(x.shape[1:]) < 1:
        raise TconvError(f"tconv.{func}: {x_name} must have no empty channel or spatial dims; got shape {x.shape}")
    return x.ndim - 2


def check_bias(func: str, bias: np.ndarray | None, c_out: int, name: str = "bias") -> None:
    if bias is not None and bias.shape != (c_out,):
        raise TconvError(f"tconv.{func}: {name} must have shape ({c_out},) (C_out); got shape {bias.shape}")


def compute_dtype(*arrays: np.ndarray | None) -> tuple[np.dtype, np.dtype]:
    """(result dtype, compute dtype): float16 is accumulated in float32."""
    result = np.result_type(*(a for a in arrays if a is not None))
    return result, (np.dtype(np.float32) if result == np.float16 else result)
