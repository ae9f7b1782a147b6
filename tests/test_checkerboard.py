"""Checkerboard analysis: exact values, and every pattern checked against what a real framework computes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tconv import TconvError
from tconv import checkerboard as cb
from tconv.cli import main

torch = pytest.importorskip("torch")


def interior_period(y: np.ndarray, period: tuple[int, ...], margin: int) -> np.ndarray:
    """One period of ``y`` starting at the first whole period after ``margin`` (so it starts at phase 0)."""
    starts = [-(-margin // p) * p for p in period]
    return y[tuple(slice(s, s + p) for s, p in zip(starts, period))]


def torch_constant_response(layers, n=24, weights=None):
    """Run torch ConvTranspose/Conv layers with all-ones kernels on an all-ones input."""
    nd = len(layers[0]["kernel_size"]) if isinstance(layers[0]["kernel_size"], tuple) else 1
    x = torch.ones((1, 1) + (n,) * nd, dtype=torch.float64)
    for spec in layers:
        k = spec["kernel_size"] if isinstance(spec["kernel_size"], tuple) else (spec["kernel_size"],) * nd
        w = torch.ones((1, 1) + k, dtype=torch.float64)
        kw = dict(stride=spec.get("stride", 1), padding=spec.get("padding", 0), dilation=spec.get("dilation", 1))
        op = getattr(torch.nn.functional, f"conv_transpose{nd}d" if spec.get("kind", "conv_transpose") == "conv_transpose" else f"conv{nd}d")
        x = op(x, w, **kw)
    return x[0, 0].numpy()


# --------------------------------------------------------------------------
# exact values from the issue
# --------------------------------------------------------------------------


def test_exact_values():
    assert cb.unevenness(3, 2) == 2.0
    assert cb.unevenness((3, 3), 2) == 4.0
    assert cb.unevenness(4, 2) == 1.0
    assert cb.unevenness(2, 2) == 1.0
    assert cb.unevenness(5, 2) == 1.5
    assert cb.unevenness(1, 2) == math.inf
    assert cb.overlap(3, 2).dtype.kind == "i"
    assert cb.overlap((3, 3), (2, 2)).tolist() == [[4, 2], [2, 1]]
    assert cb.overlap((3, 4, 5), (2, 2, 3)).shape == (2, 2, 3)


def test_inf_is_said_in_the_report():
    text = cb.report(1, 2)
    assert "unevenness: inf" in text and "no tap reaches" in text


def test_dilation_sharing_a_factor_with_the_stride():
    # j*d ≡ r (mod s): with d=2, s=2 every tap lands on phase 0
    assert cb.overlap(3, 2, dilation=2).tolist() == [3, 0]
    assert cb.unevenness(3, 2, dilation=2) == math.inf
    # d=3, s=2: taps 0, 3, 6 land on phases 0, 1, 0
    assert cb.overlap(3, 2, dilation=3).tolist() == [2, 1]
    assert "share the factor 2" in cb.report(3, 2, dilation=2)


@settings(max_examples=25, deadline=None)
@given(
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    p=st.integers(0, 3),
)
def test_overlap_equals_torch_interior_1d(k, s, d, p):
    y = torch_constant_response([dict(kernel_size=k, stride=s, dilation=d, padding=p)], n=40)
    expected = interior_period(y, (s,), d * (k - 1) + 1 + p)
    assert cb.overlap(k, s, dilation=d, padding=p).tolist() == expected.astype(int).tolist()


def test_overlap_equals_torch_interior_2d():
    rng = np.random.default_rng(5)
    for _ in range(6):
        k = tuple(int(v) for v in rng.integers(1, 6, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        p = tuple(int(v) for v in rng.integers(0, 3, 2))
        y = torch_constant_response([dict(kernel_size=k, stride=s, dilation=d, padding=p)], n=24)
        margin = max(di * (ki - 1) + 1 + pi for ki, di, pi in zip(k, d, p))
        expected = interior_period(y, s, margin)
        assert cb.overlap(k, s, dilation=d, padding=p).tolist() == expected.astype(int).tolist()


def test_errors():
    with pytest.raises(TconvError, match="stride"):
        cb.overlap(3, 0)
    with pytest.raises(TypeError):
        cb.overlap(3.5, 2)
    with pytest.raises(TconvError, match="image"):
        cb.image_score(np.ones((2, 2, 2, 2)), 2)
    with pytest.raises(TypeError):
        cb.layers_from(42)


# --------------------------------------------------------------------------
# stacks
# --------------------------------------------------------------------------


def test_stack_pattern_equals_torch_for_random_stacks():
    rng = np.random.default_rng(11)
    for _ in range(8):
        layers = []
        for _ in range(int(rng.integers(1, 4))):
            kind = "conv" if rng.random() < 0.25 else "conv_transpose"
            k = int(rng.integers(1, 6))
            s = 1 if kind == "conv" else int(rng.integers(1, 4))
            d = int(rng.integers(1, 3))
            p = int(rng.integers(0, min(3, d * (k - 1) + 1)))
            layers.append(dict(kind=kind, kernel_size=k, stride=s, padding=p, dilation=d))
        report = cb.analyze_stack(layers)
        y = torch_constant_response(layers, n=40)
        period = report.pattern.shape
        margin = len(y) // 3
        expected = interior_period(y, period, margin)
        np.testing.assert_allclose(report.pattern, expected, err_msg=str(layers))


def test_a_later_layer_can_even_out_an_earlier_one():
    r = cb.analyze_stack([dict(kernel_size=3, stride=2), dict(kernel_size=2, stride=1)])
    assert r.layers[0].unevenness == 2.0 and r.unevenness == 1.0
    assert r.artifact_prone == [r.layers[0].layer.name]


def pytorch_dcgan_generator(nz=8, ngf=4, nc=3):
    """The PyTorch DCGAN 64x64 generator (ConvTranspose2d k4: s1 p0, then s2 p1 four times)."""
    nn = torch.nn
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 8),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


def test_pytorch_dcgan_generator_even_geometry_uneven_random_weights():
    torch.manual_seed(0)
    r = cb.analyze_stack(pytorch_dcgan_generator())
    assert [l.layer.name for l in r.layers] == ["0", "3", "6", "9", "12"]
    assert r.geometry_prone == [] and r.unevenness == 1.0
    # k=4, s=2 is even by geometry; the randomly initialised weights are not
    assert r.artifact_prone == ["3", "6", "9", "12"]
    assert "artifact-prone layers: 3, 6, 9, 12" in r.text()


def test_weight_response_equals_torch_constant_input():
    torch.manual_seed(1)
    layer = torch.nn.ConvTranspose2d(3, 2, (4, 3), stride=(2, 3), padding=(1, 2), dilation=(1, 2), bias=False).double()
    r = cb.analyze_stack(torch.nn.Sequential(layer))
    w = r.layers[0].weights
    y = layer(torch.ones(1, 3, 12, 12, dtype=torch.float64)).detach().numpy()[0]
    expected = np.stack([interior_period(y[c], (2, 3), 8) for c in range(2)])
    np.testing.assert_allclose(w.response, expected, rtol=1e-12, atol=1e-12)


def test_keras_mnist_generator_names_the_stride_2_layers():
    keras = pytest.importorskip("keras")
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((100,)),
            layers.Dense(7 * 7 * 256, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False, name="ct1"),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False, name="ct2"),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh", name="ct3"),
        ]
    )
    r = cb.analyze_stack(model)
    assert r.geometry_prone == ["ct2", "ct3"]
    assert r.layers[1].unevenness == 2.25  # 1.5 per axis
    assert r.unevenness == pytest.approx(1.6**2)


def test_keras_same_window_start_matches_keras():
    keras = pytest.importorskip("keras")
    for k, s, op in [(5, 2, None), (3, 2, None), (4, 3, None), (2, 3, None), (5, 2, 1), (3, 2, 0), (4, 3, 2)]:
        layer = keras.layers.Conv1DTranspose(
            1, k, strides=s, padding="same", output_padding=op, use_bias=False, kernel_initializer="ones"
        )
        model = keras.Sequential([keras.Input((20, 1)), layer])
        y = np.asarray(model(np.ones((1, 20, 1), dtype="float32")))[0, :, 0]
        r = cb.analyze_stack(model)
        assert r.pattern.tolist() == interior_period(y, r.pattern.shape, k + s).tolist(), (k, s, op)


def test_torch_padding_larger_than_the_nominal_input_is_read():
    model = torch.nn.Sequential(torch.nn.ConvTranspose2d(1, 1, 3, 1, padding=10), torch.nn.ConvTranspose2d(1, 1, 3, 2, 1))
    r = cb.analyze_stack(model)
    assert [l.layer.start for l in r.layers] == [(10, 10), (1, 1)]
    assert r.geometry_prone == ["1"]


def test_torch_upsample_and_conv_stack_resize_convolution_is_even():
    nn = torch.nn
    model = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(3, 3, 3, padding=1))
    r = cb.analyze_stack(model)
    assert r.unevenness == 1.0 and r.artifact_prone == []
    bilinear = nn.Sequential(nn.Upsample(scale_factor=3, mode="bilinear"), nn.Conv2d(1, 1, 3, padding="same"))
    r = cb.analyze_stack(bilinear)
    assert r.unevenness == pytest.approx(1.0)
    # the propagated pattern of bilinear upsampling with an uneven stride-2 layer after it
    stack = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.ConvTranspose2d(1, 1, 3, 2))
    r = cb.analyze_stack(stack)
    assert r.geometry_prone == ["1"]


def test_torch_bilinear_upsample_taps_match_torch():
    # geometry check of the upsampling layer itself: a periodic input through torch's interpolate
    for f in (2, 3, 4):
        r = cb.analyze_stack([dict(kernel_size=3, stride=2), dict(kind="upsample", scale_factor=f, mode="linear")])
        x = torch.tensor(torch_constant_response([dict(kernel_size=3, stride=2)], n=30))[None, None]
        y = torch.nn.functional.interpolate(x, scale_factor=f, mode="linear")[0, 0].numpy()
        np.testing.assert_allclose(r.pattern, interior_period(y, r.pattern.shape, 20 * f), rtol=1e-12)


def onnx_stack(path, specs, rng):
    """An ONNX graph of ConvTranspose nodes (1 channel) with all-ones or random weights."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    name = "x"
    for index, spec in enumerate(specs):
        w = spec.pop("weight")
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"w{index}"))
        nodes.append(helper.make_node("ConvTranspose", [name, f"w{index}"], [f"y{index}"], name=f"ct{index}", **spec))
        name = f"y{index}"
    graph = helper.make_graph(
        nodes,
        "stack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 16, 16])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what the installed onnxruntime reads
    onnx.save(model, path)


def test_onnx_file_pattern_equals_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = str(tmp_path / "stack.onnx")
    ones = lambda k: np.ones((1, 1, k, k))  # noqa: E731
    specs = [
        dict(weight=ones(3), strides=[2, 2], pads=[1, 1, 0, 0], kernel_shape=[3, 3]),
        dict(weight=ones(5), strides=[2, 2], auto_pad="SAME_UPPER"),
        dict(weight=ones(4), strides=[3, 3], auto_pad="SAME_LOWER", dilations=[1, 1]),
    ]
    onnx_stack(path, [dict(s) for s in specs], np.random.default_rng(0))
    r = cb.analyze_stack(path)
    assert [l.layer.name for l in r.layers] == ["ct0", "ct1", "ct2"]
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": np.ones((1, 1, 16, 16), np.float32)})[0][0, 0]
    expected = interior_period(y.astype(np.float64), r.pattern.shape, 40)
    np.testing.assert_allclose(r.pattern, expected, rtol=1e-6)
    assert r.geometry_prone == ["ct0", "ct1", "ct2"]
    assert not r.layers[0].weights.even  # all-ones weights just count the (uneven) overlaps
    assert r.layers[0].weights.response.tolist() == [[[1.0, 2.0], [2.0, 4.0]]]


@pytest.mark.parametrize("control", ["If", "Loop"])
def test_onnx_subgraph_bodies_are_noted_not_stacked(tmp_path, control):
    onnx = pytest.importorskip("onnx")
    from onnx_support import subgraph_model

    path = str(tmp_path / "control.onnx")
    onnx.save(subgraph_model(control), path)
    r = cb.analyze_stack(path)
    assert [l.layer.name for l in r.layers] == ["top"]
    assert r.layers[0].weights is not None
    assert len(r.skipped) == (2 if control == "If" else 1)
    assert all(s.startswith(f"inner: inside {control} 'control'") for s in r.skipped), r.skipped


def test_onnx_weights_stored_as_external_data(tmp_path):
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "inline.onnx"
    onnx_stack(str(path), [dict(weight=np.arange(9.0).reshape(1, 1, 3, 3), strides=[2, 2])], None)
    model = onnx.load(str(path))
    external = str(tmp_path / "external.onnx")
    onnx.save(model, external, save_as_external_data=True, location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    inline, split = cb.analyze_stack(str(path)), cb.analyze_stack(external)
    np.testing.assert_array_equal(split.layers[0].layer.weight, inline.layers[0].layer.weight)
    assert split.layers[0].layer.weight[0, 0].tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_cli_model_file(tmp_path):
    path = str(tmp_path / "m.onnx")
    onnx_stack(path, [dict(weight=np.ones((1, 1, 3, 3)), strides=[2, 2])], None)
    out = tmp_path / "report.txt"
    assert main(["checkerboard", "--model", path, "-o", str(out)]) == 0
    text = out.read_text()
    assert "UNEVEN (4)" in text and "artifact-prone layers: ct0" in text


def test_tconv_nn_models():
    nn = pytest.importorskip("tconv.nn")
    model = nn.Sequential(
        nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1, rng=0),
        nn.ReLU(),
        nn.ConvTranspose2d(2, 1, 3, stride=2, padding="same", rng=1),
    )
    r = cb.analyze_stack(model)
    assert [l.layer.name for l in r.layers] == ["0", "2"]
    assert [l.unevenness for l in r.layers] == [1.0, 4.0]
    np.testing.assert_allclose(r.layers[0].weights.kernel_sums, cb.phase_sums(model._children["0"].weight.data, 2, padding=1))
    # the pattern follows the layers' own windows: run the model itself on ones with all-ones weights
    for layer in (model._children["0"], model._children["2"]):
        layer.weight.data = np.ones_like(layer.weight.data)
        layer.bias.data = np.zeros_like(layer.bias.data)
    y = model(np.ones((1, 2, 12, 12)))[0, 0]
    # two channels summed in each of the two layers: 4x the one-channel count
    np.testing.assert_allclose(4 * r.pattern, interior_period(y, r.pattern.shape, 12))
    resize = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(1, 1, 3, padding=1))
    assert cb.analyze_stack(resize).unevenness == 1.0


