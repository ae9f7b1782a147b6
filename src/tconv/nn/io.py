"""Saving and loading :mod:`tconv.nn` models: a JSON description of the layers and an ``.npz`` of weights.

Never pickle: loading reads JSON (each layer by its class name, from a fixed
table of :mod:`tconv.nn` classes, built with its constructor's arguments, which
check themselves) and a NumPy ``.npz`` with ``allow_pickle=False``. A model
saved at ``path`` is the directory ``path`` holding ``model.json`` and
``weights.npz``. PyTorch and Keras models reach it through the live loaders
(:func:`tconv.nn.from_torch`, :func:`tconv.nn.from_keras`), then :func:`save`.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

import numpy as np

from ..errors import TconvError, fail
from . import conv, layers, resize
from .module import Module, Sequential

__all__ = ["save", "load", "describe", "FORMAT"]

#: the ``format`` entry of ``model.json``
FORMAT = "tconv.nn/1"
MODEL_FILE, WEIGHTS_FILE = "model.json", "weights.npz"


def _tuple_list(values) -> list:
    return [list(v) if isinstance(v, tuple) else v for v in values]


def _conv(m: Module) -> dict[str, Any]:
    args = dict(
        in_channels=m.in_channels, out_channels=m.out_channels, kernel_size=list(m.kernel_size),
        stride=list(m.stride), padding=m.padding if isinstance(m.padding, str) else _tuple_list(m.padding),
        dilation=list(m.dilation), groups=m.groups, bias=m.bias is not None, padding_mode=m.padding_mode,
        dtype=m.weight.data.dtype.name,
    )
    if m.transposed:
        args["output_padding"] = list(m.output_padding)
    return args


def _resize_conv(m: Module) -> dict[str, Any]:
    up, c = m["upsample"], m["conv"]
    args = _conv(c)
    return dict(
        in_channels=c.in_channels, out_channels=c.out_channels, kernel_size=args["kernel_size"],
        scale_factor=up.scale_factor, mode=up.mode, padding=args["padding"], padding_mode=c.padding_mode,
        bias=args["bias"], dtype=args["dtype"],
    )


def _batchnorm(m: Module) -> dict[str, Any]:
    return dict(
        num_features=m.num_features, eps=m.eps, momentum=m.momentum, affine=m.weight is not None,
        track_running_stats=m.track_running_stats, unbiased_running_var=m.unbiased_running_var,
        dtype=(m.weight.data if m.weight is not None else m.running_mean).dtype.name,
    )


def _linear(m: Module) -> dict[str, Any]:
    out_f, in_f = m.weight.data.shape
    return dict(in_features=in_f, out_features=out_f, bias=m.bias is not None, dtype=m.weight.data.dtype.name)


def _upsample(m: Module) -> dict[str, Any]:
    return dict(size=m.size, scale_factor=m.scale_factor, mode=m.mode, align_corners=m.align_corners,
                recompute_scale_factor=m.recompute_scale_factor)


def _none(m: Module) -> dict[str, Any]:
    return {}


#: class name -> (class, its constructor arguments read off an instance)
CLASSES: dict[str, tuple[type, Callable[[Module], dict[str, Any]]]] = {
    **{c.__name__: (c, _conv) for c in (conv.Conv1d, conv.Conv2d, conv.Conv3d, conv.ConvTranspose1d,
                                        conv.ConvTranspose2d, conv.ConvTranspose3d)},
    **{c.__name__: (c, _resize_conv) for c in (resize.ResizeConv1d, resize.ResizeConv2d, resize.ResizeConv3d)},
    **{c.__name__: (c, _batchnorm) for c in (layers.BatchNorm1d, layers.BatchNorm2d, layers.BatchNorm3d)},
    **{c.__name__: (c, _none) for c in (layers.ReLU, layers.Tanh, layers.Sigmoid, layers.Flatten)},
    "LeakyReLU": (layers.LeakyReLU, lambda m: dict(negative_slope=m.negative_slope)),
    "Linear": (layers.Linear, _linear),
    "Reshape": (layers.Reshape, lambda m: dict(shape=list(m.shape))),
    "Upsample": (resize.Upsample, _upsample),
}


def describe(model: Module, name: str = "model") -> dict[str, Any]:
    """The JSON-ready description of a model's layers (no weights): ``{"type", "args", "training"}``, and
    ``"children"`` (``[name, description]`` pairs, in order) for a :class:`~tconv.nn.Sequential`."""
    kind = type(model).__name__
    if kind in CLASSES and type(model) is CLASSES[kind][0]:
        return {"type": kind, "args": CLASSES[kind][1](model), "training": model.training}
    if type(model) is Sequential:
        return {"type": "Sequential", "training": model.training,
                "children": [[n, describe(c, f"{name}.{n}")] for n, c in model.named_children()]}
    raise fail("nn.save", f"layer {name!r} of type {kind} has no saved form (saved: Sequential, "
                          f"{', '.join(sorted(CLASSES))})")


def _build(desc: Any, where: str) -> Module:
    func = "nn.load"
    if not isinstance(desc, dict) or not isinstance(desc.get("type"), str):
        raise fail(func, f"{where} must be an object with a 'type'; got {desc!r:.80}")
    kind = desc["type"]
    if kind == "Sequential":
        children = desc.get("children")
        if not isinstance(children, list) or not all(
                isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) for c in children):
            raise fail(func, f"{where}: a Sequential needs 'children', a list of [name, layer] pairs; "
                             f"got {children!r:.80}")
        model: Module = Sequential({n: _build(c, f"{where}.{n}") for n, c in children})
    elif kind in CLASSES:
        args = desc.get("args", {})
        if not isinstance(args, dict):
            raise fail(func, f"{where}: 'args' must be an object; got {args!r:.80}")
        cls = CLASSES[kind][0]
        # JSON has no tuples: the resize's per-axis sizes and factors are tuples again, as they were given
        args = {k: tuple(v) if k in ("scale_factor", "size") and isinstance(v, list) else v for k, v in args.items()}
        try:
            model = cls(*args.pop("shape", ()), **args) if kind == "Reshape" else cls(**args)
        except TypeError as exc:
            raise fail(func, f"{where}: {kind} cannot be built from {args!r:.200}: {exc}") from None
    else:
        raise fail(func, f"{where}: unknown layer type {kind!r} (known: Sequential, {', '.join(sorted(CLASSES))})")
    return model


def _training(model: Module, desc: dict) -> None:
    """Set every module's training flag as saved (Sequential.train would set its children's too)."""
    object.__setattr__(model, "training", bool(desc.get("training", False)))
    if desc.get("type") == "Sequential":
        for child, (_, child_desc) in zip(model, desc["children"]):
            _training(child, child_desc)


def save(model: Module, path: str | os.PathLike) -> None:
    """Save ``model`` to the directory ``path`` (created): ``model.json`` and ``weights.npz``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from tconv import nn
    >>> model = nn.Sequential(nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1, rng=0), nn.ReLU())
    >>> with tempfile.TemporaryDirectory() as d:
    ...     nn.save(model, d + "/decoder")
    ...     again = nn.load(d + "/decoder")
    >>> x = np.ones((1, 2, 3, 3), np.float32)
    >>> bool(np.array_equal(again(x), model(x)))
    True
    """
    desc = {"format": FORMAT, "model": describe(model)}
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, MODEL_FILE), "w", encoding="utf-8") as f:
        json.dump(desc, f, indent=1, sort_keys=True)
    np.savez(os.path.join(path, WEIGHTS_FILE), **model.state_dict())


def load(path: str | os.PathLike) -> Module:
    """Load a model that :func:`save` wrote (JSON and ``.npz`` only: nothing is unpickled)."""
    func = "nn.load"
    model_file, weights_file = os.path.join(path, MODEL_FILE), os.path.join(path, WEIGHTS_FILE)
    if not (os.path.isfile(model_file) and os.path.isfile(weights_file)):
        raise fail(func, f"path must be a directory holding {MODEL_FILE} and {WEIGHTS_FILE} (written by nn.save); "
                         f"got {os.fspath(path)!r}")
    try:
        with open(model_file, encoding="utf-8") as f:
            desc = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(func, f"{MODEL_FILE} is not JSON: {exc}") from None
    if not isinstance(desc, dict) or desc.get("format") != FORMAT:
        raise fail(func, f"{MODEL_FILE} must have format {FORMAT!r}; got {desc.get('format') if isinstance(desc, dict) else desc!r:.80}")
    model = _build(desc.get("model"), "model")
    _training(model, desc["model"])
    try:
        with np.load(weights_file, allow_pickle=False) as z:
            state = {k: z[k] for k in z.files}
    except ValueError as exc:
        raise fail(func, f"{WEIGHTS_FILE} must be a plain .npz of numeric arrays: {exc}") from None
    try:
        model.load_state_dict(state)
    except TconvError as exc:
        raise fail(func, f"{WEIGHTS_FILE} does not match {MODEL_FILE}: {str(exc).split(': ', 1)[-1]}") from None
    return model
