"""Fuzz the public API: random valid cases checked for correctness, hostile arguments checked for a clean refusal.

Correct: ``conv_transpose`` under any of ``tconv.ALGORITHMS`` equals the
``scatter`` definition in float64 (within 1e-9 of the largest value); ``conv``
and both gradients satisfy the identities that need no oracle (the adjoint
``vdot(conv_transpose(x, w), y) == vdot(x, conv(y, w))``, linearity in the
weight, the bias gradient as a sum) and the shape formulas.

Hostile: each function gets its valid baseline call with one or two arguments
replaced by ints, huge ints, negatives, floats, bools, strings, None, nested
lists, numpy scalars, or arrays of the wrong rank or dtype (complex, object,
big-endian, empty). Each call either returns a result of the documented type
and shape or raises ``TconvError`` / ``TypeError`` whose message starts with
``tconv.`` and names the function (or, for a public function that delegates,
a function of the same namespace, e.g. ``tconv.compat.onnx.geometry`` for
``tconv.compat.onnx.conv_transpose``). Every call runs under a 256 MiB budget,
an address-space cap and a time limit (tests/fuzz_support.py).

``KNOWN_BUGS`` lists the library bugs this fuzz found, each with its smallest
call (a strict-xfail case of ``test_known_library_bugs``) and the targets whose
default fuzz it fails (those are strict xfails too): a fix turns them into
XPASS, which strict xfail reports, and the entry is then deleted.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tconv
import tconv.checkerboard as cb
import tconv.compat.jax as cjax
import tconv.compat.keras as ckeras
import tconv.compat.layouts as layouts
import tconv.compat.onnx as connx
import tconv.compat.tensorflow as ctf
import tconv.compat.torch as ctorch
import tconv.init as init
import tconv.nn as nn
from fuzz_support import HUGE, LONG, LONG_EXAMPLES, TooSlow, bounded, guarded
from support import assert_close

# ---------------------------------------------------------------------------
# correctness on random valid cases
# ---------------------------------------------------------------------------


@st.composite
def geometries(draw, max_nd=3):
    """A small valid transposed-conv case: (x, w, b, keyword arguments), float64, output non-empty."""
    nd = draw(st.integers(1, max_nd))
    small = 4 if nd < 3 else 3
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(st.lists(st.integers(1, small), min_size=nd, max_size=nd))
    k = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    s = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    d = draw(st.lists(st.integers(1, 2), min_size=nd, max_size=nd))
    op = [draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d)]
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd)]
    lengths = [(ni - 1) * si + di * (ki - 1) + 1 - lo - hi + o for ni, ki, si, di, (lo, hi), o in zip(n, k, s, d, pads, op)]
    assume(min(lengths) >= 1)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((draw(st.integers(1, 2)), c_in, *n))
    w = rng.standard_normal((c_in, c_out, *k))
    b = rng.standard_normal(c_out * groups) if draw(st.booleans()) else None
    kw = dict(stride=tuple(s), padding=tuple(pads), output_padding=tuple(op), dilation=tuple(d), groups=groups)
    return x, w, b, kw, rng


def _conv_kwargs(kw: dict) -> dict:
    return {key: v for key, v in kw.items() if key != "output_padding"}


def _vdot_close(a: float, b: float, scale: float) -> None:
    assert abs(a - b) <= 1e-9 * max(1.0, scale), (a, b)


@bounded(60)
@given(geometries(), st.sampled_from(tconv.ALGORITHMS))
def test_conv_transpose_equals_scatter_in_every_algorithm(case, algorithm):
    x, w, b, kw, _ = case
    with guarded(what=(x.shape, w.shape, kw, algorithm)):
        y = tconv.conv_transpose(x, w, b, algorithm=algorithm, **kw)
        ref = tconv.conv_transpose(x, w, b, algorithm="scatter", **kw)
    spatial = tconv.output_size(x.shape[2:], w.shape[2:], **_without(kw, "groups"))
    assert y.shape == (x.shape[0], w.shape[1] * kw["groups"]) + spatial
    assert y.dtype == np.float64
    assert_close(y, ref)


def _without(kw: dict, *names: str) -> dict:
    return {key: v for key, v in kw.items() if key not in names}


@bounded(50)
@given(geometries())
def test_conv_is_the_adjoint_and_both_gradients_are_right(case):
    x, w, _, kw, rng = case
    with guarded(what=(x.shape, w.shape, kw)):
        y = tconv.conv_transpose(x, w, algorithm="scatter", **kw)
        g = rng.standard_normal(y.shape)
        back = tconv.conv(g, w, **_conv_kwargs(kw))
        n = x.shape[2:]
        # conv maps the output size back to at least n (more when output_padding >= stride): the adjoint reads the first n
        assert all(m >= ni for m, ni in zip(back.shape[2:], n)), (back.shape, n)
        back = back[(slice(None), slice(None)) + tuple(slice(0, ni) for ni in n)]
        assert back.shape == x.shape
        scale = float(np.abs(g).sum() * np.abs(y).max() + 1)
        _vdot_close(np.vdot(y, g), np.vdot(x, back), scale)
        conv_geometry = _without(_conv_kwargs(kw), "groups")
        assert tconv.conv(g, w, **_conv_kwargs(kw)).shape[2:] == tconv.conv_output_size(g.shape[2:], w.shape[2:], **conv_geometry)

        gx, gw, gb = tconv.conv_transpose_backward(g, x, w, **kw)
        assert_close(gx, back)
        dw = rng.standard_normal(w.shape)
        _vdot_close(np.vdot(gw, dw), np.vdot(g, tconv.conv_transpose(x, dw, algorithm="scatter", **kw)), scale * 10)
        assert_close(gb, g.sum(axis=(0,) + tuple(range(2, g.ndim))))

        # the forward conv of the same case: its input g, its output y2; the gradients by the same identities
        y2 = tconv.conv(g, w, **_conv_kwargs(kw))
        g2 = rng.standard_normal(y2.shape)
        cx, cw, cb_ = tconv.conv_backward(g2, g, w, **_conv_kwargs(kw))
        assert cx.shape == g.shape and cw.shape == w.shape and cb_.shape == (w.shape[0],)
        dx = rng.standard_normal(g.shape)
        scale2 = float(np.abs(g2).sum() * (np.abs(y2).max() + np.abs(dx).max()) * np.abs(w).sum() + 1)
        _vdot_close(np.vdot(cx, dx), np.vdot(g2, tconv.conv(dx, w, **_conv_kwargs(kw))), scale2)
        _vdot_close(np.vdot(cw, dw), np.vdot(g2, tconv.conv(g, dw, **_conv_kwargs(kw))), scale2)
        assert_close(cb_, g2.sum(axis=(0,) + tuple(range(2, g2.ndim))))


# ---------------------------------------------------------------------------
# hostile arguments
# ---------------------------------------------------------------------------

R = np.random.default_rng(0)


def arr(*shape, dtype=np.float64):
    return R.standard_normal(shape).astype(dtype)


#: one hostile value of any kind; arrays of the wrong rank or dtype included
HOSTILE_SCALARS = st.one_of(
    st.integers(-3, 5),
    st.sampled_from(HUGE + (-(10**9), -(2**63))),
    st.sampled_from([1.5, 2.0, -0.5, math.nan, math.inf, -math.inf, 1e300]),
    st.booleans(),
    st.sampled_from(["", "x", "3", "same", "SAME", "valid", "auto", "nearest", "NHWC", "HWIO", "\x00"]),
    st.none(),
    st.sampled_from([np.int64(2), np.int32(-1), np.uint8(3), np.float32(2.0), np.bool_(True), np.int64(2**62)]),
)
HOSTILE_LISTS = st.one_of(
    st.lists(st.integers(-2, 4), max_size=4),
    st.lists(st.lists(st.integers(-1, 3), max_size=3), max_size=3),
    st.sampled_from(
        [[1, "x"], [None], [[1, 2], 3], (2, 2.5), [10**12, 10**12], [2**70], [(1, 2, 3)], ((1, 2), (3, 4), (5, 6))]
    ),
)


def _hostile_arrays():
    return st.sampled_from(
        [
            arr(3),
            arr(2, 2),
            arr(1, 2, 4),
            arr(1, 2, 4, 4),
            arr(2, 3, 3, 3),
            arr(1, 1, 1, 1, 1, 1, 1),
            np.zeros((0, 2, 4, 4)),
            np.zeros((1, 0, 4, 4)),
            np.zeros((1, 2, 0, 4)),
            arr(1, 2, 4, 4).astype(np.complex128),
            np.ones((1, 2, 4, 4), dtype=object),
            arr(1, 2, 4, 4).astype(">f8"),
            arr(2, 3, 3, 3).astype(">f4"),
            np.ones((1, 2, 4, 4), dtype=np.int64),
            np.ones((1, 2, 4, 4), dtype=bool),
            np.array("text"),
            np.float64(3.0),
            [[[[1.0, 2.0]]]],
            [[[["a"]]]],
        ]
    )


HOSTILE = st.one_of(HOSTILE_SCALARS, HOSTILE_LISTS, _hostile_arrays())


class Target:
    """One public function: its name in messages, a baseline call, and what a returned result must be."""

    def __init__(self, name: str, func: Callable, kwargs: dict, check: Callable[[Any, dict], None], *, also: str = ""):
        self.name, self.func, self.kwargs, self.check = name, func, kwargs, check
        #: the namespace of functions it may delegate to (their messages are accepted too)
        self.namespace = also or (name.rsplit(".", 1)[0] + "." if "." in name else "")

    def names_it(self, message: str) -> bool:
        prefix = message.split(":", 1)[0]
        if not prefix.startswith("tconv."):
            return False
        named = prefix[len("tconv.") :]
        return named == self.name or bool(self.namespace) and named.startswith(self.namespace)


def is_array(shape_ndim: int | None = None, dtype_kind: str = "f") -> Callable:
    def check(result, kw):
        assert isinstance(result, np.ndarray), type(result)
        assert result.dtype.kind == dtype_kind, result.dtype
        if shape_ndim is not None:
            assert result.ndim == shape_ndim, result.shape

    return check


def is_type(*types, length: int | None = None) -> Callable:
    def check(result, kw):
        assert isinstance(result, types), type(result)
        if length is not None:
            assert len(result) == length

    return check


def _check_transpose(result, kw):
    x, w = np.asarray(kw["x"], dtype=np.float64), np.asarray(kw["weight"], dtype=np.float64)
    assert isinstance(result, np.ndarray) and result.dtype.kind == "f"
    geo = {k: kw[k] for k in ("stride", "padding", "output_padding", "dilation")}
    if kw.get("output_size") is None:
        assert result.shape[2:] == tconv.output_size(x.shape[2:], w.shape[2:], **geo)
    extra = dict(groups=kw["groups"], output_size=kw["output_size"])
    ref = tconv.conv_transpose(x, w, kw["bias"], algorithm="scatter", **extra, **geo)
    assert_close(result, ref, dtype=result.dtype if result.dtype in (np.float32, np.float16) else np.float64)


def _check_conv(result, kw):
    x, w = np.asarray(kw["x"]), np.asarray(kw["weight"])
    assert isinstance(result, np.ndarray) and result.dtype.kind == "f"
    geo = {k: kw[k] for k in ("stride", "padding", "dilation")}
    assert result.shape[2:] == tconv.conv_output_size(x.shape[2:], w.shape[2:], **geo)


def _check_sizes(result, kw):
    assert isinstance(result, tuple) and all(type(v) is int and v >= 1 for v in result), result


def _check_solutions(result, kw):
    assert isinstance(result, list) and all(isinstance(a, tconv.geometry.AxisSolutions) for a in result)
    for a in result:
        len(a), a.ranges, repr(a)  # bounded for any size


def _check_grads(result, kw):
    gx, gw, gb = result
    assert gx.shape == np.shape(kw["x"]) and gw.shape == np.shape(kw["weight"])


TARGETS = [
    Target(
        "conv_transpose", tconv.conv_transpose,
        dict(x=arr(1, 2, 4, 4), weight=arr(2, 3, 3, 3), bias=arr(3), stride=2, padding=1, output_padding=1, groups=1,
             dilation=1, output_size=None, algorithm="auto"),
        _check_transpose,
    ),
    Target(
        "conv", tconv.conv,
        dict(x=arr(1, 2, 7, 7), weight=arr(3, 2, 3, 3), bias=arr(3), stride=2, padding=1, groups=1, dilation=1),
        _check_conv,
    ),
    Target(
        "conv_matrix", tconv.conv_matrix,
        dict(input_shape=(2, 5, 5), weight=arr(3, 2, 3, 3), stride=2, padding=1, groups=1, dilation=1),
        lambda r, kw: r.shape,
    ),
    Target(
        "conv_transpose_backward", tconv.conv_transpose_backward,
        dict(grad_output=arr(1, 3, 8, 8), x=arr(1, 2, 4, 4), weight=arr(2, 3, 3, 3), stride=2, padding=1, output_padding=1,
             groups=1, dilation=1, bias=True),
        _check_grads,
    ),
    Target(
        "conv_backward", tconv.conv_backward,
        dict(grad_output=arr(1, 3, 4, 4), x=arr(1, 2, 7, 7), weight=arr(3, 2, 3, 3), stride=2, padding=1, groups=1,
             dilation=1, bias=True),
        _check_grads,
    ),
    Target("output_size", tconv.output_size,
           dict(in_size=7, kernel_size=5, stride=2, padding=2, output_padding=1, dilation=1), _check_sizes),
    Target("conv_output_size", tconv.conv_output_size,
           dict(in_size=7, kernel_size=3, stride=2, padding=1, dilation=1), _check_sizes),
    Target("solve_padding", tconv.solve_padding,
           dict(in_size=7, out_size=14, kernel_size=5, stride=2, dilation=1), _check_solutions),
    Target("conv_input_sizes", tconv.conv_input_sizes,
           dict(out_size=4, kernel_size=3, stride=2, padding=1, dilation=1), _check_solutions),
    Target("explain", tconv.explain,
           dict(in_size=(2, 2), kernel_size=3, stride=2, padding=0, output_padding=0, dilation=1),
           lambda r, kw: isinstance(r, tconv.Explanation) and r.text()),
    Target("upsample", tconv.upsample,
           dict(x=arr(1, 1, 3, 3), scale_factor=2, size=None, mode="nearest", align_corners=None), is_array()),
    Target(
        "convert", tconv.convert,
        dict(layer={"framework": "torch", "layer": "ConvTranspose2d", "in_channels": 2, "out_channels": 3, "kernel_size": 3,
                    "stride": 2, "padding": 1}, to="keras", input_size=8),
        lambda r, kw: isinstance(r, tconv.Conversion) and r.code,
    ),
    Target(
        "compat.torch.conv_transpose2d", ctorch.conv_transpose2d,
        dict(input=arr(1, 2, 4, 4), weight=arr(2, 3, 3, 3), bias=arr(3), stride=2, padding=1, output_padding=1, groups=1,
             dilation=1, padding_mode="zeros"),
        is_array(4),
    ),
    Target("compat.torch.geometry", ctorch.geometry,
           dict(in_size=(4, 4), kernel_size=3, stride=2, padding=1, output_padding=1, groups=1, dilation=1),
           is_type(tconv.geometry.Geometry)),
    Target(
        "compat.tensorflow.conv2d_transpose", ctf.conv2d_transpose,
        dict(input=arr(1, 4, 4, 2), filters=arr(3, 3, 3, 2), output_shape=[1, 8, 8, 3], strides=2, padding="SAME",
             data_format="NHWC", dilations=None),
        is_array(4),
    ),
    Target("compat.tensorflow.geometry", ctf.geometry,
           dict(in_size=(4, 4), kernel_size=(3, 3), output_shape=[8, 8], strides=2, padding="SAME"),
           is_type(tconv.geometry.Geometry)),
    Target(
        "compat.keras.conv_transpose", ckeras.conv_transpose,
        dict(inputs=arr(1, 4, 4, 2), kernel=arr(3, 3, 3, 2), strides=2, padding="same", output_padding=None,
             data_format="channels_last", dilation_rate=1),
        is_array(4),
    ),
    Target("compat.keras.geometry", ckeras.geometry,
           dict(in_size=(4, 4), kernel_size=3, strides=2, padding="same", output_padding=None, dilation_rate=1),
           is_type(tconv.geometry.Geometry)),
    Target(
        "compat.jax.conv_transpose", cjax.conv_transpose,
        dict(lhs=arr(1, 4, 4, 2), rhs=arr(3, 3, 2, 3), strides=(2, 2), padding="SAME", rhs_dilation=None,
             dimension_numbers=("NHWC", "HWIO", "NHWC"), transpose_kernel=False),
        is_array(4),
    ),
    Target("compat.jax.geometry", cjax.geometry,
           dict(in_size=(4, 4), kernel_size=(3, 3), strides=(2, 2), padding="SAME", rhs_dilation=None),
           is_type(tconv.geometry.Geometry)),
    Target(
        "compat.onnx.conv_transpose", connx.conv_transpose,
        dict(X=arr(1, 2, 4, 4), W=arr(2, 3, 3, 3), B=arr(3), auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
             output_padding=None, output_shape=None, pads=[1, 1, 1, 1], strides=[2, 2]),
        is_array(4),
    ),
    Target("compat.onnx.geometry", connx.geometry,
           dict(in_size=(4, 4), kernel_size=(3, 3), auto_pad="NOTSET", pads=[1, 1, 1, 1], strides=[2, 2], group=1),
           is_type(tconv.geometry.Geometry)),
    Target("compat.layouts.to_channels_first", layouts.to_channels_first, dict(x=arr(1, 4, 4, 2)), is_array(4)),
    Target("compat.layouts.to_channels_last", layouts.to_channels_last, dict(x=arr(1, 2, 4, 4)), is_array(4)),
    Target("compat.layouts.is_channels_last", layouts.is_channels_last, dict(data_format="NHWC"), is_type(bool)),
    Target("compat.layouts.from_tf", layouts.from_tf, dict(filters=arr(3, 3, 3, 2)), is_array(4)),
    Target("compat.layouts.to_tf", layouts.to_tf, dict(weight=arr(2, 3, 3, 3)), is_array(4)),
    Target("compat.layouts.from_keras", layouts.from_keras, dict(filters=arr(3, 3, 3, 2)), is_array(4)),
    Target("compat.layouts.to_keras", layouts.to_keras, dict(weight=arr(2, 3, 3, 3)), is_array(4)),
    Target("compat.layouts.from_onnx", layouts.from_onnx, dict(weight=arr(2, 3, 3, 3)), is_array(4)),
    Target("compat.layouts.to_onnx", layouts.to_onnx, dict(weight=arr(2, 3, 3, 3)), is_array(4)),
    Target("compat.layouts.from_jax", layouts.from_jax,
           dict(rhs=arr(3, 3, 2, 3), rhs_spec="HWIO", transpose_kernel=False), is_array(4)),
    Target("compat.layouts.to_jax", layouts.to_jax,
           dict(weight=arr(2, 3, 3, 3), rhs_spec="HWIO", transpose_kernel=False), is_array(4)),
    Target("compat.layouts.ungroup", layouts.ungroup, dict(weight=arr(4, 3, 3, 3), groups=2), is_array(4)),
    Target("checkerboard.overlap", cb.overlap, dict(kernel_size=3, stride=2, dilation=1, padding=0), is_array(None, "i")),
    Target("checkerboard.unevenness", cb.unevenness, dict(kernel_size=3, stride=2, dilation=1, padding=0),
           is_type(float)),
    Target("checkerboard.image_score", cb.image_score, dict(image=arr(8, 8), stride=2, channel_axis=None),
           lambda r, kw: isinstance(r, float) and (0 <= r <= 1 or math.isnan(r))),
    Target("checkerboard.remedies", cb.remedies, dict(kernel_size=3, stride=2, dilation=1, padding=0, in_size=12, seed=0),
           is_type(list)),
    Target(
        "checkerboard.analyze_stack", cb.analyze_stack,
        dict(source=[{"kernel_size": 3, "stride": 2, "padding": 1}, {"kernel_size": 4, "stride": 2, "padding": 1}],
             weights=True, weight_tolerance=0.1),
        lambda r, kw: r.text(),
    ),
    Target("checkerboard.report", cb.report, dict(kernel_size=3, stride=2, dilation=1, padding=0, in_size=12),
           is_type(str)),
    Target("init.fan_in", init.fan_in, dict(shape=(2, 3, 3, 3)), is_type(int)),
    Target("init.kaiming_uniform", init.kaiming_uniform, dict(shape=(2, 3, 3, 3), a=math.sqrt(5), rng=0), is_array()),
    Target("init.default_bias", init.default_bias, dict(weight_shape=(2, 3, 3, 3), channels=3, rng=0), is_array(1)),
    Target("init.bilinear", init.bilinear, dict(channels=2, factor=2, ndim=2), is_array()),
    Target("init.bilinear_arguments", init.bilinear_arguments, dict(factor=2), is_type(dict)),
    Target("init.icnr", init.icnr, dict(out_channels=2, in_channels=2, kernel_size=3, scale=2, ndim=2, rng=0), is_array()),
    Target("init.icnr_transpose", init.icnr_transpose,
           dict(in_channels=2, out_channels=2, kernel_size=4, stride=2, ndim=2, rng=0), is_array()),
]
for _nd in (1, 2, 3):
    TARGETS += [
        Target(f"nn.ConvTranspose{_nd}d", getattr(nn, f"ConvTranspose{_nd}d"),
               dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1, output_padding=1, groups=1, bias=True,
                    dilation=1, padding_mode="zeros", rng=0, dtype=np.float64),
               is_type(nn.Module)),
        Target(f"nn.Conv{_nd}d", getattr(nn, f"Conv{_nd}d"),
               dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1, dilation=1, groups=1, bias=True,
                    padding_mode="zeros", rng=0, dtype=np.float64),
               is_type(nn.Module)),
    ]
TARGETS += [
    Target("nn.ResizeConv2d", nn.ResizeConv2d,
           dict(in_channels=2, out_channels=3, kernel_size=3, scale_factor=2, mode="nearest", padding="same", rng=0),
           is_type(nn.Module)),
    Target("nn.Upsample", nn.Upsample, dict(size=None, scale_factor=2, mode="nearest", align_corners=None),
           is_type(nn.Module)),
    Target("nn.Linear", nn.Linear, dict(in_features=4, out_features=3, bias=True, rng=0, dtype=np.float64), is_type(nn.Module)),
    Target("nn.BatchNorm2d", nn.BatchNorm2d, dict(num_features=3, eps=1e-5, momentum=0.1, affine=True), is_type(nn.Module)),
    Target("nn.LeakyReLU", nn.LeakyReLU, dict(negative_slope=0.01), is_type(nn.Module)),
    Target("nn.SGD", nn.SGD, dict(params=list(nn.Linear(2, 2, rng=0).parameters()), lr=0.1), lambda r, kw: None),
    Target("nn.Adam", nn.Adam, dict(params=list(nn.Linear(2, 2, rng=0).parameters()), lr=0.1), lambda r, kw: None),
]
BY_NAME = {t.name: t for t in TARGETS}


def test_every_baseline_call_succeeds():
    for t in TARGETS:
        with guarded(what=t.name):
            result = t.func(**t.kwargs)
        t.check(result, t.kwargs)


def outcome(target: Target, kwargs: dict) -> str | None:
    """None when the call returned a checked result or refused cleanly; otherwise what went wrong."""
    try:
        with guarded(seconds=1, what=(target.name, kwargs)):  # every call here takes milliseconds, or is refused
            result = target.func(**kwargs)
    except TooSlow as exc:
        return f"{target.name}: {exc}"
    except (TypeError, tconv.TconvError) as exc:
        message = str(exc)
        if not target.names_it(message):
            return f"{target.name}: {type(exc).__name__} not worded by the library: {message[:200]}"
        return None
    except Exception as exc:  # noqa: BLE001 - any other exception is the bug this fuzz looks for
        return f"{target.name}: {type(exc).__name__}: {str(exc)[:200]}"
    try:
        with guarded(seconds=10, what=target.name):
            target.check(result, kwargs)
    except AssertionError as exc:
        return f"{target.name} returned a wrong result: {exc}"
    except tconv.TconvError as exc:
        if "memory budget" in str(exc):
            return None  # the call fitted with a leaner algorithm; the reference (scatter) does not fit to check it
        return f"{target.name} accepted what its own reference refuses: TconvError: {str(exc)[:200]}"
    except Exception as exc:  # noqa: BLE001 - e.g. the reference refuses what the function accepted
        return f"{target.name} accepted what its own reference refuses: {type(exc).__name__}: {str(exc)[:200]}"
    return None


#: the default run of each target: a few examples, first failure reported as found (no shrinking: the slow run shrinks)
QUICK = bounded(15, shrink=False)


@st.composite
def hostile_calls(draw, target: Target):
    kwargs = dict(target.kwargs)
    names = draw(st.lists(st.sampled_from(sorted(kwargs)), min_size=1, max_size=2, unique=True))
    for name in names:
        kwargs[name] = draw(HOSTILE)
    return kwargs


def _changed(target: Target, kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if not _same(v, target.kwargs[k])}


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    return type(a) is type(b) and a == b


#: name -> (the smallest call showing it: target and changed arguments; the bug; the targets whose default fuzz
#: it fails). Each is a strict-xfail case of test_known_library_bugs, and the default fuzz of each listed target
#: is a strict xfail: once every bug of a target is fixed its fuzz passes, strict xfail reports it, and the
#: target comes off the list. (The slow run, random, marks the same targets xfail without strict.)
KNOWN_BUGS: dict[str, tuple[tuple[str, dict], str, tuple[str, ...]]] = {
}
#: target -> the known bugs its fuzz runs into
BUGGY: dict[str, list[str]] = {}
for _bug, (_, _reason, _targets) in KNOWN_BUGS.items():
    for _t in _targets:
        BUGGY.setdefault(_t, []).append(_bug)


def _fuzz_params(strict: bool = True) -> list:
    params = []
    for name in sorted(BY_NAME):
        bugs = BUGGY.get(name)
        reason = "known bugs: " + "; ".join(KNOWN_BUGS[b][1] for b in bugs) if bugs else ""
        marks = [pytest.mark.xfail(strict=strict, reason=reason)] if bugs else []
        params.append(pytest.param(name, marks=marks))
    return params


def _fuzz(target: Target, kwargs: dict) -> None:
    problem = outcome(target, kwargs)
    assert problem is None, f"{problem}\n  changed arguments: {_changed(target, kwargs)!r}"


@pytest.mark.parametrize("name", _fuzz_params())
def test_hostile_arguments_are_refused_cleanly(name):
    target = BY_NAME[name]
    given(hostile_calls(target))(QUICK(lambda kwargs: _fuzz(target, kwargs)))()


@pytest.mark.slow
@pytest.mark.parametrize("name", _fuzz_params(strict=False))
def test_long_run(name):
    target = BY_NAME[name]
    # one test per target: a tenth of the CLI's long run each keeps the whole under about half an hour
    long = settings(LONG, max_examples=LONG_EXAMPLES // 10)
    given(hostile_calls(target))(long(lambda kwargs: _fuzz(target, kwargs)))()


@pytest.mark.parametrize(
    "bug", [pytest.param(b, marks=pytest.mark.xfail(strict=True, reason=r)) for b, (_, r, _) in KNOWN_BUGS.items()]
)
def test_known_library_bugs(bug):
    (name, changed), _, _ = KNOWN_BUGS[bug]
    target = BY_NAME[name]
    assert outcome(target, {**target.kwargs, **changed}) is None
