"""tconv.distributed on dask arrays: exact tiling against the in-memory ops and models, any chunking."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tconv  # noqa: E402
from tconv import distributed, nn  # noqa: E402
from tconv.errors import TconvError  # noqa: E402

from support import assert_close  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def chunking(draw, n: int) -> tuple[int, ...]:
    """A random partition of ``n``: uneven, often with one-element chunks."""
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1)) if n > 1 else set())
    bounds = [0, *cuts, n]
    return tuple(b - a for a, b in zip(bounds, bounds[1:]))


@st.composite
def transpose_case(draw):
    nd = draw(st.integers(1, 3))
    small = 8 if nd == 1 else 5 if nd == 2 else 3
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in, c_out_g = groups * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = tuple(draw(st.integers(1, small)) for _ in range(nd))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
    pad = tuple((draw(st.integers(0, 4)), draw(st.integers(0, 4))) for _ in range(nd))
    lengths = [(ni - 1) * si + di * (ki - 1) + 1 - lo - hi + o for ni, ki, si, di, (lo, hi), o in zip(n, k, s, d, pad, op)]
    assume(min(lengths) >= 1)
    batch = draw(st.integers(1, 2))
    chunks = (draw(chunking(batch)), (c_in,)) + tuple(draw(chunking(v)) for v in n)
    seed = draw(st.integers(0, 2**16))
    return dict(x_shape=(batch, c_in) + n, w_shape=(c_in, c_out_g) + k, chunks=chunks, seed=seed,
                kwargs=dict(stride=s, padding=pad, output_padding=op, dilation=d, groups=groups), lengths=lengths)


def _arrays(case, transposed=True):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    return x, w, rng.standard_normal(case["w_shape"][1] * case["kwargs"]["groups"])


@SETTINGS
@given(transpose_case(), st.booleans())
def test_conv_transpose_equals_the_in_memory_op_for_any_chunking(case, own_chunks):
    x, w, b = _arrays(case)
    out_chunks = None
    if own_chunks:  # the output chunks chosen apart from the input's, down to one element
        out_chunks = tuple(max(1, n // 3) for n in case["lengths"])
    y = distributed.conv_transpose(da.from_array(x, chunks=case["chunks"]), w, b, out_chunks=out_chunks,
                                   **case["kwargs"])
    assert_close(y.compute(), tconv.conv_transpose(x, w, b, **case["kwargs"]))


@SETTINGS
@given(transpose_case(), st.data())
def test_conv_equals_the_in_memory_op_for_any_chunking(case, data):
    # the conv whose adjoint is the case: its input has the transposed conv's output size
    kw = {k: v for k, v in case["kwargs"].items() if k != "output_padding"}
    rng = np.random.default_rng(case["seed"])
    c_out, groups = case["w_shape"][0], kw["groups"]
    shape = (case["x_shape"][0], case["w_shape"][1] * groups) + tuple(case["lengths"])
    x, w, b = rng.standard_normal(shape), rng.standard_normal((c_out,) + case["w_shape"][1:]), rng.standard_normal(c_out)
    chunks = (case["chunks"][0], (shape[1],)) + tuple(data.draw(chunking(n)) for n in shape[2:])
    y = distributed.conv(da.from_array(x, chunks=chunks), w, b, **kw)
    assert_close(y.compute(), tconv.conv(x, w, b, **kw))


@st.composite
def layer(draw, nd: int, c_in: int):
    """One tileable layer and its output channels."""
    kind = draw(st.sampled_from(["transpose", "transpose", "conv", "resize", "upsample", "act", "bn"]))
    c_out = draw(st.integers(1, 3))
    ints = lambda lo, hi: tuple(draw(st.integers(lo, hi)) for _ in range(nd))  # noqa: E731
    rng = draw(st.integers(0, 2**16))
    conv_t = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[nd - 1]
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[nd - 1]
    if kind == "transpose":
        s, d = ints(1, 3), ints(1, 2)
        padding = draw(st.sampled_from(["same", "valid", "pairs"]))
        op = 0
        if padding == "pairs":
            padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
            op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        return conv_t(c_in, c_out, ints(1, 4), stride=s, padding=padding, output_padding=op, dilation=d,
                      bias=draw(st.booleans()), rng=rng, dtype=np.float64), c_out
    if kind == "conv":
        return conv(c_in, c_out, ints(1, 3), stride=ints(1, 2), padding=ints(0, 2), dilation=ints(1, 2),
                    rng=rng, dtype=np.float64), c_out
    modes = {1: ["nearest", "linear"], 2: ["nearest", "bilinear", "bicubic"], 3: ["nearest", "trilinear"]}[nd]
    mode = draw(st.sampled_from(modes))
    scale = draw(st.sampled_from([2, 3, 1.5]))
    if kind == "resize":
        resize = (nn.ResizeConv1d, nn.ResizeConv2d, nn.ResizeConv3d)[nd - 1]
        return resize(c_in, c_out, 3, scale_factor=scale, mode=mode, rng=rng, dtype=np.float64), c_out
    if kind == "upsample":
        return nn.Upsample(scale_factor=scale, mode=mode), c_in
    if kind == "act":
        return draw(st.sampled_from([nn.ReLU(), nn.LeakyReLU(0.2), nn.Tanh(), nn.Sigmoid()])), c_in
    bn = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[nd - 1](c_in, dtype=np.float64)
    r = np.random.default_rng(rng)
    bn.load_state_dict({"weight": r.standard_normal(c_in), "bias": r.standard_normal(c_in),
                        "running_mean": r.standard_normal(c_in), "running_var": r.uniform(0.5, 2, c_in),
                        "num_batches_tracked": np.array(1)})
    return bn, c_in


@st.composite
def stack(draw):
    nd = draw(st.integers(1, 3))
    c = draw(st.integers(1, 2))
    channels, layers = c, []
    for _ in range(draw(st.integers(2, 4))):
        m, channels = draw(layer(nd, channels))
        layers.append(m)
    small = 10 if nd == 1 else 5 if nd == 2 else 3
    n = tuple(draw(st.integers(2, small)) for _ in range(nd))
    chunks = ((1,), (c,)) + tuple(draw(chunking(v)) for v in n)
    return nn.Sequential(*layers).eval(), (1, c) + n, chunks, draw(st.integers(0, 2**16))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(stack())
def test_apply_equals_the_model_for_random_stacks_and_chunkings(case):
    model, shape, chunks, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    try:
        ref = model(x)
    except TconvError:  # a stack that shrinks an axis to nothing, or too far for a resize mode
        assume(False)
    assume(ref.size <= 20_000)
    y = distributed.apply(model, da.from_array(x, chunks=chunks))
    assert y.shape == ref.shape and y.dtype == ref.dtype
    assert_close(y.compute(scheduler="sync"), ref)


def test_single_element_chunks_and_halos_wider_than_several_chunks():
    # k_eff = 3*(7-1) + 1 = 19: every output block reads across many one-element input chunks
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 9, 4)), rng.standard_normal((2, 3, 7, 2))
    kw = dict(stride=(2, 1), padding=((5, 1), (0, 2)), dilation=(3, 1), output_padding=(1, 0))
    y = distributed.conv_transpose(da.from_array(x, chunks=1), w, **kw)
    assert y.numblocks[2:] == (9, 3)  # the last column chunk falls in the crop
    assert_close(y.compute(), tconv.conv_transpose(x, w, **kw))
    one = distributed.conv_transpose(da.from_array(x, chunks=(1, 2, 4, 1)), w, out_chunks=1, **kw)
    assert set(one.chunks[2]) == {1}
    assert_close(one.compute(), tconv.conv_transpose(x, w, **kw))
    kc = dict(stride=(3, 1), padding=((6, 0), 4), dilation=(3, 2))
    xc = rng.standard_normal((1, 2, 23, 5))
    wc = rng.standard_normal((3, 2, 7, 3))
    assert_close(distributed.conv(da.from_array(xc, chunks=1), wc, **kc).compute(), tconv.conv(xc, wc, **kc))


def test_default_output_chunks_are_stride_times_the_input_chunks_with_the_crop_at_the_edge():
    x = da.zeros((1, 1, 10, 7), chunks=(1, 1, (4, 3, 3), (2, 5)))
    w = np.ones((1, 1, 3, 3))
    y = distributed.conv_transpose(x, w, stride=2)  # full 2*9 + 3 = 21 and 15
    assert y.chunks[2:] == ((8, 6, 7), (4, 11))
    assert distributed.conv_transpose(x, w, stride=2, padding=2).chunks[2:] == ((8, 6, 3), (4, 7))
    assert distributed.conv(x, w, stride=2, padding=1).chunks[2:] == ((2, 1, 2), (1, 3))


def test_the_distributed_conv_is_the_adjoint_of_the_distributed_conv_transpose():
    rng = np.random.default_rng(3)
    kw = dict(stride=(2, 3), padding=((1, 2), 1), dilation=(1, 2), groups=2)
    x = rng.standard_normal((2, 4, 11, 6))
    w = rng.standard_normal((4, 3, 4, 3))
    tx = distributed.conv_transpose(da.from_array(x, chunks=(1, 4, (3, 1, 7), (2, 4))), w, **kw)
    yv = rng.standard_normal(tx.shape)
    cy = distributed.conv(da.from_array(yv, chunks=(2, 6, (5, 4, 12), 4)), w, **kw)
    assert tx.npartitions > 4 and cy.npartitions > 4
    left, right = float(da.vdot(tx, yv).compute()), float(da.vdot(da.from_array(x), cy).compute())
    assert abs(left - right) <= 1e-9 * max(1.0, abs(left))


def _message(call) -> str:
    with pytest.raises(TconvError) as info:
        call()
    return str(info.value).split(": ", 1)[1]


@pytest.mark.parametrize("kwargs", [dict(output_padding=2, stride=2), dict(padding=9), dict(groups=3), dict(stride=0)])
def test_bad_arguments_fail_when_the_graph_is_built_with_the_cores_errors(kwargs):
    x = np.ones((1, 2, 5, 5))
    w = np.ones((2, 1, 3, 3))
    lazy = da.from_array(x, chunks=2)
    assert _message(lambda: distributed.conv_transpose(lazy, w, **kwargs)) == _message(
        lambda: tconv.conv_transpose(x, w, **kwargs))
    conv_kw = {k: v for k, v in kwargs.items() if k != "output_padding"}
    if conv_kw != kwargs:
        return
    assert _message(lambda: distributed.conv(lazy, w, **conv_kw)) == _message(lambda: tconv.conv(x, w, **conv_kw))


def test_bad_out_chunks_and_dtypes_are_refused():
    x = da.ones((1, 1, 6), chunks=2)
    with pytest.raises(TconvError, match="out_chunks"):
        distributed.conv_transpose(x, np.ones((1, 1, 3)), out_chunks=((4, 3),))
    with pytest.raises(TypeError, match="real numbers"):
        distributed.conv_transpose(x.astype(complex), np.ones((1, 1, 3)))
    ints = distributed.conv_transpose(da.ones((1, 1, 6), chunks=2, dtype=int), np.ones((1, 1, 3)))
    assert ints.dtype == np.float64


@pytest.mark.parametrize("bad, why", [
    (nn.Linear(4, 4), "Linear"),
    (nn.Flatten(), "Flatten"),
    (nn.BatchNorm2d(1), "batch statistics"),
    (nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), "padding_mode='reflect'"),
])
def test_untileable_layers_are_refused_by_name(bad, why):
    model = nn.Sequential(nn.ConvTranspose2d(1, 1, 2, stride=2), bad)
    model.eval()
    if why == "batch statistics":
        bad.train()
    with pytest.raises(TconvError, match=f"layer '1' .*{why}" if why in ("Linear", "Flatten") else why) as info:
        distributed.apply(model, da.ones((1, 1, 4, 4), chunks=2))
    assert "'1'" in str(info.value)


def test_receptive_field_is_exact_changing_anything_outside_leaves_the_block_unchanged():
    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1, rng=1, dtype=np.float64), nn.ReLU(),
                          nn.Conv2d(3, 2, 3, padding=1, dilation=(1, 2), rng=2, dtype=np.float64)).eval()
    x = rng.standard_normal((1, 2, 12, 10))
    block = [(8, 13), (3, 7)]
    rf = distributed.receptive_field(model, block, input_shape=x.shape)
    (a0, a1), (b0, b1) = rf.input
    region = (Ellipsis, slice(8, 13), slice(3, 7))
    changed = x.copy()
    mask = np.ones(x.shape[2:], bool)
    mask[a0:a1, b0:b1] = False
    changed[:, :, mask] = rng.standard_normal(changed[:, :, mask].shape)
    assert np.array_equal(model(changed)[region], model(x)[region])
    # and it is tight: each edge row and column of the interval reaches the block
    for edge in ((slice(a0, a0 + 1), slice(b0, b1)), (slice(a1 - 1, a1), slice(b0, b1)),
                 (slice(a0, a1), slice(b0, b0 + 1)), (slice(a0, a1), slice(b1 - 1, b1))):
        bumped = x.copy()
        bumped[(Ellipsis,) + edge] += 10
        assert not np.array_equal(model(bumped)[region], model(x)[region])
    assert [f.name for f in rf.layers] == ["0", "1", "2"]
    assert "0 (transposed conv): reads" in rf.text()


def test_receptive_field_checks_its_block():
    model = nn.Sequential(nn.ConvTranspose1d(1, 1, 4, stride=2, padding=1))
    with pytest.raises(TconvError, match=r"must lie in \[0, 8\)"):
        distributed.receptive_field(model, [(4, 9)], input_shape=(1, 1, 4))
    with pytest.raises(TconvError, match="1 spatial axes"):
        distributed.receptive_field(model, [(0, 1), (0, 1)], input_shape=(1, 1, 4))


def test_importing_tconv_distributed_needs_no_dask():
    import subprocess
    import sys

    code = ("import sys, tconv\ntconv.distributed.receptive_field\n"
            "print(sorted(m for m in ('dask', 'zarr', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
