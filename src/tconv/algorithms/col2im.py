"""GEMM + col2im: the Caffe / ONNX Runtime / PyTorch CPU formulation, batched and chunked.

Per group ``g``, with ``W_g`` the group's ``(C_in/g, C_out/g * prod(k))`` weight::

    cols[(j, o), (b, i)] = sum_c w[c, o, j] * x[b, c, i]        one GEMM: W_g^T X_g
    y[b, o, i*s + j*d - lo] += cols[(j, o), (b, i)]             col2im: add each tap's columns back

keeping only the positions inside the window ``0 <= i*s + j*d - lo < L``.

The GEMM runs on as many columns as the memory budget allows: one per sample
straight from the input when a sample has at least :data:`DIRECT_POSITIONS`
positions, else on an input copied once to ``(C_in, N * prod(n))`` so that small
spatial layers (DCGAN's 4x4) still make one wide GEMM per chunk: few large BLAS
calls, each a single synchronisation of the BLAS threads. The column
buffer is cut into chunks of samples and taps of at most :data:`CHUNK_BYTES`
(and never more than half the output), so the extra memory stays below the input
plus the output instead of ``prod(k/s)`` times the output. The tap additions
go straight into the output window (no full result, no crop copy) and are
shared between threads by sample or channel range: NumPy's element-wise work is
single-threaded, the GEMM already uses every BLAS thread. A tap that lands on
every output of its phase (``t = r (mod s)``) assigns instead of adding; when
each phase of the window has such a tap (``k >= s`` with ``d == 1`` and the
window inside the full result, as in DCGAN's ``k4 s2 p1``), the output needs no
zeros. With ``k == s`` every tap assigns: one GEMM plus a pixel shuffle.

With many chunks (at least :data:`.threads.SPREAD_CHUNKS` per thread, each
planned for its share of the budget), every thread does whole chunks instead
(:func:`.threads.spread`): a one-thread GEMM and then that chunk's additions,
while the other thread works on another chunk: OpenBLAS's idle threads spin for
a while after each GEMM, on the cores shared additions would need
(``docs/performance.md``, "Threads").

FLOPs: ``2 * N * C_in * (C_out/g) * prod(n) * prod(k)``, all in GEMMs.
Extra memory (:func:`working_bytes`): one column chunk (at most
``min(CHUNK_BYTES, output / 2)`` over all threads) plus a copy of the input (none
with wide samples); the compiled path's chunk, column buffer and input copy
together, at most ``min(CHUNK_BYTES, 3/4 (input + output))``; depthwise layers
one block of products and accumulators per thread.
Time (:func:`estimate_seconds`): the GEMM at its shape's rate, the strided
additions (their inner loops run along the input's last axis, so short rows are
slow) into a zero-filled output (none when every tap assigns), or, compiled, one
pass per chunk adding every column element.

With one input channel per group (depthwise), the GEMM is a scalar product:
each tap is multiplied and added in place instead (the assigning taps multiply
straight into the output).

With ``tconv[fast]`` (numba), the additions are one compiled pass per output
plane (:mod:`.compiled`): every tap of the plane summed in cache, then written
once. The chunks are then planned for the GEMM alone (:func:`compiled_plan`),
and depthwise layers run a compiled loop too. On short input rows the columns
are ordered so that the pass adds runs of channels (:func:`last_plan`,
:func:`_channels_last`) or of samples (:func:`batch_runs`) instead, and samples
of :data:`SAMPLE_POSITIONS` or more make one GEMM each, with no copy. Layers with
``k == s`` and layers of more than three spatial axes keep the NumPy path
described above.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple, Sequence

import numpy as np

from ..geometry import Geometry
from . import compiled, cost
from .common import iterator_bytes
from .taps import Placement, placements
from .threads import SPREAD_CHUNKS, num_threads, parallel_for, split, spread

#: Least input positions per sample for one GEMM per sample (no copy of the input): below
#: it the samples go side by side in a copy, for wider GEMMs.
DIRECT_POSITIONS = 256
#: Largest column chunk (bytes): about an L3 cache, so the additions read it warm.
CHUNK_BYTES = 16 * 2**20
#: Output bytes of one depthwise block: inside the L3 cache, yet few NumPy calls per output.
BLOCK_BYTES = 2 * 2**20
#: Least additions per tap (elements) worth splitting over threads: below it the
#: threads mostly wait for each other's Python overhead.
MIN_PARALLEL = 2**15


def exact_cover(geom: Geometry) -> bool:
    """Every output receives exactly one tap: ``k == s``, ``d == 1``, window inside the full result."""
    return all(
        a.kernel == a.stride and a.dilation == 1 and 0 <= a.start and a.start + a.length <= a.full
        for a in geom.axes
    )


def plan(
    n_batch: int, groups: int, c_out_g: int, taps: int, positions: int, out_bytes: int, itemsize: int,
    workers: int = 1,
) -> tuple[int, int]:
    """Chunk of the column buffer: ``nb`` samples by ``oc`` output channels per group.

    At most ``min(CHUNK_BYTES, out_bytes / 2) / workers`` bytes (each worker has its
    own buffer), whole samples first (wider GEMMs).
    """
    budget = max(1, min(CHUNK_BYTES, out_bytes // 2) // workers)
    channel_bytes = groups * taps * positions * itemsize  # one output channel per group, one sample
    nb = max(1, min(n_batch, budget // (c_out_g * channel_bytes)))
    oc = c_out_g if nb > 1 else max(1, min(c_out_g, budget // channel_bytes))
    return nb, oc


def numpy_chunks(n_batch: int, groups: int, c_out_g: int, taps: int, positions: int, out_bytes: int,
                 itemsize: int) -> tuple[int, int, int]:
    """The NumPy path's chunk ``(nb, oc)`` (:func:`plan`) and its workers: the threads each take
    whole chunks when there are enough (:func:`spread_plan`), else 1."""
    nb, oc = plan(n_batch, groups, c_out_g, taps, positions, out_bytes, itemsize)
    threads = num_threads()
    # the chunks hold every group, so they count as one group
    own = spread_plan(threads, n_batch, c_out_g, 1,
                      lambda parts: plan(n_batch, groups, c_out_g, taps, positions, out_bytes, itemsize, parts))
    return own + (threads,) if own else (nb, oc, 1)


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    kernels = compiled_kernels(geom)
    if kernels is not None:
        return _compiled(x, weight, geom, kernels)
    return _numpy(x, weight, geom)


def compiled_kernels(geom: Geometry):
    """The compiled kernels when they serve this geometry, else ``None`` (the NumPy path).

    With ``k == s`` (:func:`exact_cover`) every tap assigns a whole phase: NumPy's
    strided assignments are as fast as a compiled pass there, so that case keeps them.
    """
    kernels = compiled.kernels()  # first: a bad TCONV_KERNELS is reported whatever the geometry
    if kernels is None or exact_cover(geom) or not compiled.supported(geom):
        return None
    return kernels


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> float:
    """Estimated seconds of a float32 call on the path that will run (the rates of :mod:`.cost`).

    A GEMM of ``taps * C_out/g`` rows by ``C_in/g`` on the planned chunks, then
    ``N * C_out * prod(n) * prod(k)`` additions: NumPy's strided ones (one call per
    tap and chunk, inner loops along the input's last axis, into a zero-filled
    output unless every tap assigns), or the compiled pass (runs along the rows, the
    channels or the samples, plus a fixed cost per chunk and the copies of the
    columns' layout). Depthwise layers: a product and an addition per tap, no GEMM.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    g = geom.groups
    c_in_g, c_out = c_in // g, c_out_g * g
    taps = math.prod(geom.kernel)
    positions = math.prod(geom.in_size)
    direct = 2.0 * n_batch * c_in * c_out_g * positions * taps
    out_values = n_batch * c_out * math.prod(geom.out_size)
    added = n_batch * c_out * positions * taps
    compiled_path = compiled_kernels(geom) is not None
    if c_in_g == 1 and n_batch * c_out_g > 1:  # depthwise (as conv_transpose runs it): a product and an
        # addition per tap, no GEMM; one plane in all takes the GEMM path below, priced as such
        if compiled_path:
            return added * cost.DEPTHWISE_S + out_values * cost.KERNEL_S
        return added * (2 * cost.ADD_S + cost.ADD_ROW_S / geom.in_size[-1]) + taps * cost.CALL_S
    if not compiled_path:
        nb, oc = plan(n_batch, g, c_out_g, taps, positions, 4 * out_values, 4)
        chunks = -(-n_batch // nb) * -(-c_out_g // oc)
        return (
            cost.gemm_seconds(direct, oc * taps, c_in_g, nb * positions)
            + chunks * taps * cost.CALL_S
            + added * (cost.ADD_S * (0.5 if exact_cover(geom) else 1.0) + cost.ADD_ROW_S / geom.in_size[-1])
            + (0 if exact_cover(geom) else out_values * cost.ZERO_S)
        )
    weight_bytes = 4.0 * c_in * c_out_g * taps
    limit = compiled_limit(4 * n_batch * c_in * positions, 4 * out_values)
    last = last_plan(geom, n_batch, c_in_g, c_out_g, limit, 4)
    nb, oc = last or compiled_plan(n_batch, c_in_g, c_out_g, taps, positions, limit, 4)
    chunks = -(-n_batch // nb) * -(-c_out_g // oc)
    # a plane too large for all its taps' columns goes a few taps at a time (compiled_chunks), each
    # part zeroing a plane-sized accumulator and adding it to the output: two passes per part
    tc = taps if last or oc * taps * nb * positions * 4 <= limit else max(1, limit // (positions * 4))
    parts = -(-taps // tc)
    return (
        cost.COMPILED_GEMM * cost.gemm_seconds(direct, oc * taps, c_in_g, nb * positions)
        + (n_batch * c_in * positions * cost.COPY_S if side_by_side(nb, positions) else 0.0)
        + chunks * g * cost.CHUNK_S
        + added * (cost.KERNEL_S + cost.KERNEL_ROW_S / compiled_run(geom, nb, oc, last is not None))
        # channels-last: the weight reordered once, the input copied once per chunk of channels
        + ((weight_bytes / 4 + n_batch * c_in * positions * (-(-c_out_g // oc) - 1)) * cost.COPY_S if last else 0.0)
        + (parts * out_values * (cost.ZERO_S + cost.ADD_S) if parts > 1 else 0.0)
    )


def working_bytes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry, itemsize: int) -> int:
    """Bytes a call allocates beyond its input and output (C-contiguous arrays of ``itemsize``), an upper bound.

    The column buffers of the chunks in flight (one per worker), the input copies
    that put samples side by side, the channels-last weight; depthwise layers one
    block of products and accumulators per thread; the compiled loops' own
    accumulators (a phase-split output plane, or a slab of :data:`SLAB_BYTES`, per
    thread); NumPy's iterator buffers, per thread.
    """
    n_batch, c_in = x_shape[:2]
    c_out_g = weight_shape[1]
    g = geom.groups
    c_in_g = c_in // g
    taps, positions = math.prod(geom.kernel), math.prod(geom.in_size)
    in_bytes = n_batch * c_in * positions * itemsize
    out_bytes = n_batch * g * c_out_g * math.prod(geom.out_size) * itemsize
    kernels = compiled_kernels(geom)
    threads = num_threads()
    buffers = iterator_bytes(itemsize, threads)
    padded = (1,) * (3 - geom.ndim) + geom.out_size
    if c_in_g == 1 and n_batch * c_out_g > 1:
        if kernels is not None:  # one phase-split output row per thread
            return threads * (padded[2] + geom.stride[-1]) * itemsize
        group_bytes = c_out_g * math.prod(geom.out_size) * itemsize
        per_block = max(1, min(g, BLOCK_BYTES // group_bytes))
        phases = _phases(geom)
        largest = math.prod(max(sizes) for sizes in zip(*(size for _, size, _ in phases))) if phases else 1
        blocks = min(threads, n_batch * -(-g // per_block))
        return blocks * per_block * c_out_g * (positions + largest) * itemsize + buffers
    if kernels is None:
        nb, oc, workers = numpy_chunks(n_batch, g, c_out_g, taps, positions, out_bytes, itemsize)
        copy = in_bytes if positions < DIRECT_POSITIONS else 0
        return workers * nb * g * oc * taps * positions * itemsize + copy + buffers
    chunk = compiled_chunks(geom, n_batch, c_in_g, c_out_g, in_bytes, out_bytes, itemsize)
    nb, oc = chunk.nb, chunk.oc
    slab = chunk.threads * max(SLAB_BYTES, padded[2] * max(nb, oc) * itemsize)  # col2im_runs' accumulators
    if chunk.channels_last:
        copy = nb * positions * c_in_g if nb > 1 else 0
        return chunk.workers * (nb * positions * taps * oc + c_in_g * taps * oc + copy) * itemsize + slab + buffers
    copy = c_in_g * nb * positions if side_by_side(nb, positions) else 0
    strides = ((1,) * (3 - geom.ndim) + geom.stride)[1:]
    plane = padded[0] * math.prod(s * -(-m // s) for m, s in zip(padded[1:], strides))  # col2im's accumulator
    return (chunk.workers * (nb * oc * chunk.tc * positions + copy) * itemsize
            + (slab if chunk.batch_last else chunk.threads * plane * itemsize) + buffers)


#: Input positions from which a sample makes its own GEMM into its columns of the chunk,
#: instead of being copied side by side with the others: with few GEMM rows the wide GEMM
#: re-packs the whole copy for little arithmetic (``docs/performance.md``, "Compiled loops").
SAMPLE_POSITIONS = 1024


def spread_plan(threads: int, n_batch: int, c_out_g: int, groups: int,
                plan_for: Callable[[int], tuple[int, int] | None]) -> tuple[int, int] | None:
    """The chunk ``(nb, oc)`` for giving each of ``threads`` threads whole chunks
    (:func:`.threads.spread`), or ``None`` to share each chunk between them.

    ``plan_for(parts)`` plans a chunk within ``1/parts`` of the memory budget (each
    thread holds its own buffers), ``None`` when none fits. The threads get whole
    chunks when that plan makes at least :data:`.threads.SPREAD_CHUNKS` chunks per
    thread (``groups`` times the chunks of samples and channels).
    """
    if threads <= 1:
        return None
    chunk = plan_for(threads)
    if chunk is None or groups * -(-n_batch // chunk[0]) * -(-c_out_g // chunk[1]) < SPREAD_CHUNKS * threads:
        return None
    return chunk


def side_by_side(nb: int, positions: int) -> bool:
    """Whether a chunk of ``nb`` samples of ``positions`` each is copied side by side for one
    wide GEMM (below :data:`SAMPLE_POSITIONS`), rather than one GEMM per sample from the input."""
    return nb > 1 and positions < SAMPLE_POSITIONS


def compiled_limit(in_bytes: int, out_bytes: int) -> int:
    """Bytes one chunk of the compiled path may hold (column buffer plus input copy): at most
    :data:`CHUNK_BYTES` and three quarters of input plus output, so the call's extra memory
    stays below the size of its input and output."""
    return max(1, min(CHUNK_BYTES, (in_bytes + out_bytes) * 3 // 4))


def compiled_plan(
    n_batch: int, c_in_g: int, c_out_g: int, taps: int, positions: int, limit: int, itemsize: int
) -> tuple[int, int]:
    """Chunk of the compiled path: ``nb`` samples by ``oc`` output channels (per group).

    The GEMM is ``(oc * taps, C_in/g) @ (C_in/g, nb * prod(n))``; among the chunks
    whose column buffer (plus the copy that puts ``nb > 1`` samples side by side) fits
    ``limit`` bytes, the one with the least estimated time: the GEMM at
    :func:`.cost.gemm_efficiency` of its shape, plus the copy and a fixed cost per
    chunk (the rates of :mod:`.cost`). Samples of at least
    :data:`SAMPLE_POSITIONS` positions are not copied: each makes its own GEMM into its
    columns of the chunk.
    """
    def halvings(n: int) -> list[int]:
        out = [n]
        while n > 1:
            n = -(-n // 2)
            out.append(n)
        return out

    flops = 2.0 * n_batch * c_in_g * c_out_g * taps * positions
    best, best_s = (1, 1), math.inf
    for nb in halvings(n_batch):
        side = side_by_side(nb, positions)
        copy = c_in_g * nb * positions if side else 0
        for oc in halvings(c_out_g):
            if (oc * taps * nb * positions + copy) * itemsize > limit:
                continue
            chunks = -(-n_batch // nb) * -(-c_out_g // oc)
            seconds = (
                flops / (cost.PLAN_GEMM_FLOPS_PER_S * cost.gemm_efficiency(oc * taps, nb * positions if side else positions))
                + (n_batch * c_in_g * positions * cost.PLAN_COPY_S if copy else 0.0)
                + chunks * cost.CHUNK_S
            )
            if seconds < best_s:
                best, best_s = (nb, oc), seconds
    return best


class Chunks(NamedTuple):
    """How the compiled path cuts a layer (:func:`compiled_chunks`)."""

    nb: int  #: samples per chunk
    oc: int  #: output channels (per group) per chunk
    tc: int  #: taps per chunk (fewer than all when one channel's columns exceed the limit)
    workers: int  #: threads doing whole chunks (:func:`.threads.spread`), else 1
    threads: int  #: threads for the element-wise work
    channels_last: bool  #: channels-last columns (:func:`last_plan`)
    batch_last: bool  #: batch-last columns (:func:`batch_runs`)


def compiled_chunks(geom: Geometry, n_batch: int, c_in_g: int, c_out_g: int, in_bytes: int, out_bytes: int,
                    itemsize: int) -> Chunks:
    """The chunks of the compiled path (all but depthwise layers), within :func:`compiled_limit`.

    Channels-last columns when :func:`last_plan` takes the layer; else planar (or
    batch-last) columns of :func:`compiled_plan`, a few taps at a time when one
    sample's taps of one channel exceed the limit (FSRCNN: 81 taps of a 64x64
    input, one channel; each part's sum is added to the output). Either way the
    threads take whole chunks when there are enough (:func:`spread_plan`).
    """
    g, taps, positions = geom.groups, math.prod(geom.kernel), math.prod(geom.in_size)
    limit = compiled_limit(in_bytes, out_bytes)
    last = last_plan(geom, n_batch, c_in_g, c_out_g, limit, itemsize)
    if last is not None:
        threads = num_threads()
        own = spread_plan(threads, n_batch, c_out_g, g,
                          lambda parts: last_plan(geom, n_batch, c_in_g, c_out_g, limit // parts, itemsize))
        nb, oc = own or last
        return Chunks(nb, oc, taps, threads if own else 1, threads, True, False)
    nb, oc = compiled_plan(n_batch, c_in_g, c_out_g, taps, positions, limit, itemsize)
    tc = taps if oc * taps * nb * positions * itemsize <= limit else max(1, limit // (positions * itemsize))
    # the thread count only when there is something to share: reading it costs a noticeable
    # share of a small layer's call after a pause (docs/performance.md, "Threads")
    threads = num_threads() if tc == taps or nb * oc > 1 else 1

    def worker_plan(parts: int) -> tuple[int, int] | None:  # every tap in one chunk, or no plan
        nb_w, oc_w = compiled_plan(n_batch, c_in_g, c_out_g, taps, positions, limit // parts, itemsize)
        return (nb_w, oc_w) if oc_w * taps * nb_w * positions * itemsize <= limit // parts else None

    own = spread_plan(threads, n_batch, c_out_g, g, worker_plan) if tc == taps else None
    nb, oc = own or (nb, oc)
    return Chunks(nb, oc, tc, threads if own else 1, threads, False, tc == taps and batch_runs(geom, nb))


def _compiled(x: np.ndarray, weight: np.ndarray, geom: Geometry, kernels) -> np.ndarray:
    """The GEMMs as in :func:`_numpy`, every tap's columns added by one compiled pass per chunk.

    The compiled pass adds all taps into one output plane while it is in cache (and
    zeroes it there when the taps leave gaps), so the chunk shape can serve the GEMM:
    wide column blocks of whole samples side by side, all output channels when they fit.
    """
    g, nd = geom.groups, geom.ndim
    n_batch, c_in = x.shape[:2]
    c_in_g, c_out_g = c_in // g, weight.shape[1]
    n, taps = geom.in_size, math.prod(geom.kernel)
    positions = math.prod(n)
    dtype = np.result_type(x, weight)
    tab, covered = compiled.table(geom)
    y = np.empty((n_batch, g * c_out_g) + geom.out_size, dtype=dtype)
    if c_in_g == 1 and n_batch * c_out_g > 1:
        x, weight = np.ascontiguousarray(x), np.ascontiguousarray(weight)
        y6 = compiled.as_3d(y.reshape((n_batch, g, c_out_g) + geom.out_size), nd, 3)
        yf, ys = compiled.flat(y6, y)
        xf, xs = compiled.flat(compiled.as_3d(x.reshape((n_batch, g) + n), nd, 2), x)
        wf, ws = compiled.flat(weight.reshape(g, c_out_g, taps), weight)
        shape = np.array(y6.shape, dtype=np.int64)
        rows_a, rows_b, last, kernel = compiled.depthwise_tables(geom)
        parallel_for(lambda r: kernels.depthwise(yf, ys, xf, xs, wf, ws, shape, rows_a, rows_b, last, kernel, r[0], r[1]),
                     split(n_batch * g * c_out_g, num_threads()))
        return y
    chunk = compiled_chunks(geom, n_batch, c_in_g, c_out_g, x.nbytes, y.nbytes, dtype.itemsize)
    nb, oc, tc, workers = chunk.nb, chunk.oc, chunk.tc, chunk.workers
    if chunk.channels_last:
        _channels_last(x, weight, geom, kernels, y, nb, oc, workers)
        return y
    batch_last = chunk.batch_last
    pass_threads = 1 if workers > 1 else chunk.threads  # for each chunk's additions
    chunks = [(gi, b0, b1, o0, o1, t0, t1) for gi in range(g) for b0, b1 in split(n_batch, -(-n_batch // nb))
              for o0, o1 in split(c_out_g, -(-c_out_g // oc)) for t0, t1 in split(taps, -(-taps // tc))]
    w_mat = weight.reshape(g, c_in_g, c_out_g * taps).transpose(0, 2, 1)  # W^T per group: a view
    xg = x.reshape(n_batch, g, c_in_g, positions)
    in3 = (1,) * (3 - nd) + n
    y5 = compiled.as_3d(y, nd, 2)
    strides = ((1,) * (3 - nd) + geom.stride)[1:]  # of the last two (padded) axes

    def start():
        buffer = np.empty(nb * oc * tc * positions, dtype=dtype)  # reused: no page faults per chunk
        copied = [None, None]  # the samples last copied side by side, and the copy

        def work(chunk) -> None:
            gi, b0, b1, o0, o1, t0, t1 = chunk
            if not side_by_side(b1 - b0, positions):
                xs = xg[b0:b1, gi]  # views: one GEMM per sample
            elif copied[0] == (gi, b0, b1):
                xs = copied[1]
            else:  # the samples side by side, (C_in/g, nb * prod(n)), or batch-last (C_in/g, prod(n), nb)
                copied[:] = None, None  # the old copy freed first
                xs = np.ascontiguousarray(
                    xg[b0:b1, gi].transpose(1, 2, 0) if batch_last else xg[b0:b1, gi].transpose(1, 0, 2)
                ).reshape(1, c_in_g, -1)
                copied[:] = (gi, b0, b1), xs
            rows = slice(o0 * taps + t0, o0 * taps + t1) if tc < taps else slice(o0 * taps, o1 * taps)
            cols = buffer[: (o1 - o0) * (t1 - t0) * (b1 - b0) * positions].reshape((o1 - o0) * (t1 - t0), -1)
            width = cols.shape[1] // len(xs)
            for j, xj in enumerate(xs):  # into the sample's columns: a strided output BLAS takes as is
                np.matmul(w_mat[gi, rows], xj, out=cols[:, j * width : (j + 1) * width])
            target = y5[b0:b1, gi * c_out_g + o0 : gi * c_out_g + o1]
            if batch_last:  # cols[(o, t), i, b]: items are channels, runs are samples
                _add_runs(kernels, y, target, buffer, geom, channels_last=False)
                return
            c6 = cols.reshape((o1 - o0, t1 - t0, b1 - b0) + in3).transpose(2, 0, 1, 3, 4, 5)
            yf, ys = compiled.flat(target, y)
            cf, cs = compiled.flat(c6, buffer)
            shape = np.array(target.shape + strides, dtype=np.int64)
            part_tab = tab if tc == taps else compiled.tap_slice(geom, t0, t1)
            zero, add = (not covered, False) if tc == taps else (True, t0 > 0)
            parallel_for(lambda r: kernels.col2im(yf, ys, cf, cs, shape, part_tab, zero, add, r[0], r[1]),
                         split((b1 - b0) * (o1 - o0), pass_threads))

        return work

    spread(start, chunks, workers)
    return y


#: The input rows below which the compiled path takes channels-last columns (:func:`last_plan`).
SHORT_ROWS = 8
#: ... and at least this many input positions (over the batch) per input channel.
POSITIONS_PER_CHANNEL = 16
#: Least samples side by side for batch-last columns (runs of samples) on short input rows.
BATCH_RUNS = 16
#: Bytes of one work item's accumulator in :func:`_channels_last`: inside a core's L2 cache.
SLAB_BYTES = 128 * 2**10


def last_plan(geom: Geometry, n_batch: int, c_in_g: int, c_out_g: int, limit: int,
              itemsize: int) -> tuple[int, int] | None:
    """Chunk ``(nb, oc)`` of channels-last columns (:func:`_channels_last`), or ``None`` when the
    planar columns serve better.

    Planar columns add runs as long as the input's rows: a few elements on small
    inputs (the Keras generator's 7x7). Channels-last columns add runs of ``oc``
    channels, so they serve layers whose input rows are shorter than
    :data:`SHORT_ROWS`, with at least 16 output channels per group and
    :data:`POSITIONS_PER_CHANNEL` input positions (over the batch) per input channel:
    the weight they reorder is then small next to the columns (DCGAN's 1024->512
    4x4 layer is not: ``docs/performance.md``, "Compiled loops"). ``oc`` is as many
    channels as keep one output row of the accumulator within :data:`SLAB_BYTES`
    (fewer, down to 16, until a sample fits), ``nb`` as many samples as fit ``limit``
    together with their channels-last input copy and the chunk's reordered weight.
    """
    taps, positions = math.prod(geom.kernel), math.prod(geom.in_size)
    if geom.in_size[-1] >= SHORT_ROWS or c_out_g < 16 or n_batch * positions < POSITIONS_PER_CHANNEL * c_in_g:
        return None
    oc = max(16, min(c_out_g, SLAB_BYTES // (geom.out_size[-1] * itemsize)))
    while True:  # fewer channels per chunk until one sample fits
        nb = min(n_batch, (limit // itemsize - c_in_g * taps * oc) // (positions * (taps * oc + c_in_g)))
        if nb >= 1:
            return nb, oc
        if oc == 16:
            return None
        oc = max(16, oc // 2)


def _channels_last(x: np.ndarray, weight: np.ndarray, geom: Geometry, kernels, y: np.ndarray,
                   nb: int, oc: int, workers: int) -> None:
    """The compiled path with channels-last columns: ``cols[(b, i), (t, o)] = X^T W``.

    Per group and chunk of ``oc`` output channels, the weight is reordered to
    ``(C_in/g, taps, oc)``; per block of ``nb`` samples the input is copied
    channels-last, ``(nb * prod(n), C_in/g)`` (a view for one sample), and one GEMM
    makes the block's columns. ``compiled.col2im_runs`` adds them up, a slab
    of output rows per work item, and writes ``y``. With ``workers > 1`` each
    thread does whole chunks (:func:`.threads.spread`), reordering the weight of
    the channels it is given.
    """
    g, nd = geom.groups, geom.ndim
    n_batch, c_in = x.shape[:2]
    c_in_g, c_out_g = c_in // g, weight.shape[1]
    taps, positions = math.prod(geom.kernel), math.prod(geom.in_size)
    xg = x.reshape(n_batch, g, c_in_g, positions)
    wg = weight.reshape(g, c_in_g, c_out_g, taps)
    y5 = compiled.as_3d(y, nd, 2)
    chunks = [(gi, o0, o1, b0, b1) for gi in range(g) for o0, o1 in split(c_out_g, -(-c_out_g // oc))
              for b0, b1 in split(n_batch, -(-n_batch // nb))]

    def start():
        buffer = np.empty(nb * positions * taps * oc, dtype=y.dtype)
        reordered = [None, None]  # the channels last reordered, and their weight

        def work(chunk) -> None:
            gi, o0, o1, b0, b1 = chunk
            if reordered[0] != (gi, o0, o1):
                # (C_in/g, taps, oc): a transposing copy, its rows shared between the threads
                reordered[:] = None, None
                w_last = np.empty((c_in_g, taps, o1 - o0), dtype=y.dtype)
                parallel_for(lambda r: np.copyto(w_last[r[0]:r[1]], wg[gi, r[0]:r[1], o0:o1].transpose(0, 2, 1)),
                             split(c_in_g, num_threads()))
                reordered[:] = (gi, o0, o1), w_last.reshape(c_in_g, -1)
            xs = xg[b0:b1, gi].transpose(0, 2, 1)  # (nb, prod(n), C_in/g)
            xs = xs[0] if b1 - b0 == 1 else np.ascontiguousarray(xs).reshape(-1, c_in_g)
            cols = buffer[: (b1 - b0) * positions * taps * (o1 - o0)].reshape(xs.shape[0], -1)
            np.matmul(xs, reordered[1], out=cols)
            _add_runs(kernels, y, y5[b0:b1, gi * c_out_g + o0 : gi * c_out_g + o1], buffer, geom, channels_last=True)

        return work

    spread(start, chunks, workers)


def batch_runs(geom: Geometry, nb: int) -> bool:
    """Whether a chunk of ``nb`` samples takes batch-last columns: short input rows (below
    :data:`SHORT_ROWS`) and at least :data:`BATCH_RUNS` samples side by side, so the
    compiled pass adds runs of samples (DCGAN's 4x4 layers, 64 samples)."""
    return nb >= BATCH_RUNS and geom.in_size[-1] < SHORT_ROWS and side_by_side(nb, math.prod(geom.in_size))


def compiled_run(geom: Geometry, nb: int, oc: int, channels_last: bool) -> int:
    """Length of the runs the compiled pass adds for a chunk of ``nb`` samples by ``oc`` channels:
    channels (channels-last columns), samples (batch-last) or the input's rows."""
    if channels_last:
        return oc
    return nb if batch_runs(geom, nb) else geom.in_size[-1]


def _add_runs(kernels, y: np.ndarray, target: np.ndarray, cols: np.ndarray, geom: Geometry,
              channels_last: bool) -> None:
    """``target`` (samples by channels of ``y``, 3-D spatial) from columns with runs innermost,
    by ``compiled.col2im_runs``: channels-last ``cols[b, i0, i1, i2, tap, o]`` (items are
    samples, runs channels) or batch-last ``cols[o, tap, i0, i1, i2, b]`` (the reverse); a
    work item is one item by a slab of output rows whose accumulator fits :data:`SLAB_BYTES`."""
    padded = (1,) * (3 - geom.ndim)
    n3, out3, k3 = padded + geom.in_size, padded + geom.out_size, padded + geom.kernel
    taps, positions = math.prod(geom.kernel), math.prod(geom.in_size)
    yf, ys = compiled.flat(target, y)
    items, runs = target.shape[:2] if channels_last else target.shape[1::-1]
    inner = (n3[1] * n3[2] * runs, n3[2] * runs, runs)  # strides of (i0, i1, i2)
    if channels_last:
        cs = (positions * taps * runs,) + tuple(s * taps for s in inner) + (runs,)
    else:
        ys = ys[[1, 0, 2, 3, 4]]
        cs = (taps * positions * runs,) + inner + (positions * runs,)
    rows = out3[0] * out3[1]
    slab = max(1, min(rows, SLAB_BYTES // (out3[2] * runs * y.itemsize)))
    dims = np.array((runs,) + out3 + k3[1:], dtype=np.int64)
    cs, pairs = np.array(cs, dtype=np.int64), compiled.landings(geom)
    parallel_for(lambda r: kernels.col2im_runs(yf, ys, cols, cs, dims, *pairs, slab, r[0], r[1]),
                 split(items * -(-rows // slab), num_threads()))


def _numpy(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    """The pure NumPy path: strided additions, one NumPy call per tap and part."""
    g = geom.groups
    n_batch, c_in = x.shape[:2]
    c_in_g, c_out_g = c_in // g, weight.shape[1]
    n, k, taps = geom.in_size, geom.kernel, math.prod(geom.kernel)
    positions = math.prod(n)
    dtype = np.result_type(x, weight)
    taps_placed, covered = placements(geom)
    y = (np.empty if covered else np.zeros)((n_batch, g * c_out_g) + geom.out_size, dtype=dtype)
    yv = y.reshape((n_batch, g, c_out_g) + geom.out_size)
    if c_in_g == 1 and n_batch * c_out_g > 1:
        _depthwise(yv, x, weight, geom, taps_placed)
        return y
    nb, oc, workers = numpy_chunks(n_batch, g, c_out_g, taps, positions, y.nbytes, dtype.itemsize)
    # W^T per group with rows (o, tap): a transposed view of the weight, no copy. The GEMMs
    # are 2-D calls (BLAS takes the transposed view as is; a stacked matmul would not).
    w_mat = weight.reshape(g, c_in_g, c_out_g * taps).transpose(0, 2, 1)
    # wide samples: one GEMM per sample, straight from the input; small ones side by side in a
    # (G, C_in/g, N, prod(n)) copy, one wide GEMM per chunk and group
    direct = positions >= DIRECT_POSITIONS
    xg = x.reshape(n_batch, g, c_in_g, positions)
    xs = xg if direct else np.ascontiguousarray(xg.transpose(1, 2, 0, 3))
    chunks = [(b0, b1, o0, o1) for b0, b1 in split(n_batch, -(-n_batch // nb))
              for o0, o1 in split(c_out_g, -(-c_out_g // oc))]

    def start():
        buffer = np.empty(nb * g * oc * taps * positions, dtype=dtype)  # reused: no page faults per chunk

        def work(chunk) -> None:
            b0, b1, o0, o1 = chunk
            width, count = (o1 - o0) * taps, (b1 - b0) * positions
            rows = slice(o0 * taps, o1 * taps)
            if direct:
                cols = buffer[: g * width * count].reshape(b1 - b0, g, width, positions)
                for b in range(b0, b1):
                    for gi in range(g):
                        np.matmul(w_mat[gi, rows], xs[b, gi], out=cols[b - b0, gi])
                cols = cols.reshape((b1 - b0, g, o1 - o0) + k + n)
            else:
                cols = buffer[: g * width * count].reshape(g, width, count)
                for gi in range(g):
                    np.matmul(w_mat[gi, rows], xs[gi, :, b0:b1].reshape(c_in_g, -1), out=cols[gi])
                cols = np.moveaxis(cols.reshape((g, o1 - o0) + k + (b1 - b0,) + n), 2 + geom.ndim, 0)
            # cols: (nb, G, oc, *k, *n); each tap's columns go into the output window
            _add_taps(yv[b0:b1, :, o0:o1], cols, taps_placed)

        return work

    spread(start, chunks, workers)
    return y


def _depthwise(yv: np.ndarray, x: np.ndarray, weight: np.ndarray, geom: Geometry,
               placements: Sequence[Placement]) -> None:
    """One input channel per group: the GEMM is a scalar product, so multiply-add each tap.

    ``y[b, g, o, i*s + j*d - lo] += x[b, g, i] * w[g, o, j]``, block by block: one sample
    and as many groups as fit :data:`BLOCK_BYTES` of output, so that every tap of a block
    works in cache (memory is read and written about once, not once per tap); the blocks
    are shared between threads, each with its own buffers. Within a block, the taps of
    one phase (outputs ``t = r (mod s)``) add up in a contiguous accumulator that goes
    into the output in one strided assignment: the products and additions run on
    contiguous rows.
    """
    n_batch, g, c_out_g = yv.shape[:3]
    xg = x.reshape((n_batch, g, 1) + geom.in_size)
    wg = weight.reshape((g, c_out_g) + geom.kernel)
    nd = geom.ndim
    group_bytes = c_out_g * math.prod(geom.out_size) * yv.itemsize
    per_block = max(1, min(g, BLOCK_BYTES // group_bytes))
    parts = [(slice(b, b + 1), slice(lo, hi)) for b in range(n_batch) for lo, hi in split(g, -(-g // per_block))]

    phases = _phases(geom)
    largest = tuple(max(sizes) for sizes in zip(*(size for _, size, _ in phases))) if phases else ()

    def work(part: tuple[slice, slice]) -> None:
        out = yv[part]
        buffer = np.empty(out.shape[:3] + geom.in_size, dtype=yv.dtype)
        accumulator = np.empty(out.shape[:3] + largest, dtype=yv.dtype)
        for dst, size, taps in phases:
            acc = accumulator[(Ellipsis,) + tuple(slice(0, m) for m in size)]
            for t, (j, src, rel, assign) in enumerate(taps):
                w_j = wg[(part[1], slice(None)) + j].reshape(out.shape[1:3] + (1,) * nd)
                if assign:  # covers the phase: the product is the accumulator's first value
                    np.multiply(xg[part + (slice(None),) + src], w_j, out=acc)
                    continue
                if t == 0:
                    acc[...] = 0
                prod = buffer[(Ellipsis,) + tuple(slice(0, sl.stop - sl.start) for sl in src)]
                np.multiply(xg[part + (slice(None),) + src], w_j, out=prod)
                acc[(Ellipsis,) + rel] += prod
            out[(Ellipsis,) + dst] = acc

    parallel_for(work, parts)


@functools.lru_cache(maxsize=64)
def _phases(geom: Geometry) -> tuple[tuple[tuple[slice, ...], tuple[int, ...], tuple], ...]:
    """The taps grouped by the phase of the window they land on.

    Per phase: its outputs (strided slices of the window), their count per axis,
    and its taps as (tap, input slices, slices of the phase's outputs, assign),
    the assigning tap first.
    """
    taps_placed, _ = placements(geom)
    groups: dict[tuple[int, ...], list] = {}
    for j, src, dst, assign in taps_placed:  # the assignments come first
        phase = tuple(d.start % a.stride for d, a in zip(dst, geom.axes))
        rel = tuple(slice((d.start - r) // a.stride, (d.start - r) // a.stride + (sl.stop - sl.start))
                    for d, r, sl, a in zip(dst, phase, src, geom.axes))
        groups.setdefault(phase, []).append((j, src, rel, assign))
    out = []
    for phase, taps in groups.items():
        size = tuple((a.length - 1 - r) // a.stride + 1 for r, a in zip(phase, geom.axes))
        dst = tuple(slice(r, r + (m - 1) * a.stride + 1, a.stride) for r, m, a in zip(phase, size, geom.axes))
        out.append((dst, size, tuple(taps)))
    return tuple(out)


def _parts(nb: int, g: int, oc: int, threads: int) -> list[tuple[slice, slice, slice]]:
    """Split ``(samples, groups, channels)`` into ``threads`` disjoint parts: samples first."""
    if nb > 1:
        return [(slice(lo, hi), slice(None), slice(None)) for lo, hi in split(nb, threads)]
    if g > 1:
        return [(slice(None), slice(lo, hi), slice(None)) for lo, hi in split(g, threads)]
    return [(slice(None), slice(None), slice(lo, hi)) for lo, hi in split(oc, threads)]


def _add_taps(
    target: np.ndarray,
    cols: np.ndarray,
    placements: Sequence[Placement],
) -> None:
    """``target[..., dst] (+)= cols[..., j, src]`` for each tap ``j``, split by sample or channel over threads."""
    nb, g, oc = target.shape[:3]
    threads = num_threads() if cols.size >= MIN_PARALLEL * len(placements) else 1
    parts = _parts(nb, g, oc, threads)

    def work(part: tuple[slice, slice, slice]) -> None:
        for j, src, dst, assign in placements:
            out = target[part + dst]
            val = cols[part + j + src]
            if assign:
                out[...] = val
            else:
                out += val

    parallel_for(work, parts)