def test_keras_generator_through_tconv_nn_from_keras():
    keras = pytest.importorskip("keras")
    nn = pytest.importorskip("tconv.nn")
    model = keras.Sequential(
        [
            keras.Input((7, 7, 8)),
            keras.layers.Conv2DTranspose(4, 5, strides=1, padding="same", use_bias=False),
            keras.layers.Conv2DTranspose(4, 5, strides=2, padding="same", use_bias=False),
            keras.layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False),
        ]
    )
    direct, converted = cb.analyze_stack(model), cb.analyze_stack(nn.from_keras(model))
    np.testing.assert_array_equal(direct.pattern, converted.pattern)
    assert len(converted.geometry_prone) == 2


# --------------------------------------------------------------------------
# weights and initialisers
# --------------------------------------------------------------------------


def test_bilinear_and_icnr_inits_are_even_random_is_not():
    init = pytest.importorskip("tconv.init")
    for factor in (2, 3, 4):
        args = init.bilinear_arguments(factor)
        w = init.bilinear(2, factor, dtype=np.float64)
        assert cb.analyze_weight(w, args["stride"], padding=args["padding"]).even
    for k, s in [(4, 2), (3, 2), (6, 3), (5, 2)]:
        w = init.icnr_transpose(3, 2, k, s, rng=0, dtype=np.float64)
        report = cb.analyze_weight(w, s)
        assert report.even and report.response_spread < 1e-12
        rand = init.kaiming_uniform((3, 2, k, k), rng=0, dtype=np.float64)
        assert not cb.analyze_weight(rand, s).even


