"""Stacks of layers: a constant input propagated through a whole model, each layer and the whole scored.

The layers come from a list (:class:`StackLayer`, :class:`~tconv.geometry.Geometry`
or dicts), a ``tconv.nn`` model, or a framework's model read by
``tconv.compat.<framework>.models`` (PyTorch, Keras, an ONNX file).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np

from ..compat.keras import models as keras_models
from ..compat.onnx import models as onnx_models
from ..compat.records import LayerRecord, walk
from ..compat.torch import models as torch_models
from ..errors import fail
from ..geometry import Geometry
from ..normalise import as_flag
from .analysis import _check_pattern, _dims, _fmt_pattern, _fmt_ratio, _minimal_period, _normalise, _outer, _prone
from .analysis import _ratio, _through_conv
from .analysis import _through_transposed, _zero_note
from .weights import WeightReport, _weight_report

__all__ = ["LayerReport", "StackLayer", "StackReport", "analyze_stack", "layers_from"]


@dataclass(frozen=True)
class StackLayer:
    """One layer of a stack, as the analysis sees it (per axis, like :class:`~tconv.geometry.Axis`).

    ``kind`` is ``"conv_transpose"``, ``"conv"`` (forward), or ``"upsample"``
    (nearest or bilinear: a fixed transposed conv). ``taps`` holds, per axis,
    the 1-D tap weights a constant input sees (ones for a conv: counting
    overlaps; the interpolation weights for an upsample). ``start`` is the
    window start ``lo`` of a transposed conv, the padding before of a conv.
    ``weight`` (tconv layout ``(C_in, C_out/g, *k)``) is kept for
    :func:`analyze_weight` when the source had one.
    """

    name: str
    kind: str
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    start: tuple[int, ...]
    taps: tuple[tuple[float, ...], ...] = ()
    weight: np.ndarray | None = field(default=None, compare=False, repr=False)
    groups: int = 1

    @property
    def ndim(self) -> int:
        return len(self.kernel)

    def axis_taps(self, axis: int) -> np.ndarray:
        return np.asarray(self.taps[axis]) if self.taps else np.ones(self.kernel[axis])

    def describe(self) -> str:
        def j(v):
            return "x".join(str(i) for i in v)

        extra = f" d={j(self.dilation)}" if any(d > 1 for d in self.dilation) else ""
        return f"{self.kind} k={j(self.kernel)} s={j(self.stride)} lo={j(self.start)}{extra}"


def _layer_from_geometry(name: str, geom: Geometry, weight: np.ndarray | None = None) -> StackLayer:
    return StackLayer(
        name, "conv_transpose", geom.kernel, geom.stride, geom.dilation, geom.start, weight=weight, groups=geom.groups
    )


def _layer_from_dict(func: str, name: str, spec: dict) -> StackLayer:
    kind = spec.get("kind", "conv_transpose")
    if kind == "upsample":
        allowed, required = {"kind", "name", "scale_factor", "mode"}, {"scale_factor"}
    else:
        allowed, required = {"kernel_size", "stride", "padding", "dilation", "kind", "name"}, {"kernel_size"}
    if kind not in ("conv_transpose", "conv", "upsample") or set(spec) - allowed or required - set(spec):
        raise fail(
            f"checkerboard.{func}",
            f"a layer dict has kind 'conv_transpose' (default) or 'conv' with kernel_size and optional stride, "
            f"padding, dilation, name; or kind 'upsample' with scale_factor and optional mode, name; got {spec!r}",
        )
    name = spec.get("name", name)
    if kind == "upsample":
        return _upsample_layer(func, name, spec["scale_factor"], spec.get("mode", "nearest"))
    k, s, d, lo = _normalise(func, spec["kernel_size"], spec.get("stride", 1), spec.get("dilation", 1), spec.get("padding", 0))
    return StackLayer(name, kind, k, s, d, lo)


def _bilinear_taps(scale: int) -> tuple[tuple[float, ...], int]:
    """1-D taps and window start of bilinear upsampling by an integer factor (half-pixel centres).

    Output ``o`` samples input position ``(o + 1/2)/f - 1/2``; as a transposed conv
    with taps ``1 - |j - c|/f`` (``k = 2f - f mod 2``, centre ``c = (k-1)/2``)
    input ``i`` sits at ``y_full[i*f + c]``, so ``lo = c + 1/2 - f/2 = f // 2``.
    """
    k = 2 * scale - scale % 2
    c = (k - 1) / 2
    return tuple(1 - abs(j - c) / scale for j in range(k)), scale // 2


def _upsample_layer(func: str, name: str, scale: Any, mode: str) -> StackLayer:
    """Nearest or (bi/tri)linear upsampling by integer factors, as a fixed transposed conv.

    A single factor gives a one-axis layer that :func:`analyze_stack` repeats
    over the stack's axes.
    """
    scales = tuple(scale) if isinstance(scale, (tuple, list)) else (scale,)
    if any(float(f) != int(f) or f < 1 for f in scales):
        raise fail(f"checkerboard.{func}", f"{name}: only integer upsampling factors >= 1 are analysed; got scale {scales!r}")
    f = tuple(int(v) for v in scales)
    ones = (1,) * len(f)
    if mode == "nearest":
        return StackLayer(name, "upsample", f, f, ones, (0,) * len(f))
    if mode in ("bilinear", "linear", "trilinear"):
        pairs = [_bilinear_taps(v) for v in f]
        starts = tuple(lo for _, lo in pairs)
        return StackLayer(name, "upsample", tuple(len(t) for t, _ in pairs), f, ones, starts, tuple(t for t, _ in pairs))
    raise fail(f"checkerboard.{func}", f"{name}: upsampling mode {mode!r} is not analysed (nearest, linear, bilinear, trilinear are)")


def _broadcast(layer: StackLayer, nd: int) -> StackLayer:
    """A one-axis upsampling layer (a single scale factor) repeated over ``nd`` axes."""
    if layer.kind != "upsample" or layer.ndim != 1 or nd == 1:
        return layer
    return replace(
        layer,
        kernel=layer.kernel * nd,
        stride=layer.stride * nd,
        dilation=layer.dilation * nd,
        start=layer.start * nd,
        taps=layer.taps * nd,
    )


# --------------------------------------------------------------------------
# models: the framework readers' records as stack layers
# --------------------------------------------------------------------------


def _from_record(func: str, record: LayerRecord, skipped: list[str]) -> StackLayer | None:
    """The stack layer of a framework reader's record (None: not a layer the analysis sees, or skipped)."""
    c, name = record.config, record.name
    if record.kind == "conv_transpose":
        weight = record.weights.get("weight")
        return _layer_from_geometry(name, record.geometry, None if weight is None else weight.astype(np.float64))
    if record.kind == "conv":
        if c["padding"] == "same" and any(s > 1 for s in c["stride"]):
            skipped.append(f"{name}: strided 'same' conv; its window depends on the input size, not analysed")
            return None
        start = tuple(lo for lo, _ in c["pads"])
        return StackLayer(name, "conv", c["kernel_size"], c["stride"], c["dilation"], start)
    if record.kind == "upsample":
        if c["scale_factor"] is None:
            skipped.append(f"{name}: Upsample with a fixed size (no scale_factor) is not analysed")
            return None
        if c["align_corners"]:
            skipped.append(f"{name}: align_corners=True upsampling is not periodic; not analysed")
            return None
        return _upsample_layer(func, name, c["scale_factor"], c["mode"])
    return None


