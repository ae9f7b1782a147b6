"""Reading PyTorch models: a module and its descendants as framework-neutral records.

:func:`read` returns a tree of :class:`~tconv.compat.records.LayerRecord`:
the known leaf modules (convolutions, transposed convolutions, batch norms,
linear layers, activations, flatten / unflatten, upsampling) with their
arguments and their ``state_dict`` (PyTorch's layouts are tconv's), and every
other module as a ``container`` (``nn.Sequential``) or ``other`` record whose
``children`` are read the same way. An ``other`` record says what its
``forward`` does in ``config["chain"]``: the dotted names (relative to it) of
the submodules it calls one after another, each on the previous one's output,
as ``torch.fx`` traces it; ``None`` when the forward is anything else (an
addition, a branch, a function call), with the reason in ``config["not_chain"]``.
A ``Sequential`` that holds one module twice, or a subclass of a known layer
that overrides ``forward``, is an ``other`` record too: only ``forward`` says
what it computes. ``config["hooks"]`` counts a module's forward hooks.

torch is never imported here: a caller holding a module has it in
``sys.modules`` already (:func:`is_model` only looks).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import replace
from typing import Any

import numpy as np

from ...geometry import effective_kernel, same_start
from ..records import LayerRecord
from . import geometry as torch_geometry

__all__ = ["is_model", "read"]

#: the input length a transposed conv's window is resolved at (at least): PyTorch's window start does not depend on it
_NOMINAL_SIZE = 16


def is_model(obj: Any) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (False when torch was never imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def read(module: Any, name: str = "") -> LayerRecord:
    """``module`` as a record tree; ``name`` is its dotted path (children get ``name.child``)."""
    record = _leaf(module, name)
    if record is not None:
        return replace(record, config={**record.config, "hooks": _hooks(module)})
    tnn = sys.modules["torch"].nn
    children = tuple(read(child, f"{name}.{key}" if name else key) for key, child in module.named_children())
    config: dict[str, Any] = {
        "own_parameters": any(True for _ in module.parameters(recurse=False)), "training": module.training,
        "hooks": _hooks(module),
    }
    # named_children skips a module registered twice, which Sequential.forward applies twice
    plain_sequential = (
        isinstance(module, tnn.Sequential) and type(module).forward is tnn.Sequential.forward
        and len(children) == len(module)
    )
    if plain_sequential:
        return LayerRecord("container", name, type(module).__name__, config, children=children)
    config["chain"], config["not_chain"] = _traced_chain(module)
    return LayerRecord("other", name, type(module).__name__, config, children=children)


def _hooks(module: Any) -> int:
    """How many forward hooks (pre and post) the module carries: they change what its forward returns."""
    return len(getattr(module, "_forward_hooks", {})) + len(getattr(module, "_forward_pre_hooks", {}))


def _traced_chain(module: Any) -> tuple[tuple[str, ...] | None, str | None]:
    """(the submodules ``module.forward`` applies one after another, None) or (None, why it is not a chain)."""
    fx = importlib.import_module("torch.fx")
    try:
        graph = fx.symbolic_trace(module).graph
    except Exception as exc:  # noqa: BLE001 -- any failure to trace means the forward cannot be read
        return None, f"its forward cannot be traced ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    nodes = list(graph.nodes)
    inputs = [n for n in nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        return None, f"its forward takes {len(inputs)} inputs"
    chain: list[str] = []
    previous = inputs[0]
    for node in nodes[1:]:
        if node.op == "output":
            if node.args != (previous,):
                return None, "its forward does not return the last submodule's output"
            break
        if node.op != "call_module":
            what = getattr(node.target, "__name__", node.target)
            return None, f"its forward computes {node.op} {what!s} besides calling submodules"
        if len(previous.users) != 1:
            return None, f"its forward uses {previous.name!r} {len(previous.users)} times (a residual or a branch)"
        if node.args != (previous,) or node.kwargs:
            return None, f"its forward does not apply {node.target!r} to the previous output alone"
        chain.append(str(node.target))
        previous = node
    return tuple(chain), None


def _same_pads(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """PyTorch's ``padding='same'`` (stride 1): ``d*(k-1)`` in total, the smaller half first."""
    pads = []
    for k, d in zip(kernel, dilation):
        lo = same_start(1, k, 1, d, 1)
        pads.append((lo, effective_kernel(k, d) - 1 - lo))
    return tuple(pads)


