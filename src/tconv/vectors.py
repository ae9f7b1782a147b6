"""Conformance vectors: transposed-convolution test cases with trusted expected values, in a convention's own words.

:func:`cases` is a seeded set of geometries covering the corners that break
implementations (a kernel shorter than the stride, a dilation past the
stride, ``output_padding`` at its largest, asymmetric padding, windows that
start before or end after the full result, groups and depthwise layers, 1-D
to 3-D, the SAME windows the conventions disagree on, an empty batch), then
random ones. :func:`write` writes them for one convention:

- the case's arguments are the convention's own, found by the converter's
  hooks (``tconv.compat.<framework>.convert.target``, the same reverse parse
  :func:`tconv.convert` runs); a case the convention cannot express (no single
  layer has its window, it has no groups, a rank, dtype or empty batch it
  refuses) is skipped and listed in ``index.json`` with the reason;
- the inputs are drawn and stored in the chosen dtype; the expected output is
  the definition (algorithm ``"scatter"``) in float64 on the stored inputs,
  then cast; its tolerance bounds the rounding of any summation order:
  ``atol = (T + 2) * eps * max(|x| * |w| summed)``, with ``T`` the products
  summed into one output;
- ONNX cases are ONNX backend node tests (``test_<case>/model.onnx``,
  ``test_data_set_0/input_*.pb``, ``output_0.pb``, ``data.json`` with the
  tolerance), loadable with ``onnx.backend.test.loader.load_model_tests``;
  every other convention gets ``<case>.npz`` (``x``, ``w``, ``b``, ``y``, in its
  layouts) and ``<case>.json`` (its argument names, the tolerance).

The conventions are those whose converter hooks are registered
(:data:`tconv.converter.FRAMEWORKS`); :data:`CONVENTIONS` lists every one the
command knows, so a port not yet in this tree is refused by name. A port may
declare what it cannot run: ``DTYPES`` (dtype names it takes) and
``EMPTY_BATCH = False`` in its ``convert`` module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import __version__, converter
from .compat import layouts, porting
from .errors import TconvError, fail
from .geometry import Axis, Geometry
from .normalise import as_int, choice
from .ops import run_geometry

__all__ = ["CONVENTIONS", "DTYPES", "Case", "cases", "port", "write"]

FUNC = "vectors"
#: every convention ``tconv vectors`` knows; those without converter hooks in this tree are refused
CONVENTIONS = ("torch", "tensorflow", "keras", "jax", "onnx", "paddle", "mlx", "openvino", "litert", "webnn")
DTYPES = ("float32", "float64")
#: an ONNX vector's opset (ConvTranspose-22) and IR version
ONNX_OPSET, ONNX_IR = 22, 10


@dataclass(frozen=True)
class Case:
    """One vector: a geometry with its channels and batch (the numbers are drawn by :func:`write`)."""

    name: str
    what: str
    geometry: Geometry
    in_channels: int
    out_channels: int
    batch: int = 2
    bias: bool = True


def _axis(n: int, k: int, s: int = 1, d: int = 1, start: int | None = None, length: int | None = None) -> Axis:
    """An axis by its window; the default is PyTorch's ``padding=0``: the whole full result."""
    full = (n - 1) * s + d * (k - 1) + 1
    start = 0 if start is None else start
    return Axis(n, k, s, d, start, full - start if length is None else length)


def _case(name: str, what: str, axes: Iterable[Axis], c_in: int = 2, c_out: int = 3, groups: int = 1, **kw: Any) -> Case:
    return Case(name, what, Geometry(tuple(axes), groups), c_in, c_out, **kw)


