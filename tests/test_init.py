"""tconv.init: PyTorch's default bounds, the bilinear kernel against real interpolation, ICNR."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tconv
from tconv import init, nn

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("module", ["ConvTranspose2d", "Conv1d", "ConvTranspose3d"])
def test_default_bounds_are_pytorchs(module):
    theirs = getattr(torch.nn, module)(4, 6, 3, groups=2)
    fan_in_torch, _ = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)
    ours = getattr(nn, module)(4, 6, 3, groups=2, rng=0)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert init.fan_in(ours.weight.shape) == fan_in_torch
    bound = 1 / math.sqrt(fan_in_torch)
    for w in (ours.weight.data, ours.bias.data, theirs.weight.detach().numpy(), theirs.bias.detach().numpy()):
        assert np.abs(w).max() <= bound
    big = init.kaiming_uniform((64, 8, 3, 3), rng=1)
    assert np.abs(big).max() > 0.98 / math.sqrt(72) and np.abs(big).max() <= 1 / math.sqrt(72)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_bilinear_kernel_is_bilinear_interpolation_in_the_interior(factor):
    rng = np.random.default_rng(factor)
    x = rng.standard_normal((2, 3, 6, 5))
    args = init.bilinear_arguments(factor)
    y = tconv.conv_transpose(x, init.bilinear(3, factor, dtype=np.float64), stride=args["stride"],
                             padding=args["padding"])
    ref = F.interpolate(torch.tensor(x), scale_factor=factor, mode="bilinear", align_corners=False).numpy()
    assert y.shape == ref.shape
    edge = factor // 2  # outputs whose interpolation reads past the border: clamped there, zeros here
    inner = (Ellipsis, slice(edge, -edge), slice(edge, -edge))
    assert np.abs(y[inner] - ref[inner]).max() <= 1e-12
    assert np.abs(y - ref).max() > 1e-3  # the edges differ, as documented
    if factor == 2:
        assert np.allclose(y[..., 0, 2:-2], 0.75 * ref[..., 0, 2:-2])


def test_icnr_transpose_has_no_checkerboard():
    ones = np.ones((1, 2, 6, 6))
    for stride, kernel in ((2, 4), (3, 5), (2, 3)):
        w = init.icnr_transpose(2, 1, kernel, stride, rng=0, dtype=np.float64)
        y = tconv.conv_transpose(ones, w, stride=stride)[0, 0]
        k = kernel
        interior = y[k:-k, k:-k]
        assert np.ptp(interior) < 1e-12, (stride, kernel)
    rough = tconv.conv_transpose(ones, init.kaiming_uniform((2, 1, 3, 3), rng=0, dtype=np.float64), stride=2)[0, 0]
    assert np.ptp(rough[3:-3, 3:-3]) > 1e-3  # a random 3x3 stride-2 kernel does checkerboard
    with pytest.raises(tconv.TconvError, match="kernel_size must be >= stride"):
        init.icnr_transpose(1, 1, 2, 3)


def test_icnr_subpixel_starts_as_nearest_upsampling():
    r = 2
    w = init.icnr(3, 2, 3, r, rng=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5))
    shuffled = F.pixel_shuffle(torch.tensor(tconv.conv(x, w, padding=1)), r).numpy()
    base = tconv.conv(x, w[:: r * r], padding=1)
    nearest = F.interpolate(torch.tensor(base), scale_factor=r, mode="nearest").numpy()
    assert np.abs(shuffled - nearest).max() <= 1e-12


def test_errors():
    with pytest.raises(tconv.TconvError, match="tconv.init.bilinear: factor must be >= 1"):
        init.bilinear(1, 0)
    with pytest.raises(TypeError, match="tconv.init.bilinear_arguments"):
        init.bilinear_arguments(2.5)
