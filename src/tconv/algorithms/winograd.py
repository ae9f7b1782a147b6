"""Minimal filtering on the phases: ``subpixel``'s stride-1 correlation computed by Winograd's F(m, Q).

``subpixel`` writes the transposed conv as one stride-1 correlation of the input with
a ``Q = floor(d*(k-1)/s) + 1`` tap kernel whose output channels are every live phase
``r`` of every output channel ``o`` (per axis ``Y[u, (r, o)] = sum_q x[u - q] W_q[r, o]``),
then a depth-to-space. Here that correlation is computed by minimal filtering
(Winograd 1980; Lavin & Gray 2016 for convolutional layers): per axis, ``m`` blocks of
an ``m + Q - 1`` block input tile come from ``alpha = m + Q - 1`` multiplies instead
of ``m * Q``::

    Y_tile = A^T [ (G W G^T) ⊙ (B^T d B) ] A          (per axis; N-d: one transform per axis)

All phases share one input transform (their tiles are aligned on the union of their
supports, the subpixel correlation's ``Q`` taps), and for every transform point ``p``
the products over the channels are one GEMM ``(tiles x C_in) @ (C_in x |R| C_out)``
(``numpy.matmul`` on the stacked ``(alpha, tiles, C_in)`` transformed input). The
transforms come from the Toom-Cook construction (:func:`transform`: interpolation
points ``0, 1, -1, 2, -2, 1/2, ...`` and infinity); each axis gets the tile ``m``
the cost model prices cheapest among those whose float32 error was measured within
the project's 1e-4 (:data:`MAX_TILE`), or ``m = 1`` (no transform, the direct
correlation) where a transform does not pay: ``Q = 1`` (``k == s``), small inputs
whose edge tiles waste blocks, or weights so large for the rows that their
transformed copy costs more than it saves (``docs/performance.md``, "Winograd").

FLOPs: ``2 * N * C_in * (C_out/g) * |R| * prod(tiles * alpha)`` in the GEMMs, against
the definition's ``2 * N * C_in * (C_out/g) * prod(n * k)``: per block, ``prod(alpha / m)``
multiplies per phase instead of ``prod(Q)`` (k4 s2 with ``m = 6``: ``(7/6)^2`` against 4,
2.9x fewer), less what the edge tiles waste; plus the transforms, ``O(alpha)`` additions
per element.
Extra memory (:func:`working_bytes`): the transformed weight (in chunks of output
channels past half of :data:`SHARE` of input plus output, or :data:`WEIGHT_BYTES`), and per
chunk of samples (the rest of that share, at most :data:`CHUNK_BYTES`) the windowed input, its
channels-last copy, the transformed input and products, and the blocked result. The plan
takes the cheapest tiles whose working memory stays within input plus output, as every other
formulation's does; where none does (tiny layers, whose transformed weight and chunk floors
alone exceed it), ``auto`` does not price it (:func:`estimate_seconds` is infinite).
Time (:func:`estimate_seconds`): the GEMMs at their shape's rate, the transforms, the
weight's transform and a depth-to-space write of the output.

Accuracy: the transforms mix values with coefficients up to a few units, so the
float32 rounding error grows with ``alpha`` (measured per benchmark layer in
``docs/performance.md``). Non-finite values would spread over a tile (``0 * inf``
in the transforms), so :func:`tconv.ops.run_geometry` never runs it on NaN or inf:
those calls go to ``phase``, the exact formulation of the same decomposition.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from ..geometry import Geometry
from . import compiled, cost, subpixel
from .common import iterator_bytes, window
from .threads import SPREAD_CHUNKS, num_threads, parallel_for, split, spread

#: The finite interpolation points, in the order a transform of ``alpha`` points takes the first
#: ``alpha - 1`` of them (the last point is infinity): small, and in reciprocal pairs, which keeps
#: the transforms' coefficients small (Lavin & Gray's choice).
POINTS: tuple[Fraction, ...] = tuple(Fraction(p) for p in (
    0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2), 3, -3, Fraction(1, 3), Fraction(-1, 3), 4, -4))
#: Largest tile ``m`` per axis for a ``Q``-tap correlation (absent: no transform on that axis),
#: each measured within the float32 tolerance on every benchmark layer (``docs/performance.md``).
MAX_TILE: dict[int, int] = {2: 6, 3: 4, 4: 4, 5: 3, 6: 2, 7: 2}
#: Most transform points of a tile in all (``prod(alpha)``): the float32 error grows with each
#: axis's transform, and three axes of F(6, 2) (343 points) came close to the tolerance
#: (``docs/performance.md``, "Winograd").
MAX_POINTS = 125
#: Largest transformed weight (bytes) held at once; beyond it, chunks of output channels.
WEIGHT_BYTES = 32 * 2**20
#: Largest budget (bytes) of a chunk of samples' copies: windows, transformed input, products.
CHUNK_BYTES = 16 * 2**20
#: Share of input plus output bytes the transformed weight and one chunk's copies may take.
SHARE = 0.75
#: The least either budget is given, whatever the layer's size.
FLOOR_BYTES = 2**20


@dataclass(frozen=True)
class Transform:
    """F(m, q) on one axis: ``y = at @ ((g @ w) * (bt @ d))`` for a tile ``d`` of ``alpha`` inputs."""

    m: int
    q: int
    at: np.ndarray  #: (m, alpha): the output transform
    g: np.ndarray  #: (alpha, q): the kernel transform
    bt: np.ndarray  #: (alpha, alpha): the input transform

    @property
    def alpha(self) -> int:
        return self.m + self.q - 1


def _evaluations(points: tuple[Fraction, ...], n: int) -> list[list[Fraction]]:
    """A polynomial of ``n`` coefficients at each point, and at infinity (its leading coefficient)."""
    return [[p**i for i in range(n)] for p in points] + [[Fraction(0)] * (n - 1) + [Fraction(1)]]


def _inverse(a: list[list[Fraction]]) -> list[list[Fraction]]:
    """Exact inverse of a square matrix (Gauss-Jordan on fractions)."""
    n = len(a)
    m = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(a)]
    for c in range(n):
        pivot = next(r for r in range(c, n) if m[r][c] != 0)
        m[c], m[pivot] = m[pivot], m[c]
        m[c] = [v / m[c][c] for v in m[c]]
        for r in range(n):
            if r != c and m[r][c] != 0:
                f = m[r][c]
                m[r] = [a - f * b for a, b in zip(m[r], m[c])]
    return [row[n:] for row in m]


@functools.lru_cache(maxsize=64)
def transform(m: int, q: int) -> Transform:
    """The matrices of F(m, q), exact in fractions, then as float64.

    A linear convolution ``c = a * b`` (``m`` and ``q`` coefficients) is
    ``V^-1 [(E_m a) ⊙ (E_q b)]`` with ``E_n`` the evaluation of an ``n``-coefficient
    polynomial at the ``alpha`` points and ``V = E_alpha``; the correlation is its
    transpose in ``a``: ``A^T = E_m^T``, ``G = E_q``, ``B^T = V^-T``. Each row of ``B^T``
    is scaled to a largest coefficient of 1, its factor moved into ``G`` (the kernel's
    transform runs once per call). ``m = 1`` is the direct correlation (identity transforms).
    """
    if m == 1:
        return Transform(1, q, np.ones((1, q)), np.eye(q), np.eye(q))
    alpha = m + q - 1
    points = POINTS[: alpha - 1]
    e_m, g, v_inv = _evaluations(points, m), _evaluations(points, q), _inverse(_evaluations(points, alpha))
    bt = [[v_inv[k][j] for k in range(alpha)] for j in range(alpha)]
    for j in range(alpha):
        scale = max(abs(v) for v in bt[j])
        bt[j] = [v / scale for v in bt[j]]
        g[j] = [v * scale for v in g[j]]
    at = [[e_m[j][i] for j in range(alpha)] for i in range(m)]

    def floats(rows: list[list[Fraction]]) -> np.ndarray:
        out = np.array([[float(v) for v in row] for row in rows])
        out.setflags(write=False)
        return out

    return Transform(m, q, floats(at), floats(g), floats(bt))


def _tile_choices(q: int) -> tuple[int, ...]:
    return (1,) + tuple(range(2, MAX_TILE.get(q, 1) + 1))


class Plan(NamedTuple):
    """How a call runs (:func:`plan`): a transform per axis, ``nb`` samples by ``rows`` tile rows
    of axis 0 per chunk, ``cc`` output channels per chunk of the transformed weight; ``packed``:
    the weight comes transformed (:func:`pack`), all output channels at once."""

    transforms: tuple[Transform, ...]
    tiles: tuple[int, ...]
    nb: int
    rows: int
    cc: int
    seconds: float
    packed: bool = False
    workers: int = 1  #: chunks run side by side, each whole on one thread (:func:`.threads.spread`)


def _price(x_shape, weight_shape, geom: Geometry, ms: tuple[int, ...], itemsize: int, compiled_path: bool,
           packed: bool = False, threads: int = 1) -> Plan:
    """The chunks and the estimated seconds of tiles ``ms`` (float32 rates of :mod:`.cost`); ``packed``:
    with the weight transformed beforehand (:func:`pack`), its transform and bytes not the call's.
    With ``threads`` > 1 and at least :data:`.threads.SPREAD_CHUNKS` chunks per thread, each thread
    runs whole chunks (its own buffers: the working memory counts one chunk per thread)."""
    n_batch, c_in = x_shape[:2]
    g = geom.groups
    c_out = weight_shape[1] * g
    c_in_g = c_in // g
    qs = tuple(a.shifts for a in geom.axes)
    counts = tuple(a.window_blocks[1] for a in geom.axes)
    n_r = math.prod(len(a.live_phases) for a in geom.axes)
    tiles = tuple(-(-u // m) for u, m in zip(counts, ms))
    alphas = tuple(m + q - 1 for m, q in zip(ms, qs))
    points = math.prod(alphas)
    width = n_r * c_out  # the GEMMs' columns, all groups
    in_bytes = n_batch * c_in * math.prod(geom.in_size) * itemsize
    out_bytes = n_batch * c_out * math.prod(geom.out_size) * itemsize
    # the transformed weight, in chunks of output channels (without groups)
    weight_values = points * c_in_g * width
    # within the budget of input plus output as today's algorithms are (at least a MiB, at most
    # WEIGHT_BYTES): half for the transformed weight, the rest for a chunk's copies
    share = SHARE * (in_bytes + out_bytes)
    if packed:  # a fused model's layer: its chunks may take CHUNK_BYTES, as a chain's peak allows
        share = max(share, CHUNK_BYTES)
    weight_budget = min(WEIGHT_BYTES, max(FLOOR_BYTES, share / 2))
    cc = c_out if g > 1 or packed else max(1, min(c_out, int(weight_budget // max(1, points * c_in * n_r * itemsize))))
    # per sample: the windowed input and its channels-last copy, the transformed input, the products
    span = tuple(t * m + q - 1 for t, m, q in zip(tiles, ms, qs))
    per_tile_row = (2 * c_in * math.prod(span[1:]) * ms[0]
                    + points * math.prod(tiles[1:]) * (c_in + n_r * cc)
                    + math.prod(tiles[1:]) * math.prod(ms) * n_r * cc)
    held = 0 if packed else points * c_in_g * n_r * (cc if g == 1 else c_out) * itemsize
    budget = max(FLOOR_BYTES, min(CHUNK_BYTES, share - held)) // itemsize
    nb = max(1, min(n_batch, int(budget // max(1, per_tile_row * tiles[0]))))
    rows = tiles[0] if nb > 1 else max(1, min(tiles[0], int(budget // max(1, per_tile_row))))
    axis_transforms = tuple(transform(m, q) for m, q in zip(ms, qs))
    limit = _working_limit(x_shape, weight_shape, geom, itemsize, packed)
    largest = (nb, rows, cc)

    def priced(side_by_side: int) -> Plan:
        nb, rows, cc = largest

        def workers(nb: int, rows: int) -> int:
            parts = -(-n_batch // nb) * -(-tiles[0] // rows)
            return side_by_side if side_by_side > 1 and parts >= SPREAD_CHUNKS * side_by_side else 1

        # smaller chunks (samples, then tile rows, then output channels) until the working memory
        # fits input plus output
        while nb > 1 or rows > 1 or (g == 1 and cc > 1 and not packed):
            trial = Plan(axis_transforms, tiles, nb, rows, cc, 0.0, packed, workers(nb, rows))
            if _plan_bytes(trial, x_shape, weight_shape, geom, itemsize) <= limit:
                break
            if nb > 1:
                nb, rows = -(-nb // 2), tiles[0]
            elif rows > 1:
                rows = -(-rows // 2)
            else:
                cc = -(-cc // 2)
        col_chunks = -(-c_out // cc)
        parts = -(-n_batch // nb) * -(-tiles[0] // rows)
        t_rows = n_batch * math.prod(tiles)
        chunk_rows = t_rows / parts
        # the transforms: elements each axis pass writes, times the coefficients each reads
        in_elems, out_elems = 0.0, 0.0
        shape_in = [n_batch, *span, c_in]
        for i, (m, q, t, a) in enumerate(zip(ms, qs, tiles, alphas)):
            if a > 1:
                shape_in[1 + i] = t
                in_elems += a * math.prod(shape_in) * min(a, m + q - 1) * col_chunks
            shape_in[1 + i] = t * a if a > 1 else shape_in[1 + i]
        shape_out = [n_batch, *(t * a for t, a in zip(tiles, alphas)), width]
        for i, (m, t, a) in enumerate(zip(ms, tiles, alphas)):
            if a > 1:
                shape_out[1 + i] = t * m
                out_elems += math.prod(shape_out) * a
        nnz = 0.5  # about half of a transform's coefficients are zero (skipped)
        side = workers(nb, rows)  # chunks side by side: their fixed costs overlap
        # a chunk shared between the threads runs its transforms in short slices and hands off its
        # transforms' passes, GEMMs and write one by one
        shared = side == 1 and threads > 1 and compiled_path
        if compiled_path:
            transforms = (in_elems + out_elems) * nnz * cost.WINOGRAD_S * (cost.WINOGRAD_SHARED if shared else 1.0)
        else:
            calls = col_chunks * parts * sum(a * a for a in alphas) * 2
            transforms = (in_elems + out_elems) * nnz * cost.ADD_S + calls * cost.CALL_S
        out_values = n_batch * c_out * math.prod(geom.out_size)
        shuffle = out_values * (cost.SHUFFLE_COMPILED_S if subpixel.compiled_shuffle(geom) else cost.SHUFFLE_S)
        handoffs = parts * col_chunks * (2 * geom.ndim + 2) * cost.HANDOFF_S if shared else 0.0
        seconds = (
            cost.gemm_seconds(2.0 * points * t_rows * c_in_g * width, chunk_rows, c_in_g, width / (g * col_chunks))
            * (cost.WINOGRAD_GEMM if side > 1 else 1.0)
            + (0 if packed else weight_values * (1 + 2 * math.prod(qs) / max(1, points)) * cost.COPY_S)  # its transform
            + weight_values * itemsize * parts / cost.MEMORY_BYTES_PER_S  # read by the GEMMs, chunk after chunk
            + n_batch * c_in * math.prod(span) * col_chunks * cost.COPY_S  # the windowed channels-last copies
            + transforms + shuffle + parts * col_chunks * cost.PHASE_S / side + handoffs
        )
        return Plan(axis_transforms, tiles, nb, rows, cc, seconds, packed, side)

    # chunks side by side hold one chunk per thread: smaller chunks, which may cost more than they save,
    # or may not fit where one chunk at a time does
    plans = [priced(t) for t in sorted({threads, 1})]
    fit = [p for p in plans if _plan_bytes(p, x_shape, weight_shape, geom, itemsize) <= limit]
    return min(fit or plans, key=lambda p: p.seconds)


def plan(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int = 4,
         packed: bool = False) -> Plan:
    """The cheapest tiles per axis (each ``m`` of :data:`MAX_TILE` or 1) and the chunks they run in;
    ``packed``: with the weight transformed beforehand (:func:`pack`)."""
    return _plan(tuple(x_shape), tuple(weight_shape), geom, itemsize, compiled.kernels() is not None, packed,
                 num_threads())


@functools.lru_cache(maxsize=256)
def _plan(x_shape, weight_shape, geom: Geometry, itemsize: int, compiled_path: bool, packed: bool = False,
          threads: int = 1) -> Plan:
    options = [ms for ms in itertools.product(*(_tile_choices(a.shifts) for a in geom.axes))
               if math.prod(m + a.shifts - 1 for m, a in zip(ms, geom.axes)) <= MAX_POINTS or max(ms) == 1]
    plans = sorted((_price(x_shape, weight_shape, geom, ms, itemsize, compiled_path, packed, threads) for ms in options),
                   key=lambda p: p.seconds)  # stable: ties keep the first, smaller tiles
    limit = _working_limit(x_shape, weight_shape, geom, itemsize, packed)
    within = [p for p in plans if _plan_bytes(p, x_shape, weight_shape, geom, itemsize) <= limit]
    return within[0] if within else plans[0]._replace(seconds=math.inf)


def _working_limit(x_shape, weight_shape, geom: Geometry, itemsize: int, packed: bool) -> int:
    """The most working memory a call may take: its input plus output bytes, as every formulation
    ``auto`` runs; with a packed weight (a fused model's layer) at least :data:`CHUNK_BYTES`."""
    out_values = x_shape[0] * weight_shape[1] * geom.groups * math.prod(geom.out_size)
    return max((math.prod(x_shape) + out_values) * itemsize, CHUNK_BYTES if packed else 0)


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> float:
    """Estimated seconds of a float32 call (the rates of :mod:`.cost`): the cheapest tiles'.

    The GEMMs over ``prod(alpha)`` points at their shape's rate, the weight's
    transform and its reads by the GEMMs, the windowed channels-last copies, the
    input and output transforms (about half their coefficients non-zero) and the
    depth-to-space write, plus a fixed cost per chunk. Infinite when no tiling keeps the
    working memory (:func:`working_bytes`) within the input plus the output, as every other
    formulation's is: on tiny layers the transformed weight's floor alone exceeds it. Infinite too
    where no axis transforms (``k == s``, or no tile pays): that is ``subpixel``'s correlation with
    other chunks, which ``subpixel`` prices, and it ran slower than ``col2im`` on U-Net's k2 s2 layer.
    """
    p = plan(x_shape, weight_shape, geom)
    return p.seconds if any(t.m > 1 for t in p.transforms) else math.inf


def working_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes a call allocates beyond its input and output (C-contiguous arrays of ``itemsize``), an upper bound.

    The rearranged kernel and one chunk of the transformed weight (with the
    transform's intermediate of as many values), then per chunk of samples and tile
    rows the windowed input, its channels-last copy, the input transform's two
    stages, the products and the output transform's two stages.
    """
    return _plan_bytes(plan(x_shape, weight_shape, geom, itemsize), x_shape, weight_shape, geom, itemsize)


def _plan_bytes(p: Plan, x_shape, weight_shape, geom: Geometry, itemsize: int) -> int:
    """:func:`working_bytes` of the tiles and chunks of ``p``."""
    n_batch, c_in = x_shape[:2]
    g = geom.groups
    c_out = weight_shape[1] * g
    n_r = math.prod(len(a.live_phases) for a in geom.axes)
    qs = tuple(t.q for t in p.transforms)
    points = math.prod(t.alpha for t in p.transforms)
    sub = math.prod(qs) * n_r * (c_in // g) * c_out
    weight = 0 if p.packed else 2 * points * (c_in // g) * n_r * p.cc * (1 if g == 1 else g) + sub
    tiles = (min(p.rows, p.tiles[0]),) + p.tiles[1:]
    ms = tuple(t.m for t in p.transforms)
    span = tuple(t * m + q - 1 for t, m, q in zip(tiles, ms, qs))
    window_ = p.nb * c_in * math.prod(span)
    rows = p.nb * math.prod(tiles)
    width = n_r * (p.cc if g == 1 else c_out)
    v = rows * points * c_in
    mm = rows * points * width
    blocked = rows * math.prod(ms) * width
    stage_in = max(v, window_ * max(t.alpha for t in p.transforms))
    chunk = 2 * window_ + max(2 * stage_in, stage_in + mm, mm + 2 * max(mm, blocked))
    regrouped = c_in * weight_shape[1] * math.prod(geom.kernel) if g > 1 else 0
    return (weight + max(regrouped, p.workers * chunk)) * itemsize + 2 * iterator_bytes(itemsize) * p.workers


def _axis_transform(kernels, src: np.ndarray, dst: np.ndarray, mat: np.ndarray, dims: tuple[int, ...],
                    steps: tuple[int, ...]) -> None:
    """``dst[i1*d1 + i2*d2 + p*dp + i3] = sum_k mat[p, k] * src[i1*s1 + i2*s2 + k*sk + i3]`` over
    ``i1 < n1, i2 < n2, i3 < n3`` (``dims = (n1, n2, n3)``, steps in elements), both contiguous.

    Compiled (``tconv[fast]``): one pass, threads over ``(i1, i2)``. NumPy: one call per
    non-zero coefficient on strided views of the whole arrays.
    """
    n1, n2, n3 = dims
    d1, d2, dp, s1, s2, sk = steps
    mat = np.ascontiguousarray(mat, dtype=dst.dtype)
    if kernels is not None:
        sf, df = src.reshape(-1), dst.reshape(-1)
        shape = np.array([n2, n3, mat.shape[0], mat.shape[1]], dtype=np.int64)
        st = np.array(steps, dtype=np.int64)
        parallel_for(lambda r: kernels.axis_transform(df, sf, mat, shape, st, r[0], r[1]),
                     split(n1 * n2, num_threads()))
        return
    item = src.itemsize
    strided = np.lib.stride_tricks.as_strided
    src_v = strided(src, shape=(mat.shape[1], n1, n2, n3), strides=(sk * item, s1 * item, s2 * item, item),
                    writeable=False)
    dst_v = strided(dst, shape=(mat.shape[0], n1, n2, n3), strides=(dp * item, d1 * item, d2 * item, item))
    scratch = None
    for p, row in enumerate(mat):
        out = dst_v[p]
        first = True
        for k in np.flatnonzero(row):
            c = row[k]
            if first:
                if c == 1:
                    np.copyto(out, src_v[k])
                else:
                    np.multiply(src_v[k], c, out=out)
                first = False
            elif c == 1:
                np.add(out, src_v[k], out=out)
            elif c == -1:
                np.subtract(out, src_v[k], out=out)
            else:
                if scratch is None:
                    scratch = np.empty((n1, n2, n3), dtype=dst.dtype)
                np.multiply(src_v[k], c, out=scratch)
                np.add(out, scratch, out=out)
        if first:
            out[...] = 0


def _input_transform(kernels, xl: np.ndarray, transforms: tuple[Transform, ...], tiles: tuple[int, ...]) -> np.ndarray:
    """``(nb, *span, C)`` channels last -> ``(alpha_{d-1}, ..., alpha_0, nb, *tiles, C)``: ``B^T d B`` per tile."""
    state = xl
    for i, (tr, t) in enumerate(zip(transforms, tiles)):
        shape = state.shape
        at = 2 * i + 1  # the axis: after i points, the samples and i tile axes
        pre, span, post = math.prod(shape[:at]), shape[at], math.prod(shape[at + 1:])
        if tr.alpha == 1:  # m = 1, Q = 1: the identity; the tile axis is the span
            state = state.reshape((1,) + shape)
            continue
        dst = np.empty((tr.alpha,) + shape[:at] + (t,) + shape[at + 1:], dtype=xl.dtype)
        _axis_transform(kernels, state, dst, tr.bt, (pre, t, post),
                        (t * post, post, pre * t * post, span * post, tr.m * post, post))
        state = dst
    return state


def _output_transform(kernels, mm: np.ndarray, transforms: tuple[Transform, ...]) -> np.ndarray:
    """``(alpha_{d-1}, ..., alpha_0, nb, *tiles, C')`` -> ``(nb, t_0, m_0, ..., t_{d-1}, m_{d-1}, C')``: ``A^T M A``."""
    nd = len(transforms)
    state = mm
    for i, tr in enumerate(transforms):
        shape = state.shape
        k = nd - 1 - i  # the point axis of axis i: the last of the points left
        b1_end = k + 1 + 2 * i + 2
        n1, b1, b2 = math.prod(shape[:k]), math.prod(shape[k + 1: b1_end]), math.prod(shape[b1_end:])
        new_shape = shape[:k] + shape[k + 1: b1_end] + (tr.m,) + shape[b1_end:]
        if tr.alpha == 1:
            state = state.reshape(new_shape)
            continue
        dst = np.empty(new_shape, dtype=mm.dtype)
        _axis_transform(kernels, state, dst, tr.at, (n1, b1, b2),
                        (b1 * tr.m * b2, tr.m * b2, b2, tr.alpha * b1 * b2, b2, b1 * b2))
        state = dst
    return state


def _weight_transform(kernels, sub: np.ndarray, transforms: tuple[Transform, ...]) -> np.ndarray:
    """``(*Q, ...)`` contiguous -> ``(alpha_{d-1}, ..., alpha_0, ...)``: ``G W G^T`` per axis.

    The same axis passes as the data's (a ``tensordot`` would be a GEMM with an inner
    dimension of ``Q``, which BLAS runs far below its rate)."""
    state = sub
    for i, tr in enumerate(transforms):
        shape = state.shape
        pre, q, post = math.prod(shape[:i]), shape[i], math.prod(shape[i + 1:])
        if tr.alpha == 1:
            state = state.reshape((1,) + shape[:i] + shape[i + 1:])
            continue
        dst = np.empty((tr.alpha,) + shape[:i] + shape[i + 1:], dtype=sub.dtype)
        _axis_transform(kernels, state, dst, tr.g, (pre, 1, post), (post, 0, pre * post, q * post, 0, post))
        state = dst
    return state


class Packed(NamedTuple):
    """A weight transformed once (:func:`pack`) for calls on inputs of one shape."""

    plan: Plan
    u: np.ndarray  #: the transformed weight of every output channel, as the GEMMs read it
    x_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]


def packed_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes :func:`pack` keeps (the transformed weight), and as many for its transform's intermediate."""
    p = plan(x_shape, weight_shape, geom, itemsize, packed=True)
    n_r = math.prod(len(a.live_phases) for a in geom.axes)
    points = math.prod(t.alpha for t in p.transforms)
    return points * weight_shape[0] * weight_shape[1] * n_r * itemsize


def pack(x_shape: tuple[int, ...], weight: np.ndarray, geom: Geometry) -> Packed:
    """``weight`` transformed for the tiles :func:`plan` picks for inputs of ``x_shape`` when the
    weight is transformed beforehand, as inference engines prepack theirs: a layer called again
    with the same weight then skips the transform, and its GEMMs take every output channel at once
    (no chunks of the transformed weight, so no input transform is redone).
    ``prod(alpha) / prod(Q)`` times the weight's bytes (per axis F(4, 3): 4x)."""
    p = plan(x_shape, weight.shape, geom, weight.dtype.itemsize, packed=True)
    u = _transformed(compiled.kernels(), weight, geom, p.transforms, 0, weight.shape[1] * geom.groups)
    u.setflags(write=False)
    return Packed(p, u, tuple(x_shape), weight.shape)


def packed_working_bytes(packed: Packed, geom: Geometry) -> int:
    """Bytes a call with ``packed`` allocates beyond its input, output and the packed weight: within
    input plus output, or :data:`CHUNK_BYTES` where that is more (a fused model's layers, whose
    chain holds larger arrays than a small layer's)."""
    return _plan_bytes(packed.plan, packed.x_shape, packed.weight_shape, geom, packed.u.itemsize)


def _transformed(kernels, weight: np.ndarray, geom: Geometry, transforms: tuple[Transform, ...],
                 o0: int, o1: int) -> np.ndarray:
    """The transformed weight of output channels ``o0:o1`` (all of them with groups), as the GEMMs
    read it: ``(points, C_in, |R| (o1 - o0))``, or ``(points, G, C_in/g, C_out/g |R|)`` with groups."""
    nd, g = geom.ndim, geom.groups
    c_in, c_out_g = weight.shape[0], weight.shape[1]
    c_out = c_out_g * g
    qs = tuple(t.q for t in transforms)
    points = math.prod(t.alpha for t in transforms)
    counts_r = tuple(len(a.live_phases) for a in geom.axes)
    n_r = math.prod(counts_r)
    sub = subpixel._sub_kernel(weight, geom)  # (|R| C_out, C_in/g, *Q)
    if g == 1:  # (*Q, C_in, |R|, C_out): the columns of a chunk of output channels are a slice
        sub = sub.transpose(tuple(range(2, 2 + nd)) + (1, 0)).reshape(qs + (c_in,) + counts_r + (c_out,))
        return _weight_transform(kernels, np.ascontiguousarray(sub[..., o0:o1]), transforms).reshape(
            points, c_in, n_r * (o1 - o0))
    # (*Q, G, C_in/g, C_out/g * |R|), the channels (o, r) within a group
    sub = sub.reshape((g, c_out_g * n_r, c_in // g) + qs).transpose(tuple(range(3, 3 + nd)) + (0, 2, 1))
    return _weight_transform(kernels, np.ascontiguousarray(sub), transforms).reshape(
        points, g, c_in // g, c_out_g * n_r)


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry,
                   tiles: tuple[int, ...] | None = None, packed: Packed | None = None) -> np.ndarray:
    """The registry's formulation; ``tiles`` (one ``m`` per axis, 1 for no transform) overrides
    the cost model's choice of :func:`plan` (the tests run every transform with it); ``packed``
    (:func:`pack` of this ``weight`` for inputs of ``x``'s shape) skips the weight's transform."""
    nd = geom.ndim
    n_batch, c_in = x.shape[:2]
    g = geom.groups
    c_out = weight.shape[1] * g
    dtype = np.result_type(x, weight)
    if packed is not None:
        if packed.x_shape != x.shape or packed.weight_shape != weight.shape or packed.u.dtype != dtype:
            raise ValueError("winograd.conv_transpose: packed was made for other shapes or another dtype")
        p = packed.plan
    elif tiles is None:
        p = plan(x.shape, weight.shape, geom, dtype.itemsize)
    else:
        p = _price(x.shape, weight.shape, geom, tuple(tiles), dtype.itemsize, compiled.kernels() is not None,
                   threads=num_threads())
    transforms, tiles = p.transforms, p.tiles
    ms = tuple(t.m for t in transforms)
    qs = tuple(t.q for t in transforms)
    points = math.prod(t.alpha for t in transforms)
    phases = [a.live_phases for a in geom.axes]
    counts_r = tuple(len(ph) for ph in phases)
    firsts, counts = zip(*(a.window_blocks for a in geom.axes))
    dead = any(len(ph) < a.stride for ph, a in zip(phases, geom.axes))
    y = (np.zeros if dead else np.empty)((n_batch, c_out) + geom.out_size, dtype=dtype)
    kernels = compiled.kernels()
    shuffle_kernels = kernels if subpixel.compiled_shuffle(geom) else None
    maps = subpixel._maps(geom) if shuffle_kernels is not None else None
    targets = subpixel._targets(geom)
    starts = tuple(f - q + 1 for f, q in zip(firsts, qs))
    span = tuple(t * m + q - 1 for t, m, q in zip(tiles[1:], ms[1:], qs[1:]))
    items = [(b0, r0) for b0 in range(0, n_batch, p.nb) for r0 in range(0, tiles[0], p.rows)]
    for o0 in range(0, c_out, p.cc):
        o1 = min(c_out, o0 + p.cc)
        u = packed.u if packed is not None else _transformed(kernels, weight, geom, transforms, o0, o1)

        def start(o0: int = o0, o1: int = o1, u: np.ndarray = u):
            def work(item: tuple[int, int]) -> None:  # a chunk of samples and tile rows, start to end
                b0, r0 = item
                b1, r1 = min(n_batch, b0 + p.nb), min(tiles[0], r0 + p.rows)
                chunk = window(x[b0:b1], (starts[0] + r0 * ms[0],) + starts[1:],
                               ((r1 - r0) * ms[0] + qs[0] - 1,) + span)
                xl = np.ascontiguousarray(np.moveaxis(chunk, 1, -1))
                del chunk
                v = _input_transform(kernels, xl, transforms, (r1 - r0,) + tiles[1:])
                del xl
                rows = v.size // (points * c_in)
                mm = _products(v, u, points, rows, g)
                del v
                chunk_tiles = (r1 - r0,) + tiles[1:]
                blocked = _output_transform(kernels, mm.reshape(_chunk_shape(transforms, b1 - b0, chunk_tiles, -1)),
                                            transforms)
                del mm
                ublocks = ((r1 - r0) * ms[0],) + tuple(t * m for t, m in zip(tiles[1:], ms[1:]))
                if g == 1:
                    blocked = blocked.reshape((b1 - b0,) + ublocks + counts_r + (o1 - o0,))
                else:  # (o, r) -> (r, o)
                    blocked = np.moveaxis(blocked.reshape((b1 - b0,) + ublocks + (c_out,) + counts_r), nd + 1, -1)
                t0, t1 = r0 * ms[0], min(counts[0], r1 * ms[0])
                if shuffle_kernels is not None:
                    subpixel._shuffle_compiled(shuffle_kernels, y, b0, b1, blocked, _owner(blocked), maps, t0, t1,
                                               geom, channels=slice(o0, o1))
                else:
                    subpixel._shuffle(y[b0:b1, o0:o1], blocked, targets, t0, t1, geom)
            return work

        # each of p.workers threads runs whole chunks (its GEMMs on one core), or one chunk at a
        # time shares its GEMMs and transforms between the threads
        spread(start, items, p.workers)
    return y


def _products(v: np.ndarray, u: np.ndarray, points: int, rows: int, g: int) -> np.ndarray:
    """One GEMM per transform point, ``(rows x C_in/g) @ (C_in/g x width)`` (per group), stacked:
    ``(points, rows, g * width)``.

    The points go to :func:`.threads.spread`'s workers, each GEMM on one thread: two
    single-threaded GEMMs side by side keep both cores busy on shapes too small for
    OpenBLAS's own threads, which hand off work at every call.
    """
    width = u.shape[-1]
    mm = np.empty((points, rows, g, width), dtype=np.result_type(v, u))
    vg = v.reshape(points, rows, g, -1).transpose(0, 2, 1, 3)
    ug = u.reshape(points, g, -1, width)
    out = mm.transpose(0, 2, 1, 3)

    def start():
        def work(part: tuple[int, int]) -> None:
            np.matmul(vg[part[0]:part[1]], ug[part[0]:part[1]], out=out[part[0]:part[1]])
        return work

    threads = num_threads()
    spread(start, split(points, min(points, threads * 4)), threads)
    return mm.reshape(points, rows, g * width)


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (contiguous: the transforms' and GEMMs' results)."""
    while a.base is not None:
        a = a.base
    return a


def _chunk_shape(transforms: tuple[Transform, ...], nb: int, tiles: tuple[int, ...], last: int) -> tuple[int, ...]:
    """The shape of a chunk's transformed input or products: ``(alpha_{d-1}, ..., alpha_0, nb, *tiles, last)``."""
    return tuple(t.alpha for t in reversed(transforms)) + (nb,) + tiles + (last,)
