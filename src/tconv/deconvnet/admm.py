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

from .infer import InferResult, Problem

__all__ = ["solve_admm", "Grid"]

#: Over-relaxation and residual balancing (Wohlberg's adaptive penalty, 2015): SPORCO's defaults.
RELAX = 1.8
RSDL_RATIO = 1.2
RHO_SCALING = 1000.0
#: Iterations between penalty updates.
PERIOD = 10


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

    def solve(self, b: np.ndarray, c: float, inv: np.ndarray | None, dd: np.ndarray | None) -> np.ndarray:
        """``(D^H D + c I)^{-1} b`` per frequency (Woodbury), in place on ``b``."""
        db = self.apply(b)
        if inv is None:
            db /= c + dd
        else:
            db = np.einsum("rt...,nt...->nr...", inv, db)
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


def _soft_into(v: np.ndarray, t: float, out: np.ndarray) -> np.ndarray:
    """``out = sign(v) * max(|v| - t, 0)`` without temporaries."""
    np.abs(v, out=out)
    out -= t
    np.maximum(out, 0, out=out)
    return np.copysign(out, v, out=out)


def _norm(*arrays: np.ndarray) -> float:
    return math.sqrt(sum(float(np.vdot(a, a).real) for a in arrays))


def solve_admm(prob: Problem, y: np.ndarray, lam: float, *, max_iter: int, tol: float, callback) -> InferResult:
    """ADMM on :class:`Grid`; ``E`` is recorded for the primal iterate ``x``, the result is the sparse ``y`` block."""
    dtype = y.dtype
    grid = Grid(prob, dtype)
    mu = 1.0 / lam
    s_img = grid.place(y)  # (N, R, *q)
    n_batch, k = y.shape[0], prob.filters.shape[0]
    shape = (n_batch, k) + grid.q
    crop = (slice(None), slice(None)) + tuple(slice(0, mi) for mi in grid.m)
    dd = None if grid.r > 1 else (np.abs(grid.df[:, 0]) ** 2).sum(0).real.astype(dtype)
    z = np.zeros(shape, dtype)  # the l1 block (y1 in the masked case)
    u = np.zeros(shape, dtype)
    x = np.empty(shape, dtype)
    if grid.masked:
        mask = grid.place(np.ones((1, y.shape[1]) + grid.n, dtype)) > 0
        y0, u0 = np.zeros_like(s_img), np.zeros_like(s_img)
        c, period, xi = 1.0, PERIOD, 1.0
        inv = grid.gram_inverse(1.0)
    else:
        dhs = grid.apply_h(grid.rfft(s_img))
        c, period = None, PERIOD
        xi = 1 + 18.3 ** (math.log10(mu) + 1)
    rho = 50.0 * mu + 1.0
    if not grid.masked:
        inv = grid.gram_inverse(rho)
    history: list[float] = []
    converged = False
    it = 0
    scratch = np.empty(shape, dtype)
    keep = None
    if grid.support is not None:  # z is zero off its support: the prox of l1 plus that constraint
        keep = np.zeros(grid.q, bool)
        keep[grid.support] = True
    for it in range(1, max_iter + 1):
        np.subtract(z, u, out=scratch)
        if grid.masked:
            b = grid.rfft(scratch)
            b += grid.apply_h(grid.rfft(y0 - u0))
            xf = grid.solve(b, 1.0, inv, dd)
        else:
            b = grid.rfft(scratch)
            b *= rho
            b += dhs
            xf = grid.solve(b, rho, inv, dd)
        x[...] = grid.irfft(xf)
        dx = grid.irfft(grid.apply(xf))  # (N, R, *q): the synthesis of x
        resid = dx - s_img
        if grid.masked:
            resid *= mask
        energy = lam * (0.5 * float(np.vdot(resid, resid)) + mu * float(np.abs(x).sum(dtype=np.float64)))
        history.append(energy)
        # relaxed x, then the l1 block and its multiplier
        xr = scratch
        np.multiply(x, RELAX, out=xr)
        xr -= (RELAX - 1) * z
        z_old = z
        xr += u
        z = _soft_into(xr, mu / rho, np.empty_like(z))
        if keep is not None:
            z *= keep
        xr -= z
        u, xr = xr, u  # u_new = xr + u_old - z (computed in place into xr)
        scratch = xr
        r_parts, rn_parts, s_parts, sn_parts = [x - z], [x, z], [z - z_old], [u]
        if grid.masked:
            dxr = RELAX * dx - (RELAX - 1) * y0
            v0 = dxr + u0
            y0_new = np.where(mask, (s_img + rho * v0) / (1 + rho), v0)
            u0 = v0 - y0_new
            r_parts += [dx - y0_new]
            rn_parts += [dx, y0_new]
            s_parts += [y0_new - y0]
            sn_parts += [u0]
            y0 = y0_new
        if callback is not None and callback(it, x[crop], energy):
            break
        r = _norm(*r_parts) / max(_norm(*rn_parts[::2]), _norm(*rn_parts[1::2]), 1e-300)
        s = _norm(*s_parts) / max(_norm(*sn_parts), 1e-300)
        if tol > 0 and r <= tol and s <= tol:
            converged = True
            break
        if it > 1 and it % period == 0:
            factor = _rho_factor(r, s, xi)
            if factor != 1.0:
                rho *= factor
                u /= factor
                if grid.masked:
                    u0 /= factor
                else:
                    inv = grid.gram_inverse(rho)
    return InferResult(z=np.ascontiguousarray(z[crop]), objective=history, iterations=it, converged=converged,
                       method="admm")
