"""tconv.compat.onnx against the ONNX backend node tests, onnx.reference and ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx_support import convtranspose_model, run_onnxruntime, run_reference  # noqa: E402
from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import onnx as to  # noqa: E402


def _backend_cases(monkeypatch) -> list:
    """The ConvTranspose node tests exactly as the installed onnx package generates them."""
    from onnx.backend.test.case.node import convtranspose

    cases = []
    monkeypatch.setattr(convtranspose, "expect", lambda node, inputs, outputs, name, **kw: cases.append((node, inputs, outputs, name)))
    for attr in dir(convtranspose.ConvTranspose):
        if attr.startswith("export"):
            getattr(convtranspose.ConvTranspose, attr)()
    return cases


def _attributes(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@pytest.mark.parametrize("behavior", ["spec", "onnxruntime"])
def test_onnx_backend_node_cases(monkeypatch, behavior):
    cases = _backend_cases(monkeypatch)
    assert len(cases) >= 11
    for node, inputs, outputs, name in cases:
        y = to.conv_transpose(*inputs, **_attributes(node), behavior=behavior)
        assert y.dtype == outputs[0].dtype, name
        assert_close(y, outputs[0], np.float32)


def _random_attrs(rng: np.random.Generator, nd: int, n, k, *, wild: bool) -> dict:
    """Attributes of every kind; ``wild`` also draws output_padding up to max(s, d) and far output_shapes."""
    s = [int(v) for v in rng.integers(1, 4, nd)]
    d = [int(v) for v in rng.integers(1, 3, nd)]
    limit = [max(si, di) + 1 if wild else si for si, di in zip(s, d)]
    attrs = dict(strides=s, dilations=d)
    if rng.random() < 0.6:
        attrs["output_padding"] = [int(rng.integers(0, li)) for li in limit]
    op = attrs.get("output_padding", [0] * nd)
    mode = rng.choice(["pads", "SAME_UPPER", "SAME_LOWER", "VALID", "output_shape"])
    if mode == "pads":
        attrs["pads"] = [int(v) for v in rng.integers(0, 3, 2 * nd)]
    elif mode == "output_shape":
        full = [(ni - 1) * si + di * (ki - 1) + 1 + o for ni, ki, si, di, o in zip(n, k, s, d, op)]
        spread = 4 if wild else 2
        attrs["output_shape"] = [max(1, f + int(rng.integers(-spread, 2))) for f in full]
        attrs["auto_pad"] = str(rng.choice(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    else:
        attrs["auto_pad"] = mode
    return attrs


def _random_arrays(rng, nd, *, depthwise_only: bool):
    n = [int(v) for v in rng.integers(1, 5, nd)]
    k = [int(v) for v in rng.integers(1, 5, nd)]
    group = int(rng.choice([1, 1, 2]))
    if depthwise_only:
        c_in, c_out_g = group, 1 if group > 1 else int(rng.integers(1, 3))
    else:
        c_in, c_out_g = group * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    x = rng.standard_normal([2, c_in] + n).astype(np.float32)
    w = rng.standard_normal([c_in, c_out_g] + k).astype(np.float32)
    b = rng.standard_normal(c_out_g * group).astype(np.float32)
    return x, w, b, group


def _outcome(f, *args, **kwargs):
    try:
        return f(*args, **kwargs)
    except Exception as exc:  # the runtimes raise their own exception types
        return exc


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_spec_matches_onnx_reference(nd):
    """onnx.reference follows the spec text where it works: groups 1 or depthwise (without bias), output_padding
    < stride, no NOTSET/VALID + output_shape (there it raises or splits the other way)."""
    rng = np.random.default_rng(10 + nd)
    checked = 0
    while checked < 12:
        x, w, b, group = _random_arrays(rng, nd, depthwise_only=True)
        attrs = _random_attrs(rng, nd, x.shape[2:], w.shape[2:], wild=False)
        if "output_shape" in attrs and attrs["auto_pad"] in ("NOTSET", "VALID"):
            continue
        # its grouped path adds B[0] to every group: no bias there
        b = b if group == 1 else None
        feeds = {"X": x, "W": w} if b is None else {"X": x, "W": w, "B": b}
        model = convtranspose_model(x.shape, w.shape, bias=b is not None, group=group, **attrs)
        ref = _outcome(run_reference, model, feeds)
        if isinstance(ref, Exception) or 0 in ref.shape:  # tconv refuses empty outputs, as ONNX Runtime does
            with pytest.raises(TconvError):
                to.conv_transpose(x, w, b, group=group, **attrs)
            continue
        assert_close(to.conv_transpose(x, w, b, group=group, **attrs), ref, np.float32)
        checked += 1


@pytest.mark.parametrize("seed", range(3))
def test_onnxruntime_behavior_matches_onnxruntime(seed):
    """Every attribute kind, groups included, accepted and refused alike."""
    rng = np.random.default_rng(seed)
    for _ in range(30):
        nd = int(rng.integers(1, 4))
        x, w, b, group = _random_arrays(rng, nd, depthwise_only=False)
        attrs = _random_attrs(rng, nd, x.shape[2:], w.shape[2:], wild=True)
        model = convtranspose_model(x.shape, w.shape, bias=True, group=group, **attrs)
        ref = _outcome(run_onnxruntime, model, {"X": x, "W": w, "B": b})
        y = _outcome(to.conv_transpose, x, w, b, group=group, behavior="onnxruntime", **attrs)
        if isinstance(ref, Exception):
            assert isinstance(y, TconvError), (attrs, x.shape, w.shape, str(ref)[:200])
        else:
            assert not isinstance(y, Exception), (attrs, x.shape, w.shape, y)
            assert_close(y, ref, np.float32)


@pytest.mark.parametrize(
    "attrs, spec_shape, ort_shape",
    [
        # a kernel shorter than the stride with SAME_*: the spec pads with zeros to n*s, ONNX Runtime clamps at 0
        (dict(kernel=1, strides=[3], auto_pad="SAME_UPPER"), (9,), (7,)),
        (dict(kernel=2, strides=[3], auto_pad="SAME_LOWER"), (9,), (8,)),
        # output_padding below the dilation but not below the stride: the spec allows it, ONNX Runtime refuses
        (dict(kernel=3, strides=[1], dilations=[2], output_padding=[1]), (8,), None),
        # an output_shape two past the full result: zeros on both sides in the spec, refused by ONNX Runtime
        (dict(kernel=3, strides=[2], output_shape=[9]), (9,), None),
    ],
)
def test_where_spec_and_onnxruntime_part(attrs, spec_shape, ort_shape):
    attrs = dict(attrs)
    k = attrs.pop("kernel")
    x = np.arange(1.0, 4.0, dtype=np.float32).reshape(1, 1, 3)
    w = np.ones((1, 1, k), np.float32)
    assert to.conv_transpose(x, w, **attrs).shape[2:] == spec_shape
    model = convtranspose_model(x.shape, w.shape, **attrs)
    if ort_shape is None:
        with pytest.raises(Exception):
            run_onnxruntime(model, {"X": x, "W": w})
        with pytest.raises(TconvError, match="ONNX Runtime"):
            to.conv_transpose(x, w, behavior="onnxruntime", **attrs)
    else:
        ref = run_onnxruntime(model, {"X": x, "W": w})
        assert_close(to.conv_transpose(x, w, behavior="onnxruntime", **attrs), ref, np.float32)
        assert ref.shape[2:] == ort_shape


def test_negative_total_padding_puts_zeros_on_both_sides():
    x = np.array([[[1.0, 2.0, 3.0]]], np.float32)
    w = np.ones((1, 1, 1), np.float32)
    y = to.conv_transpose(x, w, auto_pad="SAME_UPPER", strides=[3])
    np.testing.assert_array_equal(y[0, 0], [0, 1, 0, 0, 2, 0, 0, 3, 0])
    model = convtranspose_model(x.shape, w.shape, auto_pad="SAME_UPPER", strides=[3])
    np.testing.assert_array_equal(run_reference(model, {"X": x, "W": w}), y)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(pads=[1, 1], auto_pad="SAME_UPPER"), TconvError, "pads cannot"),
        (dict(auto_pad="SAME"), TconvError, "auto_pad"),
        (dict(strides=[2], output_padding=[2]), TconvError, "output_padding"),
        (dict(kernel_shape=[2]), TconvError, "kernel_shape"),
        (dict(group=2), TconvError, "group"),
        (dict(pads=[1, 1, 1]), TconvError, "pads"),
        (dict(pads=[-1, 0]), TconvError, "pads"),
        (dict(pads=[3, 3]), TconvError, "empty"),
        (dict(strides=[0]), TconvError, "strides"),
        (dict(output_shape=[1, 1, 5]), TconvError, "output_shape"),
        (dict(behavior="ort"), TconvError, "behavior"),
    ],
)
def test_refusals(kwargs, error, match):
    x = np.ones((1, 3, 3), np.float32)
    w = np.ones((3, 1, 3), np.float32)
    with pytest.raises(error, match=match):
        to.conv_transpose(x, w, **kwargs)


def test_refusals_the_runtimes_share():
    x = np.ones((1, 3, 3), np.float32)
    w = np.ones((3, 1, 3), np.float32)
    for attrs in (dict(pads=[1, 1], auto_pad="SAME_UPPER"), dict(strides=[2], output_padding=[2]), dict(group=2)):
        model = convtranspose_model(x.shape, w.shape, **attrs)
        with pytest.raises(Exception):
            run_onnxruntime(model, {"X": x, "W": w})
        with pytest.raises(TconvError):
            to.conv_transpose(x, w, **attrs)


def test_element_types():
    x = np.ones((1, 1, 3), np.float32)
    with pytest.raises(TypeError, match="one element type"):
        to.conv_transpose(x, np.ones((1, 1, 2), np.float64))
    y = to.conv_transpose(x.astype(np.float16), np.ones((1, 1, 2), np.float16), strides=[2])
    assert y.dtype == np.float16
    with pytest.raises(TconvError, match="B"):
        to.conv_transpose(x, np.ones((1, 2, 2), np.float32), np.ones(3, np.float32))


def test_empty_batch_like_onnxruntime():
    x = np.zeros((0, 1, 3), np.float32)
    w = np.ones((1, 2, 3), np.float32)
    ref = run_onnxruntime(convtranspose_model(x.shape, w.shape, strides=[2]), {"X": x, "W": w})
    assert to.conv_transpose(x, w, strides=[2]).shape == ref.shape == (0, 2, 7)


def test_output_shape_lists_spatial_sizes_only():
    x = np.ones((1, 1, 3), np.float32)
    w = np.ones((1, 2, 3), np.float32)
    with pytest.raises(Exception):
        run_onnxruntime(convtranspose_model(x.shape, w.shape, strides=[2], output_shape=[1, 2, 6]), {"X": x, "W": w})
    for behavior in ("spec", "onnxruntime"):
        with pytest.raises(TconvError, match="output_shape"):
            to.conv_transpose(x, w, strides=[2], output_shape=[1, 2, 6], behavior=behavior)


def test_attributes_read_from_a_model_as_bytes():
    g = to.geometry([4], [3], auto_pad=b"SAME_LOWER", strides=[2])
    assert (g.start, g.out_size) == ((1,), (8,))
