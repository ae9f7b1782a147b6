"""tconv.convert to and from OpenVINO and LiteRT, every target run in its real runtime on random weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("openvino")
pytest.importorskip("ai_edge_litert")

import openvino_support  # noqa: E402
from converter_support import (CODE_CASES, CODE_IDS, F32, FRAMEWORKS, check_interface, check_pairs, code_case,  # noqa: E402
                               first, last, run_target)  # fmt: skip
from support import assert_close  # noqa: E402

import tconv  # noqa: E402
from tconv import TconvError  # noqa: E402

NEW = ("openvino", "litert")
ALL = FRAMEWORKS + NEW
#: 2-D first: every case of the sample reaches LiteRT
RANKS = (2, 1)
#: the default suite's sample: each new framework to and from each older one once
SAMPLE = [("openvino", ALL), ("litert", ALL)] + [(name, NEW) for name in FRAMEWORKS]


def test_a_sample_of_pairs_runs_identically():
    check_pairs(SAMPLE, 21, 1, ranks=RANKS)


@pytest.mark.slow
@pytest.mark.parametrize("source", ALL)
def test_every_pair_runs_identically(source):
    check_pairs([(source, ALL)], 2100 + sum(map(ord, source)), 12, ranks=RANKS, isolate=True)


@pytest.mark.parametrize("desc, size", CODE_CASES, ids=CODE_IDS)
def test_the_emitted_openvino_model_runs_and_matches(desc, size):
    """The code builds an ov.Model (the residual a Pad node, the bias an Add); compiled and run as emitted."""
    x, w, b, ref = code_case(desc, size, 4)
    conv = tconv.convert(desc, "openvino", size)
    assert "ov.Model" in conv.code and (conv.residual is None) == ("ops.pad" not in conv.code)
    filters, bias = conv.convert_weights(w, b)
    assert_close(openvino_support.run_code(conv.code, x, filters, bias), ref, F32)


def test_the_emitted_litert_code_runs_and_matches():
    import ai_edge_litert.interpreter
    import tensorflow as tf

    desc, size = CODE_CASES[1]  # zeros before the full result: a residual in LiteRT too
    conv = tconv.convert(desc, "litert", size)
    assert conv.residual is not None and "TRANSPOSE_CONV" in conv.code
    x, w, b, ref = code_case(desc, size, 5, batch=1)  # the code's input signature has batch 1
    weights, bias = conv.convert_weights(w, b)
    namespace = {"tf": tf, "np": np, "ai_edge_litert": ai_edge_litert, "x": last(x).copy(), "weights": weights,
                 "bias": bias}  # fmt: skip
    exec(conv.code, namespace)
    assert_close(first(namespace["y"]), ref, F32)


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
    assert_close(run_target(to_torch, x, w_torch, b_torch), ref, F32)
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
    assert set(ALL) <= set(tconv.converter.FRAMEWORKS)
    check_interface("openvino")
    check_interface("litert")
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
