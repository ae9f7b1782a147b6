"""From one Zarr array to another through a model, block by block, resumably.

Each task reads its input interval straight from the input store (no task holds
an input chunk for its neighbours), runs the stack, writes its output block,
which is exactly one chunk of the output array (so writes need no lock), and
only then sets its flag in the completion record: a ``uint8`` array with one
chunk per output block. A flag is set after its data, so a block a killed worker
left half-written is never marked complete, and a rerun computes exactly the
blocks whose flag is unset. Zarr skips all-fill chunks, so the data alone
could not tell a finished zero block from a missing one.

The output store is a Zarr group: ``data`` (the result), ``complete`` (the
record) and the attribute ``tconv`` holding the key: hashes of the model, the
input and the chunking. A rerun with another key refuses to resume and says
which part differs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import fail
from ..nn.io import describe
from ..nn.module import Module
from .graph import EXTRA, block_plan, dask_modules
from .tiling import Pipeline, pipeline

__all__ = ["apply_zarr", "ApplyResult", "store_key"]

DATA, RECORD, KEY_ATTR = "data", "complete", "tconv"


@dataclass(frozen=True)
class ApplyResult:
    """What :func:`apply_zarr` did: the output's shape and chunks, the blocks in all, already complete and computed."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    blocks: int
    skipped: int
    computed: int

    def text(self) -> str:
        return (f"output {self.shape} in chunks {self.chunks}: {self.computed} block(s) computed, "
                f"{self.skipped} already complete, {self.blocks} in all")


def _zarr(func: str):
    try:
        import zarr
    except ImportError as exc:
        raise ImportError(f"tconv.{func} needs Zarr: {EXTRA}", name="zarr") from exc
    return zarr


def _open_input(func: str, zarr, store: Any):
    if hasattr(store, "shape") and hasattr(store, "chunks") and hasattr(store, "store"):
        return store
    if not os.path.exists(os.fspath(store)):
        raise fail(func, f"input_store must be a Zarr array (or a group holding one); {os.fspath(store)!r} does not exist")
    try:
        node = zarr.open(store, mode="r")
    except (FileNotFoundError, NotADirectoryError, KeyError, ValueError) as exc:
        raise fail(func, f"input_store must be a Zarr array (or a group holding one); {os.fspath(store)!r} holds "
                         f"none ({exc})") from None
    if isinstance(node, zarr.Group):
        arrays = dict(node.arrays())
        if DATA in arrays:
            return arrays[DATA]
        if len(arrays) != 1:
            raise fail(func, f"input_store is a Zarr group: it must hold one array or one named {DATA!r}; "
                             f"it holds {sorted(arrays)}")
        return next(iter(arrays.values()))
    return node


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
    return h.hexdigest()[:24]


