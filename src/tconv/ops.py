"""The public operations: validate once at the boundary, then dispatch to an algorithm.

Two execution doors take an already validated :class:`~tconv.geometry.Geometry`:
:func:`run_geometry` (the transposed conv) and :func:`run_conv_geometry` (the
forward conv). The public functions here, :mod:`tconv.compat`, :mod:`tconv.grad`
and the layers of :mod:`tconv.nn` parse their arguments once and call them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from . import algorithms
from .algorithms import matrix as _matrix
from .algorithms.common import correlate, window
from .errors import TconvError, fail
from .geometry import Geometry, conv_geometry, transpose_geometry
from .normalise import IntOrSeq, Padding, as_array, as_int, check_bias, compute_dtype, per_axis

__all__ = ["conv_transpose", "conv", "conv_matrix", "run_geometry", "run_conv_geometry", "transpose_inputs", "conv_inputs"]


def _check_ranks(func: str, x: np.ndarray, weight: np.ndarray, x_name: str = "x") -> int:
    """``x`` is ``(N, C, *spatial)`` and ``weight`` has as many dims; returns the spatial rank."""
    if x.ndim < 3:
        raise fail(
            func,
            f"{x_name} must have shape (N, C, *spatial) with at least one spatial dim; got shape {x.shape}",
        )
    if weight.ndim != x.ndim:
        raise fail(func, f"weight must have {x.ndim} dims to match {x_name} ({x.ndim - 2} spatial); got shape {weight.shape}")
    if min(weight.shape) < 1:
        raise fail(func, f"weight must have no empty dims; got shape {weight.shape}")
    if min(x.shape[1:]) < 1:
        raise fail(func, f"{x_name} must have no empty channel or spatial dims; got shape {x.shape}")
    return x.ndim - 2


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
    nd = _check_ranks(func, x, weight)
    groups = as_int(func, "groups", groups, 1)
    c_in = x.shape[1]
    if weight.shape[0] != c_in:
        raise fail(
            func,
            f"weight.shape[0] must equal C_in = x.shape[1] = {c_in} "
            f"(weight layout (C_in, C_out/groups, *k)); got weight shape {weight.shape}",
        )
    if c_in % groups:
        raise fail(func, f"groups must divide C_in = {c_in}; got groups={groups}")
    check_bias(func, bias, weight.shape[1] * groups)
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
        output_size=output_size,
    )
    return x, weight, bias, geom


def conv_inputs(
    func: str, x, weight, bias, *, stride, padding, groups, dilation
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Geometry]:
    """Validate a forward conv's arrays (``weight`` ``(C_out, C_in/groups, *k)``) into arrays and its :class:`Geometry`."""
    x = as_array(func, "x", x)
    weight = as_array(func, "weight", weight)
    bias = None if bias is None else as_array(func, "bias", bias)
    nd = _check_ranks(func, x, weight)
    groups = as_int(func, "groups", groups, 1)
    c_out, c_in_g = weight.shape[:2]
    if x.shape[1] != c_in_g * groups:
        raise fail(
            func,
            f"x.shape[1] must equal C_in = weight.shape[1] * groups = {c_in_g * groups} "
            f"(weight layout (C_out, C_in/groups, *k)); got x shape {x.shape}",
        )
    if c_out % groups:
        raise fail(func, f"groups must divide C_out = weight.shape[0] = {c_out}; got groups={groups}")
    check_bias(func, bias, c_out)
    geom = conv_geometry(
        func, x.shape[2:], weight.shape[2:], stride=stride, padding=padding, dilation=dilation, groups=groups, nd=nd
    )
    return x, weight, bias, geom


def run_geometry(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    geom: Geometry,
    algorithm: str = "auto",
    *,
    func: str = "conv_transpose",
) -> np.ndarray:
    """Run a validated geometry: ``x`` ``(N, C_in, *n)``, ``weight`` ``(C_in, C_out/g, *k)``.

    The entry point for every convention (``tconv.compat``): they parse their
    framework's arguments into a :class:`~tconv.geometry.Geometry` and call this.
    """
    if algorithm not in algorithms.ALGORITHMS:
        raise TconvError(
            f"tconv.{func}: algorithm must be one of {', '.join(repr(a) for a in algorithms.ALGORITHMS)}; "
            f"got {algorithm!r}"
        )
    result_dtype, dtype = compute_dtype(x, weight, bias)
    c_out = weight.shape[1] * geom.groups
    if x.shape[0] == 0:
        return np.zeros((0, c_out) + geom.out_size, dtype=result_dtype)
    name = algorithms.choose(x.shape, weight.shape, geom) if algorithm == "auto" else algorithm
    y = algorithms.IMPLEMENTATIONS[name](x.astype(dtype, copy=False), weight.astype(dtype, copy=False), geom)
    if bias is not None:
        y = y + bias.astype(dtype, copy=False).reshape((c_out,) + (1,) * geom.ndim)
    return np.ascontiguousarray(y, dtype=result_dtype)


