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
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .algorithms.common import window
from .compat.jax import convert as jax_port
from .compat.keras import convert as keras_port
from .compat.litert import convert as litert_port
from .compat.mlx import convert as mlx_port
from .compat.onnx import convert as onnx_port
from .compat.openvino import convert as openvino_port
from .compat.paddle import convert as paddle_port
from .compat.porting import FUNC as _FUNC
from .compat.porting import Framework, Source
from .compat.tensorflow import convert as tensorflow_port
from .compat.torch import convert as torch_port
from .compat.webnn import convert as webnn_port
from .errors import fail
from .geometry import Geometry
from .normalise import check_bias

__all__ = ["FRAMEWORKS", "Conversion", "convert"]

#: every framework's converter hooks, by name
_PORTS: dict[str, Framework] = {
    port.NAME: port
    for port in (torch_port, tensorflow_port, keras_port, jax_port, onnx_port, paddle_port, mlx_port,
                 openvino_port, litert_port, webnn_port)
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
    _source: Source = field(repr=False)  # the source's kernel layout: its rank and its move to tconv's
    _from_canonical: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    #: the source's channels, when its description (or weight) gives them
    in_channels: int | None = None
    out_channels: int | None = None
    summary: str = "the layer"

    def convert_weights(self, weight: ArrayLike, bias: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The source's kernel (and bias) in the target's layout.

        Grouped kernels become block-diagonal where the target has no groups.
        """
        func = "Conversion.convert_weights"
        canonical = _canonical_kernel(func, "weight", weight, self._source)
        out = np.array(self._from_canonical(canonical), order="C")  # a fresh array, positive strides
        if bias is None:
            return out, None
        b = np.array(_array(func, "bias", bias), copy=True)
        check_bias(func, b, canonical.shape[1] * self.geometry.groups)
        return out, b

    def apply_residual(self, y: ArrayLike, bias: ArrayLike | None = None) -> np.ndarray:
        """The target's output (in its default data layout) cropped or zero-padded by :attr:`residual`.

        When :attr:`bias_after` is set the target layer was built without its bias
        (zeros padded in stand for outputs that are bias only): pass ``bias`` to add it.
        """
        func = "Conversion.apply_residual"
        y = _array(func, "y", y)
        nd = self.geometry.ndim
        crops = self.residual or ((0, 0),) * nd
        # the target layer's own output: the source's window plus what the residual crops (minus what it pads)
        expected = tuple(n + b + a for n, (b, a) in zip(self.geometry.out_size, crops))
        layout = "(N, *spatial, C)" if self.channels_last else "(N, C, *spatial)"
        spatial = y.shape[1:-1] if self.channels_last else y.shape[2:]
        channels = y.shape[-1] if self.channels_last else (y.shape[1] if y.ndim > 1 else None)
        if y.ndim != nd + 2 or spatial != expected or self.out_channels not in (None, channels):
            want = ("N",) + ((*expected, self.out_channels or "C") if self.channels_last
                             else (self.out_channels or "C", *expected))
            raise fail(
                func,
                f"y must be the {self.target} layer's output {layout} = {_shape_text(want)} for input "
                f"{self.geometry.in_size}; got shape {y.shape}",
            )
        if self.residual is None:
            return y
        moved = np.moveaxis(y, -1, 1) if self.channels_last else y
        out = window(moved, tuple(b for b, _ in self.residual), self.geometry.out_size)
        if self.bias_after and bias is not None:
            b = _array(func, "bias", bias)
            check_bias(func, b, moved.shape[1])
            out = out + b.reshape((-1,) + (1,) * nd)
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
    if not isinstance(layer, Mapping) or ("framework" not in layer and type(layer) is not dict):  # mlx.nn layers are dicts
        layer = _describe_live(layer)
    framework = layer.get("framework")
    for name, value in (("layer['framework']", framework), ("to", to)):
        if not isinstance(value, str):
            raise fail(_FUNC, f"{name} must be a framework name, one of {', '.join(map(repr, FRAMEWORKS))}; got {value!r}",
                       TypeError)
    if framework not in _PORTS:
        raise fail(_FUNC, f"layer['framework'] must be one of {', '.join(map(repr, FRAMEWORKS))}; got {framework!r}")
    if to not in _PORTS:
        raise fail(_FUNC, f"to must be one of {', '.join(map(repr, FRAMEWORKS))}; got {to!r}")
    src = _PORTS[framework].source(dict(layer), input_size)
    _check_channels(src)
    if weight is not None:
        canonical = _canonical_kernel(_FUNC, "weight", weight, src)
        src = replace(src, in_channels=canonical.shape[0], out_channels=canonical.shape[1] * src.geometry.groups)
    target = _PORTS[to].target(src)
    header = f"# {src.summary} -> {to}, input {src.geometry.in_size} -> output {src.geometry.out_size}"
    return Conversion(framework, to, src.geometry, target.arguments, target.residual, header + "\n" + target.code,
                      src.geometry.groups, src.bias, target.channels_last, target.bias_after, src,
                      target.from_canonical, src.in_channels, src.out_channels, src.summary)  # fmt: skip


def _check_channels(src: Source) -> None:
    """``groups`` divides both channel counts the description gives (each group maps C_in/g to C_out/g)."""
    groups = src.geometry.groups
    for name, value in (("in_channels", src.in_channels), ("out_channels", src.out_channels)):
        if value is not None and value % groups:
            raise fail(_FUNC, f"{src.summary}: groups = {groups} must divide {name}; got {name} = {value}")


def _canonical_kernel(func: str, name: str, weight: ArrayLike, src: Source) -> np.ndarray:
    """``weight`` (the source's layout) in tconv's ``(C_in, C_out/g, *k)``, refused unless it fits the layer."""
    geom, in_channels, out_channels, summary = src.geometry, src.in_channels, src.out_channels, src.summary
    w = _array(func, name, weight)
    rank = geom.ndim + 2 if src.weight_rank is None else src.weight_rank
    if w.ndim != rank:
        layout = "" if src.weight_layout is None else f", {src.weight_layout}"
        raise fail(func, f"{name} must have {rank} dims for {summary}{layout}; got shape {w.shape}")
    canonical = src.to_canonical(w)
    groups, c_in, c_out_g = geom.groups, canonical.shape[0], canonical.shape[1]
    expected = (
        "?" if in_channels is None else in_channels,
        "?" if out_channels is None else out_channels // groups,
    ) + geom.kernel
    got = tuple(canonical.shape)
    fits = (
        got[2:] == geom.kernel and c_in % groups == 0 and c_out_g > 0
        and in_channels in (None, c_in) and out_channels in (None, c_out_g * groups)
    )
    if not fits:
        raise fail(
            func,
            f"{name} does not fit {summary}: in tconv's layout (C_in, C_out/groups, *kernel) it must be "
            f"{_shape_text(expected)} (groups = {groups} dividing C_in); got {_shape_text(got)}"
            + ("" if got == w.shape else f" (from the source's shape {w.shape})"),
        )
    return canonical


def _array(func: str, name: str, value: ArrayLike) -> np.ndarray:
    """``value`` as an array of its own dtype (ported weights keep theirs), refused when it is not rectangular."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise fail(func, f"{name} must be a rectangular array; {exc}", TypeError) from None


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


#: how deep a layer description's JSON may nest (one needs 3: an object holding lists of pairs)
MAX_JSON_DEPTH = 32


def loads(text: str) -> dict:
    """A layer description from JSON text (the CLI's input), nesting at most :data:`MAX_JSON_DEPTH` deep."""
    if not isinstance(text, str):
        raise fail(_FUNC, f"the layer description must be a str of JSON; got {type(text).__name__}", TypeError)
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise fail(_FUNC, f"the layer description nests {depth} levels deep; at most {MAX_JSON_DEPTH} are read")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(_FUNC, f"the layer description is not valid JSON: {exc}") from None
    except RecursionError:
        raise fail(_FUNC, f"the layer description nests too deep; at most {MAX_JSON_DEPTH} levels are read") from None
    if not isinstance(value, dict):
        raise fail(_FUNC, f"the layer description must be a JSON object; got {type(value).__name__}")
    return value


def _json_depth(text: str) -> int:
    """The deepest ``[`` / ``{`` nesting of ``text`` outside its strings (JSON's parser recurses once per level)."""
    bare = _JSON_STRING.sub("", text)
    steps = np.frombuffer(bare.encode("ascii", "replace"), np.uint8)
    level = np.cumsum(np.isin(steps, _OPEN).astype(np.int64) - np.isin(steps, _CLOSE))
    return int(level.max(initial=0))


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)
