"""The one normaliser: every loose public argument is parsed here, once, for every entry point.

Per-axis arguments come as an int, one int per spatial dim, or (for padding)
``(lo, hi)`` pairs; the core, :mod:`tconv.compat`, :mod:`tconv.nn`,
:mod:`tconv.init`, :func:`tconv.upsample`, :mod:`tconv.checkerboard`,
:mod:`tconv.viz` and the command line all turn them into canonical tuples with
the functions below, and decide the number of spatial dims with
:func:`spatial_dims`. Arrays are checked here too (:func:`as_array`,
:func:`check_rank`, :func:`check_bias`). Inside the library only the canonical
forms travel.

Every function takes ``func``, the public name below ``tconv`` that the error
message starts with (see :func:`tconv.errors.fail`).
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from .errors import TconvError, fail

__all__ = [
    "IntOrSeq",
    "Padding",
    "as_array",
    "as_flag",
    "as_float",
    "as_int",
    "as_rng",
    "choice",
    "check_bias",
    "check_rank",
    "compute_dtype",
    "float_dtype",
    "is_seq",
    "padding_pairs",
    "per_axis",
    "per_axis_floats",
    "spatial_dims",
]

IntOrSeq = Union[int, Sequence[int]]
Padding = Union[int, Sequence[Union[int, Sequence[int]]]]

_PER_AXIS = "an int or a sequence of ints"
#: The largest magnitude an int argument may have: sizes, strides and counts all meet in 64-bit index arithmetic.
INT_LIMIT = 2**62
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------
# scalars and sequences
# --------------------------------------------------------------------------


def as_int(func: str, name: str, value: object, minimum: int | None = None, *, what: str = "an int") -> int:
    """One int (``TypeError`` for bools and non-integers), ``>= minimum`` when given."""
    if type(value) is int and (minimum is None or value >= minimum) and -INT_LIMIT <= value <= INT_LIMIT:
        return value  # the common case, without ABC checks
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise fail(func, f"{name} must be {what}; got {value!r} of type {type(value).__name__}", TypeError)
    if minimum is not None and value < minimum:
        raise fail(func, f"{name} must be >= {minimum}; got {value}")
    if abs(value) > INT_LIMIT:
        raise fail(func, f"{name} must be at most 2**62 in magnitude (sizes meet in 64-bit index arithmetic); got {value}")
    return int(value)


def as_flag(func: str, name: str, value: object) -> bool:
    """A bool (NumPy's included); anything else, even a truthy array, is a ``TypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise fail(func, f"{name} must be a bool (True or False); got {value!r}", TypeError)
    return bool(value)


def as_float(func: str, name: str, value: object, *, minimum: float | None = None, positive: bool = False) -> float:
    """One finite real number (``TypeError`` for bools, strings and the like), ``> 0`` or ``>= minimum`` when asked."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise fail(func, f"{name} must be a number; got {value!r} of type {type(value).__name__}", TypeError)
    out = float(value)
    if not math.isfinite(out):
        raise fail(func, f"{name} must be finite; got {value!r}")
    if positive and not out > 0:
        raise fail(func, f"{name} must be > 0; got {value!r}")
    if minimum is not None and out < minimum:
        raise fail(func, f"{name} must be >= {minimum}; got {value!r}")
    return out


def choice(func: str, name: str, value: object, allowed: Iterable[str]) -> str:
    """One of the ``allowed`` strings (``TypeError`` for a non-string, before any lookup)."""
    allowed = tuple(allowed)
    if not isinstance(value, str):
        raise fail(func, f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r} of type "
                   f"{type(value).__name__}", TypeError)
    if value not in allowed:
        raise fail(func, f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def as_rng(func: str, rng: object) -> np.random.Generator:
    """A NumPy ``Generator`` from a seed (an int >= 0), a ``Generator``, or ``None`` (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, numbers.Integral)):
        raise fail(func, f"rng must be None, an int seed or a numpy.random.Generator; got {rng!r}", TypeError)
    if rng is not None and rng < 0:
        raise fail(func, f"rng must be a seed >= 0; got {rng}")
    return np.random.default_rng(rng)


