"""``winograd``: minimal filtering on the phases agrees with the definition (``scatter``).

Every tile size the module may choose runs (``tiles=`` overrides the cost model's choice)
on seeded random geometries: 1-3 spatial axes, groups, dilation, asymmetric padding,
output_padding, on both kernel paths (compiled and ``TCONV_KERNELS=numpy``), in float64
(within 1e-9) and float32 (within the project's 1e-4 of ``max(1, max|ref|)``).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import tconv
from tconv import algorithms
from tconv.algorithms import cost, winograd
from tconv.algorithms.scatter import conv_transpose as scatter
from tconv.ops import run_geometry, transpose_inputs

from support import random_case

PATHS = ("numba", "numpy")


def _geometry(case):
    x = np.zeros(case["x_shape"])
    w = np.zeros(case["w_shape"])
    return transpose_inputs("test", x, w, None, **case["kwargs"])[3]


def _random_tiles(rng, geom):
    """One allowed tile per axis: 1, or any ``m`` of :data:`winograd.MAX_TILE` for the axis's taps."""
    return tuple(int(rng.choice((1,) + tuple(range(2, winograd.MAX_TILE.get(a.shifts, 1) + 1)))) for a in geom.axes)


def _error(y, ref):
    return float(np.abs(y - ref).max() / max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_every_tile_matches_scatter_on_random_geometries(monkeypatch, path, nd):
    monkeypatch.setenv("TCONV_KERNELS", path)
    rng = np.random.default_rng(20 + nd)
    for _ in range({1: 30, 2: 20, 3: 8}[nd]):
        case = random_case(rng, nd, max_size={1: 12, 2: 7, 3: 4}[nd])
        case["x_shape"] = (case["x_shape"][0], case["x_shape"][1] * int(rng.integers(1, 4))) + case["x_shape"][2:]
        case["w_shape"] = (case["x_shape"][1],) + case["w_shape"][1:]
        geom = _geometry(case)
        x = rng.standard_normal(case["x_shape"])
        w = rng.standard_normal(case["w_shape"])
        ref = scatter(x, w, geom)
        tiles = _random_tiles(rng, geom)
        assert _error(winograd.conv_transpose(x, w, geom, tiles), ref) < 1e-9, (case, tiles)
        y32 = winograd.conv_transpose(x.astype(np.float32), w.astype(np.float32), geom, tiles)
        assert y32.dtype == np.float32
        assert _error(y32, ref) < 1e-4, (case, tiles)
        assert _error(winograd.conv_transpose(x, w, geom), ref) < 1e-9, case  # the cost model's tiles


@pytest.mark.parametrize("m, q", [(m, q) for q, top in winograd.MAX_TILE.items() for m in range(1, top + 1)])
def test_each_transform_is_the_correlation(m, q):
    t = winograd.transform(m, q)
    rng = np.random.default_rng(m * 10 + q)
    d, g = rng.standard_normal(t.alpha), rng.standard_normal(q)
    direct = np.array([d[i:i + q] @ g for i in range(m)])
    np.testing.assert_allclose(t.at @ ((t.g @ g) * (t.bt @ d)), direct, rtol=0, atol=1e-12)
    assert t.at.shape == (m, t.alpha) and t.g.shape == (t.alpha, q) and t.bt.shape == (t.alpha, t.alpha)


@pytest.mark.parametrize("path", PATHS)
def test_k4_s2_layer_with_the_largest_tiles_in_float32(monkeypatch, path):
    """A DCGAN-shaped layer (k4 s2 p1, 64 channels) at the largest tiles: the float32 error stays within 1e-4."""
    monkeypatch.setenv("TCONV_KERNELS", path)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 64, 12, 12))
    w = rng.standard_normal((64, 16, 4, 4))
    geom = transpose_inputs("test", x, w, None, stride=2, padding=1, output_padding=0, dilation=1, groups=1)[3]
    ref = scatter(x, w, geom)
    top = winograd.MAX_TILE[2]
    y = winograd.conv_transpose(x.astype(np.float32), w.astype(np.float32), geom, (top, top))
    assert _error(y, ref) < 1e-4


def test_is_registered_priced_and_chosen_by_name():
    assert "winograd" in tconv.ALGORITHMS
    for table in (algorithms.IMPLEMENTATIONS, algorithms.ESTIMATES, algorithms.WORKING_BYTES):
        assert "winograd" in table
    x = np.random.default_rng(0).standard_normal((2, 8, 6, 6))
    w = np.random.default_rng(1).standard_normal((8, 4, 4, 4))
    ref = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="scatter")
    np.testing.assert_allclose(tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="winograd"), ref, atol=1e-9)