def test_icnr_with_per_axis_strides_matches_the_property():
    # the remedy's ICNR kernel is tconv.init's (checkerboard kept a local copy of the construction before)
    init = pytest.importorskip("tconv.init")
    for seed in range(3):
        w = init.icnr_transpose(1, 1, (3, 5), (2, 3), rng=seed, dtype=np.float64)  # a 2x3 sub-kernel
        assert w.shape == (1, 1, 3, 5)
        assert cb.analyze_weight(w, (2, 3)).even


def test_phase_sums_equal_torch_constant_response_per_channel_pair():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(2, 3, 5))
    sums = cb.phase_sums(w, 3, dilation=2, padding=1)
    for c in range(2):
        x = torch.zeros(1, 2, 20, dtype=torch.float64)
        x[0, c] = 1
        y = torch.nn.functional.conv_transpose1d(x, torch.tensor(w), stride=3, dilation=2, padding=1)[0].numpy()
        for o in range(3):
            np.testing.assert_allclose(sums[c, o], interior_period(y[o], (3,), 12), rtol=1e-12)


def test_grouped_weights():
    w = np.ones((4, 1, 3))
    r = cb.analyze_weight(w, 2, groups=2)
    assert r.response.shape == (2, 2) and r.response.tolist() == [[4.0, 2.0], [4.0, 2.0]]
    with pytest.raises(TconvError, match="groups"):
        cb.analyze_weight(w, 2, groups=3)