def _layers_from_records(func: str, records: Iterable[LayerRecord]) -> tuple[list[StackLayer], list[str]]:
    layers: list[StackLayer] = []
    skipped: list[str] = []
    for record in records:
        layer = _from_record(func, record, skipped)
        if layer is not None:
            layers.append(layer)
    return layers, skipped


def _layers_from_onnx(func: str, source: Any) -> tuple[list[StackLayer], list[str]]:
    """The main graph's ConvTranspose chain; nodes inside subgraph bodies are noted, not stacked."""
    layers: list[StackLayer] = []
    skipped: list[str] = []
    for record in onnx_models.conv_transpose_layers(source, f"checkerboard.{func}"):
        if record.config["scope"]:
            skipped.append(
                f"{record.name}: inside {record.config['where']}; a subgraph body runs conditionally or "
                f"repeatedly, not as a layer of the stack: not analysed"
            )
        elif record.note:
            skipped.append(f"{record.name}: {record.note}")
        else:
            layers.append(_from_record(func, record, skipped))
    return layers, skipped


def _walk(model: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted name, module)`` for a ``tconv.nn`` model and all its descendants, in order."""
    out = [(prefix or type(model).__name__, model)]
    for name, child in model.named_children():
        out += _walk(child, f"{prefix}.{name}" if prefix else name)
    return out


def _layers_from_tconv_nn(func: str, model: Any) -> tuple[list[StackLayer], list[str]]:
    """Layers of a ``tconv.nn`` model: its conv layers' own geometry, and its upsampling layers."""
    layers: list[StackLayer] = []
    skipped: list[str] = []
    for name, m in _walk(model):
        cls = type(m).__name__
        if cls.startswith("ConvTranspose"):
            # the window start of every padding rule the layer accepts does not depend on the input size
            geom = m.geometry((16,) * len(m.kernel_size))
            layers.append(_layer_from_geometry(name, geom, np.asarray(m.weight.data, dtype=np.float64)))
        elif cls in ("Conv1d", "Conv2d", "Conv3d"):
            start = tuple(lo for lo, _ in m.pairs())
            layers.append(StackLayer(name, "conv", tuple(m.kernel_size), tuple(m.stride), tuple(m.dilation), start))
        elif cls == "Upsample":
            if m.scale_factor is None or m.align_corners:
                skipped.append(f"{name}: Upsample with a fixed size or align_corners=True is not analysed")
                continue
            layers.append(_upsample_layer(func, name, m.scale_factor, m.mode))
    return layers, skipped


