"""TEMPORARY stand-in for the inverse helper's ``infer``: plain FISTA on the zero boundary.

Same signature as the real module; only ``boundary="zero"``, ``p=1`` and a
fixed step ``1/L`` (``L`` from power iteration) are supported. Replaced at merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import TconvError
from ..ops import conv, conv_transpose


@dataclass
class InferResult:
    z: np.ndarray
    objective: list = field(default_factory=list)
    iterations: int = 0
    converged: bool = False


def _pairs(image_shape, k, s):
    # zero boundary: padding k - 1 before, the end cut to the image
    out = []
    for n, kk, ss in zip(image_shape, k, s):
        m = -(-(n + kk - 2) // ss) + 1
        out.append((kk - 1, (m - 1) * ss + kk - (kk - 1) - n))
    return tuple(out)


def _map_shape(image_shape, k, s):
    return tuple(-(-(n + kk - 2) // ss) + 1 for n, kk, ss in zip(image_shape, k, s))


def _stride(stride, nd):
    return (stride,) * nd if np.isscalar(stride) else tuple(stride)


def synthesize(z, filters, *, boundary="zero", stride=1, image_shape):
    if boundary != "zero":
        raise TconvError(f"tconv.deconvnet.synthesize: the stand-in knows boundary 'zero' only; got {boundary!r}")
    k = filters.shape[2:]
    s = _stride(stride, len(k))
    return conv_transpose(z, filters, stride=s, padding=_pairs(tuple(image_shape), k, s), algorithm="col2im")


def _analysis(r, filters, stride):
    k = filters.shape[2:]
    s = _stride(stride, len(k))
    return conv(r, filters, stride=s, padding=_pairs(r.shape[2:], k, s))


def objective(y, z, filters, lam, *, p=1.0, boundary="zero", stride=1):
    r = synthesize(z, filters, boundary=boundary, stride=stride, image_shape=y.shape[2:]) - y
    return float(lam / 2 * np.sum(r.astype(np.float64) ** 2) + np.sum(np.abs(z.astype(np.float64)) ** p))


def infer(y, filters, lam, *, p=1.0, boundary="zero", stride=1, method=None, max_iter=200, tol=1e-6,
          callback=None, g=None):
    if p != 1.0:
        raise TconvError(f"tconv.deconvnet.infer: the stand-in knows p=1 only; got {p!r}")
    y = np.asarray(y, dtype=np.float64)
    filters = np.asarray(filters, dtype=np.float64)
    if g is not None:
        filters = filters * np.asarray(g, dtype=np.float64).reshape(filters.shape[:2] + (1,) * (filters.ndim - 2))
    k = filters.shape[2:]
    s = _stride(stride, len(k))
    shape = (y.shape[0], filters.shape[0]) + _map_shape(y.shape[2:], k, s)
    # L = lam * ||A||^2 by power iteration
    v = np.random.default_rng(0).standard_normal(shape)
    for _ in range(12):
        v = _analysis(synthesize(v, filters, stride=s, image_shape=y.shape[2:]), filters, s)
        norm = np.linalg.norm(v)
        if norm == 0:
            break
        v /= norm
    step = 1.0 / (1.1 * lam * max(norm, 1e-12))  # 12 power steps underestimate L
    z = np.zeros(shape)
    w, t = z, 1.0
    history = [objective(y, z, filters, lam, stride=s)]
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        grad = lam * _analysis(synthesize(w, filters, stride=s, image_shape=y.shape[2:]) - y, filters, s)
        u = w - step * grad
        z_new = np.sign(u) * np.maximum(np.abs(u) - step, 0)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        w = z_new + (t - 1) / t_new * (z_new - z)
        history.append(objective(y, z_new, filters, lam, stride=s))
        if history[-1] > history[-2]:  # adaptive restart
            w, t_new = z_new, 1.0
        delta = np.linalg.norm(z_new - z) / max(np.linalg.norm(z_new), 1e-30)
        z, t = z_new, t_new
        if callback is not None:
            callback(it, z)
        if delta < tol:
            converged = True
            break
    return InferResult(z, history, it, converged)
