"""ZF-Net projection (tconv.deconvnet.project) against the same deconvnet written with PyTorch's own ops:
conv_transpose with the layer's weights, ReLU, and max_unpool through PyTorch's recorded indices."""

from __future__ import annotations

import numpy as np
import pytest

from tconv import TconvError, nn
from tconv.deconvnet import project

torch = pytest.importorskip("torch")
F = torch.nn.functional


def cnn(seed, stride=1, padding_mode="zeros"):
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=stride, padding=1, padding_mode=padding_mode, rng=seed, dtype=np.float64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 3, padding=1, rng=seed + 1, dtype=np.float64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )


def torch_projection(model, x, unit, keep):
    """The deconvnet down from model[5] in PyTorch: the oracle."""
    c1, c2 = (torch.tensor(model[i].weight.data) for i in (0, 3))
    b1, b2 = (torch.tensor(model[i].bias.data) for i in (0, 3))
    xt = torch.tensor(x)
    mode = model[0].padding_mode
    first = F.conv2d(F.pad(xt, (1, 1, 1, 1), mode="circular") if mode == "circular" else xt, c1, b1,
                     stride=model[0].stride, padding=0 if mode == "circular" else 1)
    h1, i1 = F.max_pool2d(F.relu(first), 2, return_indices=True)
    h2, i2 = F.max_pool2d(F.relu(F.conv2d(h1, c2, b2, padding=1)), 2, return_indices=True)
    signal = torch.zeros_like(h2)
    if keep == "all":
        signal[:, unit] = h2[:, unit]
    else:
        flat = h2[:, unit].reshape(len(x), -1)
        best = flat.argmax(dim=1)
        chosen = torch.zeros_like(flat)
        chosen[torch.arange(len(x)), best] = flat[torch.arange(len(x)), best]
        signal[:, unit] = chosen.reshape(h2[:, unit].shape)
    s = F.max_unpool2d(signal, i2, 2, output_size=h1.shape[2:])
    s = F.conv_transpose2d(F.relu(s), c2, padding=1)
    s = F.max_unpool2d(s, i1, 2, output_size=first.shape[2:])
    s = F.relu(s)
    if mode == "circular":  # the adjoint of circular padding: the margins wrap back
        full = F.conv_transpose2d(s, c1, stride=model[0].stride, output_padding=0)
        out = full[:, :, 1:-1, 1:-1].clone()
        out[:, :, 0, :] += full[:, :, -1, 1:-1]
        out[:, :, -1, :] += full[:, :, 0, 1:-1]
        out[:, :, :, 0] += full[:, :, 1:-1, -1]
        out[:, :, :, -1] += full[:, :, 1:-1, 0]
        out[:, :, 0, 0] += full[:, :, -1, -1]
        out[:, :, 0, -1] += full[:, :, -1, 0]
        out[:, :, -1, 0] += full[:, :, 0, -1]
        out[:, :, -1, -1] += full[:, :, 0, 0]
        return out.numpy()
    op = x.shape[-1] - ((s.shape[-1] - 1) * model[0].stride[0] - 2 + 3)
    return F.conv_transpose2d(s, c1, stride=model[0].stride, padding=1, output_padding=op).numpy()


@pytest.mark.parametrize("seed, stride, keep, mode", [(0, 1, "max", "zeros"), (1, 1, "all", "zeros"),
                                                      (2, 2, "max", "zeros"), (3, 1, "all", "circular")])
def test_projection_matches_torch_deconvnet(seed, stride, keep, mode):
    model = cnn(seed, stride, mode)
    size = 16 if stride == 2 else 8
    x = np.random.default_rng(seed).standard_normal((3, 2, size, size))
    got = project(model, x, 5, unit=seed % 5, keep=keep)
    ref = torch_projection(model, x, seed % 5, keep)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    assert np.abs(got).max() > 0  # the unit was active: the test compares something


def test_projection_from_an_inner_layer_and_its_errors():
    model = cnn(0)
    x = np.random.default_rng(0).standard_normal((1, 2, 8, 8))
    got = project(model, x, 0, unit=1, keep="all")
    w = torch.tensor(model[0].weight.data)
    h = F.conv2d(torch.tensor(x), w, torch.tensor(model[0].bias.data), padding=1)
    signal = torch.zeros_like(h)
    signal[:, 1] = h[:, 1]
    np.testing.assert_allclose(got, F.conv_transpose2d(signal, w, padding=1).numpy(), rtol=1e-10, atol=1e-10)
    with pytest.raises(TconvError, match=r"tconv\.deconvnet\.project: model\[6\] is a Flatten"):
        project(model, x, 6, 0)
    with pytest.raises(TconvError, match=r"unit must be in \[0, 4\]"):
        project(model, x, 5, 5)
    with pytest.raises(TconvError, match=r"layer must be in \[0, 6\]"):
        project(model, x, 7, 0)
    with pytest.raises(TconvError, match=r"keep must be one of 'max', 'all'"):
        project(model, x, 5, 0, keep="top")
    with pytest.raises(TypeError, match=r"model must be a tconv\.nn\.Sequential"):
        project(model[0], x, 0, 0)


def test_overlapping_windows_add_at_shared_switches():
    """With overlapping windows two outputs may share a switch: the projection adds them (the pooling's
    adjoint, PyTorch's autograd of max_pool2d), where PyTorch's max_unpool2d would keep one."""
    model = nn.Sequential(nn.MaxPool2d(3, stride=1))
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6))
    got = project(model, x, 0, 0, keep="all")
    xt = torch.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, 3, stride=1)
    y.backward(y.detach())
    np.testing.assert_allclose(got, xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("padding, groups, dilation", [("same", 1, 1), (1, 2, 1), ("same", 2, 2), (2, 1, 2)])
def test_conv_goes_back_with_its_geometry(padding, groups, dilation):
    """'same' padding, groups and dilation: the conv's adjoint with PyTorch's conv_transpose2d, cut back."""
    model = nn.Sequential(nn.Conv2d(2, 4, 4, padding=padding, groups=groups, dilation=dilation, rng=0,
                                    dtype=np.float64))
    x = np.random.default_rng(0).standard_normal((1, 2, 9, 9))
    got = project(model, x, 0, 3, keep="all")
    w = torch.tensor(model[0].weight.data)
    total = dilation * 3
    lo, hi = (total // 2, total - total // 2) if padding == "same" else (padding, padding)
    h = F.conv2d(F.pad(torch.tensor(x), (lo, hi, lo, hi)), w, torch.tensor(model[0].bias.data), groups=groups,
                 dilation=dilation)
    signal = torch.zeros_like(h)
    signal[:, 3] = h[:, 3]
    full = F.conv_transpose2d(signal, w, groups=groups, dilation=dilation)
    np.testing.assert_allclose(got, full[:, :, lo:full.shape[2] - hi, lo:full.shape[3] - hi].numpy(), rtol=1e-10,
                               atol=1e-12)