def layers_from(source: Any) -> tuple[list[StackLayer], list[str]]:
    """The analysable layers of ``source`` and notes on what was skipped.

    ``source`` is a sequence of :class:`StackLayer`, :class:`~tconv.geometry.Geometry`
    or dicts (``kernel_size``, ``stride``, ``padding``, ``dilation``, optional
    ``kind="conv"`` and ``name``; or ``kind="upsample"`` with ``scale_factor``
    and ``mode``); a ``tconv.nn`` model; a PyTorch ``nn.Module`` or a
    Keras model (neither imported unless you pass one); or the path of an ``.onnx`` file
    (the ``ConvTranspose`` chain of its main graph, read by :mod:`tconv.compat.onnx.graph`;
    nodes inside ``If`` / ``Loop`` / ``Scan`` bodies are listed among the skipped).
    """
    func = "layers_from"
    if isinstance(source, (str, os.PathLike)):
        if not str(source).endswith(".onnx"):
            raise fail(f"checkerboard.{func}", f"model files must be ONNX (.onnx); got {str(source)!r}")
        return _layers_from_onnx(func, str(source))
    # a framework's model can only exist if the framework is already imported: the readers look, never import
    if torch_models.is_model(source):
        root = torch_models.read(source)
        root = replace(root, name=root.name or root.source_type)
        return _layers_from_records(func, walk(root))
    if keras_models.is_model(source):
        return _layers_from_records(func, keras_models.read(source))
    if (type(source).__module__ or "").startswith("tconv.nn"):
        return _layers_from_tconv_nn(func, source)
    if isinstance(source, (list, tuple)):
        layers = []
        for index, item in enumerate(source):
            name = f"layer {index}"
            if isinstance(item, StackLayer):
                layers.append(item)
            elif isinstance(item, Geometry):
                layers.append(_layer_from_geometry(name, item))
            elif isinstance(item, dict):
                layers.append(_layer_from_dict(func, name, item))
            else:
                raise fail(
                    f"checkerboard.{func}",
                    f"stack entries must be StackLayer, Geometry or dict; entry {index} is {type(item).__name__}",
                    TypeError,
                )
        return layers, []
    raise fail(
        f"checkerboard.{func}",
        f"source must be a list of layers/geometries/dicts, a tconv.nn model, a torch.nn.Module, a keras.Model "
        f"or an .onnx path; got {type(source).__name__}",
        TypeError,
    )


