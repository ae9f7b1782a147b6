"""What the converter tests share: every framework's real run, random source layers and the all-pairs check.

A *source* (:data:`SOURCES`) draws a random layer in its framework's own words
(a description for :func:`tconv.convert`), its kernel in the framework's own
layout, and a ``run(x, b, runs)`` of that layer in the real framework. A
*target* run (:func:`run_target`) takes a :class:`tconv.converter.Conversion`
and runs the converted layer in the target's real framework, residual applied.
Data is ``(N, C, *n)`` throughout; the runs of channels-last frameworks move it.

Some runs go to a subprocess, collected in a :class:`Runs` and run together:
Paddle's always (importing Paddle after TensorFlow crashes the interpreter,
:mod:`paddle_support`), JAX's in an *isolated* check (the slow all-pairs runs:
XLA aborts the interpreter on some convolutions, :mod:`jax_support`). Until
then their value is :class:`Pending`; :func:`then` chains what comes after (a
residual, a layout move) and :func:`resolve` gives the array once
:meth:`Runs.run` has run.

The five older frameworks are imported here (a test module importing this one
is skipped without them); Paddle, MLX, OpenVINO and LiteRT only by their runs.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Callable

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import jax_support  # noqa: E402
import litert_support  # noqa: E402
import mlx_support  # noqa: E402
import openvino_support  # noqa: E402
import paddle_support  # noqa: E402
from support import assert_close  # noqa: E402

import tconv  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import layouts, porting  # noqa: E402
from tconv.compat import litert as compat_litert  # noqa: E402
from tconv.compat import onnx as compat_onnx  # noqa: E402
from tconv.compat import openvino as compat_ov  # noqa: E402
from tconv.compat import tensorflow as compat_tf  # noqa: E402

F32 = np.float32
#: the frameworks of issue 3's converter; the newer ones have their own test files
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "onnx")
#: the spatial ranks a source draws, in turn (the converter tests' own choice, not the frameworks' limits)
RANKS = {"litert": (2,), "mlx": (1, 2, 3)}
#: the ranks a target can hold, where not every one
TARGET_RANKS = {"litert": (2,)}


def last(x):
    return np.moveaxis(np.asarray(x), 1, -1)


def first(x):
    return np.moveaxis(np.asarray(x), -1, 1)


def dilate(filters, d):
    """A dilation-d TF kernel as a dilation-1 one (zeros between taps): this CPU's TF refuses d > 1."""
    nd = filters.ndim - 2
    out = np.zeros(tuple(di * (ki - 1) + 1 for ki, di in zip(filters.shape[:nd], d)) + filters.shape[nd:], filters.dtype)
    out[tuple(slice(None, None, di) for di in d)] = filters
    return out


def per_axis(value, nd):
    return list(value) if isinstance(value, (list, tuple)) else [value] * nd


# ---------------------------------------------------------------- runs that wait for a subprocess


@dataclass
class Batch:
    """Cases for one subprocess runner (``run_batch(cases) -> [(status, value), ...]``), run together."""

    name: str
    run_batch: Callable[[list], list]
    cases: list = field(default_factory=list)
    results: list | None = None

    def add(self, case: dict) -> Pending:
        self.cases.append(case)
        return Pending(self, len(self.cases) - 1, lambda y: y)

    def run(self) -> None:
        self.results = self.run_batch(self.cases) if self.cases else []


@dataclass
class Pending:
    """A run's value once its batch has run, with ``after`` applied."""

    batch: Batch
    index: int
    after: Callable[[np.ndarray], np.ndarray]

    def value(self) -> np.ndarray:
        assert self.batch.results is not None, f"the {self.batch.name} batch has not run"
        status, y = self.batch.results[self.index]
        assert status == "ok", (self.batch.name, self.batch.cases[self.index].get("kwargs"), y)
        return self.after(y)


def then(value, f):
    """``f(value)``: now, or once the batch of a :class:`Pending` value has run."""
    if isinstance(value, Pending):
        return Pending(value.batch, value.index, lambda y, after=value.after: f(after(y)))
    return f(value)


def resolve(value) -> np.ndarray:
    return value.value() if isinstance(value, Pending) else value