def float_dtype(func: str, dtype: object) -> np.dtype:
    """A floating dtype (float16, float32 or float64) for parameters; integer dtypes are refused."""
    try:
        out = np.dtype(dtype)
    except TypeError:
        raise fail(func, f"dtype must be a NumPy float dtype (float16, float32, float64); got {dtype!r}", TypeError) from None
    if out not in _FLOAT_DTYPES:
        raise fail(func, f"dtype must be float16, float32 or float64 (parameters are trained); got {out}")
    return out


def is_seq(value: object) -> bool:
    """A per-axis sequence: a list, tuple or 1-D array (not a string)."""
    kind = type(value)  # tuples, lists and ints answer without ABC checks
    if kind is tuple or kind is list:
        return True
    if kind is int:
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 1
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def spatial_dims(func: str, *, default: int = 1, one_for_all: bool = False, **values: object) -> int:
    """The number of spatial dims the per-axis sequences among ``values`` imply (``default`` if none).

    Every sequence must have the same length; a padding sequence counts its
    entries, so ``padding=((1, 2),)`` is one axis and ``padding=(1, 2)`` two.
    ``None`` values are passed over. ``one_for_all``: a sequence of one entry
    applies to every axis and decides nothing (PyTorch's reading, see :func:`per_axis`).

    >>> spatial_dims("f", kernel_size=3, stride=(2, 2), padding=((1, 0), 1))
    2
    """
    lengths = {
        name: len(v) for name, v in values.items() if v is not None and is_seq(v) and not (one_for_all and len(v) == 1)
    }
    if not lengths:
        return default
    distinct = set(lengths.values())
    if len(distinct) > 1:
        listing = ", ".join(f"{n} has {k}" for n, k in lengths.items())
        raise fail(func, f"per-axis arguments disagree on the number of spatial dims ({listing})")
    nd = distinct.pop()
    if nd < 1:
        raise fail(func, f"at least one spatial dim is needed; got {values!r}")
    return nd


def per_axis(
    func: str,
    name: str,
    value: IntOrSeq,
    nd: int,
    minimum: int,
    maximum: int | None = None,
    *,
    one_for_all: bool = False,
    sequence_only: bool = False,
) -> tuple[int, ...]:
    """Normalise an int or per-axis sequence to ``nd`` ints within ``[minimum, maximum]``.

    ``one_for_all``: a sequence of one int applies to every axis (PyTorch's
    reading). ``sequence_only``: a bare int is refused (JAX's reading).

    >>> per_axis("f", "stride", 2, 3, 1)
    (2, 2, 2)
    >>> per_axis("f", "stride", (2,), 2, 1, one_for_all=True)
    (2, 2)
    """
    if is_seq(value):
        if one_for_all and len(value) == 1 and nd != 1:
            value = value[0]
        elif len(value) != nd:
            what = f"a sequence of {nd} ints" if sequence_only else f"one int or a sequence of {nd} ints"
            raise fail(func, f"{name} must be {what} (one per spatial dim); got {len(value)} values {tuple(value)!r}")
    elif sequence_only:
        raise fail(func, f"{name} must be a sequence of {nd} ints; got {value!r}", TypeError)
    if is_seq(value):
        out = tuple(as_int(func, name, v, what=_PER_AXIS) for v in value)
    else:
        out = (as_int(func, name, value, what=_PER_AXIS),) * nd
    for v in out:
        if v < minimum or (maximum is not None and v > maximum):
            allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise fail(func, f"{name} must be {allowed} for every axis; got {value!r}")
    return out


