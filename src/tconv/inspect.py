"""``tconv inspect MODEL.onnx``: every ConvTranspose node of an ONNX model, resolved (extra ``tconv[onnx]``).

For each node: its attributes, channels and kernel, the input's spatial size
when the model fixes it (after ONNX shape inference), the resolved window per
axis under the spec text and under ONNX Runtime (:mod:`tconv.compat.onnx`),
the explicit pads that write the same window, the equivalent PyTorch layer or
the residual crop a PyTorch port needs (:func:`tconv.convert`), and flags for
the attributes that ONNX's spec, shape inference, ``onnx.reference`` and ONNX
Runtime read differently.

When the input size is not static, everything that does not depend on it is
still resolved (the window start and the pads of ``SAME_*``, ``VALID`` and
explicit pads do not: their total padding is ``d*(k-1) + 1 - s + op``), and the
output length is given as a formula in ``n``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .compat import onnx as compat_onnx
from .compat.onnx import graph as onnx_graph
from .compat.onnx.models import GEOMETRY_ATTRIBUTES, NOMINAL_SIZE
from .converter import convert
from .errors import TconvError
from .geometry import Geometry

__all__ = ["NodeReport", "inspect_model", "format_reports"]


@dataclass
class NodeReport:
    """What ``tconv inspect`` says about one ConvTranspose node."""

    index: int
    name: str
    inputs: list[str]
    output: str
    attributes: dict[str, Any]
    in_channels: int | None
    out_channels: int | None
    kernel: list[int] | None
    input_shape: list[int | str] | None
    static: bool
    #: per axis: ``{"start", "length", "full", "pads", "output_padding"}`` (spec text)
    spec: list[dict] | None = None
    #: the same under ONNX Runtime, or the reason it refuses the node
    onnxruntime: list[dict] | str | None = None
    #: the output length per axis as a formula in ``n`` when the input size is not static
    length_formula: list[str] | None = None
    torch_code: str | None = None
    torch_arguments: dict | None = None
    residual: list[list[int]] | None = None
    declared_output: list[int | str] | None = None
    inferred_output: list[int | str] | None = None
    flags: list[str] = field(default_factory=list)
    error: str | None = None


def _axes(geom: Geometry, attrs: dict) -> list[dict]:
    op = attrs.get("output_padding") or [0] * geom.ndim
    return [
        dict(start=a.start, length=a.length, full=a.full, pads=[a.start, a.full + o - a.start - a.length], output_padding=o)
        for a, o in zip(geom.axes, op)
    ]


def inspect_model(model: Any) -> list[NodeReport]:
    """Resolve every ConvTranspose node of an ONNX model.

    Parameters
    ----------
    model : path, bytes or ``onnx.ModelProto``

    Returns
    -------
    list of :class:`NodeReport`, in graph order (subgraphs included)

    Raises
    ------
    TconvError
        The file is missing, truncated or not an ONNX model.
    """
    graph = onnx_graph.read(model, "inspect")
    declared, inferred = graph.shapes(infer=False), graph.shapes(infer=True)
    reports = []
    for index, graph_node in enumerate(graph.nodes("ConvTranspose")):
        node = graph_node.proto
        report = _report(index, node, graph_node.attributes, inferred)
        if node.output:
            report.declared_output = declared.get(node.output[0])
            report.inferred_output = inferred.get(node.output[0])
        if report.spec is not None:
            report.flags += _shape_flags(report)
        reports.append(report)
    return reports


def _shape_flags(report: NodeReport) -> list[str]:
    """The output sizes the model declares, and those ONNX shape inference derives, against the spec's."""
    flags = []
    spec_sizes = [a["length"] for a in report.spec]
    for who, shape in (("the model declares", report.declared_output), ("ONNX shape inference gives", report.inferred_output)):
        if report.static and shape and len(shape) == len(spec_sizes) + 2:
            sizes = shape[2:]
            if all(isinstance(v, int) and v > 0 for v in sizes) and list(sizes) != spec_sizes:
                flags.append(f"{who} output sizes {list(sizes)}, the spec text gives {spec_sizes}")
                break  # inference keeps a declared shape: one line says it
    return flags


