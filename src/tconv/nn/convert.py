"""Build a :mod:`tconv.nn` model from a real PyTorch module or Keras model (weights converted).

The models are read by :mod:`tconv.compat.torch.models` and
:mod:`tconv.compat.keras.models` into framework-neutral records (kernels
already in tconv's layouts); this module builds the layers from the records.
Neither framework is imported: only users who already have a model in one of
them call these. The result is channels-first (PyTorch's layout) whatever the
source: feed Keras-converted models ``(N, C, H, W)``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..compat.keras import models as keras_models
from ..compat.records import LayerRecord
from ..compat.torch import models as torch_models
from ..errors import TconvError
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .layers import BatchNorm1d, BatchNorm2d, BatchNorm3d, Flatten, LeakyReLU, Linear, ReLU, Reshape, Sigmoid, Tanh
from .module import Module, Sequential
from .resize import Upsample

__all__ = ["from_torch", "from_keras"]

_CONV = {1: Conv1d, 2: Conv2d, 3: Conv3d}
_CONV_T = {1: ConvTranspose1d, 2: ConvTranspose2d, 3: ConvTranspose3d}
_BN = {1: BatchNorm1d, 2: BatchNorm2d, 3: BatchNorm3d}
_SIMPLE: dict[str, Callable[[], Module]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------


def _torch_leaf(record: LayerRecord) -> Module | None:
    """The tconv layer for one PyTorch leaf record (None: not a known leaf)."""
    c, kind = record.config, record.kind
    if kind == "conv":
        return _CONV[len(c["kernel_size"])](
            c["in_channels"], c["out_channels"], c["kernel_size"], c["stride"], c["padding"], c["dilation"],
            c["groups"], c["bias"], c["padding_mode"], dtype=c["dtype"],
        )
    if kind == "conv_transpose":
        return _CONV_T[len(c["kernel_size"])](
            c["in_channels"], c["out_channels"], c["kernel_size"], c["stride"], c["padding"], c["output_padding"],
            c["groups"], c["bias"], c["dilation"], c["padding_mode"], dtype=c["dtype"],
        )
    if kind == "batchnorm":
        if c["momentum"] is None:
            raise TconvError("tconv.nn.from_torch: BatchNorm with momentum=None (cumulative average) is not supported")
        return _BN[c["ndim"]](c["num_features"], c["eps"], c["momentum"], c["affine"], c["track_running_stats"],
                              dtype=c["dtype"])
    if kind == "linear":
        return Linear(c["in_features"], c["out_features"], c["bias"], dtype=c["dtype"])
    if kind == "activation":
        if c["function"] == "leaky_relu":
            return LeakyReLU(c["negative_slope"])
        return _SIMPLE[c["function"]]()
    if kind == "flatten":
        if c["start_dim"] != 1 or c["end_dim"] != -1:
            raise TconvError(
                f"tconv.nn.from_torch: only Flatten(start_dim=1, end_dim=-1) is supported; "
                f"got Flatten(start_dim={c['start_dim']}, end_dim={c['end_dim']})"
            )
        return Flatten()
    if kind == "reshape":
        if c["dim"] != 1:
            raise TconvError(
                f"tconv.nn.from_torch: only Unflatten(dim=1, ...) is supported; "
                f"got Unflatten(dim={c['dim']}, unflattened_size={c['shape']})"
            )
        return Reshape(c["shape"])
    if kind == "upsample":
        return Upsample(c["size"], c["scale_factor"], c["mode"], c["align_corners"], c["recompute_scale_factor"])
    return None


def from_torch(module: Any) -> Module:
    """The :mod:`tconv.nn` equivalent of a PyTorch module, with its weights, buffers and train/eval mode.

    Supported: ``Sequential``, ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``,
    ``BatchNorm1d/2d/3d``, ``Linear``, ``ReLU``, ``LeakyReLU``, ``Tanh``,
    ``Sigmoid``, ``Flatten``, ``Unflatten``, ``Upsample``; and any other module
    without parameters of its own whose ``forward`` (as ``torch.fx`` traces it)
    applies its submodules one after another, each once, in registration order
    (as the DCGAN generator's ``self.main``), kept under the same names, so
    ``model.state_dict()`` has PyTorch's keys. Anything else (a residual
    ``x + f(x)``, a branch, a module called twice, a known layer whose
    ``forward`` is overridden) is refused, naming the module: a chain would
    compute something else.

    Examples
    --------
    >>> import numpy as np, torch
    >>> model = from_torch(torch.nn.Sequential(torch.nn.ConvTranspose2d(4, 2, 4, 2, 1), torch.nn.Tanh()))
    >>> model(np.zeros((1, 4, 8, 8), np.float32)).shape
    (1, 2, 16, 16)
    """
    if not torch_models.is_model(module):
        raise TypeError(f"tconv.nn.from_torch: module must be a torch.nn.Module; got {type(module).__name__}")
    return _from_torch_record(torch_models.read(module))


def _leaf_names(record: LayerRecord, prefix: str) -> list[str]:
    """The dotted names, relative to ``prefix``, of the records below ``record`` that are not containers."""
    out = []
    for child in record.children:
        if child.children:
            out += _leaf_names(child, prefix)
        else:
            out.append(child.name[len(prefix):])
    return out


def _from_torch_record(record: LayerRecord) -> Module:
    if record.config.get("hooks"):
        where = f"module {record.name!r}" if record.name else "the model"
        raise TconvError(
            f"tconv.nn.from_torch: cannot represent {where} ({record.source_type}): it has "
            f"{record.config['hooks']} forward hook(s), which change its output"
        )
    converted = None if record.kind in ("container", "other") else _torch_leaf(record)
    if converted is None:
        where = f"module {record.name!r}" if record.name else "the model"
        if record.kind == "other":
            if not record.children:
                raise TconvError(f"tconv.nn.from_torch: {where} ({record.source_type}) is not a supported layer")
            if record.config["own_parameters"]:
                raise TconvError(
                    f"tconv.nn.from_torch: {where} ({record.source_type}) has parameters of its own, which only "
                    f"its forward knows how to use"
                )
            chain, prefix = record.config["chain"], f"{record.name}." if record.name else ""
            if chain is None or list(chain) != _leaf_names(record, prefix):
                why = record.config["not_chain"] or (
                    f"its forward applies {', '.join(map(repr, chain)) or 'nothing'}, not its submodules once each in order"
                )
                raise TconvError(
                    f"tconv.nn.from_torch: cannot represent {where} ({record.source_type}): {why}; only "
                    f"torch.nn.Sequential and modules whose forward applies their submodules in order convert"
                )
        converted = Sequential({child.name.rsplit(".", 1)[-1]: _from_torch_record(child) for child in record.children})
    else:
        converted.load_state_dict(dict(record.weights))
    converted.train(record.config["training"])
    return converted


# --------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------


def _channels_first_order(shape: tuple[int, ...]) -> np.ndarray:
    """``perm[r] = q``: channels-first flat index ``r`` reads Keras' channels-last flat index ``q``."""
    return np.arange(math.prod(shape)).reshape(shape).transpose((len(shape) - 1,) + tuple(range(len(shape) - 1))).ravel()


