"""Validation of arrays at the public boundary, shared by every entry point (private).

Scalar and per-axis arguments are normalised in :mod:`tconv.geometry`; this
module checks the arrays: types, ranks, channel counts and dtypes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .errors import TconvError
from .geometry import (
    Geometry,
    as_int,
    conv_geometry,
    output_padding_for_size,
    padding_pairs,
    per_axis,
    transpose_geometry,
)

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


def transpose_inputs(
    func: str, x, weight, bias, *, stride, padding, output_padding, groups, dilation, output_size=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Geometry]:
    """Validate a transposed conv's arrays and PyTorch-style arguments into arrays and a :class:`Geometry`.

    ``weight`` is ``(C_in, C_out/groups, *k)``; ``output_size`` resolves
    ``output_padding`` as PyTorch's ``ConvTranspose*.forward`` does.
    """
    x = as_array(func, "x", x)
    weight = as_array(func, "weight", weight)
    bias = None if bias is None else as_array(func, "bias", bias)
    nd = check_ranks(func, x, weight)
    groups = as_groups(func, groups)
    c_in = x.shape[1]
    if weight.shape[0] != c_in:
        raise TconvError(
            f"tconv.{func}: weight.shape[0] must equal C_in = x.shape[1] = {c_in} "
            f"(weight layout (C_in, C_out/groups, *k)); got weight shape {weight.shape}"
        )
    if c_in % groups:
        raise TconvError(f"tconv.{func}: groups must divide C_in = {c_in}; got groups={groups}")
    check_bias(func, bias, weight.shape[1] * groups)
    if output_size is not None:
        if any(per_axis(func, "output_padding", output_padding, nd, 0)):
            raise TconvError(
                f"tconv.{func}: give output_size or output_padding, not both "
                f"(got output_size={output_size!r}, output_padding={output_padding!r})"
            )
        output_padding = output_padding_for_size(
            func,
            x.shape[2:],
            weight.shape[2:],
            per_axis(func, "stride", stride, nd, 1),
            padding_pairs(func, padding, nd),
            per_axis(func, "dilation", dilation, nd, 1),
            output_size,
        )
    geom = transpose_geometry(
        func,
        x.shape[2:],
        weight.shape[2:],
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
        nd=nd,
    )
    return x, weight, bias, geom


def conv_inputs(
    func: str, x, weight, bias, *, stride, padding, groups, dilation
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Geometry]:
    """Validate a forward conv's arrays (``weight`` ``(C_out, C_in/groups, *k)``) into arrays and its :class:`Geometry`."""
    x = as_array(func, "x", x)
    weight = as_array(func, "weight", weight)
    bias = None if bias is None else as_array(func, "bias", bias)
    nd = check_ranks(func, x, weight)
    groups = as_groups(func, groups)
    c_out, c_in_g = weight.shape[:2]
    if x.shape[1] != c_in_g * groups:
        raise TconvError(
            f"tconv.{func}: x.shape[1] must equal C_in = weight.shape[1] * groups = {c_in_g * groups} "
            f"(weight layout (C_out, C_in/groups, *k)); got x shape {x.shape}"
        )
    if c_out % groups:
        raise TconvError(f"tconv.{func}: groups must divide C_out = weight.shape[0] = {c_out}; got groups={groups}")
    check_bias(func, bias, c_out)
    geom = conv_geometry(
        func, x.shape[2:], weight.shape[2:], stride=stride, padding=padding, dilation=dilation, groups=groups, nd=nd
    )
    return x, weight, bias, geom