@dataclass(frozen=True)
class LayerReport:
    """One layer in a stack: its own overlap pattern and the stack's pattern after it."""

    layer: StackLayer
    pattern: np.ndarray
    unevenness: float
    stack_pattern: np.ndarray
    stack_unevenness: float
    weights: WeightReport | None = None
    weight_tolerance: float = 0.1

    @property
    def artifact_prone(self) -> bool:
        """Uneven by geometry, or with weights whose phase sums differ by more than ``weight_tolerance``."""
        return _prone(self.unevenness) or (self.weights is not None and self.weights.kernel_spread > self.weight_tolerance)


@dataclass(frozen=True)
class StackReport:
    """The stack analysis: per-layer reports, the whole stack's pattern, what was skipped."""

    layers: tuple[LayerReport, ...]
    pattern: np.ndarray
    unevenness: float
    skipped: tuple[str, ...] = ()

    @property
    def artifact_prone(self) -> list[str]:
        """Names of the layers whose geometry (or weights) make a constant input uneven."""
        return [r.layer.name for r in self.layers if r.artifact_prone]

    @property
    def geometry_prone(self) -> list[str]:
        """Names of the layers uneven by geometry alone."""
        return [r.layer.name for r in self.layers if _prone(r.unevenness)]

    def text(self) -> str:
        lines = []
        for r in self.layers:
            flag = "UNEVEN" if _prone(r.unevenness) else "even"
            line = (
                f"{r.layer.name}: {r.layer.describe()}: overlap {_fmt_pattern(r.pattern)} -> "
                f"{flag} ({_fmt_ratio(r.unevenness)}); stack so far {_fmt_ratio(r.stack_unevenness)}"
            )
            if r.weights is not None:
                line += f"; weights: {r.weights.summary()}"
            lines.append(line)
        lines.append(f"whole stack: period {'x'.join(map(str, self.pattern.shape))}, unevenness {_fmt_ratio(self.unevenness)}")
        lines.append(_zero_note(self.pattern))
        prone = self.artifact_prone
        lines.append("artifact-prone layers: " + (", ".join(prone) if prone else "none"))
        lines.extend(f"skipped: {s}" for s in self.skipped)
        return "\n".join(line for line in lines if line)


def _propagate(layer: StackLayer, axis: int, pattern: np.ndarray) -> np.ndarray:
    taps = layer.axis_taps(axis)
    s, d, lo = layer.stride[axis], layer.dilation[axis], layer.start[axis]
    if layer.kind == "conv":
        return _through_conv(pattern, taps, s, d, lo)
    return _through_transposed(pattern, taps, s, d, lo)


