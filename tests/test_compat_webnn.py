"""tconv.compat.webnn against the W3C web-platform-tests conformance cases and the specification's validation steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tconv
from support import assert_close
from tconv import TconvError
from tconv.compat import layouts
from tconv.compat import webnn

DATA = json.loads((Path(__file__).parent / "data" / "webnn_conv_transpose2d.json").read_text())
F32 = np.float32


def _array(spec: dict) -> np.ndarray:
    data = spec["data"]
    values = DATA["arrays"][data] if isinstance(data, str) else data
    return np.asarray(values, F32).reshape(spec["shape"])


def _run(case: dict) -> tuple[np.ndarray, np.ndarray]:
    options = dict(case["options"])
    if "bias" in case:
        options["bias"] = _array(case["bias"])
    return webnn.conv_transpose2d(_array(case["input"]), _array(case["filter"]), options), _array(case["expected"])


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_wpt_conformance_case(case):
    y, expected = _run(case)
    assert y.dtype == F32 and y.shape == expected.shape
    # the WPT tolerance for convTranspose2d float32 is a few ULP per accumulated product; 1e-6 relative is tighter
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)


def test_every_float32_case_is_carried_over():
    names = [c["name"] for c in DATA["cases"]]
    assert len(names) == len(set(names)) == 23
    assert all("float16" not in n for n in names)
    covered = set().union(*(c["options"] for c in DATA["cases"]))
    assert covered == {"padding", "strides", "dilations", "outputPadding", "outputSizes", "groups", "inputLayout",
                       "filterLayout"}  # fmt: skip


def test_float16_keeps_its_dtype_and_matches_float32():
    case = next(c for c in DATA["cases"] if c["options"] == {"strides": [3, 2]})
    x, w = _array(case["input"]), _array(case["filter"])
    y16 = webnn.conv_transpose2d(x.astype(np.float16), w.astype(np.float16), case["options"])
    assert y16.dtype == np.float16
    assert_close(y16, _array(case["expected"]), np.float16)


def test_output_sizes_keeps_the_begin_padding_unlike_onnx_output_shape():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 3, 3)).astype(F32)
    w = rng.standard_normal((1, 1, 3, 3)).astype(F32)
    options = {"strides": [2, 2], "padding": [1, 0, 1, 0], "outputSizes": [7, 7]}
    y = webnn.conv_transpose2d(x, w, options)
    full = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), stride=2)  # 7x7 scatter result
    assert_close(y[0, 0, :6, :6], full[0, 0, 1:, 1:], F32)  # starts at the begin padding
    assert not y[0, 0, 6].any() and not y[0, 0, :, 6].any()  # the extra element is at the end
    onnx_y = tconv.compat.onnx.conv_transpose(x, w, strides=[2, 2], output_shape=[7, 7])
    assert not np.allclose(onnx_y, y)  # ONNX re-splits the total padding instead


def test_geometry_is_the_window():
    g = webnn.geometry([3, 3], [3, 3], {"strides": [3, 2], "outputPadding": [1, 1], "padding": [1, 0, 0, 2]})
    assert g.start == (1, 0) and g.out_size == (9 - 1 + 1, 7 - 2 + 1)
    assert webnn.geometry([2, 2], [2, 2], {"groups": 2}).groups == 2


def test_filter_layouts_round_trip():
    w = np.arange(2 * 3 * 4 * 5, dtype=F32).reshape(2, 3, 4, 5)
    for layout in webnn.FILTER_LAYOUTS:
        back = webnn.filter_to_canonical(webnn.filter_from_canonical(w, layout), layout)
        assert np.array_equal(back, w), layout
    assert layouts.to_ohwi(w).shape == (3, 4, 5, 2) and np.array_equal(layouts.from_ohwi(layouts.to_ohwi(w)), w)


# ---------------------------------------------------------------- the specification's refusals

X = np.ones((1, 1, 5, 5), F32)
W = np.ones((1, 1, 3, 3), F32)


@pytest.mark.parametrize(
    "x, w, options, error, match",
    [
        (np.ones((1, 5, 5), F32), W, {}, TconvError, "input must have 4 dims"),
        (X, np.ones((1, 3, 3), F32), {}, TconvError, "filter must have 4 dims"),
        (X.astype(np.float64), W, {}, TypeError, "float32 or float16"),
        (X, W.astype(np.float16), {}, TypeError, "the input's data type"),
        (X.tolist(), W, {}, TypeError, "NumPy array"),
        (X, W, {"padding": [1, 1]}, TconvError, "padding must be a sequence of 4"),
        (X, W, {"padding": 1}, TypeError, "padding must be a sequence"),
        (X, W, {"padding": [0, 0, -1, 0]}, TconvError, "padding must be in"),
        (X, W, {"strides": [1, 1, 1]}, TconvError, "strides must be a sequence of 2"),
        (X, W, {"strides": [0, 1]}, TconvError, "strides must be in"),
        (X, W, {"dilations": [1, 0]}, TconvError, "dilations must be in"),
        (X, W, {"dilations": [1]}, TconvError, "dilations must be a sequence of 2"),
        (X, W, {"outputPadding": [1]}, TconvError, "outputPadding must be a sequence of 2"),
        (X, W, {"outputPadding": [1, 0]}, TconvError, "outputPadding must be < options.strides"),
        (X, W, {"strides": [2, 2], "dilations": [3, 3], "outputPadding": [2, 0]}, TconvError, "< options.strides"),
        (X, W, {"outputSizes": [7]}, TconvError, "outputSizes must be a sequence of 2"),
        (X, W, {"strides": [2, 2], "outputSizes": [10, 11]}, TconvError, r"outputSizes\[0\] \(height\) must be in \[11, 13\)"),
        (X, W, {"strides": [2, 2], "outputSizes": [11, 13]}, TconvError, r"outputSizes\[1\] \(width\) must be in \[11, 13\)"),
        (X, W, {"groups": 0}, TconvError, "groups must be >= 1"),
        (X, np.ones((2, 1, 3, 3), F32), {}, TconvError, "filter's input channels"),
        (np.ones((1, 3, 5, 5), F32), np.ones((3, 1, 3, 3), F32), {"groups": 2}, TconvError, "groups must divide"),
        (X, W, {"bias": np.ones(2, F32)}, TconvError, r"bias must have shape \[outputChannels\] = \[1\]"),
        (X, W, {"bias": np.ones(1, np.float16)}, TypeError, "the input's data type"),
        (X, W, {"padding": [4, 4, 0, 0]}, TconvError, "output height would be -1"),
        (X, W, {"inputLayout": "NCHW"}, TconvError, "inputLayout must be one of 'nchw', 'nhwc'"),
        (X, W, {"filterLayout": "oihw"}, TconvError, "filterLayout must be one of 'iohw', 'hwoi', 'ohwi'"),
        (X, W, {"autoPad": "same-upper"}, TconvError, "unknown members"),
        (X, W, {"strides": [1.5, 1]}, TypeError, "strides must be"),
        (X, W, {"strides": [2**32, 1]}, TconvError, "strides must be in"),
        (np.ones((0, 1, 5, 5), F32), W, {}, TconvError, "batches must be >= 1"),
        (X, W, [("strides", [1, 1])], TypeError, "options must be a dict"),
    ],
)
def test_validation_steps_refuse(x, w, options, error, match):
    with pytest.raises(error, match=match):
        webnn.conv_transpose2d(x, w, options)


def test_output_sizes_ignores_output_padding_and_its_check():
    # the steps check outputPadding < strides only when outputSizes is absent
    y = webnn.conv_transpose2d(X, W, {"strides": [2, 2], "outputPadding": [5, 5], "outputSizes": [12, 11]})
    assert y.shape == (1, 1, 12, 11)


def test_inputs_are_not_modified():
    x, w, b = X.copy(), W.copy(), np.ones(1, F32)
    webnn.conv_transpose2d(x, w, {"bias": b, "strides": [2, 2]})
    assert np.array_equal(x, X) and np.array_equal(w, W) and np.array_equal(b, np.ones(1, F32))


# ---------------------------------------------------------------- the converter, to and from every framework

OTHERS = ("torch", "tensorflow", "keras", "jax", "onnx")


def _webnn_source(rng):
    """A random 2-D WebNN description, its input size, filter (in its filterLayout) and a run on compat.webnn."""
    while True:
        k = [int(v) for v in rng.integers(1, 4, 2)]
        s = [int(v) for v in rng.integers(1, 4, 2)]
        d = [int(v) for v in rng.integers(1, 3, 2)]
        n = [int(v) for v in rng.integers(1, 5, 2)]
        g = int(rng.choice([1, 2]))
        c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        options = dict(padding=[int(v) for v in rng.integers(0, 3, 4)], strides=s, dilations=d, groups=g,
                       filterLayout=str(rng.choice(webnn.FILTER_LAYOUTS)))  # fmt: skip
        if rng.random() < 0.5:
            options["outputPadding"] = [int(rng.integers(0, si)) for si in s]
        else:
            full = [(ni - 1) * si + di * (ki - 1) + 1 for ni, ki, si, di in zip(n, k, s, d)]
            calc = [f - options["padding"][2 * a] - options["padding"][2 * a + 1] for a, f in enumerate(full)]
            options["outputSizes"] = [c + int(rng.integers(0, si)) for c, si in zip(calc, s)]
        try:
            webnn.geometry(n, k, options)
        except TconvError:
            continue
        w = webnn.filter_from_canonical(rng.standard_normal([c_in, c_out // g] + k).astype(F32), options["filterLayout"])
        desc = dict(framework="webnn", filterShape=list(w.shape), bias=bool(rng.random() < 0.6), **options)

        def run(x, b, options=options, w=w):
            return webnn.conv_transpose2d(x, w, dict(options, bias=b))

        return desc, n, w, c_out, run


@pytest.mark.parametrize("seed", range(2))
def test_webnn_to_every_framework_and_back(seed):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    pytest.importorskip("onnxruntime")
    import converter_support  # the real frameworks' runners and random sources

    rng = np.random.default_rng(100 + seed)
    for _ in range(2):  # WebNN as the source: every target runs in its real framework
        desc, n, w, c_out, run = _webnn_source(rng)
        c_in = webnn.filter_to_canonical(w, desc["filterLayout"]).shape[0]
        x = rng.standard_normal((2, c_in, *n)).astype(F32)
        b = rng.standard_normal(c_out).astype(F32) if desc["bias"] else None
        ref = run(x, b)
        for target in OTHERS:
            conv = tconv.convert(desc, target, n)
            wt, bt = conv.convert_weights(w, b)
            assert_close(converter_support.run_target(conv, x, wt, bt), ref, F32)
    # every framework as the source, run for real; WebNN the target (1-D as height 1)
    converter_support.check_pairs([(source, ("webnn",)) for source in OTHERS], 200 + seed, 2)


def test_webnn_runs_a_1d_layer_as_2d_of_height_1_and_refuses_3d():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    layer = {"framework": "torch", "layer": "ConvTranspose1d", "in_channels": 2, "out_channels": 4, "kernel_size": 3,
             "stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 2}  # fmt: skip
    conv = tconv.convert(layer, "webnn", 5)
    assert "builder.reshape(x, [N, C_in, 1, n])" in conv.code and conv.residual is None
    x = rng.standard_normal((2, 2, 5)).astype(F32)
    w, b = rng.standard_normal((2, 2, 3)).astype(F32), rng.standard_normal(4).astype(F32)
    wt, bt = conv.convert_weights(w, b)
    assert wt.shape == (2, 2, 1, 3)
    y = webnn.conv_transpose2d(x[:, :, None], wt, dict(conv.arguments, bias=bt))[:, :, 0]
    args = {k: v for k, v in layer.items() if k not in ("framework", "layer")}
    ref = torch.nn.functional.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                               args["stride"], args["padding"], args["output_padding"], args["groups"],
                                               args["dilation"]).numpy()  # fmt: skip
    assert_close(conv.apply_residual(y), ref, F32)
    with pytest.raises(TconvError, match="WebNN has convTranspose2d only"):
        tconv.convert({**layer, "layer": "ConvTranspose3d", "groups": 1}, "webnn", 5)


def test_webnn_writes_its_residual():
    # ONNX SAME_UPPER with a kernel shorter than the stride starts before the full result: WebNN pads never do
    conv = tconv.convert({"framework": "onnx", "kernel_shape": [1, 1], "strides": [3, 1], "auto_pad": "SAME_UPPER",
                          "in_channels": 1, "out_channels": 1}, "webnn", (3, 3))  # fmt: skip
    assert conv.residual == ((-1, 0), (0, 0)) and conv.arguments["outputPadding"] == [1, 0]  # the end it reaches
    assert "builder.pad(y, [0, 0, 1, 0], [0, 0, 0, 0])" in conv.code
    x = np.arange(9, dtype=F32).reshape(1, 1, 3, 3)
    y = conv.apply_residual(webnn.conv_transpose2d(x, np.ones((1, 1, 1, 1), F32), conv.arguments))
    assert_close(y, tconv.compat.onnx.conv_transpose(x, np.ones((1, 1, 1, 1), F32), strides=[3, 1], auto_pad="SAME_UPPER"), F32)
    with pytest.raises(TconvError, match="needs filterShape"):
        tconv.convert({"framework": "webnn", "strides": [2, 2]}, "torch", 4)


def test_search_finds_the_best_window_an_exhaustive_search_finds():
    from tconv.compat import porting
    from tconv.compat.webnn import convert as port
    from tconv.geometry import Axis

    rng = np.random.default_rng(9)
    for _ in range(200):
        n, k, s, d = (int(v) for v in rng.integers(1, 5, 4))
        full = (n - 1) * s + d * (k - 1) + 1
        start = int(rng.integers(-3, full))
        a = Axis(n, k, s, d, start, int(rng.integers(max(1, 1 - start), full - start + 5)))

        def axis_of(b, e, op):
            options = {"padding": [b, e, 0, 0], "strides": [s, 1], "dilations": [d, 1], "outputPadding": [op, 0]}
            return webnn.geometry([n, 1], [k, 1], options).axes[0]

        every = [((b, e, op), lambda b=b, e=e, op=op: axis_of(b, e, op))
                 for b in range(full + 2) for e in range(full + 2) for op in range(s)]  # fmt: skip
        found, best = port.search(a), porting.best(a, every)
        assert porting.cost(found[1]) == porting.cost(best[1]), (a, found, best)
