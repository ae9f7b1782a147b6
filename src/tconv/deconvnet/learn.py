"""Learning a Deconvolutional Network: alternate inference of the maps and updates of the filters.

Zeiler, Krishnan, Taylor and Fergus (CVPR 2010). Layer ``l`` explains its input
``y`` (the images for layer 1, layer ``l-1``'s feature maps above) as
``y_c ~ sum_k z_k (*) (g_{k,c} f_{k,c})`` and minimises, over maps and filters,

    E(z, f) = lam/2 * sum_c ||sum_k g_{k,c} z_k (*) f_{k,c} - y_c||^2 + sum_k |z_k|^p

with every connected filter ``f_{k,c}`` of unit norm. Each epoch infers the maps
for the current filters (:func:`.infer.infer`), then takes projected gradient
steps on the filters: the gradient of the data term is exact (the transposed
conv's weight gradient, a conv of the residual by the maps), the
step starts at the exact line minimiser of that quadratic and is halved until
the unit-norm projection lowers ``E``. New maps are kept only when they lower
``E`` too, so the objective logged per epoch never increases. Layers are learned
one after the other, bottom up; :meth:`DeconvNet.reconstruct` goes back down.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from ..errors import fail
from ..normalise import as_array, as_float, as_int, as_rng, choice, is_seq, per_axis
from ..ops import conv
from .infer import infer, objective, synthesize

__all__ = ["DeconvNet", "EpochLog", "Layer", "learn", "pair_connectivity", "psnr"]

BOUNDARIES = ("zero", "valid", "circular")
Connectivity = Union[None, str, ArrayLike]


@dataclass(frozen=True)
class EpochLog:
    """One epoch of one layer: the objective ``E``, the images' PSNR from this layer's maps (top down,
    in dB), the PSNR of the layer's own input, and the fraction of non-zero map entries."""

    layer: int
    epoch: int
    objective: float
    psnr: float
    input_psnr: float
    nonzero: float


@dataclass
class Layer:
    """One learned layer: unit-norm ``filters`` ``(K, C, *k)``, connectivity ``g`` ``(K, C)`` of 0/1,
    its ``lam``, the training maps ``(N, K, *z)``, the spatial shape of its input, and its log."""

    filters: np.ndarray
    g: np.ndarray
    lam: float
    maps: np.ndarray
    input_shape: tuple[int, ...]
    history: list[EpochLog] = field(default_factory=list)

    @property
    def effective_filters(self) -> np.ndarray:
        """``g_{k,c} f_{k,c}``: the filters the synthesis uses."""
        return self.filters * self.g.reshape(self.g.shape + (1,) * (self.filters.ndim - 2))


@dataclass
class DeconvNet:
    """A learned stack of layers (:func:`learn` returns one).

    ``layers[0]`` explains the images, ``layers[l]`` the maps of ``layers[l-1]``.
    """

    layers: list[Layer]
    boundary: str
    stride: tuple[int, ...]
    p: float
    peak: float

    def reconstruct(self, maps: ArrayLike | None = None, layer: int | None = None) -> np.ndarray:
        """Images synthesised from the maps of ``layer`` (1-based, default the top), going down.

        ``maps`` defaults to that layer's training maps; each layer below
        synthesises its input from the maps above, down to pixels.
        """
        top = len(self.layers) if layer is None else as_int("deconvnet.DeconvNet.reconstruct", "layer", layer, 1)
        if top > len(self.layers):
            raise fail("deconvnet.DeconvNet.reconstruct", f"layer must be in [1, {len(self.layers)}]; got {layer}")
        x = self.layers[top - 1].maps if maps is None else as_array("deconvnet.DeconvNet.reconstruct", "maps", maps)
        for lay in reversed(self.layers[:top]):
            x = synthesize(x, lay.effective_filters, boundary=self.boundary, stride=self.stride,
                           image_shape=lay.input_shape)
        return x

    def encode(self, images: ArrayLike, *, max_iter: int = 100, tol: float = 1e-4) -> list[np.ndarray]:
        """The maps of every layer for new ``images``, inferred bottom up with the learned filters."""
        x = as_array("deconvnet.DeconvNet.encode", "images", images).astype(np.float64)
        out = []
        for lay in self.layers:
            x = infer(x, lay.effective_filters, lay.lam, p=self.p, boundary=self.boundary, stride=self.stride,
                      max_iter=max_iter, tol=tol).z
            out.append(x)
        return out


