"""Reading Keras models: the layers of a model, in order, as framework-neutral records.

Kernels arrive in tconv's layouts (:mod:`tconv.compat.layouts`), per-axis
arguments as canonical tuples (:mod:`tconv.normalise`), batch-norm momentum in
PyTorch's reading. Input and output shapes (batch excluded, channels last as
Keras gives them) are in ``config["in_shape"]`` / ``config["out_shape"]``
(``None`` when the model has not been built).

Where each layer sits in the model's graph: ``config["graph"]`` is
``"functional"`` (a ``Sequential`` or a functional model: the graph below is
what the model computes) or ``"subclassed"`` (a ``call`` of the user's own:
the layers say nothing of how they are applied); ``config["calls"]`` holds,
for each time the model applies the layer, the names of the layers whose
outputs it takes (one call with one name in a chain; two calls for a shared
layer; two names for a merge); ``config["consumers"]`` counts the calls that
take its output and ``config["is_output"]`` says whether it is a model output.

keras is never imported here: a caller holding a model has it in
``sys.modules`` already (:func:`is_model` only looks).
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from typing import Any

import numpy as np

from ...geometry import full_length, same_start
from ...normalise import per_axis
from .. import layouts
from ..records import LayerRecord
from . import geometry as keras_geometry

__all__ = ["is_model", "read"]

#: the input length a transposed conv's window is resolved at: Keras' window start does not depend on it
_NOMINAL_SIZE = 8
_FUNC = "compat.keras.models.read"


def is_model(obj: Any) -> bool:
    """Whether ``obj`` is a ``keras.Model`` (False when keras was never imported)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.Model)


def read(model: Any) -> list[LayerRecord]:
    """Every layer of ``model`` (``model.layers``), in order, with its place in the graph."""
    graph = _graph(model)
    records = []
    for layer in model.layers:
        record = _layer(layer)
        place = graph.get(id(layer), {"calls": (), "consumers": 0, "is_output": False})
        kind = "subclassed" if graph.get("subclassed") else "functional"
        records.append(replace(record, config={**record.config, "graph": kind, **place}))
    return records


def _graph(model: Any) -> dict:
    """Per layer (by ``id``) its calls in ``model``'s graph, their inputs' layers, its consumers, whether an output.

    A ``Sequential`` keeps its graph in a functional model of its own
    (``_functional``; none before it is built: then its layers are the chain
    they are listed as); a functional model is its graph (``_nodes_by_depth``).
    """
    keras = sys.modules["keras"]
    functional = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    if functional is None:
        names = [layer.name for layer in model.layers]
        return {
            id(layer): {"calls": ((names[i - 1],) if i else (),), "consumers": int(i + 1 < len(names)),
                        "is_output": i + 1 == len(names)}
            for i, layer in enumerate(model.layers)
        }
    by_depth = getattr(functional, "_nodes_by_depth", None)
    if by_depth is None:
        return {"subclassed": True}
    out: dict = {}
    nodes = [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]
    outputs = {id(t._keras_history[0]) for t in functional.outputs}
    for node in nodes:
        place = out.setdefault(id(node.operation), {"calls": (), "consumers": 0, "is_output": False})
        place["calls"] += (tuple(parent.operation.name for parent in node.parent_nodes),)
        place["is_output"] = id(node.operation) in outputs
        for parent in node.parent_nodes:
            out.setdefault(id(parent.operation), {"calls": (), "consumers": 0, "is_output": False})["consumers"] += 1
    return out


def _numpy(variable: Any) -> np.ndarray:
    """A Keras variable's value as a NumPy array (whatever the backend)."""
    return np.array(variable.value)


def _shape(layer: Any, which: str) -> tuple[int | None, ...] | None:
    try:
        shape = getattr(layer, which).shape
    except (AttributeError, ValueError):  # a layer never called has no input or output yet
        return None
    return tuple(None if v is None else int(v) for v in shape[1:])


