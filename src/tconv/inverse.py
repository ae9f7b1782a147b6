"""Inverse problems: recover ``x`` from ``y = conv(x)``, as far as ``y`` determines it.

A transposed convolution only restores the *size* of a convolution's input;
its values need the inverse problem

    ``x* = argmin_x 0.5 * ||conv(x) - y||^2 + lam * R(x)``.

:func:`operator` is the forward conv as a ``scipy.sparse.linalg.LinearOperator``
(``matvec`` = :func:`tconv.conv`, ``rmatvec`` = :func:`tconv.conv_transpose`, exact
adjoints), so any SciPy solver applies; :func:`solve` runs conjugate gradients on
the normal equations, LSQR, or FISTA (:func:`fista`, shared with
:func:`tconv.deconvnet.infer`).

With no regulariser, CG and LSQR started at zero stay in the range of the
adjoint, so they converge to the minimum-norm least-squares solution: the one
answer the data determine when the conv is not injective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .errors import fail
from .geometry import Geometry, conv_geometry
from .normalise import IntOrSeq, Padding, as_array, as_float, as_int, choice, compute_dtype, is_seq, padding_pairs
from .ops import run_conv_geometry, run_geometry
from .padmodes import check_fold, fold, pad

__all__ = ["BOUNDARIES", "METHODS", "REGULARISERS", "SolveResult", "operator", "solve", "fista", "prox_tv"]

#: How the input is extended past its edges: zeros (the conv's own padding) or periodically.
BOUNDARIES = ("zero", "circular")
#: ``method -> the regularisers it takes``.
REGULARISERS = {"cg": (None, "l2"), "lsqr": (None, "l2"), "fista": ("l1", "l2", "tv")}
METHODS = tuple(REGULARISERS)


@dataclass
class SolveResult:
    """What :func:`solve` found.

    Attributes
    ----------
    x : ndarray, the solution, shape ``input_shape``
    iterations : int
    residual_norm : float, ``||conv(x) - y||``
    objective : list of float, ``0.5*||conv(x) - y||^2 + lam*R(x)`` per iteration
    converged : bool, the method's own stopping rule was met within ``max_iter``
    """

    x: np.ndarray
    iterations: int
    residual_norm: float
    objective: list[float] = field(default_factory=list)
    converged: bool = False


class _Conv:
    """The forward conv and its adjoint on arrays of fixed shapes (validated once)."""

    def __init__(self, func: str, weight: np.ndarray, input_shape: tuple[int, ...], geom: Geometry,
                 pairs: tuple[tuple[int, int], ...] | None):
        self.weight, self.input_shape, self.geom, self.pairs = weight, input_shape, geom, pairs
        self.output_shape = (input_shape[0], weight.shape[0]) + geom.in_size

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.pairs is not None:
            x = pad(x, self.pairs, "circular")
        return run_conv_geometry(x, self.weight, None, self.geom)

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        out = run_geometry(y, self.weight, None, self.geom)
        return out if self.pairs is None else fold(out, self.pairs, "circular")


def _conv(func: str, weight, input_shape, stride, padding, groups, dilation, boundary) -> _Conv:
    weight = as_array(func, "weight", weight)
    if weight.ndim < 3 or min(weight.shape) < 1:
        raise fail(func, f"weight must have shape (C_out, C_in/groups, *k) with at least one spatial dim and no "
                   f"empty dim; got shape {weight.shape}")
    nd = weight.ndim - 2
    groups = as_int(func, "groups", groups, 1)
    if weight.shape[0] % groups:
        raise fail(func, f"groups must divide C_out = weight.shape[0] = {weight.shape[0]}; got groups={groups}")
    c_in = weight.shape[1] * groups
    if not is_seq(input_shape):
        raise fail(func, f"input_shape must be a sequence of ints, (N, C_in, *m) or (*m,); got {input_shape!r}", TypeError)
    shape = tuple(as_int(func, "input_shape", v, 1) for v in input_shape)
    if len(shape) == nd:
        shape = (1, c_in) + shape
    if len(shape) != nd + 2 or shape[1] != c_in:
        raise fail(func, f"input_shape must be (N, C_in={c_in}, *m) with {nd} spatial sizes, or the {nd} spatial "
                   f"sizes alone; got {tuple(input_shape)!r}")
    boundary = choice(func, "boundary", boundary, BOUNDARIES)
    pairs = None
    if boundary == "circular":
        pairs = padding_pairs(func, padding, nd)
        check_fold(func, shape[2:], pairs, "circular")
        sizes, padding = tuple(m + lo + hi for m, (lo, hi) in zip(shape[2:], pairs)), 0
    else:
        sizes = shape[2:]
    geom = conv_geometry(func, sizes, weight.shape[2:], stride=stride, padding=padding, dilation=dilation,
                         groups=groups, nd=nd)
    return _Conv(func, weight, shape, geom, pairs)


def operator(
    weight: ArrayLike,
    input_shape: Sequence[int],
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
    boundary: str = "zero",
):
    """The forward conv ``x -> conv(x, weight, ...)`` as a ``scipy.sparse.linalg.LinearOperator``.

    Parameters
    ----------
    weight : array_like, shape ``(C_out, C_in // groups, *k)``
    input_shape : ``(N, C_in, *m)`` or the spatial sizes ``m`` alone (``N = 1``)
    stride, padding, groups, dilation : as in :func:`tconv.conv`
    boundary : ``"zero"`` (the padding is zeros) or ``"circular"`` (the padding repeats the input periodically)

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Acting on flattened arrays: ``matvec`` is the conv, ``rmatvec`` the transposed
        conv with the same weight (its exact adjoint). ``.input_shape`` and
        ``.output_shape`` give the array shapes.

    Examples
    --------
    >>> import numpy as np
    >>> A = operator(np.ones((1, 1, 2)), (4,))
    >>> A.shape, A.matvec(np.arange(4.0))
    ((3, 4), array([1., 3., 5.]))
    """
    from scipy.sparse.linalg import LinearOperator

    op = _conv("inverse.operator", weight, input_shape, stride, padding, groups, dilation, boundary)
    dtype = compute_dtype(op.weight)[0]
    n_in, n_out = math.prod(op.input_shape), math.prod(op.output_shape)

    def matvec(v):
        return op.forward(np.asarray(v, dtype=dtype).reshape(op.input_shape)).ravel()

    def rmatvec(v):
        return op.adjoint(np.asarray(v, dtype=dtype).reshape(op.output_shape)).ravel()

    lin = LinearOperator((n_out, n_in), matvec=matvec, rmatvec=rmatvec, dtype=dtype)
    lin.input_shape, lin.output_shape = op.input_shape, op.output_shape
    return lin


# --------------------------------------------------------------------------
# proximal operators
# --------------------------------------------------------------------------


def _grad(u: np.ndarray, axes: tuple[int, ...]) -> list[np.ndarray]:
    """Forward differences along each axis (zero across the last edge)."""
    out = []
    for ax in axes:
        d = np.zeros_like(u)
        sl_hi = [slice(None)] * u.ndim
        sl_lo = [slice(None)] * u.ndim
        sl_hi[ax], sl_lo[ax] = slice(1, None), slice(None, -1)
        d[tuple(sl_lo)] = u[tuple(sl_hi)] - u[tuple(sl_lo)]
        out.append(d)
    return out


def _div(p: list[np.ndarray], axes: tuple[int, ...]) -> np.ndarray:
    """Minus the adjoint of :func:`_grad`."""
    out = np.zeros_like(p[0])
    for d, ax in zip(p, axes):
        sl_lo = [slice(None)] * d.ndim
        sl_hi = [slice(None)] * d.ndim
        sl_lo[ax], sl_hi[ax] = slice(None, -1), slice(1, None)
        out[tuple(sl_lo)] += d[tuple(sl_lo)]
        out[tuple(sl_hi)] -= d[tuple(sl_lo)]
    return out


def tv(x: np.ndarray) -> float:
    """Isotropic total variation over the spatial axes of ``(N, C, *m)``: ``sum sqrt(sum_axis (grad x)^2)``."""
    g = _grad(x, tuple(range(2, x.ndim)))
    return float(np.sqrt(sum(d * d for d in g)).sum())


def prox_tv(v: np.ndarray, t: float, *, iterations: int = 30) -> np.ndarray:
    """``argmin_x 0.5*||x - v||^2 + t * TV(x)`` by Beck and Teboulle's fast dual projected gradient.

    The dual variable lives in the unit ball per pixel; the step ``1 / (4 * ndim)``
    is the inverse Lipschitz constant of ``grad o div``.
    """
    axes = tuple(range(2, v.ndim))
    if t <= 0:
        return v.copy()
    step = 1.0 / (4 * len(axes) * t)
    p = [np.zeros_like(v) for _ in axes]
    q = [a.copy() for a in p]
    s = 1.0
    for _ in range(iterations):
        g = _grad(v - t * _div(q, axes), axes)
        new = [qi - step * gi for qi, gi in zip(q, g)]  # ascent on the dual of the prox problem
        norm = np.maximum(1.0, np.sqrt(sum(n * n for n in new)))
        new = [n / norm for n in new]
        s_next = (1 + math.sqrt(1 + 4 * s * s)) / 2
        q = [n + (s - 1) / s_next * (n - o) for n, o in zip(new, p)]
        p, s = new, s_next
    return v - t * _div(p, axes)


def _soft(v: np.ndarray, t: float) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - t, 0)


#: ``reg -> (R(x), prox of t*R at v)``; ``l2`` is ``0.5*||x||^2``.
_PENALTIES: dict[str | None, tuple[Callable, Callable]] = {
    None: (lambda x: 0.0, lambda v, t: v),
    "l1": (lambda x: float(np.abs(x).sum()), _soft),
    "l2": (lambda x: 0.5 * float(np.vdot(x, x)), lambda v, t: v / (1 + t)),
    "tv": (tv, prox_tv),
}


# --------------------------------------------------------------------------
# FISTA
# --------------------------------------------------------------------------


def _power_norm2(forward: Callable, adjoint: Callable, shape: tuple[int, ...], dtype, iterations: int = 8) -> float:
    """An estimate (from below) of ``||A||^2`` by power iteration on ``A^T A`` from a fixed seed."""
    v = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    est = 1.0
    for _ in range(iterations):
        v /= np.linalg.norm(v)
        v = adjoint(forward(v))
        est = float(np.linalg.norm(v))
    return est


def fista(
    forward: Callable[[np.ndarray], np.ndarray],
    adjoint: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    x0: np.ndarray,
    penalty: Callable[[np.ndarray], float],
    prox: Callable[[np.ndarray, float], np.ndarray],
    *,
    max_iter: int,
    tol: float,
    callback: Callable | None = None,
    lipschitz: float | None = None,
) -> tuple[np.ndarray, list[float], int, bool]:
    """FISTA with backtracking and adaptive restart for ``0.5*||A x - y||^2 + penalty(x)``.

    Parameters
    ----------
    forward, adjoint : ``A`` and ``A^T`` on arrays
    y : the data; x0 : the start
    penalty : ``x -> value``; prox : ``(v, t) -> argmin_x 0.5*||x - v||^2 + t*penalty(x)``
    max_iter, tol : stop after ``max_iter`` iterations, or when ``||x_k - x_{k-1}|| <= tol * ||x_k||``
    callback : ``callback(k, x, objective)`` after each iteration; a true return value stops
    lipschitz : a starting estimate of ``||A||^2`` (power iteration when omitted)

    Returns
    -------
    (x, objective history, iterations, converged)

    Notes
    -----
    Beck and Teboulle's step with backtracking (``L`` doubles until the
    quadratic model bounds the smooth part), and O'Donoghue and Candes' gradient
    restart (momentum reset when it points uphill). ``A`` is linear, so
    ``A y_k = A x_k + m (A x_k - A x_{k-1})`` comes for free: each iteration costs one
    ``forward`` and one ``adjoint`` (plus one ``forward`` per backtracking step).
    """
    L = lipschitz if lipschitz is not None else _power_norm2(forward, adjoint, x0.shape, x0.dtype)
    x = x0.copy()
    ax = forward(x)
    x_old, ax_old = x, ax
    t = 1.0
    history: list[float] = []
    converged = False
    k = 0
    for k in range(1, max_iter + 1):
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        m = (t - 1) / t_next
        yk = x + m * (x - x_old)
        ay = ax + m * (ax - ax_old)
        g = adjoint(ay - y)
        while True:
            cand = prox(yk - g / L, 1.0 / L)
            ac = forward(cand)
            # the quadratic model bounds f(cand) iff ||A d||^2 <= L ||d||^2 (A is linear: the linear
            # terms cancel exactly, which keeps the test free of rounding near the optimum)
            d, ad = cand - yk, ac - ay
            if float(np.vdot(ad, ad)) <= L * float(np.vdot(d, d)) * (1 + 1e-9):
                break
            L *= 2.0
        if float(np.vdot(yk - cand, cand - x)) > 0:  # momentum points uphill: restart it
            t_next = 1.0
        x_old, ax_old, x, ax, t = x, ax, cand, ac, t_next
        rc = ac - y
        history.append(0.5 * float(np.vdot(rc, rc)) + penalty(x))
        if callback is not None and callback(k, x, history[-1]):
            break
        step = float(np.linalg.norm(x - x_old))
        if step <= tol * max(float(np.linalg.norm(x)), np.finfo(np.float64).tiny):
            converged = True
            break
    return x, history, k, converged


# --------------------------------------------------------------------------
# solve
# --------------------------------------------------------------------------


def solve(
    y: ArrayLike,
    weight: ArrayLike,
    *,
    input_shape: Sequence[int],
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
    boundary: str = "zero",
    method: str = "cg",
    reg: str | None = None,
    lam: float = 0.0,
    tol: float = 1e-8,
    max_iter: int = 1000,
    callback: Callable | None = None,
) -> SolveResult:
    """Recover ``x`` from ``y = conv(x, weight, ...)``: ``argmin_x 0.5*||conv(x) - y||^2 + lam*R(x)``.

    Parameters
    ----------
    y : array_like, shape ``(N, C_out, *out)``, the conv's output
    weight, input_shape, stride, padding, groups, dilation, boundary : as in :func:`operator`
    method : ``"cg"`` (conjugate gradients on the normal equations), ``"lsqr"`` or ``"fista"``
    reg : ``None``, ``"l2"`` (``R = 0.5*||x||^2``), ``"l1"`` (``||x||_1``) or ``"tv"``
        (isotropic total variation); ``cg`` and ``lsqr`` take ``None`` and ``"l2"``,
        ``fista`` takes ``"l1"``, ``"l2"`` and ``"tv"``.
    lam : float >= 0, the regulariser's weight (``0`` with ``reg=None``)
    tol : relative tolerance (SciPy's ``rtol`` for ``cg``, ``atol``/``btol`` for ``lsqr``,
        the relative step for ``fista``)
    max_iter : int >= 1
    callback : called with the current ``x`` (shape ``input_shape``) after each iteration

    Returns
    -------
    SolveResult

    Notes
    -----
    Started at zero and unregularised, ``cg`` and ``lsqr`` converge to the
    minimum-norm least-squares solution ``pinv(A) y``.

    Examples
    --------
    >>> import numpy as np, tconv
    >>> w = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> r = solve(tconv.conv(x, w, padding=1), w, input_shape=x.shape, padding=1, tol=1e-12)
    >>> bool(np.allclose(r.x, x))
    True
    """
    func = "inverse.solve"
    method = choice(func, "method", method, METHODS)
    if reg is not None and not isinstance(reg, str):
        raise fail(func, f"reg must be None or one of 'l1', 'l2', 'tv'; got {reg!r}", TypeError)
    if reg not in REGULARISERS[method]:
        allowed = ", ".join(map(repr, REGULARISERS[method]))
        raise fail(func, f"reg must be one of {allowed} with method={method!r}; got reg={reg!r}")
    lam = as_float(func, "lam", lam, minimum=0.0)
    if reg is None and lam != 0:
        raise fail(func, f"lam must be 0 with reg=None (there is nothing to weight); got lam={lam!r}")
    tol = as_float(func, "tol", tol, positive=True)
    max_iter = as_int(func, "max_iter", max_iter, 1)
    op = _conv(func, weight, input_shape, stride, padding, groups, dilation, boundary)
    y = as_array(func, "y", y)
    if y.shape != op.output_shape:
        raise fail(func, f"y must have the conv's output shape {op.output_shape} for input_shape "
                   f"{op.input_shape}; got shape {y.shape}")
    dtype = compute_dtype(y, op.weight)[0]
    y = y.astype(dtype, copy=False)
    penalty, prox = _PENALTIES[reg]
    history: list[float] = []

    def value(x: np.ndarray) -> float:
        r = op.forward(x) - y
        return 0.5 * float(np.vdot(r, r)) + lam * penalty(x)

    if method == "fista":
        def cb(k, x, f):
            return callback is not None and callback(x)

        x, history, iterations, converged = fista(
            op.forward, op.adjoint, y, np.zeros(op.input_shape, dtype), lambda x: lam * penalty(x),
            lambda v, t: prox(v, lam * t), max_iter=max_iter, tol=tol, callback=cb)
    else:
        from scipy.sparse import linalg as sla

        A = operator(op.weight, op.input_shape, stride=stride, padding=padding, groups=groups, dilation=dilation,
                     boundary=boundary)
        counter = [0]

        def track(xk):
            counter[0] += 1
            xk = np.asarray(xk).reshape(op.input_shape)
            history.append(value(xk))
            if callback is not None:
                callback(xk)

        if method == "cg":
            normal = sla.LinearOperator((A.shape[1],) * 2, dtype=dtype, matvec=lambda v: A.rmatvec(A.matvec(v)) + lam * v)
            b = A.rmatvec(y.ravel())
            flat, info = sla.cg(normal, b, rtol=tol, atol=0.0, maxiter=max_iter, callback=track)
            converged = info == 0
        else:
            out = sla.lsqr(A, y.ravel(), damp=math.sqrt(lam), atol=tol, btol=tol, iter_lim=max_iter)
            flat, istop = out[0], out[1]
            counter[0] = out[2]
            converged = istop in (1, 2, 4, 5) or (istop == 0 and not np.any(y))
            history.append(value(flat.reshape(op.input_shape)))
            if callback is not None:
                callback(flat.reshape(op.input_shape))
        x = np.asarray(flat, dtype=dtype).reshape(op.input_shape)
        iterations = counter[0]
    r = op.forward(x) - y
    return SolveResult(x=x, iterations=iterations, residual_norm=float(np.linalg.norm(r)), objective=history,
                       converged=bool(converged))