def test_chunks_of_samples_tile_rows_and_output_channels(monkeypatch):
    """Tiny budgets cut the call into chunks of one sample, a tile row and a few output channels."""
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)
    monkeypatch.setattr(winograd, "SHARE", 0.0)
    monkeypatch.setattr(winograd, "WEIGHT_BYTES", 1)
    monkeypatch.setattr(winograd, "FLOOR_BYTES", 1)
    winograd._plan.cache_clear()
    try:
        rng = np.random.default_rng(5)
        x = rng.standard_normal((3, 4, 9, 7))
        w = rng.standard_normal((4, 5, 4, 3))
        geom = transpose_inputs("test", x, w, None, stride=(2, 1), padding=1, output_padding=0, dilation=1, groups=1)[3]
        p = winograd._price(x.shape, w.shape, geom, (2, 3), 8, True)
        assert p.nb == 1 and p.rows == 1 and p.cc == 1
        assert _error(winograd.conv_transpose(x, w, geom, (2, 3)), scatter(x, w, geom)) < 1e-9
    finally:
        winograd._plan.cache_clear()


@pytest.mark.parametrize("path", PATHS)
def test_chunks_side_by_side_match_scatter_and_count_one_chunk_per_thread(monkeypatch, path):
    """With two threads and many chunks priced cheaper side by side, each thread runs whole chunks:
    the result is the definition's, and the working memory holds one chunk per thread."""
    monkeypatch.setenv("TCONV_KERNELS", path)
    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 2**14)
    monkeypatch.setattr(winograd, "FLOOR_BYTES", 2**14)
    monkeypatch.setattr(cost, "WINOGRAD_SHARED", 1e6)  # a shared chunk priced out: side by side wherever it fits
    monkeypatch.setattr(cost, "ADD_S", 1e3 * cost.ADD_S)  # the NumPy path's transforms too
    winograd._plan.cache_clear()
    try:
        rng = np.random.default_rng(12)
        x = rng.standard_normal((3, 8, 13, 11)).astype(np.float32)
        w = rng.standard_normal((8, 6, 4, 3)).astype(np.float32)
        geom = transpose_inputs("test", x, w, None, stride=(2, 1), padding=1, output_padding=0, dilation=1, groups=1)[3]
        p = winograd.plan(x.shape, w.shape, geom)
        alone = winograd._price(x.shape, w.shape, geom, tuple(t.m for t in p.transforms), 4, path == "numba",
                                threads=1)
        assert p.workers == 2 and alone.workers == 1
        assert -(-x.shape[0] // p.nb) * -(-p.tiles[0] // p.rows) >= 2 * p.workers  # at least two chunks per thread
        one = p._replace(workers=1)
        assert winograd._plan_bytes(p, x.shape, w.shape, geom, 4) > winograd._plan_bytes(one, x.shape, w.shape, geom, 4)
        y = winograd.conv_transpose(x, w, geom)
        assert _error(y, scatter(x.astype(np.float64), w.astype(np.float64), geom)) < 1e-5
        assert winograd.working_bytes(x.shape, w.shape, geom, 4) >= _working_peak(x, w, geom) - 32 * 2**10
    finally:
        winograd._plan.cache_clear()


@pytest.mark.parametrize("path", PATHS)
def test_working_bytes_bound_the_peak(monkeypatch, path):
    monkeypatch.setenv("TCONV_KERNELS", path)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 16, 10, 10)).astype(np.float32)
    w = rng.standard_normal((16, 8, 4, 4)).astype(np.float32)
    geom = transpose_inputs("test", x, w, None, stride=2, padding=1, output_padding=0, dilation=1, groups=1)[3]
    winograd.conv_transpose(x, w, geom)
    assert winograd.working_bytes(x.shape, w.shape, geom, 4) >= _working_peak(x, w, geom) - 32 * 2**10


def _working_peak(x: np.ndarray, w: np.ndarray, geom) -> int:
    """Bytes a ``winograd`` call allocates at its peak beyond its output (``tracemalloc`` sees every thread's)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        y = winograd.conv_transpose(x, w, geom)
        return tracemalloc.get_traced_memory()[1] - before - y.nbytes
    finally:
        tracemalloc.stop()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the spreading run's inf - inf, on a worker thread
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_inputs_get_the_definitions_pattern(value):
    """A NaN or inf would spread over a Winograd tile; ``winograd`` runs ``phase`` on such inputs instead."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 4, 12, 12))
    w = rng.standard_normal((4, 3, 4, 4))
    x[0, 1, 5, 6] = value
    xv, wv, _, geom = transpose_inputs("test", x, w, None, stride=2, padding=1, output_padding=0, dilation=1, groups=1)
    with np.errstate(invalid="ignore"):
        mixed = winograd.conv_transpose(x, w, geom, (6, 6))
        ref = scatter(x, w, geom)
    assert np.isfinite(mixed).sum() < np.isfinite(ref).sum()  # run as it is, the transforms spread it
    for algorithm in ("winograd", "auto"):
        y = run_geometry(xv, wv, None, geom, algorithm)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
        finite = np.isfinite(ref)
        np.testing.assert_allclose(y[finite], ref[finite], atol=1e-9)


