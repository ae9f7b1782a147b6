"""``jax.lax.conv_transpose`` on NumPy arrays, with JAX's argument order, defaults and layouts.

JAX computes a transposed convolution as a forward convolution of the
zero-inserted input (``lhs_dilation = strides``) with ``rhs`` as given,
after padding the dilated input by ``(pad_a, pad_b)``. In the zero-insertion
view the padding before is ``k_eff - 1 - lo``, so per axis::

    lo = k_eff - 1 - pad_a
    L  = (n-1)*s + 1 + pad_a + pad_b - k_eff + 1

and the strings choose ``(pad_a, pad_b)`` as the forward conv's padding would:

- ``'SAME'``: ``L = n*s`` and ``lo = max(0, floor((k_eff - s) / 2))``, TensorFlow's crop;
- ``'VALID'``: ``lo = 0``, ``L = (n-1)*s + max(k_eff, s)`` (zeros after the full
  result when the kernel is shorter than the stride);
- ``(lo, hi)`` pairs: the padding of the dilated input itself (``pad_a = lo``),
  unless ``use_consistent_padding=True``, where they are the forward conv's
  padding as in PyTorch (``lo = pair[0]``, ``L = full - lo - hi``).

The kernel is correlated unflipped, so tconv's scatter kernel is ``rhs``
flipped; ``transpose_kernel=True`` flips it back and swaps its ``I``/``O``
roles (``O`` is then the input channel count, TensorFlow's filters in ``HWIO``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ...errors import fail
from ...geometry import Axis, Geometry, full_length, string_axis, zero_insertion_axis
from ...normalise import as_flag, is_seq, padding_pairs, per_axis, spatial_dims
from ...ops import run_geometry

__all__ = ["conv_transpose", "geometry"]

_DEFAULT_SPECS = {3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}
_PRECISION_NAMES = {"default", "high", "highest", "fastest", "float32", "bfloat16", "bfloat16_3x", "tensorfloat32"}
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _pairs(func: str, padding: object, nd: int) -> tuple[tuple[int, int], ...]:
    """JAX's explicit padding: one ``(low, high)`` pair per spatial dim, never an int; negative entries crop."""
    if not is_seq(padding) or not all(is_seq(pair) and len(pair) == 2 for pair in padding):
        raise fail(
            func,
            f"padding must be 'SAME', 'VALID' or a sequence of {nd} (low, high) pairs; got {padding!r}",
            TypeError,
        )
    return padding_pairs(func, padding, nd, minimum=None)


