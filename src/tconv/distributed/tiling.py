"""Exact tiling: which input interval an output block needs, layer by layer, and how to compute it alone.

No Dask here: pure interval arithmetic on the geometries and NumPy calls of the
core's execution doors. Every layer is separable along the spatial axes, so an
output block ``[t0, t1)`` per axis needs an input interval per axis, found from
that layer's :class:`~tconv.geometry.Axis` alone:

* transposed conv (scatter view, ``y_full[i*s + j*d] += x[i] w[j]``, output ``t``
  at ``f = t + lo``): inputs ``i`` with ``f - d*(k-1) <= i*s <= f``, so
  ``[ceil((t0 + lo - d*(k-1)) / s), floor((t1 - 1 + lo) / s) + 1)``;
* conv (``y[t] = sum_j w[j] x[t*s + j*d - lo]``): ``[t0*s - lo, (t1-1)*s + d*(k-1) - lo + 1)``;
* resize (``y = A x`` per axis): the columns holding the rows' nonzeros;
* point-wise layers: the block itself.

Each interval is clipped to the layer's input ``[0, n)``: the positions cut away
are the zero padding (conv) or inputs that do not exist (transposed conv), so
the block's own problem is the same sum. That problem is one more geometry:
the same kernel, stride and dilation on the input slice, with the window moved
to where the block starts (``start`` is signed, so a block in the zero
extension of the window is exact too). A stack needs the intervals chained
from the last layer back to the first (:class:`Pipeline`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np

from ..errors import TconvError, fail
from ..geometry import Axis, Geometry, build_conv
from ..interpolate import apply_matrices, resize_matrices
from .. import nn
from ..nn.module import Module, Sequential
from ..ops import run_conv_geometry, run_geometry

__all__ = ["Interval", "Stage", "Pipeline", "LayerField", "ReceptiveField", "pipeline", "receptive_field"]

Interval = tuple[int, int]


def _clip(lo: int, hi: int, size: int) -> Interval:
    """``[lo, hi)`` clipped to ``[0, size)``, never empty: a block that no input reaches still reads one
    (it adds nothing to the window, which the block's own geometry places exactly)."""
    lo, hi = max(lo, 0), min(hi, size)
    if hi <= lo:
        lo = min(max(lo, 0), size - 1)
        hi = lo + 1
    return lo, hi


class Stage:
    """One tileable layer: ``need`` maps an output interval to its input interval on one axis, ``run``
    computes the output block from exactly that input block."""

    name: str
    kind: str
    factor: tuple[Fraction, ...]  # output length per input length, nominally (stride, 1/stride, scale)

    def need(self, axis: int, out: Interval) -> Interval:
        return out

    def run(self, x: np.ndarray, ins: Sequence[Interval], outs: Sequence[Interval]) -> np.ndarray:
        raise NotImplementedError

    def out_dtype(self, dtype: np.dtype) -> np.dtype:
        raise NotImplementedError


class TransposeStage(Stage):
    """A transposed conv of geometry ``geom``: weight ``(C_in, C_out/g, *k)``."""

    kind = "transposed conv"

    def __init__(self, name: str, weight: np.ndarray, bias: np.ndarray | None, geom: Geometry,
                 algorithm: str = "auto", func: str = "distributed.conv_transpose"):
        self.name, self.weight, self.bias, self.geom = name, weight, bias, geom
        self.algorithm, self.func = algorithm, func
        self.factor = tuple(Fraction(a.stride) for a in geom.axes)
        self.in_size = geom.in_size
        self.out_size = geom.out_size
        self.channels = (weight.shape[0], weight.shape[1] * geom.groups)

    def need(self, axis: int, out: Interval) -> Interval:
        a = self.geom.axes[axis]
        f0, f1 = out[0] + a.start, out[1] + a.start
        return _clip(-((a.dilation * (a.kernel - 1) - f0) // a.stride), (f1 - 1) // a.stride + 1, a.size)

    def block_geometry(self, ins: Sequence[Interval], outs: Sequence[Interval]) -> Geometry:
        """The block's own geometry: the input slice, the window moved to the block's first output."""
        axes = tuple(
            Axis(i1 - i0, a.kernel, a.stride, a.dilation, t0 + a.start - i0 * a.stride, t1 - t0)
            for a, (i0, i1), (t0, t1) in zip(self.geom.axes, ins, outs)
        )
        return Geometry(axes, self.geom.groups)

    def run(self, x, ins, outs):
        return run_geometry(x, self.weight, self.bias, self.block_geometry(ins, outs), self.algorithm, func=self.func)

    def out_dtype(self, dtype):
        return np.result_type(dtype, self.weight, *(() if self.bias is None else (self.bias,)))


class ConvStage(TransposeStage):
    """A forward conv, its geometry written as the transposed conv it is the adjoint of (:func:`tconv.geometry.build_conv`):
    ``size`` is the conv's output length, ``start`` its low padding, ``length`` its input length."""

    kind = "conv"

    def __init__(self, name: str, weight: np.ndarray, bias: np.ndarray | None, geom: Geometry,
                 func: str = "distributed.conv"):
        super().__init__(name, weight, bias, geom, func=func)
        self.factor = tuple(1 / Fraction(a.stride) for a in geom.axes)
        self.in_size, self.out_size = geom.out_size, geom.in_size
        self.channels = (weight.shape[1] * geom.groups, weight.shape[0])

    def need(self, axis: int, out: Interval) -> Interval:
        a = self.geom.axes[axis]
        return _clip(out[0] * a.stride - a.start, (out[1] - 1) * a.stride + a.k_eff - a.start, a.length)

    def block_geometry(self, ins, outs):
        # the block's padded input starts at t0*s - lo: its low padding is lo - t0*s + i0
        axes = tuple(
            Axis(t1 - t0, a.kernel, a.stride, a.dilation, a.start - t0 * a.stride + i0, i1 - i0)
            for a, (i0, i1), (t0, t1) in zip(self.geom.axes, ins, outs)
        )
        return Geometry(axes, self.geom.groups)

    def run(self, x, ins, outs):
        return run_conv_geometry(x, self.weight, self.bias, self.block_geometry(ins, outs), func=self.func)


class ResizeStage(Stage):
    """An :class:`~tconv.nn.Upsample`: one dense ``(out, in)`` matrix per axis, each row's nonzero columns kept."""

    kind = "resize"

    def __init__(self, name: str, matrices: list[np.ndarray], channels: int):
        self.name, self.matrices = name, matrices
        self.channels = (channels, channels)
        self.in_size = tuple(a.shape[1] for a in matrices)
        self.out_size = tuple(a.shape[0] for a in matrices)
        self.factor = tuple(Fraction(m, n) for m, n in zip(self.out_size, self.in_size))
        self._first = [np.argmax(a != 0, axis=1) for a in matrices]
        self._last = [a.shape[1] - np.argmax(a[:, ::-1] != 0, axis=1) for a in matrices]

    def need(self, axis: int, out: Interval) -> Interval:
        t0, t1 = out
        return _clip(int(self._first[axis][t0:t1].min()), int(self._last[axis][t0:t1].max()), self.in_size[axis])

    def run(self, x, ins, outs):
        return apply_matrices(x, [a[t0:t1, i0:i1] for a, (i0, i1), (t0, t1) in zip(self.matrices, ins, outs)])

    def out_dtype(self, dtype):
        return np.dtype(dtype)


class PointwiseStage(Stage):
    """An activation or an eval-mode BatchNorm: every output element reads its own input element."""

    kind = "point-wise"

    def __init__(self, name: str, layer: Module, in_size: tuple[int, ...], channels: int):
        self.name, self.layer = name, layer
        self.factor = (Fraction(1),) * len(in_size)
        self.in_size = self.out_size = in_size
        self.channels = (channels, channels)

    def run(self, x, ins, outs):
        # a shallow copy keeps what forward saves for backward off the shared layer (threads run blocks at once)
        return copy.copy(self.layer)(x)

    def out_dtype(self, dtype):
        return self.run(np.zeros((1, self.channels[0]) + (1,) * len(self.factor), dtype), (), ()).dtype


#: layers whose every output element reads only its own input element (BatchNorm only in eval mode)
BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
POINTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid) + BATCHNORMS
CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def leaves(model: Module, prefix: str = "") -> list[tuple[str, Module]]:
    """The model's layers in order, nested :class:`~tconv.nn.Sequential` s (resize-convs too) flattened,
    each with its dotted name (``"2.upsample"``)."""
    if isinstance(model, Sequential):
        found = []
        for name, child in model.named_children():
            found += leaves(child, f"{prefix}{name}.")
        return found
    return [(prefix.rstrip(".") or type(model).__name__, model)]


def _refuse(func: str, name: str, layer: Module, why: str) -> TconvError:
    return fail(func, f"layer {name!r} ({type(layer).__name__}) cannot be tiled: {why}")


def _stage(func: str, name: str, layer: Module, in_size: tuple[int, ...], channels: int) -> Stage:
    """The stage of one layer for an input of spatial size ``in_size`` with ``channels`` channels."""
    nd = len(in_size)
    kind = type(layer).__name__
    if isinstance(layer, CONVS):
        if layer.nd != nd:
            raise _refuse(func, name, layer, f"it has {layer.nd} spatial dims and its input {nd}")
        if layer.in_channels != channels:
            raise fail(func, f"layer {name!r} ({kind}) takes {layer.in_channels} channels; its input has {channels}")
        if layer.padding_mode != "zeros":
            raise _refuse(func, name, layer, f"padding_mode={layer.padding_mode!r} (only 'zeros' is tiled)")
        bias = None if layer.bias is None else layer.bias.data
        if layer.transposed:
            return TransposeStage(name, layer.weight.data, bias, layer.geometry(in_size), func=func)
        geom = build_conv(func, in_size, layer.kernel_size, layer.stride, layer.dilation, layer.pairs(), layer.groups)
        return ConvStage(name, layer.weight.data, bias, geom, func=func)
    if isinstance(layer, nn.Upsample):
        return ResizeStage(name, resize_matrices(
            func, in_size, layer.scale_factor, layer.size, layer.mode, layer.align_corners,
            layer.recompute_scale_factor, lead=0,
        ), channels)
    if isinstance(layer, POINTWISE):
        if isinstance(layer, BATCHNORMS):
            if layer.training or not layer.track_running_stats:
                raise _refuse(func, name, layer, "batch statistics couple every block (call model.eval(); "
                                                 "track_running_stats must be True)")
            if layer.num_features != channels or nd + 2 not in layer.ranks:
                raise fail(func, f"layer {name!r} ({kind}) takes {layer.num_features} channels and "
                                 f"{' or '.join(str(r) for r in layer.ranks)} dims; its input has {channels} "
                                 f"channels and {nd + 2} dims")
        return PointwiseStage(name, layer, in_size, channels)
    raise _refuse(func, name, layer, "only convolutions, transposed convolutions, resizes, activations and "
                                     "eval-mode BatchNorm are tileable (a layer over the whole spatial extent is not)")


@dataclass(frozen=True)
class LayerField:
    """One layer's part of a receptive field: the output interval per axis and the input interval it reads.

    ``halo`` per axis is ``(before, after)``: how far the input interval reaches past
    the block's own share of the input (the output interval divided by the layer's
    nominal factor, e.g. the stride); negative when it reads less.
    """

    name: str
    kind: str
    input: tuple[Interval, ...]
    output: tuple[Interval, ...]
    halo: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ReceptiveField:
    """What one output block of a model reads: ``input`` per spatial axis, and every layer's :class:`LayerField`."""

    input: tuple[Interval, ...]
    layers: tuple[LayerField, ...]

    def text(self) -> str:
        """Explain-style text: per layer, the block it computes, the input it reads and the halo per axis."""
        def span(ivs):
            return " x ".join(f"[{a}, {b})" for a, b in ivs)

        lines = [f"input {span(self.input)} -> output {span(self.layers[-1].output)}"]
        for f in self.layers:
            halos = ", ".join(f"{lo:+d}/{hi:+d}" for lo, hi in f.halo)
            lines.append(f"  {f.name} ({f.kind}): reads {span(f.input)} for {span(f.output)}; halo before/after "
                         f"per axis {halos}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


class Pipeline:
    """The stages of a model for one input shape: chained intervals per axis and one pass per block."""

    def __init__(self, stages: list[Stage], in_shape: tuple[int, ...], dtype):
        self.stages = stages
        self.in_shape = tuple(in_shape)
        self.nd = len(in_shape) - 2
        dt = np.dtype(dtype)
        for s in stages:
            dt = np.dtype(s.out_dtype(dt))
        self.dtype = dt
        out = stages[-1]
        self.out_shape = (in_shape[0], out.channels[1]) + tuple(out.out_size)
        self.factor = tuple(math.prod((s.factor[ax] for s in stages), start=Fraction(1)) for ax in range(self.nd))

    def chain(self, axis: int, out: Interval) -> tuple[Interval, ...]:
        """The intervals on ``axis`` from the first stage's input to ``out`` (the last stage's output)."""
        ivs = [tuple(out)]
        for s in reversed(self.stages):
            ivs.append(s.need(axis, ivs[-1]))
        return tuple(reversed(ivs))

    def run(self, x: np.ndarray, chains: Sequence[Sequence[Interval]]) -> np.ndarray:
        """The output block from the input block ``x`` (the first interval of every axis's chain)."""
        for k, s in enumerate(self.stages):
            x = s.run(x, [c[k] for c in chains], [c[k + 1] for c in chains])
        return x

    def field(self, block: Sequence[Interval]) -> ReceptiveField:
        chains = [self.chain(ax, iv) for ax, iv in enumerate(block)]
        fields = []
        for k, s in enumerate(self.stages):
            ins = tuple(c[k] for c in chains)
            outs = tuple(c[k + 1] for c in chains)
            halo = tuple(
                (math.floor(t0 / f) - i0, i1 - math.ceil(t1 / f))
                for (i0, i1), (t0, t1), f in zip(ins, outs, s.factor)
            )
            fields.append(LayerField(s.name, s.kind, ins, outs, halo))
        return ReceptiveField(tuple(c[0] for c in chains), tuple(fields))


def pipeline(func: str, model: Module, in_shape: Sequence[int], dtype) -> Pipeline:
    """The :class:`Pipeline` of a :class:`~tconv.nn.Sequential` (or one layer) for inputs of shape ``in_shape``
    ``(N, C, *spatial)``; a layer that cannot be tiled is refused by name."""
    if not isinstance(model, Module):
        raise fail(func, f"model must be a tconv.nn.Module (a Sequential of layers); got {type(model).__name__}",
                   TypeError)
    in_shape = tuple(int(v) for v in in_shape)
    if len(in_shape) < 3:
        raise fail(func, f"the input must have shape (N, C, *spatial) with at least one spatial dim; got {in_shape}")
    stages: list[Stage] = []
    size, channels = in_shape[2:], in_shape[1]
    for name, layer in leaves(model):
        stage = _stage(func, name, layer, size, channels)
        stages.append(stage)
        size, channels = tuple(stage.out_size), stage.channels[1]
    if not stages:
        raise fail(func, "model has no layers")
    return Pipeline(stages, in_shape, dtype)


def _interval(func: str, entry, size: int, axis: int) -> Interval:
    if isinstance(entry, slice):
        if entry.step not in (None, 1):
            raise fail(func, f"output_block must hold step-1 slices; got {entry!r} on axis {axis}")
        lo, hi, _ = entry.indices(size)
    else:
        try:
            lo, hi = (int(v) for v in entry)
        except (TypeError, ValueError):
            raise fail(func, f"output_block must hold a slice or a (start, stop) pair per spatial axis; got {entry!r} "
                             f"on axis {axis}", TypeError) from None
    if not 0 <= lo < hi <= size:
        raise fail(func, f"output_block must lie in [0, {size}) on axis {axis} with start < stop; got [{lo}, {hi})")
    return lo, hi


def receptive_field(model: Module, output_block: Sequence, *, input_shape: Sequence[int]) -> ReceptiveField:
    """The exact input interval an output block of ``model`` reads, and every layer's interval and halo.

    Parameters
    ----------
    model : tconv.nn.Sequential (or one layer) of tileable layers
    output_block : one ``slice`` or ``(start, stop)`` pair per spatial axis of the model's output
    input_shape : the input's shape ``(N, C, *spatial)`` (the geometries depend on it)

    Examples
    --------
    >>> from tconv import nn
    >>> model = nn.Sequential(nn.ConvTranspose1d(1, 1, 4, stride=2, padding=1), nn.Conv1d(1, 1, 3, padding=1))
    >>> rf = receptive_field(model, [(8, 16)], input_shape=(1, 1, 32))
    >>> rf.input
    ((3, 9),)
    >>> print(rf.text())
    input [3, 9) -> output [8, 16)
      0 (transposed conv): reads [3, 9) for [7, 17); halo before/after per axis +0/+0
      1 (conv): reads [7, 17) for [8, 16); halo before/after per axis +1/+1
    """
    func = "distributed.receptive_field"
    pipe = pipeline(func, model, input_shape, np.float64)
    spatial = pipe.out_shape[2:]
    if not isinstance(output_block, Sequence) or isinstance(output_block, str) or len(output_block) != len(spatial):
        raise fail(func, f"output_block must give {len(spatial)} spatial axes (a slice or (start, stop) each); "
                         f"got {output_block!r}")
    block = [_interval(func, e, n, ax) for ax, (e, n) in enumerate(zip(output_block, spatial))]
    return pipe.field(block)
