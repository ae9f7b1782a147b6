"""Compiled loops for the memory-bound passes around the GEMMs (the ``tconv[fast]`` extra).

NumPy does the col2im additions as one strided pass over the output per tap,
each pass's inner loop as short as the input's last axis (4 on DCGAN's 4x4
layers), on one core. The loops here do all taps of one output plane while the
plane sits in cache, in one compiled pass, on every thread of
:func:`tconv.algorithms.threads.parallel_for` (the functions release the GIL).
On short input rows, ``col2im_runs`` takes columns ordered channels-last or
batch-last instead, so its additions run along the channels or the samples. Two
more serve layers with one input channel per group (``depthwise``, no GEMM) and
``subpixel``'s depth-to-space (``shuffle``), and ``winograd``'s transforms
along one axis (``axis_transform``).

They are compiled by numba when it is installed (``pip install "tconv[fast]"``)
and cached on disk; without numba, or with ``TCONV_KERNELS=numpy`` in the
environment, :func:`backend` says ``"numpy"`` and the algorithms run their pure
NumPy path, which the test suite checks as well. Arrays reach the kernels as
3-D spatial views (1-D and 2-D layers get leading axes of size one).

Tap tables: one row per tap that reaches the window,
``(tap, (first input, end input, first output, stride) per axis, assign)`` with
the assigning taps (those covering their phase) first: see :func:`table`. They
are built from the shared tap arithmetic (:meth:`tconv.geometry.Axis.tap_range`,
:func:`.taps.placements`); the algorithms import this module, never the reverse.
"""

from __future__ import annotations

import functools
import os
import types

import numpy as np

from ..errors import fail
from ..geometry import Geometry
from .taps import placements

_COMPILED = None  # the compiled kernels once built, or False when numba is missing


#: What ``TCONV_KERNELS`` may say: ``auto`` (numba when installed), ``numba`` (required), ``numpy``.
CHOICES = ("auto", "numba", "numpy")


def backend() -> str:
    """``"numba <version>"`` when the compiled loops run, else ``"numpy"``.

    ``TCONV_KERNELS=numpy`` in the environment selects the pure NumPy path even
    with numba installed (the test suite runs both); ``TCONV_KERNELS=numba``
    makes a missing numba an error instead of a quiet fallback.

    >>> backend() in ("numpy",) or backend().startswith("numba ")
    True
    """
    if kernels() is None:
        return "numpy"
    import numba

    return f"numba {numba.__version__}"


def kernels():
    """The compiled kernels (``.col2im``, ``.col2im_runs``, ``.depthwise``, ``.shuffle``, ``.axis_transform``), or ``None``: run the NumPy path.

    Reads ``TCONV_KERNELS`` on every call, so a test or a user can switch paths at run time.
    """
    global _COMPILED
    choice = os.environ.get("TCONV_KERNELS", "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise fail(
            "algorithms.compiled.kernels",
            f"environment variable TCONV_KERNELS must be one of {', '.join(CHOICES)}; got {choice!r}",
        )
    if choice == "numpy":
        return None
    if _COMPILED is None:
        try:
            _COMPILED = _compile()
        except ImportError:
            _COMPILED = False
    if not _COMPILED and choice == "numba":
        raise fail(
            "algorithms.compiled.kernels",
            'TCONV_KERNELS=numba needs numba, which is not installed; install the extra: pip install "tconv[fast]"',
        )
    return _COMPILED or None


