"""ADMM for convolutional sparse coding in the frequency domain (Wohlberg, IEEE TIP 25(1), 2016).

In SPORCO's scaling, ``min_z 0.5*||W (D z - s)||^2 + mu*||z||_1`` with ``mu = 1 / lam``.
Every boundary and stride becomes one periodic problem on a grid of ``Q`` points per axis:

- **stride** ``s``: the fine image (``P = s*Q`` points) splits into ``s^d`` phases,
  ``y[s*u + phi] = sum_k (z_k (*) f_k^phi)[u]`` with the polyphase filters
  ``f^phi[v] = f[s*v + phi]``: a periodic problem on the coarse grid with
  ``R = C * s^d`` "channels";
- **zero / valid**: the grid is padded to a fast FFT length past where the
  synthesis could wrap; the image is a mask ``W`` on the grid (mask decoupling,
  Heide et al. 2015), and z is zero off its support (folded into the l1 prox).

The x-step solves ``(D^H D + c I) x = b`` independently at each frequency, where
``D(w)`` is ``R x K``: by Woodbury, ``x = (b - D^H (c I + D D^H)^{-1} D b) / c``, an
``R x R`` solve (Sherman-Morrison's scalar for ``R = 1``). The penalty ``rho`` adapts
by residual balancing, and over-relaxation ``1.8`` is used, as SPORCO does.
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels
from .problem import InferResult, Problem

__all__ = ["solve_admm", "Grid"]

#: Over-relaxation and residual balancing (Wohlberg's adaptive penalty, 2015): SPORCO's defaults.
RELAX = 1.8
RSDL_RATIO = 1.2
RHO_SCALING = 1000.0
#: Iterations between penalty updates, and the last one: a penalty that keeps changing can stall
#: over-relaxed ADMM (Boyd et al. 2011, 3.4.1: convergence needs it fixed eventually).
PERIOD = 10
LAST_UPDATE = 200


class Grid:
    """The periodic coarse grid of one :class:`~tconv.deconvnet.infer.Problem`, and its transforms."""

    def __init__(self, prob: Problem, dtype: np.dtype):
        from scipy import fft

        self.fft = fft
        f = prob.filters
        k, n, s, m = f.shape[2:], prob.image, prob.stride, prob.z
        self.nd = len(n)
        self.axes = tuple(range(2, 2 + self.nd))
        if prob.boundary == "circular":
            q, self.offset = m, (0,) * self.nd
        else:
            past_wrap = tuple(-(-(ni + ki - 1) // si) if prob.boundary == "zero" else -(-ni // si)
                              for ni, ki, si in zip(n, k, s))
            q = tuple(fft.next_fast_len(max(mi, w), real=True) for mi, w in zip(m, past_wrap))
            self.offset = tuple(ki - 1 for ki in k) if prob.boundary == "zero" else (0,) * self.nd
        self.q, self.s, self.m, self.n = q, s, m, n
        self.masked = prob.boundary != "circular"
        self.support = None if q == m else tuple(slice(0, mi) for mi in m)
        self.dtype = dtype
        kc = tuple(-(-ki // si) for ki, si in zip(k, s))
        wide = np.zeros(f.shape[:2] + tuple(c * si for c, si in zip(kc, s)), dtype)
        wide[(slice(None), slice(None)) + tuple(slice(0, ki) for ki in k)] = f
        phases = self.phases(wide)  # (K, R, *kc)
        self.df = fft.rfftn(phases, s=q, axes=self.axes)  # (K, R, *F)
        self.r = phases.shape[1]

    def phases(self, a: np.ndarray) -> np.ndarray:
        """``(N, C, *s*q)`` -> ``(N, C * prod(s), *q)``: the fine grid split into its stride phases."""
        if all(si == 1 for si in self.s):
            return a
        lead = a.shape[:2]
        coarse = tuple(p // si for p, si in zip(a.shape[2:], self.s))
        split = a.reshape(lead + tuple(v for pair in zip(coarse, self.s) for v in pair))
        order = (0, 1) + tuple(3 + 2 * i for i in range(self.nd)) + tuple(2 + 2 * i for i in range(self.nd))
        return split.transpose(order).reshape((lead[0], lead[1] * math.prod(self.s)) + coarse)

    def place(self, y: np.ndarray) -> np.ndarray:
        """The images on the fine grid at their offset, split into phases."""
        fine = np.zeros(y.shape[:2] + tuple(qi * si for qi, si in zip(self.q, self.s)), self.dtype)
        fine[(slice(None), slice(None)) + tuple(slice(o, o + ni) for o, ni in zip(self.offset, self.n))] = y
        return self.phases(fine)

    def rfft(self, a: np.ndarray) -> np.ndarray:
        return self.fft.rfftn(a, axes=self.axes)

    def irfft(self, a: np.ndarray) -> np.ndarray:
        return self.fft.irfftn(a, s=self.q, axes=self.axes)

    def gram_inverse(self, c: float) -> np.ndarray | None:
        """``(c I + D D^H)^{-1}`` per frequency, ``(R, R, *F)``; ``None`` for ``R = 1`` (a scalar, see :meth:`solve`)."""
        if self.r == 1:
            return None
        d = np.moveaxis(self.df, (0, 1), (-1, -2))  # (*F, R, K)
        gram = d @ np.conj(np.swapaxes(d, -1, -2)) + c * np.eye(self.r)
        return np.moveaxis(np.linalg.inv(gram), (-2, -1), (0, 1)).astype(self.df.dtype)

    def apply(self, xf: np.ndarray) -> np.ndarray:
        """``D x`` per frequency: ``(N, K, *F)`` -> ``(N, R, *F)``."""
        return np.einsum("kr...,nk...->nr...", self.df, xf)

    def apply_h(self, bf: np.ndarray) -> np.ndarray:
        """``D^H b`` per frequency: ``(N, R, *F)`` -> ``(N, K, *F)``."""
        return np.einsum("kr...,nr...->nk...", np.conj(self.df), bf)

    def solve(self, b: np.ndarray, c: float, inv: np.ndarray) -> np.ndarray:
        """``(D^H D + c I)^{-1} b`` per frequency (Woodbury, ``inv`` from :meth:`gram_inverse`), in place on ``b``."""
        db = np.einsum("rt...,nt...->nr...", inv, self.apply(b))
        b -= self.apply_h(db)
        b /= c
        return b


def _rho_factor(r: float, s: float, xi: float) -> float:
    """Residual balancing: grow ``rho`` when the primal residual dominates, shrink it when the dual does."""
    if r > xi * RSDL_RATIO * s:
        return min(math.sqrt(r / (s * xi)), RHO_SCALING) if s > 0 else RHO_SCALING
    if s > RSDL_RATIO / xi * r:
        return 1 / (min(math.sqrt(s * xi / r), RHO_SCALING) if r > 0 else RHO_SCALING)
    return 1.0


def solve_admm(prob: Problem, y: np.ndarray, lam: float, *, max_iter: int, tol: float, callback) -> InferResult:
    """ADMM on :class:`Grid`; ``E`` is recorded for the primal iterate ``x``, the result is the sparse ``z`` block.

    Unmasked (circular): ``x = (D^H D + rho)^{-1} (D^H s + rho (z - u))``. Masked: the split
    ``y0 = D x`` carries the data term, ``x = (D^H D + 1)^{-1} (D^H (y0 - u0) + z - u)``.
    """
    dtype = y.dtype
    grid = Grid(prob, dtype)
    mu = 1.0 / lam
    s_img = grid.place(y)  # (N, R, *q)
    shape = (y.shape[0], prob.filters.shape[0]) + grid.q
    crop = (slice(None), slice(None)) + tuple(slice(0, mi) for mi in grid.m)
    one = grid.r == 1
    df1 = grid.df[:, 0] if one else None
    dd = (df1.real ** 2 + df1.imag ** 2).sum(0).astype(dtype) if one else None
    z, u, nxt, x = (np.zeros(shape, dtype) for _ in range(4))  # nxt = z - u, the next FFT's input
    keep = None
    if grid.support is not None:  # z is zero off its support: the prox of l1 plus that constraint
        keep = np.zeros(grid.q, bool)
        keep[grid.support] = True
    rho = 50.0 * mu + 1.0  # SPORCO's starting penalty (Wohlberg 2016)
    if grid.masked:
        mask = grid.place(np.ones((1, y.shape[1]) + grid.n, dtype)) > 0
        y0, u0 = np.zeros_like(s_img), np.zeros_like(s_img)
        xi, inv = 1.0, grid.gram_inverse(1.0)
    else:
        sf = grid.rfft(s_img)
        xi, inv = 1 + 18.3 ** (math.log10(mu) + 1), grid.gram_inverse(rho)
    history: list[float] = []
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        bz = grid.rfft(nxt)
        g, a = (grid.rfft(y0 - u0), 1.0) if grid.masked else (sf, rho)
        if one:
            dxf = kernels.xstep(bz, df1, dd, g[:, 0], a, a)[:, None]
            xf = bz
        else:
            bz *= a
            bz += grid.apply_h(g)
            xf = grid.solve(bz, a, inv)
            dxf = grid.apply(xf)
        x[...] = grid.irfft(xf)
        dx = grid.irfft(dxf)  # (N, R, *q): the synthesis of x
        resid = dx - s_img
        if grid.masked:
            resid *= mask
        rr, xx, zz, dz, uu, l1 = kernels.zstep(x, z, u, nxt, RELAX, mu / rho, keep)
        energy = lam * (0.5 * float(np.vdot(resid, resid)) + mu * l1)
        history.append(energy)
        if grid.masked:  # the data block: y0 = argmin 0.5*||W(y0 - s)||^2 + rho/2*||y0 - v0||^2
            v0 = RELAX * dx - (RELAX - 1) * y0 + u0
            y0_new = np.where(mask, (s_img + rho * v0) / (1 + rho), v0)
            u0 = v0 - y0_new
            rr += _sq(dx - y0_new)
            xx += _sq(dx)
            zz += _sq(y0_new)
            dz += _sq(y0_new - y0)
            uu += _sq(u0)
            y0 = y0_new
        if callback is not None and callback(it, x[crop], energy):
            break
        r = math.sqrt(rr) / max(math.sqrt(xx), math.sqrt(zz), 1e-300)
        s = math.sqrt(dz) / max(math.sqrt(uu), 1e-300)
        if tol > 0 and r <= tol and s <= tol:
            converged = True
            break
        if 1 < it <= LAST_UPDATE and it % PERIOD == 0:
            factor = _rho_factor(r, s, xi)
            if factor != 1.0:
                rho *= factor
                u /= factor
                np.subtract(z, u, out=nxt)
                if grid.masked:
                    u0 /= factor
                else:
                    inv = grid.gram_inverse(rho)
    return InferResult(z=np.ascontiguousarray(z[crop]), objective=history, iterations=it, converged=converged,
                       method="admm")


def _sq(a: np.ndarray) -> float:
    return float(np.vdot(a, a))
