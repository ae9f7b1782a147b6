"""The compiled loops (``tconv[fast]``, numba) and the pure NumPy path they replace: both exact.

``TCONV_KERNELS`` selects the path at run time; every test here runs the same
geometries through both and against PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tconv
from support import assert_close, random_case
from tconv.algorithms import col2im, compiled, choose, estimate_seconds
from tconv.geometry import output_size, transpose_geometry
from test_algorithms import torch_reference

PATHS = ["numba", "numpy"]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    monkeypatch.setenv("TCONV_KERNELS", request.param)
    return request.param


def test_the_test_environment_has_numba():
    # the test extra pins numba: the compiled path must be the one under test, not a fallback
    assert compiled.backend().startswith("numba ")


def test_environment_variable_selects_the_path(monkeypatch):
    monkeypatch.setenv("TCONV_KERNELS", "numpy")
    assert compiled.backend() == "numpy" and compiled.kernels() is None
    monkeypatch.setenv("TCONV_KERNELS", "numba")
    assert compiled.kernels() is not None
    monkeypatch.setenv("TCONV_KERNELS", "fortran")
    with pytest.raises(tconv.TconvError, match="TCONV_KERNELS must be one of auto, numba, numpy; got 'fortran'"):
        tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 2)), stride=2, algorithm="col2im")


def test_a_bad_thread_count_is_a_tconv_error(monkeypatch):
    from tconv.algorithms import threads

    monkeypatch.setenv("TCONV_NUM_THREADS", "two")
    with pytest.raises(tconv.TconvError, match="TCONV_NUM_THREADS must be a positive int; got 'two'"):
        threads.num_threads()
    with pytest.raises(ValueError):  # TconvError is a ValueError: callers catching that keep working
        tconv.conv_transpose(np.ones((1, 1, 300)), np.ones((1, 1, 2)), stride=2, algorithm="col2im")


def test_missing_numba_falls_back_or_names_the_extra(monkeypatch):
    monkeypatch.setattr(compiled, "_COMPILED", False)  # as if numba were not installed
    monkeypatch.setenv("TCONV_KERNELS", "auto")
    assert compiled.backend() == "numpy"
    x, w = np.arange(6.0).reshape(1, 2, 3), np.ones((2, 1, 3))
    ref = tconv.conv_transpose(x, w, stride=2, algorithm="scatter")
    assert_close(tconv.conv_transpose(x, w, stride=2, algorithm="col2im"), ref)
    monkeypatch.setenv("TCONV_KERNELS", "numba")
    with pytest.raises(tconv.TconvError, match=r'pip install "tconv\[fast\]"'):
        tconv.conv_transpose(x, w, stride=2, algorithm="col2im")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_col2im_matches_torch_on_both_paths(path, nd):
    rng = np.random.default_rng(77 + nd)
    for _ in range({1: 30, 2: 20, 3: 8}[nd]):
        case = random_case(rng, nd, max_size={1: 9, 2: 6, 3: 3}[nd])
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        x = rng.standard_normal(case["x_shape"]).astype(dtype)
        w = rng.standard_normal(case["w_shape"]).astype(dtype)
        y = tconv.conv_transpose(x, w, algorithm="col2im", **case["kwargs"])
        assert y.dtype == dtype
        assert_close(y, torch_reference(x.astype(np.float64), w.astype(np.float64), None, **case["kwargs"]), dtype)


@pytest.mark.parametrize("groups, c_out_g", [(4, 1), (4, 3), (1, 5)])
def test_depthwise_and_single_channel_layers_on_both_paths(path, groups, c_out_g):
    # one input channel per group: the compiled depthwise kernel, no GEMM
    rng = np.random.default_rng(groups * 10 + c_out_g)
    x = rng.standard_normal((3, groups, 7, 6))
    w = rng.standard_normal((groups, c_out_g, 4, 3))
    kwargs = dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 0), dilation=(1, 2), groups=groups)
    y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
    assert_close(y, torch_reference(x, w, None, **kwargs))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("output_padding", [0, 1])
def test_depthwise_rows_of_stride_2_even_and_odd(path, nd, output_padding):
    # the last axis at stride 2: both phases leave in one loop, and an odd length's last output
    rng = np.random.default_rng(nd * 2 + output_padding)
    x = rng.standard_normal((2, 3) + (5,) * nd)
    w = rng.standard_normal((3, 2) + (3,) * nd)
    kwargs = dict(stride=(2,) * nd, padding=(1,) * nd, output_padding=(output_padding,) * nd,
                  dilation=(1,) * nd, groups=3)
    y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
    assert y.shape[-1] == 9 + output_padding
    assert_close(y, torch_reference(x, w, None, **kwargs))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_depthwise_rows_whose_taps_miss_a_few_inputs_or_many(path, nd):
    # long last-axis rows whose taps miss none, a few or many of the row's inputs (crops,
    # dilations, output_padding): the kernel's runs start and end inside the row
    rng = np.random.default_rng(400 + nd)
    for _ in range({1: 40, 2: 20, 3: 8}[nd]):
        k = tuple(int(v) for v in rng.integers(1, 7, nd))
        s = tuple(int(v) for v in rng.integers(1, 5, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd))
        pad = tuple(int(rng.integers(0, di * (ki - 1) + 1)) for ki, di in zip(k, d))
        op = tuple(int(rng.integers(0, max(si, di))) for si, di in zip(s, d))
        n = tuple(int(v) for v in rng.integers(2, 6, nd - 1)) + (int(rng.integers(8, 41)),)
        g, c_out_g = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        kwargs = dict(stride=s, padding=pad, output_padding=op, dilation=d)
        try:
            output_size(n, k, **kwargs)
        except tconv.TconvError:  # an empty output: not a layer
            continue
        kwargs["groups"] = g
        x = rng.standard_normal((2, g) + n)
        w = rng.standard_normal((g, c_out_g) + k)
        y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
        assert_close(y, torch_reference(x, w, None, **kwargs))


def test_inputs_that_are_not_contiguous_and_stay_unchanged(path):
    rng = np.random.default_rng(3)
    base_x = rng.standard_normal((2, 8, 9, 10))
    base_w = rng.standard_normal((8, 6, 3, 4))
    x, w = base_x[:, ::2, :, ::-1], base_w[::2, ::2]  # strided and reversed views
    before_x, before_w = x.copy(), w.copy()
    for groups in (1, 4):
        kwargs = dict(stride=2, padding=1, groups=groups)
        wg = w[:, : 3 if groups == 1 else 1]
        y = tconv.conv_transpose(x, wg, algorithm="col2im", **kwargs)
        assert_close(y, torch_reference(np.ascontiguousarray(x), np.ascontiguousarray(wg), None,
                                         stride=(2, 2), padding=(1, 1), output_padding=(0, 0),
                                         dilation=(1, 1), groups=groups))
    np.testing.assert_array_equal(x, before_x)
    np.testing.assert_array_equal(w, before_w)


def test_layers_larger_than_one_column_chunk(path, monkeypatch):
    # force many chunks of samples and channels: the chunking must not change the sum
    monkeypatch.setattr(col2im, "CHUNK_BYTES", 4096)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 6, 5, 4)).astype(np.float32)
    w = rng.standard_normal((6, 7, 4, 4)).astype(np.float32)
    kwargs = dict(stride=(2, 2), padding=(1, 1), output_padding=(0, 0), dilation=(1, 1), groups=1)
    y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
    assert_close(y, torch_reference(x.astype(np.float64), w.astype(np.float64), None, **kwargs), np.float32)


def test_four_spatial_axes_use_the_numpy_path():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((1, 2, 3, 2, 2, 3)), rng.standard_normal((2, 1, 2, 2, 1, 2))
    geom = transpose_geometry("test", x.shape[2:], w.shape[2:], stride=2)
    assert col2im.compiled_kernels(geom) is None
    ref = tconv.conv_transpose(x, w, stride=2, algorithm="scatter")
    assert_close(tconv.conv_transpose(x, w, stride=2, algorithm="col2im"), ref)


def test_compiled_plan_fits_its_limit_and_prefers_wide_gemms():
    nb, oc = col2im.compiled_plan(64, 1024, 512, 16, 16, 8 * 2**20, 4)
    assert (oc * 16 * nb * 16 + (1024 * nb * 16 if nb > 1 else 0)) * 4 <= 8 * 2**20
    assert nb * 16 >= 256  # DCGAN's 4x4 samples go side by side
    # a tiny limit still returns one sample by one channel
    assert col2im.compiled_plan(4, 8, 8, 9, 100, 1, 4) == (1, 1)


@pytest.mark.parametrize("path_name", PATHS)
def test_auto_prices_the_path_that_will_run(monkeypatch, path_name):
    monkeypatch.setenv("TCONV_KERNELS", path_name)
    geom = transpose_geometry("test", (4, 4), (4, 4), stride=2, padding=1)
    costs = estimate_seconds((64, 1024, 4, 4), (1024, 512, 4, 4), geom)
    assert set(costs) == {"col2im", "subpixel", "phase", "fft", "winograd"} and all(c > 0 for c in costs.values())
    assert choose((64, 1024, 4, 4), (1024, 512, 4, 4), geom) == "col2im"


def test_taps_in_parts_when_one_channel_exceeds_the_chunk(monkeypatch):
    # one sample, one output channel, many taps: the columns come a few taps at a time
    monkeypatch.setenv("TCONV_KERNELS", "numba")
    monkeypatch.setattr(col2im, "CHUNK_BYTES", 3 * 40 * 8)  # three taps of a 5x8 float64 input
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((1, 4, 5, 8)), rng.standard_normal((4, 1, 5, 4))
    kwargs = dict(stride=(3, 2), padding=(2, 1), output_padding=(2, 1), dilation=(1, 1), groups=1)
    y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
    assert_close(y, torch_reference(x, w, None, **kwargs))


@pytest.mark.parametrize("in_parts", [False, True])
@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("output_padding", [0, 1])
def test_stride_two_rows_with_and_without_dead_phases(in_parts, dilation, output_padding, monkeypatch):
    # the compiled pass writes a stride-2 row's two phases in one loop; with an even dilation
    # half the phases get no tap and must come out zero, whole or with the taps in parts
    monkeypatch.setenv("TCONV_KERNELS", "numba")
    if in_parts:
        monkeypatch.setattr(col2im, "CHUNK_BYTES", 2 * 7 * 6 * 8)  # two taps of a 7x6 float64 input
    rng = np.random.default_rng(40 + dilation + 3 * output_padding)
    x, w = rng.standard_normal((1, 3, 7, 6)), rng.standard_normal((3, 1, 3, 3))
    kwargs = dict(stride=(2, 2), padding=(1, 1), output_padding=(output_padding,) * 2, dilation=(dilation,) * 2, groups=1)
    y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
    assert_close(y, torch_reference(x, w, None, **kwargs))
    if dilation == 2:  # outputs o with o + padding odd on either axis: no tap lands there
        assert not y[:, :, ::2].any() and not y[:, :, :, ::2].any()


@pytest.mark.parametrize("first_phases", [0, 64], ids=["channels_last", "channels_first"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_subpixel_shuffle_matches_torch_on_both_paths(path, nd, first_phases, monkeypatch):
    # both GEMM layouts (the blocked result channels last or first) into both shuffles
    from tconv.algorithms import subpixel

    monkeypatch.setattr(subpixel, "FIRST_PHASES", first_phases)
    monkeypatch.setattr(subpixel, "FIRST_BLOCKS", 0)
    rng = np.random.default_rng(300 + nd)
    for trial in range({1: 20, 2: 14, 3: 6}[nd]):
        # every other case in small chunks of block rows: the compiled shuffle writes one chunk at a time
        monkeypatch.setattr(subpixel, "CHUNK_BYTES", 16 * 2**20 if trial % 2 else 256)
        case = random_case(rng, nd, max_size={1: 9, 2: 6, 3: 3}[nd])
        x = rng.standard_normal(case["x_shape"]).astype(np.float32)
        w = rng.standard_normal(case["w_shape"]).astype(np.float32)
        y = tconv.conv_transpose(x, w, algorithm="subpixel", **case["kwargs"])
        ref = torch_reference(x.astype(np.float64), w.astype(np.float64), None, **case["kwargs"])
        assert_close(y, ref, np.float32)


@pytest.mark.parametrize("first_phases", [0, 64], ids=["channels_last", "channels_first"])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("nd", [1, 2])
def test_subpixel_shuffle_on_rows_of_several_tiles(nd, dilation, first_phases, monkeypatch):
    # rows longer than the compiled shuffle's 64-output tiles: whole tiles go without a test per
    # output, the last one partly; an even dilation leaves phases that every tile must skip
    from tconv.algorithms import subpixel

    monkeypatch.setenv("TCONV_KERNELS", "numba")
    monkeypatch.setattr(subpixel, "FIRST_PHASES", first_phases)
    monkeypatch.setattr(subpixel, "FIRST_BLOCKS", 0)
    monkeypatch.setattr(subpixel, "CHUNK_BYTES", 4096)  # chunks of block rows on the 2-D layer
    rng = np.random.default_rng(500 + 10 * nd + dilation)
    size = (70,) if nd == 1 else (5, 70)
    x = rng.standard_normal((2, 3) + size).astype(np.float32)
    w = rng.standard_normal((3, 4) + (4,) * nd).astype(np.float32)
    kwargs = dict(stride=(2,) * nd, padding=(1,) * nd, output_padding=(0,) * nd, dilation=(dilation,) * nd, groups=1)
    y = tconv.conv_transpose(x, w, algorithm="subpixel", **kwargs)
    assert y.shape[-1] > 128
    assert_close(y, torch_reference(x.astype(np.float64), w.astype(np.float64), None, **kwargs), np.float32)


def test_channels_last_columns_match_torch(monkeypatch):
    # wide layers with short rows take channels-last columns; force them on every geometry here,
    # half the cases with an accumulator of a single output row
    monkeypatch.setenv("TCONV_KERNELS", "numba")
    monkeypatch.setattr(col2im, "SHORT_ROWS", 100)
    monkeypatch.setattr(col2im, "POSITIONS_PER_CHANNEL", 0)
    rng = np.random.default_rng(21)
    for trial in range(30):
        monkeypatch.setattr(col2im, "SLAB_BYTES", 256 if trial % 2 else 128 * 2**10)
        nd = int(rng.integers(1, 4))
        groups = int(rng.choice([1, 1, 2, 3]))
        case = random_case(rng, nd, max_size=5)
        kwargs = dict(case["kwargs"], groups=groups)
        x = rng.standard_normal((int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))) + case["x_shape"][2:])
        w = rng.standard_normal((x.shape[1], int(rng.integers(16, 40))) + case["w_shape"][2:])
        geom = transpose_geometry("test", x.shape[2:], w.shape[2:], **kwargs)
        assert col2im.last_plan(geom, x.shape[0], x.shape[1] // groups, w.shape[1], 2**20, 8) is not None
        y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
        assert_close(y, torch_reference(x, w, None, **kwargs))


def test_channels_last_columns_serve_short_rows_only():
    keras = transpose_geometry("test", (7, 7), (5, 5), stride=2, padding=2, output_padding=1)
    assert col2im.last_plan(keras, 256, 128, 64, 16 * 2**20, 4) is not None
    wide = transpose_geometry("test", (32, 32), (3, 3), stride=2, padding=2, output_padding=1, dilation=2)
    assert col2im.last_plan(wide, 8, 64, 64, 16 * 2**20, 4) is None
    assert col2im.last_plan(keras, 256, 128, 3, 16 * 2**20, 4) is None  # too few channels for the runs
    dcgan = transpose_geometry("test", (4, 4), (4, 4), stride=2, padding=1)
    assert col2im.last_plan(dcgan, 64, 1024, 512, 16 * 2**20, 4) is None  # a large weight to reorder
    nb, oc = col2im.last_plan(keras, 256, 128, 64, 2**20, 4)
    assert (nb * 49 * (25 * oc + 128) + 128 * 25 * oc) * 4 <= 2**20


def test_batch_last_columns_match_torch(monkeypatch):
    # samples side by side with short rows take batch-last columns; force them on every geometry,
    # half the cases with an accumulator of a single output row
    monkeypatch.setenv("TCONV_KERNELS", "numba")
    monkeypatch.setattr(col2im, "SHORT_ROWS", 100)
    monkeypatch.setattr(col2im, "BATCH_RUNS", 1)
    monkeypatch.setattr(col2im, "last_plan", lambda *args: None)
    rng = np.random.default_rng(22)
    for trial in range(30):
        monkeypatch.setattr(col2im, "SLAB_BYTES", 256 if trial % 2 else 128 * 2**10)
        case = random_case(rng, int(rng.integers(1, 4)), max_size=5)
        x = rng.standard_normal((int(rng.integers(1, 20)),) + case["x_shape"][1:])
        w = rng.standard_normal(case["w_shape"])
        y = tconv.conv_transpose(x, w, algorithm="col2im", **case["kwargs"])
        assert_close(y, torch_reference(x, w, None, **case["kwargs"]))


def test_one_gemm_per_sample_into_its_columns(monkeypatch):
    # wide samples are not copied side by side: each GEMM writes its sample's (strided) columns
    monkeypatch.setenv("TCONV_KERNELS", "numba")
    monkeypatch.setattr(col2im, "SAMPLE_POSITIONS", 1)
    rng = np.random.default_rng(23)
    for trial in range(20):
        monkeypatch.setattr(col2im, "CHUNK_BYTES", 2048 if trial % 2 else 16 * 2**20)  # chunks of samples
        case = random_case(rng, int(rng.integers(1, 4)), max_size=5)
        x = rng.standard_normal((int(rng.integers(2, 6)),) + case["x_shape"][1:])
        w = rng.standard_normal(case["w_shape"])
        y = tconv.conv_transpose(x, w, algorithm="col2im", **case["kwargs"])
        assert_close(y, torch_reference(x, w, None, **case["kwargs"]))


@pytest.mark.parametrize("spread", [True, False])
@pytest.mark.parametrize("columns", ["planar", "channels-last", "batch-last", "per-sample"])
def test_chunks_on_their_own_threads_or_shared(path, spread, columns, monkeypatch):
    # each worker its own chunks (one-thread GEMMs and additions), or each chunk shared by the
    # threads: the same sums; the calls are counted, so the mode under test is the one that ran
    from tconv.algorithms import threads

    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    monkeypatch.setattr(col2im, "SPREAD_CHUNKS", 1 if spread else 10**9)
    monkeypatch.setattr(col2im, "CHUNK_BYTES", 4096)
    if columns == "channels-last":
        monkeypatch.setattr(col2im, "SHORT_ROWS", 100)
        monkeypatch.setattr(col2im, "POSITIONS_PER_CHANNEL", 0)
    elif columns == "batch-last":
        monkeypatch.setattr(col2im, "SHORT_ROWS", 100)
        monkeypatch.setattr(col2im, "BATCH_RUNS", 1)
        monkeypatch.setattr(col2im, "last_plan", lambda *args: None)
    elif columns == "per-sample":
        monkeypatch.setattr(col2im, "SAMPLE_POSITIONS", 1)
    workers = []
    real = threads.spread
    monkeypatch.setattr(col2im, "spread", lambda start, items, n: (workers.append(n), real(start, items, n)))
    rng = np.random.default_rng(31)
    for trial in range(8):
        nd = int(rng.integers(1, 4))
        groups = int(rng.choice([1, 2]))
        case = random_case(rng, nd, max_size=5)
        kwargs = dict(case["kwargs"], groups=groups)
        x = rng.standard_normal((int(rng.integers(2, 6)), groups * int(rng.integers(2, 4))) + case["x_shape"][2:])
        w = rng.standard_normal((x.shape[1], int(rng.integers(16, 24))) + case["w_shape"][2:])
        y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
        assert_close(y, torch_reference(x, w, None, **kwargs))
    assert workers and (max(workers) == 2) == spread


@pytest.mark.parametrize("spread", [True, False])
def test_extra_memory_within_input_plus_output(path, spread, monkeypatch):
    # the column buffers (one per worker when the threads take whole chunks) and copies stay
    # below the input plus the output, on layers shaped like the suite's (scaled down)
    import tracemalloc

    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    monkeypatch.setattr(col2im, "SPREAD_CHUNKS", 1 if spread else 10**9)
    rng = np.random.default_rng(41)
    layers = [  # (x shape, w shape, kwargs): DCGAN, U-Net (k == s), Keras (short rows), 1-D HiFi-GAN
        ((16, 64, 8, 8), (64, 32, 4, 4), dict(stride=2, padding=1)),
        ((2, 64, 16, 16), (64, 32, 2, 2), dict(stride=2)),
        ((32, 32, 7, 7), (32, 16, 5, 5), dict(stride=2, padding=2, output_padding=1)),
        ((4, 64, 64), (64, 32, 16), dict(stride=8, padding=4)),
    ]
    for x_shape, w_shape, kwargs in layers:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)  # compiled and cached first
        tracemalloc.start()
        try:
            y = tconv.conv_transpose(x, w, algorithm="col2im", **kwargs)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak - y.nbytes <= x.nbytes + y.nbytes, (x_shape, peak - y.nbytes, x.nbytes + y.nbytes)


def test_spread_plan_needs_enough_chunks_per_thread(monkeypatch):
    monkeypatch.setattr(col2im, "SPREAD_CHUNKS", 2)
    asked = []

    def plan_for(parts):
        asked.append(parts)
        return (4, 8)  # 4 samples by 8 channels per chunk

    assert col2im.spread_plan(1, 64, 64, 1, plan_for) is None and asked == []  # one thread: nothing to share
    assert col2im.spread_plan(2, 64, 64, 1, plan_for) == (4, 8) and asked == [2]  # 16 * 8 chunks
    assert col2im.spread_plan(2, 4, 8, 3, plan_for) is None  # 3 groups of one chunk: fewer than 2 per thread
    assert col2im.spread_plan(2, 8, 8, 2, plan_for) == (4, 8)  # 2 groups of 2 chunks
    assert col2im.spread_plan(2, 64, 64, 1, lambda parts: None) is None  # no chunk fits a thread's share
