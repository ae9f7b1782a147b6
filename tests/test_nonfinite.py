"""Non-finite values get the definition's answer: NaN and inf exactly where the definition's terms put them.

The definition sums terms ``x[i] * w[j]`` (explicit zeros included, never the
padding or the inserted zeros). Inputs hold finite values of magnitude at most
1e3 (no finite sum overflows), explicit zeros, NaN, +inf and -inf; every
algorithm but ``fft``, ``auto``, ``conv`` and both gradients must give the
pattern of the definition written as loops, and its finite values.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tconv import algorithms
from tconv.geometry import Axis, Geometry, build_transpose
from tconv.grad import conv_backward_geometry, transpose_backward_geometry
from tconv.ops import run_conv_geometry, run_geometry

NOT_FFT = [name for name in algorithms.ALGORITHMS if name != "fft"]
EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def geometries(draw) -> tuple[Geometry, int, int]:
    """A geometry (1-3 axes, groups, dilation, asymmetric padding, output_padding, and now and then a
    window starting before y_full or ending past it) with channels per group ``(C_a/g, C_b/g)``."""
    nd = draw(st.integers(1, 3))
    top = {1: 6, 2: 4, 3: 3}[nd]
    n = tuple(draw(st.integers(1, top)) for _ in range(nd))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    pads = tuple((draw(st.integers(0, di * (ki - 1))), draw(st.integers(0, di * (ki - 1)))) for ki, di in zip(k, d))
    op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
    groups = draw(st.integers(1, 2))
    try:
        geom = build_transpose("test", n, k, s, d, pads, op, groups)
    except ValueError:
        geom = build_transpose("test", n, k, s, d, ((0, 0),) * nd, (0,) * nd, groups)
    if draw(st.booleans()):  # another convention's window
        geom = Geometry(tuple(Axis(a.size, a.kernel, a.stride, a.dilation, a.start - draw(st.integers(0, 2)),
                                   a.length + draw(st.integers(0, 3))) for a in geom.axes), groups)
    return geom, draw(st.integers(1, 2)), draw(st.integers(1, 2))


def values(draw, shape: tuple[int, ...], rate: float) -> np.ndarray:
    """Finite values of magnitude <= 1e3 with explicit zeros, and NaN, +inf, -inf at about ``rate``."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1e3, 1e3, shape)
    a[rng.random(shape) < 0.2] = 0.0
    kinds = rng.random(shape)
    a[kinds < rate] = np.nan
    a[(kinds >= rate) & (kinds < 2 * rate)] = np.inf
    a[(kinds >= 2 * rate) & (kinds < 3 * rate)] = -np.inf
    return a


@st.composite
def cases(draw):
    geom, a_g, b_g = draw(geometries())
    rate = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3]))
    batch = draw(st.integers(1, 2))
    return geom, a_g, b_g, batch, rate


def terms(geom: Geometry):
    """Every ``(i, j, f)`` of the definition: input position ``i`` meets tap ``j`` at window position ``f``."""
    per_axis = [[(i, j, i * a.stride + j * a.dilation - a.start) for i in range(a.size) for j in range(a.kernel)
                 if 0 <= i * a.stride + j * a.dilation - a.start < a.length] for a in geom.axes]
    for combo in itertools.product(*per_axis):
        yield tuple(c[0] for c in combo), tuple(c[1] for c in combo), tuple(c[2] for c in combo)


def summed(shape: tuple[int, ...], entries) -> tuple[np.ndarray, np.ndarray]:
    """The sum of the terms ``entries`` yields as ``(where, value)`` into zeros of ``shape``, and the
    sums of their magnitudes (the finite values' tolerance)."""
    total, scale = np.zeros(shape), np.zeros(shape)
    with np.errstate(invalid="ignore", over="ignore"):
        for where, value in entries:
            total[where] += value
            if np.isfinite(value):
                scale[where] += abs(value)
    return total, scale


