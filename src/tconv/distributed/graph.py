"""The Dask graph: one task per output block, reading exactly the input slices its receptive field covers.

Not ``map_overlap``: its one symmetric depth per axis cannot express a window
that reaches further on one side, nor a stride, and it rechunks when the depth
passes a chunk. Here every output block's task depends on the input blocks its
input interval (:meth:`~tconv.distributed.tiling.Pipeline.chain`) touches, crops
each to the interval, joins them and runs the block's own geometries, so any
chunking (uneven, one element, halos wider than several chunks) is exact.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from ..errors import fail
from .. import normalise
from ..normalise import as_array
from .tiling import Interval, Pipeline

__all__ = ["dask_modules", "as_dask", "default_chunks", "output_chunks", "tiled", "token"]

EXTRA = "pip install 'tconv[dask]'"


def dask_modules(func: str) -> tuple[Any, Any]:
    """``(dask, dask.array)``, imported on first use; a clear message naming the extra when missing."""
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise ImportError(f"tconv.{func} needs Dask (dask[array], distributed, zarr): {EXTRA}", name="dask") from exc
    return dask, da


def as_dask(func: str, x: Any):
    """``x`` as a dask array of a real float dtype (NumPy input becomes one chunk; ints become float64)."""
    _, da = dask_modules(func)
    if not isinstance(x, da.Array):
        x = da.from_array(as_array(func, "x", x), chunks=-1)
    dtype = as_array(func, "x", np.zeros(0, x.dtype)).dtype  # the core's dtype rules, on no data
    return x if dtype == x.dtype else x.astype(dtype)


def stand_in(x) -> np.ndarray:
    """A read-only array of ``x``'s shape and dtype that holds one value: the core's validation runs on it."""
    return normalise.stand_in(x.shape, x.dtype)


def default_chunks(in_chunks: Sequence[int], factor: Fraction, length: int) -> tuple[int, ...]:
    """The input's chunk boundaries scaled by the nominal factor (stride, 1/stride, ...); the last chunk
    ends at ``length``, absorbing what the window crops or adds, and empty chunks are dropped."""
    ends = list(itertools.accumulate(in_chunks))[:-1]
    cuts = sorted({math.floor(e * factor) for e in ends} - {0})
    cuts = [c for c in cuts if c < length] + [length]
    return tuple(b - a for a, b in zip([0] + cuts[:-1], cuts))


def output_chunks(func: str, pipe: Pipeline, in_chunks: Sequence[tuple[int, ...]], out_chunks) -> tuple[tuple[int, ...], ...]:
    """The spatial output chunks: ``out_chunks`` (an int, or one int or tuple of sizes per spatial axis) or
    :func:`default_chunks` of the input's."""
    spatial = pipe.out_shape[2:]
    if out_chunks is None:
        return tuple(default_chunks(c, f, n) for c, f, n in zip(in_chunks, pipe.factor, spatial))
    _, da = dask_modules(func)
    if isinstance(out_chunks, (int, np.integer)):
        out_chunks = (int(out_chunks),) * len(spatial)
    try:
        chunks = da.core.normalize_chunks(tuple(out_chunks), shape=spatial)
    except (ValueError, TypeError) as exc:
        raise fail(func, f"out_chunks must give the spatial output {spatial} chunk sizes (an int, or per axis an int "
                         f"or sizes summing to the axis); got {out_chunks!r} ({exc})") from None
    if any(c < 1 for axis in chunks for c in axis):
        raise fail(func, f"out_chunks must be positive sizes; got {out_chunks!r}")
    return chunks


def token(pipe: Pipeline) -> str:
    """A deterministic name for a pipeline: its stages, geometries and weights."""
    h = hashlib.sha256()
    for s in pipe.stages:
        h.update(repr((type(s).__name__, s.name, getattr(s, "geom", None), getattr(s, "algorithm", None))).encode())
        for arr in (getattr(s, "weight", None), getattr(s, "bias", None), *getattr(s, "matrices", ())):
            if arr is not None:
                h.update(repr((arr.shape, arr.dtype.str)).encode())
                h.update(np.ascontiguousarray(arr).tobytes())
        layer = getattr(s, "layer", None)
        if layer is not None:
            h.update(repr(layer).encode())
            for key, value in sorted(layer.state_dict().items()):
                h.update(key.encode() + np.ascontiguousarray(value).tobytes())
    h.update(repr((pipe.in_shape, pipe.dtype.str)).encode())
    return h.hexdigest()[:32]


