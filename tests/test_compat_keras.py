"""tconv.compat.keras against real keras.ops.conv_transpose on the JAX backend."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import keras as ck  # noqa: E402


def test_backend_is_jax():
    assert keras.backend.backend() == "jax"


def random_keras_case(rng, nd):
    n = tuple(int(v) for v in rng.integers(1, 6, nd))
    k = tuple(int(v) for v in rng.integers(1, 6, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    padding = ["valid", "same", "SAME"][int(rng.integers(3))]
    choice = rng.random()
    if choice < 0.3:
        op = None
    elif choice < 0.5:
        op = int(rng.integers(0, 3))
    else:  # per axis, sometimes >= stride (keras.ops accepts it)
        op = tuple(int(v) for v in rng.integers(0, 4, nd))
    data_format = "channels_last" if rng.random() < 0.6 else "channels_first"
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    shape = (2,) + n + (c_in,) if data_format == "channels_last" else (2, c_in) + n
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(k + (c_out, c_in)).astype(np.float32)
    return x, w, dict(strides=s, padding=padding, output_padding=op, data_format=data_format, dilation_rate=d)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_matches_keras_ops_on_random_cases(nd):
    rng = np.random.default_rng(300 + nd)
    for _ in range(16 if nd < 3 else 6):
        x, w, kw = random_keras_case(rng, nd)
        ref = np.asarray(keras.ops.conv_transpose(x, w, **kw))
        if ref.size == 0:  # e.g. same, output_padding 0, n=1, even kernel: keras returns an empty array
            with pytest.raises(TconvError, match="empty"):
                ck.conv_transpose(x, w, **kw)
            continue
        y = ck.conv_transpose(x, w, **kw)
        assert y.dtype == ref.dtype
        assert_close(y, ref, np.float32)


def test_defaults_positional_and_none_versus_zero():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 4, 3)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3)).astype(np.float32)
    for op in (None, 0):
        ref = np.asarray(keras.ops.conv_transpose(x, w, 2, "same", op))
        assert_close(ck.conv_transpose(x, w, 2, "same", op), ref, np.float32)
    assert ck.conv_transpose(x, w, 2, "same").shape[1] == 8
    assert ck.conv_transpose(x, w, 2, "same", 0).shape[1] == 6
    assert_close(ck.conv_transpose(x, w), np.asarray(keras.ops.conv_transpose(x, w)), np.float32)


def test_refuses_what_keras_refuses():
    x, w = np.ones((1, 4, 3), np.float32), np.ones((3, 2, 3), np.float32)
    for bad_w, kw, match in ((w, dict(padding="full"), "padding"), (np.ones((3, 2, 4), np.float32), {}, "in_channels")):
        with pytest.raises(ValueError):
            keras.ops.conv_transpose(x, bad_w, **kw)
        with pytest.raises(TconvError, match=match):
            ck.conv_transpose(x, bad_w, **kw)
    with pytest.raises(TconvError, match="data_format"):
        ck.conv_transpose(x, w, data_format="NHWC")
    with pytest.raises(TypeError, match="padding"):
        ck.conv_transpose(x, w, padding=1)


def test_geometry_is_the_shape_keras_computes():
    rng = np.random.default_rng(4)
    for _ in range(10):
        x, w, kw = random_keras_case(rng, 2)
        if kw["data_format"] == "channels_first":
            continue
        out = keras.ops.conv_transpose(x, w, **{**kw, "data_format": None}).shape[1:-1]
        geom = ck.geometry(x.shape[1:-1], w.shape[:-2], kw["strides"], kw["padding"], kw["output_padding"], kw["dilation_rate"])
        assert geom.out_size == tuple(out)
