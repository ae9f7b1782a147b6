"""Gradients of conv_transpose and conv against PyTorch autograd and central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv.grad import conv_backward, conv_transpose_backward

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = {np.float64: 1e-9, np.float32: 1e-4, np.float16: 1e-2}


def close(got, ref, tol):
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    assert np.max(np.abs(got.astype(np.float64) - ref), initial=0.0) <= tol * max(1.0, np.max(np.abs(ref)))


def random_case(rng, transposed):
    """A random geometry of rank 1-3 with groups, dilation, asymmetric padding and output_padding."""
    nd = int(rng.integers(1, 4))
    groups = int(rng.integers(1, 3))
    c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    n = tuple(int(v) for v in rng.integers(1, 5 if nd < 3 else 4, nd))
    k = tuple(int(v) for v in rng.integers(1, 4, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    pads, op = [], []
    for ni, ki, si, di in zip(n, k, s, d):
        keff = di * (ki - 1) + 1
        if transposed:
            full = (ni - 1) * si + keff
            o = int(rng.integers(0, max(si, di)))
            lo = int(rng.integers(0, full))
            hi = int(rng.integers(0, max(1, full - lo + o)))
            op.append(o)
        else:
            lo, hi = (int(v) for v in rng.integers(0, 3, 2))
            if ni + lo + hi < keff:
                hi += keff - ni - lo - hi
        pads.append((lo, hi))
    return nd, groups, c_in, c_out, n, k, s, d, tuple(pads), tuple(op)


def torch_window(y_full, starts, lengths):
    """y_full[..., lo:lo+L] per axis, zero-extended, through F.pad (autograd follows it)."""
    pad = []
    for lo, length, full in reversed(list(zip(starts, lengths, y_full.shape[2:]))):
        pad += [-lo, lo + length - full]
    return F.pad(y_full, pad)


def torch_tconv(x, w, b, s, pads, op, groups, d):
    nd = x.dim() - 2
    f = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][nd - 1]
    if all(lo == hi for lo, hi in pads):  # PyTorch's own arguments
        return f(x, w, b, stride=s, padding=[p[0] for p in pads], output_padding=op, groups=groups, dilation=d)
    y_full = f(x, w, None, stride=s, groups=groups, dilation=d)
    lengths = [full - lo - hi + o for full, (lo, hi), o in zip(y_full.shape[2:], pads, op)]
    return torch_window(y_full, [lo for lo, _ in pads], lengths) + b.reshape((1, -1) + (1,) * nd)


def torch_conv(x, w, b, s, pads, groups, d):
    nd = x.dim() - 2
    f = [F.conv1d, F.conv2d, F.conv3d][nd - 1]
    pad = [p for pair in reversed(pads) for p in pair]
    return f(F.pad(x, pad), w, b, stride=s, groups=groups, dilation=d)


def torch_grads(fn, gy, *arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("seed", range(40))
def test_conv_transpose_backward_matches_torch(seed):
    rng = np.random.default_rng(seed)
    nd, groups, c_in, c_out, n, k, s, d, pads, op = random_case(rng, transposed=True)
    x = rng.standard_normal((2, c_in) + n)
    w = rng.standard_normal((c_in, c_out // groups) + k)
    b = rng.standard_normal(c_out)
    y = tconv.conv_transpose(x, w, b, stride=s, padding=pads, output_padding=op, groups=groups, dilation=d)
    gy = rng.standard_normal(y.shape)
    y_ref, (gx_ref, gw_ref, gb_ref) = torch_grads(
        lambda xt, wt, bt: torch_tconv(xt, wt, bt, s, pads, op, groups, d), gy, x, w, b
    )
    close(y, y_ref, 1e-9)
    gx, gw, gb = conv_transpose_backward(
        gy, x, w, stride=s, padding=pads, output_padding=op, groups=groups, dilation=d
    )
    for got, ref in ((gx, gx_ref), (gw, gw_ref), (gb, gb_ref)):
        assert got.dtype == np.float64
        close(got, ref, 1e-9)


@pytest.mark.parametrize("seed", range(40))
def test_conv_backward_matches_torch(seed):
    rng = np.random.default_rng(1000 + seed)
    nd, groups, c_in, c_out, m, k, s, d, pads, _ = random_case(rng, transposed=False)
    x = rng.standard_normal((2, c_in) + m)
    w = rng.standard_normal((c_out, c_in // groups) + k)
    b = rng.standard_normal(c_out)
    y = tconv.conv(x, w, b, stride=s, padding=pads, groups=groups, dilation=d)
    gy = rng.standard_normal(y.shape)
    y_ref, (gx_ref, gw_ref, gb_ref) = torch_grads(
        lambda xt, wt, bt: torch_conv(xt, wt, bt, s, pads, groups, d), gy, x, w, b
    )
    close(y, y_ref, 1e-9)
    gx, gw, gb = conv_backward(gy, x, w, stride=s, padding=pads, groups=groups, dilation=d)
    for got, ref in ((gx, gx_ref), (gw, gw_ref), (gb, gb_ref)):
        close(got, ref, 1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_low_precision_dtypes(dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 5, 3))
    w = rng.standard_normal((4, 3, 3, 2)) * 0.3
    gy = rng.standard_normal((2, 6, 10, 6))
    kwargs = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=(1, 2))
    refs = conv_transpose_backward(gy, x, w, **kwargs)
    got = conv_transpose_backward(gy.astype(dtype), x.astype(dtype), w.astype(dtype), **kwargs)
    for g, r in zip(got, refs):
        assert g.dtype == dtype
        close(g, r, TOL[dtype] * (4 if dtype == np.float16 else 1))


def central_difference(f, a, eps=1e-6):
    """d<f(a), 1>/da by central differences, one element at a time."""
    grad = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        up, down = a.copy(), a.copy()
        up[idx] += eps
        down[idx] -= eps
        grad[idx] = (f(up) - f(down)) / (2 * eps)
    return grad


@pytest.mark.parametrize("transposed", [True, False])
def test_finite_differences(transposed):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 3, 4))
    kw = dict(stride=(2, 1), padding=((1, 0), (0, 2)), groups=2, dilation=(1, 2))
    if transposed:
        w = rng.standard_normal((2, 2, 2, 3))
        kw["output_padding"] = (1, 0)
        op, backward = tconv.conv_transpose, conv_transpose_backward
    else:
        w = rng.standard_normal((4, 1, 2, 3))
        op, backward = tconv.conv, conv_backward
    b = rng.standard_normal(w.shape[1] * 2 if transposed else w.shape[0])
    gy = rng.standard_normal(op(x, w, b, **kw).shape)

    def loss(xx, ww, bb):
        return float(np.sum(gy * op(xx, ww, bb, **kw)))

    gx, gw, gb = backward(gy, x, w, **kw)
    close(gx, central_difference(lambda a: loss(a, w, b), x), 1e-7)
    close(gw, central_difference(lambda a: loss(x, a, b), w), 1e-7)
    close(gb, central_difference(lambda a: loss(x, w, a), b), 1e-7)


def test_negative_window_start_through_geometry():
    """A window starting before y_full (as TF 'same' can) is the adjoint of zero padding."""
    from tconv.geometry import Axis, Geometry
    from tconv.grad import transpose_backward_geometry
    from tconv.ops import run_geometry

    rng = np.random.default_rng(5)
    geom = Geometry((Axis(3, 2, 2, 1, -2, 9),))
    x, w = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 2))
    gy = rng.standard_normal((2, 3, 9))
    gx, gw, _ = transpose_backward_geometry(gy, x, w, geom)
    eps = 1e-6
    dx = rng.standard_normal(x.shape)
    dw = rng.standard_normal(w.shape)
    fwd = lambda xx, ww: np.sum(gy * run_geometry(xx, ww, None, geom))  # noqa: E731
    close(np.array(np.vdot(gx, dx)), (fwd(x + eps * dx, w) - fwd(x - eps * dx, w)) / (2 * eps), 1e-7)
    close(np.array(np.vdot(gw, dw)), (fwd(x, w + eps * dw) - fwd(x, w - eps * dw)) / (2 * eps), 1e-7)


def test_bias_false_and_errors():
    x, w = np.ones((1, 1, 3)), np.ones((1, 2, 2))
    assert conv_transpose_backward(np.ones((1, 2, 4)), x, w, bias=False)[2] is None
    with pytest.raises(tconv.TconvError, match="conv_transpose_backward: grad_output"):
        conv_transpose_backward(np.ones((1, 2, 5)), x, w)
    with pytest.raises(tconv.TconvError, match="conv_backward: x.shape"):
        conv_backward(np.ones((1, 1, 2)), np.ones((1, 3, 3)), w)
    with pytest.raises(TypeError, match="conv_backward"):
        conv_backward(np.ones((1, 1, 2)), np.ones((1, 1, 3), dtype=complex), np.ones((1, 1, 2)))