def _tf_same_pads(in_shape, k, s, d) -> tuple[tuple[int, int], ...] | None:
    """TensorFlow's SAME for a forward conv: output ``ceil(n/s)``, the odd padding element at the end.

    Read as the transposed conv it is the adjoint of (input ``ceil(n/s)``,
    window length ``n``), the crop before is the SAME start and the total its
    excess. ``None`` when a strided conv meets an unknown input size.
    """
    sizes = in_shape[:-1] if in_shape else (None,) * len(k)
    pads = []
    for n, ki, si, di in zip(sizes, k, s, d):
        if n is None:
            if si > 1:
                return None
            n = 1  # stride 1: the total padding d*(k-1) does not depend on n
        out = -(-n // si)
        lo = same_start(out, ki, si, di, n)
        pads.append((lo, max(0, full_length(out, ki, si, di) - n) - lo))
    return tuple(pads)


def _layer(layer: Any) -> LayerRecord:
    cls = type(layer).__name__
    cfg = layer.get_config()
    in_shape, out_shape = _shape(layer, "input"), _shape(layer, "output")
    common = {"in_shape": in_shape, "out_shape": out_shape, "activation": cfg.get("activation")}

    def record(kind: str, weights: dict | None = None, geom: Any = None, **config: Any) -> LayerRecord:
        return LayerRecord(kind, layer.name, cls, {**common, **config}, weights or {}, geom)

    conv = re.fullmatch(r"Conv([123])D(Transpose)?", cls)
    if conv:
        nd = int(conv.group(1))
        k = per_axis(_FUNC, "kernel_size", cfg["kernel_size"], nd, 1)
        s = per_axis(_FUNC, "strides", cfg["strides"], nd, 1)
        d = per_axis(_FUNC, "dilation_rate", cfg["dilation_rate"], nd, 1)
        padding = cfg["padding"]
        # Keras kernels are (*k, C_out, C_in) for ConvTranspose and (*k, C_in/g, C_out) for Conv: the same
        # move (the two channel axes first, swapped) gives tconv's (C_in, C_out, *k) and (C_out, C_in/g, *k)
        weights = {"weight": np.ascontiguousarray(layouts.from_keras(_numpy(layer.kernel)))}
        if cfg["use_bias"]:
            weights["bias"] = _numpy(layer.bias)
        config = dict(kernel_size=k, stride=s, dilation=d, padding=padding, bias=cfg["use_bias"],
                      data_format=cfg.get("data_format", "channels_last"))
        if conv.group(2):
            op = cfg.get("output_padding")
            op = None if op is None else per_axis(_FUNC, "output_padding", op, nd, 0)
            geom = keras_geometry((_NOMINAL_SIZE,) * nd, k, s, padding, op, d)
            return record("conv_transpose", weights, geom, output_padding=op, groups=1, **config)
        pads = _tf_same_pads(in_shape, k, s, d) if padding == "same" else ((0, 0),) * nd
        return record("conv", weights, pads=pads, groups=cfg.get("groups", 1), **config)
    if cls == "Dense":
        kernel = _numpy(layer.kernel)
        weights = {"weight": np.ascontiguousarray(kernel.T)}  # (in, out) -> tconv's (out, in)
        if cfg["use_bias"]:
            weights["bias"] = _numpy(layer.bias)
        return record(
            "linear", weights, in_features=kernel.shape[0], out_features=kernel.shape[1], bias=cfg["use_bias"]
        )
    if cls == "BatchNormalization":
        axis = cfg["axis"]
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        values = {w.path.split("/")[-1]: _numpy(w) for w in layer.weights}
        names = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
        # Keras updates moving = m * moving + (1 - m) * batch: PyTorch's momentum is 1 - m
        return record(
            "batchnorm", {names[key]: v for key, v in values.items() if key in names}, axis=axis,
            eps=cfg["epsilon"], momentum=1.0 - cfg["momentum"], num_features=in_shape[-1] if in_shape else None,
        )
    if cls == "LeakyReLU":
        slope = cfg.get("negative_slope", cfg.get("alpha", 0.3))  # Keras 3 renamed alpha
        return record("activation", function="leaky_relu", negative_slope=slope)
    if cls == "ReLU":
        return record("activation", function="relu", max_value=cfg.get("max_value"),
                      threshold=cfg.get("threshold", 0), negative_slope=cfg.get("negative_slope", 0))
    if cls == "Activation":
        return record("activation", function=cfg["activation"])
    if cls == "Reshape":
        return record("reshape", shape=out_shape)
    if cls == "Flatten":
        return record("flatten")
    upsampling = re.fullmatch(r"UpSampling([123])D", cls)
    if upsampling:
        factors = per_axis(_FUNC, "size", cfg.get("size", cfg.get("length")), int(upsampling.group(1)), 1)
        return record("upsample", scale_factor=factors, mode=cfg.get("interpolation", "nearest"), size=None,
                      align_corners=None)
    return record("other")
