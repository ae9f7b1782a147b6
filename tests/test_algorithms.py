"""Every algorithm against real PyTorch and against the scatter definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from support import assert_close, random_case

ALGORITHMS = tconv.ALGORITHMS
F = torch.nn.functional
TORCH_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def torch_reference(x, w, b, *, stride, padding, output_padding, dilation, groups, crop=False):
    """PyTorch's result; asymmetric padding (or ``crop=True``) by cropping torch's unpadded full result."""
    nd = x.ndim - 2
    torch_fn = TORCH_CONV_TRANSPOSE[nd]
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    tb = None if b is None else torch.from_numpy(b)
    pairs = [p if isinstance(p, tuple) else (p, p) for p in padding]
    if all(lo == hi for lo, hi in pairs) and not crop:
        return torch_fn(
            tx, tw, tb, stride=stride, padding=[lo for lo, _ in pairs], output_padding=output_padding,
            groups=groups, dilation=dilation,
        ).numpy()
    full = torch_fn(tx, tw, tb, stride=stride, groups=groups, dilation=dilation).numpy()
    out = full
    for ax, ((lo, hi), o) in enumerate(zip(pairs, output_padding)):
        axis = 2 + ax
        if o:  # positions past the end of y_full hold only the bias
            extra_shape = list(out.shape)
            extra_shape[axis] = o
            extra = np.zeros(extra_shape)
            if b is not None:
                extra += b.reshape((-1,) + (1,) * nd)
            out = np.concatenate([out, extra], axis=axis)
        out = np.take(out, np.arange(lo, out.shape[axis] - hi), axis=axis)
    return out


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_matches_torch_on_random_geometries(nd, algorithm):
    rng = np.random.default_rng(1000 * nd + ALGORITHMS.index(algorithm))
    for _ in range({1: 25, 2: 15, 3: 6}[nd]):
        case = random_case(rng, nd, max_size={1: 8, 2: 5, 3: 3}[nd])
        x = rng.standard_normal(case["x_shape"])
        w = rng.standard_normal(case["w_shape"])
        b = rng.standard_normal(case["w_shape"][1] * case["kwargs"]["groups"]) if rng.random() < 0.5 else None
        y = tconv.conv_transpose(x, w, b, algorithm=algorithm, **case["kwargs"])
        assert_close(y, torch_reference(x, w, b, **case["kwargs"]))


def test_cropping_reference_agrees_with_torch_padding():
    """The cropping reference itself: on symmetric padding it must equal torch's own padding."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(3)
    kwargs = dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 2), dilation=(1, 1), groups=1)
    assert_close(torch_reference(x, w, b, crop=True, **kwargs), torch_reference(x, w, b, **kwargs))


geometries = st.integers(1, 3).flatmap(
    lambda nd: st.tuples(st.just(nd), st.integers(0, 2**32 - 1))
)


@settings(max_examples=40, deadline=None)
@given(geometries)
def test_algorithms_agree_with_scatter(case_seed):
    nd, seed = case_seed
    rng = np.random.default_rng(seed)
    case = random_case(rng, nd, max_size={1: 7, 2: 4, 3: 3}[nd])
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    ref = tconv.conv_transpose(x, w, algorithm="scatter", **case["kwargs"])
    for name in ALGORITHMS[1:]:
        assert_close(tconv.conv_transpose(x, w, algorithm=name, **case["kwargs"]), ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_low_precision_keeps_dtype_within_tolerance(dtype, algorithm):
    rng = np.random.default_rng(7)
    for _ in range(4):
        case = random_case(rng, 2, max_size=5)
        x = rng.standard_normal(case["x_shape"]).astype(dtype)
        w = rng.standard_normal(case["w_shape"]).astype(dtype)
        y = tconv.conv_transpose(x, w, algorithm=algorithm, **case["kwargs"])
        assert y.dtype == dtype
        ref = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), algorithm="scatter", **case["kwargs"])
        assert_close(y, ref, dtype)


def test_kernel_smaller_than_stride_leaves_zeros_every_algorithm():
    x = np.arange(1.0, 4.0).reshape(1, 1, 3)
    w = np.array([[[2.0]]])
    for name in ALGORITHMS:
        y = tconv.conv_transpose(x, w, stride=3, output_padding=2, algorithm=name)
        np.testing.assert_allclose(y[0, 0], [2, 0, 0, 4, 0, 0, 6, 0, 0], atol=1e-12)


def test_dilation_sharing_a_factor_with_stride():
    # d=2, s=2: odd outputs get no tap at all
    x = np.array([[[1.0, 2.0, 3.0]]])
    for name in ALGORITHMS:
        y = tconv.conv_transpose(x, np.ones((1, 1, 3)), stride=2, dilation=2, padding=((1, 2),), algorithm=name)
        np.testing.assert_allclose(y[0, 0], [0, 3, 0, 6, 0, 5], atol=1e-12)


def test_matrix_declines_beyond_its_budget():
    x = np.zeros((1, 64, 64, 64))
    w = np.zeros((64, 64, 4, 4))
    with pytest.raises(tconv.TconvError, match="algorithm='matrix'.*budget.*phase"):
        tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="matrix")


def test_auto_picks_a_registered_algorithm():
    from tconv.algorithms import choose
    from tconv.geometry import transpose_geometry

    small = transpose_geometry("test", (4, 4), (3, 3), stride=2)
    big_kernel = transpose_geometry("test", (16, 16), (64, 64), stride=32, padding=16)
    assert choose((1, 8, 4, 4), (8, 8, 3, 3), small) in tconv.ALGORITHMS[1:]
    assert choose((1, 21, 16, 16), (21, 21, 64, 64), big_kernel) in tconv.ALGORITHMS[1:]