def _corners() -> list[Case]:
    """The fixed corners, most telling first."""
    return [
        _case("stride_gt_kernel", "kernel 2 shorter than stride 3: zeros between the taps' copies", [_axis(4, 2, 3)]),
        _case("dilation_gt_stride", "dilation 3 past stride 2: the phases interleave", [_axis(3, 3, 2, 3), _axis(4, 2, 2, 3)]),
        _case("output_padding_max_stride", "output_padding = stride - 1 = 2: one more output than full - 1",
              [_axis(3, 3, 3, 1, 1, 8), _axis(3, 2, 3, 1, 0, 9)]),
        _case("output_padding_max_dilation", "output_padding = dilation - 1 = 2 > stride - 1 (PyTorch and the "
              "ONNX text allow it, ONNX Runtime and WebNN do not)", [_axis(3, 2, 2, 3, 0, 10)]),
        _case("asymmetric_padding", "padding (1, 0) on height and (0, 2) on width", [_axis(4, 3, 2, 1, 1, 8), _axis(3, 3, 1, 1, 0, 3)]),
        _case("window_before_full", "the window starts 1 before the full result (ONNX SAME_UPPER, k=1 < s=3)",
              [_axis(3, 1, 3, 1, -1, 9)]),
        _case("window_past_full", "the window ends 2 past the full result (zeros appended)", [_axis(3, 3, 2, 1, 1, 8), _axis(2, 2, 2, 1, 0, 5)]),
        _case("groups", "groups 2, 4 -> 6 channels", [_axis(3, 3, 2), _axis(2, 2, 1)], 4, 6, 2),
        _case("depthwise", "depthwise: groups = C_in = C_out = 3", [_axis(4, 3, 2, 1, 1, 7), _axis(3, 3, 2, 1, 1, 5)], 3, 3, 3),
        _case("depthwise_multiplier", "depthwise with multiplier 2: groups = C_in = 2, C_out = 4", [_axis(3, 2, 2)], 2, 4, 2),
        _case("rank_1", "1-D, stride 2, padding 1", [_axis(5, 3, 2, 1, 1, 9)]),
        _case("rank_3", "3-D, mixed strides and dilations", [_axis(2, 2, 1), _axis(3, 3, 2, 1, 1, 5), _axis(2, 1, 3, 1, 0, 4)]),
        _case("same_odd_kernel_stride_2", "TF/Keras SAME, k=3, s=2: starts at 0, length n*s (PyTorch needs a residual)",
              [_axis(4, 3, 2, 1, 0, 8), _axis(3, 3, 2, 1, 0, 6)]),
        _case("same_lower", "ONNX SAME_LOWER, k=4, s=2: the odd excess cropped at the start", [_axis(4, 4, 2, 1, 1, 8), _axis(3, 4, 2, 1, 1, 6)]),
        _case("keras_same_output_padding", "Keras same with output_padding 1, k=3, s=3", [_axis(3, 3, 3, 1, 0, 8)]),
        _case("empty_batch", "batch 0", [_axis(3, 3, 2), _axis(2, 2, 2)], batch=0),
        _case("no_bias_kernel_1", "1x1 kernel, stride 2, no bias", [_axis(3, 1, 2), _axis(2, 1, 2)], bias=False),
    ]


