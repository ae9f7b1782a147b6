"""tconv.convert: every source to every target, run in both real frameworks on random weights."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tconv  # noqa: E402
from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.cli import main  # noqa: E402
from tconv.compat import onnx as compat_onnx  # noqa: E402
from tconv.compat import tensorflow as compat_tf  # noqa: E402

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "onnx")
F32 = np.float32


def last(x):
    return np.moveaxis(np.asarray(x), 1, -1)


def first(x):
    return np.moveaxis(np.asarray(x), -1, 1)


def dilate(filters, d):
    """A dilation-d TF kernel as a dilation-1 one (zeros between taps): this CPU's TF refuses d > 1."""
    nd = filters.ndim - 2
    out = np.zeros(tuple(di * (ki - 1) + 1 for ki, di in zip(filters.shape[:nd], d)) + filters.shape[nd:], filters.dtype)
    out[tuple(slice(None, None, di) for di in d)] = filters
    return out


def per_axis(value, nd):
    return list(value) if isinstance(value, (list, tuple)) else [value] * nd


# ---------------------------------------------------------------- real runs


def run_torch(args, x, w, b):
    nd = x.ndim - 2
    layer = getattr(torch.nn, f"ConvTranspose{nd}d")(**args)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        if layer.bias is not None:
            layer.bias.copy_(torch.from_numpy(b))
        return layer(torch.from_numpy(x)).numpy()


def run_tensorflow(args, x, w, b, nd):
    """``x`` channels-last; ``args`` as tf.nn.conv{nd}d_transpose takes them."""
    fn = getattr(tf.nn, f"conv{nd}d_transpose")
    kw = dict(args)
    d = per_axis(kw.pop("dilations", None) or 1, nd)
    y = fn(x, dilate(w, d), **kw).numpy()
    return y if b is None else y + b


def run_keras(args, x, w, b):
    nd = x.ndim - 2
    kw = dict(args)
    if max(per_axis(kw["strides"], nd)) > 1 and max(per_axis(kw.get("dilation_rate", 1), nd)) > 1:
        ops_kw = {k: v for k, v in kw.items() if k not in ("filters", "kernel_size", "use_bias")}
        y = np.asarray(keras.ops.conv_transpose(x, w, **ops_kw))
        return y if b is None else y + b
    layer = getattr(keras.layers, f"Conv{nd}DTranspose")(**kw)
    layer.build(x.shape)
    layer.set_weights([w, b] if kw.get("use_bias", True) else [w])
    return np.asarray(layer(x))


def run_jax(args, x, w, b):
    kw = dict(args)
    if not isinstance(kw["padding"], str):
        kw["padding"] = [tuple(p) for p in kw["padding"]]
    if kw.get("dimension_numbers") is not None:
        kw["dimension_numbers"] = tuple(kw["dimension_numbers"])
    y = np.asarray(jax.lax.conv_transpose(x, w, **kw))
    return y if b is None else y + b  # the converter's JAX code is channels-last


