"""tconv.compat.openvino against the real OpenVINO runtime (CPU plugin, float32)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("openvino")

from openvino_support import compile_node  # noqa: E402
from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import openvino as tov  # noqa: E402

MODES = ("explicit", "same_upper", "same_lower", "valid")


def _outcome(f, *args, **kwargs):
    try:
        return f(*args, **kwargs)
    except Exception as exc:  # OpenVINO raises RuntimeError and friends
        return exc


def _real(x, filters, attrs, grouped):
    return _outcome(lambda: compile_node(x.shape, filters, attrs, grouped)(x)[0])


def _random_case(rng, nd):
    n = [int(v) for v in rng.integers(1, 5, nd)]
    k = [int(v) for v in rng.integers(1, 4, nd)]
    s = [int(v) for v in rng.integers(1, 4, nd)]
    d = [int(v) for v in rng.integers(1, 3, nd)]
    attrs = dict(strides=s, dilations=d, auto_pad=str(rng.choice(MODES)))
    if rng.random() < 0.7:
        attrs["pads_begin"] = [int(v) for v in rng.integers(0, 3, nd)]
        attrs["pads_end"] = [int(v) for v in rng.integers(0, 3, nd)]
    if rng.random() < 0.5:
        attrs["output_padding"] = [int(v) for v in rng.integers(0, 3, nd)]  # OpenVINO allows op >= stride
    if rng.random() < 0.5:
        full = [(ni - 1) * si + di * (ki - 1) + 1 for ni, ki, si, di in zip(n, k, s, d)]
        attrs["output_shape"] = [max(1, f + int(rng.integers(-3, 3))) for f in full]
    groups = int(rng.choice([1, 1, 2]))
    c_in, c_out_g = groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    x = rng.standard_normal([2, c_in] + n).astype(np.float32)
    w = rng.standard_normal([c_in, c_out_g] + k).astype(np.float32)
    return x, w, groups, attrs


@pytest.mark.parametrize("seed", range(2))
def test_random_nodes_match_the_cpu_plugin(seed):
    """Every auto_pad, with and without output_shape, 1-D to 3-D, both ops; refused where the runtime refuses."""
    rng = np.random.default_rng(seed)
    for case in range(25):
        x, w, groups, attrs = _random_case(rng, 1 + case % 3)
        grouped = groups > 1 or rng.random() < 0.3
        filters = tov.to_openvino(w, groups) if grouped else w
        if grouped and groups == 1:
            filters = filters[None]
        fn = tov.group_convolution_backprop_data if grouped else tov.convolution_backprop_data
        ref = _real(x, filters, attrs, grouped)
        got = _outcome(fn, x, filters, **attrs)
        if grouped and isinstance(ref, Exception) and "primitive descriptor" in str(ref):
            # oneDNN has no grouped primitive for it (an empty output among them); the text allows it
            assert not isinstance(got, Exception) or "empty" in str(got), got
            continue
        if isinstance(ref, Exception) or 0 in ref.shape:  # an empty output: OpenVINO returns it, tconv refuses
            assert isinstance(got, TconvError), (attrs, x.shape, filters.shape, str(ref)[:200])
        else:
            assert not isinstance(got, Exception), (attrs, x.shape, filters.shape, got)
            assert_close(got, ref, np.float32)


@pytest.mark.slow
def test_random_nodes_stress():
    for seed in range(2, 12):
        test_random_nodes_match_the_cpu_plugin(seed)


# Where the CPU plugin departs from the opset1 text (docs/conventions-openvino-litert.md lists them):
# (n, k, s, attributes, cpu start, spec start); every row is one axis of length 3 or 4
FINDINGS = [
    # output_shape with explicit pads: the text ignores the pads and splits the total; the plugin keeps pads_begin
    (4, 3, 2, dict(pads_begin=[1], output_shape=[8]), 1, 0),
    # output_shape with valid: the text splits the total (floor), the plugin starts at 0
    (4, 4, 2, dict(auto_pad="valid", output_shape=[7]), 0, 1),
    # an output_shape past the full result: the text puts zeros on both sides, the plugin appends them all
    (4, 3, 2, dict(auto_pad="same_upper", output_shape=[11]), 0, -1),
    # kernel 1, stride 1, output as long as the input: the plugin's 1x1 path drops pads_begin
    (3, 1, 1, dict(pads_begin=[1], output_padding=[1]), 0, 1),
    (3, 1, 1, dict(auto_pad="same_upper", output_padding=[2], output_shape=[3]), 0, 1),
]


@pytest.mark.parametrize("n, k, s, attrs, cpu, spec", FINDINGS)
def test_where_the_cpu_plugin_and_the_text_part(n, k, s, attrs, cpu, spec):
    x = np.arange(1.0, n + 1, dtype=np.float32).reshape(1, 1, n)
    w = np.arange(1.0, k + 1, dtype=np.float32).reshape(1, 1, k)
    assert tov.geometry(n, k, s, **attrs).start == (cpu,)
    assert tov.geometry(n, k, s, behavior="spec", **attrs).start == (spec,)
    ref = compile_node(x.shape, w, dict(attrs, strides=[s]))(x)[0]
    assert_close(tov.convolution_backprop_data(x, w, [s], **attrs), ref, np.float32)
    assert not np.allclose(tov.convolution_backprop_data(x, w, [s], behavior="spec", **attrs), ref)


def test_the_grouped_op_reads_explicit_output_shape_its_own_way():
    x = np.arange(1.0, 5.0, dtype=np.float32).reshape(1, 1, 4)
    w = np.array([1, 10, 100, 1000, 10000], np.float32).reshape(1, 1, 5)
    attrs = dict(strides=[2], pads_begin=[1], pads_end=[0], output_shape=[7])
    starts = {grouped: tov.geometry(4, 5, grouped=grouped, **attrs).start for grouped in (False, True)}
    assert starts == {False: (1,), True: (0,)} and tov.geometry(4, 5, behavior="spec", **attrs).start == (2,)
    assert_close(tov.convolution_backprop_data(x, w, **attrs), compile_node(x.shape, w, attrs)(x)[0], np.float32)
    assert_close(tov.group_convolution_backprop_data(x, w[None], **attrs), compile_node(x.shape, w[None], attrs)(x)[0],
                 np.float32)  # fmt: skip


def test_same_without_output_shape_is_the_full_result():
    x = np.ones((1, 1, 4), np.float32)
    w = np.ones((1, 1, 3), np.float32)
    for mode in ("same_upper", "SAME_LOWER", "valid"):
        ref = compile_node(x.shape, w, dict(strides=[2], auto_pad=mode, pads_begin=[1], pads_end=[1]))(x)[0]
        y = tov.convolution_backprop_data(x, w, 2, auto_pad=mode, pads_begin=[1], pads_end=[1])
        assert y.shape == ref.shape == (1, 1, 9)
        assert_close(y, ref, np.float32)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(strides=[0]), "strides"),
        (dict(strides=[2], dilations=[0]), "dilations"),
        (dict(strides=[2], pads_begin=[-1]), "pads_begin"),
        (dict(strides=[2], pads_begin=[1, 1], pads_end=[0, 0]), "spatial dims"),
        (dict(strides=[2], output_shape=[3, 3]), "output_shape"),
        (dict(strides=[2], output_shape=[-1]), "output_shape"),
        (dict(strides=[2], pads_begin=[4], pads_end=[4]), "empty"),
        (dict(strides=[2], auto_pad="same"), "auto_pad"),
    ],
)
def test_refusals_the_runtime_shares(kwargs, match):
    x = np.ones((1, 2, 3), np.float32)
    w = np.ones((2, 1, 3), np.float32)
    assert isinstance(_real(x, w, kwargs, False), Exception)
    with pytest.raises(TconvError, match=match):
        tov.convolution_backprop_data(x, w, **kwargs)


def test_channel_and_group_refusals():
    x = np.ones((1, 4, 3), np.float32)
    assert isinstance(_real(x, np.ones((3, 1, 3), np.float32), dict(strides=[2]), False), Exception)
    with pytest.raises(TconvError, match="channels of data"):
        tov.convolution_backprop_data(x, np.ones((3, 1, 3), np.float32), 2)
    bad = np.ones((3, 2, 3, 3), np.float32)  # 3 groups of 2 input channels: 6, not 4
    assert isinstance(_real(x, bad, dict(strides=[2]), True), Exception)
    with pytest.raises(TconvError, match="G \\* C_in/G"):
        tov.group_convolution_backprop_data(x, bad, 2)
    with pytest.raises(TypeError, match="element type"):
        tov.convolution_backprop_data(x, np.ones((4, 1, 3)), 2)
    with pytest.raises(TconvError, match="behavior"):
        tov.geometry(3, 3, 2, behavior="gpu")


def test_bias_and_layouts():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)  # 2 groups: (C_in, C_out/G, *k)
    b = rng.standard_normal(6).astype(np.float32)
    filters = tov.to_openvino(w, 2)
    assert filters.shape == (2, 2, 3, 2, 2) and (tov.from_openvino(filters) == w).all()
    ref = compile_node(x.shape, filters, dict(strides=[2, 2]))(x)[0] + b.reshape(1, -1, 1, 1)
    assert_close(tov.group_convolution_backprop_data(x, filters, 2, bias=b), ref, np.float32)