@pytest.mark.parametrize("path", PATHS)
def test_the_articles_example_is_bit_exact(monkeypatch, path):
    """``auto`` runs no rounding-prone transform on the articles' 2x2 example: exactly 1, 2 and 4."""
    monkeypatch.setenv("TCONV_KERNELS", path)
    algorithms._ranked.cache_clear()
    y = tconv.conv_transpose(np.ones((1, 1, 2, 2)), np.ones((1, 1, 4, 4)), stride=2, padding=1)
    np.testing.assert_array_equal(y[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_auto_runs_fft_only_well_below_the_others(monkeypatch):
    """``fft`` comes last unless its estimate is below :data:`FFT_MARGIN` of the best other's."""
    rng = np.random.default_rng(2)
    for _ in range(40):
        case = random_case(rng, int(rng.integers(1, 4)), max_size=8)
        geom = _geometry(case)
        costs = algorithms.estimate_seconds(case["x_shape"], case["w_shape"], geom)
        order = algorithms.ranked(case["x_shape"], case["w_shape"], geom)
        others = min(v for k, v in costs.items() if k != "fft")
        assert (order[0] == "fft") == (costs["fft"] < algorithms.FFT_MARGIN * others)
    big_kernel = transpose_inputs("test", np.zeros((1, 21, 16, 16)), np.zeros((21, 21, 64, 64)), None, stride=32,
                                  padding=16, output_padding=0, dilation=1, groups=1)[3]
    costs = algorithms.estimate_seconds((1, 21, 16, 16), (21, 21, 64, 64), big_kernel)
    assert set(costs) == set(algorithms.ESTIMATES)


FORWARD = [  # (x shape, weight shape, padding, groups, dilation): stride-1 convs in 2-D and 3-D, with groups
    ((1, 64, 256, 256), (64, 64, 3, 3), 1, 1, 1),
    ((1, 32, 100, 100), (32, 32, 5, 5), (1, 3), 1, 1),
    ((1, 32, 100, 100), (32, 16, 5, 5), (1, 3), 2, 1),
    ((1, 16, 48, 48, 48), (16, 16, 3, 3, 3), 1, 1, 1),
    ((1, 32, 48, 48, 48), (32, 16, 3, 3, 3), 1, 2, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, padding, groups, dilation", FORWARD)
def test_forward_conv_at_stride_1_runs_as_the_transposed_conv_and_matches_torch(x_shape, w_shape, padding, groups,
                                                                                 dilation, monkeypatch):
    torch = pytest.importorskip("torch")
    from tconv import ops

    rng = np.random.default_rng(sum(x_shape))
    x, w = rng.standard_normal(x_shape, dtype=np.float32), rng.standard_normal(w_shape, dtype=np.float32)
    b = rng.standard_normal(w_shape[0], dtype=np.float32)
    geom = ops.conv_inputs("test", x, w, b, stride=1, padding=padding, groups=groups, dilation=dilation)[3]
    assert ops._as_transpose(geom)  # every stride-1 conv takes the route
    assert not ops._as_transpose(ops.conv_inputs("test", x, w, b, stride=2, padding=padding, groups=groups,
                                                 dilation=dilation)[3])
    ran = []
    real = ops.run_geometry
    monkeypatch.setattr(ops, "run_geometry", lambda *a, **k: ran.append(a[3]) or real(*a, **k))
    y = tconv.conv(x, w, b, padding=padding, groups=groups, dilation=dilation)
    torch_conv = getattr(torch.nn.functional, f"conv{len(x_shape) - 2}d")
    ref = torch_conv(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), padding=padding, groups=groups,
                     dilation=dilation).numpy()
    assert ran and all(s == 1 for s in ran[0].stride) and y.shape == ref.shape and y.dtype == np.float32
    assert _error(y, ref) < 1e-4
    y64 = tconv.conv(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), padding=padding, groups=groups,
                     dilation=dilation)
    assert y64.dtype == np.float64 and _error(y64, ref.astype(np.float64)) < 1e-4


def test_forward_conv_with_nan_keeps_the_definitions_pattern():
    torch = pytest.importorskip("torch")
    x_shape, w_shape = FORWARD[0][:2]
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(x_shape, dtype=np.float32), rng.standard_normal(w_shape, dtype=np.float32)
    x[0, 5, 40, 70] = np.nan
    y = tconv.conv(x, w, padding=1)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    assert np.array_equal(np.isnan(y), np.isnan(ref)) and np.isnan(y).sum() == 9 * 64  # a 3x3 patch, every channel
    finite = ~np.isnan(ref)
    assert _error(np.where(finite, y, 0), np.where(finite, ref, 0)) < 1e-4
