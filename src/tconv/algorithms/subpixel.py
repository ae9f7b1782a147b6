"""Sub-pixel convolution: one stride-1 correlation with ``prod(s) * C_out`` channels, then depth-to-space.

Write each full-result index as ``f = s*u + r`` (block ``u``, phase ``r``). Tap
``j`` with ``j*d = s*q + r`` sends input ``i`` to block ``u = i + q``, phase ``r``,
so per axis::

    Y[u, r, o] = sum_q sum_c x[u - q, c] * W_q[c, r, o]     W_q[c, r, o] = w[c, o, j]  if j*d = s*q + r, else 0
    y[s*u + r - lo] = Y[u, r]                                 depth-to-space (pixel shuffle), window

The first line is a stride-1 correlation of ``x`` with a ``Q = floor(d*(k-1)/s) + 1``
tap kernel whose output channels are ``(o, r)``: every phase of the phase
decomposition in one GEMM per chunk, ``prod(s)`` times wider than one phase's.
With ``k == s`` (U-Net) it is one GEMM and a pixel shuffle. Only the phases
some tap reaches take part (a dilation sharing a factor with the stride leaves
the others zero).

FLOPs: ``2 * N * C_in * C_out * prod(U) * prod(Q * |R|)`` with ``U`` the blocks
the window touches and ``R`` the live phases: the definition's count times
``prod(Q * |R| / k)`` (zero taps when ``s`` does not divide ``d*k``) and
``prod(U / n)`` (the edges; channels first, one sample's first and last block
rows multiply only by the axis-0 phases their outputs need).

Two layouts of the GEMM. Channels last, ``Y = columns @ W`` with the columns
copied from a channels-last copy of the input. Channels first (without groups,
at most :data:`FIRST_PHASES` phases on the last axis and :data:`FIRST_BLOCKS`
blocks per sample), ``Y^T = W^T @ columns`` with the columns copied from the
input as it is, and the shuffle reads each channel's phases in runs.
Extra memory (:func:`working_bytes`): the rearranged kernel
``prod(Q * |R|) * C_in/g * C_out`` and one chunk of the windowed input,
(channels last) its channels-last copy, the im2col buffer and the chunk of
``Y``: together at most :data:`SHARE` of the input plus output, or
:data:`CHUNK_BYTES` (one block row of one sample at least).
Time (:func:`estimate_seconds`): the GEMM at its shape's rate, the im2col copy,
the kernel's rearrangement and a transposing depth-to-space write of the output.
"""

from __future__ import annotations

import functools
import itertools
import math

from typing import NamedTuple

import numpy as np

from ..geometry import Geometry
from . import compiled, cost
from .common import correlate, iterator_bytes, to_conv_layout, window
from .threads import split

#: Largest chunk of the blocked result ``Y`` (bytes).
CHUNK_BYTES = 16 * 2**20
#: Most live phases on the last axis for the GEMM to run channels first (without groups; see
#: :func:`_columns_first`): the shuffle then reads as many runs side by side per output row, which
#: pays only while they are few (``docs/performance.md``, "subpixel's constants").
FIRST_PHASES = 4
#: Fewest blocks per sample for the GEMM to run channels first: its columns are copied in runs
#: of a block row, short on small inputs (``docs/performance.md``, "subpixel's constants").
FIRST_BLOCKS = 256
#: Share of input plus output bytes one chunk's copies may take (with the rearranged kernel).
SHARE = 0.75


