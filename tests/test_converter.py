"""tconv.convert: every source to every target, run in both real frameworks on random weights."""

import json

import numpy as np
import pytest

from converter_support import (CODE_CASES, CODE_IDS, F32, FRAMEWORKS, check_interface, check_pairs, code_case, first,
                               jax, keras, last, onnx, run_keras, tf, torch)  # fmt: skip

import tconv
from support import assert_close
from tconv import TconvError
from tconv.cli import main


@pytest.mark.parametrize("source", FRAMEWORKS)
def test_every_source_to_every_target_runs_identically(source):
    check_pairs([(source, FRAMEWORKS)], sum(map(ord, source)), 4)


@pytest.mark.slow
@pytest.mark.parametrize("source", FRAMEWORKS)
def test_every_source_to_every_target_stress(source):
    check_pairs([(source, FRAMEWORKS)], 1000 + sum(map(ord, source)), 40, isolate=True)


def test_a_layer_xla_aborts_on_is_checked_in_a_subprocess_with_the_simplifier_off():
    # stride 2, kernel 2 and JAX pads (0, 0) on one axis, a kernel longer than the input on the other: XLA's
    # operand swap aborts the interpreter (docs/peer-findings.md); the isolated runs record it and run it again
    import jax_support

    desc = {"framework": "torch", "layer": "ConvTranspose2d", "in_channels": 1, "out_channels": 2, "kernel_size": (2, 3),
            "stride": (2, 1), "padding": (1, 0), "bias": False}  # fmt: skip
    conv = tconv.convert(desc, "jax", (4, 2))
    assert conv.arguments["padding"] == [[0, 0], [2, 2]] and conv.residual is None
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 1, 4, 2)).astype(F32), rng.standard_normal((1, 2, 2, 3)).astype(F32)
    case = dict(x=last(x), w=conv.convert_weights(w)[0], kwargs=dict(conv.arguments, padding=[(0, 0), (2, 2)]))
    with pytest.warns(UserWarning, match="XLA aborted on 1 of 1 JAX runs"):  # and it was that abort (asserted)
        (status, y), = jax_support.run_batch([case])
    assert status == "ok"
    ref = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=(2, 1), padding=(1, 0))
    assert_close(first(y), ref.numpy(), F32)


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
    assert tconv.converter.FRAMEWORKS[: len(FRAMEWORKS)] == FRAMEWORKS  # the newer ones: their own test files
    option = {"torch": None, "onnx": None, "tensorflow": "VALID", "jax": "VALID", "keras": ("valid", "None")}
    for name in FRAMEWORKS:
        check_interface(name, option[name])


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


@pytest.mark.parametrize("desc, size", CODE_CASES, ids=CODE_IDS)
@pytest.mark.parametrize("target", ["torch", "tensorflow", "keras", "jax"])
def test_pasted_code_runs_and_matches(desc, size, target):
    x, w, b, ref = code_case(desc, size, 1)
    conv = tconv.convert(desc, target, size)
    assert_close(exec_code(conv, x, *conv.convert_weights(w, b)), ref, F32)


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