def run_onnx(attrs, x, w, b):
    inputs = ["X", "W"] + (["B"] if b is not None else [])
    node = onnx.helper.make_node("ConvTranspose", inputs, ["Y"], **{k: v for k, v in attrs.items() if v is not None})
    tensors = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in inputs]
    graph = onnx.helper.make_graph([node], "g", tensors, [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"X": x, "W": w} | ({"B": b} if b is not None else {})
    return session.run(None, feeds)[0]


def run_target(conv, x, w, b):
    """The converted layer in the target framework, residual applied; ``x`` and the result (N, C, *n)."""
    args = conv.arguments
    inside = None if conv.bias_after else b  # else the bias is added after the residual
    if conv.target == "torch":
        return conv.apply_residual(run_torch(args, x, w, inside), b)
    if conv.target == "onnx":
        return conv.apply_residual(run_onnx(args, x, w, inside), b)
    nd = x.ndim - 2
    if conv.target == "tensorflow":
        args = dict(args, output_shape=[x.shape[0]] + args["output_shape"][1:])
        y = run_tensorflow(args, last(x), w, inside, nd)
    elif conv.target == "keras":
        y = run_keras(args, last(x), w, inside)
    else:
        y = run_jax(args, last(x), w, inside)
    return first(conv.apply_residual(y, b))


# ---------------------------------------------------------------- random sources


def rand_geometry(rng, nd):
    k = [int(v) for v in rng.integers(1, 5, nd)]
    s = [int(v) for v in rng.integers(1, 4, nd)]
    d = [int(v) for v in rng.integers(1, 3, nd)]
    n = [int(v) for v in rng.integers(1, 5, nd)]
    return n, k, s, d


def source_torch(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    g = int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    op = [int(rng.integers(0, max(si, di))) for si, di in zip(s, d)]
    p = [int(rng.integers(0, 3)) for _ in range(nd)]
    desc = dict(framework="torch", layer=f"ConvTranspose{nd}d", in_channels=c_in, out_channels=c_out, kernel_size=k,
                stride=s, padding=p, output_padding=op, groups=g, bias=bool(rng.random() < 0.7), dilation=d)  # fmt: skip
    w = rng.standard_normal([c_in, c_out // g] + k).astype(F32)

    def run(x, b):
        args = {key: tuple(v) if isinstance(v, list) else v for key, v in desc.items() if key not in ("framework", "layer")}
        return run_torch(args, x, w, b)

    return desc, n, w, c_out, run


def source_keras(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    if max(s) > 1:
        d = [1] * nd  # keras.layers refuses strides > 1 with dilation_rate > 1
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    op = None if rng.random() < 0.5 else [int(rng.integers(0, si)) for si in s]
    desc = dict(framework="keras", layer=f"Conv{nd}DTranspose", filters=c_out, kernel_size=k, strides=s,
                padding=str(rng.choice(["same", "valid"])), output_padding=op, dilation_rate=d,
                use_bias=bool(rng.random() < 0.7), in_channels=c_in)  # fmt: skip
    w = rng.standard_normal(k + [c_out, c_in]).astype(F32)

    def run(x, b):
        args = {key: v for key, v in desc.items() if key not in ("framework", "layer", "in_channels")}
        return first(run_keras(args, last(x), w, b))

    return desc, n, w, c_out, run


def source_tensorflow(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    padding = str(rng.choice(["SAME", "VALID"] + (["EXPLICIT"] if nd == 2 else [])))
    if padding == "EXPLICIT":
        padding = [[0, 0]] + [[int(rng.integers(0, ki)), int(rng.integers(0, ki))] for ki in k] + [[0, 0]]
    try:
        ranges = compat_tf.output_shape_range(n, k, s, padding, None, d)
    except TconvError:
        return None
    out = [int(rng.integers(lo, hi + 1)) for lo, hi in ranges]
    desc = dict(framework="tensorflow", op=f"conv{nd}d_transpose", filters_shape=k + [c_out, c_in],
                output_shape=out, strides=s, padding=padding, dilations=d)  # fmt: skip
    w = rng.standard_normal(k + [c_out, c_in]).astype(F32)

    def run(x, b):
        args = dict(output_shape=[x.shape[0]] + out + [c_out], strides=s, padding=padding, dilations=d)
        return first(run_tensorflow(args, last(x), w, None, nd))

    return desc, n, w, c_out, run


def source_jax(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    kind = rng.random()
    consistent = False
    if kind < 0.3:
        padding = str(rng.choice(["SAME", "VALID"]))
    else:
        consistent = bool(rng.random() < 0.5)
        padding = [[int(v) for v in rng.integers(-1, di * (ki - 1) + 2, 2)] for ki, di in zip(k, d)]
    channels_first = rng.random() < 0.5
    spatial = "HWD"[:nd]
    dims = ("NC" + spatial, "OI" + spatial, "NC" + spatial) if channels_first else None
    transpose = bool(rng.random() < 0.5)
    desc = dict(framework="jax", op="conv_transpose", kernel_size=k, strides=s, padding=padding, rhs_dilation=d,
                dimension_numbers=dims, transpose_kernel=transpose, use_consistent_padding=consistent,
                in_channels=c_in, out_channels=c_out)  # fmt: skip
    # rhs: channels (O, I) first for the OI... spec, else spatial-first (..., I, O)
    i_ch, o_ch = (c_out, c_in) if transpose else (c_in, c_out)
    shape = [o_ch, i_ch] + k if channels_first else k + [i_ch, o_ch]
    w = rng.standard_normal(shape).astype(F32)

    def run(x, b):
        kw = dict(strides=s, padding=padding if isinstance(padding, str) else [tuple(p) for p in padding], rhs_dilation=d,
                  dimension_numbers=dims, transpose_kernel=transpose, use_consistent_padding=consistent)  # fmt: skip
        y = np.asarray(jax.lax.conv_transpose(x if channels_first else last(x), w, **kw))
        return y if channels_first else first(y)

    return desc, n, w, c_out, run


def source_onnx(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    g = int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    attrs = dict(kernel_shape=k, strides=s, dilations=d, group=g)
    if rng.random() < 0.6:
        attrs["pads"] = [int(v) for v in rng.integers(0, 3, 2 * nd)]
        attrs["output_padding"] = [int(rng.integers(0, si)) for si in s]
    else:
        attrs["auto_pad"] = str(rng.choice(["SAME_UPPER", "SAME_LOWER"]))
    try:  # only nodes where the spec and ONNX Runtime agree: ORT is the oracle here
        spec = compat_onnx.geometry(n, k, **{key: v for key, v in attrs.items() if key != "kernel_shape"})
        if compat_onnx.geometry(n, k, behavior="onnxruntime", **{key: v for key, v in attrs.items() if key != "kernel_shape"}) != spec:
            return None
    except TconvError:
        return None
    desc = dict(framework="onnx", op_type="ConvTranspose", in_channels=c_in, out_channels=c_out, **attrs)
    w = rng.standard_normal([c_in, c_out // g] + k).astype(F32)
    return desc, n, w, c_out, lambda x, b: run_onnx(attrs, x, w, None)


SOURCES = {"torch": source_torch, "keras": source_keras, "tensorflow": source_tensorflow, "jax": source_jax, "onnx": source_onnx}


def _valid_source(rng, framework, nd):
    while True:
        case = SOURCES[framework](rng, nd)
        if case is None:
            continue
        desc, n, w, c_out, run = case
        try:
            tconv.convert(desc, "torch" if framework != "torch" else "onnx", n)
        except TconvError:
            continue  # e.g. an empty output
        return case


def check_every_target(source, seed, cases):
    rng = np.random.default_rng(seed)
    for case in range(cases):
        nd = 1 + case % 2
        desc, n, w, c_out, run_source = _valid_source(rng, source, nd)
        c_in = desc.get("in_channels") or desc.get("filters_shape", [0])[-1]
        x = rng.standard_normal((2, c_in) + tuple(n)).astype(F32)
        with_bias = desc.get("bias", desc.get("use_bias", False))
        b = rng.standard_normal(c_out).astype(F32) if with_bias else None
        ref = run_source(x, b)
        for target in FRAMEWORKS:
            conv = tconv.convert(desc, target, n)
            assert conv.geometry.out_size == ref.shape[2:], (desc, target)
            wt, bt = conv.convert_weights(w, b)
            y = run_target(conv, x, wt, bt)
            assert_close(y, ref, np.float32)


@pytest.mark.parametrize("source", FRAMEWORKS)
def test_every_source_to_every_target_runs_identically(source):
    check_every_target(source, sum(map(ord, source)), 4)


@pytest.mark.slow
@pytest.mark.parametrize("source", FRAMEWORKS)
def test_every_source_to_every_target_stress(source):
    check_every_target(source, 1000 + sum(map(ord, source)), 40)


def test_zeros_stand_in_only_outside_the_full_result():
    # PyTorch's k=3, s=2, p=1, output_padding=1 window has no Keras layer; Keras "same" with
    # output_padding=0 starts right but ends one computed element early: never padded with a zero
    torch_layer = {"framework": "torch", "layer": "ConvTranspose2d", "in_channels": 2, "out_channels": 2,
                   "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}  # fmt: skip
    conv = tconv.convert(torch_layer, "keras", 8)
    assert conv.arguments["padding"] == "valid" and conv.residual == ((1, 0), (1, 0))


def test_readme_keras_same_stride_2_to_torch_is_pasteable():
    rng = np.random.default_rng(0)
    desc = {"framework": "keras", "layer": "Conv2DTranspose", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "in_channels": 3}
    x = rng.standard_normal((1, 3, 8, 8)).astype(F32)
    kernel, bias = rng.standard_normal((3, 3, 4, 3)).astype(F32), rng.standard_normal(4).astype(F32)
    ref = run_keras({k: v for k, v in desc.items() if k not in ("framework", "layer", "in_channels")}, last(x), kernel, bias)
    conv = tconv.convert(desc, "torch", (8, 8))
    assert conv.residual == ((0, 1), (0, 1))  # TF SAME crops the one extra element at the end only
    w, b = conv.convert_weights(kernel, bias)
    namespace = {"torch": torch, "x": torch.from_numpy(x), "w": w, "b": b}
    exec(conv.code.replace("y = layer(x)", "layer.weight.data = torch.from_numpy(w); layer.bias.data = torch.from_numpy(b)\ny = layer(x)"), namespace)
    assert_close(namespace["y"].detach().numpy(), first(ref), np.float32)


def test_exact_conversions_have_no_residual():
    conv = tconv.convert({"framework": "torch", "layer": "ConvTranspose2d", "in_channels": 2, "out_channels": 3,
                          "kernel_size": 4, "stride": 2, "padding": 1}, "keras", 16)  # fmt: skip
    assert conv.residual is None and conv.arguments["padding"] == "same"
    assert "residual" not in conv.code
    tf_conv = tconv.convert({"framework": "keras", "layer": "Conv1DTranspose", "filters": 2, "kernel_size": 5, "strides": 2,
                             "padding": "same", "in_channels": 3}, "tensorflow", 7)  # fmt: skip
    assert tf_conv.arguments["padding"] == "SAME" and tf_conv.residual is None


def test_live_layers_are_read():
    layer = torch.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1, bias=False)
    conv = tconv.convert(layer, "keras", (5, 5))
    assert conv.geometry.out_size == (10, 10) and conv.arguments["use_bias"] is False
    k_layer = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")
    k_layer.build((1, 5, 5, 6))
    assert tconv.convert(k_layer, "torch", 5).arguments["in_channels"] == 6
    node = onnx.helper.make_node("ConvTranspose", ["X", "W"], ["Y"], kernel_shape=[3], strides=[2], auto_pad="SAME_UPPER")
    conv = tconv.convert(node, "torch", 4, weight=np.zeros((2, 5, 3)))
    assert conv.arguments["out_channels"] == 5 and conv.geometry.out_size == (8,) and conv.arguments["bias"] is False


def test_weights_supply_channels_and_refusals_are_clear():
    desc = {"framework": "keras", "layer": "Conv2DTranspose", "filters": 4, "kernel_size": 3}
    with pytest.raises(TconvError, match="in_channels"):
        tconv.convert(desc, "torch", 8)
    assert tconv.convert(desc, "torch", 8, weight=np.zeros((3, 3, 4, 5))).arguments["in_channels"] == 5
    with pytest.raises(TconvError, match="framework"):
        tconv.convert({"framework": "caffe"}, "torch", 8)
    with pytest.raises(TconvError, match="to must be"):
        tconv.convert(desc, "mxnet", 8)
    with pytest.raises(TconvError, match="unknown keys"):
        tconv.convert({**desc, "stride": 2}, "torch", 8)
    with pytest.raises(TconvError, match="padding_mode"):
        tconv.convert({"framework": "torch", "layer": "ConvTranspose1d", "in_channels": 1, "out_channels": 1, "kernel_size": 3,
                       "padding_mode": "circular"}, "keras", 8)  # fmt: skip


def test_every_framework_implements_the_one_interface():
    from tconv import converter
    from tconv.compat import porting

    assert converter.FRAMEWORKS[: len(FRAMEWORKS)] == FRAMEWORKS  # the newer ones: their own test files
    hooks = ("NAME", "KEYS", "describe", "source", "search", "target")
    option = {"torch": None, "onnx": None, "tensorflow": "VALID", "jax": "VALID", "keras": ("valid", "None")}
    rng = np.random.default_rng(5)
    for name in FRAMEWORKS:
        port = getattr(__import__(f"tconv.compat.{name}.convert").compat, name).convert
        assert port.NAME == name and all(callable(getattr(port, h)) for h in hooks[2:]), name
        assert set(hooks) <= set(port.__all__), name
        assert port.describe(object()) is None
        desc, n, *_ = _valid_source(rng, name, 2)
        src = port.source(desc, n)
        assert isinstance(src, porting.Source) and src.framework == name
        assert isinstance(port.target(src), porting.Target)
        for a in src.geometry.axes:  # one padding family of each: (arguments, crop) or None
            choice = port.search(a, option[name])
            assert choice is None or (len(choice) == 2 and len(choice[1]) == 2)


def test_malformed_descriptions_are_refused_with_tconv_errors():
    cases = [
        ({"framework": "jax", "kernel_size": [3], "strides": 2}, TypeError, "strides"),
        ({"framework": "jax", "kernel_size": 3}, TconvError, "kernel_size as one int per spatial dim"),
        ({"framework": "onnx", "op_type": "Conv", "kernel_shape": [3]}, TconvError, "op_type must be 'ConvTranspose'"),
        ({"framework": "torch", "layer": "ConvTranspose2d", "kernel_size": 3, "in_channels": [2]}, TypeError, "in_channels"),
        ({"framework": "tensorflow", "op": "conv_transpose", "kernel_size": 3}, TconvError, "rank"),
    ]
    for desc, error, match in cases:
        with pytest.raises(error, match=match):
            tconv.convert(desc, "torch", 4)
    with pytest.raises(TypeError, match="tconv.convert: layer must be a dict"):
        tconv.convert(object(), "torch", 4)


def test_cli_reads_json_from_an_argument_or_a_file(tmp_path, capsys):
    desc = {"framework": "keras", "layer": "Conv2DTranspose", "filters": 64, "kernel_size": 3, "strides": 2, "padding": "same", "in_channels": 128}
    assert main(["convert", json.dumps(desc), "--to", "torch", "-i", "32,32"]) == 0
    out = capsys.readouterr().out
    assert "torch.nn.ConvTranspose2d(in_channels=128, out_channels=64" in out and "functional.pad(y, (0, -1, 0, -1))" in out
    path = tmp_path / "layer.json"
    path.write_text(json.dumps(desc))
    assert main(["convert", str(path), "--to", "all", "-i", "32", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.split("\n\n")]
    assert [r["target"] for r in rows] == list(tconv.converter.FRAMEWORKS)
    assert main(["convert", "{not json", "--to", "torch", "-i", "8"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["convert", json.dumps(desc), "--to", "torch"]) == 2


def exec_code(conv, x, w, b):
    """Run ``conv.code`` as pasted, with the converted weights loaded where the code creates a layer."""
    import jax.numpy as jnp

    nd = x.ndim - 2
    code = conv.code
    if conv.target == "torch":
        code = code.replace("y = layer(x)", "layer.weight.data = torch.from_numpy(w)\nif layer.bias is not None: layer.bias.data = b\ny = layer(x)")
        x_in, b = torch.from_numpy(x), None if b is None else torch.from_numpy(b)
    else:
        x_in = last(x)
        code = code.replace("y = layer(x)", "layer.build(x.shape)\nlayer.set_weights([w, b] if layer.use_bias else [w])\ny = layer(x)")
        code = code.replace("tf.shape(x)[0]", str(x.shape[0]))
    namespace = {"torch": torch, "tf": tf, "keras": keras, "jax": jax, "jnp": jnp, "x": x_in, "w": w, "b": b,
                 "filters": w, "kernel": w, "bias": b}  # fmt: skip
    exec(code, namespace)
    y = namespace["y"]
    y = y.detach().numpy() if conv.target == "torch" else np.asarray(y)
    return y if conv.target == "torch" else first(y)


CODE_CASES = [
    # the README case: TF SAME with an odd kernel and stride 2 (a crop at the end)
    ({"framework": "keras", "layer": "Conv2DTranspose", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same",
      "in_channels": 3}, (5, 4)),
    # JAX pairs that put zeros before the full result (a zero-pad residual in every other framework)
    ({"framework": "jax", "op": "conv_transpose", "kernel_size": [2, 3], "strides": [3, 2], "padding": [[3, 0], [2, 4]],
      "in_channels": 3, "out_channels": 2, "transpose_kernel": True, "bias": True}, (5, 4)),
    ({"framework": "torch", "layer": "ConvTranspose1d", "in_channels": 4, "out_channels": 2, "kernel_size": 3, "stride": 2,
      "padding": 1, "output_padding": 1, "groups": 2}, (5,)),
]  # fmt: skip


@pytest.mark.parametrize("desc, size", CODE_CASES, ids=["keras-same", "jax-zeros-before", "torch-groups"])
@pytest.mark.parametrize("target", ["torch", "tensorflow", "keras", "jax"])
def test_pasted_code_runs_and_matches(desc, size, target):
    from tconv.compat import layouts

    rng = np.random.default_rng(1)
    to_torch = tconv.convert(desc, "torch", size)
    c_in, c_out, groups = to_torch.arguments["in_channels"], to_torch.arguments["out_channels"], to_torch.groups
    x = rng.standard_normal((2, c_in) + tuple(size)).astype(F32)
    w_torch = rng.standard_normal((c_in, c_out // groups) + to_torch.geometry.kernel).astype(F32)
    b = rng.standard_normal(c_out).astype(F32) if to_torch.bias else None
    w_src = {
        "torch": lambda: w_torch,
        "keras": lambda: layouts.to_keras(w_torch),
        "jax": lambda: layouts.to_jax(w_torch, "HWIO", transpose_kernel=True),
    }[desc["framework"]]()
    ref = run_target(to_torch, x, *to_torch.convert_weights(w_src, b))  # real torch, residual applied
    conv = tconv.convert(desc, target, size)
    assert_close(exec_code(conv, x, *conv.convert_weights(w_src, b)), ref, np.float32)


@pytest.mark.parametrize("rhs_spec", ["HWIO", "OIHW", "IOHW", "WHOI"])
@pytest.mark.parametrize("transpose_kernel", [False, True])
def test_jax_layouts_match_torch(rhs_spec, transpose_kernel):
    from tconv.compat import layouts

    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 3, 4, 5)).astype(F32)
    w = rng.standard_normal((3, 2, 2, 3)).astype(F32)  # torch (C_in, C_out, kh, kw)
    ref = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    rhs = layouts.to_jax(w, rhs_spec, transpose_kernel=transpose_kernel, lhs_spec="NCHW")
    # pads of the zero-inserted input that keep the full result (k - 1), listed in the rhs spec's spatial order
    full = [{"H": (1, 1), "W": (2, 2)}[c] for c in rhs_spec if c in "HW"]
    y = jax.lax.conv_transpose(x, rhs, (1, 1), full, dimension_numbers=("NCHW", rhs_spec, "NCHW"), transpose_kernel=transpose_kernel)
    assert_close(np.asarray(y), ref, np.float32)
    back = layouts.from_jax(rhs, rhs_spec, transpose_kernel=transpose_kernel, lhs_spec="NCHW")
    assert (back == w).all()


def test_ungroup_and_tf_layouts_match_torch():
    from tconv.compat import layouts

    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 6, 4, 4)).astype(F32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(F32)
    ref = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, groups=3).numpy()
    dense = layouts.ungroup(w, 3)
    assert_close(torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(dense), stride=2).numpy(), ref, np.float32)
    y = tf.nn.conv2d_transpose(layouts.to_channels_last(x), layouts.to_tf(dense), [1, 9, 9, 6], 2, "VALID").numpy()
    assert_close(layouts.to_channels_first(y), ref, np.float32)
    assert (layouts.from_tf(layouts.to_tf(dense)) == dense).all()