def _report(index: int, node, attrs: dict, shapes: dict) -> NodeReport:
    x_shape = shapes.get(node.input[0]) if node.input else None
    w_shape = shapes.get(node.input[1]) if len(node.input) > 1 else None
    kernel = attrs.get("kernel_shape") or (w_shape[2:] if w_shape and all(isinstance(v, int) for v in w_shape[2:]) else None)
    group = attrs.get("group", 1)
    c_in = x_shape[1] if x_shape and len(x_shape) > 1 and isinstance(x_shape[1], int) else None
    c_in = c_in or (w_shape[0] if w_shape and isinstance(w_shape[0], int) else None)
    c_out = w_shape[1] * group if w_shape and len(w_shape) > 1 and isinstance(w_shape[1], int) else None
    spatial = x_shape[2:] if x_shape else None
    static = bool(spatial) and all(isinstance(v, int) and v > 0 for v in spatial)
    report = NodeReport(
        index=index,
        name=node.name or f"ConvTranspose#{index}",
        inputs=list(node.input),
        output=node.output[0] if node.output else "",
        attributes=attrs,
        in_channels=c_in,
        out_channels=c_out,
        kernel=list(kernel) if kernel else None,
        input_shape=x_shape,
        static=static,
    )
    if not kernel:
        report.error = "the kernel size is unknown (no kernel_shape attribute and W's shape is not static)"
        return report
    w_in = w_shape[0] if w_shape and isinstance(w_shape[0], int) else None
    if isinstance(group, int) and group >= 1 and c_in is not None and c_in % group:
        report.error = f"group = {group} must divide the input channels; got {c_in} channels"
        return report
    if c_in is not None and w_in is not None and c_in != w_in:
        report.error = f"W has {w_in} input channels (W's shape {w_shape}), X has {c_in} (X's shape {x_shape})"
        return report
    geometry_attrs = {key: attrs[key] for key in GEOMETRY_ATTRIBUTES if key in attrs}
    if not static and "output_shape" in attrs:
        report.error = "the input size is not static and output_shape is given: the window depends on it"
        return report
    in_size = list(spatial) if static else [NOMINAL_SIZE] * len(kernel)
    try:
        spec = compat_onnx.geometry(in_size, kernel, **geometry_attrs)
    except (TconvError, TypeError) as exc:
        report.error = f"invalid under the spec: {exc}"
        return report
    report.spec = _axes(spec, attrs)
    try:
        report.onnxruntime = _axes(compat_onnx.geometry(in_size, kernel, **geometry_attrs, behavior="onnxruntime"), attrs)
    except TconvError as exc:
        report.onnxruntime = str(exc).split(": ", 1)[-1]
    if not static:
        report.length_formula = [_formula(a.length - a.stride * a.size, a.stride) for a in spec.axes]
    _torch(report, attrs, in_size, len(node.input) > 2 and bool(node.input[2]))
    report.flags = _flags(report, spec, attrs)
    return report


def _formula(constant: int, stride: int) -> str:
    head = "n" if stride == 1 else f"{stride}*n"
    return head if constant == 0 else f"{head} {'+' if constant > 0 else '-'} {abs(constant)}"


def _torch(report: NodeReport, attrs: dict, in_size: list[int], bias: bool) -> None:
    desc = {"framework": "onnx", "kernel_shape": report.kernel, "bias": bias}
    desc.update({key: attrs[key] for key in GEOMETRY_ATTRIBUTES if key in attrs})
    if report.in_channels:
        desc["in_channels"] = report.in_channels
    if report.out_channels:
        desc["out_channels"] = report.out_channels
    try:
        conversion = convert(desc, "torch", tuple(in_size))
    except (TconvError, TypeError, ValueError) as exc:
        report.torch_code = f"# no PyTorch equivalent: {exc}"
        return
    report.torch_arguments = {key: list(v) if isinstance(v, tuple) else v for key, v in conversion.arguments.items()}
    report.residual = None if conversion.residual is None else [list(pair) for pair in conversion.residual]
    report.torch_code = "\n".join(line for line in conversion.code.splitlines() if not line.startswith("# ONNX"))