def _random_case(rng: np.random.Generator, index: int) -> Case:
    """A random geometry, its window as explicit padding with output_padding below the stride (every convention's
    commonest form), or, one case in four, any window overlapping the full result."""
    nd = int(rng.integers(1, 4))
    wild = rng.random() < 0.25
    axes = []
    for _ in range(nd):
        n, k, s, d = (int(v) for v in (rng.integers(1, 5), rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 3)))
        full, k_eff = (n - 1) * s + d * (k - 1) + 1, d * (k - 1) + 1
        if wild:
            start = int(rng.integers(-1, max(1, full // 2)))
            length = int(rng.integers(max(1, 1 - start), full - start + s))
        else:
            start = int(rng.integers(0, k_eff))
            length = full - start - int(rng.integers(1 - s, k_eff))
            if length < 1:
                start, length = 0, full
        axes.append(Axis(n, k, s, d, start, length))
    groups = int(rng.choice([1, 1, 2]))
    return _case(f"random_{index}", "seeded random geometry" + (", any window" if wild else ""), axes,
                 groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3)), groups,
                 batch=int(rng.integers(1, 3)), bias=bool(rng.random() < 0.7))  # fmt: skip


def cases(count: int | None = None, seed: int = 0) -> list[Case]:
    """The fixed corners, then seeded random cases, ``count`` in all (default: the corners plus 8).

    >>> [c.name for c in cases(3)]
    ['stride_gt_kernel', 'dilation_gt_stride', 'output_padding_max_stride']
    """
    corners = _corners()
    count = len(corners) + 8 if count is None else as_int(FUNC, "cases", count, 1)
    seed = as_int(FUNC, "seed", seed, 0)
    rng = np.random.default_rng(seed)
    extra = [_random_case(rng, i) for i in range(max(0, count - len(corners)))]
    return (corners + extra)[:count]


# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------


def _arrays(case: Case, dtype: np.dtype, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Inputs drawn and stored in ``dtype`` (canonical layouts), the float64 definition's output, its bound."""
    g = case.geometry
    x = rng.standard_normal((case.batch, case.in_channels) + g.in_size).astype(dtype)
    w = rng.standard_normal((case.in_channels, case.out_channels // g.groups) + g.kernel).astype(dtype)
    b = rng.standard_normal(case.out_channels).astype(dtype) if case.bias else None
    wide = [None if a is None else a.astype(np.float64) for a in (x, w, b)]
    y = run_geometry(wide[0], wide[1], wide[2], g, "scatter", func=FUNC)
    magnitude = run_geometry(np.abs(wide[0]), np.abs(wide[1]), None if b is None else np.abs(wide[2]), g, "scatter",
                             func=FUNC)  # fmt: skip
    terms = case.in_channels // g.groups * math.prod(g.kernel) + case.bias
    atol = (terms + 2) * float(np.finfo(dtype).eps) * float(magnitude.max(initial=0.0))
    return {"x": x, "w": w, "b": b, "y": y.astype(dtype), "atol": atol}


# --------------------------------------------------------------------------
# Conventions
# --------------------------------------------------------------------------


def port(convention: str) -> porting.Framework:
    """The converter hooks of ``convention``; a clear refusal for one this tree does not hold yet."""
    choice(FUNC, "convention", convention, CONVENTIONS)
    if convention not in converter.FRAMEWORKS:
        raise fail(FUNC, f"the {convention} convention has no converter hooks in this tree (tconv.compat.{convention}."
                   f"convert is not registered in tconv.converter); available: {', '.join(converter.FRAMEWORKS)}")  # fmt: skip
    hooks = import_module(f"tconv.compat.{convention}.convert")
    if getattr(hooks, "NAME", None) != convention:
        raise fail(FUNC, f"tconv.compat.{convention}.convert names itself {getattr(hooks, 'NAME', None)!r}")
    return hooks


def _express(hooks: porting.Framework, case: Case, dtype: str) -> tuple[porting.Target | None, str]:
    """The convention's target for ``case``, or None and why it cannot express it."""
    if dtype not in getattr(hooks, "DTYPES", DTYPES):
        return None, f"{hooks.NAME} takes {', '.join(hooks.DTYPES)} only, not {dtype}"
    if case.batch == 0 and not getattr(hooks, "EMPTY_BATCH", True):
        return None, f"{hooks.NAME} refuses an empty batch"
    src = porting.Source("tconv", case.geometry, case.in_channels, case.out_channels, case.bias, np.asarray,
                         f"the {case.name} case")  # fmt: skip
    try:
        target = hooks.target(src)
    except TconvError as exc:
        return None, str(exc).split(": ", 1)[-1]
    if target.residual is not None:
        return None, f"no single {hooks.NAME} layer has this window: {porting.residual_text(target.residual)}"
    probe = np.zeros((case.in_channels, case.out_channels // case.geometry.groups) + case.geometry.kernel, np.uint8)
    if target.from_canonical(probe).ndim != probe.ndim:
        return None, f"{hooks.NAME} has no {case.geometry.ndim}-D layer (its port writes it as a higher-rank one)"
    if target.from_canonical(probe).size != probe.size:
        return None, f"{hooks.NAME} has no grouped layer (its port writes a block-diagonal kernel)"
    return target, ""


def _json_ready(value: Any) -> Any:
    """Arguments as JSON: tuples as lists, NumPy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _layout(target: porting.Target, nd: int) -> dict[str, str]:
    spatial = ", ".join(("D", "H", "W")[3 - nd :])
    data = f"(N, {spatial}, C)" if target.channels_last else f"(N, C, {spatial})"
    return {"x": data, "y": data, "w": "the convention's kernel layout (the arguments' code says which)", "b": "(C_out,)"}


def _write_npz(directory: Path, case: Case, target: porting.Target, arrays: dict, dtype: str, convention: str) -> list[str]:
    move = layouts.to_channels_last if target.channels_last else np.asarray
    data = {"x": move(arrays["x"]), "w": target.from_canonical(arrays["w"]), "y": move(arrays["y"])}
    if arrays["b"] is not None:
        data["b"] = arrays["b"]
    np.savez(directory / f"{case.name}.npz", **{k: np.ascontiguousarray(v) for k, v in data.items()})
    meta = {
        "convention": convention, "case": case.name, "what": case.what, "dtype": dtype,
        "arguments": _json_ready(target.arguments), "code": target.code,
        "bias": case.bias, "shapes": {k: list(v.shape) for k, v in data.items()}, "layouts": _layout(target, case.geometry.ndim),
        "tolerance": {"atol": arrays["atol"], "rtol": 0.0},
        "window": [{"size": a.size, "kernel": a.kernel, "stride": a.stride, "dilation": a.dilation, "start": a.start,
                    "length": a.length} for a in case.geometry.axes],
        "groups": case.geometry.groups,
    }  # fmt: skip
    (directory / f"{case.name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    return [f"{case.name}.npz", f"{case.name}.json"]


def _write_onnx(directory: Path, case: Case, target: porting.Target, arrays: dict, dtype: str) -> list[str]:
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise ImportError(f"tconv.vectors: the onnx convention writes ONNX models and needs the onnx package "
                          f"(pip install 'tconv[onnx]'); {exc}", name="onnx") from None  # fmt: skip
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    feeds = [("X", arrays["x"]), ("W", arrays["w"])] + ([("B", arrays["b"])] if arrays["b"] is not None else [])
    node = helper.make_node("ConvTranspose", [n for n, _ in feeds], ["Y"], name=case.name, **target.arguments)
    graph = helper.make_graph(
        [node], f"tconv_{case.name}", [helper.make_tensor_value_info(n, elem, list(a.shape)) for n, a in feeds],
        [helper.make_tensor_value_info("Y", elem, list(arrays["y"].shape))],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], ir_version=ONNX_IR,
                              producer_name="tconv.vectors", producer_version=__version__)  # fmt: skip
    onnx.checker.check_model(model)
    case_dir = directory / f"test_{case.name}"
    data_dir = case_dir / "test_data_set_0"
    data_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(case_dir / "model.onnx"))
    for i, (name, a) in enumerate(feeds):
        (data_dir / f"input_{i}.pb").write_bytes(numpy_helper.from_array(a, name).SerializeToString())
    (data_dir / "output_0.pb").write_bytes(numpy_helper.from_array(arrays["y"], "Y").SerializeToString())
    # the backend test loader reads rtol and atol from data.json; the rest documents the case
    meta = {"atol": arrays["atol"], "rtol": 0.0, "case": case.name, "what": case.what, "dtype": dtype,
            "attributes": _json_ready(target.arguments)}  # fmt: skip
    (case_dir / "data.json").write_text(json.dumps(meta, indent=1) + "\n")
    return [f"test_{case.name}"]


def write(
    convention: str, directory: str | Path, *, count: int | None = None, seed: int = 0, dtype: str = "float32"
) -> dict:
    """Write the vectors of ``convention`` into ``directory`` (created); returns the index (also ``index.json``).

    Parameters
    ----------
    convention : one of :data:`CONVENTIONS` whose port is registered (:data:`tconv.converter.FRAMEWORKS`)
    directory : where to write; existing files of the same names are replaced
    count, seed : how many cases (:func:`cases`) and the seed of their numbers and random geometries
    dtype : ``"float32"`` or ``"float64"``, the stored inputs' and outputs' dtype

    Returns
    -------
    dict with ``convention``, ``dtype``, ``seed``, ``cases`` (name, what, files, tolerance) and
    ``skipped`` (name, what, reason).
    """
    hooks = port(convention)
    dtype = choice(FUNC, "dtype", dtype, DTYPES)
    seed = as_int(FUNC, "seed", seed, 0)
    chosen = cases(count, seed)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {"convention": convention, "dtype": dtype, "seed": seed, "producer": f"tconv {__version__}",
                             "layout": "onnx backend node tests" if convention == "onnx" else "npz + json per case",
                             "cases": [], "skipped": []}  # fmt: skip
    for number, case in enumerate(chosen):
        target, reason = _express(hooks, case, dtype)
        if target is None:
            index["skipped"].append({"name": case.name, "what": case.what, "reason": reason})
            continue
        # one stream per case: a case's numbers do not depend on which others a convention skips
        arrays = _arrays(case, np.dtype(dtype), np.random.default_rng([seed, number]))
        if convention == "onnx":
            files = _write_onnx(out, case, target, arrays, dtype)
        else:
            files = _write_npz(out, case, target, arrays, dtype, convention)
        index["cases"].append({"name": case.name, "what": case.what, "files": files, "atol": arrays["atol"]})
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return index