def psnr(reference: np.ndarray, estimate: np.ndarray, peak: float) -> float:
    """``10 log10(peak^2 / mean((reference - estimate)^2))`` in dB (``inf`` for an exact match)."""
    mse = float(np.mean((np.asarray(reference, np.float64) - estimate) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def pair_connectivity(n_below: int) -> np.ndarray:
    """The paper's map between layers: one map per map below, then one per pair of maps below.

    ``(n + n(n-1)/2, n)`` of 0/1; with 9 maps below, the paper's 45 maps above.

    >>> pair_connectivity(3)
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.],
           [1., 1., 0.],
           [1., 0., 1.],
           [0., 1., 1.]])
    """
    n = as_int("deconvnet.pair_connectivity", "n_below", n_below, 1)
    groups = [(i,) for i in range(n)] + list(combinations(range(n), 2))
    g = np.zeros((len(groups), n))
    for row, cols in enumerate(groups):
        g[row, list(cols)] = 1
    return g


def _per_layer(func: str, name: str, value: object, layers: int) -> list:
    if is_seq(value):
        if len(value) != layers:
            raise fail(func, f"{name} must be one value or one per layer ({layers}); got {len(value)} values {value!r}")
        return list(value)
    return [value] * layers


def _connectivity(func: str, g: Connectivity, n_maps: int, n_below: int, layer: int) -> np.ndarray:
    if g is None:
        return np.ones((n_maps, n_below))
    if isinstance(g, str):
        choice(func, "g", g, ("pairs",))
        out = pair_connectivity(n_below)
        if out.shape[0] != n_maps:
            raise fail(func, f"g='pairs' on layer {layer} needs n_filters = {out.shape[0]} (each of the {n_below} "
                             f"maps below, then each pair); got n_filters={n_maps}")
        return out
    out = as_array(func, "g", g)
    if out.shape != (n_maps, n_below) or not np.isin(out, (0, 1)).all() or not out.any(axis=1).all():
        raise fail(func, f"g of layer {layer} must be 0/1 of shape ({n_maps}, {n_below}) (maps, maps below) with "
                         f"every map connected; got shape {out.shape}")
    return out.astype(np.float64)


def _unit_norm(filters: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Each connected ``f_{k,c}`` scaled to norm 1 (the unconnected ones are zero)."""
    axes = tuple(range(2, filters.ndim))
    norms = np.sqrt(np.sum(filters * filters, axis=axes, keepdims=True))
    mask = g.reshape(norms.shape)
    return np.where(mask > 0, filters / np.where(norms > 0, norms, 1.0), 0.0)


def _filter_gradient(z: np.ndarray, residual: np.ndarray, kernel: tuple[int, ...], boundary: str,
                     stride: tuple[int, ...]) -> np.ndarray:
    """``d/df 1/2 ||synthesize(z, f) - y||^2`` given ``residual = synthesize(z, f) - y``.

    The synthesis scatters ``full[n, c, i*s + j] += z[n, k, i] f[k, c, j]`` (a transposed conv) and cuts
    (or wraps) ``full`` to the image, so the gradient is
    ``g[k, c, j] = sum_{n, i} z[n, k, i] r_full[n, c, i*s + j]`` with the residual put back into the
    full length: a conv of ``r_full`` by ``z`` with batch and channels swapped, dilated by the stride.
    """
    n, m = residual.shape[2:], z.shape[2:]
    full = tuple((mi - 1) * s + k for mi, s, k in zip(m, stride, kernel))
    if boundary == "circular":  # the periodic synthesis folds the full result modulo n
        placed = residual
        for ax, (ni, fi) in enumerate(zip(n, full)):
            placed = np.take(placed, np.arange(fi) % ni, axis=2 + ax)
    else:  # the zero boundary cuts k - 1 at the start; valid maps may stop short of the image's end
        placed = np.zeros(residual.shape[:2] + full)
        lo = tuple(k - 1 if boundary == "zero" else 0 for k in kernel)
        inside = tuple(min(ni, fi - l) for ni, fi, l in zip(n, full, lo))
        placed[(Ellipsis,) + tuple(slice(l, l + w) for l, w in zip(lo, inside))] = \
            residual[(Ellipsis,) + tuple(slice(0, w) for w in inside)]
    grad = conv(np.swapaxes(placed, 0, 1), np.swapaxes(z, 0, 1), dilation=stride)
    return np.swapaxes(grad, 0, 1)


class _Progress:
    """One stderr line rewritten in place: ``layer 1/2 epoch 3/10 [###...] E=... PSNR=... dB nonzero=...%``."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.done = enabled, total, 0

    def update(self, entry: EpochLog, layers: int, epochs: int) -> None:
        self.done += 1
        if not self.enabled:
            return
        bar = int(20 * self.done / self.total)
        sys.stderr.write(
            f"\rlayer {entry.layer}/{layers} epoch {entry.epoch}/{epochs} [{'#' * bar}{'.' * (20 - bar)}] "
            f"E={entry.objective:.4g} PSNR={entry.psnr:.2f} dB nonzero={100 * entry.nonzero:.2f}%"
        )
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _filter_steps(x, z, filters, g, lam, p, boundary, stride, steps, current):
    """Projected gradient steps on the filters; each is accepted only if it lowers ``E``."""
    kernel = filters.shape[2:]
    shape = g.shape + (1,) * len(kernel)
    for _ in range(steps):
        effective = filters * g.reshape(shape)
        residual = synthesize(z, effective, boundary=boundary, stride=stride, image_shape=x.shape[2:]) - x
        grad = lam * _filter_gradient(z, residual, kernel, boundary, stride) * g.reshape(shape)
        change = synthesize(z, grad, boundary=boundary, stride=stride, image_shape=x.shape[2:])
        curvature = lam * float(np.sum(change * change))
        if curvature <= 0:
            break
        step = float(np.sum(grad * grad)) / curvature  # the exact minimiser of the quadratic data term
        for _ in range(30):
            candidate = _unit_norm(filters - step * grad, g)
            value = objective(x, z, candidate * g.reshape(shape), lam, p=p, boundary=boundary, stride=stride)
            if value < current:
                filters, current = candidate, value
                break
            step /= 2
        else:
            break
    return filters, current


def learn(
    images: ArrayLike,
    n_filters: int | Sequence[int],
    kernel_size: int | Sequence[int],
    lam: float | Sequence[float],
    *,
    layers: int = 1,
    epochs: int | Sequence[int] = 10,
    boundary: str = "zero",
    stride: int | Sequence[int] = 1,
    p: float = 1.0,
    g: Connectivity | Sequence[Connectivity] = None,
    max_iter: int = 50,
    tol: float = 1e-4,
    filter_steps: int = 4,
    rng: int | np.random.Generator | None = None,
    callback: Callable[[EpochLog], None] | None = None,
    progress: bool | None = None,
) -> DeconvNet:
    """Learn a Deconvolutional Network of ``layers`` layers on ``images``.

    Parameters
    ----------
    images : array_like, shape ``(N, C, *spatial)``
        The training images (contrast-normalised, as the paper's, works best).
    n_filters : int or one int per layer
        Feature maps ``K`` of each layer.
    kernel_size : int or per-axis ints
        Filter size, the same for every layer (the paper's 7x7).
    lam : float or one per layer
        The weight of the data term (the paper's; SPORCO's ``lmbda`` is ``1 / lam``).
    layers : int
        Layers, learned bottom up; layer ``l`` learns on layer ``l-1``'s maps.
    epochs : int or one int per layer
        Rounds of inference then filter updates of each layer.
    boundary : {'zero', 'valid', 'circular'}
        The synthesis' boundary rule (:func:`.infer.infer`).
    stride : int or per-axis ints
        The maps' stride on every layer.
    p : float
        The sparsity exponent (1 is the l1 norm).
    g : None, 'pairs', an array ``(K, C)`` of 0/1, or one of these per layer
        Connectivity: None connects every map to every map below; ``'pairs'``
        is the paper's (:func:`pair_connectivity`), on every layer above the first
        when given once. The first layer is always fully connected to the image channels
        unless a per-layer array says otherwise.
    max_iter, tol : int, float
        Inference iterations and tolerance per epoch.
    filter_steps : int
        Projected gradient steps on the filters per epoch.
    rng : int, Generator or None
        Seeds the initial filters.
    callback : callable, optional
        Called with each :class:`EpochLog`.
    progress : bool or None
        A progress line on stderr; ``None`` shows it when stderr is a terminal.

    Returns
    -------
    DeconvNet
        The layers (filters, connectivity, training maps, per-epoch log).

    Notes
    -----
    Per epoch and layer, with ``E`` the objective above: ``z <- infer(y, f)`` if
    that lowers ``E``; then ``f <- P(f - t grad_f E)`` with ``P`` the unit-norm
    projection of each connected filter and ``t`` halved until ``E`` decreases.
    So ``E`` never increases from one epoch to the next.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((2, 1, 12, 12))
    >>> model = learn(y, 4, 3, 5.0, layers=2, epochs=2, rng=0, progress=False)
    >>> [lay.filters.shape for lay in model.layers], model.reconstruct().shape
    ([(4, 1, 3, 3), (4, 4, 3, 3)], (2, 1, 12, 12))
    """
    func = "deconvnet.learn"
    x = as_array(func, "images", images)
    if x.ndim < 3 or x.size == 0:
        raise fail(func, f"images must have shape (N, C, *spatial) with at least one spatial dim; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise fail(func, "images must be finite; got NaN or inf")
    x = x.astype(np.float64)
    nd = x.ndim - 2
    n_layers = as_int(func, "layers", layers, 1)
    counts = [as_int(func, "n_filters", k, 1) for k in _per_layer(func, "n_filters", n_filters, n_layers)]
    lams = [as_float(func, "lam", v, positive=True) for v in _per_layer(func, "lam", lam, n_layers)]
    kernel = per_axis(func, "kernel_size", kernel_size, nd, 1)
    strides = per_axis(func, "stride", stride, nd, 1)
    boundary = choice(func, "boundary", boundary, BOUNDARIES)
    p = as_float(func, "p", p, positive=True)
    rounds = [as_int(func, "epochs", e, 1) for e in _per_layer(func, "epochs", epochs, n_layers)]
    steps = as_int(func, "filter_steps", filter_steps, 1)
    max_iter, tol = as_int(func, "max_iter", max_iter, 1), as_float(func, "tol", tol, minimum=0.0)
    if isinstance(g, list) and all(v is None or isinstance(v, (str, np.ndarray)) for v in g):
        conns = _per_layer(func, "g", g, n_layers)
    else:  # one value ('pairs' or an array) applies above the first layer
        conns = [None] + [g] * (n_layers - 1)
    gen = as_rng(func, rng)
    show = sys.stderr.isatty() if progress is None else progress
    bar = _Progress(show, sum(rounds))
    peak = float(x.max() - x.min()) or 1.0
    model = DeconvNet([], boundary, strides, p, peak)
    channels = [x.shape[1]] + counts[:-1]
    maps = [_connectivity(func, conns[i], counts[i], channels[i], i + 1) for i in range(n_layers)]
    below = x
    for index, conn in enumerate(maps):
        number = index + 1
        filters = _unit_norm(gen.standard_normal((counts[index], below.shape[1]) + kernel), conn)
        layer = Layer(filters, conn, lams[index], None, below.shape[2:])
        model.layers.append(layer)
        z = current = None
        for epoch in range(1, rounds[index] + 1):
            found = infer(below, layer.effective_filters, lams[index], p=p, boundary=boundary, stride=strides,
                          max_iter=max_iter, tol=tol).z
            if z is None:  # the start: all-zero maps
                z = np.zeros_like(found)
                current = objective(below, z, layer.effective_filters, lams[index], p=p, boundary=boundary,
                                    stride=strides)
            value = objective(below, found, layer.effective_filters, lams[index], p=p, boundary=boundary,
                              stride=strides)
            if value < current:
                z, current = found, value
            layer.filters, current = _filter_steps(below, z, layer.filters, conn, lams[index], p, boundary,
                                                   strides, steps, current)
            layer.maps = z
            entry = EpochLog(
                number, epoch, current,
                psnr(x, model.reconstruct(), peak),
                psnr(below, synthesize(z, layer.effective_filters, boundary=boundary, stride=strides,
                                       image_shape=below.shape[2:]), float(below.max() - below.min()) or 1.0),
                float(np.count_nonzero(z)) / z.size,
            )
            layer.history.append(entry)
            bar.update(entry, n_layers, rounds[index])
            if callback is not None:
                callback(entry)
        below = z
    return model