def block_plan(pipe: Pipeline, axis: int, chunks: Sequence[int]) -> list[tuple[tuple[Interval, ...], Interval]]:
    """Per output chunk along ``axis``: the chain of intervals (input first) and the input interval read."""
    plan, t = [], 0
    for c in chunks:
        chain = pipe.chain(axis, (t, t + c))
        plan.append((chain, chain[0]))
        t += c
    return plan


def covering(bounds: np.ndarray, interval: Interval) -> list[tuple[int, slice]]:
    """The chunks (by index, with the slice inside each) that the interval ``[i0, i1)`` covers, given the
    chunk boundaries ``bounds`` (0 first, the length last)."""
    i0, i1 = interval
    first = int(np.searchsorted(bounds, i0, side="right")) - 1
    last = int(np.searchsorted(bounds, i1 - 1, side="right")) - 1
    return [
        (b, slice(max(i0, int(bounds[b])) - int(bounds[b]), min(i1, int(bounds[b + 1])) - int(bounds[b])))
        for b in range(first, last + 1)
    ]


def join(blocks: Sequence[np.ndarray], crops: Sequence[Sequence[slice]]) -> np.ndarray:
    """The input block of a task: each of ``blocks`` (the grid of input chunks, C order) cropped and joined."""
    grid = tuple(len(c) for c in crops)
    if math.prod(grid) == 1:
        return blocks[0][(Ellipsis,) + tuple(c[0] for c in crops)]
    pieces = np.empty(grid, dtype=object)
    for flat, idx in enumerate(np.ndindex(grid)):
        pieces[idx] = blocks[flat][(Ellipsis,) + tuple(crops[ax][i] for ax, i in enumerate(idx))]
    return np.block(pieces.tolist())


def run_block(pipe: Pipeline, blocks: list[np.ndarray], crops, chains) -> np.ndarray:
    """One task: join the input slices, then every stage on its own interval."""
    return pipe.run(join(blocks, crops), chains)


def tiled(func: str, x, pipe: Pipeline, out_chunks=None):
    """The lazy output of ``pipe`` on the dask array ``x``: one task per output block.

    The batch axis keeps ``x``'s chunks, the channel axis is whole (``x`` is
    rechunked to one channel chunk when it is not), the spatial chunks are
    :func:`output_chunks`.
    """
    dask, da = dask_modules(func)
    from dask.highlevelgraph import HighLevelGraph

    if x.numblocks[1] != 1:
        x = x.rechunk({1: -1})
    nd = pipe.nd
    chunks = output_chunks(func, pipe, x.chunks[2:], out_chunks)
    per_axis = []
    for ax in range(nd):
        bounds = np.concatenate([[0], np.cumsum(x.chunks[2 + ax])])
        per_axis.append([(chain, covering(bounds, read)) for chain, read in block_plan(pipe, ax, chunks[ax])])
    name = f"tconv-{func.rsplit('.', 1)[-1].replace('_', '-')}-" + dask.base.tokenize(x.name, token(pipe), chunks)
    pipe_key = f"{name}-pipeline"
    layer: dict = {pipe_key: pipe}
    for b in range(x.numblocks[0]):
        for idx in itertools.product(*(range(len(p)) for p in per_axis)):
            entries = [per_axis[ax][i] for ax, i in enumerate(idx)]
            keys = [(x.name, b, 0) + grid for grid in itertools.product(*([j for j, _ in e[1]] for e in entries))]
            crops = tuple(tuple(sl for _, sl in e[1]) for e in entries)
            chains = tuple(e[0] for e in entries)
            layer[(name, b, 0) + idx] = (run_block, pipe_key, keys, crops, chains)
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[x])
    out = da.Array(graph, name, chunks=(x.chunks[0], (pipe.out_shape[1],)) + tuple(chunks), dtype=pipe.dtype,
                   meta=np.empty((0,) * (nd + 2), pipe.dtype))
    return out