class Runs:
    """Where one check's subprocess runs are collected (Paddle's; JAX's when ``isolate``), and run at once."""

    def __init__(self, isolate: bool = False):
        self.paddle = Batch("Paddle", paddle_support.run_batch)
        self.jax = Batch("JAX", jax_support.run_batch) if isolate else None

    def run(self) -> None:
        for batch in (self.paddle, self.jax):
            if batch is not None:
                batch.run()


def now(run, *args):
    """``run(*args, runs)`` with its subprocess batches run at once: the array."""
    runs = Runs()
    value = run(*args, runs)
    runs.run()
    return resolve(value)


# ---------------------------------------------------------------- real runs


def run_torch(args, x, w, b):
    nd = x.ndim - 2
    layer = getattr(torch.nn, f"ConvTranspose{nd}d")(**args)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        if layer.bias is not None:
            layer.bias.copy_(torch.from_numpy(b))
        return layer(torch.from_numpy(x)).numpy()


def run_tensorflow(args, x, w, b, nd):
    """``x`` channels-last; ``args`` as tf.nn.conv{nd}d_transpose takes them."""
    fn = getattr(tf.nn, f"conv{nd}d_transpose")
    kw = dict(args)
    d = per_axis(kw.pop("dilations", None) or 1, nd)
    y = fn(x, dilate(w, d), **kw).numpy()
    return y if b is None else y + b


def run_keras(args, x, w, b):
    nd = x.ndim - 2
    kw = dict(args)
    if max(per_axis(kw["strides"], nd)) > 1 and max(per_axis(kw.get("dilation_rate", 1), nd)) > 1:
        ops_kw = {k: v for k, v in kw.items() if k not in ("filters", "kernel_size", "use_bias")}
        y = np.asarray(keras.ops.conv_transpose(x, w, **ops_kw))
        return y if b is None else y + b
    layer = getattr(keras.layers, f"Conv{nd}DTranspose")(**kw)
    layer.build(x.shape)
    layer.set_weights([w, b] if kw.get("use_bias", True) else [w])
    return np.asarray(layer(x))


def run_jax(args, x, w, b, runs=None):
    """``jax.lax.conv_transpose(x, w, **args)`` (+ ``b`` on the last axis): the converter's JAX code is channels-last.

    Pending in ``runs``' JAX batch when it has one (an isolated check), else run here.
    """
    kw = dict(args)
    if not isinstance(kw["padding"], str):
        kw["padding"] = [tuple(p) for p in kw["padding"]]
    if kw.get("dimension_numbers") is not None:
        kw["dimension_numbers"] = tuple(kw["dimension_numbers"])
    case = dict(x=x, w=w, kwargs=kw)
    y = jax_support.conv_transpose(case) if runs is None or runs.jax is None else runs.jax.add(case)
    return then(y, lambda y: y if b is None else y + b)


