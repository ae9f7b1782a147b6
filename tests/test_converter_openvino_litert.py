"""tconv.convert to and from OpenVINO and LiteRT, every target run in its real runtime on random weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("openvino")
pytest.importorskip("ai_edge_litert")

import litert_support  # noqa: E402
import openvino_support  # noqa: E402
import test_converter as base  # noqa: E402  (the real runners of the five older frameworks)
import tconv  # noqa: E402
from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import litert as compat_litert  # noqa: E402
from tconv.compat import openvino as compat_ov  # noqa: E402

F32 = np.float32
NEW = ("openvino", "litert")
ALL = base.FRAMEWORKS + NEW


def run_target(conv, x, w, b):
    """``conv``'s target layer in its real runtime, residual applied; ``x`` and the result (N, C, *n)."""
    inside = None if conv.bias_after else b
    if conv.target == "openvino":
        return conv.apply_residual(openvino_support.run(conv.arguments, x, w, inside), b)
    if conv.target == "litert":
        return base.first(conv.apply_residual(litert_support.run(conv.arguments, base.last(x), w, inside), b))
    return base.run_target(conv, x, w, b)


def source_openvino(rng, nd):
    n, k, s, d = base.rand_geometry(rng, nd)
    g = int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    attrs = dict(strides=s, dilations=d, auto_pad=str(rng.choice(compat_ov.AUTO_PADS)),
                 pads_begin=[int(v) for v in rng.integers(0, 3, nd)], pads_end=[int(v) for v in rng.integers(0, 3, nd)],
                 output_padding=[int(v) for v in rng.integers(0, 3, nd)])  # fmt: skip
    if rng.random() < 0.4:
        attrs["output_shape"] = [max(1, (ni - 1) * si + di * (ki - 1) + int(rng.integers(-2, 3)))
                                 for ni, ki, si, di in zip(n, k, s, d)]  # fmt: skip
    grouped = g > 1
    op = compat_ov.convert.OPS[grouped]
    w = compat_ov.to_openvino(rng.standard_normal([c_in, c_out // g] + k).astype(F32), g)  # the op's own filters
    desc = dict(framework="openvino", op=op, kernel_size=k, in_channels=c_in, out_channels=c_out, groups=g,
                bias=bool(rng.random() < 0.5), **attrs)  # fmt: skip
    if not grouped:
        desc.pop("groups")

    def run(x, b):
        return openvino_support.run(attrs, x, w, b)

    try:  # the CPU plugin has no primitive for some grouped nodes: not a source to port
        run(np.ones((1, c_in) + tuple(n), F32), None)
    except Exception:
        return None
    return desc, n, w, c_out, run


def source_litert(rng, nd):
    n, k, s, _ = base.rand_geometry(rng, 2)
    padding = str(rng.choice(compat_litert.PADDINGS))
    lengths = [int(rng.integers(lo, hi + 1)) for lo, hi in compat_litert.output_shape_range_of(n, k, padding, *s)]
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    desc = dict(framework="litert", op="TRANSPOSE_CONV", weights_shape=[c_out] + k + [c_in],
                output_shape=[1] + lengths + [c_out], padding=padding, stride_h=s[0], stride_w=s[1],
                bias=bool(rng.random() < 0.5))  # fmt: skip
    w = rng.standard_normal([c_out] + k + [c_in]).astype(F32)

    def run(x, b):
        args = dict(output_shape=[x.shape[0]] + lengths + [c_out], padding=padding, stride_h=s[0], stride_w=s[1])
        return base.first(litert_support.run(args, base.last(x), w, b))

    return desc, n, w, c_out, run


SOURCES = {**base.SOURCES, "openvino": source_openvino, "litert": source_litert}


def valid_source(rng, framework, nd):
    while True:
        try:
            case = SOURCES[framework](rng, 2 if framework == "litert" else nd)
        except ValueError:  # test_converter's TF source draws from an empty output_shape range (pads too large)
            continue
        if case is None:
            continue
        try:
            tconv.convert(case[0], "torch" if framework != "torch" else "onnx", case[1])
        except TconvError:
            continue  # e.g. an empty output
        return case


def check_pairs(pairs, seed, cases):
    rng = np.random.default_rng(seed)
    for source, targets in pairs:
        for case in range(cases):
            nd = 2 if "litert" in (source, *targets) or case % 2 else 1
            desc, n, w, c_out, run_source = valid_source(rng, source, nd)
            c_in = desc.get("in_channels") or desc.get("filters_shape", desc.get("weights_shape", [0]))[-1]
            x = rng.standard_normal((2, c_in) + tuple(n)).astype(F32)
            with_bias = desc.get("bias", desc.get("use_bias", False))
            b = rng.standard_normal(c_out).astype(F32) if with_bias else None
            ref = run_source(x, b)
            for target in targets:
                if target == "litert" and len(n) != 2:
                    continue
                conv = tconv.convert(desc, target, n)
                assert conv.geometry.out_size == ref.shape[2:], (desc, target)
                wt, bt = conv.convert_weights(w, b)
                assert_close(run_target(conv, x, wt, bt), ref, F32)


#: the default suite's sample: each new framework to and from each older one once
SAMPLE = [("openvino", ALL), ("litert", ALL)] + [(name, NEW) for name in base.FRAMEWORKS]


def test_a_sample_of_pairs_runs_identically():
    check_pairs(SAMPLE, 21, 1)


@pytest.mark.slow
@pytest.mark.parametrize("source", ALL)
def test_every_pair_runs_identically(source):
    check_pairs([(source, ALL)], 2100 + sum(map(ord, source)), 12)


@pytest.mark.parametrize("desc, size", base.CODE_CASES, ids=["keras-same", "jax-zeros-before", "torch-groups"])
def test_the_emitted_openvino_model_runs_and_matches(desc, size):
    """The code builds an ov.Model (the residual a Pad node, the bias an Add); compiled and run as emitted."""
    rng = np.random.default_rng(4)
    to_torch = tconv.convert(desc, "torch", size)
    c_in, c_out, groups = to_torch.arguments["in_channels"], to_torch.arguments["out_channels"], to_torch.groups
    x = rng.standard_normal((2, c_in) + tuple(size)).astype(F32)
    w_torch = rng.standard_normal((c_in, c_out // groups) + to_torch.geometry.kernel).astype(F32)
    b = rng.standard_normal(c_out).astype(F32) if to_torch.bias else None
    layouts = tconv.compat.layouts
    src_w = {"torch": lambda: w_torch, "keras": lambda: layouts.to_keras(w_torch),
             "jax": lambda: layouts.to_jax(w_torch, "HWIO", transpose_kernel=True)}[desc["framework"]]()  # fmt: skip
    ref = base.run_target(to_torch, x, *to_torch.convert_weights(src_w, b))
    conv = tconv.convert(desc, "openvino", size)
    assert "ov.Model" in conv.code and (conv.residual is None) == ("ops.pad" not in conv.code)
    filters, bias = conv.convert_weights(src_w, b)
    assert_close(openvino_support.run_code(conv.code, x, filters, bias), ref, F32)


def test_the_emitted_litert_code_runs_and_matches():
    import ai_edge_litert.interpreter
    import tensorflow as tf

    desc, size = base.CODE_CASES[1]  # zeros before the full result: a residual in LiteRT too
    rng = np.random.default_rng(5)
    conv = tconv.convert(desc, "litert", size)
    assert conv.residual is not None and "TRANSPOSE_CONV" in conv.code
    w = rng.standard_normal((3, 2) + tuple(desc["kernel_size"])).astype(F32)  # torch layout
    jax_w = tconv.compat.layouts.to_jax(w, "HWIO", transpose_kernel=True)
    b = rng.standard_normal(2).astype(F32)
    x = rng.standard_normal((1, 3) + size).astype(F32)
    to_torch = tconv.convert(desc, "torch", size)
    ref = base.run_target(to_torch, x, *to_torch.convert_weights(jax_w, b))
    weights, bias = conv.convert_weights(jax_w, b)
    namespace = {"tf": tf, "np": np, "ai_edge_litert": ai_edge_litert, "x": base.last(x).copy(), "weights": weights,
                 "bias": bias}  # fmt: skip
    exec(conv.code, namespace)
    assert_close(base.first(namespace["y"]), ref, F32)


def test_grouped_openvino_filters_convert_to_torch_and_back():
    """GroupConvolutionBackpropData's (G, C_in/G, C_out/G, *k) filters, one dim more than the data, in and out."""
    rng = np.random.default_rng(7)
    attrs = dict(strides=[2, 1], pads_begin=[1, 0], pads_end=[1, 0], dilations=[1, 2], output_padding=[1, 0])
    desc = dict(framework="openvino", op="GroupConvolutionBackpropData", in_channels=4, out_channels=6, groups=2,
                kernel_size=[3, 2], bias=True, **attrs)  # fmt: skip
    filters = rng.standard_normal((2, 2, 3, 3, 2)).astype(F32)
    b = rng.standard_normal(6).astype(F32)
    x = rng.standard_normal((2, 4, 4, 3)).astype(F32)
    ref = openvino_support.run(attrs, x, filters, b)  # the real grouped node
    to_torch = tconv.convert(desc, "torch", (4, 3), weight=filters)
    w_torch, b_torch = to_torch.convert_weights(filters, b)
    assert w_torch.shape == (4, 3, 3, 2) and to_torch.arguments["groups"] == 2 and to_torch.residual is None
    assert_close(base.run_target(to_torch, x, w_torch, b_torch), ref, F32)
    back = tconv.convert(dict(framework="torch", layer="ConvTranspose2d", **to_torch.arguments), "openvino", (4, 3))
    filters_back, b_back = back.convert_weights(w_torch, b_torch)
    assert back.geometry == to_torch.geometry and back.arguments["pads_begin"] == attrs["pads_begin"]
    assert (filters_back == filters).all() and (b_back == b).all()
    assert_close(run_target(back, x, filters_back, b_back), ref, F32)
    for wrong in (w_torch, filters[0]):  # the merged (C_in, C_out/G, *k) and a single group are not the op's layout
        with pytest.raises(TconvError, match=r"weight must have 5 dims for OpenVINO GroupConvolutionBackpropData, "
                           r"OpenVINO's \(G, C_in/G, C_out/G, \*k\) = \(2, 2, 3, 3, 2\); got shape"):  # fmt: skip
            to_torch.convert_weights(wrong)


def test_litert_takes_dilation_and_groups_as_taps_and_refuses_other_ranks():
    torch_layer = {"framework": "torch", "layer": "ConvTranspose2d", "in_channels": 4, "out_channels": 2, "kernel_size": 3,
                   "stride": 2, "dilation": 2, "groups": 2}  # fmt: skip
    conv = tconv.convert(torch_layer, "litert", (4, 4))
    w, _ = conv.convert_weights(np.ones((4, 1, 3, 3), F32))
    assert w.shape == (2, 5, 5, 4) and w[:, 1].sum() == 0  # (C_out, k_eff, k_eff, C_in), zeros between taps
    with pytest.raises(TconvError, match="2-D only"):
        tconv.convert({**torch_layer, "layer": "ConvTranspose1d", "kernel_size": [3]}, "litert", 4)


def test_hooks_and_descriptions():
    from tconv.compat import porting
    from tconv.compat.litert import convert as litert_port
    from tconv.compat.openvino import convert as openvino_port

    assert set(ALL) <= set(tconv.converter.FRAMEWORKS)
    for port in (openvino_port, litert_port):
        assert {"NAME", "KEYS", "describe", "source", "search", "target"} <= set(port.__all__)
        assert port.describe(object()) is None
    src = openvino_port.source({"op": "ConvolutionBackpropData", "kernel_size": [3], "strides": [2], "in_channels": 1,
                                "out_channels": 1}, 4)  # fmt: skip
    assert isinstance(openvino_port.target(src), porting.Target)
    cases = [
        ({"framework": "openvino", "op": "Deconvolution", "kernel_size": [3], "strides": [2]}, "op must be one of"),
        ({"framework": "openvino", "kernel_size": [3]}, "needs strides"),
        ({"framework": "openvino", "kernel_size": [3], "strides": [2], "groups": 2}, "no groups"),
        ({"framework": "litert", "op": "CONV_2D", "kernel_size": [3, 3]}, "op must be 'TRANSPOSE_CONV'"),
        ({"framework": "litert", "kernel_size": [3]}, "2-D"),
        ({"framework": "litert", "weights_shape": [1, 3, 3, 1], "output_shape": [1, 9, 9, 1], "stride_h": 2,
          "stride_w": 2}, "output_shape must be in"),  # fmt: skip
    ]
    for desc, match in cases:
        with pytest.raises(TconvError, match=match):
            tconv.convert(desc, "torch", 4 if len(desc.get("kernel_size", [0, 0])) == 1 else (4, 4))
