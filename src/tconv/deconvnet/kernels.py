"""The two memory-bound passes of one ADMM iteration with one image channel, fused.

Between its FFTs an ADMM iteration reads and writes ``K`` maps several times;
these loops do each half in one pass: :func:`xstep` is the Sherman-Morrison
solve at every frequency (it also yields ``D x`` for free), :func:`zstep` the
relaxation, shrinkage, multiplier update and every norm the stopping and
penalty rules need. numba compiles them when it is installed (the ``fast``
extra, parallel over frequencies / entries); otherwise the NumPy versions,
which compute the same formulas, run.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["xstep", "zstep"]


def xstep_numpy(bz: np.ndarray, df: np.ndarray, dd: np.ndarray, g: np.ndarray, a: float, c: float) -> np.ndarray:
    """``x = (D^H D + c)^{-1} (a*bz + D^H g)`` per frequency, in place on ``bz``; returns ``D x``.

    ``bz`` is ``(N, K, F)``, ``df`` ``(K, F)`` (``D``), ``dd = sum |df|^2``, ``g`` ``(N, F)``.
    Sherman-Morrison: ``D b = a*D bz + dd*g``, ``w = D b / (c + dd)``, ``x = (a*bz + D^H (g - w)) / c``, ``D x = w``.
    """
    db = np.einsum("kf,nkf->nf", df, bz)
    db *= a
    db += dd * g
    db /= c + dd
    bz *= a
    bz += np.conj(df) * (g - db)[:, None]
    bz /= c
    return db


def zstep_numpy(x, z, u, nxt, relax: float, t: float, keep) -> tuple[float, ...]:
    """Relax, shrink and update in place: ``v = relax*x - (relax-1)*z + u``, ``z' = soft(v, t)*keep``, ``u' = v - z'``.

    Writes ``z'`` into ``z``, ``u'`` into ``u`` and ``z' - u'`` (the next FFT's input) into ``nxt``; returns
    ``(||x - z'||^2, ||x||^2, ||z'||^2, ||z' - z||^2, ||u'||^2, sum |x|)``.
    """
    v = relax * x
    v -= (relax - 1) * z
    v += u
    new = np.abs(v)
    new -= t
    np.maximum(new, 0, out=new)
    np.copysign(new, v, out=new)
    if keep is not None:
        new *= keep
    dz = new - z
    out = (_sq(x - new), _sq(x), _sq(new), _sq(dz), 0.0, float(np.abs(x).sum(dtype=np.float64)))
    z[...] = new
    np.subtract(v, new, out=u)
    np.subtract(new, u, out=nxt)
    return out[:4] + (_sq(u),) + out[5:]


def _sq(a: np.ndarray) -> float:
    return float(np.vdot(a, a))


@functools.lru_cache(maxsize=None)
def _compiled():
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def xstep_nb(bz, df, dd, g, a, c):
        n, k, f = bz.shape
        db = np.empty((n, f), bz.dtype)
        for i in range(n):
            for j in numba.prange(f):
                acc = 0j
                for m in range(k):
                    acc += df[m, j] * bz[i, m, j]
                w = (a * acc + dd[j] * g[i, j]) / (c + dd[j])
                db[i, j] = w
                h = g[i, j] - w
                for m in range(k):
                    bz[i, m, j] = (a * bz[i, m, j] + np.conj(df[m, j]) * h) / c
        return db

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def zstep_nb(x, z, u, nxt, relax, t, keep, use_keep):
        size = x.size
        q = keep.size
        s0 = s1 = s2 = s3 = s4 = s5 = 0.0
        for i in numba.prange(size):
            xi = x[i]
            zi = z[i]
            v = relax * xi - (relax - 1) * zi + u[i]
            mag = abs(v) - t
            nz = 0.0
            if mag > 0:
                nz = mag if v > 0 else -mag
            if use_keep and not keep[i % q]:
                nz = 0.0
            un = v - nz
            z[i] = nz
            u[i] = un
            nxt[i] = nz - un
            s0 += (xi - nz) * (xi - nz)
            s1 += xi * xi
            s2 += nz * nz
            s3 += (nz - zi) * (nz - zi)
            s4 += un * un
            s5 += abs(xi)
        return s0, s1, s2, s3, s4, s5

    return xstep_nb, zstep_nb


def xstep(bz: np.ndarray, df: np.ndarray, dd: np.ndarray, g: np.ndarray, a: float, c: float) -> np.ndarray:
    """:func:`xstep_numpy`, compiled when numba is installed (same arguments, flattened frequencies)."""
    kern = _compiled()
    if kern is None:
        return xstep_numpy(bz, df, dd, g, a, c)
    n, k = bz.shape[:2]
    flat = bz.reshape(n, k, -1)
    out = kern[0](flat, df.reshape(k, -1), dd.reshape(-1), g.reshape(n, -1), bz.real.dtype.type(a),
                  bz.real.dtype.type(c))
    return out.reshape((n,) + bz.shape[2:])


def zstep(x, z, u, nxt, relax: float, t: float, keep) -> tuple[float, ...]:
    """:func:`zstep_numpy`, compiled when numba is installed."""
    kern = _compiled()
    if kern is None:
        return zstep_numpy(x, z, u, nxt, relax, t, keep)
    use = keep is not None
    flat_keep = keep.reshape(-1) if use else np.ones(1, np.bool_)
    dt = x.dtype.type
    return kern[1](x.reshape(-1), z.reshape(-1), u.reshape(-1), nxt.reshape(-1), dt(relax), dt(t), flat_keep, use)
