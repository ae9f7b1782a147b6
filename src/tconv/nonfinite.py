"""Non-finite values, the definition's answer: NaN and inf land exactly where the definition's terms put them.

The definition sums terms ``x[i] * w[j]`` (explicit zeros in ``x`` or ``w`` are
terms; the padding and the inserted zeros are not). A fast formulation may
multiply by zeros the definition never has (subpixel's padded phase taps, the
zero-inserted input, im2col's padding, an FFT's every frequency), and
``0 * inf`` is NaN, so on non-finite inputs it would put NaN where the
definition has a finite value. The ops here keep every formulation exact:

1. run the formulation on the finite parts (non-finite entries replaced by 0), whose
   terms are exactly the definition's finite terms;
2. add the terms that have a non-finite factor, one entry at a time: an input entry
   with all the taps it meets, a weight entry with all the input elements it meets.

Step 2 costs ``taps * C_out/g`` per non-finite input entry and ``N * prod(n)`` per
non-finite weight entry; when that would pass the direct cost of the op (many
non-finite entries), the caller runs the definition itself instead
(:func:`sparse_is_cheaper`): ``scatter`` for the transposed conv,
:func:`conv_definition` for the conv, :func:`weight_definition` for the weight
gradient. Finite values are never touched: with finite inputs
nothing here runs but one pass over the inputs (:func:`all_finite`).
"""

from __future__ import annotations

import math

import numpy as np

from .geometry import Geometry

__all__ = [
    "all_finite",
    "finite_part",
    "sparse_is_cheaper",
    "add_transpose_terms",
    "add_conv_terms",
    "add_weight_terms",
    "weight_sparse_is_cheaper",
    "conv_definition",
    "weight_definition",
]

#: Above this many non-finite entries the per-entry loop costs more Python time than the definition.
MAX_ENTRIES = 4096


def all_finite(*arrays: np.ndarray | None) -> bool:
    """True when no array holds a NaN or an inf (``None`` entries are skipped).

    A NaN or an inf always makes the sum NaN or inf, so a finite sum proves the array
    finite without the mask ``np.isfinite`` would allocate (a weight's size in bytes);
    only a sum that overflowed is checked entry by entry, one slice at a time.
    """
    for a in arrays:
        if a is None or a.size == 0:
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(a.sum()):
                continue
        if not all(bool(np.isfinite(part).all()) for part in a):
            return False
    return True


def finite_part(a: np.ndarray) -> np.ndarray:
    """``a`` with every NaN and inf replaced by 0 (a new array; ``a`` itself is never written)."""
    return np.where(np.isfinite(a), a, 0).astype(a.dtype, copy=False)


