"""MLX's ``mlx.core.conv_transpose{1,2,3}d``, exactly, on NumPy arrays.

Same names, positional order and defaults (``input`` and ``weight``
positional-only, then ``stride, padding, dilation, output_padding, groups``;
``stream`` accepted and ignored) and layouts: ``input`` channels-last
``(N, *n, C_in)``, ``weight`` ``(C_out, *k, C_in/groups)``, no bias (MLX's
functions have none). The 1-D function takes ints only, the 2-D and 3-D ones
an int or one int per spatial dim, as MLX's bindings do.

Per axis the result is PyTorch's window of the full scatter result
``y_full[i*s + j*d] += x[i] * w[j]``: ``start = padding``, ``L = full - 2*padding
+ output_padding``, zeros where the window leaves ``y_full``. MLX checks less
than PyTorch: it accepts a negative ``padding`` (zeros before and after) and
any ``output_padding >= 0`` (zeros at the end), and tconv computes those the
same way. Where MLX's result is *not* that window tconv refuses, naming the
range: ``padding > dilation*(kernel-1)`` (MLX turns it into a negative padding
of its internal forward conv, which crops whole input elements, not output
positions) and a negative ``output_padding``. ``groups > 1`` works in 1-D and
2-D only, as in MLX (``[conv] Can only handle groups != 1 in 1D or 2D
convolutions``).

:func:`to_mlx` and :func:`from_mlx` move kernels between MLX's layout and
tconv's ``(C_in, C_out/groups, *k)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Geometry, build_transpose, effective_kernel
from ...normalise import IntOrSeq, as_array, as_int, check_rank, is_seq, per_axis, spatial_dims
from ...ops import run_geometry
from ..layouts import to_channels_first, to_channels_last

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "from_mlx", "geometry", "to_mlx"]


def _per_axis(func: str, name: str, value: object, nd: int, minimum: int | None) -> tuple[int, ...]:
    """MLX's reading: an int, or (2-D and 3-D) exactly one int per spatial dim."""
    if nd == 1 and is_seq(value):
        raise fail(func, f"{name} must be an int for conv_transpose1d (as MLX); got {value!r}", TypeError)
    return per_axis(func, name, value, nd, -(2**62) if minimum is None else minimum)


def _geometry(
    func: str,
    nd: int,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq,
    padding: IntOrSeq,
    dilation: IntOrSeq,
    output_padding: IntOrSeq,
    groups: int,
) -> Geometry:
    n = per_axis(func, "input size", in_size, nd, 1)
    k = per_axis(func, "kernel size", kernel_size, nd, 1)
    s = _per_axis(func, "stride", stride, nd, 1)
    p = _per_axis(func, "padding", padding, nd, None)
    d = _per_axis(func, "dilation", dilation, nd, 1)
    op = _per_axis(func, "output_padding", output_padding, nd, None)
    g = as_int(func, "groups", groups, 1)
    if g > 1 and nd == 3:
        raise fail(func, f"groups must be 1 in 3-D (MLX handles groups != 1 in 1-D and 2-D only); got groups={g}")
    for ax, (pi, oi, ki, di) in enumerate(zip(p, op, k, d)):
        if pi > effective_kernel(ki, di) - 1:
            raise fail(
                func,
                f"padding must be <= dilation*(kernel-1) = {effective_kernel(ki, di) - 1} on axis {ax}: beyond it "
                f"MLX computes no window of the full result (its internal conv crops whole inputs); got {pi}",
            )
        if oi < 0:
            raise fail(func, f"output_padding must be >= 0 on axis {ax} (MLX gives no window of the full result below); got {oi}")
    # MLX has no output_padding < max(stride, dilation) rule: the surplus is zeros, so it is folded into padding
    pads = tuple((pi, pi - oi) for pi, oi in zip(p, op))
    return build_transpose(func, n, k, s, d, pads, (0,) * nd, g)