# --------------------------------------------------------------------------
# image score
# --------------------------------------------------------------------------


def test_image_score_known_images():
    i, j = np.indices((16, 16))
    assert cb.image_score((i + j) % 2, 2) == pytest.approx(1.0)
    assert cb.image_score(i % 2, 2) == pytest.approx(1.0)  # (1/2, 0) counts
    assert cb.image_score(np.ones((9, 9)), 2) == 0.0
    # a slow ramp has no energy at 1/2
    assert cb.image_score(np.tile(np.sin(2 * np.pi * np.arange(16) / 16), (16, 1)), 2) == pytest.approx(0.0, abs=1e-12)
    # stride 3 sees 1/3 and 2/3; not stride 2's frequency
    i3 = np.indices((18, 18))[0]
    assert cb.image_score(i3 % 3 == 0, 3) == pytest.approx(1.0)
    assert cb.image_score(i3 % 3 == 0, 2) == pytest.approx(0.0, abs=1e-12)


def test_image_score_crop_colour_and_noise():
    rng = np.random.default_rng(0)
    gray = rng.random((33, 31))
    colour = np.stack([gray, gray * 2, gray * 3], axis=-1)
    assert cb.image_score(colour, 2) == pytest.approx(cb.image_score(gray * 2, 2))
    assert cb.image_score(gray, 2) == pytest.approx(cb.image_score(gray[:32, :30], 2))
    assert cb.image_score(np.moveaxis(colour, -1, 0), 2, channel_axis=0) == pytest.approx(cb.image_score(gray, 2))
    noise = rng.normal(size=(128, 128))
    expected = 1 - (1 - 1 / 128) ** 2  # share of bins on the 1/2 row or column
    assert abs(cb.image_score(noise, 2) - expected) < 0.01


