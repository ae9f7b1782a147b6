"""The machine rates behind every time estimate: one table, read by each algorithm's ``estimate_seconds``
and by ``col2im``'s chunk planner.

Rates of the 2-core AMD EPYC (Zen 3) the benchmark suite ran on, NumPy's
OpenBLAS with 2 threads, calibrated on ``benchmarks/`` (``docs/performance.md``,
"The cost model"). Each algorithm prices itself with them; ``auto`` only
compares the prices. This module imports no algorithm.
"""

from __future__ import annotations

#: float32 GEMM with every dimension >= :data:`GEMM_FULL` (the cost model's rate).
GEMM_FLOPS_PER_S = 1e11
#: A GEMM dimension below this runs proportionally slower (see :func:`gemm_seconds`).
GEMM_FULL = 64
#: The planner's peak GEMM rate, scaled by :func:`gemm_efficiency`: ``col2im``'s chunk planner
#: compares shapes of one GEMM with a finer shape law than the model's, fitted separately.
PLAN_GEMM_FLOPS_PER_S = 1.5e11
#: Rate of the FFT's butterflies.
FFT_FLOPS_PER_S = 2e9
#: One NumPy call on a slice (Python overhead, thread hand-off).
CALL_S = 1e-5
#: One hand-off of work to the threads and back (:func:`.threads.parallel_for`), as ``winograd``'s
#: plan prices it (a trivial hand-off alone took about twice as long).
HANDOFF_S = 4e-5
#: One phase of ``phase``: window, im2col set-up, interleaved assignment.
PHASE_S = 1e-4
#: One element of an im2col or layout copy.
COPY_S = 3e-10
#: One element of the transposing copy that puts samples side by side, as ``col2im``'s planner prices
#: it: measured alone, where :data:`COPY_S` is fitted over every copy the model counts.
PLAN_COPY_S = 6e-10
#: One element of a strided in-place addition (half that for an assignment) ...
ADD_S = 1e-9
#: ... plus this per inner loop (NumPy's loop over the input's last axis).
ADD_ROW_S = 2e-8
#: One element of a zero-filled output, touched first by the additions.
ZERO_S = 1e-9
#: One element of a transposing depth-to-space write.
SHUFFLE_S = 2.5e-9
#: Memory bandwidth of a streaming pass.
MEMORY_BYTES_PER_S = 1e10
#: The compiled col2im (``tconv[fast]``): one chunk, a GEMM call and a hand-off to the threads ...
CHUNK_S = 1e-4
#: ... one column element added ...
KERNEL_S = 4e-10
#: ... one inner loop (a run along the input's last axis, the channels or the samples) ...
KERNEL_ROW_S = 1e-8
#: ... and one depthwise product.
DEPTHWISE_S = 2e-10
#: One element of ``subpixel``'s compiled depth-to-space (it saves the NumPy calls).
SHUFFLE_COMPILED_S = 2.5e-9
#: The compiled col2im's GEMMs, chunked for width, ran at this fraction of the modelled time.
COMPILED_GEMM = 0.65
#: ``winograd``'s GEMMs with each thread on chunks of its own (one-thread GEMMs side by side, no
#: hand-offs) ran at this fraction of the modelled time (``docs/performance.md``, "Winograd").
WINOGRAD_GEMM = 0.65
#: One coefficient of ``winograd``'s compiled transforms applied to one element (a vectorised
#: multiply-add streaming through memory).
WINOGRAD_S = 3e-10
#: ... and this many times as long where one chunk's transforms are shared between the threads
#: (each pass cut into short slices) rather than each thread transforming whole chunks of its own.
WINOGRAD_SHARED = 3.0
#: ``phase``'s GEMM per phase on a fresh im2col copy, against the modelled time of the others.
PHASE_GEMM = 1.5


def gemm_seconds(flops: float, m: float, k: float, n: float) -> float:
    """A GEMM of ``flops`` with dimensions ``m x k @ k x n``: narrow dimensions are slower."""
    shape = min(1.0, m / GEMM_FULL) * min(1.0, k / GEMM_FULL) * min(1.0, n / GEMM_FULL)
    return flops / (GEMM_FLOPS_PER_S * max(shape, 1e-3))


def gemm_efficiency(m: int, n: int) -> float:
    """Fraction of :data:`PLAN_GEMM_FLOPS_PER_S` OpenBLAS reaches on ``m x K @ K x n``
    (measured: ``docs/performance.md``)."""
    return m / (m + 32) * n / (n + 256)