def _leaf(module: Any, name: str) -> LayerRecord | None:
    """The record of one known leaf module (None: not a known leaf, or an ``nn.Sequential``)."""
    tnn = sys.modules["torch"].nn
    cls = type(module).__name__
    known = next((base for base in type(module).__mro__ if base.__module__.startswith("torch.nn")), None)
    if known is None or type(module).forward is not known.forward:
        return None  # a layer of the user's own, or a known one whose forward is overridden: only forward knows
    dtype = next((p.detach().numpy().dtype for p in module.parameters(recurse=False)), np.dtype(np.float32))
    common = {"dtype": dtype, "training": module.training}

    def record(kind: str, geom: Any = None, **config: Any) -> LayerRecord:
        state = {key: value.detach().cpu().numpy() for key, value in module.state_dict().items()}
        return LayerRecord(kind, name, cls, {**common, **config}, state, geom)

    if isinstance(module, (tnn.ConvTranspose1d, tnn.ConvTranspose2d, tnn.ConvTranspose3d)):
        k, s, d = tuple(module.kernel_size), tuple(module.stride), tuple(module.dilation)
        # long enough that any padding leaves an output: (n-1)*s >= 2*padding
        n = _NOMINAL_SIZE + 2 * max(module.padding)
        geom = torch_geometry((n,) * len(k), k, s, tuple(module.padding), tuple(module.output_padding), module.groups, d)
        return record(
            "conv_transpose", geom, in_channels=module.in_channels, out_channels=module.out_channels,
            kernel_size=k, stride=s, padding=tuple(module.padding), output_padding=tuple(module.output_padding),
            dilation=d, groups=module.groups, bias=module.bias is not None, padding_mode=module.padding_mode,
        )
    if isinstance(module, (tnn.Conv1d, tnn.Conv2d, tnn.Conv3d)):
        k, s, d = tuple(module.kernel_size), tuple(module.stride), tuple(module.dilation)
        padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
        if padding == "same":
            pads = _same_pads(k, d)
        elif padding == "valid":
            pads = ((0, 0),) * len(k)
        else:
            pads = tuple((p, p) for p in padding)
        return record(
            "conv", in_channels=module.in_channels, out_channels=module.out_channels, kernel_size=k, stride=s,
            padding=padding, pads=pads, dilation=d, groups=module.groups, bias=module.bias is not None,
            padding_mode=module.padding_mode,
        )
    if isinstance(module, (tnn.BatchNorm1d, tnn.BatchNorm2d, tnn.BatchNorm3d)):
        return record(
            "batchnorm", num_features=module.num_features, eps=module.eps, momentum=module.momentum,
            affine=module.affine, track_running_stats=module.track_running_stats, ndim=int(cls[-2]),
        )
    if isinstance(module, tnn.Linear):
        return record("linear", in_features=module.in_features, out_features=module.out_features,
                      bias=module.bias is not None)
    if isinstance(module, tnn.LeakyReLU):
        return record("activation", function="leaky_relu", negative_slope=module.negative_slope)
    simple = {tnn.ReLU: "relu", tnn.Tanh: "tanh", tnn.Sigmoid: "sigmoid"}
    if type(module) in simple:
        return record("activation", function=simple[type(module)])
    if isinstance(module, tnn.Flatten):
        return record("flatten", start_dim=module.start_dim, end_dim=module.end_dim)
    if isinstance(module, tnn.Unflatten):
        return record("reshape", dim=module.dim, shape=tuple(module.unflattened_size))
    if isinstance(module, tnn.Upsample):
        return record(
            "upsample", size=module.size, scale_factor=module.scale_factor, mode=module.mode,
            align_corners=module.align_corners, recompute_scale_factor=module.recompute_scale_factor,
        )
    return None
