"""PyTorch's ``torch.nn.functional.conv_transpose{1,2,3}d``, exactly, on NumPy arrays.

Same names, positional order, defaults and layouts: ``input`` ``(N, C_in, *n)``
(or unbatched ``(C_in, *n)``), ``weight`` ``(C_in, C_out/groups, *k)``, ``bias``
``(C_out,)``. The same arguments are refused, with a message naming the argument.

Two extensions PyTorch lacks (pytorch#80301, #46027):

- ``padding="same"`` (output ``n*s`` per axis, the TensorFlow/Keras SAME window:
  ``floor(P/2)`` cropped at the start with ``P = max(0, (n-1)*s + d*(k-1) + 1 - n*s)``)
  and ``padding="valid"`` (TensorFlow/Keras VALID: nothing cropped, length
  ``(n-1)*s + max(d*(k-1)+1, s)``, zero-extended when the kernel is shorter
  than the stride). Both refuse a non-zero ``output_padding`` and any
  ``padding_mode`` other than ``"zeros"``.
- ``padding_mode`` in ``zeros``, ``circular``, ``reflect``, ``replicate``: the
  exact adjoint of ``torch.nn.Conv{1,2,3}d`` with that ``padding_mode`` and the
  same weight, stride, padding, dilation and groups (see :func:`conv_transpose2d`).
"""

from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Geometry, string_axis, transpose_geometry
from ...normalise import IntOrSeq, as_array, as_int, check_bias, check_rank, choice, per_axis, spatial_dims
from ...ops import run_geometry
from ...padmodes import PADDING_MODES as _PADDING_MODES
from ...padmodes import check_fold, fold

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "geometry", "PADDING_MODES"]

PADDING_MODES = tuple(_PADDING_MODES)


def _geometry(
    func: str,
    nd: int,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq,
    padding: Union[str, IntOrSeq],
    output_padding: IntOrSeq,
    groups: int,
    dilation: IntOrSeq,
) -> Geometry:
    groups = as_int(func, "groups", groups, 1)
    s = per_axis(func, "stride", stride, nd, 1, one_for_all=True)
    d = per_axis(func, "dilation", dilation, nd, 1, one_for_all=True)
    op = per_axis(func, "output_padding", output_padding, nd, 0, one_for_all=True)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise fail(func, f"padding must be an int, a tuple of ints, 'same' or 'valid'; got {padding!r}")
        if any(op):
            raise fail(
                func,
                f"padding={padding!r} fixes the output length, so output_padding must be 0; "
                f"got output_padding={output_padding!r}",
            )
        n = per_axis(func, "input size", in_size, nd, 1)
        k = per_axis(func, "kernel size", kernel_size, nd, 1)
        return Geometry(tuple(string_axis(padding, *a) for a in zip(n, k, s, d)), groups)
    p = per_axis(func, "padding", padding, nd, 0, one_for_all=True)
    return transpose_geometry(
        func, in_size, kernel_size, stride=s, padding=p, output_padding=op, dilation=d, groups=groups, nd=nd
    )


