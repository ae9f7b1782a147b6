"""Hostile inputs that used to get through: lazy solution sets, 64-bit overflow, byte order, layer checks."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import tconv
from tconv import nn
from tconv.memory import budget, format_bytes, memory_budget, parse_bytes


# --- shape arithmetic stays bounded for any input ---------------------------------------------


def test_solve_padding_with_a_huge_stride_is_lazy_and_exact():
    start = time.perf_counter()
    (answers,) = tconv.solve_padding(7, 14, 5, stride=10**12)
    assert time.perf_counter() - start < 0.5
    assert len(answers) == 5 * 10**11
    pads, ops = answers.ranges
    assert (pads.step, ops.step) == (1, 2) and len(pads) == len(ops) == len(answers)
    for p, op in (answers[0], answers[-1], answers[12345]):
        assert tconv.output_size(7, 5, stride=10**12, padding=p, output_padding=op) == (14,)
    assert answers[-1][1] == 10**12 - 1  # the last output_padding the stride allows
    assert "pairs" in repr(answers)


def test_solution_sequences_index_slice_iterate_and_compare_like_lists():
    (answers,) = tconv.solve_padding(3, 40, 3, stride=1, dilation=20)
    as_list = list(answers)
    assert answers == as_list and as_list == list(answers) and answers != as_list[:-1]
    assert answers[1:3] == as_list[1:3] and answers[-1] == as_list[-1]
    with pytest.raises(IndexError):
        answers[len(as_list)]
    (empty,) = tconv.solve_padding(3, 400, 3)
    assert empty == [] and not empty and "400" in empty.reason


def test_conv_input_sizes_with_a_huge_stride_is_lazy():
    (sizes,) = tconv.conv_input_sizes(7, 5, stride=10**12, padding=2)
    assert len(sizes) == 10**12
    m, op = sizes[-1]
    assert tconv.conv_output_size(m, 5, stride=10**12, padding=2) == (7,)
    assert op == 10**12 - 1


@pytest.mark.parametrize("stride", [10**9, 2**70])
def test_sizes_beyond_64_bit_indexing_are_refused_by_the_geometry(stride):
    x, w = np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32)
    with pytest.raises(tconv.TconvError, match=r"tconv.conv_transpose: .*64-bit index"):
        tconv.conv_transpose(x, w, stride=stride)


def test_explain_says_what_a_negative_crop_is():
    text = tconv.explain(3, 3, stride=2, output_padding=1).text()
    assert "crop -" not in text and "1 zero(s) added after y_full" in text and "7 - 0 + 1 = 8" in text


# --- arrays ------------------------------------------------------------------------------------


def test_big_endian_inputs_are_converted_not_refused():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(2, 3, 3, 3))
    want = tconv.conv_transpose(x, w, stride=2)
    got = tconv.conv_transpose(x.astype(">f8"), w.astype(">f8"), stride=2)
    assert got.dtype == np.float64 and np.array_equal(got, want)


# --- layers ------------------------------------------------------------------------------------


def test_layer_backward_checks_the_gradient_shape():
    layer = nn.ConvTranspose2d(2, 2, 3, stride=2, rng=0)
    y = layer(np.ones((1, 2, 5, 5), np.float32))
    before = layer.weight.grad.copy()
    with pytest.raises(tconv.TconvError, match=r"ConvTranspose2d.backward: grad must have the shape .*\(1, 2, 11, 11\)"):
        layer.backward(np.ones((1, 2, 3, 3)))
    assert np.array_equal(layer.weight.grad, before)  # nothing was added
    assert layer.backward(np.ones_like(y)).shape == (1, 2, 5, 5)


@pytest.mark.parametrize(
    "layer, x",
    [
        (nn.Tanh(), np.ones((2, 3))),
        (nn.Linear(3, 2, rng=0), np.ones((2, 3))),
        (nn.BatchNorm2d(2), np.ones((2, 2, 3, 3))),
        (nn.Conv2d(2, 2, 3, rng=0), np.ones((1, 2, 5, 5))),
        (nn.Sequential(nn.Linear(3, 2, rng=0), nn.ReLU()), np.ones((2, 3))),
    ],
)
def test_backward_before_forward_is_a_clear_error(layer, x):
    with pytest.raises(tconv.TconvError, match="backward: call forward first"):
        layer.backward(np.ones((2, 2)))
    y = layer(x)
    with pytest.raises(tconv.TconvError, match="grad must have the shape"):
        layer.backward(np.ones(y.shape + (1,)))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: nn.ConvTranspose2d(4, 2, 3, dtype=np.int32), tconv.TconvError, "dtype must be float16, float32 or float64"),
        (lambda: nn.ConvTranspose2d(4, 2, 3, dtype="banana"), TypeError, "nn.ConvTranspose2d: dtype"),
        (lambda: nn.ConvTranspose2d(4, 2, 3, rng="x"), TypeError, "nn.ConvTranspose2d: rng"),
        (lambda: nn.Linear(4, 2, dtype=np.int64), tconv.TconvError, "nn.Linear: dtype"),
        (lambda: nn.BatchNorm2d(4, dtype=bool), tconv.TconvError, "nn.BatchNorm2d: dtype"),
        (lambda: nn.BatchNorm2d(4, eps="x"), TypeError, "nn.BatchNorm2d: eps"),
        (lambda: nn.SGD(nn.Linear(2, 2, rng=0).parameters(), lr="x"), TypeError, "nn.SGD: lr"),
        (lambda: nn.SGD(nn.Linear(2, 2, rng=0).parameters(), lr=0.1, momentum=-1), tconv.TconvError, "momentum"),
        (lambda: nn.Adam(nn.Linear(2, 2, rng=0).parameters(), betas=(0.9, 1.5)), tconv.TconvError, "betas"),
        (lambda: tconv.init.kaiming_uniform((2, 2, 3), rng="x"), TypeError, "rng"),
    ],
)
def test_layer_and_optimizer_arguments_are_refused_with_our_message(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --- the memory budget -------------------------------------------------------------------------


def test_parse_and_format_bytes():
    assert parse_bytes("2GiB") == 2 * 2**30 and parse_bytes("1.5 kB") == 1500 and parse_bytes(" 3 mib ") == 3 * 2**20
    assert parse_bytes("none") == math.inf and format_bytes(1536) == "1.5 KiB" and format_bytes(12) == "12 B"
    for bad in ("2 parsecs", "", "-1GB", 0):
        with pytest.raises(tconv.TconvError, match="budget"):
            parse_bytes(bad)
    with pytest.raises(TypeError):
        parse_bytes([1])


def test_the_budget_is_set_by_context_and_environment(monkeypatch):
    monkeypatch.delenv("TCONV_MEMORY_BUDGET", raising=False)
    default = budget()
    assert default > 0
    monkeypatch.setenv("TCONV_MEMORY_BUDGET", "3MiB")
    assert budget() == 3 * 2**20
    with memory_budget("1 KiB"):
        assert budget() == 1024
        with memory_budget("none"):
            assert budget() == math.inf
        assert budget() == 1024
    assert budget() == 3 * 2**20
