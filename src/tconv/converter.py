"""Port a transposed-conv layer between PyTorch, TensorFlow, Keras, JAX and ONNX.

The converter is the compat parse run in reverse. The source's arguments are
parsed into one :class:`~tconv.geometry.Geometry` by its framework's
``tconv.compat.<framework>.geometry``; then, per axis, the target's own
``geometry`` is searched over the target's argument space for the arguments
whose window ``y_full[start : start + length]`` is the source's. When no single
target layer has that window (TensorFlow/Keras SAME with stride 2 and an odd
kernel in PyTorch: a one-element shift), the closest one is taken and the
difference is returned as a residual crop or zero-pad, and said in the code.

What each framework knows (its description's keys, how to read it, how to
search its arguments and write its code) lives in that framework's module
``tconv.compat.<framework>.convert``, behind the one interface
:class:`tconv.compat.porting.Framework`; the search primitives they share are
in :mod:`tconv.compat.porting`. This module keeps what is the same for every
pair of frameworks: the registry, :func:`convert` and :class:`Conversion`.

No framework is imported: the answer is arguments, a ready-to-paste line and
weights converted with :mod:`tconv.compat.layouts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .algorithms.common import window
from .compat.jax import convert as jax_port
from .compat.keras import convert as keras_port
from .compat.onnx import convert as onnx_port
from .compat.porting import FUNC as _FUNC
from .compat.porting import Framework
from .compat.tensorflow import convert as tensorflow_port
from .compat.torch import convert as torch_port
from .errors import fail
from .geometry import Geometry

__all__ = ["FRAMEWORKS", "Conversion", "convert"]

#: every framework's converter hooks, by name
_PORTS: dict[str, Framework] = {
    port.NAME: port for port in (torch_port, tensorflow_port, keras_port, jax_port, onnx_port)
}
FRAMEWORKS = tuple(_PORTS)  # the names, in the order `tconv convert --to all` writes them


def _describe_live(layer: object) -> dict:
    """A live layer object (``torch.nn.ConvTranspose*d``, Keras ``Conv*DTranspose``, ONNX node) as a description."""
    for port in _PORTS.values():
        desc = port.describe(layer)
        if desc is not None:
            return desc
    raise fail(
        _FUNC,
        "layer must be a dict, a torch.nn.ConvTranspose{1,2,3}d, a keras Conv{1,2,3}DTranspose "
        f"or an onnx NodeProto; got {type(layer).__name__}",
        TypeError,
    )


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """A layer ported to another framework.

    Attributes
    ----------
    source, target : framework names
    geometry : the :class:`~tconv.geometry.Geometry` both compute
    arguments : dict, the target's constructor or call arguments
    residual : ``None``, or one ``(crop_before, crop_after)`` per spatial axis to apply to
        the target's output (negative: zeros to add) when no single target layer has
        the source's window
    code : str, ready-to-paste lines for the target, residual included
    bias_after : bool, whether the target layer is built without its bias and the code adds
        it after the residual (when the residual zero-pads: those outputs are bias only)
    """

    source: str
    target: str
    geometry: Geometry
    arguments: dict
    residual: tuple[tuple[int, int], ...] | None
    code: str
    groups: int
    bias: bool
    channels_last: bool
    bias_after: bool
    _to_canonical: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    _from_canonical: Callable[[np.ndarray], np.ndarray] = field(repr=False)

    def convert_weights(self, weight: ArrayLike, bias: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The source's kernel (and bias) in the target's layout.

        Grouped kernels become block-diagonal where the target has no groups.
        """
        w = np.asarray(weight)
        if w.ndim != self.geometry.ndim + 2:
            raise fail(
                "Conversion.convert_weights", f"weight must have {self.geometry.ndim + 2} dims; got shape {w.shape}"
            )
        out = np.array(self._from_canonical(self._to_canonical(w)), order="C")  # a fresh array, positive strides
        return out, None if bias is None else np.array(bias, copy=True)

    def apply_residual(self, y: ArrayLike, bias: ArrayLike | None = None) -> np.ndarray:
        """The target's output (in its default data layout) cropped or zero-padded by :attr:`residual`.

        When :attr:`bias_after` is set the target layer was built without its bias
        (zeros padded in stand for outputs that are bias only): pass ``bias`` to add it.
        """
        y = np.asarray(y)
        if self.residual is None:
            return y
        moved = np.moveaxis(y, -1, 1) if self.channels_last else y
        out = window(moved, tuple(b for b, _ in self.residual), self.geometry.out_size)
        if self.bias_after and bias is not None:
            out = out + np.asarray(bias).reshape((-1,) + (1,) * self.geometry.ndim)
        return np.moveaxis(out, 1, -1) if self.channels_last else out


