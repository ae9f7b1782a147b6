"""Keras 3's ``keras.ops.conv_transpose``, exactly, on NumPy arrays.

Same names, order, defaults and layouts: ``inputs`` ``channels_last`` by
default, ``kernel`` ``(*k, C_out, C_in)``. The reference is ``keras.ops`` on the
JAX backend, which computes what it is given: its TensorFlow backend refuses
some combinations the others compute (k=4, s=2, ``same``, ``output_padding=0``),
and ``keras.layers`` refuses ``output_padding >= strides``, which ``keras.ops``
accepts; tconv follows ``keras.ops``.

Keras 3 chooses the window by padding the zero-inserted input by
``(left, right)`` (``k_eff = d*(k-1) + 1``)::

    valid:  left = k_eff - 1,  right = k_eff - 1 + op,  op = max(k_eff, s) - k_eff if None
    same:   P = s + k_eff - 2 if output_padding is None else k_eff + (k_eff % 2) - 2 + op
            left = min(ceil(P/2), k_eff - 1),  right = P - left

so ``start = k_eff - 1 - left`` and ``length = (n-1)*s + left + right - k_eff + 2``.
``output_padding=None`` and ``0`` therefore give different lengths: ``same``
with ``None`` is ``n*s`` (TensorFlow's SAME), with ``op`` it is
``(n-1)*s + (k_eff % 2) + op``. With ``None`` both paddings are TensorFlow's
windows, so they are read off :func:`tconv.geometry.string_axis`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Geometry, effective_kernel, string_axis, zero_insertion_axis
from ...normalise import IntOrSeq, as_array, check_rank, per_axis, spatial_dims
from ...ops import run_geometry
from ..layouts import from_keras, is_channels_last, to_channels_first, to_channels_last

__all__ = ["conv_transpose", "geometry"]


def _pads(k_eff: int, padding: str, op: int) -> tuple[int, int]:
    """Keras 3's ``(left, right)`` padding of the zero-inserted input, one axis, ``output_padding`` given."""
    if padding == "valid":
        return k_eff - 1, k_eff - 1 + op
    total = k_eff + k_eff % 2 - 2 + op
    left = min(total // 2 + total % 2, k_eff - 1)
    return left, total - left


def _geometry(
    func: str,
    nd: int,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    strides: IntOrSeq,
    padding: str,
    output_padding: IntOrSeq | None,
    dilation_rate: IntOrSeq,
) -> Geometry:
    if not isinstance(padding, str):
        raise fail(func, f"padding must be 'valid' or 'same'; got {padding!r}", TypeError)
    mode = padding.lower()
    if mode not in ("valid", "same"):
        raise fail(func, f"padding must be 'valid' or 'same' (any case); got {padding!r}")
    n = per_axis(func, "input size", in_size, nd, 1)
    k = per_axis(func, "kernel size", kernel_size, nd, 1)
    s = per_axis(func, "strides", strides, nd, 1)
    d = per_axis(func, "dilation_rate", dilation_rate, nd, 1)
    op = (None,) * nd if output_padding is None else per_axis(func, "output_padding", output_padding, nd, -(10**9))
    axes = []
    for ax, sizes in enumerate(zip(n, k, s, d)):
        if op[ax] is None:  # Keras's pads for None choose TensorFlow's SAME / VALID window
            a = string_axis(mode, *sizes)
        else:
            a = zero_insertion_axis(*sizes, *_pads(effective_kernel(k[ax], d[ax]), mode, op[ax]))
        if a.length < 1:
            raise fail(
                func,
                f"the output would be empty on axis {ax}: "
                f"length (n-1)*s + left + right - k_eff + 2 = {a.length}; "
                f"increase output_padding (got {output_padding!r})",
            )
        axes.append(a)
    return Geometry(tuple(axes), 1)


def geometry(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    strides: IntOrSeq = 1,
    padding: str = "valid",
    output_padding: IntOrSeq | None = None,
    dilation_rate: IntOrSeq = 1,
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of ``keras.ops.conv_transpose``'s arguments.

    Examples
    --------
    >>> geometry(4, 3, 2, "same").axes[0]
    Axis(size=4, kernel=3, stride=2, dilation=1, start=0, length=8)
    >>> geometry(4, 3, 2, "same", output_padding=0).out_size  # (n-1)*s + k % 2 + 0
    (7,)
    """
    func = "compat.keras.geometry"
    nd = spatial_dims(
        func,
        in_size=in_size,
        kernel_size=kernel_size,
        strides=strides,
        output_padding=output_padding,
        dilation_rate=dilation_rate,
    )
    return _geometry(func, nd, in_size, kernel_size, strides, padding, output_padding, dilation_rate)


def conv_transpose(
    inputs: ArrayLike,
    kernel: ArrayLike,
    strides: IntOrSeq = 1,
    padding: str = "valid",
    output_padding: IntOrSeq | None = None,
    data_format: str | None = None,
    dilation_rate: IntOrSeq = 1,
) -> np.ndarray:
    """N-d transposed convolution with Keras 3's semantics (``keras.ops.conv_transpose``).

    Parameters
    ----------
    inputs : array_like, ``(N, *n, C_in)`` (``channels_last``, the default) or ``(N, C_in, *n)``
    kernel : array_like, shape ``(*k, C_out, C_in)``
    strides, dilation_rate : int or one int per spatial dim, >= 1
    padding : ``"valid"`` or ``"same"`` (any case)
    output_padding : None, or int or one int per spatial dim (``keras.ops`` accepts any value)
    data_format : ``"channels_last"`` (default) or ``"channels_first"``

    Returns
    -------
    ndarray, in ``data_format``

    Notes
    -----
    Per axis ``y_full[i*s + j*d] += x[i] * w[j]`` and ``y = y_full[start : start + L]``
    with ``start`` and ``L`` from Keras's paddings (module docstring).

    Examples
    --------
    >>> conv_transpose(np.ones((1, 2, 1)), np.ones((3, 1, 1)), 2, "same")[0, :, 0]
    array([1., 1., 2., 1.])
    """
    func = "compat.keras.conv_transpose"
    channels_last = True if data_format is None else is_channels_last(data_format, func)
    if data_format is not None and not data_format.startswith("channels_"):
        raise fail(func, f"data_format must be 'channels_last' or 'channels_first'; got {data_format!r}")
    x = as_array(func, "inputs", inputs)
    w = as_array(func, "kernel", kernel)
    if x.ndim < 3:
        raise fail(func, f"inputs must have at least 3 dims (batch, spatial, channels); got shape {x.shape}")
    nd = x.ndim - 2
    check_rank(func, "kernel", w, nd + 2, "(*kernel, out_channels, in_channels)")
    x = to_channels_first(x) if channels_last else x
    if w.shape[-1] != x.shape[1]:
        raise fail(
            func,
            f"kernel.shape[-1] (in_channels) must equal the inputs' channels {x.shape[1]}; "
            f"got kernel shape {w.shape}",
        )
    geom = _geometry(func, nd, x.shape[2:], w.shape[:-2], strides, padding, output_padding, dilation_rate)
    y = run_geometry(x, from_keras(w), None, geom, func=func)
    return np.ascontiguousarray(to_channels_last(y)) if channels_last else y
