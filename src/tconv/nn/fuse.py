"""Inference fusion: eval-mode BatchNorm folded into the convolution before it, activations in place.

A convolution (plain or transposed) ``y = conv(x, w) + b`` followed by an
eval-mode BatchNorm ``z = gamma * (y - mean) / sqrt(var + eps) + beta`` is one
convolution, because the BatchNorm is an affine map per output channel ``o``::

    scale[o] = gamma[o] / sqrt(var[o] + eps)
    w'[.., o, ..] = scale[o] * w[.., o, ..]          (o: the weight's output-channel index)
    b'[o] = scale[o] * (b[o] - mean[o]) + beta[o]    (b = 0 without a bias)

The fold is computed in float64 and rounded once to the weight's dtype, so the
fused model differs from the unfused one by float32 rounding only. A transposed
conv's weight is ``(C_in, C_out/g, *k)``: output channel ``o = group * C_out/g + j``
sits at ``[group's rows, j]``; a conv's weight is ``(C_out, C_in/g, *k)``.

A fused model's convolutions prepack their weights on first use for each input shape
(:func:`tconv.ops.pack`): where Winograd's minimal filtering with a weight transformed once is
priced clearly below the call's cheapest formulation, the transformed weight is kept beside the
layer (``prod(alpha)/prod(Q)`` times its bytes: 4x for a 3x3 kernel on F(4, 3) tiles) and every
later call skips the transform, as ONNX Runtime and OpenVINO prepack theirs. A replaced weight
array is packed again; a weight changed in place is not seen (fuse the source model again).

Element-wise activations then run in place on the array the layer before them
has just allocated (never on the caller's input, never on an array the model
does not own), and no layer keeps its input for a backward pass: the fused
model is for inference only, and computes in a chain's peak memory what the
unfused one computes with every intermediate kept.
"""

from __future__ import annotations

import copy
from typing import Iterator

import numpy as np

from ..errors import TconvError
from .conv import _ConvBase
from .layers import Linear, Reshape, _BatchNorm, _Elementwise
from .module import Module, Parameter, Sequential
from .resize import Upsample

__all__ = ["Fused", "fuse"]

#: Layers whose output is a new array of their own: an activation after them may overwrite it.
_FRESH = (_ConvBase, _BatchNorm, _Elementwise, Linear, Upsample)