def _flags(report: NodeReport, spec: Geometry, attrs: dict) -> list[str]:
    """Attributes the spec, shape inference, onnx.reference and ONNX Runtime read differently, for this node."""
    flags = []
    auto_pad = attrs.get("auto_pad", "NOTSET")
    op = attrs.get("output_padding") or [0] * spec.ndim
    same = auto_pad in ("SAME_UPPER", "SAME_LOWER")
    if "output_shape" in attrs and "pads" in attrs:
        flags.append("pads are ignored: output_shape is given, and the pads are derived from it")
    if same and any(op):
        flags.append(
            "auto_pad SAME_* with output_padding: ONNX shape inference gives n*s + output_padding, the spec and both "
            "runtimes n*s (output_padding only shifts the window)"
        )
    totals = [a.full + o - a.length for a, o in zip(spec.axes, op)]
    if (same or "output_shape" in attrs) and any(t % 2 for t in totals):
        flags.append(
            f"odd total padding {totals} split by auto_pad={auto_pad}: older ONNX Runtime releases swapped "
            "SAME_UPPER and SAME_LOWER for ConvTranspose, so the window moves by one with the runtime version"
        )
    if "output_shape" in attrs and auto_pad in ("NOTSET", "VALID"):
        flags.append(
            "output_shape with auto_pad NOTSET/VALID: the spec's 'Else' branch puts the larger half of the padding "
            "at the start (as ONNX Runtime); onnx.reference raises or splits it the other way"
        )
    if any(o >= a.stride for o, a in zip(op, spec.axes)):
        flags.append("output_padding >= stride (below the dilation): the spec allows it, ONNX Runtime and onnx.reference refuse it")
    if isinstance(report.onnxruntime, str):
        flags.append(f"ONNX Runtime refuses this node: {report.onnxruntime}")
    elif report.onnxruntime != report.spec:
        flags.append(
            "ONNX Runtime computes a different window from the spec text (it clamps a negative total padding at 0): "
            + _windows(report.onnxruntime)
            + " instead of "
            + _windows(report.spec)
        )
    c_in, c_out, group = report.in_channels, report.out_channels, spec.groups
    if group > 1 and not (c_in == c_out == group):
        flags.append(f"group={group}, not depthwise: onnx.reference cannot run grouped ConvTranspose except depthwise")
    return flags


def _windows(axes: list[dict]) -> str:
    return ", ".join(f"[{a['start']}:{a['start'] + a['length']}]" for a in axes)


# --------------------------------------------------------------------------
# text and the command line
# --------------------------------------------------------------------------


def _dims(shape: list | None) -> str:
    return "?" if not shape else "x".join(str(v) for v in shape)


def format_reports(reports: list[NodeReport], source: str = "model") -> str:
    """The text ``tconv inspect`` prints."""
    lines = [f"{source}: {len(reports)} ConvTranspose node{'s' if len(reports) != 1 else ''}"]
    for r in reports:
        lines += ["", f"[{r.index}] {r.name}: {', '.join(r.inputs)} -> {r.output}"]
        lines.append("  attributes: " + (" ".join(f"{k}={v}" for k, v in r.attributes.items()) or "(none: all defaults)"))
        lines.append(
            f"  channels {r.in_channels or '?'} -> {r.out_channels or '?'}, group {r.attributes.get('group', 1)}, "
            f"kernel {_dims(r.kernel)}, input {_dims(r.input_shape)}{'' if r.static else ' (spatial size not static)'}"
        )
        if r.error:
            lines.append(f"  cannot resolve: {r.error}")
            continue
        lines += _axis_lines(r)
        if r.torch_code:
            lines.append("  PyTorch:" + ("" if r.residual is None else " (needs a residual crop/pad)"))
            lines += [f"    {line}" for line in r.torch_code.splitlines()]
        lines += [f"  ! {flag}" for flag in r.flags] or ["  no attribute here is read differently by the runtimes"]
    return "\n".join(lines)


def _axis_lines(r: NodeReport) -> list[str]:
    lines = []
    for ax, a in enumerate(r.spec):
        size = f"n={r.input_shape[2 + ax]}" if r.static else "n"
        out = a["length"] if r.static else r.length_formula[ax]
        lines.append(
            f"  axis {ax}: {size} -> {out}; full result {'' if r.static else f'(at n={NOMINAL_SIZE}) '}{a['full']}, "
            f"window starts at {a['start']}; explicit pads [{a['pads'][0]}, {a['pads'][1]}]"
            + (f" with output_padding {a['output_padding']}" if a["output_padding"] else "")
            + ("  (negative: zeros, not expressible as ONNX pads)" if min(a["pads"]) < 0 else "")
        )
    return lines
