"""Exact gradients of the transposed convolution and of the forward convolution.

Both ops are linear in ``x`` and in ``weight``, and each is the adjoint of the
other (same weight tensor, same geometry). So, for one normalised
:class:`~tconv.geometry.Geometry` per axis ``(n, k, s, d, lo, L)``::

    transposed conv   y = CT(x; w):   dL/dx = conv(gy; w)            (a strided correlation)
    forward conv      y = C(x; w):    dL/dx = CT(gy; w)              (any fast algorithm)
    both:             dL/dw[a, b, j] = sum_{batch, i} small[a, i] * big_full[b, i*s + j*d]

where for the transposed conv ``small = x`` and ``big_full`` is the upstream
gradient placed back into the full scatter result (zeros where the window
cropped or extended it), and for the conv ``small = gy`` and ``big_full`` the
padded input. The weight gradient is one GEMM per kernel tap over batch and
positions, so it costs the same as the forward op.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

import math

from . import memory, nonfinite
from .algorithms.common import window
from .errors import TconvError
from .geometry import Geometry
from .normalise import IntOrSeq, Padding, as_array, as_flag, compute_dtype
from .ops import conv_inputs, run_conv_geometry, run_geometry, transpose_inputs

__all__ = [
    "conv_transpose_backward",
    "conv_backward",
    "transpose_backward_geometry",
    "conv_backward_geometry",
    "weight_gradient",
]

Grads = tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]


def _weight_grad(small: np.ndarray, big_full: np.ndarray, geom: Geometry) -> np.ndarray:
    """``g[a, b, j] = sum_{batch, i} small[:, a, i] * big_full[:, b, i*s + j*d]`` within each group.

    ``small`` is ``(N, C_a, *n)`` and ``big_full`` ``(N, C_b, *full)``; the result
    has the transposed-conv weight layout ``(C_a, C_b / groups, *k)``.
    """
    g = geom.groups
    c_a, c_b = small.shape[1], big_full.shape[1]
    a_g, b_g = c_a // g, c_b // g
    # channels last: rows (N*prod(n), C_a), and each tap's strided window copies contiguous channel runs
    rows = np.moveaxis(small, 1, -1).reshape(-1, c_a)
    big = np.ascontiguousarray(np.moveaxis(big_full, 1, -1))
    out = np.empty((g, a_g, b_g) + geom.kernel, dtype=np.result_type(small, big_full))
    for j in np.ndindex(*geom.kernel):
        src = tuple(
            slice(ji * ax.dilation, ji * ax.dilation + (ax.size - 1) * ax.stride + 1, ax.stride)
            for ji, ax in zip(j, geom.axes)
        )
        cols = big[(slice(None),) + src].reshape(-1, c_b)
        for k in range(g):  # contract batch and positions: one GEMM per group and tap
            out[(k, Ellipsis) + j] = (cols[:, k * b_g : (k + 1) * b_g].T @ rows[:, k * a_g : (k + 1) * a_g]).T
    return out.reshape((c_a, b_g) + geom.kernel)


def weight_grad_bytes(small_shape: tuple[int, ...], big_channels: int, geom: Geometry, itemsize: int) -> int:
    """Estimated peak bytes of :func:`weight_gradient`: ``small`` ``(N, C_a, *n)`` in channels-last rows,
    the big side placed in the full scatter result and its channels-last copy, one tap's window of it,
    and the result with its grouped copy."""
    n_batch, c_a = small_shape[:2]
    positions, full = math.prod(geom.in_size), math.prod(geom.full)
    taps = math.prod(geom.kernel)
    values = (n_batch * c_a * positions + 2 * n_batch * big_channels * full + n_batch * positions * big_channels
              + 2 * c_a * (big_channels // geom.groups) * taps)
    return values * itemsize


def weight_gradient(func: str, small: np.ndarray, big: np.ndarray, geom: Geometry) -> np.ndarray:
    """``g[a, b, j] = sum_{batch, i} small[:, a, i] * big[:, b, i*s + j*d - lo]`` inside the window, per group.

    ``small`` is ``(N, C_a, *n)`` and ``big`` ``(N, C_b, *L)`` (the window's length); the bytes are
    checked against the memory budget first (:func:`weight_grad_bytes`). With NaN or inf the
    definition's terms only (:mod:`tconv.nonfinite`): the window's zero-extension is not a term.
    """
    item = np.result_type(small, big).itemsize
    finite = nonfinite.all_finite(small, big)
    extra = 0 if finite else (small.size + big.size) * (item + 1)
    memory.check(func, weight_grad_bytes(small.shape, big.shape[1], geom, item) + extra, "the weight gradient")
    starts = tuple(-a.start for a in geom.axes)
    if finite:
        return _weight_grad(small, window(big, starts, geom.full), geom)
    if not nonfinite.weight_sparse_is_cheaper(small, big, geom):
        return nonfinite.weight_definition(small, big, geom)
    gw = _weight_grad(nonfinite.finite_part(small), window(nonfinite.finite_part(big), starts, geom.full), geom)
    nonfinite.add_weight_terms(gw, small, big, geom)
    return gw


def transpose_backward_geometry(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    geom: Geometry,
    *,
    bias: bool = True,
    need_input: bool = True,
    need_weight: bool = True,
    func: str = "conv_transpose_backward",
) -> Grads:
    """Gradients of a transposed conv whose geometry is already normalised.

    The entry point for layers and conventions that hold a :class:`Geometry`
    (``lo`` may be negative and the window may pass the end); arrays must be
    validated, ``x`` ``(N, C_in, *n)``, ``weight`` ``(C_in, C_out/g, *k)``,
    ``grad_output`` ``(N, C_out, *L)``. Returns ``(grad_input, grad_weight,
    grad_bias)`` in the inputs' result dtype (float16 accumulated in float32);
    entries not asked for are ``None``. Both run through the library's doors: the input
    gradient is the conv of ``grad_output`` (:func:`tconv.ops.run_conv_geometry`), the weight
    gradient :func:`weight_gradient`; so both are checked against the memory budget and give
    the definition's NaN and inf.
    """
    result_dtype, dtype = compute_dtype(grad_output, x, weight)
    gy = grad_output.astype(dtype, copy=False)
    gx = gw = gb = None
    if need_input:
        # conv(gy; w): the upstream gradient back in the full scatter result (the window's adjoint), correlated
        gx = run_conv_geometry(gy, weight.astype(dtype, copy=False), None, geom, func=func)
        gx = gx.astype(result_dtype, copy=False)
    if need_weight:
        gw = weight_gradient(func, x.astype(dtype, copy=False), gy, geom).astype(result_dtype, copy=False)
    if bias:
        with np.errstate(invalid="ignore"):  # inf + -inf is the definition's NaN
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim))).astype(result_dtype, copy=False)
    return gx, gw, gb


def conv_backward_geometry(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    geom: Geometry,
    *,
    bias: bool = True,
    need_input: bool = True,
    need_weight: bool = True,
    func: str = "conv_backward",
) -> Grads:
    """Gradients of a forward conv given as the transposed conv it is the adjoint of.

    ``geom`` is what :func:`tconv.geometry.conv_geometry` returns (axis ``size`` =
    the conv's output length, ``start`` = its low padding, ``length`` = its input
    length); ``weight`` is ``(C_out, C_in/g, *k)``.
    """
    result_dtype, dtype = compute_dtype(grad_output, x, weight)
    gy = grad_output.astype(dtype, copy=False)
    gx = gw = gb = None
    if need_input:
        gx = run_geometry(gy, weight.astype(dtype, copy=False), None, geom, func=func)
        gx = gx.astype(result_dtype, copy=False)
    if need_weight:
        # against the padded input, cut to the span the strided windows reach
        gw = weight_gradient(func, gy, x.astype(dtype, copy=False), geom).astype(result_dtype, copy=False)
    if bias:
        with np.errstate(invalid="ignore"):  # inf + -inf is the definition's NaN
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim))).astype(result_dtype, copy=False)
    return gx, gw, gb


def _check_grad_output(func: str, grad_output: np.ndarray, expected: tuple[int, ...]) -> None:
    if grad_output.shape != expected:
        raise TconvError(
            f"tconv.{func}: grad_output must have the forward output's shape {expected}; "
            f"got shape {grad_output.shape}"
        )


def conv_transpose_backward(
    grad_output: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
    bias: bool = True,
) -> Grads:
    """Gradients of :func:`tconv.conv_transpose` with respect to input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape ``(N, C_out, *L)``
        The gradient of the loss with respect to the transposed conv's output.
    x : array_like, shape ``(N, C_in, *n)``
    weight : array_like, shape ``(C_in, C_out // groups, *k)``
    stride, padding, output_padding, groups, dilation
        As in :func:`tconv.conv_transpose` (``(lo, hi)`` padding pairs included).
    bias : bool
        Whether to return the bias gradient (``None`` otherwise).

    Returns
    -------
    grad_input : ndarray, shape of ``x``
    grad_weight : ndarray, shape of ``weight``
    grad_bias : ndarray of shape ``(C_out,)``, or None

    Notes
    -----
    With ``gy_full`` the upstream gradient written back at offset ``lo`` into a
    zero array of the full scatter length ``(n-1)*s + d*(k-1) + 1``::

        grad_input[b, c, i]  = sum_{o, j} w[c, o, j] * gy_full[b, o, i*s + j*d]   (= conv(gy; w))
        grad_weight[c, o, j] = sum_{b, i} x[b, c, i] * gy_full[b, o, i*s + j*d]
        grad_bias[o]         = sum_{b, t} gy[b, o, t]

    Examples
    --------
    >>> import numpy as np
    >>> gx, gw, gb = conv_transpose_backward(np.ones((1, 1, 4)), np.ones((1, 1, 2)), np.ones((1, 1, 3)), stride=2, padding=1, output_padding=1)
    >>> gx[0, 0], gw[0, 0], gb
    (array([2., 3.]), array([1., 2., 2.]), array([4.]))
    """
    func = "conv_transpose_backward"
    x, weight, _, geom = transpose_inputs(
        func,
        x,
        weight,
        None,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
    )
    gy = as_array(func, "grad_output", grad_output)
    _check_grad_output(func, gy, (x.shape[0], weight.shape[1] * geom.groups) + geom.out_size)
    return transpose_backward_geometry(gy, x, weight, geom, bias=as_flag(func, "bias", bias))


def conv_backward(
    grad_output: ArrayLike,
    x: ArrayLike,
    weight: ArrayLike,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
    bias: bool = True,
) -> Grads:
    """Gradients of :func:`tconv.conv` with respect to input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape ``(N, C_out, *n)``
    x : array_like, shape ``(N, C_in, *m)``
    weight : array_like, shape ``(C_out, C_in // groups, *k)``
    stride, padding, groups, dilation : as in :func:`tconv.conv`
    bias : bool

    Returns
    -------
    grad_input, grad_weight, grad_bias (None when ``bias`` is False)

    Notes
    -----
    With ``x_pad`` the input padded by ``(lo, hi)``::

        grad_input           = conv_transpose(gy; w) with the same stride, padding, dilation,
                               groups, and the output_padding that restores the length m
        grad_weight[o, c, j] = sum_{b, t} gy[b, o, t] * x_pad[b, c, t*s + j*d]
        grad_bias[o]         = sum_{b, t} gy[b, o, t]

    Examples
    --------
    >>> import numpy as np
    >>> gx, gw, gb = conv_backward(np.ones((1, 1, 2)), np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 3)), stride=2)
    >>> gx[0, 0], gw[0, 0]
    (array([1., 1., 2., 1., 1.]), array([2., 4., 6.]))
    """
    func = "conv_backward"
    x, weight, _, geom = conv_inputs(
        func, x, weight, None, stride=stride, padding=padding, groups=groups, dilation=dilation
    )
    gy = as_array(func, "grad_output", grad_output)
    _check_grad_output(func, gy, (x.shape[0], weight.shape[0]) + geom.in_size)
    return conv_backward_geometry(gy, x, weight, geom, bias=as_flag(func, "bias", bias))