def store_key(model: Module, source, out_chunks: Sequence[int]) -> dict[str, str]:
    """The completion record's key: hashes of the model (its saved description and weights), the input
    (shape, dtype, chunks, and the data of its first and last chunks) and the output chunking."""
    state = model.state_dict()
    model_hash = _digest(json.dumps(describe(model), sort_keys=True),
                         *(k.encode() + np.ascontiguousarray(state[k]).tobytes() for k in sorted(state)))
    first = source[tuple(slice(0, c) for c in source.chunks)]
    last = source[tuple(slice((n - 1) // c * c, n) for n, c in zip(source.shape, source.chunks))]
    input_hash = _digest(repr((source.shape, str(source.dtype), source.chunks)), np.ascontiguousarray(first).tobytes(),
                         np.ascontiguousarray(last).tobytes())
    return {"model": model_hash, "input": input_hash, "chunks": _digest(repr(tuple(out_chunks)))}


def _prepare_output(func: str, zarr, store: Any, key: dict, shape, chunks, dtype, grid):
    """The output group's data and record arrays: created, or reopened when the key matches."""
    group = zarr.open_group(store, mode="a")
    if DATA in group or RECORD in group:
        found = group.attrs.get(KEY_ATTR)
        if found != key:
            names = {"model": "the model", "input": "the input", "chunks": "the output chunking"}
            differs = [w for p, w in names.items() if not isinstance(found, dict) or found.get(p) != key[p]]
            raise fail(func, f"output_store holds a run of another key, refusing to resume: {' and '.join(differs)} "
                             f"changed since that run started (key {found} there, {key} now); delete the output "
                             "or choose another")
        return group[DATA], group[RECORD]
    data = group.create_array(DATA, shape=shape, chunks=chunks, dtype=dtype, fill_value=0)
    record = group.create_array(RECORD, shape=grid, chunks=(1,) * len(grid), dtype="uint8", fill_value=0,
                                compressors=None)
    group.attrs[KEY_ATTR] = key
    return data, record


def _done(record) -> np.ndarray:
    """The completion flags; a flag chunk that cannot be read (a worker killed while writing it) counts unset."""
    try:
        return np.asarray(record[...]) == 1
    except Exception:  # noqa: BLE001 - any unreadable chunk: read the flags one by one
        flags = np.zeros(record.shape, bool)
        for idx in np.ndindex(record.shape):
            try:
                flags[idx] = record[idx] == 1
            except Exception:  # noqa: BLE001
                pass
        return flags


def write_block(pipe: Pipeline, source, data, record, index: tuple[int, ...], rows: slice, chains) -> tuple[int, ...]:
    """One task: read the block's input interval, run the stack, write the output chunk, then set its flag."""
    read = (rows, slice(None)) + tuple(slice(*c[0]) for c in chains)
    y = pipe.run(np.asarray(source[read]), chains)
    data[(rows, slice(None)) + tuple(slice(*c[-1]) for c in chains)] = y
    record[index] = 1
    return index


def apply_zarr(
    model: Module,
    input_store: Any,
    output_store: Any,
    *,
    chunks: int | Sequence[int] | None = None,
    client: Any = None,
    progress: bool = True,
) -> ApplyResult:
    """Run ``model`` on a Zarr array into a Zarr group, one task per output chunk, resuming a started run.

    Parameters
    ----------
    model : tconv.nn.Module of tileable layers (see :func:`tconv.distributed.apply`)
    input_store : path of a Zarr array ``(N, C, *spatial)`` (or of a group holding one), or a ``zarr.Array``
    output_store : path (or Zarr store) of the output group: ``data``, ``complete`` and the key
    chunks : int or one int per spatial axis, optional
        The output's spatial chunk sizes; by default the input's chunks scaled by
        the stack's nominal factor. The batch axis keeps the input's chunks and
        the channel axis is one chunk.
    client : dask.distributed.Client, optional
        Where to run; by default Dask's current scheduler.
    progress : bool
        Show Dask's progress bar.

    Returns
    -------
    ApplyResult
    """
    func = "distributed.apply_zarr"
    dask, _ = dask_modules(func)
    zarr = _zarr(func)
    source = _open_input(func, zarr, input_store)
    pipe = pipeline(func, model, source.shape, source.dtype)
    nd = pipe.nd
    spatial = pipe.out_shape[2:]
    if chunks is None:
        sizes = tuple(max(1, math.floor(c * f)) for c, f in zip(source.chunks[2:], pipe.factor))
    else:
        sizes = tuple(int(c) for c in (chunks if isinstance(chunks, Sequence) else (chunks,) * nd))
        if len(sizes) != nd or min(sizes) < 1:
            raise fail(func, f"chunks must be one positive int or {nd} (one per spatial axis); got {chunks!r}")
    sizes = tuple(min(c, n) for c, n in zip(sizes, spatial))
    batch = source.chunks[0]
    out_chunks = (batch, pipe.out_shape[1]) + sizes
    grid = tuple(math.ceil(n / c) for n, c in zip(pipe.out_shape, out_chunks))
    key = store_key(model, source, out_chunks)
    data, record = _prepare_output(func, zarr, output_store, key, pipe.out_shape, out_chunks, pipe.dtype, grid)
    done = _done(record)
    plans = [block_plan(pipe, ax, [min(c, n - t) for t in range(0, n, c)]) for ax, (c, n) in enumerate(zip(sizes, spatial))]
    shared = dask.delayed(pipe, pure=True)
    run = uuid.uuid4().hex[:8]
    tasks = []
    for index in np.ndindex(grid):
        if done[index]:
            continue
        rows = slice(index[0] * batch, min((index[0] + 1) * batch, source.shape[0]))
        chains = tuple(plans[ax][i][0] for ax, i in enumerate(index[2:]))
        name = f"tconv-block-{run}-" + "-".join(map(str, index))
        tasks.append(dask.delayed(write_block)(shared, source, data, record, index, rows, chains, dask_key_name=name))
    if tasks:
        _run(tasks, client, progress)
    total = math.prod(grid)
    return ApplyResult(pipe.out_shape, out_chunks, total, total - len(tasks), len(tasks))


def _run(tasks: list, client: Any, progress: bool) -> None:
    if client is not None:
        from distributed import progress as show, wait

        futures = client.compute(tasks)
        if progress:
            show(futures)
        wait(futures)
        client.gather(futures)  # raises the first task's error (KilledWorker, ...)
        return
    import dask
    from dask.diagnostics import ProgressBar

    if progress:
        with ProgressBar():
            dask.compute(*tasks)
    else:
        dask.compute(*tasks)