def conv_transpose(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
    output_size: Sequence[int] | None = None,
    algorithm: str = "auto",
) -> np.ndarray:
    """N-d transposed convolution ("deconvolution"), PyTorch's layout and semantics.

    Parameters
    ----------
    x : array_like, shape ``(N, C_in, *n)``
    weight : array_like, shape ``(C_in, C_out // groups, *k)``
    bias : array_like, shape ``(C_out,)``, optional
    stride, dilation : int or one int per spatial dim (>= 1)
    padding : int, or one entry per spatial dim: an int (both sides) or a ``(lo, hi)`` pair
    output_padding : int or one int per spatial dim, in ``[0, max(stride, dilation) - 1]``
    groups : int, dividing ``C_in``
    output_size : sequence of ints, optional
        The wanted spatial size (or full shape); resolves ``output_padding`` as
        PyTorch's ``ConvTranspose*.forward(input, output_size)`` does.
    algorithm : one of :data:`tconv.ALGORITHMS`

    Returns
    -------
    ndarray, shape ``(N, C_out, *L)``, ``L = (n-1)*s - lo - hi + d*(k-1) + output_padding + 1``

    Notes
    -----
    Per axis the full scatter result is ``y_full[i*s + j*d] += x[i] * w[j]``,
    of length ``(n-1)*s + d*(k-1) + 1``; the output is its window starting at
    ``lo`` with length ``L`` (zeros past the end). ``output_padding`` is not
    zero padding: with ``padding > 0`` the extra elements are computed values.

    Examples
    --------
    >>> import numpy as np
    >>> conv_transpose(np.ones((1, 1, 2, 2)), np.ones((1, 1, 4, 4)), stride=2, padding=1)[0, 0]
    array([[1., 2., 2., 1.],
           [2., 4., 4., 2.],
           [2., 4., 4., 2.],
           [1., 2., 2., 1.]])
    """
    x, weight, bias, geom = transpose_inputs(
        "conv_transpose",
        x,
        weight,
        bias,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
        output_size=output_size,
    )
    return run_geometry(x, weight, bias, geom, algorithm, func="conv_transpose")


def conv(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> np.ndarray:
    """N-d forward convolution (cross-correlation), PyTorch's layout.

    ``y[b, o, t] = sum_{c, j} w[o, c, j] * x_pad[b, c, t*s + j*d]`` with ``x_pad``
    padded by ``(lo, hi)`` per axis. With the same weight tensor and arguments,
    ``conv`` is the adjoint of :func:`conv_transpose`.

    Parameters
    ----------
    x : array_like, shape ``(N, C_in, *m)``
    weight : array_like, shape ``(C_out, C_in // groups, *k)``
    bias : array_like, shape ``(C_out,)``, optional
    stride, padding, groups, dilation : as in :func:`conv_transpose`

    Examples
    --------
    >>> import numpy as np
    >>> conv(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 3)), padding=((1, 0),))[0, 0]
    array([1., 3., 6., 9.])
    """
    x, weight, bias, geom = conv_inputs(
        "conv", x, weight, bias, stride=stride, padding=padding, groups=groups, dilation=dilation
    )
    return run_conv_geometry(x, weight, bias, geom)


def run_conv_geometry(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, geom: Geometry) -> np.ndarray:
    """Run a validated forward conv: ``x`` ``(N, C_in, *m)``, ``weight`` ``(C_out, C_in/g, *k)``.

    ``geom`` is the conv's geometry as the transposed conv it is the adjoint of
    (:func:`tconv.geometry.build_conv`); the door matching :func:`run_geometry`.
    """
    result_dtype, dtype = compute_dtype(x, weight, bias)
    # the padded input: the window of x that the adjoint transposed conv's full result covers
    x_pad = window(x.astype(dtype, copy=False), tuple(-a.start for a in geom.axes), geom.full)
    y = correlate(x_pad, weight.astype(dtype, copy=False), geom.stride, geom.dilation, geom.groups)
    if bias is not None:
        y = y + bias.astype(dtype, copy=False).reshape((-1,) + (1,) * geom.ndim)
    return np.ascontiguousarray(y, dtype=result_dtype)


def conv_matrix(
    input_shape: Sequence[int],
    weight: ArrayLike,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> sparse.csr_matrix:
    """The matrix ``C`` of the forward conv for one sample, channels included.

    ``conv(x).ravel() == C @ x.ravel()`` for ``x`` of shape ``input_shape``
    ``(C, *spatial)``, and the transposed conv with the same weight is ``C^T``
    (up to the ``floor(output_padding / stride)`` rows that only conv sees).

    Returns
    -------
    scipy.sparse.csr_matrix, shape ``(prod(conv output shape), prod(input_shape))``

    Examples
    --------
    The articles' example: a 3x3 kernel over a 4x4 input is a 4x16 matrix.

    >>> import numpy as np
    >>> c = conv_matrix((1, 4, 4), np.arange(1, 10).reshape(1, 1, 3, 3))
    >>> c.shape
    (4, 16)
    >>> c.toarray()[0].astype(int).tolist()
    [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    """
    func = "conv_matrix"
    weight = as_array(func, "weight", weight)
    groups = as_int(func, "groups", groups, 1)
    if not isinstance(input_shape, Sequence) or isinstance(input_shape, str):
        raise fail(func, f"input_shape must be a sequence (C, *spatial); got {input_shape!r}", TypeError)
    if len(input_shape) != weight.ndim - 1 or len(input_shape) < 2:
        raise TconvError(
            f"tconv.{func}: input_shape must be (C, *spatial) with {weight.ndim - 2} spatial dims to match "
            f"weight shape {weight.shape}; got {tuple(input_shape)!r}"
        )
    channels = per_axis(func, "input_shape", input_shape[0], 1, 1)[0]
    c_out, c_in_g = weight.shape[:2]
    if channels != c_in_g * groups:
        raise TconvError(
            f"tconv.{func}: input_shape[0] must equal weight.shape[1] * groups = {c_in_g * groups}; "
            f"got {channels}"
        )
    if c_out % groups:
        raise TconvError(f"tconv.{func}: groups must divide C_out = weight.shape[0] = {c_out}; got groups={groups}")
    geom = conv_geometry(
        func,
        tuple(input_shape[1:]),
        weight.shape[2:],
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        nd=weight.ndim - 2,
    )
    return _matrix.build(weight, geom, func=func)
