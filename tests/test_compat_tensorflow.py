"""tconv.compat.tensorflow against real TensorFlow (imported once: it is slow to import)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import tensorflow as ct  # noqa: E402
from tconv.compat import torch as tt  # noqa: E402

OURS = {1: ct.conv1d_transpose, 2: ct.conv2d_transpose, 3: ct.conv3d_transpose}
THEIRS = {1: tf.nn.conv1d_transpose, 2: tf.nn.conv2d_transpose, 3: tf.nn.conv3d_transpose}
LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
FIRST = {1: "NCW", 2: "NCHW", 3: "NCDHW"}


def dilate_filters(f, d):
    """Zeros between the taps: a dilation-d kernel as a dilation-1 kernel (TF's CPU kernel refuses d > 1)."""
    nd = f.ndim - 2
    k = f.shape[:nd]
    out = np.zeros(tuple(di * (ki - 1) + 1 for ki, di in zip(k, d)) + f.shape[nd:], f.dtype)
    out[tuple(slice(None, None, di) for di in d)] = f
    return out


def tf_reference(nd, x, f, output_shape, strides, padding, data_format, dilations):
    """Real TF, on channels-last data and an explicitly dilated kernel (what this CPU kernel accepts)."""
    if data_format == FIRST[nd]:
        x = np.moveaxis(x, 1, -1)
        output_shape = [output_shape[0]] + list(output_shape[2:]) + [output_shape[1]]
        if not isinstance(padding, str):
            padding = [padding[0]] + list(padding[2:]) + [padding[1]]
    y = THEIRS[nd](x, dilate_filters(f, dilations), output_shape, strides, padding).numpy()
    return np.moveaxis(y, -1, 1) if data_format == FIRST[nd] else y


def random_tf_case(rng, nd):
    n = tuple(int(v) for v in rng.integers(1, 6, nd))
    k = tuple(int(v) for v in rng.integers(1, 5, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    kinds = ["SAME", "VALID"] + (["EXPLICIT"] if nd == 2 else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    pads, out = [], []
    for ni, ki, si, di in zip(n, k, s, d):
        k_eff = di * (ki - 1) + 1
        if kind == "SAME":
            out.append(int(rng.integers((ni - 1) * si + 1, ni * si + 1)))
        else:
            lo, hi = (int(v) for v in rng.integers(0, 3, 2)) if kind == "EXPLICIT" else (0, 0)
            lo = min(lo, k_eff - 1)
            hi = max(0, min(hi, (ni - 1) * si + k_eff - lo - 1))  # a non-empty output
            base = (ni - 1) * si + k_eff - lo - hi
            pads.append([lo, hi])
            out.append(int(rng.integers(max(1, base), base + si)))
    data_format = LAST[nd] if rng.random() < 0.5 else FIRST[nd]
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    batch = int(rng.integers(1, 3))
    last = data_format == LAST[nd]
    x = rng.standard_normal((batch,) + n + (c_in,) if last else (batch, c_in) + n)
    f = rng.standard_normal(k + (c_out, c_in))
    output_shape = [batch] + out + [c_out] if last else [batch, c_out] + out
    padding = kind
    if kind == "EXPLICIT":
        padding = [[0, 0]] + pads + [[0, 0]] if last else [[0, 0], [0, 0]] + pads
    return x, f, output_shape, list(s), padding, data_format, list(d)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_matches_tensorflow_on_random_cases(nd):
    rng = np.random.default_rng(200 + nd)
    for _ in range(14 if nd < 3 else 6):
        x, f, output_shape, s, padding, data_format, d = random_tf_case(rng, nd)
        ref = tf_reference(nd, x, f, output_shape, s, padding, data_format, d)
        y = OURS[nd](x, f, output_shape, s, padding, data_format, d)
        assert y.dtype == ref.dtype
        assert_close(y, ref)
        y_generic = ct.conv_transpose(x, f, output_shape, s, padding, data_format, d)
        assert_close(y_generic, ref)


def test_defaults_spatial_output_shape_and_float32():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    f = rng.standard_normal((3, 2, 4, 3)).astype(np.float32)
    ref = tf.nn.conv2d_transpose(x, f, [8, 10], 2).numpy()
    y = ct.conv2d_transpose(x, f, [8, 10], 2)
    assert y.dtype == np.float32
    assert_close(y, ref, np.float32)


def test_torch_same_and_valid_extensions_equal_tensorflow():
    rng = np.random.default_rng(11)
    for _ in range(8):
        n = tuple(int(v) for v in rng.integers(1, 6, 2))
        k = tuple(int(v) for v in rng.integers(1, 6, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        x, w = rng.standard_normal((1, 2) + n), rng.standard_normal((2, 3) + k)
        same = tf.nn.conv2d_transpose(np.moveaxis(x, 1, -1), np.moveaxis(w, (0, 1), (-1, -2)), [1, n[0] * s[0], n[1] * s[1], 3], s, "SAME")
        assert_close(tt.conv_transpose2d(x, w, stride=s, padding="same"), np.moveaxis(same.numpy(), -1, 1))
        full = [(ni - 1) * si + max(ki, si) for ni, ki, si in zip(n, k, s)]
        valid = tf.nn.conv2d_transpose(np.moveaxis(x, 1, -1), np.moveaxis(w, (0, 1), (-1, -2)), [1] + full + [3], s, "VALID")
        assert_close(tt.conv_transpose2d(x, w, stride=s, padding="valid"), np.moveaxis(valid.numpy(), -1, 1))


def both_refuse(nd, *args, exc=TconvError, match=None):
    with pytest.raises(Exception):
        THEIRS[nd](*args)
    with pytest.raises(exc, match=match):
        OURS[nd](*args)


def test_refuses_what_tensorflow_refuses():
    x, f = np.ones((1, 4, 4, 2)), np.ones((3, 3, 5, 2))
    both_refuse(2, x, f, [1, 9, 9, 5], 2, match=r"output_shape must be in \[7, 8\]")
    both_refuse(2, x, f, [1, 6, 6, 5], 2, match="output_shape")
    both_refuse(2, x, f, [1, 11, 11, 5], 2, "VALID", match=r"\[9, 10\]")
    both_refuse(2, x, f, [1, 8, 8, 5], 2, "same", match="padding")
    both_refuse(2, x, f, [1, 8, 8, 5], 2, [[1, 0], [0, 1]], match="padding")
    both_refuse(2, x, f, [2, 8, 8, 5], 2, match="batch")
    both_refuse(2, x, f, [1, 8, 8, 4], 2, match="channels")
    both_refuse(2, x, f, [1, 8, 8, 5], [2, 2, 2, 1], match="batch and channel")
    both_refuse(2, x, f, [1, 8, 8, 5], 0, match="strides")
    both_refuse(2, x, np.ones((3, 3, 5, 3)), [1, 8, 8, 5], 2, match="in_channels")
    both_refuse(1, x[:, 0], f[0], [1, 8, 5], 2, [[0, 0], [1, 0], [0, 0]], match="2-D")


def test_padding_that_leaves_no_output_length_is_refused():
    x, f, pads = np.ones((1, 2, 2, 1)), np.ones((1, 1, 1, 1)), [[0, 0], [2, 2], [2, 2], [0, 0]]
    for length in (1, 2, 3):  # the forward conv of any length is 4 longer than the input: TF accepts none
        both_refuse(2, x, f, [1, length, length, 1], 1, pads, match=r"padding \(2, 2\) on spatial axis 0 leaves no output")
    with pytest.raises(TconvError, match=r"before \+ after must be at most 1"):
        ct.output_shape_range((2, 2), 1, 1, pads)
    assert ct.output_shape_range((2, 2), 1, 1, [[0, 0], [1, 0], [0, 0], [0, 0]]) == ((1, 1), (2, 2))


def test_accepts_nchw_and_dilation_always():
    rng = np.random.default_rng(2)
    x, f = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 3, 5, 2))
    y = ct.conv2d_transpose(x, f, [1, 5, 13, 13], 2, "VALID", "NCHW", 3)
    assert_close(y, tf_reference(2, x, f, [1, 5, 13, 13], 2, "VALID", "NCHW", (3, 3)))


def test_geometry_reads_full_or_spatial_shapes():
    assert ct.geometry((4, 4), 3, (1, 5, 8, 8), 2, data_format="NCHW").out_size == (8, 8)
    assert ct.geometry((4, 4), 3, (8, 8), [1, 2, 2, 1], [[0, 0], [1, 1], [0, 2], [0, 0]]).start == (1, 0)
    with pytest.raises(TconvError, match="output_shape"):
        ct.geometry(4, 3, [3], 2)


def test_per_axis_arguments_take_one_nd_or_full_rank_entries():
    import tconv.geometry

    assert ct.same_start is tconv.geometry.same_start and ct.same_start(4, 4, 2, 1, 8) == 1
    for strides in (2, [2], [2, 2], [1, 2, 2, 1]):
        assert ct.geometry((4, 4), 3, [8, 8], strides).stride == (2, 2)
    assert ct.geometry((4, 4), 3, [1, 1, 8, 8], [1, 1, 2, 2], data_format="NCHW").stride == (2, 2)
    with pytest.raises(TconvError, match=r"strides must have 1, 2 or 4 entries"):
        ct.geometry((4, 4), 3, [8, 8], [2, 2, 2])
    with pytest.raises(TypeError, match="strides"):
        ct.geometry((4, 4), 3, [8, 8], 2.0)
    with pytest.raises(TconvError, match=r"each explicit padding entry must be a \(before, after\) pair"):
        ct.geometry((4, 4), 3, [8, 8], 2, [[0, 0], 1, [0, 0], [0, 0]])
    with pytest.raises(TconvError, match="padding must be >= 0"):
        ct.geometry((4, 4), 3, [8, 8], 2, [[0, 0], [-1, 0], [0, 0], [0, 0]])