def _compile():
    import numba

    # Indices typed unsigned: a signed index makes numba test it for Python's negative
    # wrap-around on every access, which keeps LLVM from vectorising (docs/performance.md).
    u64 = numba.uint64
    jit = functools.partial(numba.njit, nogil=True, cache=True, fastmath=False)

    # The arrays come flat, with their strides in elements: inside these loops a slice
    # would make a view (whose reference count numba updates atomically, and both
    # threads would fight over it), and 6-D indexing recomputes every address.
    @jit
    def col2im(y, ys, cols, cs, shape, tab, zero, add, lo, hi):  # pragma: no cover - compiled
        # y[b, o, f0, f1, f2] = y[b*ys[0] + o*ys[1] + ...]; cols[b, o, t, i0, i1, i2] likewise,
        # contiguous along i2; shape = (nb, oc, L0, L1, L2, s1, s2); planes lo..hi of oc*nb.
        # Each plane is summed in `acc`, its last two axes split by phase (f = s*u + r):
        # acc[f0, r1, r2, u1, u2]. There every tap adds contiguous runs (vectorised), a whole
        # (i1, i2) block at once when its rows fill the phase's rows, and the phases
        # interleave into the output once (added to it with `add`: the taps came in parts),
        # a stride-2 row's two phases in one in-order loop. Phases no tap reaches (a dilation
        # sharing a factor with the stride) are zeroed once per call, not once per plane.
        nb, n0, n1, n2, s1, s2 = shape[0], shape[2], shape[3], shape[4], shape[5], shape[6]
        m1 = (n1 + s1 - 1) // s1
        m2 = (n2 + s2 - 1) // s2
        acc = np.zeros(n0 * s1 * s2 * m1 * m2, dtype=y.dtype)  # phases no tap reaches stay zero
        # per tap, what does not depend on the plane (integer divisions cost more than the
        # additions on small planes): where its runs start in `acc` and in the columns, their
        # length and count (one run when the block's rows fill the phase's rows)
        taps = tab.shape[0]
        first = np.empty(taps, dtype=np.int64)
        start = np.empty(taps, dtype=np.int64)
        length = np.empty(taps, dtype=np.int64)
        runs = np.empty(taps, dtype=np.int64)
        for p in range(taps):
            fb0, fc0 = tab[p, 7], tab[p, 11]
            first[p] = ((fb0 % s1) * s2 + fc0 % s2) * m1 * m2 + (fb0 // s1) * m2 + fc0 // s2
            start[p] = tab[p, 0] * cs[2] + tab[p, 5] * cs[4] + tab[p, 9]
            length[p] = tab[p, 10] - tab[p, 9]
            runs[p] = tab[p, 6] - tab[p, 5]
            if length[p] == m2 and cs[4] == length[p]:
                length[p], runs[p] = length[p] * runs[p], 1
        count1 = np.empty(s1, dtype=np.int64)
        count2 = np.empty(s2, dtype=np.int64)
        for r in range(s1):
            count1[r] = (n1 - r + s1 - 1) // s1
        for r in range(s2):
            count2[r] = (n2 - r + s2 - 1) // s2
        live = np.zeros(s1 * s2, dtype=np.bool_)
        for p in range(taps):
            live[(tab[p, 7] % s1) * s2 + tab[p, 11] % s2] = True
        for plane in range(lo, hi):
            # samples fastest: the GEMM wrote a tap's columns of all samples side by side,
            # so consecutive planes read consecutive memory
            o = plane // nb
            b = plane - o * nb
            ybase = b * ys[0] + o * ys[1]
            cbase = b * cs[0] + o * cs[1]
            if zero:
                for fa in range(n0):
                    for ph in range(s1 * s2):
                        if live[ph]:
                            acc[(fa * s1 * s2 + ph) * m1 * m2 : (fa * s1 * s2 + ph + 1) * m1 * m2] = 0
            for p in range(taps):
                a0, fa0, sa = tab[p, 1], tab[p, 3], tab[p, 4]
                n = length[p]
                for ia in range(a0, tab[p, 2]):
                    dst = (fa0 + (ia - a0) * sa) * s1 * s2 * m1 * m2 + first[p]
                    src = cbase + start[p] + ia * cs[3]
                    for row in range(runs[p]):
                        d = dst + row * m2
                        q = src + row * cs[4]
                        if tab[p, 13]:
                            for m in range(n):
                                acc[u64(d + m)] = cols[u64(q + m)]
                        else:
                            for m in range(n):
                                acc[u64(d + m)] += cols[u64(q + m)]
            for fa in range(n0):
                for r1 in range(s1):
                    for u1 in range(count1[r1]):
                        row = ybase + fa * ys[2] + (u1 * s1 + r1) * ys[3]
                        base = (fa * s1 + r1) * s2 * m1 * m2 + u1 * m2
                        if s2 == 2 and ys[4] == 1:  # the row's two phases in one pass, outputs in order
                            a1 = base + m1 * m2
                            half = n2 // 2
                            if add:
                                for u2 in range(half):
                                    y[u64(row + 2 * u2)] += acc[u64(base + u2)]
                                    y[u64(row + 2 * u2 + 1)] += acc[u64(a1 + u2)]
                                if n2 > 2 * half:
                                    y[u64(row + n2 - 1)] += acc[u64(base + half)]
                            else:
                                for u2 in range(half):
                                    y[u64(row + 2 * u2)] = acc[u64(base + u2)]
                                    y[u64(row + 2 * u2 + 1)] = acc[u64(a1 + u2)]
                                if n2 > 2 * half:
                                    y[u64(row + n2 - 1)] = acc[u64(base + half)]
                            continue
                        for r2 in range(s2):
                            src = base + r2 * m1 * m2
                            if add:
                                for u2 in range(count2[r2]):
                                    y[u64(row + (u2 * s2 + r2) * ys[4])] += acc[u64(src + u2)]
                            else:
                                for u2 in range(count2[r2]):
                                    y[u64(row + (u2 * s2 + r2) * ys[4])] = acc[u64(src + u2)]

    @jit
    def depthwise(y, ys, x, xs, w, ws, shape, rows_a, rows_b, last, kernel, lo, hi):  # pragma: no cover
        # y[b, g, o, f0, f1, f2], x[b, g, i0, i1, i2], w[g, o, t] flat with element strides;
        # shape = (N, G, O, L0, L1, L2); rows_a/rows_b: per output index of axes 0/1 the
        # (tap, input) pairs that reach it, CSR (start per index, then pairs); last: per tap of
        # axis 2, (first input, end input, first output); kernel = (k0, k1, k2, s2);
        # planes lo..hi of N*G*O
        n_g, n_o = shape[1], shape[2]
        k1, k2, s2 = kernel[1], kernel[2], kernel[3]
        length = shape[5]
        blocks = (length + s2 - 1) // s2
        # one output row per phase of the last axis, contiguous: every tap adds a contiguous
        # run (vectorised), and the phases interleave into the output row once
        acc = np.empty(s2 * blocks, dtype=y.dtype)
        na = shape[3]
        nb_ = shape[4]
        for plane in range(lo, hi):
            b = plane // (n_g * n_o)
            g = (plane // n_o) % n_g
            o = plane % n_o
            ybase = b * ys[0] + g * ys[1] + o * ys[2]
            xbase = b * xs[0] + g * xs[1]
            wbase = g * ws[0] + o * ws[1]
            for fa in range(na):
                for fb in range(nb_):
                    for i in range(s2 * blocks):  # a loop, not acc[:] = 0: no view per row
                        acc[u64(i)] = 0
                    for pa in range(rows_a[fa], rows_a[fa + 1]):
                        ja, ia = rows_a[na + 1 + 2 * pa], rows_a[na + 2 + 2 * pa]
                        for pb in range(rows_b[fb], rows_b[fb + 1]):
                            jb, ib = rows_b[nb_ + 1 + 2 * pb], rows_b[nb_ + 2 + 2 * pb]
                            xrow = xbase + ia * xs[2] + ib * xs[3]
                            for jc in range(k2):
                                i0, i1, f0 = last[3 * jc], last[3 * jc + 1], last[3 * jc + 2]
                                if i1 <= i0:
                                    continue
                                wt = w[wbase + ((ja * k1 + jb) * k2 + jc) * ws[2]]
                                dst = (f0 % s2) * blocks + f0 // s2 - i0
                                for i in range(i0, i1):  # x is contiguous: xs[4] == 1
                                        acc[u64(dst + i)] += wt * x[u64(xrow + i)]
                    row = ybase + fa * ys[3] + fb * ys[4]
                    if s2 == 2 and ys[5] == 1:  # both phases in one in-order loop (vectorised)
                        for u in range(length // 2):
                            y[u64(row + 2 * u)] = acc[u64(u)]
                            y[u64(row + 2 * u + 1)] = acc[u64(blocks + u)]
                        if length % 2:
                            y[u64(row + length - 1)] = acc[u64(length // 2)]
                        continue
                    for r in range(s2):
                        for u in range((length - r + s2 - 1) // s2):
                            y[u64(row + (u * s2 + r) * ys[5])] = acc[u64(r * blocks + u)]

    @jit
    def shuffle(y, ys, blocked, bs, maps, lengths, limits, lo, hi):  # pragma: no cover - compiled
        # Depth-to-space: y[b, o, f0, f1, f2] = blocked[b, u0, u1, u2, r0, r1, r2, o], where
        # (u, r) = maps[axis][f] (u relative to the chunk's first block; r < 0: a phase no
        # tap reaches, left as it is); blocked has element strides bs[:8] in that order and
        # bs[8] channels (channels last or first: the GEMM's layout); on axis a only blocks
        # limits[2a] <= u < limits[2a + 1] are in this chunk. Rows lo..hi of nb*L0. Along f2
        # the source offset within a row is the same for every row: computed once. Per output
        # row, tiles of 64 along f2, channel by channel: the writes are contiguous runs and the
        # tile's reads (all channels) stay in L1.
        n0, n1, n2 = lengths[0], lengths[1], lengths[2]
        c = bs[8]
        offset = np.empty(n2, dtype=np.int64)  # of (u2, r2) in a row of blocked, -1 outside the chunk
        for f2 in range(n2):
            u2, r2 = maps[2, f2, 0] - limits[4], maps[2, f2, 1]
            offset[f2] = -1 if r2 < 0 or u2 < 0 or u2 >= limits[5] - limits[4] else u2 * bs[3] + r2 * bs[6]
        whole = np.empty((n2 + 63) // 64, dtype=np.bool_)  # tiles whose every output is in the chunk
        for t in range(0, n2, 64):
            whole[t // 64] = ys[4] == 1
            for f2 in range(t, min(n2, t + 64)):
                if offset[f2] < 0:
                    whole[t // 64] = False
        first = bs[7] != 1  # channels first: channel by channel, every row of it
        # every tile whole: channels first, a row is copied without a test per element, the
        # test being a large share of such a copy (docs/performance.md, "subpixel's constants")
        full = whole.all()
        for row in range(lo, hi):
            b = row // n0
            f0 = row - b * n0
            u0, r0 = maps[0, f0, 0] - limits[0], maps[0, f0, 1]
            if r0 < 0 or u0 < 0 or u0 >= limits[1] - limits[0]:
                continue
            if first:
                for o in range(c):
                    for f1 in range(n1):
                        u1, r1 = maps[1, f1, 0] - limits[2], maps[1, f1, 1]
                        if r1 < 0 or u1 < 0 or u1 >= limits[3] - limits[2]:
                            continue
                        so = b * bs[0] + u0 * bs[1] + u1 * bs[2] + r0 * bs[4] + r1 * bs[5] + o * bs[7]
                        out = b * ys[0] + o * ys[1] + f0 * ys[2] + f1 * ys[3]
                        if full:
                            for f2 in range(n2):
                                y[u64(out + f2)] = blocked[u64(so + offset[f2])]
                            continue
                        for f2 in range(n2):
                            if offset[f2] >= 0:
                                y[u64(out + f2 * ys[4])] = blocked[u64(so + offset[f2])]
                continue
            for f1 in range(n1):
                u1, r1 = maps[1, f1, 0] - limits[2], maps[1, f1, 1]
                if r1 < 0 or u1 < 0 or u1 >= limits[3] - limits[2]:
                    continue
                src = b * bs[0] + u0 * bs[1] + u1 * bs[2] + r0 * bs[4] + r1 * bs[5]
                dst = b * ys[0] + f0 * ys[2] + f1 * ys[3]
                for t in range(0, n2, 64):
                    e = min(n2, t + 64)
                    if whole[t // 64]:  # no test per element, contiguous writes
                        for o in range(c):
                            out = dst + o * ys[1]
                            so = src + o * bs[7]
                            for f2 in range(t, e):
                                y[u64(out + f2)] = blocked[u64(so + offset[f2])]
                        continue
                    for o in range(c):
                        out = dst + o * ys[1]
                        so = src + o * bs[7]
                        for f2 in range(t, e):
                            if offset[f2] >= 0:
                                y[u64(out + f2 * ys[4])] = blocked[u64(so + offset[f2])]

    @jit
    def col2im_runs(y, ys, cols, cs, dims, pairs0, pairs1, pairs2, slab, lo, hi):  # pragma: no cover
        # Columns whose innermost axis is a run of outputs' channels or samples: column element
        # (item, i0, i1, i2, t, m) at item*cs[0] + i0*cs[1] + i1*cs[2] + i2*cs[3] + t*cs[4] + m,
        # t = (j0*k1 + j1)*k2 + j2, and it adds to y[item*ys[0] + m*ys[1] + f0*ys[2] + f1*ys[3] +
        # f2*ys[4]]. Channels-last columns have items = samples and runs = channels; batch-last
        # columns the reverse. dims = (run length, L0, L1, L2, k1, k2). pairsA: per axis the
        # (input, tap, output) triples that land in the window. Work items lo..hi of
        # items * ceil(L0*L1 / slab): one item and `slab` output rows (f0, f1), summed in
        # acc[row, f2, m] (every addition a contiguous run, however short the input's rows),
        # then written to y run element by run element.
        runs, l0, l1, l2, k1, k2 = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]
        slabs = (l0 * l1 + slab - 1) // slab
        acc = np.empty(slab * l2 * runs, dtype=y.dtype)
        for work in range(lo, hi):
            item = work // slabs
            ra = (work - item * slabs) * slab
            rb = min(l0 * l1, ra + slab)
            acc[: (rb - ra) * l2 * runs] = 0
            for q0 in range(pairs0.shape[0]):
                i0, j0, f0 = pairs0[q0, 0], pairs0[q0, 1], pairs0[q0, 2]
                if (f0 + 1) * l1 <= ra or f0 * l1 >= rb:
                    continue
                for q1 in range(pairs1.shape[0]):
                    i1, j1, f1 = pairs1[q1, 0], pairs1[q1, 1], pairs1[q1, 2]
                    row = f0 * l1 + f1
                    if row < ra or row >= rb:
                        continue
                    src_row = item * cs[0] + i0 * cs[1] + i1 * cs[2] + (j0 * k1 + j1) * k2 * cs[4]
                    dst_row = (row - ra) * l2
                    for q2 in range(pairs2.shape[0]):
                        src = src_row + pairs2[q2, 0] * cs[3] + pairs2[q2, 1] * cs[4]
                        dst = (dst_row + pairs2[q2, 2]) * runs
                        for m in range(runs):
                            acc[u64(dst + m)] += cols[u64(src + m)]
            for m in range(runs):
                for row in range(ra, rb):
                    f0 = row // l1
                    out = item * ys[0] + m * ys[1] + f0 * ys[2] + (row - f0 * l1) * ys[3]
                    a = (row - ra) * l2 * runs + m
                    for f2 in range(l2):
                        y[u64(out + f2 * ys[4])] = acc[u64(a + f2 * runs)]

    @jit
    def axis_transform(dst, src, mat, dims, steps, lo, hi):  # pragma: no cover - compiled
        # Winograd's transform along one axis: dst[i1*d1 + i2*d2 + p*dp + i3] =
        # sum_k mat[p, k] * src[i1*s1 + i2*s2 + k*sk + i3] for the work items i1*n2 + i2 in lo..hi;
        # dims = (n2, n3, P, K), steps = (d1, d2, dp, s1, s2, sk). The inner loop runs along i3
        # (the channels and whatever follows the axis, contiguous in both): vectorised. Zero
        # coefficients are skipped, the first non-zero one assigns.
        n2, n3, n_p, n_k = dims[0], dims[1], dims[2], dims[3]
        for item in range(lo, hi):
            i1 = item // n2
            i2 = item - i1 * n2
            base_d = i1 * steps[0] + i2 * steps[1]
            base_s = i1 * steps[3] + i2 * steps[4]
            for p in range(n_p):
                out = base_d + p * steps[2]
                first = True
                for k in range(n_k):
                    c = mat[p, k]
                    if c == 0:
                        continue
                    at = base_s + k * steps[5]
                    if first:
                        for i3 in range(n3):
                            dst[u64(out + i3)] = c * src[u64(at + i3)]
                        first = False
                    else:
                        for i3 in range(n3):
                            dst[u64(out + i3)] += c * src[u64(at + i3)]
                if first:
                    for i3 in range(n3):
                        dst[u64(out + i3)] = 0

    return types.SimpleNamespace(col2im=col2im, col2im_runs=col2im_runs, depthwise=depthwise, shuffle=shuffle,
                                 axis_transform=axis_transform)


def as_3d(a: np.ndarray, nd: int, lead: int) -> np.ndarray:
    """``a`` with ``3 - nd`` spatial axes of size one inserted after its first ``lead`` axes (a view)."""
    return a.reshape(a.shape[:lead] + (1,) * (3 - nd) + a.shape[lead:])


def flat(view: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``view`` as the kernels take it: ``base`` (a contiguous array it views) flat, from the view's
    first element, and the view's strides in elements."""
    item = view.itemsize
    offset = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // item
    return base.reshape(-1)[offset:], np.array([st // item for st in view.strides], dtype=np.int64)


@functools.lru_cache(maxsize=64)
def table(geom: Geometry) -> tuple[np.ndarray, bool]:
    """The tap table of ``geom`` (padded to three spatial axes) and whether the taps cover the window.

    Row ``(t, (i0, i1, f0, s) x 3, assign)``: tap ``t`` (flat index in the kernel
    padded to 3-D) adds input ``i0 <= i < i1`` to output ``f0 + (i - i0) * s``;
    ``assign`` marks the first tap covering its phase (it writes instead of
    adding). When the taps cover the window, the output needs no zeroing.
    """
    taps, covered = placements(geom)
    nd = geom.ndim
    kernel = (1,) * (3 - nd) + geom.kernel
    rows = []
    for j, src, dst, assign in taps:
        row = [int(np.ravel_multi_index((0,) * (3 - nd) + j, kernel))]
        for s, d in zip((slice(0, 1),) * (3 - nd) + src, (slice(0, 1, 1),) * (3 - nd) + dst):
            row += [s.start, s.stop, d.start, d.step or 1]
        rows.append(row + [int(assign)])
    tab = np.array(rows, dtype=np.int64).reshape(-1, 14)
    tab.setflags(write=False)
    return tab, covered


@functools.lru_cache(maxsize=64)
def landings(geom: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per axis (padded to three), the ``(input, tap, output)`` triples of ``col2im_runs``:
    every input and tap whose output ``i*s + j*d - lo`` lies in the window
    (:meth:`~tconv.geometry.Axis.tap_range`), inputs ascending."""
    out = []
    for a in (None,) * (3 - geom.ndim) + geom.axes:
        rows = [(0, 0, 0)] if a is None else sorted(
            (i, j, f) for j in range(a.kernel) if (ranges := a.tap_range(j)) is not None
            for i, f in zip(range(ranges[0].start, ranges[0].stop), range(ranges[1].start, ranges[1].stop, a.stride))
        )
        table_ = np.array(rows, dtype=np.int64).reshape(-1, 3)
        table_.setflags(write=False)
        out.append(table_)
    return tuple(out)


@functools.lru_cache(maxsize=64)
def tap_slice(geom: Geometry, t0: int, t1: int) -> np.ndarray:
    """The rows of :func:`table` for taps ``t0 <= t < t1``, renumbered from ``t0``, all adding
    (the taps of a plane come in parts, so no tap may assume it comes first)."""
    tab, _ = table(geom)
    part = tab[(tab[:, 0] >= t0) & (tab[:, 0] < t1)].copy()
    part[:, 0] -= t0
    part[:, 13] = 0
    part.setflags(write=False)
    return part


@functools.lru_cache(maxsize=64)
def depthwise_tables(geom: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-axis tables of :func:`depthwise`: the (tap, input) pairs reaching each output of
    the first two (padded) axes in CSR form, the last axis' tap ranges, and ``(k0, k1, k2, s2)``."""
    axes = (None,) * (3 - geom.ndim) + geom.axes

    def csr(a) -> np.ndarray:
        if a is None:
            return np.array([0, 1, 0, 0], dtype=np.int64)
        reach: list[list[int]] = [[] for _ in range(a.length)]
        for j in range(a.kernel):
            ranges = a.tap_range(j)
            if ranges is not None:
                for i, f in zip(range(ranges[0].start, ranges[0].stop), range(ranges[1].start, ranges[1].stop, a.stride)):
                    reach[f] += [j, i]
        starts = np.cumsum([0] + [len(r) // 2 for r in reach])
        return np.concatenate([starts, np.array(sum(reach, []), dtype=np.int64)]).astype(np.int64)

    last_axis = axes[2]
    last = []
    for j in range(last_axis.kernel):
        ranges = last_axis.tap_range(j)
        last += [ranges[0].start, ranges[0].stop, ranges[1].start] if ranges is not None else [0, 0, 0]
    kernel = [1 if a is None else a.kernel for a in axes] + [last_axis.stride]
    out = (csr(axes[0]), csr(axes[1]), np.array(last, dtype=np.int64), np.array(kernel, dtype=np.int64))
    for a in out:
        a.setflags(write=False)
    return out


def supported(geom: Geometry) -> bool:
    """The kernels take up to three spatial axes."""
    return 1 <= geom.ndim <= 3