def definition(geom: Geometry, n_batch: int, c_x: int, c_y_g: int, target: str, **factors: np.ndarray):
    """The definition's sums, written as loops, in one of the three roles of the transposed conv's
    terms ``x[b, c, i] * w[c, o, j]`` landing on ``y[b, group(c) * C_y/g + o, f]``: ``target`` is
    ``"x"`` ``(N, c_x, *size)``, ``"w"`` ``(c_x, c_y_g, *k)`` or ``"y"`` ``(N, c_y_g * g, *length)``,
    the sum of the products of the other two roles' arrays (``factors``). The conv is the same
    terms read the other way: its output in the role of ``x``, its input in the role of ``y``."""
    shapes = dict(x=(n_batch, c_x) + geom.in_size, w=(c_x, c_y_g) + geom.kernel,
                  y=(n_batch, c_y_g * geom.groups) + geom.out_size)
    c_x_g = c_x // geom.groups
    (first, a), (second, b) = factors.items()

    def entries():
        for i, j, f in terms(geom):
            for n, c, o in itertools.product(range(n_batch), range(c_x), range(c_y_g)):
                index = dict(x=(n, c) + i, w=(c, o) + j, y=(n, c // c_x_g * c_y_g + o) + f)
                yield index[target], a[index[first]] * b[index[second]]

    return summed(shapes[target], entries())


def transpose_loops(x, w, geom):
    """The transposed conv ``y[b, o, f] = sum x[b, c, i] * w[c, o_local, j]``."""
    return definition(geom, x.shape[0], *w.shape[:2], "y", x=x, w=w)


def assert_definition(got: np.ndarray, expected: tuple[np.ndarray, np.ndarray], what) -> None:
    want, scale = expected
    assert got.shape == want.shape, what
    for test in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(test(got), test(want), err_msg=f"{test.__name__}: {what}")
    finite = np.isfinite(want)
    # each finite entry within 1e-9 of the magnitude of its own terms, or within 1e-12 of the largest
    # entry's: a formulation whose transforms mix a tile (winograd) leaves float64 rounding of its
    # neighbours' size on an entry no term reaches (seen: 1.4e-9 beside entries of 7.5e4)
    tolerance = np.maximum(1e-9 * (1 + scale[finite]), 1e-12 * (1 + scale.max(initial=0.0)))
    np.testing.assert_array_less(np.abs(got[finite] - want[finite]), tolerance, err_msg=str(what))


def arrays(draw, geom, a_g, b_g, batch, rate):
    """``x`` ``(N, C_in, *n)`` and the transposed conv's ``w`` ``(C_in, C_out/g, *k)``."""
    g = geom.groups
    return (values(draw, (batch, a_g * g) + geom.in_size, rate), values(draw, (a_g * g, b_g) + geom.kernel, rate))


def conv_arrays(draw, geom, a_g, b_g, batch, rate):
    """The conv's ``x`` ``(N, C_in, *length)``, ``w`` ``(C_out, C_in/g, *k)`` and upstream gradient ``(N, C_out, *size)``."""
    g = geom.groups
    return (values(draw, (batch, a_g * g) + geom.out_size, rate), values(draw, (b_g * g, a_g) + geom.kernel, rate),
            values(draw, (batch, b_g * g) + geom.in_size, rate))


@EXAMPLES
@given(case=cases(), data=st.data())
def test_every_algorithm_but_fft_gives_the_definitions_pattern(case, data):
    geom, a_g, b_g, batch, rate = case
    x, w = arrays(data.draw, geom, a_g, b_g, batch, rate)
    expected = transpose_loops(x, w, geom)
    for name in NOT_FFT:
        # winograd's transforms mix a tile's values: its rounding is bounded by the largest terms
        # around an output, not by the output's own (it runs phase on non-finite inputs)
        want = (expected[0], np.full_like(expected[1], expected[1].max())) if name == "winograd" else expected
        assert_definition(run_geometry(x, w, None, geom, name), want, (name, geom))
    assert_definition(run_geometry(x.astype(np.float32), w.astype(np.float32), None, geom).astype(np.float64),
                      (expected[0], np.full_like(expected[1], 1e4 * expected[1].max())), ("auto float32", geom))


@EXAMPLES
@given(case=cases(), data=st.data())
def test_conv_gives_the_definitions_pattern(case, data):
    geom, a_g, b_g, batch, rate = case
    x, w, _ = conv_arrays(data.draw, geom, a_g, b_g, batch, rate)
    assert_definition(run_conv_geometry(x, w, None, geom), definition(geom, x.shape[0], *w.shape[:2], "x", w=w, y=x), geom)


@EXAMPLES
@given(case=cases(), data=st.data())
def test_transpose_gradients_give_the_definitions_pattern(case, data):
    geom, a_g, b_g, batch, rate = case
    x, w = arrays(data.draw, geom, a_g, b_g, batch, rate)
    gy = values(data.draw, (batch, b_g * geom.groups) + geom.out_size, rate)
    gx, gw, gb = transpose_backward_geometry(gy, x, w, geom)
    assert_definition(gx, definition(geom, gy.shape[0], *w.shape[:2], "x", w=w, y=gy), ("grad_input", geom))
    assert_definition(gw, definition(geom, x.shape[0], *w.shape[:2], "w", x=x, y=gy), ("grad_weight", geom))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(np.isnan(gb), np.isnan(gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))))


