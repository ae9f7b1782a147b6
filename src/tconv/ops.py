"""The public operations: validate once at the boundary, then dispatch to an algorithm.

Two execution doors take an already validated :class:`~tconv.geometry.Geometry`:
:func:`run_geometry` (the transposed conv) and :func:`run_conv_geometry` (the
forward conv). The public functions here, :mod:`tconv.compat`, :mod:`tconv.grad`
and the layers of :mod:`tconv.nn` parse their arguments once and call them.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace
from typing import Iterator, NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from . import algorithms, memory, nonfinite, tuning
from .algorithms import matrix as _matrix
from .algorithms import winograd as _winograd
from .algorithms.common import correlate, correlate_bytes, correlate_shifted, correlate_shifted_bytes, to_conv_layout, window
from .errors import TconvError, fail
from .geometry import Geometry, conv_as_transpose, conv_geometry, transpose_geometry
from .normalise import IntOrSeq, Padding, as_array, as_int, check_bias, choice, compute_dtype, per_axis, stand_in

__all__ = [
    "Tuned", "conv_transpose", "conv", "conv_matrix", "run_geometry", "run_conv_geometry", "transpose_inputs",
    "conv_inputs", "tune", "Packed", "pack", "run_packed",
]


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


class Plan(NamedTuple):
    """How a call runs: ``name`` on chunks of ``nb`` samples by ``part`` output channels (without
    groups) or groups (with), into a preallocated output unless it is the whole call; ``need`` its
    estimated bytes (:func:`transpose_bytes`)."""

    name: str
    nb: int
    part: int
    need: int
    whole: bool


def _chunk_shapes(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geom: Geometry, nb: int, part: int):
    """The ``x`` and weight shapes and the geometry of one chunk (:class:`Plan`)."""
    if geom.groups == 1:
        return (nb,) + x_shape[1:], (w_shape[0], part) + w_shape[2:], geom
    c_in_g = x_shape[1] // geom.groups
    return (nb, part * c_in_g) + x_shape[2:], (part * c_in_g,) + w_shape[1:], replace(geom, groups=part)


def _chunkings(n_batch: int, parts: int) -> Iterator[tuple[int, int]]:
    """``(nb, part)`` from the whole call down to one sample of one part, halving: the batch first
    (whole samples keep the algorithms' GEMMs wide), then the output channels or groups."""
    nb = n_batch
    while True:
        yield nb, parts
        if nb == 1:
            break
        nb = -(-nb // 2)
    part = parts
    while part > 1:
        part = -(-part // 2)
        yield 1, part


def transpose_bytes(
    name: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], geom: Geometry, itemsize: int,
    result_itemsize: int, fixed: int, nb: int, part: int,
) -> int:
    """Estimated peak bytes of :func:`run_geometry` running ``name`` in chunks of ``nb`` samples by ``part``.

    The whole call: the algorithm's working memory (:data:`tconv.algorithms.WORKING_BYTES`),
    its output in the compute dtype, a contiguous copy of it unless the algorithm returns its
    own (:data:`tconv.algorithms.OWN_OUTPUT`) and the output in the result dtype when that
    differs (float16 is computed in float32). In chunks: the preallocated output in the result
    dtype, and one chunk's working memory, result, copy and (cutting the output channels
    without groups) contiguous weight slice. ``fixed`` is what the door holds besides: the
    compute-dtype copies of the inputs and their finite parts.
    """
    out_values = x_shape[0] * w_shape[1] * geom.groups * math.prod(geom.out_size)
    parts = w_shape[1] if geom.groups == 1 else geom.groups
    copy = 0 if name in algorithms.OWN_OUTPUT else 1
    if nb == x_shape[0] and part == parts:
        working = algorithms.WORKING_BYTES[name](x_shape, w_shape, geom, itemsize)
        result = out_values * result_itemsize if result_itemsize != itemsize else 0
        return fixed + working + (1 + copy) * out_values * itemsize + result
    cx, cw, cgeom = _chunk_shapes(x_shape, w_shape, geom, nb, part)
    working = algorithms.WORKING_BYTES[name](cx, cw, cgeom, itemsize)
    chunk_out = cx[0] * cw[1] * cgeom.groups * math.prod(geom.out_size)
    weight_slice = math.prod(cw) if geom.groups == 1 and part < parts else 0
    return fixed + out_values * result_itemsize + working + ((1 + copy) * chunk_out + weight_slice) * itemsize


def plan(
    func: str, names: Sequence[str], x_shape: tuple[int, ...], w_shape: tuple[int, ...], geom: Geometry,
    itemsize: int, result_itemsize: int, fixed: int, what: str,
) -> Plan:
    """The first of ``names`` that fits the memory budget whole, else the first that fits in the
    largest chunks it can be cut into (:func:`_chunkings`); refused (:func:`tconv.memory.check`)
    when none fits even in the smallest."""
    parts = w_shape[1] if geom.groups == 1 else geom.groups
    args = (x_shape, w_shape, geom, itemsize, result_itemsize, fixed)
    limit = None
    for name in names:  # one at a time: the first usually fits, and small calls skip the budget's reading
        need = transpose_bytes(name, *args, x_shape[0], parts)
        if limit is None:
            limit = memory.budget_for(need)
        if need <= limit:
            return Plan(name, x_shape[0], parts, need, True)
    for name in names:
        for nb, part in itertools.islice(_chunkings(x_shape[0], parts), 1, None):
            need = transpose_bytes(name, *args, nb, part)
            if need <= limit:
                return Plan(name, nb, part, need, False)
    least = min(transpose_bytes(name, *args, 1, 1) for name in names)
    memory.check(func, least, f"{what} (even in chunks of one sample and one {'channel' if geom.groups == 1 else 'group'})", limit)
    raise AssertionError("unreachable: check refuses what does not fit")


def _execute(p: Plan, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, geom: Geometry,
             result_dtype: np.dtype) -> np.ndarray:
    """Run a :class:`Plan` with the bias added in the compute dtype: the whole call's own
    result, or the chunks' results written into a preallocated output of the result dtype."""
    run = algorithms.IMPLEMENTATIONS[p.name]
    n_batch, c_in = x.shape[:2]
    g, c_out_g = geom.groups, weight.shape[1]
    bias = None if bias is None else bias.astype(x.dtype, copy=False).reshape((-1,) + (1,) * geom.ndim)
    if p.whole:
        y = run(x, weight, geom)
        if bias is not None:
            y = y + bias
        return y
    y = np.empty((n_batch, g * c_out_g) + geom.out_size, dtype=result_dtype)
    c_in_g = c_in // g
    for b0 in range(0, n_batch, p.nb):
        rows = slice(b0, b0 + p.nb)
        for k0 in range(0, c_out_g if g == 1 else g, p.part):
            if g == 1:
                channels = slice(k0, k0 + p.part)
                part = run(x[rows], np.ascontiguousarray(weight[:, channels]), geom)
            else:
                k1 = min(g, k0 + p.part)
                channels = slice(k0 * c_out_g, k1 * c_out_g)
                inputs = slice(k0 * c_in_g, k1 * c_in_g)
                part = run(np.ascontiguousarray(x[rows, inputs]), weight[inputs], replace(geom, groups=k1 - k0))
            if bias is not None:
                part += bias[channels]
            y[rows, channels] = part
            del part
    return y


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

    Before it allocates, the call's bytes are estimated (:func:`transpose_bytes`)
    against :func:`tconv.memory.budget`: ``auto`` runs the cheapest algorithm that
    fits, an explicit one runs if it fits; either is cut into chunks of samples,
    then of output channels or groups, when the whole call does not fit, and
    refused (``TconvError``) when even one sample of one channel does not.

    Inputs holding NaN or inf get the definition's answer (:mod:`tconv.nonfinite`):
    the algorithm runs on their finite parts and the non-finite terms are added,
    or, with many non-finite entries, the definition (``scatter``) runs. ``auto``
    then never runs ``fft``; ``fft`` chosen explicitly spreads them (its docstring).
    ``winograd``'s transforms would spread them over a tile: it runs ``phase`` instead
    (:data:`tconv.algorithms.EXACT`).
    """
    choice(func, "algorithm", algorithm, algorithms.ALGORITHMS)
    result_dtype, dtype = compute_dtype(x, weight, bias)
    c_out = weight.shape[1] * geom.groups
    if x.shape[0] == 0:
        return np.zeros((0, c_out) + geom.out_size, dtype=result_dtype)
    finite = algorithm == "fft" or nonfinite.all_finite(x, weight)
    xc, wc = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    terms = False
    if algorithm == "auto":
        names = _auto_names(x.shape, weight.shape, geom, dtype, result_dtype.itemsize)
    else:
        names = (algorithm,)
    if not finite:
        terms = nonfinite.sparse_is_cheaper(xc, wc, geom)
        names = tuple(dict.fromkeys(algorithms.EXACT.get(n, n) for n in names if n != "fft")) if terms else ("scatter",)
    item = dtype.itemsize
    fixed = sum(a.size for a in (x, weight) if a.dtype != dtype) * item
    if terms:  # the finite parts, the masks and one weight entry's terms (nonfinite.add_transpose_terms)
        fixed += (x.size + weight.size) * (item + 1) + 3 * x.shape[0] * math.prod(geom.in_size) * item
    what = f"algorithm={algorithm!r}" if algorithm != "auto" else "algorithm='auto' (any of " + ", ".join(map(repr, names)) + ")"
    p = plan(func, names, x.shape, weight.shape, geom, item, result_dtype.itemsize, fixed, what)
    if finite:
        return np.ascontiguousarray(_execute(p, xc, wc, bias, geom, result_dtype), dtype=result_dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf and inf * 0 are the definition's NaNs
        if not terms:  # the definition itself
            return np.ascontiguousarray(_execute(p, xc, wc, bias, geom, result_dtype), dtype=result_dtype)
        y = _execute(p, nonfinite.finite_part(xc), nonfinite.finite_part(wc), bias, geom, result_dtype)
        y = np.ascontiguousarray(y)
        nonfinite.add_transpose_terms(y, xc, wc, geom)
    return y.astype(result_dtype, copy=False)


def _auto_names(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geom: Geometry, dtype: np.dtype,
                result_itemsize: int) -> tuple[str, ...]:
    """``auto``'s candidates in the order it tries them: a measured choice (:mod:`tconv.tuning`) first,
    measured now when tuning is on and none is stored, then the cost model's ranking."""
    names = algorithms.ranked(x_shape, w_shape, geom)
    tune_now = tuning.enabled()
    if not tune_now and not tuning.any_cached():  # the common case, without building a key
        return names
    call_key = tuning.key(x_shape, w_shape, geom, dtype)
    best = tuning.cached(call_key)
    if best is None and tune_now:
        best = _measure(x_shape, w_shape, geom, dtype, result_itemsize, names, call_key, 3).algorithm
    if best not in names:
        return names
    return (best,) + tuple(n for n in names if n != best)


class Tuned(NamedTuple):
    """What :func:`tune` measured: the fastest algorithm, every candidate's median seconds, where it is kept."""

    algorithm: str
    seconds: dict[str, float]
    path: str


def _measure(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geom: Geometry, dtype: np.dtype, result_itemsize: int,
             names: Sequence[str], call_key: str, repeats: int) -> Tuned:
    """Time each of ``names`` that fits the memory budget as :func:`run_geometry` would run it
    (whole or in chunks) on seeded data of the real shapes; store and return the fastest."""
    item = dtype.itemsize
    memory.check("tune", (math.prod(x_shape) + math.prod(w_shape)) * item, "the sample input and weight")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float64).astype(dtype)
    w = rng.standard_normal(w_shape, dtype=np.float64).astype(dtype)
    seconds: dict[str, float] = {}
    for name in names:
        try:
            p = plan("tune", (name,), x_shape, w_shape, geom, item, result_itemsize, 0, f"algorithm={name!r}")
        except TconvError:  # does not fit the budget: not a candidate
            continue
        times = []
        for _ in range(repeats + 1):  # the first call compiles and warms caches: not counted
            t0 = time.perf_counter()
            _execute(p, x, w, None, geom, dtype)
            times.append(time.perf_counter() - t0)
        seconds[name] = float(np.median(times[1:]))
    if not seconds:
        raise fail("tune", "no algorithm fits the memory budget for this call; see tconv.memory_budget")
    best = min(seconds, key=seconds.__getitem__)
    return Tuned(best, seconds, str(tuning.store(call_key, best, seconds)))


def tune(
    x_shape: Sequence[int],
    weight_shape: Sequence[int],
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
    output_size: Sequence[int] | None = None,
    dtype: str = "float32",
    repeats: int = 5,
) -> Tuned:
    """Time ``auto``'s candidate algorithms on these shapes and keep the fastest for ``auto``.

    The arguments are :func:`conv_transpose`'s, with shapes for arrays: ``x_shape``
    ``(N, C_in, *n)`` and ``weight_shape`` ``(C_in, C_out/groups, *k)``. Each
    candidate that fits the memory budget runs ``repeats`` times (after one
    untimed call) on seeded data; the fastest median is stored in the tuning
    cache (:mod:`tconv.tuning`), which ``auto`` reads before its cost model on
    every later call with the same shapes, geometry and dtype on this machine,
    with this thread count and backend.

    Returns
    -------
    Tuned
        ``algorithm`` (the fastest), ``seconds`` (median per candidate), ``path`` (the cache file).

    Examples
    --------
    >>> import os, tempfile, tconv
    >>> os.environ["TCONV_CACHE_DIR"] = tempfile.mkdtemp()
    >>> t = tconv.tune((1, 4, 8, 8), (4, 4, 4, 4), stride=2, padding=1)
    >>> t.algorithm in t.seconds
    True
    >>> del os.environ["TCONV_CACHE_DIR"]
    """
    dtype_name = choice("tune", "dtype", dtype, ("float32", "float64"))
    repeats = as_int("tune", "repeats", repeats, 1)
    shapes = []
    for name, shape in (("x_shape", x_shape), ("weight_shape", weight_shape)):
        if not isinstance(shape, (tuple, list)) or not shape:
            raise fail("tune", f"{name} must be a non-empty tuple of ints; got {shape!r}")
        shapes.append(tuple(as_int("tune", f"{name}[{i}]", v, 0) for i, v in enumerate(shape)))
    dt = np.dtype(dtype_name)
    x, w, _, geom = transpose_inputs(
        "tune", stand_in(shapes[0], dt), stand_in(shapes[1], dt), None,
        stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation,
        output_size=output_size,
    )
    if x.shape[0] == 0:
        raise fail("tune", f"x_shape must have a batch of at least 1 to time; got {x.shape}")
    names = algorithms.ranked(x.shape, w.shape, geom)
    return _measure(x.shape, w.shape, geom, dt, dt.itemsize, names, tuning.key(x.shape, w.shape, geom, dt), repeats)


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


def conv_bytes(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geom: Geometry, itemsize: int,
               result_itemsize: int, fixed: int, nb: int) -> int:
    """Estimated peak bytes of :func:`run_conv_geometry` in chunks of ``nb`` samples.

    Per chunk: the padded input (none when the window lies inside ``x``: a view), what the
    correlation allocates (:func:`~tconv.algorithms.common.correlate_bytes`, or
    :func:`~tconv.algorithms.common.correlate_shifted_bytes` at stride 1 without groups), its result
    and a contiguous copy of it (``correlate``'s result is channels last; ``correlate_shifted``'s
    needs no copy: an upper bound); then the output preallocated when the call is cut, the sum with the bias and the copy in the result dtype (upper bounds:
    either may be skipped); ``fixed`` as in :func:`transpose_bytes`.
    """
    n_batch, c_in = x_shape[:2]
    c_out = w_shape[0]
    padded = math.prod(geom.full)
    inside = all(a.start <= 0 and a.full - a.start <= a.length for a in geom.axes)
    out_positions = math.prod(geom.in_size)
    if _shifted(geom):
        working = correlate_shifted_bytes(nb, c_in, c_out, geom.full, geom.kernel, geom.dilation, itemsize)
    else:
        working = correlate_bytes(nb, c_in, c_out, math.prod(geom.kernel), padded, out_positions, geom.groups, itemsize)
    chunk = ((0 if inside else nb * c_in * padded) + 2 * nb * c_out * out_positions) * itemsize + working
    # the output: preallocated for the chunks, plus the bias's sum and the result-dtype copy
    out = n_batch * c_out * out_positions * ((itemsize if nb < n_batch else 0) + itemsize + result_itemsize)
    return fixed + chunk + out


def run_conv_geometry(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, geom: Geometry, *, func: str = "conv"
) -> np.ndarray:
    """Run a validated forward conv: ``x`` ``(N, C_in, *m)``, ``weight`` ``(C_out, C_in/g, *k)``.

    ``geom`` is the conv's geometry as the transposed conv it is the adjoint of
    (:func:`tconv.geometry.build_conv`); the door matching :func:`run_geometry`:
    its bytes are estimated first (:func:`conv_bytes`), the call is cut into chunks
    of samples when it does not fit the memory budget and refused when one sample
    does not; NaN and inf get the definition's answer (:mod:`tconv.nonfinite`). At stride 1
    (finite inputs) it runs as the transposed conv that computes it, through :func:`run_geometry`,
    whose ``auto`` picks among every formulation (:func:`_as_transpose`).
    """
    result_dtype, dtype = compute_dtype(x, weight, bias)
    n_batch = x.shape[0]
    item = dtype.itemsize
    finite = nonfinite.all_finite(x, weight)
    xc, wc = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    if finite and n_batch and _as_transpose(geom):  # that door plans its own memory
        y = run_geometry(xc, _transpose_weight(wc, geom), bias, conv_as_transpose(geom), func=func)
        return y.astype(result_dtype, copy=False)
    terms = not finite and nonfinite.sparse_is_cheaper(x, to_conv_layout(weight, geom.groups), geom)
    fixed = sum(a.size for a in (x, weight) if a.dtype != dtype) * item
    if not finite:  # the finite parts and masks, or the definition's per-tap products
        fixed += (x.size + weight.size) * (item + 1) + 3 * n_batch * weight.shape[0] * math.prod(geom.in_size) * item
    args = (x.shape, weight.shape, geom, item, result_dtype.itemsize, fixed)
    need = conv_bytes(*args, n_batch)
    limit = memory.budget_for(need)
    nb = n_batch
    while need > limit and nb > 1:
        nb = -(-nb // 2)
        need = conv_bytes(*args, nb)
    memory.check(func, need, "the convolution" + (" (even one sample at a time)" if nb == 1 < n_batch else ""), limit)
    if not finite and not terms:
        y = nonfinite.conv_definition(xc, wc, geom)
    else:
        y = _correlate_chunks(*((nonfinite.finite_part(xc), nonfinite.finite_part(wc)) if terms else (xc, wc)), geom, nb)
        if terms:
            nonfinite.add_conv_terms(y, xc, wc, geom)
    if bias is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            y = y + bias.astype(dtype, copy=False).reshape((-1,) + (1,) * geom.ndim)
    return np.ascontiguousarray(y, dtype=result_dtype)


def _as_transpose(geom: Geometry) -> bool:
    """Whether the forward conv runs as the transposed conv that computes it
    (:func:`~tconv.geometry.conv_as_transpose`: the kernel flipped, the channel axes swapped):
    at stride 1, where that transposed conv has stride 1 too and ``auto`` prices every
    formulation on it, ``winograd``'s fewer multiplies among them: its ``col2im`` alone ran as fast
    as the forward conv's own GEMM of every tap or faster (``docs/performance.md``, "The forward
    convolution").
    """
    return all(s == 1 for s in geom.stride)


def _transpose_weight(weight: np.ndarray, geom: Geometry) -> np.ndarray:
    """A forward conv's ``(C_out, C_in/g, *k)`` weight as its transposed conv's (:func:`_as_transpose`):
    the channel axes swapped within each group and every spatial axis flipped, contiguous."""
    return np.ascontiguousarray(np.flip(to_conv_layout(weight, geom.groups), tuple(range(2, 2 + geom.ndim))))


def _shifted(geom: Geometry) -> bool:
    """Whether the forward conv runs :func:`~tconv.algorithms.common.correlate_shifted` (stride 1,
    no groups: one GEMM of every tap, no im2col), else :func:`~tconv.algorithms.common.correlate`."""
    return geom.groups == 1 and all(s == 1 for s in geom.stride)


def _correlate_chunks(x: np.ndarray, weight: np.ndarray, geom: Geometry, nb: int) -> np.ndarray:
    """The conv on the padded input (the window of ``x`` the adjoint's full result covers), ``nb``
    samples at a time into one output (a writable array)."""
    starts = tuple(-a.start for a in geom.axes)
    if _shifted(geom):
        def run(part: np.ndarray) -> np.ndarray:
            return correlate_shifted(window(part, starts, geom.full), weight, geom.dilation)
    else:
        def run(part: np.ndarray) -> np.ndarray:
            return correlate(window(part, starts, geom.full), weight, geom.stride, geom.dilation, geom.groups)
    if nb == x.shape[0]:
        return np.ascontiguousarray(run(x))
    y = np.empty((x.shape[0], weight.shape[0]) + geom.in_size, dtype=np.result_type(x, weight))
    for b0 in range(0, x.shape[0], nb):
        y[b0 : b0 + nb] = run(x[b0 : b0 + nb])
    return y


#: A layer of a fused model (:func:`tconv.nn.fuse`) prepacks its weight for ``winograd``
#: (:func:`pack`) when that is priced below this share of the cheapest call it would run otherwise.
PACK_MARGIN = 0.8
#: ... and only when its definition does this many floating-point operations or more: below it a
#: call's time is mostly fixed costs, which the cost model prices too coarsely to tell apart, and
#: the transforms' rounding would change the result for no measurable gain.
PACK_MIN_FLOPS = 2e7


class Packed(NamedTuple):
    """A layer's weight prepared once (:func:`pack`) for calls on inputs of one shape and dtype."""

    geometry: Geometry  #: the transposed conv's (a forward conv's: :func:`~tconv.geometry.conv_as_transpose`)
    weight: np.ndarray  #: ``(C_in, C_out/g, *k)``, for the exact path of inputs holding NaN or inf
    winograd: _winograd.Packed | None  #: ``None``: a forward conv's weight flipped once, run by ``auto``


def pack(x_shape: Sequence[int], weight: np.ndarray, geom: Geometry, *, conv: bool = False,
         func: str = "pack") -> Packed | None:
    """``weight`` transformed once for ``winograd``, for a layer called again with inputs of ``x_shape``
    and this weight (inference), as ONNX Runtime and OpenVINO prepack theirs; ``None`` where that
    does not pay (a forward conv keeps its flipped weight all the same: ``winograd`` is then ``None``).

    ``geom`` and ``weight`` are the transposed conv's (:func:`run_geometry`), or with ``conv=True``
    a forward conv's (:func:`run_conv_geometry`; stride 1 only: it runs as the transposed conv of
    the flipped kernel). The packed weight is kept, not allocated per call, so a call may then take
    every output channel at once. Packed only when ``winograd`` with it is priced below
    :data:`PACK_MARGIN` of the cheapest call without it, on calls of :data:`PACK_MIN_FLOPS` or
    more, and when the packed weight fits the memory budget. Run with :func:`run_packed`.
    """
    x_shape = tuple(x_shape)
    flops = 2.0 * x_shape[0] * math.prod(x_shape[2:]) * weight.size  # the definition's, about (stride 1)
    if flops < PACK_MIN_FLOPS or weight.dtype not in (np.float32, np.float64) or not nonfinite.all_finite(weight):
        return None
    if conv:
        if not _as_transpose(geom):
            return None
        weight, geom = _transpose_weight(weight, geom), conv_as_transpose(geom)
    # a forward conv keeps its weight flipped (it runs as the transposed conv: _as_transpose) even
    # where winograd's transformed weight does not pay
    unpacked = Packed(geom, weight, None) if conv else None
    packed_seconds = _winograd.plan(x_shape, weight.shape, geom, weight.itemsize, packed=True).seconds
    other = min(algorithms.estimate_seconds(x_shape, weight.shape, geom).values())
    if not packed_seconds < PACK_MARGIN * other:
        return unpacked
    need = 2 * _winograd.packed_bytes(x_shape, weight.shape, geom, weight.itemsize)
    if need > memory.budget_for(need):
        return unpacked
    return Packed(geom, weight, _winograd.pack(x_shape, weight, geom))


def run_packed(x: np.ndarray, packed: Packed, bias: np.ndarray | None, *, func: str = "conv_transpose") -> np.ndarray:
    """The transposed conv (or forward conv) of :func:`pack` on ``x``, with the packed weight.

    Inputs of another shape or dtype, inputs holding NaN or inf (a Winograd tile would spread
    them) and calls whose working memory passes the budget go through :func:`run_geometry` with
    the weight instead, which computes the same result.
    """
    geom, weight = packed.geometry, packed.weight
    if (packed.winograd is None or x.shape != packed.winograd.x_shape or x.dtype != weight.dtype
            or not nonfinite.all_finite(x)):
        return run_geometry(x, weight, bias, geom, func=func)
    out_bytes = x.shape[0] * weight.shape[1] * geom.groups * math.prod(geom.out_size) * weight.itemsize
    need = _winograd.packed_working_bytes(packed.winograd, geom) + out_bytes
    if need > memory.budget_for(need):
        return run_geometry(x, weight, bias, geom, func=func)
    y = _winograd.conv_transpose(x, weight, geom, packed=packed.winograd)
    if bias is not None:
        y += bias.astype(y.dtype, copy=False).reshape((-1,) + (1,) * geom.ndim)
    return y


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
    # building C: its entries and indices three times over (the matrix algorithm's own estimate, one sample)
    memory.check(func, algorithms.WORKING_BYTES["matrix"]((1,) + tuple(input_shape), weight.shape, geom,
                                                          weight.dtype.itemsize), "the convolution matrix")
    return _matrix.build(weight, geom, func=func)