def _activation(name: str) -> Module | None:
    if name == "linear":
        return None
    if name not in _SIMPLE:
        raise TconvError(f"tconv.nn.from_keras: activation must be one of linear, {', '.join(_SIMPLE)}; got {name!r}")
    return _SIMPLE[name]()


def _keras_conv_layer(record: LayerRecord) -> Module:
    c = record.config
    if c["data_format"] != "channels_last":
        raise TconvError(f"tconv.nn.from_keras: {record.name}: only data_format='channels_last' is supported")
    weight = record.weights["weight"]
    nd = weight.ndim - 2
    if record.kind == "conv_transpose":
        if c["output_padding"] is not None:
            raise TconvError(f"tconv.nn.from_keras: {record.name}: output_padding is not supported")
        out = _CONV_T[nd](weight.shape[0], weight.shape[1], c["kernel_size"], c["stride"], c["padding"], 0, 1,
                          c["bias"], c["dilation"], dtype=weight.dtype)
    else:
        groups = c["groups"]
        padding = c["pads"] if c["padding"] == "same" else c["padding"]
        out = _CONV[nd](weight.shape[1] * groups, weight.shape[0], c["kernel_size"], c["stride"], padding,
                        c["dilation"], groups, c["bias"], dtype=weight.dtype)
    out.weight.data = weight
    if c["bias"]:
        out.bias.data = record.weights["bias"].astype(weight.dtype)
    return out


