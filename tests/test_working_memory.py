"""Each algorithm's ``working_bytes`` against the peak it really allocates (``tracemalloc`` sees NumPy's buffers).

The estimate must never be below the measured peak beyond the output (a memory
budget relies on it), nor far above it. ``tracemalloc`` also sees Python's own
objects (the chunk lists, the thread pool's futures), which the estimates leave
out: :data:`PYTHON_BYTES` of them are allowed. The compiled loops' accumulators
(numba's allocator, which ``tracemalloc`` does not see) are counted in the
estimates only.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from tconv.algorithms import IMPLEMENTATIONS, WORKING_BYTES
from tconv.geometry import Axis, Geometry, build_transpose

#: Python objects a call may allocate beside its arrays.
PYTHON_BYTES = 32 * 2**10

# (x shape, w shape, geometry): the paths the algorithms take (chunks of samples, single samples,
# groups and depthwise, dilation with dead phases, 1-D to 3-D, a long kernel, a window past y_full)
GEOMETRIES = [
    ((8, 64, 8, 8), (64, 32, 4, 4), build_transpose("t", (8, 8), (4, 4), (2, 2), (1, 1), ((1, 1), (1, 1)), (0, 0))),
    ((4, 32, 512), (32, 16, 25), build_transpose("t", (512,), (25,), (4,), (1,), ((11, 11),), (1,))),
    ((2, 32, 32, 32), (32, 1, 4, 4), build_transpose("t", (32, 32), (4, 4), (2, 2), (1, 1), ((1, 1), (1, 1)), (0, 0), 32)),
    ((3, 16, 20, 24), (16, 6, 3, 2), build_transpose("t", (20, 24), (3, 2), (2, 1), (1, 1), ((0, 2), (1, 0)), (1, 0), 2)),
    ((2, 16, 24, 24), (16, 12, 3, 3), build_transpose("t", (24, 24), (3, 3), (2, 2), (2, 2), ((2, 1), (0, 3)), (1, 1))),
    ((1, 8, 10, 10, 10), (8, 8, 4, 4, 4), build_transpose("t", (10,) * 3, (4,) * 3, (2,) * 3, (1,) * 3, ((1, 1),) * 3, (0,) * 3)),
    ((1, 6, 16, 16), (6, 6, 16, 16), build_transpose("t", (16, 16), (16, 16), (8, 8), (1, 1), ((4, 4), (4, 4)), (0, 0))),
    ((64, 16, 4, 4), (16, 16, 4, 4), Geometry((Axis(4, 4, 2, 1, -2, 13), Axis(4, 4, 2, 1, 1, 8)))),
    ((4, 32, 32, 32), (32, 3, 4, 4), build_transpose("t", (32, 32), (4, 4), (2, 2), (1, 1), ((1, 1), (1, 1)), (0, 0))),
]


def measured_bytes(name: str, x: np.ndarray, w: np.ndarray, geom: Geometry) -> int:
    """Peak traced allocation of one call beyond its output (after a first call: caches and compilation)."""
    IMPLEMENTATIONS[name](x, w, geom)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        y = IMPLEMENTATIONS[name](x, w, geom)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return peak - y.nbytes


#: (algorithm, TCONV_KERNELS): the two paths of the algorithms with compiled loops.
RUNS = [(name, path) for name in sorted(IMPLEMENTATIONS)
        for path in (("numba", "numpy") if name in ("col2im", "subpixel", "winograd") else ("numpy",))]


@pytest.mark.parametrize("name, path", RUNS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_working_bytes_bounds_the_measured_peak(monkeypatch, name, path, dtype):
    monkeypatch.setenv("TCONV_KERNELS", path)
    rng = np.random.default_rng(8)
    for x_shape, w_shape, geom in GEOMETRIES:
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        measured = measured_bytes(name, x, w, geom)
        estimate = WORKING_BYTES[name](x_shape, w_shape, geom, x.itemsize)
        scale = x.nbytes + w.nbytes + x.itemsize * x_shape[0] * w_shape[1] * geom.groups * np.prod(geom.out_size)
        assert estimate >= measured - PYTHON_BYTES, (x_shape, w_shape, geom, estimate, measured)
        # not far above: at most three times the peak, give or take a tenth of input plus output
        # and a little for the compiled loops' accumulators
        assert estimate <= 3 * measured + scale / 10 + 2**20, (x_shape, w_shape, geom, estimate, measured)