def _check_layer_patterns(layer: StackLayer, periods: list[int]) -> None:
    """The layer's own pattern and the stack's after it must fit the memory budget (periods multiply by strides)."""
    if layer.kind == "conv":
        after = [p // math.gcd(p, s) for p, s in zip(periods, layer.stride)]
    else:
        after = [p * s for p, s in zip(periods, layer.stride)]
    taps = [len(layer.axis_taps(ax)) if layer.taps else layer.kernel[ax] for ax in range(layer.ndim)]
    what = f"{layer.name}'s pattern (the stack's period becomes {_dims(after)})"
    _check_pattern("analyze_stack", periods, after, taps, what)


def analyze_stack(source: Any, *, weights: bool = True, weight_tolerance: float = 0.1) -> StackReport:
    """Propagate a constant input through a stack and score every layer and the whole.

    Parameters
    ----------
    source : see :func:`layers_from`
    weights : bool
        Also run :func:`analyze_weight` on the layers that carry weights.
    weight_tolerance : float
        A layer with weights is artifact-prone when some kernel's phase sums
        spread by more than this (``(max - min) / max|.|``, 0 = even, 2 = most
        uneven); freshly initialised random kernels are near 2, bilinear and ICNR
        ones exactly 0.

    Returns
    -------
    StackReport
        ``unevenness`` is the max/min of the whole stack's interior pattern
        (period = product of the upsampling strides); ``artifact_prone`` names
        the layers that are uneven on their own.

    Notes
    -----
    Each axis is propagated separately with the layers' tap weights (ones for a
    convolution: the pattern counts overlaps), and the N-d pattern is the outer
    product. A transposed conv maps a period-``P`` pattern to period ``P*s``:
    ``y[o] = sum_j t[j] x[(o + lo - j*d)/s]`` over ``j*d ≡ o + lo (mod s)``.
    A later stride-1 layer can even out an earlier uneven one (k=3,s=2 then a
    2-tap layer gives 3, 3, 3, ...), which is why the stack is scored as a whole.

    Examples
    --------
    The Keras DCGAN MNIST generator (5x5 kernels, strides 1, 2, 2; its 'same'
    windows start at 2, 1, 1):

    >>> r = analyze_stack([dict(kernel_size=5, stride=1, padding=2, name="ct1"),
    ...                    dict(kernel_size=5, stride=2, padding=1, name="ct2"),
    ...                    dict(kernel_size=5, stride=2, padding=1, name="ct3")])
    >>> r.artifact_prone, r.unevenness
    (['ct2', 'ct3'], 1.6)
    >>> r.pattern.tolist()
    [25.0, 40.0, 25.0, 35.0]
    """
    as_flag("checkerboard.analyze_stack", "weights", weights)
    layers, skipped = layers_from(source)
    if not layers:
        raise fail("checkerboard.analyze_stack", "no analysable layer found" + (f" ({'; '.join(skipped)})" if skipped else ""))
    nd = max(layer.ndim for layer in layers)
    layers = [_broadcast(layer, nd) for layer in layers]
    for layer in layers:
        if layer.ndim != nd:
            raise fail("checkerboard.analyze_stack", f"layers disagree on the number of spatial dims: {layer.name} has {layer.ndim}, others {nd}")
    current = [np.ones(1) for _ in range(nd)]
    reports = []
    for layer in layers:
        _check_layer_patterns(layer, [len(c) for c in current])
        own = [_propagate(layer, ax, np.ones(1)) for ax in range(nd)]
        current = [_minimal_period(_propagate(layer, ax, current[ax])) for ax in range(nd)]
        own_pattern = _outer(own)
        if layer.kind == "conv_transpose" and not layer.taps:
            own_pattern = own_pattern.astype(np.int64)
        stack_pattern = _outer(current)
        weight_report = None
        if weights and layer.weight is not None and layer.kind == "conv_transpose":
            weight_report = _weight_report(layer.weight, layer.stride, layer.dilation, layer.start, layer.groups)
        reports.append(
            LayerReport(
                layer, own_pattern, _ratio(own_pattern), stack_pattern, _ratio(stack_pattern), weight_report, weight_tolerance
            )
        )
    final = reports[-1].stack_pattern
    return StackReport(tuple(reports), final, _ratio(final), tuple(skipped))

