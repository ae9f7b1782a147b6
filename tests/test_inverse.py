"""tconv.inverse: the articles' 5x5 example recovered as far as the data allow; the operator's adjointness."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv import inverse

# The articles' TensorFlow example: a 5x5 input, a 2x2 kernel, stride 2, SAME padding (0 before, 1 after).
X5 = np.arange(1.0, 26.0).reshape(1, 1, 5, 5)
W2 = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
SAME = ((0, 1), (0, 1))


def test_transposed_conv_restores_the_size_not_the_values():
    y = tconv.conv(X5, W2, stride=2, padding=SAME)
    assert y.shape == (1, 1, 3, 3)
    back = tconv.conv_transpose(y, W2, stride=2, padding=SAME, output_size=(5, 5))
    assert back.shape == X5.shape
    assert not np.allclose(back, X5, rtol=0.1)


@pytest.mark.parametrize("method", ["cg", "lsqr"])
def test_solve_gives_the_minimum_norm_solution(method):
    y = tconv.conv(X5, W2, stride=2, padding=SAME)
    r = inverse.solve(y, W2, input_shape=X5.shape, stride=2, padding=SAME, method=method, tol=1e-12)
    again = tconv.conv(r.x, W2, stride=2, padding=SAME)
    assert np.linalg.norm(again - y) <= 1e-8 * np.linalg.norm(y)
    A = inverse.operator(W2, X5.shape, stride=2, padding=SAME)
    dense = A @ np.eye(A.shape[1])
    np.testing.assert_allclose(r.x.ravel(), np.linalg.pinv(dense) @ y.ravel(), atol=1e-8)
    assert not np.allclose(r.x, X5, rtol=0.1)  # 9 numbers cannot give back 25
    assert r.converged and r.residual_norm <= 1e-8 * np.linalg.norm(y)


@pytest.mark.parametrize("method", ["cg", "lsqr"])
def test_injective_conv_recovers_the_input(method):
    w = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    y = tconv.conv(X5, w, padding=1)
    r = inverse.solve(y, w, input_shape=X5.shape, padding=1, method=method, tol=1e-12)
    assert np.linalg.norm(r.x - X5) <= 1e-8 * np.linalg.norm(X5)


@pytest.mark.parametrize("boundary", inverse.BOUNDARIES)
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(groups=2, dilation=2, padding=(1, 2))])
def test_operator_is_exactly_adjoint(boundary, kw):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 2 if kw.get("groups") else 4, 3, 2))
    A = inverse.operator(w, (2, 4, 9, 8), boundary=boundary, **kw)
    u, v = rng.standard_normal(A.shape[1]), rng.standard_normal(A.shape[0])
    assert np.isclose(np.vdot(A.matvec(u), v), np.vdot(u, A.rmatvec(v)), rtol=1e-12)
    assert A.output_shape[0] == 2 and np.prod(A.output_shape) == A.shape[0]


def test_circular_boundary_is_periodic():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 1, 6)), rng.standard_normal((1, 1, 3))
    A = inverse.operator(w, x.shape, padding=((1, 1),), boundary="circular")
    expect = tconv.conv(np.concatenate([x[..., -1:], x, x[..., :1]], -1), w)
    np.testing.assert_allclose(A.matvec(x.ravel()), expect.ravel(), atol=1e-12)


@pytest.mark.parametrize("reg", ["l1", "l2", "tv"])
def test_fista_decreases_and_matches_its_regulariser(reg):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((2, 1, 3, 3))
    x = np.zeros((1, 1, 10, 10))
    x[0, 0, 3:7, 2:6] = 1.0
    y = tconv.conv(x, w, padding=1) + 0.01 * rng.standard_normal((1, 2, 10, 10))
    r = inverse.solve(y, w, input_shape=x.shape, padding=1, method="fista", reg=reg, lam=0.05, max_iter=400)
    h = np.array(r.objective)
    assert h[-1] < h[0] and h[-1] <= h.min() * (1 + 1e-6)
    assert np.linalg.norm(r.x - x) < 0.3 * np.linalg.norm(x)
    if reg == "l2":  # the closed form (A^T A + lam) x = A^T y
        A = inverse.operator(w, x.shape, padding=1)
        dense = A @ np.eye(A.shape[1])
        exact = np.linalg.solve(dense.T @ dense + 0.05 * np.eye(100), dense.T @ y.ravel())
        np.testing.assert_allclose(r.x.ravel(), exact, atol=1e-5)


def test_l2_by_cg_and_lsqr_agree():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((1, 1, 4))
    y = rng.standard_normal((1, 1, 7))
    a = inverse.solve(y, w, input_shape=(10,), method="cg", reg="l2", lam=0.3, tol=1e-12)
    b = inverse.solve(y, w, input_shape=(10,), method="lsqr", reg="l2", lam=0.3, tol=1e-12)
    np.testing.assert_allclose(a.x, b.x, atol=1e-8)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="cg", reg="l1", lam=1.0), "reg must be one of None, 'l2' with method='cg'"),
        (dict(method="fista", reg=None), "reg must be one of 'l1', 'l2', 'tv' with method='fista'"),
        (dict(method="newton"), "method must be one of"),
        (dict(reg=None, lam=1.0), "lam must be 0 with reg=None"),
        (dict(method="fista", reg="l1", lam=-1.0), "lam must be >= 0"),
        (dict(tol=0.0), "tol must be > 0"),
        (dict(boundary="reflect"), "boundary must be one of"),
        (dict(input_shape=(5,)), "input_shape must be"),
    ],
)
def test_bad_inputs_are_refused(kwargs, match):
    y = np.ones((1, 1, 4, 4))
    args = dict(input_shape=(5, 5)) | kwargs
    with pytest.raises(tconv.TconvError, match=match) as err:
        inverse.solve(y, np.ones((1, 1, 2, 2)), **args)
    assert str(err.value).startswith("tconv.inverse.solve: ")


def test_y_of_the_wrong_shape_is_refused_and_left_alone():
    y = np.ones((1, 1, 3, 3))
    before = y.copy()
    with pytest.raises(tconv.TconvError, match=r"y must have the conv's output shape \(1, 1, 4, 4\)"):
        inverse.solve(y, np.ones((1, 1, 2, 2)), input_shape=(5, 5))
    np.testing.assert_array_equal(y, before)
