"""tconv.compat.torch against real PyTorch (and keras.ops for the SAME/VALID extensions)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from support import assert_close
from tconv import TconvError
from tconv.compat import torch as tt

FUNCS = {1: (tt.conv_transpose1d, F.conv_transpose1d), 2: (tt.conv_transpose2d, F.conv_transpose2d), 3: (tt.conv_transpose3d, F.conv_transpose3d)}
CONVS = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}


def random_torch_case(rng, nd, max_size=6):
    """Random arguments PyTorch accepts: symmetric int padding, output_padding < max(s, d)."""
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in, c_out_g = groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
        n = tuple(int(v) for v in rng.integers(1, max_size + 1, nd))
        k = tuple(int(v) for v in rng.integers(1, 5, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd))
        p = tuple(int(v) for v in rng.integers(0, 3, nd))
        op = tuple(int(rng.integers(0, max(si, di))) for si, di in zip(s, d))
        full = [(ni - 1) * si + di * (ki - 1) + 1 for ni, ki, si, di in zip(n, k, s, d)]
        if all(f - 2 * pi + o >= 1 for f, pi, o in zip(full, p, op)):
            x = rng.standard_normal((int(rng.integers(1, 3)), c_in) + n)
            w = rng.standard_normal((c_in, c_out_g) + k)
            b = rng.standard_normal(c_out_g * groups) if rng.random() < 0.5 else None
            return x, w, b, dict(stride=s, padding=p, output_padding=op, groups=groups, dilation=d)


def torch_run(fn, x, w, b, **kw):
    tb = None if b is None else torch.from_numpy(b)
    return fn(torch.from_numpy(x), torch.from_numpy(w), tb, **kw).numpy()


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_matches_torch_on_random_cases(nd):
    rng = np.random.default_rng(100 + nd)
    ours, theirs = FUNCS[nd]
    for _ in range(12 if nd < 3 else 6):
        x, w, b, kw = random_torch_case(rng, nd, max_size=6 if nd < 3 else 4)
        ref = torch_run(theirs, x, w, b, **kw)
        y = ours(x, w, b, **kw)
        assert y.dtype == ref.dtype
        assert_close(y, ref)
        geom = tt.geometry(x.shape[2:], w.shape[2:], kw["stride"], kw["padding"], kw["output_padding"], kw["groups"], kw["dilation"])
        assert geom.out_size == ref.shape[2:]


def test_positional_order_unbatched_and_float32():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 2)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    ref = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), 2, 1, 1, 1, (2, 1)).numpy()
    y = tt.conv_transpose2d(x, w, b, 2, 1, 1, 1, (2, 1))
    assert y.dtype == np.float32
    assert_close(y, ref, np.float32)
    assert_close(tt.conv_transpose2d(x, w, b, (2,), [1], 1), F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), (2,), [1], 1).numpy(), np.float32)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_same_and_valid_match_keras(padding):
    import keras

    rng = np.random.default_rng(7)
    for case in range(10):
        nd = 1 + case % 2
        n = tuple(int(v) for v in rng.integers(1, 6, nd))
        k = tuple(int(v) for v in rng.integers(1, 6, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd))
        x = rng.standard_normal((1, 2) + n).astype(np.float32)  # JAX computes in float32
        w = rng.standard_normal((2, 3) + k).astype(np.float32)
        y = FUNCS[nd][0](x, w, stride=s, padding=padding, dilation=d)
        # keras: channels last, kernel (*k, out, in)
        ref = keras.ops.conv_transpose(
            np.moveaxis(x, 1, -1), np.moveaxis(w, (0, 1), (-1, -2)), strides=s, padding=padding, dilation_rate=d
        )
        assert_close(y, np.moveaxis(np.asarray(ref), -1, 1), np.float32)
        if padding == "same":
            assert y.shape[2:] == tuple(ni * si for ni, si in zip(n, s))


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect", "replicate"])
def test_padding_mode_is_the_adjoint_of_torch_conv(mode):
    rng = np.random.default_rng(hash(mode) % 1000)
    done = 0
    while done < 8:
        nd = 1 + done % 3
        groups = int(rng.choice([1, 2]))
        c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        m = tuple(int(v) for v in rng.integers(2, 7, nd))  # the conv's input: the transposed conv's output
        k = tuple(int(v) for v in rng.integers(1, 4, nd))
        s = tuple(int(v) for v in rng.integers(1, 3, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd))
        p = tuple(int(rng.integers(0, mi)) for mi in m)  # reflect needs p < m; circular p <= m
        if any(mi + 2 * pi < di * (ki - 1) + 1 for mi, pi, ki, di in zip(m, p, k, d)):
            continue
        conv = CONVS[nd](c_out, c_in, k, stride=s, padding=p, dilation=d, groups=groups, bias=False, padding_mode=mode).double()
        xin = rng.standard_normal((2, c_out) + m)
        with torch.no_grad():
            cx = conv(torch.from_numpy(xin)).numpy()
        n = cx.shape[2:]
        full = [(ni - 1) * si + di * (ki - 1) + 1 for ni, ki, si, di in zip(n, k, s, d)]
        op = tuple(mi + 2 * pi - f for mi, pi, f in zip(m, p, full))
        y = rng.standard_normal(cx.shape)
        w = conv.weight.detach().numpy()  # (c_in, c_out/g, *k): the transposed conv's layout
        ty = FUNCS[nd][0](y, w, None, s, p, op, groups, d, padding_mode=mode)
        assert ty.shape == xin.shape
        lhs, rhs = np.vdot(cx, y), np.vdot(xin, ty)
        assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs)), (mode, lhs, rhs)
        done += 1


def test_padding_mode_zeros_is_torch_and_bias_is_added_once():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((1, 2, 5)), rng.standard_normal((2, 3, 3)), rng.standard_normal(3)
    y = tt.conv_transpose1d(x, w, b, 2, 1, padding_mode="replicate")
    y0 = tt.conv_transpose1d(x, w, None, 2, 1, padding_mode="replicate")
    assert_close(y - y0, np.broadcast_to(b[:, None], y.shape[1:])[None])


def both_refuse(nd, x, w, b=None, *, exc=(TconvError,), **kw):
    ours, theirs = FUNCS[nd]
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        torch_run(theirs, x, w, b, **kw)
    with pytest.raises(exc):
        ours(x, w, b, **kw)


def test_refuses_what_torch_refuses():
    x, w = np.ones((1, 2, 5, 5)), np.ones((2, 3, 3, 3))
    both_refuse(2, x, w, stride=0)
    both_refuse(2, x, w, dilation=0)
    both_refuse(2, x, w, padding=-1)
    both_refuse(2, x, w, stride=2, output_padding=2)
    both_refuse(2, x, w, stride=[2, 2, 2])
    both_refuse(2, x, w, groups=3)
    both_refuse(2, x, np.ones((3, 3, 3, 3)))
    both_refuse(2, x, w, np.ones(4))
    both_refuse(2, x, w, padding=5)  # empty output
    both_refuse(2, x, w, padding=((1, 0), (0, 1)), exc=TypeError)
    both_refuse(2, x, w, stride=2.0, exc=TypeError)
    both_refuse(2, np.ones((1, 2, 5)), w)


def test_refuses_bad_extension_arguments_naming_them():
    x, w = np.ones((1, 2, 5)), np.ones((2, 3, 3))
    with pytest.raises(TconvError, match="output_padding"):
        tt.conv_transpose1d(x, w, stride=2, padding="same", output_padding=1)
    with pytest.raises(TconvError, match="padding_mode"):
        tt.conv_transpose1d(x, w, padding="valid", padding_mode="circular")
    with pytest.raises(TconvError, match="padding_mode"):
        tt.conv_transpose1d(x, w, padding_mode="mirror")
    with pytest.raises(TconvError, match="padding must be"):
        tt.conv_transpose1d(x, w, padding="full")
    with pytest.raises(TconvError, match="circular"):  # output length 3 < padding 4
        tt.conv_transpose1d(np.ones((1, 2, 1)), w, padding=4, output_padding=0, dilation=5, padding_mode="circular")
    with pytest.raises(TypeError, match="input"):
        tt.conv_transpose1d(np.array([["a"]]), w)


def test_does_not_modify_inputs():
    x, w = np.ones((1, 2, 5)), np.ones((2, 3, 3))
    x0, w0 = x.copy(), w.copy()
    tt.conv_transpose1d(x, w, None, 2, 1, 1, padding_mode="reflect")
    assert (x == x0).all() and (w == w0).all()


def test_geometry_counts_spatial_dims_as_pytorch_expands():
    # a sequence of one int applies to every axis (PyTorch's _ntuple), so it does not decide the rank
    g = tt.geometry((4, 4), 3, stride=(2,), padding=[1], output_padding=(1,))
    assert g.out_size == (8, 8) and g.stride == (2, 2) and g.start == (1, 1)
    assert tt.geometry(4, 3, stride=(2,), padding=(1, 0)).out_size == (7, 9)
    with pytest.raises(TconvError, match="disagree"):
        tt.geometry((4, 4), (3, 3, 3))
    with pytest.raises(TypeError, match="stride"):
        tt.geometry(4, 3, stride=2.0)