def _sub_kernel(weight: np.ndarray, geom: Geometry) -> np.ndarray:
    """The correlation's weight ``(prod|R| * C_out, C_in/g, *Q)``.

    Channels are ordered ``(r, o)`` so that the shuffle reads ``C_out`` adjacent
    values; with groups, ``(o, r)`` keeps each group's channels together.
    Without groups it is a view of a ``(*Q, C_in, *|R|, C_out)`` array: the
    layout the correlation's GEMM reads, so no further copy of it is made.
    """
    nd = geom.ndim
    if geom.groups == 1 and all(a.dilation == 1 and a.kernel % a.stride == 0 for a in geom.axes):
        # tap j = s*(Q-1-q) + r on each axis: a reshape, a flip and one transposing copy
        c_in, c_out = weight.shape[:2]
        split = weight.reshape((c_in, c_out) + sum(((a.kernel // a.stride, a.stride) for a in geom.axes), ()))
        split = split[(slice(None), slice(None)) + (slice(None, None, -1), slice(None)) * nd]
        order = tuple(range(2, 2 + 2 * nd, 2)) + (0,) + tuple(range(3, 3 + 2 * nd, 2)) + (1,)
        flat = np.ascontiguousarray(split.transpose(order)).reshape(
            tuple(a.kernel // a.stride for a in geom.axes) + (c_in, -1))
        return flat.transpose((nd + 1, nd) + tuple(range(nd)))
    phases = [a.live_phases for a in geom.axes]
    qs = tuple(a.shifts for a in geom.axes)
    n_r = tuple(len(p) for p in phases)
    # per axis and tap: its phase's index and its flipped shift (the correlation reads x[u - q]
    # as x_win[t + Q-1-q])
    where = [
        [(p.index(j * a.dilation % a.stride), q - 1 - j * a.dilation // a.stride) for j in range(a.kernel)]
        for a, p, q in zip(geom.axes, phases, qs)
    ]
    # per axis, the phase index and shift of every tap, shaped to broadcast over the kernel's axes
    r_index = tuple(
        np.array([r for r, _ in w]).reshape((1,) * ax + (-1,) + (1,) * (nd - ax - 1)) for ax, w in enumerate(where)
    )
    q_index = tuple(
        np.array([q for _, q in w]).reshape((1,) * ax + (-1,) + (1,) * (nd - ax - 1)) for ax, w in enumerate(where)
    )
    if geom.groups == 1:
        c_in, c_out = weight.shape[:2]
        sub = np.zeros(qs + (c_in,) + n_r + (c_out,), dtype=weight.dtype)
        # every tap at once: the advanced indices broadcast to the kernel's shape, which NumPy
        # puts first (they are separated by a slice), so the value is the weight taps first
        sub[q_index + (slice(None),) + r_index] = np.moveaxis(weight, (0, 1), (nd, nd + 1))
        flat = sub.reshape(qs + (c_in, -1))
        return flat.transpose((nd + 1, nd) + tuple(range(nd)))
    w_conv = to_conv_layout(weight, geom.groups)  # (C_out, C_in/g, *k)
    sub = np.zeros((w_conv.shape[0],) + n_r + w_conv.shape[1:2] + qs, dtype=w_conv.dtype)
    sub[(slice(None),) + r_index + (slice(None),) + q_index] = np.moveaxis(w_conv, (0, 1), (nd, nd + 1))
    return sub.reshape((-1,) + sub.shape[1 + nd :])


class Chunks(NamedTuple):
    """How a call is cut (:func:`chunks`): ``nb`` samples by ``rows`` block rows of axis 0 per chunk."""

    first: bool  #: the GEMM channels first (``Y^T = W^T @ columns``), else channels last
    nb: int
    rows: int
    sub_values: int  #: elements of the rearranged kernel


def chunks(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> Chunks:
    """The chunks of samples and block rows whose copies stay within the budget.

    The budget is :data:`SHARE` of input plus output or :data:`CHUNK_BYTES`, less the
    rearranged kernel; what a block row holds: channels first, the window and the
    columns, then the columns and the blocked result; channels last, the window,
    its channels-last copy, the columns and the blocked result.
    """
    n_batch, c_in = x_shape[:2]
    c_out = weight_shape[1] * geom.groups
    counts = tuple(a.window_blocks[1] for a in geom.axes)
    qs = tuple(a.shifts for a in geom.axes)
    counts_r = tuple(len(a.live_phases) for a in geom.axes)
    sub_values = math.prod(qs) * math.prod(counts_r) * c_in // geom.groups * c_out
    first = geom.groups == 1 and counts_r[-1] <= FIRST_PHASES and math.prod(counts) >= FIRST_BLOCKS
    span = tuple(c + q - 1 for c, q in zip(counts[1:], qs[1:]))  # a chunk's window past axis 0
    blocks = math.prod(counts[1:])
    window_values = c_in * math.prod(span) / blocks
    columns, result = c_in * math.prod(qs) // geom.groups, c_out * math.prod(counts_r)
    row_values = math.ceil(blocks * (
        columns + max(window_values, result) if first else 2 * window_values + columns + result))
    in_bytes = n_batch * c_in * math.prod(geom.in_size) * itemsize
    out_bytes = n_batch * c_out * math.prod(geom.out_size) * itemsize
    budget = max(1, (min(CHUNK_BYTES, int((in_bytes + out_bytes) * SHARE)) - sub_values * itemsize) // itemsize)
    nb = max(1, min(n_batch, budget // (row_values * counts[0])))
    rows = counts[0] if nb > 1 else max(1, min(counts[0], budget // row_values))
    return Chunks(first, nb, rows, sub_values)


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> float:
    """Estimated seconds of a float32 call (the rates of :mod:`.cost`).

    A GEMM of ``prod(Q) * C_in/g`` by ``prod(|R|) * C_out/g`` over the blocks ``U``
    the window touches (``prod(Q |R| / k) * prod(U / n)`` times the definition's
    multiplies), the im2col copy, the weight read once per chunk and a transposing
    depth-to-space write of the output.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    g = geom.groups
    c_in_g, c_out = c_in // g, c_out_g * g
    positions = math.prod(geom.in_size)
    out_values = n_batch * c_out * math.prod(geom.out_size)
    weight_bytes = 4.0 * c_in * c_out_g * math.prod(geom.kernel)
    phases = [len(a.live_phases) for a in geom.axes]
    shifts = [a.shifts for a in geom.axes]
    blocks = [a.window_blocks[1] for a in geom.axes]
    rows = n_batch * math.prod(blocks)
    depth, width = math.prod(shifts) * c_in_g, math.prod(phases) * c_out_g
    budget = min(CHUNK_BYTES, SHARE * 4 * (n_batch * c_in * positions + out_values))
    parts = max(1, math.ceil(rows * width * g * 4 / budget))
    return (
        cost.gemm_seconds(2.0 * rows * depth * width * g, rows / parts, depth, width)
        + (rows * depth * g + n_batch * c_in * math.prod(b + q - 1 for b, q in zip(blocks, shifts))) * cost.COPY_S
        + parts * weight_bytes / cost.MEMORY_BYTES_PER_S
        + weight_bytes / 4 * cost.SHUFFLE_S  # the kernel rearranged into (Q, C_in, R, C_out), once per call
        + (  # the depth-to-space: one compiled pass, or NumPy assignments per phase combination
            out_values * cost.SHUFFLE_COMPILED_S if compiled_shuffle(geom)
            else out_values * cost.SHUFFLE_S + parts * math.prod(phases[:-1]) * 2 * cost.CALL_S
        )
    )


def working_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes a call allocates beyond its input and output (C-contiguous arrays of ``itemsize``), an upper bound.

    The rearranged kernel (with groups, while it is built, a regrouped copy of the
    weight too), then the largest chunk's window, its channels-last copy (channels
    last), its columns and its blocked result, as :func:`chunks` cuts them.
    """
    n_batch, c_in = x_shape[:2]
    c_out = weight_shape[1] * geom.groups
    plan = chunks(x_shape, weight_shape, geom, itemsize)
    counts = tuple(a.window_blocks[1] for a in geom.axes)
    qs = tuple(a.shifts for a in geom.axes)
    nb, rows = plan.nb, min(plan.rows, counts[0])
    window_ = nb * c_in * (rows + qs[0] - 1) * math.prod(c + q - 1 for c, q in zip(counts[1:], qs[1:]))
    blocks = nb * rows * math.prod(counts[1:])
    columns = blocks * math.prod(qs) * c_in // geom.groups
    result = blocks * c_out * math.prod(len(a.live_phases) for a in geom.axes)
    if plan.first:
        chunk = columns + max(window_, result)
    else:  # with groups, one tap's product at a time instead of the columns
        chunk = 2 * window_ + (columns if geom.groups == 1 else result) + result
    regrouped = c_in * weight_shape[1] * math.prod(geom.kernel) if geom.groups > 1 else 0
    return (plan.sub_values + max(regrouped, chunk)) * itemsize + iterator_bytes(itemsize)


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    nd = geom.ndim
    n_batch = x.shape[0]
    c_out = weight.shape[1] * geom.groups
    dtype = np.result_type(x, weight)
    phases = [a.live_phases for a in geom.axes]
    qs = tuple(a.shifts for a in geom.axes)
    firsts, counts = zip(*(a.window_blocks for a in geom.axes))
    dead = any(len(p) < a.stride for p, a in zip(phases, geom.axes))
    y = (np.zeros if dead else np.empty)((n_batch, c_out) + geom.out_size, dtype=dtype)
    sub = _sub_kernel(weight, geom)
    # x_win: the input blocks u - q for every block u the window touches, zero outside x, in chunks
    plan = chunks(x.shape, weight.shape, geom, dtype.itemsize)
    nb, rows = plan.nb, plan.rows
    w_t = None
    if plan.first:
        # Y^T = W^T @ columns: the columns are copied from x as it is (no channels-last copy),
        # and the shuffle reads each phase's blocks in runs side by side
        flat = sub.transpose(tuple(range(2, 2 + nd)) + (1, 0))  # (*Q, C_in, |R| * C_out), contiguous
        w_t = flat.reshape(-1, flat.shape[-1]).T
    starts = tuple(f - q + 1 for f, q in zip(firsts, qs))
    span = tuple(c + q - 1 for c, q in zip(counts[1:], qs[1:]))  # a chunk's window past axis 0
    counts_r = tuple(len(p) for p in phases)
    targets = _targets(geom)
    kernels = compiled.kernels() if compiled_shuffle(geom) else None
    maps = _maps(geom) if kernels is not None else None
    for b0 in range(0, n_batch, nb):
        b1 = min(n_batch, b0 + nb)
        for t0, t1 in split(counts[0], -(-counts[0] // rows)):  # as many chunks, of near-equal rows
            chunk = window(x[b0:b1], (starts[0] + t0,) + starts[1:], (t1 - t0 + qs[0] - 1,) + span)
            if w_t is not None:  # Y^T (channels first), viewed as (nb, *U, *R, C_out)
                cols = _columns_first(chunk, qs)
                del chunk  # freed before the GEMM
                base = _gemm_first(w_t, cols.reshape(w_t.shape[1], -1), targets[0], t0, t1 if b1 - b0 == 1 else None)
                del cols
                blocked = base.reshape(counts_r + (c_out, b1 - b0, t1 - t0) + counts[1:]).transpose(
                    (nd + 1,) + tuple(range(nd + 2, 2 * nd + 2)) + tuple(range(nd)) + (nd,))
            else:
                base = blocked = np.moveaxis(correlate(chunk, sub, (1,) * nd, (1,) * nd, geom.groups), 1, -1)
                if geom.groups > 1:  # (o, r) -> (r, o)
                    blocked = np.moveaxis(blocked.reshape(blocked.shape[:-1] + (c_out,) + counts_r), nd + 1, -1)
                else:
                    blocked = blocked.reshape(blocked.shape[:-1] + counts_r + (c_out,))
                del chunk  # freed before the shuffle
            if kernels is not None:
                _shuffle_compiled(kernels, y, b0, b1, blocked, base, maps, t0, t1, geom)
            else:
                _shuffle(y[b0:b1], blocked, targets, t0, t1, geom)
            del blocked, base  # freed before the next chunk's copies, not after them
    return y


def compiled_shuffle(geom: Geometry) -> bool:
    """Whether the depth-to-space runs compiled (``tconv[fast]``): up to 3-D, without groups."""
    return geom.groups == 1 and geom.ndim <= 3 and compiled.kernels() is not None


def _targets(geom: Geometry) -> list[list[tuple[int, int, range]]]:
    """Per axis and live phase ``(index, r, blocks)``: the blocks (relative to the window's
    first) whose phase-``r`` output is in the window."""
    return [
        [(ri, r, range(-(-(a.start - r) // a.stride) - f, (a.start + a.length - 1 - r) // a.stride - f + 1))
         for ri, r in enumerate(a.live_phases)]
        for a, f in zip(geom.axes, (a.start // a.stride for a in geom.axes))
    ]


@functools.lru_cache(maxsize=64)
def _maps(geom: Geometry) -> np.ndarray:
    """Per (padded) axis and output index: its block (from the window's first) and live phase
    index, ``-1`` for a phase no tap reaches; shape ``(3, max L, 2)`` (cached: a layer repeats)."""
    targets = _targets(geom)
    lengths = (1,) * (3 - geom.ndim) + geom.out_size
    maps = np.zeros((3, max(lengths), 2), dtype=np.int64)
    maps[:, :, 1] = -1
    maps[: 3 - geom.ndim, 0, 1] = 0  # padded axes: one output, block 0, phase 0
    for ax, (a, axis_targets) in enumerate(zip(geom.axes, targets)):
        first = a.start // a.stride
        for ri, r, blocks in axis_targets:
            for u in blocks:
                f = (u + first) * a.stride + r - a.start
                maps[3 - geom.ndim + ax, f] = (u, ri)
    maps.setflags(write=False)
    return maps


def _columns_first(x: np.ndarray, qs: tuple[int, ...]) -> np.ndarray:
    """The columns of a valid stride-1 correlation of ``x`` ``(N, C_in, *m)`` with ``Q`` taps,
    channels first: ``(*Q, C_in, N, *out)``, one strided copy of ``x`` per tap (the GEMM's
    ``W^T`` has its columns ordered tap, channel)."""
    out = tuple(m - q + 1 for m, q in zip(x.shape[2:], qs))
    cols = np.empty(qs + (x.shape[1], x.shape[0]) + out, dtype=x.dtype)
    for j in np.ndindex(*qs):
        cols[j] = x[(slice(None), slice(None)) + tuple(slice(ji, ji + o) for ji, o in zip(j, out))].swapaxes(0, 1)
    return cols


def _gemm_first(w_t: np.ndarray, cols: np.ndarray, targets, t0: int, t1: int | None) -> np.ndarray:
    """``w_t @ cols``; for one sample's block rows ``t0:t1``, only the axis-0 phases each row's
    outputs need (the rows of ``w_t`` are ordered ``(r0, ...)``: a phase's rows are contiguous).

    The window's edge blocks reach only some of their phases (k4 s2 p1: the first and last
    block row one of two); the rest of ``Y^T`` is left unset, and the shuffle never reads it.
    """
    if t1 is None or len(targets) == 1:
        return np.matmul(w_t, cols)
    per_phase = w_t.shape[0] // len(targets)
    per_row = cols.shape[1] // (t1 - t0)
    groups: list[list] = []  # [first live phase index, last + 1, first row, last row + 1]
    for u in range(t0, t1):
        need = [ri for ri, _, blocks in targets if u in blocks]
        if not need:
            continue
        if groups and groups[-1][:2] == [need[0], need[-1] + 1] and groups[-1][3] == u:
            groups[-1][3] = u + 1
        else:
            groups.append([need[0], need[-1] + 1, u, u + 1])
    if len(groups) == 1 and groups[0] == [0, len(targets), t0, t1]:
        return np.matmul(w_t, cols)
    base = np.empty((w_t.shape[0], cols.shape[1]), dtype=np.result_type(w_t, cols))
    for ra, rb, ua, ub in groups:  # the live phases of each axis are consecutive indices
        rows = slice(ra * per_phase, rb * per_phase)
        part = slice((ua - t0) * per_row, (ub - t0) * per_row)
        np.matmul(w_t[rows], cols[:, part], out=base[rows, part])
    return base


def _shuffle_compiled(kernels, y: np.ndarray, b0: int, b1: int, blocked: np.ndarray, base: np.ndarray,
                      maps: np.ndarray, t0: int, t1: int, geom: Geometry, channels: slice = slice(None)) -> None:
    """:func:`_shuffle` into samples ``b0:b1`` (and ``channels``) of ``y`` by the compiled kernel (``tconv[fast]``).

    On one thread: it follows the chunk's GEMM, after which OpenBLAS's idle thread
    spins for a while on the other core (``docs/performance.md``, "subpixel's constants")."""
    nd = geom.ndim
    pad = 3 - nd
    lengths = (1,) * pad + geom.out_size
    limits = np.array([0, 1] * pad + [t0, t1] + [0, 1 << 40] * (nd - 1), dtype=np.int64)
    yf, ys = compiled.flat(compiled.as_3d(y[b0:b1, channels], nd, 2), y)
    bf, strides = compiled.flat(blocked, base)
    # (b, u0, u1, u2, r0, r1, r2, o) strides, padded axes (one block, one phase) stride 0, and C_out
    bs = np.array([strides[0]] + [0] * pad + list(strides[1 : 1 + nd]) + [0] * pad + list(strides[1 + nd :])
                  + [blocked.shape[-1]], dtype=np.int64)
    kernels.shuffle(yf, ys, bf, bs, maps, np.array(lengths, dtype=np.int64), limits, 0, (b1 - b0) * lengths[0])


def _shuffle(y: np.ndarray, blocked: np.ndarray, targets, t0: int, t1: int, geom: Geometry) -> None:
    """Depth-to-space: ``y[:, :, s*u + r - lo] = blocked[:, u, r, :]`` for blocks ``t0 <= u < t1``.

    ``blocked`` is ``(nb, *U, *|R|, C_out)``. Along the last axis, adjacent phases
    with the same blocks go in one assignment (a strided view of ``s`` by phase).
    """
    nd = geom.ndim
    last = geom.axes[-1]
    runs = []  # (first phase index, phases, blocks) along the last axis
    for ri, r, us in targets[-1]:
        if runs and runs[-1][2] == us and targets[-1][runs[-1][0] + runs[-1][1] - 1][1] == r - 1:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, us)
        else:
            runs.append((ri, 1, us))
    step = y.strides[-1]
    for combo in itertools.product(*targets[:-1]):
        src, dst = [], []
        for ax, ((_, r, us), a) in enumerate(zip(combo, geom.axes)):
            lo_u, hi_u = (max(us.start, t0), min(us.stop, t1)) if ax == 0 else (us.start, us.stop)
            if hi_u <= lo_u:
                break
            first = (lo_u + a.start // a.stride) * a.stride + r - a.start
            src.append(slice(lo_u - (t0 if ax == 0 else 0), hi_u - (t0 if ax == 0 else 0)))
            dst.append(slice(first, first + (hi_u - lo_u - 1) * a.stride + 1, a.stride))
        else:
            for ri, m, us in runs:
                lo_u, hi_u = (max(us.start, t0), min(us.stop, t1)) if nd == 1 else (us.start, us.stop)
                if hi_u <= lo_u:
                    continue
                r = targets[-1][ri][1]
                first = (lo_u + last.start // last.stride) * last.stride + r - last.start
                shift = t0 if nd == 1 else 0
                val = blocked[(slice(None),) + tuple(src) + (slice(lo_u - shift, hi_u - shift),)
                              + tuple(c[0] for c in combo) + (slice(ri, ri + m), slice(None))]
                base = y[(slice(None), slice(None)) + tuple(dst) + (slice(first, None),)]
                out = np.lib.stride_tricks.as_strided(
                    base, shape=base.shape[:-1] + (hi_u - lo_u, m), strides=base.strides[:-1] + (last.stride * step, step)
                )
                out[...] = np.moveaxis(val, -1, 1)
