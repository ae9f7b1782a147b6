"""Every formulation of the transposed convolution, behind one registry.

Each algorithm is a pure function ``conv_transpose(x, weight, geometry) -> y``
with ``x`` of shape ``(N, C_in, *n)``, ``weight`` of shape ``(C_in, C_out/g, *k)``,
both already validated and in the compute dtype, and ``y`` of shape
``(N, C_out, *L)`` without bias. Its module docstring states the formula, the
FLOPs and the extra memory; beside its code, ``working_bytes(x_shape,
weight_shape, geometry, itemsize)`` gives that memory in bytes (:data:`WORKING_BYTES`)
and, for the five ``auto`` compares, ``estimate_seconds(x_shape, weight_shape,
geometry)`` its time (:data:`ESTIMATES`, priced with the one table of machine
rates in :mod:`.cost`).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from ..geometry import Geometry
from . import col2im, compiled, fft, matrix, phase, scatter, subpixel, winograd, zero_insert
from .compiled import backend

__all__ = ["ALGORITHMS", "ESTIMATES", "EXACT", "FFT_MARGIN", "IMPLEMENTATIONS", "WORKING_BYTES", "OWN_OUTPUT", "backend", "choose", "estimate_seconds", "ranked"]

Implementation = Callable[[np.ndarray, np.ndarray, Geometry], np.ndarray]
Estimate = Callable[[tuple[int, ...], tuple[int, ...], Geometry], float]
Memory = Callable[[tuple[int, ...], tuple[int, ...], Geometry, int], int]

IMPLEMENTATIONS: dict[str, Implementation] = {
    "scatter": scatter.conv_transpose,
    "zero_insert": zero_insert.conv_transpose,
    "matrix": matrix.conv_transpose,
    "col2im": col2im.conv_transpose,
    "phase": phase.conv_transpose,
    "subpixel": subpixel.conv_transpose,
    "fft": fft.conv_transpose,
    "winograd": winograd.conv_transpose,
}

#: Every name ``algorithm=`` accepts, ``"auto"`` first.
ALGORITHMS: tuple[str, ...] = ("auto",) + tuple(IMPLEMENTATIONS)

#: The algorithms ``auto`` chooses from, each with its estimated seconds of a call.
ESTIMATES: dict[str, Estimate] = {
    "col2im": col2im.estimate_seconds,
    "subpixel": subpixel.estimate_seconds,
    "phase": phase.estimate_seconds,
    "fft": fft.estimate_seconds,
    "winograd": winograd.estimate_seconds,
}

#: Bytes each algorithm allocates beyond its input and output (an upper bound).
WORKING_BYTES: dict[str, Memory] = {
    "scatter": scatter.working_bytes,
    "zero_insert": zero_insert.working_bytes,
    "matrix": matrix.working_bytes,
    "col2im": col2im.working_bytes,
    "phase": phase.working_bytes,
    "subpixel": subpixel.working_bytes,
    "fft": fft.working_bytes,
    "winograd": winograd.working_bytes,
}

#: The exact formulation that runs in place of one whose transforms mix values (a NaN or inf would
#: spread over a Winograd tile) when the inputs hold NaN or inf (:func:`tconv.ops.run_geometry`).
EXACT: dict[str, str] = {"winograd": "phase"}

#: The algorithms whose result is always a C-contiguous array of its own; the others may return a
#: window or a transposed view of a larger array, which the caller copies into the output.
OWN_OUTPUT: frozenset[str] = frozenset({"col2im", "phase", "subpixel", "winograd"})


#: ``auto`` runs ``fft`` only where its estimate is below this share of the best other algorithm's:
#: its results are rounded differently everywhere (an integer example's 2 becomes
#: 2.0000000000000004), which pays only for a clear gain (every frequency mixes every input).
FFT_MARGIN = 0.8


def estimate_seconds(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> dict[str, float]:
    """The cost model behind ``auto``: each of :data:`ESTIMATES` prices a float32 call of its algorithm.

    All of them do the definition's multiplies (``subpixel`` a few more, ``fft``
    in the frequency domain), so the estimates mostly price the GEMM shapes and
    the memory traffic around the arithmetic; their docstrings say how.
    """
    return {name: estimate(x_shape, weight_shape, geom) for name, estimate in ESTIMATES.items()}


def choose(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> str:
    """The algorithm ``auto`` runs: the cheapest by :func:`estimate_seconds` (``fft`` only below
    :data:`FFT_MARGIN` of the best other's).

    Remembered per layer (shapes, geometry and whether the compiled kernels run): a
    network calls the same layers again, and on small layers the model's own Python
    time would be a noticeable share of the call.
    """
    return ranked(x_shape, weight_shape, geom)[0]


def ranked(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry) -> tuple[str, ...]:
    """The algorithms of :data:`ESTIMATES`, cheapest first (ties in their order there; ``fft`` last
    unless it is below :data:`FFT_MARGIN` of the best other's): ``auto``
    runs the first that fits the memory budget (remembered per layer, as :func:`choose`)."""
    return _ranked(tuple(x_shape), tuple(weight_shape), geom, compiled.kernels() is not None)


@functools.lru_cache(maxsize=256)
def _ranked(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], geom: Geometry,
            compiled_path: bool) -> tuple[str, ...]:
    costs = estimate_seconds(x_shape, weight_shape, geom)
    order = sorted(costs, key=costs.__getitem__)
    best_other = min(v for name, v in costs.items() if name != "fft")
    if costs["fft"] >= FFT_MARGIN * best_other:  # last: a fallback when nothing else fits the budget
        order.remove("fft")
        order.append("fft")
    return tuple(order)