def run_onnx(attrs, x, w, b):
    inputs = ["X", "W"] + (["B"] if b is not None else [])
    node = onnx.helper.make_node("ConvTranspose", inputs, ["Y"], **{k: v for k, v in attrs.items() if v is not None})
    tensors = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in inputs]
    graph = onnx.helper.make_graph([node], "g", tensors, [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"X": x, "W": w} | ({"B": b} if b is not None else {})
    return session.run(None, feeds)[0]


def run_paddle(kwargs, x, w, b, runs):
    """``paddle.nn.functional.conv{nd}d_transpose(x, w, b, **kwargs)``, pending in ``runs``' Paddle batch."""
    return runs.paddle.add(dict(func=f"conv{x.ndim - 2}d_transpose", kwargs=kwargs, x=x, weight=w, bias=b))


def run_webnn(args, x, w, b):
    """WebNN's convTranspose2d as ``compat.webnn`` computes it (no runtime installs here; it is checked on the
    W3C conformance cases), a 1-D layer as height 1 (the converter's WebNN code reshapes it so)."""
    from tconv.compat import webnn

    flat = x.ndim == 3
    y = webnn.conv_transpose2d(x[:, :, None] if flat else x, w, dict(args, bias=b))
    return y[:, :, 0] if flat else y


def run_target(conv, x, w, b, runs=None):
    """The converted layer in the target framework, residual applied; ``x`` and the result (N, C, *n).

    With ``runs``, a subprocess run is added to it and the value is :class:`Pending`.
    """
    if runs is None:
        return now(run_target, conv, x, w, b)
    args, nd = conv.arguments, x.ndim - 2
    inside = None if conv.bias_after else b  # else the bias is added after the residual
    channels_first = {
        "torch": lambda: run_torch(args, x, w, inside),
        "onnx": lambda: run_onnx(args, x, w, inside),
        "paddle": lambda: run_paddle(args, x, w, inside, runs),
        "openvino": lambda: openvino_support.run(args, x, w, inside),
        "webnn": lambda: run_webnn(args, x, w, inside),
    }
    channels_last = {
        "tensorflow": lambda: run_tensorflow(dict(args, output_shape=[x.shape[0]] + args["output_shape"][1:]), last(x), w,
                                             inside, nd),
        "keras": lambda: run_keras(args, last(x), w, inside),
        "jax": lambda: run_jax(args, last(x), w, inside, runs),
        "mlx": lambda: mlx_support.run(args, last(x), w, inside),
        "litert": lambda: litert_support.run(args, last(x), w, inside),
    }  # fmt: skip
    if conv.target in channels_first:
        return then(channels_first[conv.target](), lambda y: conv.apply_residual(y, b))
    return then(channels_last[conv.target](), lambda y: first(conv.apply_residual(y, b)))


# ---------------------------------------------------------------- random sources


def rand_geometry(rng, nd):
    k = [int(v) for v in rng.integers(1, 5, nd)]
    s = [int(v) for v in rng.integers(1, 4, nd)]
    d = [int(v) for v in rng.integers(1, 3, nd)]
    n = [int(v) for v in rng.integers(1, 5, nd)]
    return n, k, s, d


def source_torch(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    g = int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    op = [int(rng.integers(0, max(si, di))) for si, di in zip(s, d)]
    p = [int(rng.integers(0, 3)) for _ in range(nd)]
    desc = dict(framework="torch", layer=f"ConvTranspose{nd}d", in_channels=c_in, out_channels=c_out, kernel_size=k,
                stride=s, padding=p, output_padding=op, groups=g, bias=bool(rng.random() < 0.7), dilation=d)  # fmt: skip
    w = rng.standard_normal([c_in, c_out // g] + k).astype(F32)

    def run(x, b, runs):
        args = {key: tuple(v) if isinstance(v, list) else v for key, v in desc.items() if key not in ("framework", "layer")}
        return run_torch(args, x, w, b)

    return desc, n, w, c_out, run


def source_keras(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    if max(s) > 1:
        d = [1] * nd  # keras.layers refuses strides > 1 with dilation_rate > 1
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    op = None if rng.random() < 0.5 else [int(rng.integers(0, si)) for si in s]
    desc = dict(framework="keras", layer=f"Conv{nd}DTranspose", filters=c_out, kernel_size=k, strides=s,
                padding=str(rng.choice(["same", "valid"])), output_padding=op, dilation_rate=d,
                use_bias=bool(rng.random() < 0.7), in_channels=c_in)  # fmt: skip
    w = rng.standard_normal(k + [c_out, c_in]).astype(F32)

    def run(x, b, runs):
        args = {key: v for key, v in desc.items() if key not in ("framework", "layer", "in_channels")}
        return first(run_keras(args, last(x), w, b))

    return desc, n, w, c_out, run


def source_tensorflow(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    padding = str(rng.choice(["SAME", "VALID"] + (["EXPLICIT"] if nd == 2 else [])))
    if padding == "EXPLICIT":
        padding = [[0, 0]] + [[int(rng.integers(0, ki)), int(rng.integers(0, ki))] for ki in k] + [[0, 0]]
    try:
        ranges = compat_tf.output_shape_range(n, k, s, padding, None, d)
    except TconvError:
        return None
    out = [int(rng.integers(lo, hi + 1)) for lo, hi in ranges]
    desc = dict(framework="tensorflow", op=f"conv{nd}d_transpose", filters_shape=k + [c_out, c_in],
                output_shape=out, strides=s, padding=padding, dilations=d)  # fmt: skip
    w = rng.standard_normal(k + [c_out, c_in]).astype(F32)

    def run(x, b, runs):
        args = dict(output_shape=[x.shape[0]] + out + [c_out], strides=s, padding=padding, dilations=d)
        return first(run_tensorflow(args, last(x), w, None, nd))

    return desc, n, w, c_out, run


def source_jax(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    kind = rng.random()
    consistent = False
    if kind < 0.3:
        padding = str(rng.choice(["SAME", "VALID"]))
    else:
        consistent = bool(rng.random() < 0.5)
        padding = [[int(v) for v in rng.integers(-1, di * (ki - 1) + 2, 2)] for ki, di in zip(k, d)]
    channels_first = rng.random() < 0.5
    spatial = "HWD"[:nd]
    dims = ("NC" + spatial, "OI" + spatial, "NC" + spatial) if channels_first else None
    transpose = bool(rng.random() < 0.5)
    desc = dict(framework="jax", op="conv_transpose", kernel_size=k, strides=s, padding=padding, rhs_dilation=d,
                dimension_numbers=dims, transpose_kernel=transpose, use_consistent_padding=consistent,
                in_channels=c_in, out_channels=c_out)  # fmt: skip
    # rhs: channels (O, I) first for the OI... spec, else spatial-first (..., I, O)
    i_ch, o_ch = (c_out, c_in) if transpose else (c_in, c_out)
    shape = [o_ch, i_ch] + k if channels_first else k + [i_ch, o_ch]
    w = rng.standard_normal(shape).astype(F32)

    def run(x, b, runs):
        kw = dict(strides=s, padding=padding, rhs_dilation=d, dimension_numbers=dims, transpose_kernel=transpose,
                  use_consistent_padding=consistent)  # fmt: skip
        return run_jax(kw, x, w, None, runs) if channels_first else then(run_jax(kw, last(x), w, None, runs), first)

    return desc, n, w, c_out, run


def source_onnx(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    g = int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    attrs = dict(kernel_shape=k, strides=s, dilations=d, group=g)
    if rng.random() < 0.6:
        attrs["pads"] = [int(v) for v in rng.integers(0, 3, 2 * nd)]
        attrs["output_padding"] = [int(rng.integers(0, si)) for si in s]
    else:
        attrs["auto_pad"] = str(rng.choice(["SAME_UPPER", "SAME_LOWER"]))
    try:  # only nodes where the spec and ONNX Runtime agree: ORT is the oracle here
        spec = compat_onnx.geometry(n, k, **{key: v for key, v in attrs.items() if key != "kernel_shape"})
        if compat_onnx.geometry(n, k, behavior="onnxruntime", **{key: v for key, v in attrs.items() if key != "kernel_shape"}) != spec:
            return None
    except TconvError:
        return None
    desc = dict(framework="onnx", op_type="ConvTranspose", in_channels=c_in, out_channels=c_out, **attrs)
    w = rng.standard_normal([c_in, c_out // g] + k).astype(F32)
    return desc, n, w, c_out, lambda x, b, runs: run_onnx(attrs, x, w, None)


#: Paddle's channels-first data_format per rank
PADDLE_FIRST = {1: "NCL", 2: "NCHW", 3: "NCDHW"}


def source_paddle(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    g = int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    kind = rng.integers(0, 4)
    padding = (int(rng.integers(0, 3)) if kind == 0 else [int(v) for v in rng.integers(0, 3, 2 * nd)] if kind == 1
               else str(rng.choice(["SAME", "VALID"])))  # fmt: skip
    desc = dict(framework="paddle", layer=f"Conv{nd}DTranspose", in_channels=c_in, out_channels=c_out, kernel_size=k,
                stride=s, padding=padding, dilation=d, groups=g, bias=bool(rng.random() < 0.7))  # fmt: skip
    if rng.random() < 0.3:
        try:
            base = tconv.compat.paddle.geometry(n, k, s, padding, 0, d, g)
        except TconvError:
            return None
        desc["output_size"] = [L + int(rng.integers(0, si)) for L, si in zip(base.out_size, s)]
    else:
        desc["output_padding"] = [int(rng.integers(0, si)) for si in s]
    w = rng.standard_normal([c_in, c_out // g] + k).astype(F32)
    call = {key: desc[key] for key in ("stride", "padding", "output_padding", "dilation", "groups", "output_size") if key in desc}

    def run(x, b, runs):
        return run_paddle(dict(call, data_format=PADDLE_FIRST[nd]), x, w, b, runs)

    return desc, n, w, c_out, run


def source_mlx(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    layer = rng.random() < 0.5
    g = 1 if layer or nd == 3 else int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    ints = lambda lo, his: [int(rng.integers(lo, hi)) for hi in his]  # noqa: E731
    call = dict(stride=s, padding=ints(-1, [di * (ki - 1) + 1 for ki, di in zip(k, d)]), dilation=d,
                output_padding=ints(0, [si + 2 for si in s]), groups=g)  # fmt: skip
    if nd == 1:
        call = {key: v[0] if isinstance(v, list) else v for key, v in call.items()}
    desc = dict(framework="mlx", kernel_size=k, in_channels=c_in, out_channels=c_out, **call)
    if layer:
        desc.update(layer=f"ConvTranspose{nd}d", bias=bool(rng.random() < 0.7))
        del desc["groups"]
    else:
        desc["op"] = f"conv_transpose{nd}d"
    w = rng.standard_normal([c_out] + k + [c_in // g]).astype(F32)

    def run(x, b, runs):
        return first(mlx_support.run(call, last(x), w, b))

    return desc, n, w, c_out, run


def source_openvino(rng, nd):
    n, k, s, d = rand_geometry(rng, nd)
    g = int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    attrs = dict(strides=s, dilations=d, auto_pad=str(rng.choice(compat_ov.AUTO_PADS)),
                 pads_begin=[int(v) for v in rng.integers(0, 3, nd)], pads_end=[int(v) for v in rng.integers(0, 3, nd)],
                 output_padding=[int(v) for v in rng.integers(0, 3, nd)])  # fmt: skip
    if rng.random() < 0.4:
        attrs["output_shape"] = [max(1, (ni - 1) * si + di * (ki - 1) + int(rng.integers(-2, 3)))
                                 for ni, ki, si, di in zip(n, k, s, d)]  # fmt: skip
    grouped = g > 1
    w = compat_ov.to_openvino(rng.standard_normal([c_in, c_out // g] + k).astype(F32), g)  # the op's own filters
    desc = dict(framework="openvino", op=compat_ov.convert.OPS[grouped], kernel_size=k, in_channels=c_in,
                out_channels=c_out, groups=g, bias=bool(rng.random() < 0.5), **attrs)  # fmt: skip
    if not grouped:
        desc.pop("groups")

    def run(x, b, runs):
        return openvino_support.run(attrs, x, w, b)

    try:  # the CPU plugin has no primitive for some grouped nodes: not a source to port
        run(np.ones((1, c_in) + tuple(n), F32), None, None)
    except Exception:
        return None
    return desc, n, w, c_out, run


def source_litert(rng, nd):
    n, k, s, _ = rand_geometry(rng, 2)
    padding = str(rng.choice(compat_litert.PADDINGS))
    lengths = [int(rng.integers(lo, hi + 1)) for lo, hi in compat_litert.output_shape_range_of(n, k, padding, *s)]
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    desc = dict(framework="litert", op="TRANSPOSE_CONV", weights_shape=[c_out] + k + [c_in],
                output_shape=[1] + lengths + [c_out], padding=padding, stride_h=s[0], stride_w=s[1],
                bias=bool(rng.random() < 0.5))  # fmt: skip
    w = rng.standard_normal([c_out] + k + [c_in]).astype(F32)

    def run(x, b, runs):
        args = dict(output_shape=[x.shape[0]] + lengths + [c_out], padding=padding, stride_h=s[0], stride_w=s[1])
        return first(litert_support.run(args, last(x), w, b))

    return desc, n, w, c_out, run


SOURCES = {
    "torch": source_torch, "keras": source_keras, "tensorflow": source_tensorflow, "jax": source_jax,
    "onnx": source_onnx, "paddle": source_paddle, "mlx": source_mlx, "openvino": source_openvino,
    "litert": source_litert,
}  # fmt: skip


def valid_source(rng, framework, nd):
    """A random ``framework`` layer of rank ``nd`` that tconv converts: ``(desc, n, w, c_out, run)``."""
    while True:
        try:
            case = SOURCES[framework](rng, nd)
        except ValueError:  # the TF source draws from an empty output_shape range now and then
            continue
        if case is None:
            continue
        try:
            tconv.convert(case[0], "torch" if framework != "torch" else "onnx", case[1])
        except TconvError:
            continue  # e.g. an empty output
        return case


def in_channels(desc) -> int:
    return desc.get("in_channels") or desc.get("filters_shape", desc.get("weights_shape", [0]))[-1]


def check_pairs(pairs, seed, cases, *, ranks=None, isolate=False):
    """Each ``(source, targets)`` pair: ``cases`` random source layers, each converted to every target that holds
    its rank and run in the real frameworks; every target's output is the source's.

    The ranks cycle through ``ranks``, or the source's :data:`RANKS` (1-D and 2-D by default). ``isolate`` runs
    JAX in subprocesses (:mod:`jax_support`), for runs long enough to meet XLA's abort.
    """
    rng = np.random.default_rng(seed)
    runs, checks = Runs(isolate), []
    for source, targets in pairs:
        cycle = ranks or RANKS.get(source, (1, 2))
        for case in range(cases):
            nd = cycle[case % len(cycle)]
            desc, n, w, c_out, run_source = valid_source(rng, source, nd)
            x = rng.standard_normal((2, in_channels(desc)) + tuple(n)).astype(F32)
            with_bias = desc.get("bias", desc.get("use_bias", False))
            b = rng.standard_normal(c_out).astype(F32) if with_bias else None
            ref = run_source(x, b, runs)
            for target in targets:
                if nd not in TARGET_RANKS.get(target, (nd,)):
                    continue
                conv = tconv.convert(desc, target, n)
                wt, bt = conv.convert_weights(w, b)
                checks.append((desc, target, conv, ref, run_target(conv, x, wt, bt, runs)))
    runs.run()
    for desc, target, conv, ref, out in checks:
        ref = resolve(ref)
        assert conv.geometry.out_size == ref.shape[2:], (desc, target)
        assert_close(resolve(out), ref, F32)


def check_interface(name, option=None):
    """``tconv.compat.<name>.convert`` has the converter hooks, reads a random 2-D layer and writes it back."""
    port = importlib.import_module(f"tconv.compat.{name}.convert")
    assert port.NAME == name and {"NAME", "KEYS", "describe", "source", "search", "target"} <= set(port.__all__), name
    assert all(callable(getattr(port, hook)) for hook in ("describe", "source", "search", "target")), name
    assert port.describe(object()) is None
    desc, n, *_ = valid_source(np.random.default_rng(5), name, 2)
    src = port.source(desc, n)
    assert isinstance(src, porting.Source) and src.framework == name
    assert isinstance(port.target(src), porting.Target)
    for a in src.geometry.axes:  # one padding family of each: (arguments, crop) or None
        choice = port.search(a, option)
        assert choice is None or (len(choice) == 2 and len(choice[1]) == 2)


# ---------------------------------------------------------------- pasted code

CODE_CASES = [
    # the README case: TF SAME with an odd kernel and stride 2 (a crop at the end)
    ({"framework": "keras", "layer": "Conv2DTranspose", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same",
      "in_channels": 3}, (5, 4)),
    # JAX pairs that put zeros before the full result (a zero-pad residual in every other framework)
    ({"framework": "jax", "op": "conv_transpose", "kernel_size": [2, 3], "strides": [3, 2], "padding": [[3, 0], [2, 4]],
      "in_channels": 3, "out_channels": 2, "transpose_kernel": True, "bias": True}, (5, 4)),
    ({"framework": "torch", "layer": "ConvTranspose1d", "in_channels": 4, "out_channels": 2, "kernel_size": 3, "stride": 2,
      "padding": 1, "output_padding": 1, "groups": 2}, (5,)),
]  # fmt: skip
CODE_IDS = ["keras-same", "jax-zeros-before", "torch-groups"]


def code_case(desc, size, seed, batch=2):
    """A :data:`CODE_CASES` layer's random input, kernel (in the source's layout) and bias, and the real PyTorch
    output of its conversion, residual applied: ``(x, w, b, ref)``."""
    rng = np.random.default_rng(seed)
    to_torch = tconv.convert(desc, "torch", size)
    c_in, c_out, groups = to_torch.arguments["in_channels"], to_torch.arguments["out_channels"], to_torch.groups
    x = rng.standard_normal((batch, c_in) + tuple(size)).astype(F32)
    w_torch = rng.standard_normal((c_in, c_out // groups) + to_torch.geometry.kernel).astype(F32)
    b = rng.standard_normal(c_out).astype(F32) if to_torch.bias else None
    w = {"torch": lambda: w_torch, "keras": lambda: layouts.to_keras(w_torch),
         "jax": lambda: layouts.to_jax(w_torch, "HWIO", transpose_kernel=True)}[desc["framework"]]()  # fmt: skip
    return x, w, b, run_target(to_torch, x, *to_torch.convert_weights(w, b))
