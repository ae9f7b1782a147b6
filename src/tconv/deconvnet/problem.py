"""The problem :func:`tconv.deconvnet.infer` solves, shared by its solvers: geometry, synthesis, energy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry import Geometry, conv_geometry
from ..ops import run_conv_geometry, run_geometry
from ..padmodes import fold, pad

__all__ = ["InferResult", "Problem", "z_size"]


@dataclass
class InferResult:
    """What :func:`infer` found.

    Attributes
    ----------
    z : ndarray ``(N, K, *z_spatial)``, the feature maps
    objective : list of float, ``E`` per iteration (ADMM: of its primal iterate)
    iterations : int
    converged : bool, the method's stopping rule was met within ``max_iter``
    method : str
    """

    z: np.ndarray
    objective: list[float] = field(default_factory=list)
    iterations: int = 0
    converged: bool = False
    method: str = ""


def z_size(n: int, k: int, s: int, boundary: str) -> int:
    """Feature-map entries along one axis of ``n`` image entries, kernel ``k``, stride ``s``."""
    if boundary == "zero":
        return -(-(n + k - 2) // s) + 1
    if boundary == "valid":
        return (n - k) // s + 1
    return n // s


class Problem:
    """The synthesis ``D`` of one geometry and its adjoint, on tconv's own ops (validated once).

    ``synth(z)`` is ``sum_k conv_transpose(z_k, f_kc)`` cut by the boundary rule;
    ``analysis(r)`` its exact adjoint (``conv`` with the same filters).
    """

    def __init__(self, filters: np.ndarray, image: tuple[int, ...], stride: tuple[int, ...], boundary: str):
        self.filters, self.image, self.stride, self.boundary = filters, image, stride, boundary
        k = filters.shape[2:]
        self.z = tuple(z_size(n, ki, s, boundary) for n, ki, s in zip(image, k, stride))
        self.pairs = None
        if boundary == "zero":  # padding k - 1 before, and whatever makes the length n after
            padding = tuple((ki - 1, (m - 1) * s + 1 - n) for n, ki, s, m in zip(image, k, stride, self.z))
            sizes = image
        elif boundary == "valid":
            padding, sizes = 0, image
        else:  # the synthesis's tail wraps onto its head
            self.pairs = tuple((0, ki - 1) for ki in k)
            padding, sizes = 0, tuple(n + ki - 1 for n, ki in zip(image, k))
        self.geom: Geometry = conv_geometry("deconvnet.infer", sizes, k, stride=stride, padding=padding)

    def synth(self, z: np.ndarray) -> np.ndarray:
        out = run_geometry(z, self.filters, None, self.geom)
        return out if self.pairs is None else fold(out, self.pairs, "circular")

    def analysis(self, r: np.ndarray) -> np.ndarray:
        if self.pairs is not None:
            r = pad(r, self.pairs, "circular")
        return run_conv_geometry(r, self.filters, None, self.geom)

    def energy(self, y: np.ndarray, z: np.ndarray, lam: float, p: float, synth: np.ndarray | None = None) -> float:
        """``E(z)``, in float64 sums."""
        r = (self.synth(z) if synth is None else synth) - y
        data = 0.5 * lam * float(np.vdot(r, r))
        a = np.abs(z)
        return data + float(a.sum(dtype=np.float64) if p == 1 else (a ** p).sum(dtype=np.float64))