def geometry(
    in_size: Sequence[int],
    kernel_size: Sequence[int],
    strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    rhs_dilation: Sequence[int] | None = None,
    use_consistent_padding: bool = False,
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of ``jax.lax.conv_transpose`` for these arguments.

    Parameters
    ----------
    in_size, kernel_size : sequence of ints
        Spatial sizes of the input and of the kernel, in ``rhs``'s spatial order.
    strides, padding, rhs_dilation, use_consistent_padding :
        As ``jax.lax.conv_transpose``.

    Notes
    -----
    With ``(pad_a, pad_b)`` the padding of the zero-inserted input,
    ``lo = k_eff - 1 - pad_a`` and ``L = (n-1)*s + pad_a + pad_b - k_eff + 2``.
    ``'SAME'``: ``pad_a = k_eff - 1`` if ``s > k_eff - 1`` else ``ceil((k_eff + s - 2) / 2)``,
    total ``k_eff + s - 2``; ``'VALID'``: ``pad_a = k_eff - 1``, total
    ``k_eff + s - 2 + max(k_eff - s, 0)``; consistent pairs ``(p_lo, p_hi)``:
    ``pad = k_eff - 1 - p``.

    A padded input shorter than the dilated kernel gives an axis of length 0,
    as in JAX (an empty result); only a crop longer than the input is refused.

    Examples
    --------
    >>> geometry((4,), (3,), (2,), "SAME").axes[0]
    Axis(size=4, kernel=3, stride=2, dilation=1, start=0, length=8)
    >>> geometry((4,), (3,), (2,), [(0, 0)]).axes[0]  # pads the dilated input: crops 2 each side
    Axis(size=4, kernel=3, stride=2, dilation=1, start=2, length=5)
    >>> geometry((4,), (3,), (2,), [(0, 0)], use_consistent_padding=True).out_size
    (9,)
    """
    func = "compat.jax.geometry"
    nd = spatial_dims(
        func,
        in_size=in_size,
        kernel_size=kernel_size,
        strides=strides,
        rhs_dilation=rhs_dilation,
        padding=None if isinstance(padding, str) else padding,
    )
    # JAX's reading: one int >= 1 per spatial dim, always a sequence
    n = per_axis(func, "in_size", in_size, nd, 1, sequence_only=True)
    k = per_axis(func, "kernel_size", kernel_size, nd, 1, sequence_only=True)
    s = per_axis(func, "strides", strides, nd, 1, sequence_only=True)
    d = per_axis(func, "rhs_dilation", (1,) * nd if rhs_dilation is None else rhs_dilation, nd, 1, sequence_only=True)
    as_flag(func, "use_consistent_padding", use_consistent_padding)
    if isinstance(padding, str):
        if padding not in ("SAME", "VALID"):
            raise fail(func, f"padding must be 'SAME', 'VALID' (upper case, as JAX) or (low, high) pairs; got {padding!r}")
        return Geometry(tuple(string_axis(padding, *a) for a in zip(n, k, s, d)), 1)
    axes = []
    for ax, (pair, *sizes) in enumerate(zip(_pairs(func, padding, nd), n, k, s, d)):
        if use_consistent_padding:  # the forward conv's padding: the window PyTorch's padding gives
            lo, hi = pair
            a = Axis(*sizes, lo, full_length(*sizes) - lo - hi)
            pair = a.pad_before, a.pad_after
        else:
            a = zero_insertion_axis(*sizes, *pair)
        if a.dilated_size + sum(pair) < 0:
            raise fail(
                func,
                f"padding {padding!r} crops more than the zero-inserted input on axis {ax}: "
                f"(n-1)*s + 1 = {a.dilated_size} padded by {pair} would be {a.dilated_size + sum(pair)} long",
            )
        # as XLA, a padded input shorter than the dilated kernel gives an empty axis, not an error
        axes.append(replace(a, length=max(0, a.length)))
    return Geometry(tuple(axes), 1)


def _permutations(func: str, dimension_numbers: Any, ndim: int) -> tuple[tuple[int, ...], ...]:
    """``(lhs, rhs, out)`` permutations to ``(N, C, *spatial)`` / ``(O, I, *spatial)``, spatial in rhs order."""
    if dimension_numbers is None:
        if ndim not in _DEFAULT_SPECS:
            raise fail(func, f"lhs must have 3, 4 or 5 dims (N, 1-3 spatial, C) by default; got {ndim}")
        dimension_numbers = _DEFAULT_SPECS[ndim]
    specs = tuple(getattr(dimension_numbers, name, None) for name in ("lhs_spec", "rhs_spec", "out_spec"))
    if all(isinstance(p, Sequence) and not isinstance(p, str) for p in specs):  # a ConvDimensionNumbers
        perms = tuple(tuple(int(i) for i in p) for p in specs)
        if any(sorted(p) != list(range(ndim)) for p in perms):
            raise fail(func, f"dimension_numbers must permute {ndim} dims; got {dimension_numbers!r}")
        return perms
    if (
        isinstance(dimension_numbers, str)
        or not isinstance(dimension_numbers, Sequence)
        or len(dimension_numbers) != 3
        or not all(isinstance(e, str) for e in dimension_numbers)
    ):
        raise fail(
            func,
            f"dimension_numbers must be None, a ConvDimensionNumbers or three strings "
            f"such as ('NHWC', 'HWIO', 'NHWC'); got {dimension_numbers!r}",
            TypeError,
        )
    lhs, rhs, out = dimension_numbers
    for spec, pair in ((lhs, "NC"), (rhs, "OI"), (out, "NC")):
        if len(spec) != ndim or len(set(spec)) != ndim or not all(c in spec for c in pair):
            raise fail(
                func,
                f"dimension_numbers {dimension_numbers!r}: each spec must have {ndim} distinct letters "
                f"with {pair[0]} and {pair[1]} (lhs/out: N, C; rhs: O, I)",
            )
    spatial = [c for c in rhs if c not in "OI"]
    if set(c for c in lhs if c not in "NC") != set(spatial) or set(c for c in out if c not in "NC") != set(spatial):
        raise fail(func, f"dimension_numbers {dimension_numbers!r}: the specs name different spatial dims")
    return tuple(
        tuple(spec.index(c) for c in pair) + tuple(spec.index(c) for c in spatial)
        for spec, pair in ((lhs, "NC"), (rhs, "OI"), (out, "NC"))
    )


def _check_precision(func: str, precision: Any) -> None:
    """Accept what JAX accepts; on NumPy every precision computes the same."""
    if isinstance(precision, tuple) and len(precision) == 2:
        for p in precision:
            _check_precision(func, p)
        return
    if precision is None or type(precision).__name__ in ("Precision", "DotAlgorithm", "DotAlgorithmPreset"):
        return
    if isinstance(precision, str) and precision.lower() in _PRECISION_NAMES:
        return
    raise fail(
        func,
        f"precision must be None, one of {sorted(_PRECISION_NAMES)}, a jax.lax.Precision or a pair of them; "
        f"got {precision!r}",
    )


def _output_dtype(func: str, dtype: np.dtype, preferred: DTypeLike | None) -> np.dtype:
    """JAX's rule: integers may widen or become floats, floats may only widen."""
    if preferred is None:
        return dtype
    out = np.dtype(preferred)
    if out.kind not in "biuf" or (dtype.kind == "f" and out.kind != "f"):
        raise fail(
            func,
            f"preferred_element_type must be an integer or float dtype no narrower than "
            f"the inputs' {dtype}, and a float for float inputs; got {out}",
            TypeError,
        )
    if out.kind == dtype.kind and out.itemsize < dtype.itemsize:
        raise fail(
            func,
            f"preferred_element_type must not be narrower than the inputs' {dtype}; got {out}",
            TypeError,
        )
    return out


def _array(func: str, name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise fail(func, f"{name} must hold real numbers; got dtype {arr.dtype}", TypeError)
    return arr


def conv_transpose(
    lhs: ArrayLike,
    rhs: ArrayLike,
    strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    transpose_kernel: bool = False,
    precision: Any = None,
    preferred_element_type: DTypeLike | None = None,
    use_consistent_padding: bool = False,
) -> np.ndarray:
    """``jax.lax.conv_transpose`` on NumPy arrays: same arguments, same numbers.

    Parameters
    ----------
    lhs : array_like
        The input, laid out as ``dimension_numbers[0]`` (default ``NHC``/``NHWC``/``NHWDC``).
    rhs : array_like
        The kernel, laid out as ``dimension_numbers[1]`` (default ``HIO``/``HWIO``/``HWDIO``),
        correlated unflipped with the zero-inserted input.
    strides : sequence of ints
        One per spatial dim: the zeros inserted between inputs are ``s - 1``.
    padding : ``'SAME'``, ``'VALID'`` or a sequence of ``(low, high)`` pairs
        See the module docstring; pairs may be negative (a crop).
    rhs_dilation : sequence of ints, optional
    dimension_numbers : three layout strings or a ``jax.lax.ConvDimensionNumbers``, optional
    transpose_kernel : bool
        Flip the kernel's spatial axes and swap its ``I``/``O`` roles (TensorFlow's filters).
    precision : accepted as JAX accepts it; no effect on NumPy
    preferred_element_type : dtype, optional
        The output dtype (default: the inputs' dtype, which must agree as in JAX).
    use_consistent_padding : bool
        Read pairs as the forward conv's padding (PyTorch's meaning).

    Returns
    -------
    ndarray, laid out as ``dimension_numbers[2]``.
        Float64 stays float64 (JAX would need ``jax_enable_x64``).

    Notes
    -----
    ``geometry`` gives the window: ``lo = k_eff - 1 - pad_a``,
    ``L = (n-1)*s + pad_a + pad_b - k_eff + 2``, with zeros where the window
    passes either end of the full scatter result.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[1.0], [2.0]]])              # NHC: one sample, 2 positions, 1 channel
    >>> k = np.array([[[1.0]], [[10.0]]])           # HIO: 2 taps
    >>> conv_transpose(x, k, (2,), "VALID")[0, :, 0]  # taps applied reversed: no flip
    array([10.,  1., 20.,  2.])
    >>> conv_transpose(x, k, (2,), "VALID", transpose_kernel=True)[0, :, 0]
    array([ 1., 10.,  2., 20.])
    """
    func = "compat.jax.conv_transpose"
    x = _array(func, "lhs", lhs)
    w = _array(func, "rhs", rhs)
    if x.dtype != w.dtype:
        raise fail(
            func,
            f"lhs and rhs must have the same dtype (as jax.lax); got {x.dtype} and {w.dtype}",
            TypeError,
        )
    if x.ndim != w.ndim or x.ndim < 3:
        raise fail(func, f"lhs and rhs must have the same rank, at least 3 (N, C, spatial); got shapes {x.shape} and {w.shape}")
    as_flag(func, "transpose_kernel", transpose_kernel)
    _check_precision(func, precision)
    out_dtype = _output_dtype(func, x.dtype, preferred_element_type)
    lhs_perm, rhs_perm, out_perm = _permutations(func, dimension_numbers, x.ndim)
    x_ncs = x.transpose(lhs_perm)
    w_oi = w.transpose(rhs_perm)
    nd = x.ndim - 2
    if transpose_kernel:
        weight = w_oi  # the flip and the I/O swap cancel against tconv's scatter kernel
    else:
        weight = np.flip(w_oi.swapaxes(0, 1), axis=tuple(range(2, nd + 2)))
    if x_ncs.shape[1] != weight.shape[0]:
        role = "O" if transpose_kernel else "I"
        raise fail(
            func,
            f"lhs has {x_ncs.shape[1]} channels but rhs's {role} dim (the input channels"
            f"{' with transpose_kernel=True' if transpose_kernel else ''}) has {weight.shape[0]}; "
            f"shapes {x.shape} and {w.shape}",
        )
    if min(x_ncs.shape[1:]) < 1 or min(weight.shape) < 1:
        raise fail(func, f"lhs and rhs must have no empty channel, spatial or kernel dims; got {x.shape} and {w.shape}")
    geom = geometry(x_ncs.shape[2:], weight.shape[2:], strides, padding, rhs_dilation, use_consistent_padding)
    compute = out_dtype if out_dtype in _FLOATS else np.dtype(np.float64)
    x_c = x_ncs.astype(compute, copy=False)
    w_c = weight.astype(compute, copy=False)
    if min(geom.out_size) == 0:  # JAX returns an empty array for a window of length 0
        y = np.zeros((x.shape[lhs_perm[0]], weight.shape[1]) + geom.out_size, dtype=compute)
    else:
        y = run_geometry(x_c, w_c, None, geom, func=func)
    if out_dtype.kind in "iub":
        y = np.rint(y)
    return np.ascontiguousarray(y.transpose(np.argsort(out_perm))).astype(out_dtype, copy=False)
