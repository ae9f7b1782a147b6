"""Shape arithmetic: formulas, inverse solvers, explain()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv

small = st.integers(1, 9)


@settings(max_examples=200, deadline=None)
@given(n=small, k=small, s=st.integers(1, 4), d=st.integers(1, 3), lo=st.integers(0, 4), hi=st.integers(0, 4), op=st.integers(0, 3))
def test_output_size_formula(n, k, s, d, lo, hi, op):
    expected = (n - 1) * s - lo - hi + d * (k - 1) + op + 1
    if op >= max(s, d) or expected < 1:
        with pytest.raises(tconv.TconvError):
            tconv.output_size(n, k, stride=s, padding=((lo, hi),), output_padding=op, dilation=d)
    else:
        assert tconv.output_size(n, k, stride=s, padding=((lo, hi),), output_padding=op, dilation=d) == (expected,)


@settings(max_examples=200, deadline=None)
@given(n=small, k=small, s=st.integers(1, 4), d=st.integers(1, 3), target=st.integers(1, 40))
def test_solve_padding_answers_reproduce_the_target(n, k, s, d, target):
    (answers,) = tconv.solve_padding(n, target, k, stride=s, dilation=d)
    for p, op in answers:
        assert tconv.output_size(n, k, stride=s, padding=p, output_padding=op, dilation=d) == (target,)
    # completeness: every valid (p, op) that reaches the target is listed
    brute = [
        (p, op)
        for p in range(0, 40)
        for op in range(max(s, d))
        if (n - 1) * s - 2 * p + d * (k - 1) + op + 1 == target
    ]
    assert sorted(answers) == brute
    assert (answers.reason is None) == bool(answers)


def test_solve_padding_is_per_axis_and_says_why():
    answers = tconv.solve_padding((7, 7), (14, 100), 5, stride=2)
    assert answers[0] == [(2, 1)]
    assert answers[1] == [] and "axis 1" in answers[1].reason and "100" in answers[1].reason


@settings(max_examples=200, deadline=None)
@given(out=small, k=small, s=st.integers(1, 4), d=st.integers(1, 3), lo=st.integers(0, 3), hi=st.integers(0, 3))
def test_conv_input_sizes_invert_the_forward_conv(out, k, s, d, lo, hi):
    (sizes,) = tconv.conv_input_sizes(out, k, stride=s, padding=((lo, hi),), dilation=d)
    for m, op in sizes:
        assert tconv.conv_output_size(m, k, stride=s, padding=((lo, hi),), dilation=d) == (out,)
        if op < max(s, d):  # and the transposed conv with that output_padding gives m back
            assert tconv.output_size(out, k, stride=s, padding=((lo, hi),), output_padding=op, dilation=d) == (m,)
    brute = [
        m for m in range(1, 80)
        if m + lo + hi >= d * (k - 1) + 1 and (m + lo + hi - d * (k - 1) - 1) // s + 1 == out
    ]
    assert [m for m, _ in sizes] == brute


def test_conv_output_size_matches_torch():
    rng = np.random.default_rng(0)
    for _ in range(30):
        m, k, s, d, p = (int(v) for v in (rng.integers(5, 20), rng.integers(1, 5), rng.integers(1, 4), rng.integers(1, 3), rng.integers(0, 3)))
        y = torch.nn.functional.conv1d(torch.zeros(1, 1, m), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
        assert tconv.conv_output_size(m, k, stride=s, padding=p, dilation=d) == (y.shape[-1],)


def test_per_axis_sequences_and_broadcast_ints():
    assert tconv.output_size((3, 4), (3, 2), stride=2) == (7, 8)
    assert tconv.output_size(3, (3, 2), stride=(1, 2), padding=((1, 0), 0)) == (4, 6)


def test_explain_records_both_views():
    e = tconv.explain(7, 5, stride=2, padding=2, output_padding=1)
    (ax,) = e.axes
    assert e.out_size == (14,)
    assert (ax.axis.full, ax.axis.start, ax.axis.end_crop) == (17, 2, 1)
    assert (ax.zeros_between, ax.pad_before, ax.pad_after) == (1, 2, 3)
    # the zero-insertion view's lengths close the loop
    assert (7 - 1) * 2 + 1 + ax.pad_before + ax.pad_after - 5 + 1 == 14
    assert "crop 2 at the start, 1 at the end" in e.text()
