"""Checkerboard artifacts: measured from the geometry, the weights, or the image.

A transposed convolution with stride ``s`` writes each input element into every
``s``-th output position, so the output splits into ``s`` phases per axis
(residue classes ``r = (o + lo) mod s``). Tap ``j`` of a kernel with dilation
``d`` lands on phase ``r`` exactly when ``j*d ≡ r (mod s)`` (the phase
bookkeeping of ``DESIGN.md``). When the phases receive different numbers of
taps, a constant input comes out as a periodic pattern: the checkerboard
(Odena, Dumoulin & Olah, Distill 2016).

Four measurements, from cheapest to most concrete:

- :func:`overlap` / :func:`unevenness`: taps per phase of one layer's geometry.
- :func:`analyze_stack`: a constant input propagated through a whole stack of
  layers (a list of geometries, a ``tconv.nn`` model, a PyTorch module, an ONNX
  file), each layer's and the stack's period pattern, and the artifact-prone
  layers named.
- :func:`analyze_weight`: the per-phase sums of real kernels (even geometry and
  uneven weights still make a checkerboard).
- :func:`image_score`: the share of an image's spectral energy at the
  frequencies a stride-``s`` checkerboard lives on.

:func:`remedies` suggests fixes with their before/after scores, and
:func:`report` writes the text the ``tconv checkerboard`` command prints.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike

from . import geometry as geo
from .errors import TconvError
from .geometry import Geometry
from .normalise import IntOrSeq, Padding, padding_pairs, per_axis

__all__ = [
    "overlap",
    "unevenness",
    "StackLayer",
    "LayerReport",
    "StackReport",
    "layers_from",
    "analyze_stack",
    "WeightReport",
    "phase_sums",
    "analyze_weight",
    "image_score",
    "Remedy",
    "remedies",
    "report",
]

#: A layer is artifact-prone when its pattern's max/min exceeds this (1.0 = even).
EVEN_TOLERANCE = 1e-9


def _fail(func: str, message: str) -> TconvError:
    return TconvError(f"tconv.checkerboard.{func}: {message}")


# --------------------------------------------------------------------------
# periodic patterns: the one piece of arithmetic everything below shares
# --------------------------------------------------------------------------


def _through_transposed(pattern: np.ndarray, taps: np.ndarray, stride: int, dilation: int, start: int) -> np.ndarray:
    """One axis: the interior output pattern of a transposed conv fed a periodic input.

    ``pattern[i mod P]`` is the input far from the edges. The output is
    ``y[o] = sum_j taps[j] * x[(o + start - j*d) / s]`` over the taps with
    ``j*d ≡ o + start (mod s)``, periodic with period ``P*s``.
    """
    period = len(pattern) * stride
    out = np.zeros(period)
    for o in range(period):
        f = o + start
        for j, t in enumerate(taps):
            if (f - j * dilation) % stride == 0:
                out[o] += t * pattern[((f - j * dilation) // stride) % len(pattern)]
    return out


def _through_conv(pattern: np.ndarray, taps: np.ndarray, stride: int, dilation: int, start: int) -> np.ndarray:
    """One axis: the interior output pattern of a forward conv, ``y[o] = sum_j taps[j] x[o*s - p + j*d]``."""
    period = len(pattern) // math.gcd(len(pattern), stride)
    out = np.zeros(period)
    for o in range(period):
        for j, t in enumerate(taps):
            out[o] += t * pattern[(o * stride - start + j * dilation) % len(pattern)]
    return out


def _minimal_period(pattern: np.ndarray) -> np.ndarray:
    """The shortest prefix whose repetition is ``pattern`` (per axis, N-d)."""
    for axis in range(pattern.ndim):
        n = pattern.shape[axis]
        for p in range(1, n + 1):
            if n % p == 0 and np.allclose(np.roll(pattern, p, axis=axis), pattern, rtol=1e-12, atol=0):
                pattern = np.take(pattern, range(p), axis=axis)
                break
    return pattern


def _outer(per_axis: Sequence[np.ndarray]) -> np.ndarray:
    out = np.ones(())
    for p in per_axis:
        out = np.multiply.outer(out, p)
    return out


def _ratio(pattern: np.ndarray) -> float:
    """max/min of a pattern: 1.0 even, ``inf`` when some position gets nothing."""
    lo, hi = float(np.min(pattern)), float(np.max(pattern))
    if hi <= 0:
        return math.inf if hi < 0 or lo < 0 else 1.0
    return math.inf if lo <= 0 else hi / lo


def _prone(ratio: float) -> bool:
    return ratio > 1.0 + EVEN_TOLERANCE


# --------------------------------------------------------------------------
# one layer's geometry
# --------------------------------------------------------------------------


def _normalise(func: str, kernel_size: IntOrSeq, stride: IntOrSeq, dilation: IntOrSeq, padding: Padding):
    # the number of spatial dims: the longest per-axis argument (per_axis then checks the others)
    nd = max((len(v) for v in (kernel_size, stride, dilation, padding) if isinstance(v, (tuple, list))), default=1)
    name = f"checkerboard.{func}"
    k = per_axis(name, "kernel_size", kernel_size, nd, 1)
    s = per_axis(name, "stride", stride, nd, 1)
    d = per_axis(name, "dilation", dilation, nd, 1)
    lo = tuple(p[0] for p in padding_pairs(name, padding, nd))
    return k, s, d, lo


def overlap(kernel_size: IntOrSeq, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0) -> np.ndarray:
    """How many kernel taps reach each output position, over one period.

    Parameters
    ----------
    kernel_size, stride, dilation : int or one int per spatial dim
    padding : int, per-axis ints, or ``(lo, hi)`` pairs (PyTorch's); only ``lo``
        matters: it chooses which phase comes first.

    Returns
    -------
    ndarray of int, shape ``stride``
        ``counts[o_1, ..., o_n]`` for output positions far from the edges, with
        ``o`` taken modulo the stride.

    Notes
    -----
    Output ``o`` reads ``y_full[f]``, ``f = o + lo``; tap ``j`` reaches it when
    ``f - j*d`` is a multiple of ``s``, so per axis
    ``count[o] = #{0 <= j < k : j*d ≡ o + lo (mod s)}``, and the N-d count is
    the product of the per-axis counts (an N-d tap is a tuple of per-axis taps).
    When ``gcd(d, s) = g > 1`` only the phases ``≡ -lo (mod g)`` are reachable.

    Examples
    --------
    >>> overlap(3, 2).tolist()
    [2, 1]
    >>> overlap((3, 3), 2).tolist()
    [[4, 2], [2, 1]]
    >>> overlap(3, 2, padding=1).tolist()
    [1, 2]
    >>> overlap(3, 2, dilation=2).tolist()
    [3, 0]
    """
    k, s, d, lo = _normalise("overlap", kernel_size, stride, dilation, padding)
    per_axis = [_through_transposed(np.ones(1), np.ones(ki), si, di, li) for ki, si, di, li in zip(k, s, d, lo)]
    return _outer(per_axis).astype(np.int64)


def unevenness(kernel_size: IntOrSeq, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0) -> float:
    """max/min of :func:`overlap`: 1.0 means even, ``math.inf`` means some positions get no tap.

    Examples
    --------
    >>> unevenness(3, 2), unevenness((3, 3), 2), unevenness(4, 2), unevenness(5, 2)
    (2.0, 4.0, 1.0, 1.5)
    >>> unevenness(1, 2)
    inf
    """
    return _ratio(overlap(kernel_size, stride, dilation=dilation, padding=padding))


# --------------------------------------------------------------------------
# stacks
# --------------------------------------------------------------------------


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
        raise _fail(
            func,
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
        raise _fail(func, f"{name}: only integer upsampling factors >= 1 are analysed; got scale {scales!r}")
    f = tuple(int(v) for v in scales)
    ones = (1,) * len(f)
    if mode == "nearest":
        return StackLayer(name, "upsample", f, f, ones, (0,) * len(f))
    if mode in ("bilinear", "linear", "trilinear"):
        pairs = [_bilinear_taps(v) for v in f]
        starts = tuple(lo for _, lo in pairs)
        return StackLayer(name, "upsample", tuple(len(t) for t, _ in pairs), f, ones, starts, tuple(t for t, _ in pairs))
    raise _fail(func, f"{name}: upsampling mode {mode!r} is not analysed (nearest, linear, bilinear, trilinear are)")


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


def _conv_same_start(k: Sequence[int], d: Sequence[int]) -> tuple[int, ...]:
    """PyTorch's ``padding='same'`` for a stride-1 conv: ``d*(k-1)`` in total, the smaller half first."""
    return tuple(di * (ki - 1) // 2 for ki, di in zip(k, d))


def _layers_from_torch(func: str, module: Any) -> tuple[list[StackLayer], list[str]]:
    import torch  # the caller passed a torch module, so torch is installed

    layers: list[StackLayer] = []
    skipped: list[str] = []
    for name, m in module.named_modules():
        name = name or type(m).__name__
        if isinstance(m, (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)):
            layers.append(
                StackLayer(
                    name,
                    "conv_transpose",
                    tuple(m.kernel_size),
                    tuple(m.stride),
                    tuple(m.dilation),
                    tuple(m.padding),
                    weight=m.weight.detach().cpu().double().numpy(),
                    groups=m.groups,
                )
            )
        elif isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
            nd = len(m.kernel_size)
            if m.padding == "same":
                start = _conv_same_start(m.kernel_size, m.dilation)
            elif m.padding == "valid":
                start = (0,) * nd
            else:
                start = tuple(m.padding)
            layers.append(StackLayer(name, "conv", tuple(m.kernel_size), tuple(m.stride), tuple(m.dilation), start))
        elif isinstance(m, torch.nn.Upsample):
            if m.scale_factor is None:
                skipped.append(f"{name}: Upsample with a fixed size (no scale_factor) is not analysed")
                continue
            if getattr(m, "align_corners", None):
                skipped.append(f"{name}: align_corners=True upsampling is not periodic; not analysed")
                continue
            layers.append(_upsample_layer(func, name, m.scale_factor, m.mode))
    return layers, skipped


def _onnx_attr(node: Any) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _layers_from_onnx(func: str, path: str) -> tuple[list[StackLayer], list[str]]:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ImportError("tconv.checkerboard needs onnx to read ONNX files: pip install 'tconv[onnx]'") from None
    model = onnx.load(path)
    graph = model.graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    shapes: dict[str, tuple] = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
        for vi in list(inferred.value_info) + list(inferred.input):
            dims = vi.type.tensor_type.shape.dim
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    except Exception:  # shape inference is a convenience: without it output_shape nodes are skipped
        pass
    from .compat import onnx as onnx_conv

    layers: list[StackLayer] = []
    skipped: list[str] = []
    for index, node in enumerate(graph.node):
        if node.op_type != "ConvTranspose":
            continue
        name = node.name or f"ConvTranspose_{index}"
        attr = _onnx_attr(node)
        w = weights.get(node.input[1])
        k = tuple(attr.pop("kernel_shape", w.shape[2:] if w is not None else ()))
        if not k:
            skipped.append(f"{name}: no kernel_shape attribute and no weight initializer")
            continue
        n = shapes.get(node.input[0], (None,) * (len(k) + 2))[2:]
        if None in n or len(n) != len(k):
            if "output_shape" in attr:
                skipped.append(f"{name}: output_shape needs the static input size, which the graph does not give")
                continue
            n = (8,) * len(k)  # without output_shape the window start does not depend on the input size
        geom = onnx_conv.geometry(n, k, **attr)
        weight = None if w is None else w.astype(np.float64)
        layers.append(_layer_from_geometry(name, geom, weight))
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


def _layers_from_keras(func: str, model: Any) -> tuple[list[StackLayer], list[str]]:
    """Conv*DTranspose / Conv*D / UpSampling*D layers of a Keras model (channels-last kernels)."""
    layers: list[StackLayer] = []
    skipped: list[str] = []
    for layer in model.layers:
        cls = type(layer).__name__
        if cls.startswith("Conv") and cls.endswith("Transpose"):
            from .compat import keras as keras_conv

            k = tuple(layer.kernel_size)
            # the window start of Keras' rule does not depend on the input size
            geom = keras_conv.geometry((8,) * len(k), k, layer.strides, layer.padding, layer.output_padding, layer.dilation_rate)
            # Keras kernel (*k, C_out, C_in) -> tconv (C_in, C_out, *k): the same taps, no flip
            kernel = np.asarray(layer.get_weights()[0], dtype=np.float64)
            layers.append(_layer_from_geometry(layer.name, geom, np.moveaxis(kernel, (-1, -2), (0, 1))))
        elif cls.startswith("Conv") and cls[4:6] in ("1D", "2D", "3D"):
            k, s, d = tuple(layer.kernel_size), tuple(layer.strides), tuple(layer.dilation_rate)
            start = _conv_same_start(k, d) if layer.padding == "same" else (0,) * len(k)
            if layer.padding == "same" and any(si > 1 for si in s):
                skipped.append(f"{layer.name}: strided 'same' conv; its window depends on the input size, not analysed")
                continue
            layers.append(StackLayer(layer.name, "conv", k, s, d, start))
        elif cls.startswith("UpSampling"):
            size = layer.size if isinstance(layer.size, (tuple, list)) else (layer.size,)
            layers.append(_upsample_layer(func, layer.name, tuple(size), getattr(layer, "interpolation", "nearest")))
    return layers, skipped


def layers_from(source: Any) -> tuple[list[StackLayer], list[str]]:
    """The analysable layers of ``source`` and notes on what was skipped.

    ``source`` is a sequence of :class:`StackLayer`, :class:`~tconv.geometry.Geometry`
    or dicts (``kernel_size``, ``stride``, ``padding``, ``dilation``, optional
    ``kind="conv"`` and ``name``; or ``kind="upsample"`` with ``scale_factor``
    and ``mode``); a ``tconv.nn`` model; a PyTorch ``nn.Module`` or a
    Keras model (neither imported unless you pass one); or the path of an ``.onnx`` file
    (its ``ConvTranspose`` nodes, read with ``onnx.helper``).
    """
    func = "layers_from"
    if isinstance(source, (str, os.PathLike)):
        if not str(source).endswith(".onnx"):
            raise _fail(func, f"model files must be ONNX (.onnx); got {str(source)!r}")
        return _layers_from_onnx(func, str(source))
    # a framework's model can only exist if the framework is already imported: look, never import
    torch, keras = sys.modules.get("torch"), sys.modules.get("keras")
    if torch is not None and isinstance(source, torch.nn.Module):
        return _layers_from_torch(func, source)
    if keras is not None and isinstance(source, keras.Model):
        return _layers_from_keras(func, source)
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
                raise TypeError(
                    f"tconv.checkerboard.{func}: stack entries must be StackLayer, Geometry or dict; "
                    f"entry {index} is {type(item).__name__}"
                )
        return layers, []
    raise TypeError(
        f"tconv.checkerboard.{func}: source must be a list of layers/geometries/dicts, a tconv.nn model, "
        f"a torch.nn.Module or an .onnx path; got {type(source).__name__}"
    )


@dataclass(frozen=True)
class LayerReport:
    """One layer in a stack: its own overlap pattern and the stack's pattern after it."""

    layer: StackLayer
    pattern: np.ndarray
    unevenness: float
    stack_pattern: np.ndarray
    stack_unevenness: float
    weights: "WeightReport | None" = None
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


def _fmt_ratio(r: float) -> str:
    return "inf" if math.isinf(r) else f"{r:.4g}"


def _fmt_pattern(p: np.ndarray) -> str:
    if p.size > 16:
        return f"{'x'.join(map(str, p.shape))} pattern, min {p.min():g}, max {p.max():g}"
    return str(np.round(p, 6).tolist()).replace(".0,", ",").replace(".0]", "]")


def _zero_note(pattern: np.ndarray) -> str:
    if np.min(pattern) > 0:
        return ""
    zeros = np.argwhere(pattern <= 0)
    where = ", ".join(str(tuple(int(v) for v in z)) for z in zeros[:8])
    return (
        f"unevenness is infinite: no tap reaches the output positions with phase {where} "
        f"(of period {'x'.join(map(str, pattern.shape))}); they stay zero for any input"
    )


def _propagate(layer: StackLayer, axis: int, pattern: np.ndarray) -> np.ndarray:
    taps = layer.axis_taps(axis)
    s, d, lo = layer.stride[axis], layer.dilation[axis], layer.start[axis]
    if layer.kind == "conv":
        return _through_conv(pattern, taps, s, d, lo)
    return _through_transposed(pattern, taps, s, d, lo)


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
    layers, skipped = layers_from(source)
    if not layers:
        raise _fail("analyze_stack", "no analysable layer found" + (f" ({'; '.join(skipped)})" if skipped else ""))
    nd = max(layer.ndim for layer in layers)
    layers = [_broadcast(layer, nd) for layer in layers]
    for layer in layers:
        if layer.ndim != nd:
            raise _fail("analyze_stack", f"layers disagree on the number of spatial dims: {layer.name} has {layer.ndim}, others {nd}")
    current = [np.ones(1) for _ in range(nd)]
    reports = []
    for layer in layers:
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


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------


def phase_sums(weight: ArrayLike, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0) -> np.ndarray:
    """Per-phase sums of each kernel: shape ``(C_in, C_out/g, *stride)``.

    ``sums[c, o, r] = sum_{j : j*d ≡ r + lo (mod s)} weight[c, o, j]`` per axis:
    what output phase ``r`` of channel ``o`` receives when input channel ``c``
    is constant 1, far from the edges.

    Examples
    --------
    >>> import numpy as np
    >>> phase_sums(np.array([[[1.0, 2.0, 3.0]]]), 2)[0, 0].tolist()
    [4.0, 2.0]
    """
    w = _as_weight("phase_sums", weight)
    _, s, d, lo = _normalise("phase_sums", tuple(w.shape[2:]), stride, dilation, padding)
    return _phase_sums(w, s, d, lo)


def _as_weight(func: str, weight: ArrayLike) -> np.ndarray:
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim < 3:
        raise _fail(func, f"weight must have shape (C_in, C_out/groups, *k) with at least one spatial dim; got shape {w.shape}")
    return w


def _phase_sums(w: np.ndarray, s: tuple[int, ...], d: tuple[int, ...], lo: tuple[int, ...]) -> np.ndarray:
    """:func:`phase_sums` on normalised per-axis values (``lo`` may be negative)."""
    out = np.zeros(w.shape[:2] + s)
    for j in np.ndindex(*w.shape[2:]):
        r = tuple((ji * di - li) % si for ji, di, li, si in zip(j, d, lo, s))
        out[(slice(None), slice(None)) + r] += w[(slice(None), slice(None)) + j]
    return out


def _spread(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """(max - min) / max|.| over ``axes``: 0 when even (0 also for an all-zero kernel)."""
    hi, lo = values.max(axis=axes), values.min(axis=axes)
    scale = np.abs(values).max(axis=axes)
    return np.where(scale > 0, (hi - lo) / np.where(scale > 0, scale, 1), 0.0)


@dataclass(frozen=True)
class WeightReport:
    """The response of real kernels to a constant input, phase by phase.

    ``kernel_sums``: :func:`phase_sums`, one period per (input, output) channel pair.
    ``response``: per output channel, the period a constant input in every
    input channel produces (``(C_out, *stride)``). ``kernel_spread`` and
    ``response_spread`` are the worst ``(max - min) / max|.|`` over a period:
    0 is even, 2 the most uneven.
    """

    kernel_sums: np.ndarray
    response: np.ndarray
    kernel_spread: float
    response_spread: float

    @property
    def even(self) -> bool:
        return self.kernel_spread <= 1e-9

    def summary(self) -> str:
        state = "even" if self.even else "UNEVEN"
        return f"{state} (kernel phase-sum spread {self.kernel_spread:.3g}, constant-input response spread {self.response_spread:.3g})"


def analyze_weight(
    weight: ArrayLike, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0, groups: int = 1
) -> WeightReport:
    """Do real kernels turn a constant input into a checkerboard? (weight-aware analysis)

    Even geometry (kernel divisible by stride) is necessary, not sufficient: each
    phase of the output receives the sum of a different subset of taps, so a
    constant input comes out even only when those sums agree.

    Parameters
    ----------
    weight : array_like, shape ``(C_in, C_out/groups, *k)`` (tconv / PyTorch layout)
    stride, dilation, padding : as for :func:`overlap`
    groups : int

    Examples
    --------
    Bilinear upsampling weights are even, an arbitrary 4-tap kernel is not:

    >>> import numpy as np
    >>> analyze_weight(np.array([[[0.25, 0.75, 0.75, 0.25]]]), 2).even
    True
    >>> analyze_weight(np.array([[[1.0, 0.0, 0.5, 0.5]]]), 2).kernel_sums[0, 0].tolist()
    [1.5, 0.5]
    """
    w = _as_weight("analyze_weight", weight)
    _, s, d, lo = _normalise("analyze_weight", tuple(w.shape[2:]), stride, dilation, padding)
    return _weight_report(w, s, d, lo, groups)


def _weight_report(w: np.ndarray, s: tuple[int, ...], d: tuple[int, ...], lo: tuple[int, ...], groups: int) -> WeightReport:
    sums = _phase_sums(w, s, d, lo)
    c_in, c_out_g = sums.shape[:2]
    if not isinstance(groups, numbers.Integral) or groups < 1 or c_in % groups:
        raise _fail("analyze_weight", f"groups must be a positive int dividing C_in = {c_in}; got {groups!r}")
    period = sums.shape[2:]
    per_group = sums.reshape((groups, c_in // groups, c_out_g) + period).sum(axis=1)
    response = per_group.reshape((groups * c_out_g,) + period)
    kernel_spread = float(_spread(sums, tuple(range(2, sums.ndim))).max())
    response_spread = float(_spread(response, tuple(range(1, response.ndim))).max())
    return WeightReport(sums, response, kernel_spread, response_spread)


def _icnr(kernel: tuple[int, ...], stride: tuple[int, ...], seed: int) -> np.ndarray:
    """A one-channel ICNR transposed-conv kernel: ``tconv.init.icnr_transpose`` when present."""
    try:
        from .init import icnr_transpose
    except ImportError:
        rng = np.random.default_rng(seed)
        sub = tuple(ki - si + 1 for ki, si in zip(kernel, stride))
        bound = 1 / math.sqrt(math.prod(sub))
        return _icnr_weight(rng.uniform(-bound, bound, (1, 1) + sub), stride)
    return icnr_transpose(1, 1, kernel, stride, rng=seed, dtype=np.float64)


def _icnr_weight(sub_kernel: np.ndarray, stride: Sequence[int]) -> np.ndarray:
    """ICNR for a transposed conv, from a sub-kernel ``b`` of size ``k - s + 1`` per axis.

    The full convolution of ``b`` with a box of ``s`` ones: nearest-neighbour
    upsampling followed by ``b``, so every phase sums all of ``b`` and a
    constant input stays constant. (``tconv.init.icnr_transpose`` builds the
    same from a random ``b``; this one takes ``b``.)
    """
    w = np.asarray(sub_kernel, dtype=np.float64)
    for axis, s in enumerate(stride):
        w = np.apply_along_axis(np.convolve, 2 + axis, w, np.ones(s))
    return w


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------


def image_score(image: ArrayLike, stride: IntOrSeq, *, channel_axis: int | None = -1) -> float:
    """Fraction of an image's spectral energy at the checkerboard frequencies of a stride.

    Parameters
    ----------
    image : array_like
        1-D or 2-D grayscale, or 3-D with a colour axis (``channel_axis``,
        default last), which is averaged. With ``channel_axis=None`` every axis
        is spatial.
    stride : int or one int per spatial axis

    Returns
    -------
    float in ``[0, 1]``
        0.0 for a constant image.

    Notes
    -----
    Each axis is cropped to a multiple of its stride ``s`` (from the start), the
    mean is removed, and ``E = |FFT(image)|^2``. The score is
    ``sum(E[bins with some axis at a non-zero multiple of 1/s]) / sum(E)``
    (DC excluded from both): for length ``N`` those are the indices ``m*N/s``,
    ``0 < m < s``. A pure stride-2 checkerboard scores 1; white noise scores
    about the share of such bins, ``1 - prod(1 - (s-1)/N)``.

    Examples
    --------
    >>> import numpy as np
    >>> image_score(np.indices((8, 8)).sum(axis=0) % 2, 2)
    1.0
    >>> image_score(np.ones((8, 8)), 2)
    0.0
    >>> round(image_score(np.tile([1.0, 0.0, 0.0, 0.0], (4, 4)), 2), 3)
    0.333
    """
    func = "image_score"
    try:
        a = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"tconv.checkerboard.{func}: image must be a real array; got {type(image).__name__}") from None
    if a.ndim == 3 and channel_axis is not None:
        a = a.mean(axis=channel_axis)
    elif a.ndim not in (1, 2) and channel_axis is not None:
        raise _fail(func, f"image must be 1-D, 2-D, or 3-D with a colour axis (or pass channel_axis=None); got shape {a.shape}")
    s = per_axis(f"checkerboard.{func}", "stride", stride, a.ndim, 1)
    crop = tuple(n - n % si for n, si in zip(a.shape, s))
    if min(crop) < 1:
        raise _fail(func, f"image must be at least one stride long on every axis (stride {s}); got shape {a.shape}")
    raw = a[tuple(slice(0, c) for c in crop)]
    a = raw - raw.mean()
    if np.sum(a**2) <= 1e-20 * np.sum(raw**2):
        return 0.0  # constant up to rounding: no pattern at all (also avoids 0/0)
    energy = np.abs(np.fft.fftn(a)) ** 2
    energy.flat[0] = 0.0
    total = energy.sum()
    mask = np.zeros(a.shape, dtype=bool)
    for axis, (n, si) in enumerate(zip(a.shape, s)):
        idx = np.arange(n)
        hit = (idx % (n // si) == 0) & (idx != 0) if si > 1 else np.zeros(n, dtype=bool)
        shape = [1] * a.ndim
        shape[axis] = n
        mask |= hit.reshape(shape)
    return float(energy[mask].sum() / total)


# --------------------------------------------------------------------------
# remedies
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Remedy:
    """A suggested fix with its before/after scores.

    ``before`` / ``after`` are the :func:`image_score` of the layer's response
    to a constant input (interior, edges cropped); ``before_pattern`` /
    ``after_pattern`` one period of that response.
    """

    name: str
    suggestion: str
    before: float
    after: float
    before_pattern: np.ndarray = field(repr=False, compare=False)
    after_pattern: np.ndarray = field(repr=False, compare=False)

    def text(self) -> str:
        return (
            f"{self.name}: {self.suggestion}\n"
            f"    image score {self.before:.3f} -> {self.after:.3f}; "
            f"period {_fmt_pattern(self.before_pattern)} -> {_fmt_pattern(self.after_pattern)}"
        )


def _constant_response(weight: np.ndarray, stride, dilation, padding, n: int) -> np.ndarray:
    """The interior of ``conv_transpose(ones, weight)`` (channel 0), edges cropped by one kernel span."""
    from .ops import conv_transpose

    nd = weight.ndim - 2
    x = np.ones((1, weight.shape[0]) + (n,) * nd)
    y = conv_transpose(x, weight, stride=stride, dilation=dilation, padding=padding)[0, 0]
    # crop whole periods, so the kept part starts at output phase 0
    margin = [-(-(di * (ki - 1) + 1 + si) // si) * si for ki, si, di in zip(weight.shape[2:], stride, dilation)]
    return y[tuple(slice(m, y.shape[a] - m) for a, m in enumerate(margin))]


def _resize_conv_response(kernel: tuple[int, ...], stride: tuple[int, ...], n: int) -> np.ndarray:
    """Nearest upsampling by the stride, then a stride-1 'same' conv with the same kernel size."""
    from .ops import conv

    x = np.ones((1, 1) + (n,) * len(kernel))
    for axis, s in enumerate(stride):
        x = np.repeat(x, s, axis=2 + axis)
    pads = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel]
    y = conv(x, np.ones((1, 1) + kernel), padding=pads)[0, 0]
    margin = [-(-(k + s) // s) * s for k, s in zip(kernel, stride)]
    return y[tuple(slice(m, y.shape[a] - m) for a, m in enumerate(margin))]


def _score_pair(response: np.ndarray, stride: tuple[int, ...]) -> tuple[float, np.ndarray]:
    period = response[tuple(slice(0, s) for s in stride)]
    return image_score(response, stride, channel_axis=None), np.round(period, 12)


def remedies(
    kernel_size: IntOrSeq,
    stride: IntOrSeq,
    *,
    dilation: IntOrSeq = 1,
    padding: Padding = 0,
    in_size: int = 12,
    seed: int = 0,
) -> list[Remedy]:
    """Fixes for a checkerboard-prone geometry, each with a before/after score.

    1. A kernel size divisible by the stride (with the padding that keeps the
       output size, from :func:`tconv.solve_padding`).
    2. Resize-convolution: nearest upsampling by the stride, then a stride-1 conv.
    3. ICNR initialisation of the divisible kernel: a randomly initialised
       kernel (uniform, seeded) is uneven even with even geometry; ICNR is not.

    Scores are :func:`image_score` of the response to a constant input, on a
    square input of ``in_size`` per axis (edges cropped).

    Examples
    --------
    >>> [(r.name, round(r.before, 2), round(r.after, 2)) for r in remedies(3, 2)[:2]]
    [('kernel divisible by stride', 1.0, 0.0), ('resize-convolution', 1.0, 0.0)]
    """
    func = "remedies"
    k, s, d, lo = _normalise(func, kernel_size, stride, dilation, padding)
    nd = len(k)
    pad = [(p, p) for p in lo]
    before, before_period = _score_pair(_constant_response(np.ones((1, 1) + k), s, d, pad, in_size), s)
    out: list[Remedy] = []

    k_div = tuple(-(-ki // si) * si for ki, si in zip(k, s))
    full_old = [(in_size - 1) * si + di * (ki - 1) + 1 - 2 * li for ki, si, di, li in zip(k, s, d, lo)]
    choices = []
    for ax in range(nd):
        pairs = geo.solve_padding(in_size, full_old[ax], k_div[ax], stride=s[ax], dilation=d[ax])[0]
        choices.append(pairs[0] if pairs else (lo[ax], 0))
    new_pad = [(p, p) for p, _ in choices]
    after, after_period = _score_pair(_constant_response(np.ones((1, 1) + k_div), s, d, new_pad, in_size), s)
    shown = ", ".join(f"padding={p}, output_padding={op}" for p, op in dict.fromkeys(choices))
    out.append(
        Remedy(
            "kernel divisible by stride",
            f"kernel_size={k_div if nd > 1 else k_div[0]} (same output size with {shown})",
            before,
            after,
            before_period,
            after_period,
        )
    )

    after, after_period = _score_pair(_resize_conv_response(k, s, in_size), s)
    out.append(
        Remedy(
            "resize-convolution",
            f"nearest upsampling by {s if nd > 1 else s[0]}, then a stride-1 conv with kernel {k if nd > 1 else k[0]}",
            before,
            after,
            before_period,
            after_period,
        )
    )

    # ICNR needs k >= s; it keeps the kernel size otherwise (k=3, s=2 works: taps b0, b0+b1, b1)
    k_icnr = tuple(max(ki, si) for ki, si in zip(k, s))
    icnr_pad = pad if k_icnr == k else new_pad
    rng = np.random.default_rng(seed)
    bound = 1 / math.sqrt(math.prod(k_icnr))  # PyTorch's default init scale for one channel
    random_w = rng.uniform(-bound, bound, (1, 1) + k_icnr)
    rand_score, rand_period = _score_pair(_constant_response(random_w, s, d, icnr_pad, in_size), s)
    after, after_period = _score_pair(_constant_response(_icnr(k_icnr, s, seed), s, d, icnr_pad, in_size), s)
    out.append(
        Remedy(
            "ICNR initialisation",
            f"kernel_size={k_icnr if nd > 1 else k_icnr[0]} initialised as nearest upsampling then a random "
            f"sub-kernel (before: a uniform random init, uneven whatever the geometry)",
            rand_score,
            after,
            rand_period,
            after_period,
        )
    )
    return out


# --------------------------------------------------------------------------
# the text report and the command line
# --------------------------------------------------------------------------


def report(
    kernel_size: IntOrSeq, stride: IntOrSeq, *, dilation: IntOrSeq = 1, padding: Padding = 0, in_size: int = 12
) -> str:
    """The text ``tconv checkerboard`` prints for one geometry (``in_size``: see :func:`remedies`).

    Examples
    --------
    >>> for line in report(1, 2).splitlines()[:4]:
    ...     print(line)
    overlap (taps per output position over one period 2):
      1 0
    unevenness: inf
    unevenness is infinite: no tap reaches the output positions with phase (1,) (of period 2); they stay zero for any input
    """
    counts = overlap(kernel_size, stride, dilation=dilation, padding=padding)
    ratio = _ratio(counts)
    lines = [
        f"overlap (taps per output position over one period {'x'.join(map(str, counts.shape))}):",
        _grid(counts),
        f"unevenness: {_fmt_ratio(ratio)}",
        _zero_note(counts) or ("UNEVEN: expect a checkerboard" if _prone(ratio) else "even: no checkerboard from the geometry"),
    ]
    _, s, d, _ = _normalise("report", kernel_size, stride, dilation, padding)
    shared = [(ax, math.gcd(di, si)) for ax, (di, si) in enumerate(zip(d, s)) if math.gcd(di, si) > 1]
    for ax, g in shared:
        lines.append(
            f"axis {ax}: dilation {d[ax]} and stride {s[ax]} share the factor {g}, so taps reach only every "
            f"{g}-th phase whatever the kernel size: use a dilation coprime with the stride"
        )
    if not _prone(ratio) and counts.size > 1:
        lines.append("(real weights can still respond unevenly: their per-phase sums decide; see analyze_weight)")
    if _prone(ratio):
        lines.append("remedies (image score of a constant input's response, before -> after):")
        lines += ["  " + r.text().replace("\n", "\n  ") for r in remedies(kernel_size, stride, dilation=dilation, padding=padding, in_size=in_size)]
    return "\n".join(lines)


def _grid(a: np.ndarray) -> str:
    a2 = np.atleast_2d(a)
    width = max(len(f"{v:g}") for v in a2.ravel())
    return "\n".join("  " + " ".join(f"{v:g}".rjust(width) for v in row) for row in a2)
