"""tconv.compat.litert against the real LiteRT interpreter, with and without its XNNPACK delegate.

The models are made by TensorFlow's TFLite converter from ``tf.nn.conv2d_transpose``
(``litert_support`` caches them per geometry and weights).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")
tf = pytest.importorskip("tensorflow")

from litert_support import interpreter, ops, run  # noqa: E402
from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import layouts  # noqa: E402
from tconv.compat import litert as tl  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _random_case(rng):
    n = [int(v) for v in rng.integers(1, 6, 2)]
    k = [int(v) for v in rng.integers(1, 6, 2)]
    s = [int(v) for v in rng.integers(1, 4, 2)]
    padding = str(rng.choice(tl.PADDINGS))
    lengths = [int(rng.integers(lo, hi + 1)) for lo, hi in tl.output_shape_range_of(n, k, padding, *s)]
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    x = rng.standard_normal([2] + n + [c_in]).astype(np.float32)
    w = rng.standard_normal([c_out] + k + [c_in]).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32) if rng.random() < 0.5 else None
    args = dict(output_shape=[2] + lengths + [c_out], padding=padding, stride_h=s[0], stride_w=s[1])
    return args, x, w, b


def check_random(seed: int, cases: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(cases):
        args, x, w, b = _random_case(rng)
        got = tl.transpose_conv(args["output_shape"], w, x, b, padding=args["padding"], stride_h=args["stride_h"],
                                stride_w=args["stride_w"])  # fmt: skip
        for delegate in (True, False):
            assert_close(got, run(args, x, w, b, delegate=delegate), np.float32)


def test_random_ops_match_the_interpreter():
    check_random(0, 6)


@pytest.mark.slow
def test_random_ops_stress():
    check_random(1, 40)


def test_the_converter_makes_one_transpose_conv_and_xnnpack_takes_it():
    """What the oracle runs: one TRANSPOSE_CONV (bias fused), delegated to XNNPACK unless asked not to."""
    from litert_support import _model

    w = np.ones((2, 3, 3, 1), np.float32)
    model = _model((1, 4, 4, 1), w.tobytes(), w.shape, np.ones(2, np.float32).tobytes(),
                   '{"output_shape": [1, 8, 8, 2], "padding": "SAME", "stride_h": 2, "stride_w": 2}')  # fmt: skip
    assert ops(interpreter(model, delegate=False)) == ["TRANSPOSE_CONV"]
    assert "DELEGATE" in ops(interpreter(model, delegate=True))


def _dynamic_model(n, k, s, padding):
    """TRANSPOSE_CONV whose output_shape is an input: LiteRT's own kernel checks the shapes it is fed."""
    w = np.ones(k + [1, 1], np.float32)

    def layer(x, shape):
        return tf.nn.conv2d_transpose(x, w, shape, strides=s, padding=padding)

    f = tf.function(layer, input_signature=[tf.TensorSpec([1] + n + [1], tf.float32), tf.TensorSpec([4], tf.int32)])
    return tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()


def _feed(model, x, shape):
    it = interpreter(model, delegate=False)
    for detail in it.get_input_details():
        it.set_tensor(detail["index"], np.asarray(shape, np.int32) if detail["dtype"] == np.int32 else x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.mark.parametrize("padding", tl.PADDINGS)
def test_output_shapes_accepted_and_refused_alike(padding):
    n, k, s = [1, 3], [1, 3], [1, 2]
    model = _dynamic_model(n, k, s, padding)
    x = np.arange(1.0, 4.0, dtype=np.float32).reshape(1, 1, 3, 1)
    accepted = 0
    for length in range(1, 11):
        shape = [1, 1, length, 1]
        try:
            ref = _feed(model, x, shape)
        except Exception:  # LiteRT's Prepare refuses it
            with pytest.raises(TconvError, match="output_shape must be in"):
                tl.transpose_conv(shape, np.ones((1, 1, 3, 1)), x, padding=padding, stride_w=2)
            continue
        assert_close(tl.transpose_conv(shape, np.ones((1, 1, 3, 1), np.float32), x, padding=padding, stride_w=2), ref,
                     np.float32)  # fmt: skip
        accepted += 1
    assert accepted == 2  # SAME [5, 6], VALID [7, 8]
    good = 5 if padding == "SAME" else 7
    for shape in ([2, 1, good, 1], [1, 1, good, 2]):  # the batch of the input, the channels of the weights
        with pytest.raises(Exception):
            _feed(model, x, shape)
        with pytest.raises(TconvError, match="output_shape must have batch"):
            tl.transpose_conv(shape, np.ones((1, 1, 3, 1)), x, padding=padding, stride_w=2)


def test_refusals():
    x = np.ones((1, 3, 3, 2), np.float32)
    w = np.ones((4, 3, 3, 2), np.float32)
    cases = [
        (dict(output_shape=[1, 6, 6, 4], weights=np.ones((4, 3, 3, 3))), "C_in"),
        (dict(output_shape=[2, 6, 6, 4]), "batch"),
        (dict(output_shape=[1, 6, 6, 5]), "channels"),
        (dict(output_shape=[6, 6]), "4 ints"),
        (dict(output_shape=[1, 6, 6, 4], padding="EXPLICIT"), "padding"),
        (dict(output_shape=[1, 6, 6, 4], stride_h=0), "stride_h"),
        (dict(output_shape=[1, 6, 6, 4], bias=np.ones(3)), "bias"),
    ]
    for kwargs, match in cases:
        kwargs = dict(kwargs)
        shape, weights = kwargs.pop("output_shape"), kwargs.pop("weights", w)
        bias = kwargs.pop("bias", None)
        with pytest.raises(TconvError, match=match):
            tl.transpose_conv(shape, weights, x, bias, **{"stride_h": 2, "stride_w": 2, **kwargs})


def test_layouts_round_trip():
    w = np.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)  # (C_in, C_out, kH, kW)
    assert tl.to_litert(w).shape == (3, 4, 5, 2) and (tl.from_litert(tl.to_litert(w)) == w).all()
    assert tl.to_litert is layouts.to_ohwi and tl.from_litert is layouts.from_ohwi  # the generic moves, LiteRT's names