def convert(layer: Any, to: str, input_size: int | Sequence[int], *, weight: ArrayLike | None = None) -> Conversion:
    """Port a transposed-conv layer to another framework: arguments, code, weights and any residual crop.

    Parameters
    ----------
    layer : dict, or a live ``torch.nn.ConvTranspose*d`` / Keras ``Conv*DTranspose`` / ``onnx.NodeProto``
        The source in its own framework's words plus ``"framework"``: ``torch`` and
        ``keras`` name a ``"layer"`` class with its constructor arguments;
        ``tensorflow`` (``"op": "conv2d_transpose"``, ...) gives ``filters_shape``
        ``(*k, out, in)`` or ``kernel_size`` and channels, and optionally
        ``output_shape`` (default: ``n*s`` for SAME, the full result otherwise);
        ``jax`` (``"op": "conv_transpose"``) gives ``kernel_size`` and
        ``jax.lax.conv_transpose``'s arguments; ``onnx`` gives the node's
        attributes. ``in_channels`` / ``out_channels`` are needed where the
        source's arguments lack them and the target needs them.
    to : one of :data:`FRAMEWORKS`
    input_size : int or one int per spatial dim, the input's spatial size
    weight : array_like, optional
        The source's kernel in the source's layout: supplies the channels.

    Returns
    -------
    Conversion

    Examples
    --------
    >>> keras_layer = {"framework": "keras", "layer": "Conv2DTranspose", "filters": 64, "kernel_size": 3,
    ...                "strides": 2, "padding": "same", "in_channels": 128}
    >>> c = convert(keras_layer, "torch", (32, 32))
    >>> c.arguments["padding"], c.arguments["output_padding"], c.residual
    ((0, 0), (0, 0), ((0, 1), (0, 1)))
    >>> print(c.code)
    # keras.layers.Conv2DTranspose -> torch, input (32, 32) -> output (64, 64)
    layer = torch.nn.ConvTranspose2d(in_channels=128, out_channels=64, kernel_size=(3, 3), stride=(2, 2), padding=(0, 0), output_padding=(0, 0), groups=1, bias=True, dilation=(1, 1))
    y = layer(x)  # x: (N, C_in, *spatial)
    # residual: no single ConvTranspose2d has this window: crop 1 at the end of spatial axis 0; crop 1 at the end of spatial axis 1
    y = torch.nn.functional.pad(y, (0, -1, 0, -1))  # negative pads crop
    """
    if not isinstance(layer, Mapping):
        layer = _describe_live(layer)
    framework = layer.get("framework")
    if framework not in _PORTS:
        raise fail(_FUNC, f"layer['framework'] must be one of {', '.join(map(repr, FRAMEWORKS))}; got {framework!r}")
    if to not in _PORTS:
        raise fail(_FUNC, f"to must be one of {', '.join(map(repr, FRAMEWORKS))}; got {to!r}")
    src = _PORTS[framework].source(dict(layer), input_size)
    if weight is not None:
        canonical = src.to_canonical(np.asarray(weight))
        src = replace(src, in_channels=canonical.shape[0], out_channels=canonical.shape[1] * src.geometry.groups)
    target = _PORTS[to].target(src)
    header = f"# {src.summary} -> {to}, input {src.geometry.in_size} -> output {src.geometry.out_size}"
    return Conversion(framework, to, src.geometry, target.arguments, target.residual, header + "\n" + target.code,
                      src.geometry.groups, src.bias, target.channels_last, target.bias_after, src.to_canonical,
                      target.from_canonical)  # fmt: skip


def loads(text: str) -> dict:
    """A layer description from JSON text (the CLI's input)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(_FUNC, f"the layer description is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise fail(_FUNC, f"the layer description must be a JSON object; got {type(value).__name__}")
    return value
