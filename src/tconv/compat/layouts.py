"""Kernel and data layouts of every framework, and the moves between them.

tconv's own (canonical) transposed-conv kernel is PyTorch's: ``(C_in, C_out/groups, *k)``,
applied by scattering (``y_full[i*s + j*d] += x[i] * w[j]``, no flip). The others:

==================  ==================================================  =========================
framework           transposed-conv kernel                              data
==================  ==================================================  =========================
PyTorch             ``(C_in, C_out/groups, *k)``                        ``(N, C, *n)``
ONNX                ``(C_in, C_out/group, *k)`` (same as PyTorch)        ``(N, C, *n)``
TensorFlow          ``(*k, C_out, C_in)``, no groups                    ``NHWC`` (or ``NCHW``)
Keras 3             ``(*k, C_out, C_in)``, no groups                    ``channels_last`` (or first)
JAX                 any order named by ``dimension_numbers``; the       any order named by
                    spatial taps are flipped unless                     ``dimension_numbers``
                    ``transpose_kernel=True`` (then ``O`` is C_in)
==================  ==================================================  =========================

Grouped weights go to a framework without groups through :func:`ungroup`
(a block-diagonal kernel: the same numbers, with zeros between the groups).
All functions return new arrays or views and never modify their input. Every
array needs its two channel (or batch and channel) axes and at least one
spatial axis; a bad rank or axis is refused with the shape received.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import memory
from ..errors import fail
from ..normalise import as_int

__all__ = [
    "to_channels_first",
    "to_channels_last",
    "is_channels_last",
    "from_tf",
    "to_tf",
    "from_keras",
    "to_keras",
    "from_onnx",
    "to_onnx",
    "from_jax",
    "to_jax",
    "from_ohwi",
    "to_ohwi",
    "ungroup",
]

_CHANNELS_LAST = {"NWC", "NHWC", "NDHWC", "channels_last"}
_CHANNELS_FIRST = {"NCW", "NCHW", "NCDHW", "channels_first"}


def is_channels_last(data_format: str, func: str = "compat.layouts.is_channels_last") -> bool:
    """Whether a TF (``NHWC``, ``NCHW``, ...) or Keras (``channels_last``, ...) data format puts channels last.

    >>> is_channels_last("NHWC"), is_channels_last("channels_first")
    (True, False)
    """
    if not isinstance(data_format, str):
        raise fail(func, f"data_format must be a string; got {data_format!r}", TypeError)
    if data_format in _CHANNELS_LAST:
        return True
    if data_format in _CHANNELS_FIRST:
        return False
    allowed = ", ".join(repr(f) for f in sorted(_CHANNELS_LAST | _CHANNELS_FIRST))
    raise fail(func, f"data_format must be one of {allowed}; got {data_format!r}")


def _array(func: str, name: str, value: ArrayLike, layout: str) -> np.ndarray:
    """``value`` as a real array (its dtype kept) with two non-spatial axes and at least one spatial axis."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise fail(f"compat.layouts.{func}", f"{name} must be a rectangular array; {exc}", TypeError) from None
    if arr.dtype.kind not in "biuf":
        raise fail(f"compat.layouts.{func}", f"{name} must hold real numbers (bool, int, float); got dtype {arr.dtype}", TypeError)
    if arr.ndim < 3:
        raise fail(
            f"compat.layouts.{func}",
            f"{name} must have at least 3 dims {layout} (at least one spatial); got shape {arr.shape}",
        )
    return arr


def to_channels_first(x: ArrayLike) -> np.ndarray:
    """``(N, *n, C)`` -> ``(N, C, *n)`` (a view).

    >>> to_channels_first(np.zeros((2, 5, 7, 3))).shape
    (2, 3, 5, 7)
    """
    return np.moveaxis(_array("to_channels_first", "x", x, "(N, *spatial, C)"), -1, 1)


def to_channels_last(x: ArrayLike) -> np.ndarray:
    """``(N, C, *n)`` -> ``(N, *n, C)`` (a view).

    >>> to_channels_last(np.zeros((2, 3, 5, 7))).shape
    (2, 5, 7, 3)
    """
    return np.moveaxis(_array("to_channels_last", "x", x, "(N, C, *spatial)"), 1, -1)


