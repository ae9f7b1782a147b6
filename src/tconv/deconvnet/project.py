"""ZF-Net's projection of one unit's activation back to pixels (Zeiler and Fergus, ECCV 2014).

The "deconvnet" attached to a CNN runs its layers backwards: every conv by the
transposed conv with that layer's own filters (no bias), every ReLU by a ReLU
of the signal coming down, every max pooling by the unpooling through the
switches its forward recorded. Only the chosen unit's activation starts the
way down; every other activation of that layer is zeroed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..errors import fail
from ..geometry import output_padding_for_size
from ..nn import Conv1d, Conv2d, Conv3d, MaxPool1d, MaxPool2d, MaxPool3d, ReLU, Sequential
from ..normalise import as_array, as_int, choice
from ..ops import conv_transpose
from ..padmodes import fold

__all__ = ["project"]

CONVS = (Conv1d, Conv2d, Conv3d)
POOLS = (MaxPool1d, MaxPool2d, MaxPool3d)


def _transpose(layer, signal: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    """The conv's adjoint with its own filters: the transposed conv back to the input's size (bias left out);
    a padding mode other than zeros folds the padded margins back, as the conv's input gradient does."""
    pairs = layer.pairs()
    zeros = layer.padding_mode == "zeros"
    geometry_pairs = pairs if zeros else ((0, 0),) * layer.nd
    size = tuple(n + (0 if zeros else lo + hi) for n, (lo, hi) in zip(in_shape[2:], pairs))
    extra = output_padding_for_size("deconvnet.project", signal.shape[2:], layer.kernel_size, layer.stride,
                                    geometry_pairs, layer.dilation, size)
    out = conv_transpose(signal, layer.weight.data, stride=layer.stride, padding=geometry_pairs,
                         output_padding=extra, groups=layer.groups, dilation=layer.dilation)
    return out if zeros else fold(out, pairs, layer.padding_mode)


def project(model: Sequential, x: ArrayLike, layer: int, unit: int, *, keep: str = "max") -> np.ndarray:
    """Project one unit's activation at ``model[layer]`` back to pixel space, as ZF-Net's deconvnet does.

    Parameters
    ----------
    model : tconv.nn.Sequential
        A CNN whose children up to ``layer`` are ``Conv1d/2d/3d``, ``ReLU`` and ``MaxPool1d/2d/3d``
        (layers after ``layer``, a classifier head for instance, are not run).
    x : array_like, shape ``(N, C, *spatial)``
        The images.
    layer : int
        The index in ``model`` whose output holds the unit (0-based, as ``model[layer]``).
    unit : int
        The channel (feature map) of that output.
    keep : {'max', 'all'}
        ``'max'`` starts from the map's strongest activation only (per image, ZF-Net's
        choice); ``'all'`` from the whole map.

    Returns
    -------
    ndarray, the shape of ``x``
        The projection: per image, what in pixel space drove that unit.

    Notes
    -----
    Going down from ``model[layer]``: a conv ``y = conv(x; w) + b`` becomes
    ``conv_transpose(signal; w)`` with the same stride, padding, dilation and groups,
    sized back to its input; a ReLU rectifies the signal; a max pooling puts each
    value back at its switch (its backward, the adjoint of the selection: where overlapping windows
    share a switch their values add, where PyTorch's ``max_unpool`` keeps one).

    Examples
    --------
    >>> import numpy as np
    >>> from tconv import nn
    >>> cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2))
    >>> project(cnn, np.ones((2, 1, 8, 8), np.float32), layer=2, unit=1).shape
    (2, 1, 8, 8)
    """
    func = "deconvnet.project"
    if not isinstance(model, Sequential):
        raise fail(func, f"model must be a tconv.nn.Sequential; got {type(model).__name__}", TypeError)
    children = list(model)
    index = as_int(func, "layer", layer, 0)
    if index >= len(children):
        raise fail(func, f"layer must be in [0, {len(children) - 1}] (an index of model); got {layer}")
    keep = choice(func, "keep", keep, ("max", "all"))
    for i, child in enumerate(children[: index + 1]):
        if not isinstance(child, CONVS + POOLS + (ReLU,)):
            raise fail(func, f"model[{i}] is a {type(child).__name__}; the projection runs back through Conv1d/2d/3d, "
                             f"ReLU and MaxPool1d/2d/3d only (choose a layer before it)")
    h = as_array(func, "x", x)
    shapes = []
    for child in children[: index + 1]:
        shapes.append(h.shape)
        h = child(h)
    channel = as_int(func, "unit", unit, 0)
    if channel >= h.shape[1]:
        raise fail(func, f"unit must be in [0, {h.shape[1] - 1}] (the channels of model[{index}]); got {unit}")
    signal = np.zeros_like(h)
    if keep == "all":
        signal[:, channel] = h[:, channel]
    else:
        maps = h[:, channel].reshape(h.shape[0], -1)
        rows = np.arange(h.shape[0])
        strongest = np.argmax(maps, axis=1)
        chosen = np.zeros_like(maps)
        chosen[rows, strongest] = maps[rows, strongest]
        signal[:, channel] = chosen.reshape((h.shape[0],) + h.shape[2:])
    for child, shape in zip(reversed(children[: index + 1]), reversed(shapes)):
        if isinstance(child, CONVS):
            signal = _transpose(child, signal, shape)
        elif isinstance(child, ReLU):
            signal = np.maximum(signal, 0)
        else:
            signal = child.backward(signal)
    return signal