@EXAMPLES
@given(case=cases(), data=st.data())
def test_conv_gradients_give_the_definitions_pattern(case, data):
    geom, a_g, b_g, batch, rate = case
    x, w, gy = conv_arrays(data.draw, geom, a_g, b_g, batch, rate)
    gx, gw, _ = conv_backward_geometry(gy, x, w, geom)
    assert_definition(gx, definition(geom, gy.shape[0], *w.shape[:2], "y", w=w, x=gy), ("grad_input", geom))
    assert_definition(gw, definition(geom, gy.shape[0], *w.shape[:2], "w", x=gy, y=x), ("grad_weight", geom))


@pytest.mark.slow
@LONG
@given(case=cases(), data=st.data())
def test_every_algorithm_and_gradient_long_run(case, data):
    test_every_algorithm_but_fft_gives_the_definitions_pattern.hypothesis.inner_test(case, data)
    test_conv_gives_the_definitions_pattern.hypothesis.inner_test(case, data)
    test_transpose_gradients_give_the_definitions_pattern.hypothesis.inner_test(case, data)
    test_conv_gradients_give_the_definitions_pattern.hypothesis.inner_test(case, data)


def test_the_issues_example_has_27_nans_everywhere_but_fft():
    x = np.ones((1, 2, 5, 5))
    x[0, 0, 2, 2] = np.nan
    w = np.ones((2, 3, 3, 3))
    geom = build_transpose("t", (5, 5), (3, 3), (2, 2), (1, 1), ((0, 0), (0, 0)), (0, 0))
    for name in NOT_FFT:
        assert np.isnan(run_geometry(x, w, None, geom, name)).sum() == 27, name
    fft = run_geometry(x, w, None, geom, "fft")
    assert np.isnan(fft).sum() > 27


def test_an_inf_meeting_a_zero_tap_is_nan_only_there():
    x = np.ones((1, 1, 4, 4))
    x[0, 0, 1, 2] = np.inf
    w = np.ones((1, 2, 3, 3))
    w[0, 1, 1, 1] = 0.0
    geom = build_transpose("t", (4, 4), (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)), (1, 1))
    expected = transpose_loops(x, w, geom)
    assert np.isnan(expected[0]).sum() == 1 and np.isposinf(expected[0]).sum() == 17
    for name in NOT_FFT:
        assert_definition(run_geometry(x, w, None, geom, name), expected, name)


def test_many_non_finite_entries_run_the_definition():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1e3, 1e3, (2, 4, 6, 6))
    x[rng.random(x.shape) < 0.6] = np.inf
    w = rng.uniform(-1e3, 1e3, (4, 3, 3, 3))
    w[0, 0, 0, 0] = 0.0
    geom = build_transpose("t", (6, 6), (3, 3), (2, 2), (1, 1), ((1, 0), (0, 1)), (1, 0), 2)
    expected = transpose_loops(x, w, geom)
    for name in NOT_FFT:
        assert_definition(run_geometry(x, w, None, geom, name), expected, name)


def test_finite_inputs_run_as_before():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    geom = build_transpose("t", (6, 6), (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)), (1, 1))
    for name in algorithms.IMPLEMENTATIONS:
        np.testing.assert_array_equal(run_geometry(x, w, None, geom, name),
                                      algorithms.IMPLEMENTATIONS[name](x, w, geom))


@EXAMPLES
@given(case=cases(), data=st.data())
def test_fft_is_finite_where_the_definition_is_for_finite_inputs_and_spreads_the_others(case, data):
    geom, a_g, b_g, batch, rate = case
    x, w = arrays(data.draw, geom, a_g, b_g, batch, 0.0)
    assert np.isfinite(run_geometry(x, w, None, geom, "fft")).all()
    x.flat[data.draw(st.integers(0, x.size - 1))] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    with np.errstate(invalid="ignore", over="ignore"):
        y = run_geometry(x, w, None, geom, "fft")
    want = transpose_loops(x, w, geom)[0]
    # non-finite wherever the definition is (and usually far beyond: the transform mixes every input)
    assert not np.isfinite(y[~np.isfinite(want)]).any()
