"""tconv.upsample against torch.nn.functional.interpolate."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv.interpolate import upsample, upsample_backward

torch = pytest.importorskip("torch")
F = torch.nn.functional


def close(got, ref, tol):
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    assert np.max(np.abs(got.astype(np.float64) - ref), initial=0.0) <= tol * max(1.0, np.max(np.abs(ref)))


MODE_DIMS = [
    ("nearest", 1), ("nearest", 2), ("nearest", 3), ("nearest-exact", 2),
    ("linear", 1), ("bilinear", 2), ("bicubic", 2), ("trilinear", 3),
]


@pytest.mark.parametrize("mode,nd", MODE_DIMS)
@pytest.mark.parametrize("seed", range(6))
def test_matches_torch(mode, nd, seed):
    rng = np.random.default_rng(seed)
    n = tuple(int(v) for v in rng.integers(1, 7 if nd < 3 else 5, nd))
    x = rng.standard_normal((2, 2) + n)
    interpolating = not mode.startswith("nearest")
    align = bool(rng.integers(0, 2)) if interpolating else None
    if seed % 2:
        kwargs = dict(size=tuple(int(v) for v in rng.integers(1, 13, nd)))
    else:
        factors = tuple(float(v) for v in rng.choice([0.5, 1.0, 1.3, 2.0, 2.5, 3.0, 4.0], nd))
        kwargs = dict(scale_factor=factors, recompute_scale_factor=bool(seed % 3 == 0))
        if min(int(a * f) for a, f in zip(n, factors)) < 1:
            kwargs["scale_factor"] = 2.0
    ref = F.interpolate(torch.tensor(x), mode=mode, align_corners=align, **kwargs).numpy()
    close(upsample(x, mode=mode, align_corners=align, **kwargs), ref, 1e-9)
    ref32 = F.interpolate(torch.tensor(x, dtype=torch.float32), mode=mode, align_corners=align, **kwargs).numpy()
    y32 = upsample(x.astype(np.float32), mode=mode, align_corners=align, **kwargs)
    assert y32.dtype == np.float32
    close(y32, ref32, 1e-4)


@pytest.mark.parametrize("mode,nd", MODE_DIMS)
def test_backward_matches_torch(mode, nd):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 2) + (3,) * nd)
    kwargs = dict(scale_factor=2.5) if mode != "nearest" else dict(size=(7,) * nd)
    xt = torch.tensor(x, requires_grad=True)
    y = F.interpolate(xt, mode=mode, **kwargs)
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(torch.tensor(gy))
    close(upsample_backward(gy, x.shape[2:], mode=mode, **kwargs), xt.grad.numpy(), 1e-9)


def test_exported_and_refuses_what_torch_refuses():
    assert tconv.upsample is upsample
    x = np.ones((1, 1, 4))
    for kwargs in (dict(mode="bilinear", scale_factor=2), dict(mode="nearest", scale_factor=2, align_corners=True),
                   dict(mode="nearest"), dict(mode="nearest", size=3, scale_factor=2)):
        with pytest.raises((ValueError, RuntimeError, NotImplementedError)):
            F.interpolate(torch.tensor(x), **kwargs)
        with pytest.raises(tconv.TconvError, match="tconv.upsample"):
            upsample(x, **kwargs)
    with pytest.raises(tconv.TconvError, match="mode must be one of"):
        upsample(x, scale_factor=2, mode="cubic")
