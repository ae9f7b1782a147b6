"""The one reader of ONNX graphs: every feature that opens an ``.onnx`` file goes through it.

:func:`read` loads a model (a path, the serialized bytes, or an
``onnx.ModelProto``) with one clean :class:`~tconv.errors.TconvError` for
anything unreadable; the :class:`Graph` it returns gives the nodes, their
attributes (:func:`attributes`: strings decoded, repeated values as lists),
the initializers as arrays and the tensor shapes (declared, or after ONNX
shape inference).

Subgraphs: :meth:`Graph.nodes` walks the main graph and every subgraph body
(``If`` branches, ``Loop`` and ``Scan`` bodies), depth first: each node, then
the bodies it holds in attribute order. Every node carries its ``scope``, the
path of ``(node name, attribute)`` pairs from the main graph (empty for the
main graph), so each feature decides from one fact what a body node means to
it: ``tconv inspect`` reports them all, the checkerboard stack keeps the main
graph's chain and notes the body nodes it leaves out. Initializers and shapes
are collected from every graph (ONNX names are unique across a model's scopes).

onnx is imported only when a model is read (the extra ``tconv[onnx]``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from ...errors import fail

__all__ = ["Graph", "GraphNode", "attributes", "read"]


def _onnx(func: str) -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(f"tconv.{func} needs onnx to read ONNX files: pip install 'tconv[onnx]'") from None
    return onnx


@dataclass(frozen=True)
class GraphNode:
    """A node of the model, where it sits, and its decoded attributes."""

    proto: Any
    #: ``(op_type, node name, attribute)`` of each enclosing node, outermost first; ``()`` in the main graph
    scope: tuple[tuple[str, str, str], ...]
    attributes: dict[str, Any] = field(repr=False)

    @property
    def in_subgraph(self) -> bool:
        return bool(self.scope)

    def where(self) -> str:
        """The scope in words, e.g. ``If 'branch' (then_branch)``."""
        return " > ".join(f"{op} {name!r} ({attr})" for op, name, attr in self.scope)


def attributes(node: Any) -> dict[str, Any]:
    """A ``NodeProto``'s attributes: strings decoded, repeated values as lists (subgraphs as ``GraphProto``)."""
    from onnx import helper  # a NodeProto exists, so onnx is installed

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return {attr.name: plain(helper.get_attribute_value(attr)) for attr in node.attribute}


@dataclass
class Graph:
    """A loaded ONNX model: nodes (subgraph bodies included), initializers, shapes."""

    model: Any
    #: the directory weights stored as external data are read from ("" when not from a file)
    base_dir: str = ""
    _inferred: Any = field(default=None, repr=False)

    def _graphs(self, graph: Any) -> Iterator[Any]:
        onnx = _onnx("compat.onnx.graph")
        yield graph
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    yield from self._graphs(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for sub in attr.graphs:
                        yield from self._graphs(sub)

    def nodes(self, op_type: str | None = None) -> list[GraphNode]:
        """The nodes (of ``op_type`` in the default domain, when given), depth first, bodies after their node."""
        onnx = _onnx("compat.onnx.graph")
        out: list[GraphNode] = []

        def visit(graph: Any, scope: tuple) -> None:
            for node in graph.node:
                if op_type is None or (node.op_type == op_type and node.domain in ("", "ai.onnx")):
                    out.append(GraphNode(node, scope, attributes(node)))
                for attr in node.attribute:
                    bodies = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
                    for body in bodies:
                        visit(body, scope + ((node.op_type, node.name, attr.name),))

        visit(self.model.graph, ())
        return out

    def initializers(self) -> dict[str, np.ndarray]:
        """Every initializer of every graph, as an array (external data read from :attr:`base_dir`)."""
        from onnx import numpy_helper

        return {
            t.name: numpy_helper.to_array(t, self.base_dir)
            for graph in self._graphs(self.model.graph)
            for t in graph.initializer
        }

    def shapes(self, infer: bool = True) -> dict[str, list[int | str]]:
        """Every tensor's shape the model declares, or with ``infer`` also what ONNX shape inference derives.

        Dims are ints, or the dim's name (``'?'`` when unnamed). Inference is a
        bonus: when it fails, the declared shapes are returned.
        """
        model = self.model
        if infer:
            if self._inferred is None:
                onnx = _onnx("compat.onnx.graph")
                try:
                    self._inferred = onnx.shape_inference.infer_shapes(model)
                except Exception:  # a model inference cannot follow still has its declared shapes
                    self._inferred = model
            model = self._inferred
        shapes: dict[str, list[int | str]] = {}
        for graph in self._graphs(model.graph):
            for init in graph.initializer:
                shapes[init.name] = list(init.dims)
            for info in list(graph.input) + list(graph.value_info) + list(graph.output):
                tensor = info.type.tensor_type
                if tensor.HasField("shape"):
                    shapes.setdefault(
                        info.name,
                        [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim],
                    )
        return shapes


def read(model: Any, func: str) -> Graph:
    """Load ``model`` (a path, bytes or an ``onnx.ModelProto``); ``func`` names the feature in errors.

    Weights stored as external data are not loaded here: :meth:`Graph.initializers`
    reads them when a feature asks for the values.
    """
    onnx = _onnx(func)
    if isinstance(model, onnx.ModelProto):
        return Graph(model)
    label = "the given bytes" if isinstance(model, (bytes, bytearray)) else repr(str(model))
    try:
        if isinstance(model, (bytes, bytearray)):
            proto = onnx.load_model_from_string(bytes(model))
        else:
            proto = onnx.load(str(model), load_external_data=False)
    except FileNotFoundError:
        raise fail(func, f"no such file: {str(model)!r}") from None
    except IsADirectoryError:
        raise fail(func, f"{str(model)!r} is a directory, not an ONNX file") from None
    except Exception as exc:  # protobuf's DecodeError and friends: the file is not (all of) a model
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail(func, f"cannot read {label} as an ONNX model (truncated or not ONNX): {reason}") from None
    if not proto.HasField("graph") or not proto.opset_import:
        raise fail(func, f"{label} is not a complete ONNX model (no graph or no opset): truncated?")
    base_dir = "" if isinstance(model, (bytes, bytearray)) else os.path.dirname(os.path.abspath(str(model)))
    return Graph(proto, base_dir)
