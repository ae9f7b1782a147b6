"""The paper's inference for ``0 < p <= 1``: an auxiliary variable and continuation on ``beta``.

Zeiler et al. (after Krishnan and Fergus) split ``E`` with ``x ~ z``:

    ``lam/2 * ||D z - y||^2 + beta/2 * ||z - x||^2 + sum |x|^p``

and alternate two easy steps while ``beta`` grows from ``BETA0`` by ``BETA_RATE``
per round to ``BETA_MAX``:

- ``x``: per entry ``argmin_x |x|^p + beta/2 (x - z)^2``, read from a lookup table
  (:func:`shrink_table`) built once for ``beta = 1``: the minimiser scales as
  ``x(z; beta) = c * x(z / c; 1)`` with ``c = beta^(-1/(2 - p))``;
- ``z``: a few conjugate-gradient steps on ``(lam D^T D + beta) z = lam D^T y + beta x``,
  warm-started, on tconv's own ``conv`` / ``conv_transpose`` (any boundary, any stride).
"""

from __future__ import annotations

import numpy as np

from .problem import InferResult, Problem

__all__ = ["solve_continuation", "shrink_table"]

BETA0, BETA_RATE, BETA_MAX = 1.0, 2.0 ** 0.5, 1e5
CG_STEPS = 3
TABLE_SIZE, TABLE_RANGE = 4096, 8.0


def shrink_table(p: float) -> tuple[np.ndarray, np.ndarray]:
    """``(w, u(w))`` with ``u(w) = argmin_u |u|^p + (u - w)^2 / 2`` for ``w`` in ``[0, TABLE_RANGE]``.

    For ``u > 0`` the stationary point solves ``u - w + p u^(p-1) = 0``, whose larger
    root Newton reaches monotonically from ``u = w`` (the left side is convex); the
    minimiser is that root or ``0``, whichever has the lower energy.
    """
    w = np.linspace(0.0, TABLE_RANGE, TABLE_SIZE)
    if p == 1:
        return w, np.maximum(w - 1.0, 0.0)
    u = w.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(60):
            h = u - w + p * u ** (p - 1)
            dh = 1 + p * (p - 1) * u ** (p - 2)
            u = np.where(u > 0, u - h / dh, 0.0)
            u = np.where(np.isfinite(u) & (u > 0), u, 0.0)
        energy = u ** p + 0.5 * (u - w) ** 2
    u = np.where(energy < 0.5 * w * w, u, 0.0)
    return w, u


def _shrink(v: np.ndarray, beta: float, p: float, table: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    c = beta ** (-1.0 / (2.0 - p))
    w = np.abs(v) / c
    grid, values = table
    inside = np.interp(w, grid, values)
    # past the table the minimiser is one Newton step from w (the penalty's pull is small there)
    far = w - p * np.maximum(w, 1e-30) ** (p - 1)
    out = np.where(w <= grid[-1], inside, far) * c
    return np.copysign(out, v).astype(v.dtype, copy=False)


def solve_continuation(prob: Problem, y: np.ndarray, lam: float, p: float, *, max_iter: int, tol: float,
                       callback) -> InferResult:
    """One round per iteration: shrink ``x``, then :data:`CG_STEPS` CG steps on ``z``; ``beta *= BETA_RATE``."""
    dtype = y.dtype
    table = shrink_table(p)
    rhs_data = lam * prob.analysis(y)
    z = np.zeros(rhs_data.shape, dtype)
    beta = BETA0
    history: list[float] = []
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        x = _shrink(z, beta, p, table)
        z_old = z
        z = _cg(prob, lam, beta, rhs_data + beta * x, z)
        energy = prob.energy(y, x, lam, p)
        history.append(energy)
        if callback is not None and callback(it, x, energy):
            break
        if beta >= BETA_MAX and tol > 0:
            change = float(np.linalg.norm(z - z_old)) / max(float(np.linalg.norm(z)), 1e-300)
            if change <= tol:
                converged = True
                break
        beta = min(beta * BETA_RATE, BETA_MAX)
    x = _shrink(z, beta, p, table)
    return InferResult(z=x, objective=history, iterations=it, converged=converged, method="continuation")


def _cg(prob: Problem, lam: float, beta: float, b: np.ndarray, z: np.ndarray) -> np.ndarray:
    """:data:`CG_STEPS` conjugate-gradient steps on ``(lam D^T D + beta) z = b`` from ``z``."""

    def normal(v):
        return lam * prob.analysis(prob.synth(v)) + beta * v

    r = b - normal(z)
    d = r.copy()
    rr = float(np.vdot(r, r))
    for _ in range(CG_STEPS):
        if rr == 0:
            break
        ad = normal(d)
        alpha = rr / float(np.vdot(d, ad))
        z = z + alpha * d
        r = r - alpha * ad
        rr_new = float(np.vdot(r, r))
        d = r + (rr_new / rr) * d
        rr = rr_new
    return z.astype(b.dtype, copy=False)