def _keras_bn(record: LayerRecord) -> Module:
    c, in_shape = record.config, record.config["in_shape"]
    if c["axis"] not in (-1, len(in_shape)):
        raise TconvError(
            f"tconv.nn.from_keras: {record.name}: BatchNormalization must normalise the last axis; got {c['axis']}"
        )
    n = c["num_features"]
    bn = _BN[len(in_shape) - 1 or 1](n, eps=c["eps"], momentum=c["momentum"], unbiased_running_var=False)
    values = {key: v.astype(np.float32) for key, v in record.weights.items()}
    bn.weight.data = values.get("weight", np.ones(n, np.float32))
    bn.bias.data = values.get("bias", np.zeros(n, np.float32))
    bn.register_buffer("running_mean", values["running_mean"])
    bn.register_buffer("running_var", values["running_var"])
    return bn


def _permute_features(modules: list[Module], perm: np.ndarray, layer_name: str) -> None:
    """Reorder the outputs of the trailing Linear (and the per-feature layers after it) by ``perm``."""
    for module in reversed(modules):
        if isinstance(module, Linear):
            module.weight.data = module.weight.data[perm]
            if module.bias is not None:
                module.bias.data = module.bias.data[perm]
            return
        if isinstance(module, BatchNorm1d):
            module.weight.data, module.bias.data = module.weight.data[perm], module.bias.data[perm]
            module.register_buffer("running_mean", module.running_mean[perm])
            module.register_buffer("running_var", module.running_var[perm])
        elif not isinstance(module, (ReLU, LeakyReLU, Tanh, Sigmoid)):
            break
    raise TconvError(
        f"tconv.nn.from_keras: {layer_name}: a reshape to a channels-last image must follow a Dense layer "
        f"(through per-feature layers only) so that its outputs can be reordered to channels-first"
    )


def _check_chain(records: list[LayerRecord], model: Any) -> None:
    """Refuse a model whose layers are not one chain, each applied once to the previous one's output."""
    if records and records[0].config["graph"] == "subclassed":
        raise TconvError(
            f"tconv.nn.from_keras: cannot represent model {model.name!r} ({type(model).__name__}): a subclassed "
            f"keras.Model's call() is not a graph of layers; use a Sequential or a functional model"
        )
    names = {record.name for record in records}

    def refuse(record: LayerRecord, why: str) -> TconvError:
        return TconvError(
            f"tconv.nn.from_keras: cannot represent layer {record.name!r} ({record.source_type}): {why}; only "
            f"models whose layers form one chain convert"
        )

    # the most telling reason first: a merge or a shared layer is named, not the branch that feeds it
    for record in records:
        calls = record.config["calls"]
        if record.source_type != "InputLayer" and len(calls) != 1:
            raise refuse(record, f"the model applies it {len(calls)} times (a shared layer)")
        if record.source_type != "InputLayer" and len(calls[0]) != 1:
            raise refuse(record, f"it takes the outputs of {', '.join(map(repr, calls[0])) or 'no layer'} (a merge)")
    for i, record in enumerate(records):
        parent = record.config["calls"][0][0] if record.source_type != "InputLayer" else None
        if parent is None and i:
            raise refuse(record, "a second model input")
        # a Sequential's model.layers leaves its InputLayer out: the first layer reads the model input
        if parent is not None and ((parent != records[i - 1].name) if i else (parent in names)):
            raise refuse(record, f"it takes the output of {parent!r}, not of the layer listed before it (a branch)")
    for record in records[:-1]:
        used = record.config["consumers"] + record.config["is_output"]
        if used != 1:
            raise refuse(record, f"its output is used {used} times (a branch, or a model output before the last layer)")