def geometry(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: Union[str, IntOrSeq] = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of PyTorch's arguments (zeros padding).

    ``start = padding`` and ``length = (n-1)*s - 2*padding + d*(k-1) + 1 + output_padding``
    per axis; ``padding="same"`` / ``"valid"`` as described in the module docstring.

    Examples
    --------
    >>> geometry(7, 5, stride=2, padding=2, output_padding=1).axes[0]
    Axis(size=7, kernel=5, stride=2, dilation=1, start=2, length=14)
    >>> geometry((4, 4), 3, stride=2, padding="same").out_size
    (8, 8)
    """
    func = "compat.torch.geometry"
    nd = spatial_dims(
        func,
        one_for_all=True,
        in_size=in_size,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    return _geometry(func, nd, in_size, kernel_size, stride, padding, output_padding, groups, dilation)


def _conv_transpose(
    nd: int,
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: IntOrSeq,
    padding: Union[str, IntOrSeq],
    output_padding: IntOrSeq,
    groups: int,
    dilation: IntOrSeq,
    padding_mode: str,
) -> np.ndarray:
    func = f"compat.torch.conv_transpose{nd}d"
    x = as_array(func, "input", input)
    w = as_array(func, "weight", weight)
    b = None if bias is None else as_array(func, "bias", bias)
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    check_rank(func, "input", x, nd + 2, f"(N, C_in, *spatial) or unbatched (C_in, *spatial), with {nd} spatial dims")
    check_rank(func, "weight", w, nd + 2, "(C_in, C_out/groups, *kernel)")
    g = as_int(func, "groups", groups, 1)
    c_in = x.shape[1]
    if w.shape[0] != c_in:
        raise fail(func, f"weight.shape[0] must equal C_in = {c_in} (the input's channels); got weight shape {w.shape}")
    if c_in % g:
        raise fail(func, f"groups must divide C_in = {c_in}; got groups={g}")
    check_bias(func, b, w.shape[1] * g)
    choice(func, "padding_mode", padding_mode, PADDING_MODES)
    if padding_mode == "zeros":
        geom = _geometry(func, nd, x.shape[2:], w.shape[2:], stride, padding, output_padding, g, dilation)
        y = run_geometry(x, w, b, geom, func=func)
    else:
        if isinstance(padding, str):
            raise fail(func, f"padding={padding!r} needs padding_mode='zeros'; got padding_mode={padding_mode!r}")
        # Conv_m = Conv_valid ∘ P_m, so ConvT_m = P_m^T ∘ ConvT_valid: fold the margins back
        pairs = [(p, p) for p in per_axis(func, "padding", padding, nd, 0, one_for_all=True)]
        unpadded = _geometry(func, nd, x.shape[2:], w.shape[2:], stride, 0, output_padding, g, dilation)
        check_fold(func, [m - lo - hi for m, (lo, hi) in zip(unpadded.out_size, pairs)], pairs, padding_mode)
        y = fold(run_geometry(x, w, None, unpadded, func=func), pairs, padding_mode)
        if b is not None:
            y = (y + b.reshape((-1,) + (1,) * nd)).astype(np.result_type(x, w, b))
    return y[0] if unbatched else y


_SIGNATURE_DOC = """{nd}-d transposed convolution with PyTorch's semantics (``torch.nn.functional.conv_transpose{nd}d``).

    Parameters
    ----------
    input : array_like, shape ``(N, C_in, *n)`` or unbatched ``(C_in, *n)``, {nd} spatial dims
    weight : array_like, shape ``(C_in, C_out/groups, *k)``
    bias : array_like, shape ``(C_out,)``, optional
    stride, dilation : int or tuple of {nd} ints, >= 1
    padding : int or tuple of {nd} ints (both sides), or ``"same"`` / ``"valid"`` (extensions)
    output_padding : int or tuple of {nd} ints in ``[0, max(stride, dilation) - 1]``
    groups : int dividing ``C_in``
    padding_mode : ``"zeros"`` (PyTorch's only mode), ``"circular"``, ``"reflect"`` or ``"replicate"``

    Returns
    -------
    ndarray, shape ``(N, C_out, *L)``

    Notes
    -----
    Per axis ``y_full[i*s + j*d] += x[i] * w[j]`` (length ``full = (n-1)*s + d*(k-1) + 1``)
    and ``y = y_full[p : p + L]`` with ``L = full - 2p + output_padding``.

    With another ``padding_mode`` ``m``, ``Conv_m = Conv_valid ∘ P_m`` where ``P_m`` pads by
    ``p`` in mode ``m``; the result is its adjoint ``P_m^T ∘ ConvT(padding=0)``: the
    unpadded transposed conv (length ``full + output_padding``) with each ``p``-wide
    margin folded back onto the elements ``P_m`` copied it from (circular: wrapped
    around; reflect: onto the mirrored element; replicate: onto the edge element).

    Examples
    --------
    {example}
    """


def _entry_point(nd: int, example: str):
    """The public ``conv_transpose{nd}d``: one signature for the three ranks."""

    def conv_transpose(
        input: ArrayLike,
        weight: ArrayLike,
        bias: ArrayLike | None = None,
        stride: IntOrSeq = 1,
        padding: Union[str, IntOrSeq] = 0,
        output_padding: IntOrSeq = 0,
        groups: int = 1,
        dilation: IntOrSeq = 1,
        *,
        padding_mode: str = "zeros",
    ) -> np.ndarray:
        return _conv_transpose(nd, input, weight, bias, stride, padding, output_padding, groups, dilation, padding_mode)

    conv_transpose.__name__ = conv_transpose.__qualname__ = f"conv_transpose{nd}d"
    conv_transpose.__doc__ = _SIGNATURE_DOC.format(nd=nd, example=example)
    return conv_transpose


conv_transpose1d = _entry_point(
    1,
    """>>> conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2, padding=1, padding_mode="circular")
    array([[[2., 2., 1., 2., 2.]]])""",
)
conv_transpose2d = _entry_point(
    2,
    """>>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), stride=2, padding="same")[0, 0]
    array([[1., 1., 2., 1.],
           [1., 1., 2., 1.],
           [2., 2., 4., 2.],
           [1., 1., 2., 1.]])""",
)
conv_transpose3d = _entry_point(
    3,
    """>>> conv_transpose3d(np.ones((1, 2, 2, 2, 2)), np.ones((2, 3, 2, 2, 2)), stride=2).shape
    (1, 3, 4, 4, 4)""",
)