def per_axis_floats(func: str, name: str, value: object, nd: int) -> tuple[float, ...]:
    """A positive finite number, or one per spatial dim, as ``nd`` floats.

    >>> per_axis_floats("upsample", "scale_factor", 2, 2)
    (2, 2)
    """
    values = tuple(value) if is_seq(value) else (value,) * nd
    if len(values) != nd:
        raise fail(func, f"{name} must be one number or {nd} (one per spatial dim); got {value!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise fail(func, f"{name} must hold numbers; got {value!r}", TypeError)
        if not (v > 0 and math.isfinite(v)):
            raise fail(func, f"{name} must be finite and > 0 on every axis; got {value!r}")
    return values


def padding_pairs(func: str, padding: Padding, nd: int, *, minimum: int | None = 0) -> tuple[tuple[int, int], ...]:
    """Normalise ``padding`` (int, one int per axis, or one ``(lo, hi)`` pair per axis).

    ``minimum=None`` admits negative entries (crops), as some conventions do.

    >>> padding_pairs("f", ((1, 2), 0), 2)
    ((1, 2), (0, 0))
    """
    if not is_seq(padding):
        p = as_int(func, "padding", padding)
        pairs = ((p, p),) * nd
    else:
        if len(padding) != nd:
            hint = ""
            if nd == 1 and len(padding) == 2 and not any(is_seq(e) for e in padding):
                lo, hi = padding
                hint = f"; for asymmetric padding of the one spatial dim write padding=(({lo}, {hi}),)"
            raise fail(
                func,
                f"padding must be one int, or a sequence with one entry per spatial dim ({nd}), "
                f"each an int or a (lo, hi) pair; got {len(padding)} entries {tuple(padding)!r}{hint}",
            )
        pairs_list = []
        for entry in padding:
            if is_seq(entry):
                if len(entry) != 2:
                    raise fail(func, f"each padding pair must be (lo, hi); got {tuple(entry)!r}")
                pairs_list.append((as_int(func, "padding", entry[0]), as_int(func, "padding", entry[1])))
            else:
                p = as_int(func, "padding", entry)
                pairs_list.append((p, p))
        pairs = tuple(pairs_list)
    if minimum is not None:
        for lo, hi in pairs:
            if lo < minimum or hi < minimum:
                raise fail(func, f"padding must be >= {minimum} on both sides of every axis; got {padding!r}")
    return pairs


# --------------------------------------------------------------------------
# arrays
# --------------------------------------------------------------------------


def stand_in(shape: Sequence[int], dtype: object) -> np.ndarray:
    """A read-only array of ``shape`` and ``dtype`` holding one value (zero strides): the checks of
    an operation run on it before anything of that shape is allocated."""
    return np.broadcast_to(np.zeros((), dtype), tuple(shape))


def as_array(func: str, name: str, value: ArrayLike) -> np.ndarray:
    """A read-only real float array view of ``value`` (ints and bools promoted to float64)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise fail(func, f"{name} must be a rectangular array of real numbers; {exc}", TypeError) from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind == "f" and not arr.dtype.isnative:  # big-endian data (">f8"): the same numbers, native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype not in _FLOAT_DTYPES:
        raise fail(func, f"{name} must hold real numbers (bool, int, float16/32/64); got dtype {arr.dtype}", TypeError)
    view = arr.view()
    view.flags.writeable = False  # the algorithms only read their inputs: make sure of it
    return view


def check_rank(func: str, name: str, arr: np.ndarray, rank: int, layout: str) -> None:
    """``arr`` has ``rank`` dims (``layout`` names them) and no empty dim but the batch."""
    if arr.ndim != rank:
        raise TconvError(f"tconv.{func}: {name} must have {rank} dims {layout}; got shape {arr.shape}")
    if 0 in arr.shape[1:] or (name != "input" and 0 in arr.shape):
        raise TconvError(f"tconv.{func}: {name} must have no empty dims (batch excepted); got shape {arr.shape}")


def check_bias(func: str, bias: np.ndarray | None, c_out: int, name: str = "bias") -> None:
    if bias is not None and bias.shape != (c_out,):
        raise fail(func, f"{name} must have shape ({c_out},) (C_out); got shape {bias.shape}")


def compute_dtype(*arrays: np.ndarray | None) -> tuple[np.dtype, np.dtype]:
    """(result dtype, compute dtype): float16 is accumulated in float32."""
    result = np.result_type(*(a for a in arrays if a is not None))
    return result, (np.dtype(np.float32) if result == np.float16 else result)