def from_tf(filters: ArrayLike) -> np.ndarray:
    """TensorFlow ``(*k, C_out, C_in)`` -> tconv/PyTorch ``(C_in, C_out, *k)`` (a view).

    >>> from_tf(np.zeros((3, 5, 4, 8))).shape
    (8, 4, 3, 5)
    """
    f = _array("from_tf", "filters", filters, "(*k, C_out, C_in)")
    nd = f.ndim - 2
    return f.transpose((nd + 1, nd) + tuple(range(nd)))


def to_tf(weight: ArrayLike) -> np.ndarray:
    """tconv/PyTorch ``(C_in, C_out, *k)`` (groups 1) -> TensorFlow ``(*k, C_out, C_in)`` (a view).

    >>> to_tf(np.zeros((8, 4, 3, 5))).shape
    (3, 5, 4, 8)
    """
    w = _array("to_tf", "weight", weight, "(C_in, C_out, *k)")
    nd = w.ndim - 2
    return w.transpose(tuple(range(2, nd + 2)) + (1, 0))


#: Keras 3 stores ``Conv*Transpose`` kernels as TensorFlow does: ``(*k, C_out, C_in)``.
from_keras = from_tf
to_keras = to_tf


def from_onnx(weight: ArrayLike) -> np.ndarray:
    """ONNX ``ConvTranspose`` ``W`` is already ``(C_in, C_out/group, *k)``: returned as an array."""
    return _array("from_onnx", "weight", weight, "(C_in, C_out/group, *k)")


to_onnx = from_onnx


def from_ohwi(filters: ArrayLike) -> np.ndarray:
    """``(C_out/groups, *k, C_in)`` ("ohwi": WebNN's, MLX's, LiteRT's) -> tconv/PyTorch ``(C_in, C_out/groups, *k)`` (a view).

    >>> from_ohwi(np.zeros((4, 3, 5, 8))).shape
    (8, 4, 3, 5)
    """
    f = _array("from_ohwi", "filters", filters, "(C_out/groups, *k, C_in)")
    nd = f.ndim - 2
    return f.transpose((nd + 1, 0) + tuple(range(1, nd + 1)))


def to_ohwi(weight: ArrayLike) -> np.ndarray:
    """tconv/PyTorch ``(C_in, C_out/groups, *k)`` -> ``(C_out/groups, *k, C_in)`` ("ohwi"; a view).

    >>> to_ohwi(np.zeros((8, 4, 3, 5))).shape
    (4, 3, 5, 8)
    """
    w = _array("to_ohwi", "weight", weight, "(C_in, C_out/groups, *k)")
    nd = w.ndim - 2
    return w.transpose((1,) + tuple(range(2, nd + 2)) + (0,))


def _jax_order(func: str, rhs_spec: str, lhs_spec: str | None, nd: int) -> tuple[int, ...]:
    """Where each canonical axis ``(I, O, *spatial)`` sits in ``rhs_spec``."""
    for name, spec in (("rhs_spec", rhs_spec), ("lhs_spec", lhs_spec)):
        if spec is not None and not isinstance(spec, str):
            raise fail(func, f"{name} must be a string such as 'HWIO'; got {spec!r}", TypeError)
    if len(rhs_spec) != nd + 2:
        raise fail(func, f"rhs_spec {rhs_spec!r} names {len(rhs_spec)} dims; the kernel has {nd + 2}")
    spatial = [c for c in rhs_spec if c not in "IO"]
    if sorted(rhs_spec) != sorted(set(rhs_spec)) or "I" not in rhs_spec or "O" not in rhs_spec or len(spatial) != nd:
        raise fail(
            func,
            f"rhs_spec must name I, O and {nd} distinct spatial dims (e.g. 'HWIO' or 'OIHW'); "
            f"got {rhs_spec!r}",
        )
    if lhs_spec is not None:
        # JAX matches the kernel's spatial dims to the input's by letter
        if sorted(c for c in lhs_spec if c not in "NC") != sorted(spatial):
            raise fail(func, f"lhs_spec {lhs_spec!r} and rhs_spec {rhs_spec!r} name different spatial dims")
        spatial = [c for c in lhs_spec if c not in "NC"]
    return (rhs_spec.index("I"), rhs_spec.index("O")) + tuple(rhs_spec.index(c) for c in spatial)