def from_keras(model: Any) -> Sequential:
    """The channels-first :mod:`tconv.nn` equivalent of a Keras model whose layers form a chain.

    A ``Sequential``, or a functional model in which every layer is applied once,
    to the output of the layer before it; merges (``Add``, ``Concatenate``),
    branches, shared layers, several inputs or outputs and subclassed models are
    refused, naming the layer.

    Supported layers: ``InputLayer``, ``Dense``, ``Reshape``, ``Flatten``,
    ``Conv1D/2D/3D`` and ``Conv1DTranspose/2DTranspose/3DTranspose``
    (channels-last, ``'same'`` or ``'valid'``), ``BatchNormalization`` (last
    axis), ``UpSampling1D/2D/3D`` (nearest, bilinear), ``LeakyReLU``, ``ReLU``,
    ``Activation`` (relu, tanh, sigmoid), and the
    ``activation=`` argument of Dense and conv layers. The model is returned in
    eval mode (inference); ``Dropout`` layers are left out.

    Notes
    -----
    - Layouts: Keras kernels ``(*k, C_in, C_out)`` / transposed ``(*k, C_out, C_in)``
      become ``(C_out, C_in, *k)`` / ``(C_in, C_out, *k)``; Dense ``(in, out)`` becomes ``(out, in)``.
    - ``Dense -> Reshape((h, w, c))`` is channels-last: the Dense outputs (and any
      BatchNorm between) are permuted so that ``Reshape(c, h, w)`` reads them in
      channels-first order; ``Flatten -> Dense`` permutes the Dense inputs likewise.
    - ``BatchNormalization(momentum=m, epsilon=e)`` updates
      ``moving = m * moving + (1 - m) * batch`` with the biased batch variance:
      that is PyTorch's ``momentum = 1 - m`` (default 0.99 -> 0.01) and ``eps = e``
      (Keras' default 1e-3, not PyTorch's 1e-5).
    """
    if not keras_models.is_model(model):
        raise TypeError(f"tconv.nn.from_keras: model must be a keras.Model; got {type(model).__name__}")
    if not model.built:
        raise TconvError(
            f"tconv.nn.from_keras: model {model.name!r} is not built: give it a keras.Input or call it once"
        )
    everything = keras_models.read(model)
    _check_chain(everything, model)
    records = [r for r in everything if r.source_type not in ("InputLayer", "Dropout")]
    modules: list[Module] = []
    pending_input_perm: np.ndarray | None = None
    for record in records:
        kind, c = record.kind, record.config
        in_shape, out_shape = c["in_shape"], c["out_shape"]
        if kind == "linear":
            if len(in_shape) != 1:
                raise TconvError(f"tconv.nn.from_keras: {record.name}: Dense must act on flat features; got {in_shape}")
            weight = record.weights["weight"]
            lin = Linear(c["in_features"], c["out_features"], c["bias"], dtype=weight.dtype)
            lin.weight.data = weight
            if pending_input_perm is not None:
                lin.weight.data = np.ascontiguousarray(lin.weight.data[:, pending_input_perm])
                pending_input_perm = None
            if c["bias"]:
                lin.bias.data = record.weights["bias"].astype(weight.dtype)
            modules.append(lin)
            act = _activation(c["activation"])
        elif kind in ("conv", "conv_transpose"):
            modules.append(_keras_conv_layer(record))
            act = _activation(c["activation"])
        elif kind == "batchnorm":
            modules.append(_keras_bn(record))
            act = None
        elif kind == "activation" and record.source_type == "LeakyReLU":
            modules.append(LeakyReLU(c["negative_slope"]))
            act = None
        elif kind == "activation" and record.source_type == "ReLU":
            if c["max_value"] is not None or c["threshold"] or c["negative_slope"]:
                raise TconvError(f"tconv.nn.from_keras: {record.name}: only the plain ReLU is supported")
            modules.append(ReLU())
            act = None
        elif kind == "activation":
            act = _activation(c["function"])
        elif kind == "reshape":
            if len(out_shape) > 1:
                perm = _channels_first_order(out_shape)
                if len(in_shape) == 1 and not np.array_equal(perm, np.arange(perm.size)):
                    _permute_features(modules, perm, record.name)
                elif len(in_shape) != 1:
                    raise TconvError(f"tconv.nn.from_keras: {record.name}: only Reshape of flat features is supported")
                modules.append(Reshape((out_shape[-1],) + out_shape[:-1]))
            else:
                if len(in_shape) > 1:
                    pending_input_perm = _channels_first_order(in_shape)
                modules.append(Reshape(out_shape))
            continue
        elif kind == "upsample":
            factors, interpolation = c["scale_factor"], c["mode"]
            linear = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(factors)]
            if interpolation not in ("nearest", "bilinear"):
                raise TconvError(
                    f"tconv.nn.from_keras: {record.name}: interpolation must be nearest or bilinear; got {interpolation!r}"
                )
            mode = "nearest" if interpolation == "nearest" else linear
            modules.append(Upsample(scale_factor=factors, mode=mode, align_corners=None if mode == "nearest" else False))
            continue
        elif kind == "flatten":
            if len(in_shape) > 1:
                pending_input_perm = _channels_first_order(in_shape)
            modules.append(Flatten())
            continue
        else:
            raise TconvError(f"tconv.nn.from_keras: layer {record.name} of type {record.source_type} is not supported")
        if act is not None:
            modules.append(act)
    return Sequential(*modules).eval()
