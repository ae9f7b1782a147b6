"""tconv.nn's max pooling with switches and max unpooling against PyTorch's MaxPool*d(return_indices=True)
and MaxUnpool*d: values, switches, and the gradients of both."""

from __future__ import annotations

import numpy as np
import pytest

from tconv import TconvError, nn

torch = pytest.importorskip("torch")
F = torch.nn.functional

POOLS = [nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d]
UNPOOLS = [nn.MaxUnpool1d, nn.MaxUnpool2d, nn.MaxUnpool3d]
TORCH_POOLS = [torch.nn.MaxPool1d, torch.nn.MaxPool2d, torch.nn.MaxPool3d]
TORCH_UNPOOLS = [torch.nn.MaxUnpool1d, torch.nn.MaxUnpool2d, torch.nn.MaxUnpool3d]


def case(seed):
    """A seeded pooling: dims, kernel, stride, padding, dilation, ceil_mode, and an input with ties."""
    rng = np.random.default_rng(seed)
    nd = seed % 3 + 1
    k = int(rng.integers(1, 4))
    s = int(rng.integers(1, 4))
    p = int(rng.integers(0, k // 2 + 1))
    d = int(rng.integers(1, 3))
    ceil = bool(rng.integers(0, 2))
    size = (7, 6, 5)[:nd] if nd < 3 else (5, 4, 6)
    # small integers make ties: the first maximum in window order must win, as in PyTorch
    x = rng.integers(-3, 4, (2, 3) + size).astype(np.float64)
    return nd, dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil), x


@pytest.mark.parametrize("seed", range(24))
def test_max_pool_matches_torch(seed):
    nd, kw, x = case(seed)
    pool = POOLS[nd - 1](**kw)
    ref = TORCH_POOLS[nd - 1](**kw, return_indices=True)
    xt = torch.tensor(x, requires_grad=True)
    try:
        yt, it = ref(xt)
    except RuntimeError:  # a dilated kernel longer than the padded input: both refuse
        with pytest.raises(TconvError, match="smaller than the dilated kernel"):
            pool(x)
        return
    y = pool(x)
    assert y.shape == tuple(yt.shape) and y.dtype == x.dtype
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(pool.indices, it.numpy())
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(pool.backward(gy), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_max_unpool_matches_torch(seed):
    nd, kw, x = case(seed)
    # non-overlapping windows (distinct switches) that fit the input
    kw.update(dilation=1, ceil_mode=False, stride=max(kw["stride"], kw["kernel_size"]), kernel_size=min(kw["kernel_size"], 3))
    pool = POOLS[nd - 1](**kw)
    y = pool(x)
    _, it = TORCH_POOLS[nd - 1](**kw, return_indices=True)(torch.tensor(x))
    unpool_kw = {key: kw[key] for key in ("kernel_size", "stride", "padding")}
    unpool = UNPOOLS[nd - 1](**unpool_kw)
    yt = torch.tensor(y, requires_grad=True)
    size = x.shape[2:]
    ref = TORCH_UNPOOLS[nd - 1](**unpool_kw)(yt, it, output_size=size)
    got = unpool(y, pool.indices, output_size=size)
    np.testing.assert_array_equal(got, ref.detach().numpy())
    g = np.random.default_rng(seed).standard_normal(got.shape)
    ref.backward(torch.tensor(g))
    np.testing.assert_array_equal(unpool.backward(g), yt.grad.numpy())


def test_nan_wins_and_float32_stays():
    x = np.array([[[1.0, np.nan, 3.0, 2.0, np.nan, np.nan]]], np.float32)
    pool = nn.MaxPool1d(3)
    y = pool(x)
    yt, it = F.max_pool1d(torch.tensor(x), 3, return_indices=True)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(y), np.isnan(yt.numpy()))
    np.testing.assert_array_equal(pool.indices, it.numpy())


def test_pool_in_sequential_trains_through_switches():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2))
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    y = model(x)
    assert y.shape == (2, 2, 3, 3)
    assert model.backward(np.ones_like(y)).shape == x.shape


def test_bad_input_is_refused():
    with pytest.raises(TconvError, match=r"tconv\.nn\.MaxPool2d: padding must be at most half"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(TconvError, match=r"tconv\.nn\.MaxPool2d: input must have shape \(N, C, \*, \*\)"):
        nn.MaxPool2d(2)(np.ones((4, 4)))
    with pytest.raises(TconvError, match=r"smaller than the dilated kernel"):
        nn.MaxPool1d(5)(np.ones((1, 1, 3)))
    with pytest.raises(TconvError, match=r"tconv\.nn\.MaxUnpool2d: indices must be in \[0, 16\)"):
        nn.MaxUnpool2d(2)(np.ones((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16))
    with pytest.raises(TconvError, match=r"indices must be integers of the input's shape"):
        nn.MaxUnpool2d(2)(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), int))
    with pytest.raises(TconvError, match=r"output_size must be in \(2, 6\) on axis 0"):
        nn.MaxUnpool2d(2)(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), int), output_size=(7, 4))
