"""Reading ONNX models: every ``ConvTranspose`` node as a framework-neutral :class:`~tconv.compat.records.LayerRecord`.

The graph is read by :mod:`tconv.compat.onnx.graph` (subgraph bodies
included; a body node's record says where it sits in ``config["scope"]``).
The window is the spec text's (:func:`tconv.compat.onnx.geometry`), at the
input size the model fixes, or at a nominal size when only ``output_shape``
would make the window depend on it.
"""

from __future__ import annotations

from typing import Any

from ..records import LayerRecord
from . import geometry as onnx_geometry
from .graph import Graph, read

__all__ = ["GEOMETRY_ATTRIBUTES", "NOMINAL_SIZE", "conv_transpose_layers"]

#: the attributes of a ConvTranspose node that decide its window (``tconv.compat.onnx.geometry``'s keywords)
GEOMETRY_ATTRIBUTES = ("auto_pad", "dilations", "group", "output_padding", "output_shape", "pads", "strides")

#: the input length used to resolve what does not depend on it, when the model leaves it open
NOMINAL_SIZE = 8


def conv_transpose_layers(model: Any, func: str) -> list[LayerRecord]:
    """The ``ConvTranspose`` nodes of ``model`` (a path, bytes, ``ModelProto`` or a read :class:`Graph`), in order.

    A record without ``geometry`` carries a ``note`` saying what is missing;
    ``weights["weight"]`` is there when ``W`` is an initializer.
    """
    graph = model if isinstance(model, Graph) else read(model, func)
    weights = graph.initializers()
    shapes = graph.shapes(infer=True)
    records = []
    for index, node in enumerate(graph.nodes("ConvTranspose")):
        proto, attrs = node.proto, node.attributes
        name = proto.name or f"ConvTranspose_{index}"
        w = weights.get(proto.input[1]) if len(proto.input) > 1 else None
        config = {key: attrs[key] for key in GEOMETRY_ATTRIBUTES if key in attrs}
        config["kernel_shape"] = tuple(attrs.get("kernel_shape", w.shape[2:] if w is not None else ()))
        config["scope"] = node.scope
        config["where"] = node.where()
        layer_weights = {} if w is None else {"weight": w}
        k = config["kernel_shape"]
        note, geom = None, None
        group = attrs.get("group", 1)
        if not k:
            note = "no kernel_shape attribute and no weight initializer"
        elif w is not None and isinstance(group, int) and group >= 1 and w.shape[0] % group:
            note = f"group = {group} must divide the input channels; W's shape is {w.shape}"
        else:
            n = tuple(shapes.get(proto.input[0]) or ())[2:]
            if len(n) != len(k) or not all(isinstance(v, int) and v > 0 for v in n):
                if "output_shape" in attrs:
                    note = "output_shape needs the static input size, which the graph does not give"
                # without output_shape the window start does not depend on the input size
                n = (NOMINAL_SIZE,) * len(k)
            if note is None:
                kw = {key: config[key] for key in GEOMETRY_ATTRIBUTES if key in config}
                geom = onnx_geometry(n, k, **kw)
        records.append(
            LayerRecord("conv_transpose", name, "ConvTranspose", config, layer_weights, geom, note=note)
        )
    return records
