"""Inference of sparse feature maps (placeholder while the solvers land)."""

from __future__ import annotations

BOUNDARIES = ("zero", "valid", "circular")
METHODS = ("fista", "admm", "continuation")


class InferResult:
    pass


def infer(y, filters, lam, *, p=1.0, boundary="zero", stride=1, method=None, max_iter=200, tol=1e-4,
          callback=None, g=None):
    raise NotImplementedError


def synthesize(z, filters, *, boundary="zero", stride=1, image_shape=None):
    raise NotImplementedError


def objective(y, z, filters, lam, *, p=1.0, boundary="zero", stride=1):
    raise NotImplementedError


def z_shape(image_shape, kernel_shape, *, boundary="zero", stride=1):
    raise NotImplementedError