class Fused(Sequential):
    """An inference-only chain made by :func:`fuse`: BatchNorms folded, activations in place.

    Children are named by their dotted path in the source model (``"main.0"``),
    so :meth:`state_dict` keeps PyTorch's keys for the layers that remain.
    ``backward`` is refused: train the source model, and fuse it again.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        given = x = np.asarray(x)
        owned = False  # is ``x`` an array this call allocated (so an activation may overwrite it)?
        for module in self._children.values():
            if isinstance(module, _Elementwise):
                if owned and x.flags.writeable and not np.may_share_memory(x, given):
                    x = module.apply_inplace(x)
                else:
                    x = module.apply(x)
            else:
                x = module(x)
                if isinstance(module, _ConvBase):
                    module._cache = None  # the input a backward would need: inference keeps none
            owned = isinstance(module, _FRESH) or (owned and isinstance(module, Reshape))
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise TconvError(
            "tconv.nn.Fused.backward: a fused model is for inference only (its BatchNorms are folded into "
            "the convolutions); train the source model and call tconv.nn.fuse on it again"
        )


def fuse(model: Module) -> Fused:
    """An inference copy of ``model`` with eval-mode BatchNorm folded into the preceding convolution.

    Nested :class:`~tconv.nn.Sequential` chains (as :func:`~tconv.nn.from_torch`
    builds them) are flattened; a ``BatchNorm1d/2d/3d`` directly after a
    ``Conv*d`` or ``ConvTranspose*d`` with as many output channels is folded into
    that layer's weight and bias (see the module docstring for the formula);
    ``ReLU``, ``LeakyReLU``, ``Tanh`` and ``Sigmoid`` overwrite the array the layer
    before them allocated. Every other layer (a BatchNorm without a convolution
    before it or without running statistics, a module of your own) is copied and
    run as it is. ``model`` itself is not changed: keep training it and fuse again.

    Parameters
    ----------
    model : tconv.nn.Module
        A module or chain whose BatchNorms are in eval mode (``model.eval()``):
        a training-mode BatchNorm normalises by the batch's statistics, which no
        fixed weight can reproduce.

    Returns
    -------
    Fused
        The chain, for inference only (``backward`` is refused). Its results equal
        ``model``'s in eval mode within float32 rounding.

    Raises
    ------
    TconvError
        If a BatchNorm of ``model`` is in training mode.

    Examples
    --------
    >>> import numpy as np
    >>> from tconv import nn
    >>> model = nn.Sequential(nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, rng=0), nn.BatchNorm2d(2), nn.ReLU())
    >>> fused = nn.fuse(model.eval())
    >>> list(dict(fused.named_children()))
    ['0', '2']
    >>> x = np.random.default_rng(0).standard_normal((1, 4, 5, 5)).astype(np.float32)
    >>> bool(np.allclose(fused(x), model(x), rtol=1e-5, atol=1e-6))
    True
    """
    if not isinstance(model, Module):
        raise TypeError(f"tconv.nn.fuse: model must be a tconv.nn.Module; got {type(model).__name__}")
    leaves = list(_leaves(model, ""))
    for name, module in leaves:
        if isinstance(module, _BatchNorm) and module.training:
            raise TconvError(
                f"tconv.nn.fuse: every BatchNorm must be in eval mode (call model.eval() first); "
                f"{name or 'the model'} ({type(module).__name__}) is in training mode"
            )
    chain: dict[str, Module] = {}
    previous: Module | None = None
    for name, module in leaves:
        if isinstance(module, _BatchNorm) and _foldable(previous, module):
            _fold(previous, module)
            continue
        previous = chain[name or "0"] = copy.deepcopy(module)
    for module in chain.values():
        if isinstance(module, _ConvBase):
            module._packs = {}  # weights fixed from here on: packed on first use (tconv.ops.pack)
    return Fused(chain)


def _leaves(module: Module, prefix: str) -> Iterator[tuple[str, Module]]:
    """The layers of ``module`` in the order a chain applies them, by dotted name."""
    chained = isinstance(module, Fused) or (
        isinstance(module, Sequential) and type(module).forward is Sequential.forward)
    if not chained:
        yield prefix, module
        return
    for name, child in module.named_children():
        yield from _leaves(child, f"{prefix}.{name}" if prefix else name)


def _foldable(layer: Module | None, bn: _BatchNorm) -> bool:
    return (isinstance(layer, _ConvBase) and bn.track_running_stats and layer.nd + 2 in bn.ranks
            and layer.out_channels == bn.num_features)


def _fold(layer: _ConvBase, bn: _BatchNorm) -> None:
    """Fold ``bn`` (eval mode, running statistics) into the (copied) ``layer``'s weight and bias, in float64."""
    scale = 1.0 / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    shift = -bn.running_mean.astype(np.float64) * scale
    if bn.weight is not None:
        shift = shift * bn.weight.data + bn.bias.data
        scale = scale * bn.weight.data
    w = layer.weight.data
    k = (1,) * layer.nd
    if layer.transposed:  # (C_in, C_out/g, *k): split C_in into groups, C_out into (group, j)
        g = layer.groups
        grouped = w.reshape((g, w.shape[0] // g) + w.shape[1:]) * scale.reshape((g, 1, -1) + k)
        folded = grouped.reshape(w.shape)
    else:  # (C_out, C_in/g, *k)
        folded = w * scale.reshape((-1, 1) + k)
    bias = shift if layer.bias is None else shift + scale * layer.bias.data
    layer.weight.data = folded.astype(w.dtype)
    layer.weight.grad = np.zeros_like(layer.weight.data)
    if layer.bias is None:
        layer.bias = Parameter(bias.astype(w.dtype))
    else:
        layer.bias.data = bias.astype(w.dtype)
        layer.bias.grad = np.zeros_like(layer.bias.data)