def to_jax(
    weight: ArrayLike, rhs_spec: str = "HWIO", *, transpose_kernel: bool = False, lhs_spec: str | None = None
) -> np.ndarray:
    """tconv/PyTorch ``(C_in, C_out, *k)`` (groups 1) -> the ``rhs`` of ``jax.lax.conv_transpose``.

    ``jax.lax.conv_transpose`` correlates the zero-inserted input with ``rhs``
    as given, so without ``transpose_kernel`` the taps are flipped and ``I`` is
    ``C_in``; with ``transpose_kernel=True`` JAX flips them itself and swaps the
    roles: ``O`` is ``C_in`` (a forward conv's kernel, e.g. TensorFlow's filters
    under ``'HWIO'``). Spatial letters follow ``lhs_spec`` when given.

    >>> to_jax(np.zeros((8, 4, 3, 5))).shape
    (3, 5, 8, 4)
    >>> to_jax(np.zeros((8, 4, 3, 5)), "OIHW", transpose_kernel=True).shape
    (8, 4, 3, 5)
    """
    w = _array("to_jax", "weight", weight, "(C_in, C_out, *k)")
    nd = w.ndim - 2
    if transpose_kernel:
        w = w.swapaxes(0, 1)  # canonical (I, O) now reads as JAX's (O, I) of the forward kernel
    else:
        w = np.flip(w, axis=tuple(range(2, nd + 2)))
    order = _jax_order("compat.layouts.to_jax", rhs_spec, lhs_spec, nd)
    return np.moveaxis(w, tuple(range(nd + 2)), order)


def from_jax(
    rhs: ArrayLike, rhs_spec: str = "HWIO", *, transpose_kernel: bool = False, lhs_spec: str | None = None
) -> np.ndarray:
    """The ``rhs`` of ``jax.lax.conv_transpose`` -> tconv/PyTorch ``(C_in, C_out, *k)``; inverse of :func:`to_jax`.

    >>> w = np.arange(24.0).reshape(2, 3, 4)
    >>> bool((from_jax(to_jax(w, "OIW"), "OIW") == w).all())
    True
    """
    r = _array("from_jax", "rhs", rhs, f"(as rhs_spec {rhs_spec!r} names them)")
    nd = r.ndim - 2
    order = _jax_order("compat.layouts.from_jax", rhs_spec, lhs_spec, nd)
    w = np.moveaxis(r, order, tuple(range(nd + 2)))
    if transpose_kernel:
        return w.swapaxes(0, 1)
    return np.flip(w, axis=tuple(range(2, nd + 2)))


def ungroup(weight: ArrayLike, groups: int) -> np.ndarray:
    """``(C_in, C_out/g, *k)`` grouped -> ``(C_in, C_out, *k)`` block-diagonal, for frameworks without groups.

    Input channel ``c`` of group ``c // (C_in/g)`` keeps its taps towards that
    group's outputs and gets zeros towards every other group's.

    >>> ungroup(np.ones((4, 1, 1)), 2)[:, :, 0]
    array([[1., 0.],
           [1., 0.],
           [0., 1.],
           [0., 1.]])
    """
    func = "compat.layouts.ungroup"
    w = _array("ungroup", "weight", weight, "(C_in, C_out/g, *k)")
    c_in, c_out_g = w.shape[:2]
    groups = as_int(func, "groups", groups, 1)
    if c_in % groups:
        raise fail(func, f"groups must divide C_in = {c_in}; got {groups}")
    memory.check(func, w.nbytes * groups, f"the block-diagonal kernel of {groups} groups")
    c_in_g = c_in // groups
    out = np.zeros((c_in, c_out_g * groups) + w.shape[2:], dtype=w.dtype)
    for g in range(groups):
        out[g * c_in_g : (g + 1) * c_in_g, g * c_out_g : (g + 1) * c_out_g] = w[g * c_in_g : (g + 1) * c_in_g]
    return out

