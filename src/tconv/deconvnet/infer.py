"""Inference in a Deconvolutional Network: sparse feature maps that reconstruct the images.

Zeiler et al. (CVPR 2010) minimise over feature maps ``z``

    ``E(z) = lam/2 * sum_c ||sum_k conv_transpose(z_k, f_kc) - y_c||^2 + sum_k |z_k|^p``

(summed over the batch), the synthesis cut to the image by a boundary rule
(:data:`BOUNDARIES`). With ``p = 1`` this is convolutional basis pursuit
denoising; SPORCO writes it ``0.5*||Dz - s||^2 + lmbda*||z||_1``, whose minimiser
is the same when ``lam = 1 / lmbda`` (``E = lam * F``).

Three methods (:data:`METHODS`):

- ``"admm"`` (:mod:`tconv.deconvnet.admm`): ADMM in the frequency domain with
  Wohlberg's per-frequency solve; the fast path, any boundary, any stride, ``p = 1``.
- ``"fista"``: FISTA with backtracking and restart (:func:`tconv.inverse.fista`) on
  tconv's own ``conv`` / ``conv_transpose``; any boundary, any stride, ``p = 1``.
- ``"continuation"`` (:mod:`tconv.deconvnet.continuation`): the paper's scheme for
  ``0 < p <= 1``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import inverse
from ..errors import fail
from ..normalise import IntOrSeq, as_array, as_float, as_int, choice, compute_dtype, is_seq, per_axis
from .admm import solve_admm
from .continuation import solve_continuation
from .problem import InferResult, Problem, z_size

__all__ = ["BOUNDARIES", "METHODS", "InferResult", "Problem", "infer", "synthesize", "objective", "z_shape"]

#: ``"zero"``: the paper's (z is zero past its ``n + k - 1`` entries, the image is the synthesis's middle);
#: ``"valid"``: no crop (z has ``(n - k) / s + 1`` entries); ``"circular"``: periodic (z has ``n / s``).
BOUNDARIES = ("zero", "valid", "circular")
METHODS = ("admm", "fista", "continuation")


def _check_sizes(func: str, n: Sequence[int], k: Sequence[int], s: Sequence[int], boundary: str) -> None:
    for ax, (ni, ki, si) in enumerate(zip(n, k, s)):
        if boundary == "valid" and ki > ni:
            raise fail(func, f"boundary='valid' needs the filters no larger than the image; axis {ax} has "
                       f"kernel {ki} > image {ni}")
        if boundary == "circular" and (ni % si or ki > ni):
            raise fail(func, f"boundary='circular' needs each image size divisible by the stride and no smaller "
                       f"than the kernel; axis {ax} has image {ni}, kernel {ki}, stride {si}")


def z_shape(image_shape: Sequence[int], kernel_shape: Sequence[int], *, boundary: str = "zero",
            stride: IntOrSeq = 1) -> tuple[int, ...]:
    """The spatial shape of the feature maps for images of spatial shape ``image_shape``.

    ``zero``: ``ceil((n + k - 2) / s) + 1`` (``n + k - 1`` at stride 1); ``valid``:
    ``floor((n - k) / s) + 1``; ``circular``: ``n / s``.

    >>> z_shape((256, 256), (12, 12))
    (267, 267)
    >>> z_shape((256, 256), (12, 12), boundary="circular", stride=2)
    (128, 128)
    """
    func = "deconvnet.z_shape"
    nd = len(image_shape)
    n = per_axis(func, "image_shape", tuple(image_shape), nd, 1)
    k = per_axis(func, "kernel_shape", tuple(kernel_shape), nd, 1)
    s = per_axis(func, "stride", stride, nd, 1)
    boundary = choice(func, "boundary", boundary, BOUNDARIES)
    _check_sizes(func, n, k, s, boundary)
    return tuple(z_size(*a, boundary) for a in zip(n, k, s))


def _filters(func: str, filters, c: int | None, nd: int | None, g) -> np.ndarray:
    filters = as_array(func, "filters", filters)
    if filters.ndim < 3 or min(filters.shape) < 1:
        raise fail(func, f"filters must have shape (K, C, *k) with no empty dim; got shape {filters.shape}")
    if nd is not None and filters.ndim != nd + 2:
        raise fail(func, f"filters must have {nd + 2} dims (K, C, *k) to match {nd} spatial dims; got shape "
                   f"{filters.shape}")
    if c is not None and filters.shape[1] != c:
        raise fail(func, f"filters.shape[1] must equal the image channels C = {c} (layout (K, C, *k)); got shape "
                   f"{filters.shape}")
    if g is None:
        return filters
    g = as_array(func, "g", g)
    if g.shape != filters.shape[:2]:
        raise fail(func, f"g (the connectivity map) must have shape (K, C) = {filters.shape[:2]}; got shape {g.shape}")
    return filters * g.reshape(g.shape + (1,) * (filters.ndim - 2)).astype(filters.dtype)


def _images(func: str, y) -> np.ndarray:
    y = as_array(func, "y", y)
    if y.ndim < 3 or min(y.shape) < 1:
        raise fail(func, f"y must have shape (N, C, *spatial) with at least one spatial dim and no empty dim; got "
                   f"shape {y.shape}")
    return y


def _problem(func: str, filters: np.ndarray, image: tuple[int, ...], stride, boundary) -> Problem:
    boundary = choice(func, "boundary", boundary, BOUNDARIES)
    s = per_axis(func, "stride", stride, len(image), 1)
    _check_sizes(func, image, filters.shape[2:], s, boundary)
    return Problem(filters, image, s, boundary)


def synthesize(z: ArrayLike, filters: ArrayLike, *, boundary: str = "zero", stride: IntOrSeq = 1,
               image_shape: Sequence[int]) -> np.ndarray:
    """The reconstruction ``y_c = sum_k conv_transpose(z_k, f_kc, stride)`` cut by the boundary rule.

    Parameters
    ----------
    z : array_like ``(N, K, *z_spatial)``, with ``z_spatial = z_shape(image_shape, k, boundary, stride)``
    filters : array_like ``(K, C, *k)``
    boundary : one of :data:`BOUNDARIES`
    stride : int or one per spatial dim
    image_shape : the images' spatial shape ``n``

    Returns
    -------
    ndarray ``(N, C, *image_shape)``

    Examples
    --------
    >>> import numpy as np
    >>> synthesize(np.array([[[1.0, 0, 0, 2]]]), np.array([[[1.0, 1]]]), image_shape=(3,))[0, 0]
    array([1., 0., 2.])
    """
    func = "deconvnet.synthesize"
    z = as_array(func, "z", z)
    if not is_seq(image_shape):
        raise fail(func, f"image_shape must be a sequence of ints; got {image_shape!r}", TypeError)
    image = per_axis(func, "image_shape", tuple(image_shape), len(image_shape), 1)
    f = _filters(func, filters, None, len(image), None)
    prob = _problem(func, f, image, stride, boundary)
    if z.ndim != f.ndim or z.shape[1] != f.shape[0] or z.shape[2:] != prob.z:
        raise fail(func, f"z must have shape (N, K={f.shape[0]}, *{prob.z}) for these filters, image and boundary "
                   f"{prob.boundary!r}; got shape {z.shape}")
    return prob.synth(z)


def objective(y: ArrayLike, z: ArrayLike, filters: ArrayLike, lam: float, *, p: float = 1.0,
              boundary: str = "zero", stride: IntOrSeq = 1) -> float:
    """The paper's energy ``lam/2 * ||synthesize(z) - y||^2 + sum |z|^p`` (sums in float64).

    With ``p = 1`` it is ``lam`` times SPORCO's ``0.5*||Dz - y||^2 + (1/lam)*||z||_1``.
    """
    func = "deconvnet.objective"
    y = _images(func, y)
    lam = as_float(func, "lam", lam, positive=True)
    p = _power(func, p)
    synth = synthesize(z, filters, boundary=boundary, stride=stride, image_shape=y.shape[2:])
    if synth.shape != y.shape:
        raise fail(func, f"y must have shape {synth.shape} (the synthesis of z); got shape {y.shape}")
    r = synth - y
    a = np.abs(np.asarray(z, dtype=np.float64))
    return 0.5 * lam * float(np.vdot(r, r)) + float(a.sum() if p == 1 else (a ** p).sum())


def _power(func: str, p) -> float:
    p = as_float(func, "p", p)
    if not 0 < p <= 1:
        raise fail(func, f"p must be in (0, 1]; got {p!r}")
    return p


def infer(
    y: ArrayLike,
    filters: ArrayLike,
    lam: float,
    *,
    p: float = 1.0,
    boundary: str = "zero",
    stride: IntOrSeq = 1,
    method: str | None = None,
    max_iter: int = 200,
    tol: float = 1e-4,
    callback: Callable | None = None,
    g: ArrayLike | None = None,
) -> InferResult:
    """Sparse feature maps ``z`` minimising ``lam/2 * ||synthesize(z) - y||^2 + sum |z|^p``.

    Parameters
    ----------
    y : array_like ``(N, C, *n)``, the images
    filters : array_like ``(K, C, *k)``
    lam : float > 0, the data term's weight (SPORCO's ``lmbda`` is ``1 / lam``)
    p : float in ``(0, 1]``, the sparsity norm's exponent
    boundary : one of :data:`BOUNDARIES`
    stride : int or one per spatial dim; z is coarser than the image by it
    method : ``None`` (``"admm"`` for ``p = 1``, ``"continuation"`` for ``p < 1``) or one of :data:`METHODS`
    max_iter : int >= 1
    tol : float >= 0; ``0`` runs ``max_iter`` iterations. ADMM stops on its relative primal
        and dual residuals, FISTA on the relative step, continuation on the relative
        change of ``z`` at the largest ``beta``.
    callback : ``callback(iteration, z, energy)`` after each iteration (``z`` may be a view
        of the solver's state: copy it to keep it); a true return value stops
    g : array_like ``(K, C)``, optional, the connectivity map (``f_kc`` is used as ``g_kc * f_kc``)

    Returns
    -------
    InferResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> f = rng.standard_normal((4, 1, 3, 3))
    >>> y = rng.standard_normal((1, 1, 16, 16))
    >>> r = infer(y, f, lam=10.0, boundary="circular", max_iter=50)
    >>> r.z.shape, r.objective[-1] < r.objective[0]
    ((1, 4, 16, 16), True)
    """
    func = "deconvnet.infer"
    y = _images(func, y)
    f = _filters(func, filters, y.shape[1], y.ndim - 2, g)
    lam = as_float(func, "lam", lam, positive=True)
    p = _power(func, p)
    if method is None:
        method = "admm" if p == 1 else "continuation"
    method = choice(func, "method", method, METHODS)
    if method != "continuation" and p != 1:
        raise fail(func, f"method={method!r} solves p = 1 only; got p={p!r} (use method='continuation')")
    max_iter = as_int(func, "max_iter", max_iter, 1)
    tol = as_float(func, "tol", tol, minimum=0.0)
    if callback is not None and not callable(callback):
        raise fail(func, f"callback must be callable or None; got {callback!r}", TypeError)
    prob = _problem(func, f, y.shape[2:], stride, boundary)
    dtype = compute_dtype(y, f)[0]
    y = y.astype(dtype, copy=False)
    prob.filters = f.astype(dtype, copy=False)
    if method == "admm":
        return solve_admm(prob, y, lam, max_iter=max_iter, tol=tol, callback=callback)
    if method == "continuation":
        return solve_continuation(prob, y, lam, p, max_iter=max_iter, tol=tol, callback=callback)
    z0 = np.zeros((y.shape[0], f.shape[0]) + prob.z, dtype)
    mu = 1.0 / lam  # FISTA runs in SPORCO's scaling, E = lam * F

    def cb(k, z, value):
        return callback is not None and callback(k, z, lam * value)

    z, history, iterations, converged = inverse.fista(
        prob.synth, prob.analysis, y, z0, lambda z: mu * float(np.abs(z).sum(dtype=np.float64)),
        lambda v, t: _soft(v, mu * t), max_iter=max_iter, tol=tol, callback=cb)
    return InferResult(z=z, objective=[lam * h for h in history], iterations=iterations, converged=converged,
                       method="fista")


def _soft(v: np.ndarray, t: float) -> np.ndarray:
    """``sign(v) * max(|v| - t, 0)`` in ``v``'s dtype."""
    out = np.abs(v)
    out -= t
    np.maximum(out, 0, out=out)
    return np.copysign(out, v, out=out)