def test_transposed_conv_generator_scores_above_resize_convolution():
    from tconv import conv, conv_transpose

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 4, 8, 8))
    y_t = x
    y_r = x
    for _ in range(2):
        w = rng.normal(size=(y_t.shape[1], 4, 3, 3))
        y_t = np.maximum(conv_transpose(y_t, w, stride=2, padding=1, output_padding=1), 0)
        up = y_r.repeat(2, axis=2).repeat(2, axis=3)
        y_r = np.maximum(conv(up, np.swapaxes(w, 0, 1), padding=1), 0)
    assert cb.image_score(y_t[0].mean(0), 4) > 2 * cb.image_score(y_r[0].mean(0), 4)


# --------------------------------------------------------------------------
# remedies and the command line
# --------------------------------------------------------------------------


def test_remedies_before_after():
    rem = {r.name: r for r in cb.remedies(3, 2)}
    assert set(rem) == {"kernel divisible by stride", "resize-convolution", "ICNR initialisation"}
    for r in rem.values():
        assert r.before > 0.9 and r.after < 1e-9
    assert "kernel_size=4" in rem["kernel divisible by stride"].suggestion
    assert rem["kernel divisible by stride"].after_pattern.tolist() == [2, 2]
    rem2 = cb.remedies((5, 5), 2, padding=2)
    assert all(r.after < 1e-9 < r.before for r in rem2)


def test_cli_geometry(capsys):
    assert main(["checkerboard", "-k", "3", "-s", "2"]) == 0
    out = capsys.readouterr().out
    assert "unevenness: 2" in out and "resize-convolution" in out
    assert main(["checkerboard", "-k", "3,3", "-s", "2"]) == 0
    assert "unevenness: 4" in capsys.readouterr().out
    assert main(["checkerboard", "-k", "1", "-s", "2"]) == 0
    assert "unevenness: inf" in capsys.readouterr().out
    assert main(["checkerboard", "-s", "2"]) == 2
    assert "-k/--kernel" in capsys.readouterr().err
    assert main(["checkerboard", "--model", "model.pt"]) == 2
    assert ".onnx" in capsys.readouterr().err


def test_onnx_negative_window_start_follows_the_spec_reference(tmp_path):
    from onnx.reference import ReferenceEvaluator

    path = str(tmp_path / "neg.onnx")
    # k=2 < s=3 with SAME_UPPER: total padding 2 - 3 = -1, the window starts at floor(-1/2) = -1
    onnx_stack(path, [dict(weight=np.ones((1, 1, 2, 2)), strides=[3, 3], auto_pad="SAME_UPPER")], None)
    r = cb.analyze_stack(path)
    assert r.layers[0].layer.start == (-1, -1)
    # per axis: output phase o gets tap j when j ≡ o - 1 (mod 3): none, tap 0, tap 1
    assert r.layers[0].weights.response.tolist() == [[[0, 0, 0], [0, 1, 1], [0, 1, 1]]]
    y = ReferenceEvaluator(path).run(None, {"x": np.ones((1, 1, 16, 16), np.float32)})[0][0, 0]
    np.testing.assert_allclose(r.pattern, interior_period(y.astype(np.float64), (3, 3), 9))
    assert r.unevenness == math.inf
