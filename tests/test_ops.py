"""The public operations: semantics, adjointness, dtypes, views, output_size, conv and conv_matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from support import assert_close, random_case

F = torch.nn.functional
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TORCH_CONV_TRANSPOSE_LAYER = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}


def _pairs(padding):
    return [p if isinstance(p, tuple) else (p, p) for p in padding]


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_matches_torch_with_asymmetric_padding(nd):
    rng = np.random.default_rng(nd)
    for _ in range(10):
        case = random_case(rng, nd, max_size=5)
        kw = case["kwargs"]
        groups = kw["groups"]
        # conv's weight layout is (C_out, C_in/g, *k): reuse the transposed weight tensor as is
        w = rng.standard_normal(case["w_shape"])
        x = rng.standard_normal((2, w.shape[1] * groups) + tuple(rng.integers(4, 9, nd)))
        b = rng.standard_normal(w.shape[0])
        pairs = _pairs(kw["padding"])
        flat = [v for lo, hi in reversed(pairs) for v in (lo, hi)]
        spans = [x.shape[2 + a] + lo + hi for a, (lo, hi) in enumerate(pairs)]
        if any(sp < kw["dilation"][a] * (w.shape[2 + a] - 1) + 1 for a, sp in enumerate(spans)):
            continue
        ref = TORCH_CONV[nd](
            F.pad(torch.from_numpy(x), flat), torch.from_numpy(w), torch.from_numpy(b),
            stride=kw["stride"], dilation=kw["dilation"], groups=groups,
        ).numpy()
        y = tconv.conv(x, w, b, stride=kw["stride"], padding=kw["padding"], dilation=kw["dilation"], groups=groups)
        assert_close(y, ref)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_conv_is_the_adjoint_of_conv_transpose(nd, seed):
    rng = np.random.default_rng(seed)
    case = random_case(rng, nd, max_size=5)
    kw = case["kwargs"]
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    y = tconv.conv_transpose(x, w, **kw)
    v = rng.standard_normal(y.shape)
    conv_kw = {k: kw[k] for k in ("stride", "padding", "dilation", "groups")}
    back = tconv.conv(v, w, **conv_kw)
    # conv sees floor(output_padding / stride) extra positions at the end: the adjoint is the first n
    n = x.shape[2:]
    assert back.shape[2:] == tuple(ni + o // s for ni, o, s in zip(n, kw["output_padding"], kw["stride"]))
    back = back[(Ellipsis,) + tuple(slice(0, ni) for ni in n)]
    lhs, rhs = np.vdot(y, v), np.vdot(x, back)
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs), np.abs(y).sum() * np.abs(v).max())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_output_size_agrees_with_the_result(nd, seed):
    rng = np.random.default_rng(seed)
    case = random_case(rng, nd, max_size=5)
    kw = case["kwargs"]
    y = tconv.conv_transpose(np.ones(case["x_shape"]), np.ones(case["w_shape"]), **kw)
    shape_kw = {k: kw[k] for k in ("stride", "padding", "output_padding", "dilation")}
    assert y.shape[2:] == tconv.output_size(case["x_shape"][2:], case["w_shape"][2:], **shape_kw)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_output_size_argument_matches_torch_forward(nd):
    rng = np.random.default_rng(40 + nd)
    for _ in range(8):
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        k = tuple(int(v) for v in rng.integers(1, 5, nd))
        p = tuple(int(v) for v in rng.integers(0, 2, nd))
        n = tuple(int(v) for v in rng.integers(2, 6, nd))
        layer = TORCH_CONV_TRANSPOSE_LAYER[nd](2, 3, k, stride=s, padding=p).double()
        x = rng.standard_normal((1, 2) + n)
        smallest = tconv.output_size(n, k, stride=s, padding=p)
        for extra in range(max(s)):
            target = tuple(m + min(extra, si - 1) for m, si in zip(smallest, s))
            with torch.no_grad():
                ref = layer(torch.from_numpy(x), output_size=list(target)).numpy()
            w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
            assert_close(tconv.conv_transpose(x, w, b, stride=s, padding=p, output_size=target), ref)
            # the full (N, C, *spatial) spelling is accepted too, as in torch
            full_shape = (1, 3) + target
            assert tconv.conv_transpose(x, w, stride=s, padding=p, output_size=full_shape).shape == full_shape
        too_big = tuple(m + si for m, si in zip(smallest, s))
        with pytest.raises(ValueError):
            layer(torch.from_numpy(x), output_size=list(too_big))
        with pytest.raises(tconv.TconvError, match=r"output_size must be in \["):
            tconv.conv_transpose(x, w, stride=s, padding=p, output_size=too_big)


def test_output_size_and_output_padding_together_are_refused():
    with pytest.raises(tconv.TconvError, match="output_size or output_padding, not both"):
        tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2, output_padding=1, output_size=(8,))


def test_output_padding_is_computed_values_not_zeros():
    x = np.ones((1, 1, 3))
    w = np.ones((1, 1, 3))
    y = tconv.conv_transpose(x, w, stride=2, padding=1, output_padding=1)
    y0 = tconv.conv_transpose(x, w, stride=2, padding=1)
    np.testing.assert_array_equal(y[..., :-1], y0)
    assert y[0, 0, -1] == 1.0  # y_full's last element, not a zero


def test_integer_and_bool_inputs_promote_to_float64_and_lists_work():
    y = tconv.conv_transpose([[[1, 0, 2]]], [[[True, True]]])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[[1, 1, 2, 2]]])


def test_inputs_are_never_modified_and_views_work():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((3, 4, 12, 10))
    x = base[::-1, :, ::2, 1::3]  # negative and non-unit strides
    w_base = rng.standard_normal((4, 2, 3, 3)).transpose(0, 1, 3, 2)  # non-contiguous
    b = rng.standard_normal(4)
    snapshot = (base.copy(), w_base.copy(), b.copy())
    for name in tconv.ALGORITHMS:
        y = tconv.conv_transpose(x, w_base, b, stride=2, padding=1, groups=2, algorithm=name)
        ref = tconv.conv_transpose(np.ascontiguousarray(x), np.ascontiguousarray(w_base), b, stride=2, padding=1, groups=2, algorithm="scatter")
        assert_close(y, ref)
    np.testing.assert_array_equal(base, snapshot[0])
    np.testing.assert_array_equal(w_base, snapshot[1])
    np.testing.assert_array_equal(b, snapshot[2])
    assert x.flags.writeable  # the caller's array keeps its flags


@pytest.mark.parametrize("algorithm", tconv.ALGORITHMS)
def test_empty_batch(algorithm):
    y = tconv.conv_transpose(np.zeros((0, 2, 3, 3), np.float32), np.ones((2, 4, 2, 2), np.float32), stride=2, algorithm=algorithm)
    assert y.shape == (0, 4, 6, 6) and y.dtype == np.float32
    assert tconv.conv(np.zeros((0, 4, 6, 6)), np.ones((2, 4, 2, 2)), stride=2).shape == (0, 2, 3, 3)


def test_mixed_dtypes_follow_numpy_promotion():
    x32 = np.ones((1, 1, 3), np.float32)
    assert tconv.conv_transpose(x32, np.ones((1, 1, 2), np.float64)).dtype == np.float64
    assert tconv.conv_transpose(x32.astype(np.float16), np.ones((1, 1, 2), np.float16)).dtype == np.float16


def test_conv_matrix_is_the_conv_and_its_transpose_the_conv_transpose():
    rng = np.random.default_rng(11)
    w = rng.standard_normal((4, 3, 3, 2))  # conv layout (C_out, C_in/g, *k), groups=2 -> C_in = 6
    kw = dict(stride=(2, 1), padding=((1, 0), 2), dilation=(1, 2), groups=2)
    c = tconv.conv_matrix((6, 7, 5), w, **kw)
    x = rng.standard_normal((6, 7, 5))
    y = tconv.conv(x[None], w, **kw)[0]
    assert c.shape == (y.size, x.size)
    assert_close(c @ x.ravel(), y.ravel())
    # C^T is the transposed conv with the same weight tensor
    v = rng.standard_normal(y.shape)
    t = tconv.conv_transpose(v[None], w, output_size=(7, 5), **kw)[0]
    assert_close(c.T @ v.ravel(), t.ravel())


def test_conv_matrix_articles_example():
    c = tconv.conv_matrix((1, 4, 4), np.arange(1, 10).reshape(1, 1, 3, 3)).toarray()
    assert c.shape == (4, 16)
    expected_first_row = [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(c[0], expected_first_row)
    np.testing.assert_array_equal(c[3], np.roll(expected_first_row, 5))


def test_numpy_integers_and_1d_arrays_are_accepted_as_per_axis_values():
    y = tconv.conv_transpose(
        np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=np.array([2, 2]), padding=(np.int64(1), 0),
        output_size=np.array([6, 8]),
    )
    assert y.shape == (1, 1, 6, 8)