def sparse_is_cheaper(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> bool:
    """Whether adding the non-finite terms entry by entry beats running the definition."""
    bad_x = int(np.count_nonzero(~np.isfinite(x)))
    bad_w = int(np.count_nonzero(~np.isfinite(weight)))
    if bad_x + bad_w > MAX_ENTRIES:
        return False
    taps, positions = math.prod(geom.kernel), math.prod(geom.in_size)
    per_x = taps * weight.shape[1]
    per_w = x.shape[0] * positions
    direct = x.shape[0] * x.shape[1] * weight.shape[1] * positions * taps
    return bad_x * per_x + bad_w * per_w <= direct


def weight_sparse_is_cheaper(small: np.ndarray, big: np.ndarray, geom: Geometry) -> bool:
    """:func:`sparse_is_cheaper` for the weight gradient (:func:`add_weight_terms`): a non-finite
    ``small`` entry meets ``taps * C_b/g`` big entries, a non-finite ``big`` entry at most
    ``taps * C_a/g`` small ones; the definition costs ``N * C_a * C_b/g * prod(size) * taps``."""
    bad_small = int(np.count_nonzero(~np.isfinite(small)))
    bad_big = int(np.count_nonzero(~np.isfinite(big)))
    if bad_small + bad_big > MAX_ENTRIES:
        return False
    g, taps = geom.groups, math.prod(geom.kernel)
    a_g, b_g = small.shape[1] // g, big.shape[1] // g
    direct = small.shape[0] * small.shape[1] * b_g * math.prod(geom.in_size) * taps
    return (bad_small * b_g + bad_big * a_g) * taps <= direct


def _tap_range(start: int, limit: int, origin: int, step: int, count: int) -> range:
    """The ``j`` in ``[0, count)`` with ``0 <= origin + j*step - start < limit`` (a run of consecutive ``j``)."""
    lo = max(0, -((origin - start) // step))  # ceil((start - origin) / step)
    hi = min(count - 1, (start + limit - 1 - origin) // step)
    return range(lo, hi + 1)


def _input_taps(geom: Geometry, i) -> tuple[tuple[slice, ...], tuple[slice, ...]] | None:
    """The taps input position ``i`` meets inside the window (slices of ``j``) and the window
    positions ``i*s + j*d - lo`` they land on, per axis; ``None`` when some axis has none."""
    taps = [_tap_range(a.start, a.length, ii * a.stride, a.dilation, a.kernel) for a, ii in zip(geom.axes, i)]
    if any(len(t) == 0 for t in taps):
        return None
    out = tuple(
        slice(ii * a.stride + t.start * a.dilation - a.start, ii * a.stride + t[-1] * a.dilation - a.start + 1, a.dilation)
        for a, ii, t in zip(geom.axes, i, taps)
    )
    return tuple(slice(t.start, t.stop) for t in taps), out


def _nonfinite_inputs(a: np.ndarray, geom: Geometry):
    """Each NaN or inf entry ``a[b, c, i]`` of an ``(N, C, *size)`` array that meets a tap inside the
    window: ``(b, c, value, tap slices, window slices)`` (:func:`_input_taps`)."""
    for b, c, *i in np.argwhere(~np.isfinite(a)):
        met = _input_taps(geom, i)
        if met is not None:
            yield b, c, a[(b, c) + tuple(i)], met[0], met[1]


def add_transpose_terms(y: np.ndarray, x: np.ndarray, weight: np.ndarray, geom: Geometry) -> None:
    """Add into the transposed conv's output ``y`` ``(N, C_out, *L)`` every term with a non-finite factor.

    ``y`` holds the op on :func:`finite_part` of ``x`` ``(N, C_in, *n)`` and of
    ``weight`` ``(C_in, C_out/g, *k)``; a term ``x[b, c, i] * w[c, o, j]`` lands at
    ``y[b, o, i*s + j*d - lo]`` inside the window.
    """
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf and inf * 0 are the definition's NaNs
        _add_transpose_terms(y, x, weight, geom)


def _add_transpose_terms(y: np.ndarray, x: np.ndarray, weight: np.ndarray, geom: Geometry) -> None:
    c_in, c_out_g = weight.shape[:2]
    c_in_g = c_in // geom.groups
    axes = geom.axes
    # the input entries that are NaN or inf, with every tap they meet (their products include inf * 0)
    for b, c, value, taps, out in _nonfinite_inputs(x, geom):
        group = c // c_in_g
        y[(b, slice(group * c_out_g, (group + 1) * c_out_g)) + out] += value * weight[(c, slice(None)) + taps]
    # the weight entries that are NaN or inf, with every finite input element they meet
    finite_x = np.isfinite(x)
    for c, o, *j in np.argwhere(~np.isfinite(weight)):
        spans = [_tap_range(a.start, a.length, jj * a.dilation, a.stride, a.size) for a, jj in zip(axes, j)]
        if any(len(t) == 0 for t in spans):
            continue
        src = (slice(None), c) + tuple(slice(t.start, t.stop) for t in spans)
        out = tuple(
            slice(t.start * a.stride + jj * a.dilation - a.start, t[-1] * a.stride + jj * a.dilation - a.start + 1, a.stride)
            for a, jj, t in zip(axes, j, spans)
        )
        group = c // c_in_g
        terms = np.where(finite_x[src], x[src] * weight[(c, o) + tuple(j)], 0)
        y[(slice(None), group * c_out_g + o) + out] += terms


def add_conv_terms(y: np.ndarray, x: np.ndarray, weight: np.ndarray, geom: Geometry) -> None:
    """Add into the forward conv's output ``y`` ``(N, C_out, *n)`` every term with a non-finite factor.

    ``geom`` is the conv's geometry as the transposed conv it is the adjoint of
    (axis ``size`` = the conv's output length, ``start`` = the padding before,
    ``length`` = the conv's input length ``m``); ``x`` is ``(N, C_in, *m)`` and
    ``weight`` ``(C_out, C_in/g, *k)``. A term ``w[o, c, j] * x[b, c, i]`` reaches
    output ``t`` when ``i = t*s + j*d - lo``: the transposed conv's own triples.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        _add_conv_terms(y, x, weight, geom)


def _add_conv_terms(y: np.ndarray, x: np.ndarray, weight: np.ndarray, geom: Geometry) -> None:
    c_out, c_in_g = weight.shape[:2]
    c_out_g = c_out // geom.groups
    axes = geom.axes
    for b, c, *i in np.argwhere(~np.isfinite(x)):
        # per axis the (tap, output) pairs with t*s = i + lo - j*d
        pairs = []
        for a, ii in zip(axes, i):
            j = np.arange(a.kernel)
            num = ii + a.start - j * a.dilation
            ok = (num % a.stride == 0) & (num >= 0) & (num // a.stride < a.size)
            pairs.append((j[ok], num[ok] // a.stride))
        if any(len(js) == 0 for js, _ in pairs):
            continue
        group = c // c_in_g
        channels = np.arange(group * c_out_g, (group + 1) * c_out_g)
        taps = np.ix_(channels, *(js for js, _ in pairs))
        outs = np.ix_(channels, *(ts for _, ts in pairs))
        w = weight[:, c - group * c_in_g][taps]
        y[b][outs] += x[(b, c) + tuple(i)] * w
    finite_x = np.isfinite(x)
    for o, c_local, *j in np.argwhere(~np.isfinite(weight)):
        c = (o // c_out_g) * c_in_g + c_local
        spans = [
            _tap_range(-jj * a.dilation + a.start, a.length, 0, a.stride, a.size) for a, jj in zip(axes, j)
        ]  # outputs t with 0 <= t*s + j*d - lo < m
        if any(len(t) == 0 for t in spans):
            continue
        src = (slice(None), c) + tuple(
            slice(t.start * a.stride + jj * a.dilation - a.start, t[-1] * a.stride + jj * a.dilation - a.start + 1, a.stride)
            for a, jj, t in zip(axes, j, spans)
        )
        terms = np.where(finite_x[src], x[src] * weight[(o, c_local) + tuple(j)], 0)
        y[(slice(None), o) + tuple(slice(t.start, t.stop) for t in spans)] += terms


def _valid(a, jj: int) -> range:
    """The ``i`` in ``[0, a.size)`` whose term with tap ``jj`` lands inside the window: ``0 <= i*s + jj*d - lo < L``."""
    return _tap_range(a.start, a.length, jj * a.dilation, a.stride, a.size)


def _tap_slices(geom: Geometry, j) -> tuple[tuple[slice, ...], tuple[slice, ...]] | None:
    """Tap ``j``'s small-side slices (``i``) and big-side slices (``i*s + j*d - lo``) inside the window, or None."""
    spans = [_valid(a, jj) for a, jj in zip(geom.axes, j)]
    if any(len(t) == 0 for t in spans):
        return None
    small = tuple(slice(t.start, t.stop) for t in spans)
    big = tuple(
        slice(t.start * a.stride + jj * a.dilation - a.start, t[-1] * a.stride + jj * a.dilation - a.start + 1, a.stride)
        for a, jj, t in zip(geom.axes, j, spans)
    )
    return small, big


def conv_definition(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    """The forward conv as its definition, tap by tap: only the terms ``w[o, c, j] * x[b, c, t*s + j*d - lo]``
    inside ``x`` (no padding is multiplied). ``x`` ``(N, C_in, *m)``, ``weight`` ``(C_out, C_in/g, *k)``,
    ``geom`` as in :func:`add_conv_terms`; returns ``(N, C_out, *n)`` without bias."""
    g = geom.groups
    n_batch = x.shape[0]
    c_out, c_in_g = weight.shape[:2]
    xg = x.reshape((n_batch, g, c_in_g) + x.shape[2:])
    wg = weight.reshape((g, c_out // g, c_in_g) + geom.kernel)
    y = np.zeros((n_batch, g, c_out // g) + geom.in_size, dtype=np.result_type(x, weight))
    with np.errstate(invalid="ignore", over="ignore"):
        for j in np.ndindex(*geom.kernel):
            where = _tap_slices(geom, j)
            if where is None:
                continue
            out, src = where
            y[(slice(None),) * 3 + out] += np.einsum("bgc...,goc->bgo...", xg[(slice(None),) * 3 + src], wg[(Ellipsis,) + j])
    return y.reshape((n_batch, c_out) + geom.in_size)


def weight_definition(small: np.ndarray, big: np.ndarray, geom: Geometry) -> np.ndarray:
    """The weight gradient as its definition: ``g[a, b, j] = sum small[:, a, i] * big[:, b, i*s + j*d - lo]``
    over the ``i`` inside the window only, within each group. ``small`` ``(N, C_a, *size)``, ``big``
    ``(N, C_b, *length)``; returns ``(C_a, C_b/g, *k)``."""
    g = geom.groups
    n_batch, c_a = small.shape[:2]
    c_b = big.shape[1]
    sg = small.reshape((n_batch, g, c_a // g) + small.shape[2:])
    bg = big.reshape((n_batch, g, c_b // g) + big.shape[2:])
    out = np.zeros((g, c_a // g, c_b // g) + geom.kernel, dtype=np.result_type(small, big))
    with np.errstate(invalid="ignore", over="ignore"):
        for j in np.ndindex(*geom.kernel):
            where = _tap_slices(geom, j)
            if where is not None:
                i, f = where
                a = sg[(slice(None),) * 3 + i].reshape(sg.shape[:3] + (-1,))
                b = bg[(slice(None),) * 3 + f].reshape(bg.shape[:3] + (-1,))
                out[(Ellipsis,) + j] = np.einsum("ngai,ngci->gac", a, b)
    return out.reshape((c_a, c_b // g) + geom.kernel)


def add_weight_terms(gw: np.ndarray, small: np.ndarray, big: np.ndarray, geom: Geometry) -> None:
    """Add into a weight gradient ``gw`` ``(C_a, C_b/g, *k)`` every term with a non-finite factor.

    ``gw`` holds :func:`weight_definition`'s sum (or any formulation of it) on the finite parts of
    ``small`` ``(N, C_a, *size)`` and ``big`` ``(N, C_b, *length)``; a term
    ``small[b, a, i] * big[b, c, i*s + j*d - lo]`` counts only inside the window (the window's
    zero-extension is not a term). For the transposed conv ``small = x`` and ``big = grad_output``;
    for the conv ``small = grad_output`` and ``big = x``.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        _add_weight_terms(gw, small, big, geom)


def _add_weight_terms(gw: np.ndarray, small: np.ndarray, big: np.ndarray, geom: Geometry) -> None:
    g = geom.groups
    a_g, b_g = small.shape[1] // g, big.shape[1] // g
    axes = geom.axes
    # the small entries that are NaN or inf, with every big entry their taps meet
    for b, a, value, taps, src in _nonfinite_inputs(small, geom):
        group = a // a_g
        gw[(a, slice(None)) + taps] += value * big[(b, slice(group * b_g, (group + 1) * b_g)) + src]
    # the big entries that are NaN or inf, with every finite small entry that meets them
    finite_small = np.isfinite(small)
    for b, c, *f in np.argwhere(~np.isfinite(big)):
        pairs = []  # per axis the (input, tap) pairs with i*s + j*d - lo = f
        for ax, ff in zip(axes, f):
            j = np.arange(ax.kernel)
            num = ff + ax.start - j * ax.dilation
            ok = (num % ax.stride == 0) & (num >= 0) & (num // ax.stride < ax.size)
            pairs.append((num[ok] // ax.stride, j[ok]))
        if any(len(js) == 0 for _, js in pairs):
            continue
        group = c // b_g
        rows = np.arange(group * a_g, (group + 1) * a_g)
        src = (b,) + np.ix_(rows, *(i for i, _ in pairs))
        terms = np.where(finite_small[src], small[src] * big[(b, c) + tuple(f)], 0)
        gw[(slice(group * a_g, (group + 1) * a_g), c - group * b_g)][np.ix_(range(a_g), *(j for _, j in pairs))] += terms