def geometry(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of MLX's ``conv_transpose*d`` arguments.

    ``start = padding``, ``length = (n-1)*s - 2*padding + d*(k-1) + 1 + output_padding`` per axis.

    Examples
    --------
    >>> geometry(4, 3, stride=2, padding=1, output_padding=1).axes[0]
    Axis(size=4, kernel=3, stride=2, dilation=1, start=1, length=8)
    >>> geometry((2, 2), 1, stride=2, output_padding=3).out_size  # zeros past the full result, as MLX
    (6, 6)
    """
    func = "compat.mlx.geometry"
    nd = spatial_dims(func, in_size=in_size, kernel_size=kernel_size, stride=stride, padding=padding,
                      dilation=dilation, output_padding=output_padding)  # fmt: skip
    values = dict(stride=stride, padding=padding, dilation=dilation, output_padding=output_padding)
    if nd == 1:  # a 1-D geometry may be asked with one-element sequences
        values = {key: v[0] if is_seq(v) and len(v) == 1 else v for key, v in values.items()}
    return _geometry(func, nd, in_size, kernel_size, groups=groups, **values)


def _groups(func: str, groups: int, weight: np.ndarray, c_in: int) -> int:
    g = as_int(func, "groups", groups, 1)
    if c_in % g or weight.shape[0] % g:
        raise fail(func, f"groups must divide C_in = {c_in} and C_out = weight.shape[0] = {weight.shape[0]}; got groups={g}")
    if weight.shape[-1] * g != c_in:
        raise fail(
            func,
            f"weight.shape[-1] * groups must equal C_in = {c_in} (the input's last axis); got weight shape "
            f"{weight.shape} and groups={g}",
        )
    return g


def _kernel(func: str, weight: ArrayLike, groups: int, layout: str, split: str) -> tuple[np.ndarray, int]:
    """``weight`` as an array of ``layout`` with a spatial dim, and ``groups`` dividing its first axis (``split``)."""
    w = as_array(func, "weight", weight)
    if w.ndim < 3:
        raise fail(func, f"weight must be {layout} with at least one spatial dim; got shape {w.shape}")
    g = as_int(func, "groups", groups, 1)
    if w.shape[0] % g:
        raise fail(func, f"groups must divide {split} = weight.shape[0] = {w.shape[0]}; got groups={g}")
    return w, g


def from_mlx(weight: ArrayLike, groups: int = 1) -> np.ndarray:
    """MLX ``(C_out, *k, C_in/groups)`` -> tconv/PyTorch ``(C_in, C_out/groups, *k)`` (a new array).

    >>> from_mlx(np.zeros((6, 3, 5, 2)), groups=2).shape
    (4, 3, 3, 5)
    """
    w, g = _kernel("compat.mlx.from_mlx", weight, groups, "(C_out, *k, C_in/groups)", "C_out")
    c_out, k, c_in_g = w.shape[0], w.shape[1:-1], w.shape[-1]
    blocks = w.reshape((g, c_out // g) + w.shape[1:])  # (G, C_out/g, *k, C_in/g)
    moved = np.moveaxis(blocks, -1, 1)  # (G, C_in/g, C_out/g, *k)
    return np.ascontiguousarray(moved.reshape((g * c_in_g, c_out // g) + k))


def to_mlx(weight: ArrayLike, groups: int = 1) -> np.ndarray:
    """tconv/PyTorch ``(C_in, C_out/groups, *k)`` -> MLX ``(C_out, *k, C_in/groups)`` (a new array).

    >>> w = np.arange(24.0).reshape(4, 1, 3, 2)
    >>> bool((from_mlx(to_mlx(w, 2), 2) == w).all())
    True
    """
    w, g = _kernel("compat.mlx.to_mlx", weight, groups, "(C_in, C_out/groups, *k)", "C_in")
    c_in, c_out_g, k = w.shape[0], w.shape[1], w.shape[2:]
    blocks = w.reshape((g, c_in // g, c_out_g) + k)  # (G, C_in/g, C_out/g, *k)
    moved = np.moveaxis(blocks, 1, -1)  # (G, C_out/g, *k, C_in/g)
    return np.ascontiguousarray(moved.reshape((g * c_out_g,) + k + (c_in // g,)))


def _conv_transpose(
    nd: int,
    input: ArrayLike,
    weight: ArrayLike,
    stride: IntOrSeq,
    padding: IntOrSeq,
    dilation: IntOrSeq,
    output_padding: IntOrSeq,
    groups: int,
) -> np.ndarray:
    func = f"compat.mlx.conv_transpose{nd}d"
    x = as_array(func, "input", input)
    w = as_array(func, "weight", weight)
    check_rank(func, "input", x, nd + 2, "(N, *spatial, C_in)")
    check_rank(func, "weight", w, nd + 2, "(C_out, *kernel, C_in/groups)")
    g = _groups(func, groups, w, x.shape[-1])
    geom = _geometry(func, nd, x.shape[1:-1], w.shape[1:-1], stride, padding, dilation, output_padding, g)
    y = run_geometry(to_channels_first(x), from_mlx(w, g), None, geom, func=func)
    return np.ascontiguousarray(to_channels_last(y))


_DOC = """{nd}-d transposed convolution with MLX's semantics (``mlx.core.conv_transpose{nd}d``).

    Parameters
    ----------
    input : array_like, ``(N, *n, C_in)`` with {nd} spatial dims
    weight : array_like, ``(C_out, *k, C_in/groups)``
    stride, dilation : {ints}, >= 1
    padding : {ints} (both sides; negative: zeros), at most ``dilation*(kernel-1)``
    output_padding : {ints}, >= 0 (past the full result: zeros)
    groups : int dividing ``C_in`` and ``C_out``{groups}
    stream : ignored

    Returns
    -------
    ndarray, ``(N, *L, C_out)``

    Notes
    -----
    Per axis ``y_full[i*s + j*d] += x[i] * w[j]`` and ``y = y_full[p : p + L]`` (zero-extended),
    ``L = (n-1)*s + d*(k-1) + 1 - 2p + output_padding``.

    Examples
    --------
    {example}
    """


def _entry_point(nd: int, example: str):
    """The public ``conv_transpose{nd}d``: one signature for the three ranks."""

    def conv_transpose(
        input: ArrayLike,
        weight: ArrayLike,
        /,
        stride: IntOrSeq = 1,
        padding: IntOrSeq = 0,
        dilation: IntOrSeq = 1,
        output_padding: IntOrSeq = 0,
        groups: int = 1,
        *,
        stream: Any = None,
    ) -> np.ndarray:
        return _conv_transpose(nd, input, weight, stride, padding, dilation, output_padding, groups)

    conv_transpose.__name__ = conv_transpose.__qualname__ = f"conv_transpose{nd}d"
    conv_transpose.__doc__ = _DOC.format(
        nd=nd,
        ints="int" if nd == 1 else f"int or {nd} ints",
        groups="; 1 in 3-D" if nd == 3 else "",
        example=example,
    )
    return conv_transpose


conv_transpose1d = _entry_point(
    1,
    """>>> conv_transpose1d(np.ones((1, 3, 1)), np.ones((1, 3, 1)), stride=2, padding=1)[0, :, 0]
    array([1., 2., 1., 2., 1.])""",
)
conv_transpose2d = _entry_point(
    2,
    """>>> conv_transpose2d(np.ones((1, 2, 2, 4)), np.ones((6, 3, 3, 2)), stride=2, groups=2).shape
    (1, 5, 5, 6)""",
)
conv_transpose3d = _entry_point(
    3,
    """>>> conv_transpose3d(np.ones((1, 2, 2, 2, 1)), np.ones((1, 2, 2, 2, 1)), stride=2, output_padding=1).shape
    (1, 5, 5, 5, 1)""",
)
