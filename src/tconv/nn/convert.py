"""Build a :mod:`tconv.nn` model from a real PyTorch module or Keras model (weights converted).

torch and keras are imported only inside these functions: only users who
already have a model in one of them call them. The result is channels-first
(PyTorch's layout) whatever the source: feed Keras-converted models ``(N, C, H, W)``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..errors import TconvError
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .layers import BatchNorm1d, BatchNorm2d, BatchNorm3d, Flatten, LeakyReLU, Linear, ReLU, Reshape, Sigmoid, Tanh
from .module import Module, Sequential
from .resize import Upsample

__all__ = ["from_torch", "from_keras"]

_CONV = {1: Conv1d, 2: Conv2d, 3: Conv3d}
_CONV_T = {1: ConvTranspose1d, 2: ConvTranspose2d, 3: ConvTranspose3d}
_BN = {2: BatchNorm1d, 3: BatchNorm1d, 4: BatchNorm2d, 5: BatchNorm3d}


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------


def _torch_leaf(module: Any, tnn: Any) -> Module | None:
    """The tconv layer for one PyTorch leaf module (None: not a known leaf)."""
    name = type(module).__name__
    dtype = None
    for p in module.parameters(recurse=False):
        dtype = p.detach().numpy().dtype
        break
    dtype = dtype or np.float32
    if isinstance(module, (tnn.Conv1d, tnn.Conv2d, tnn.Conv3d)):
        nd = int(name[-2])
        return _CONV[nd](
            module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
            module.dilation, module.groups, module.bias is not None, module.padding_mode, dtype=dtype,
        )
    if isinstance(module, (tnn.ConvTranspose1d, tnn.ConvTranspose2d, tnn.ConvTranspose3d)):
        nd = int(name[-2])
        return _CONV_T[nd](
            module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
            module.output_padding, module.groups, module.bias is not None, module.dilation, module.padding_mode,
            dtype=dtype,
        )
    if isinstance(module, (tnn.BatchNorm1d, tnn.BatchNorm2d, tnn.BatchNorm3d)):
        if module.momentum is None:
            raise TconvError("tconv.nn.from_torch: BatchNorm with momentum=None (cumulative average) is not supported")
        cls = {"BatchNorm1d": BatchNorm1d, "BatchNorm2d": BatchNorm2d, "BatchNorm3d": BatchNorm3d}[name]
        return cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                   dtype=dtype)
    if isinstance(module, tnn.Linear):
        return Linear(module.in_features, module.out_features, module.bias is not None, dtype=dtype)
    if isinstance(module, tnn.LeakyReLU):
        return LeakyReLU(module.negative_slope)
    simple: dict[type, Callable[[], Module]] = {tnn.ReLU: ReLU, tnn.Tanh: Tanh, tnn.Sigmoid: Sigmoid}
    if type(module) in simple:
        return simple[type(module)]()
    if isinstance(module, tnn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise TconvError(f"tconv.nn.from_torch: only Flatten(start_dim=1, end_dim=-1) is supported; got {module}")
        return Flatten()
    if isinstance(module, tnn.Unflatten):
        if module.dim != 1:
            raise TconvError(f"tconv.nn.from_torch: only Unflatten(dim=1, ...) is supported; got {module}")
        return Reshape(tuple(module.unflattened_size))
    if isinstance(module, tnn.Upsample):
        return Upsample(module.size, module.scale_factor, module.mode, module.align_corners,
                        module.recompute_scale_factor)
    return None


def from_torch(module: Any) -> Module:
    """The :mod:`tconv.nn` equivalent of a PyTorch module, with its weights, buffers and train/eval mode.

    Supported: ``Sequential``, ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``,
    ``BatchNorm1d/2d/3d``, ``Linear``, ``ReLU``, ``LeakyReLU``, ``Tanh``,
    ``Sigmoid``, ``Flatten``, ``Unflatten``, ``Upsample``; and any other module
    without parameters of its own whose ``forward`` applies its children in
    registration order (as the DCGAN generator's ``self.main``), kept under the
    same names, so ``model.state_dict()`` has PyTorch's keys.

    Examples
    --------
    >>> import numpy as np, torch
    >>> model = from_torch(torch.nn.Sequential(torch.nn.ConvTranspose2d(4, 2, 4, 2, 1), torch.nn.Tanh()))
    >>> model(np.zeros((1, 4, 8, 8), np.float32)).shape
    (1, 2, 16, 16)
    """
    import torch  # noqa: F401  (the caller has it; imported here only)

    tnn = torch.nn
    converted = None if isinstance(module, tnn.Sequential) else _torch_leaf(module, tnn)
    if converted is None:
        children = dict(module.named_children())
        own_parameters = any(True for _ in module.parameters(recurse=False))
        if not isinstance(module, tnn.Sequential) and (not children or own_parameters):
            raise TconvError(
                f"tconv.nn.from_torch: cannot convert {type(module).__name__}: not a supported layer, and not "
                f"a container of children applied in order"
            )
        converted = Sequential({name: from_torch(child) for name, child in children.items()})
    else:
        converted.load_state_dict({k: v.detach().cpu().numpy() for k, v in module.state_dict().items()})
    converted.train(module.training)
    return converted


# --------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------


def _channels_first_order(shape: tuple[int, ...]) -> np.ndarray:
    """``perm[r] = q``: channels-first flat index ``r`` reads Keras' channels-last flat index ``q``."""
    return np.arange(math.prod(shape)).reshape(shape).transpose((len(shape) - 1,) + tuple(range(len(shape) - 1))).ravel()


def _activation(name: str) -> Module | None:
    table: dict[str, Callable[[], Module]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
    if name == "linear":
        return None
    if name not in table:
        raise TconvError(f"tconv.nn.from_keras: activation must be one of linear, {', '.join(table)}; got {name!r}")
    return table[name]()


def _keras_conv_layer(layer: Any, in_shape: tuple[int, ...], transposed: bool) -> Module:
    cfg = layer.get_config()
    nd = len(in_shape) - 1
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise TconvError(f"tconv.nn.from_keras: {layer.name}: only data_format='channels_last' is supported")
    kernel = _numpy(layer.kernel)
    spatial_axes = tuple(range(nd))
    # Keras kernels are (*k, C_in/g, C_out) for Conv and (*k, C_out, C_in) for ConvTranspose; tconv/PyTorch
    # put the two channel axes first in the same order as its own layouts: (C_out, C_in/g, *k), (C_in, C_out, *k)
    weight = np.transpose(kernel, (nd + 1, nd) + spatial_axes)
    k, s, d = cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"]
    padding = cfg["padding"]
    if transposed:
        if cfg.get("output_padding") is not None:
            raise TconvError(f"tconv.nn.from_keras: {layer.name}: output_padding is not supported")
        out = _CONV_T[nd](weight.shape[0], weight.shape[1], k, s, padding, 0, 1, cfg["use_bias"], d, dtype=weight.dtype)
    else:
        groups = cfg.get("groups", 1)
        if padding == "same":
            # TensorFlow's SAME: output ceil(n / s), the odd padding element at the end
            pairs = []
            for n, ki, si, di in zip(in_shape[:-1], _tuple(k, nd), _tuple(s, nd), _tuple(d, nd)):
                total = max((math.ceil(n / si) - 1) * si + di * (ki - 1) + 1 - n, 0)
                pairs.append((total // 2, total - total // 2))
            padding = tuple(pairs)
        out = _CONV[nd](weight.shape[1] * groups, weight.shape[0], k, s, padding, d, groups, cfg["use_bias"],
                        dtype=weight.dtype)
    out.weight.data = np.ascontiguousarray(weight)
    if cfg["use_bias"]:
        out.bias.data = _numpy(layer.bias).astype(weight.dtype)
    return out


def _numpy(variable: Any) -> np.ndarray:
    """A Keras variable's value as a NumPy array (whatever the backend)."""
    return np.array(variable.value)


def _tuple(v: Any, nd: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * nd


def _keras_bn(layer: Any, in_shape: tuple[int, ...]) -> Module:
    cfg = layer.get_config()
    axis = cfg["axis"]
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, len(in_shape)):
        raise TconvError(f"tconv.nn.from_keras: {layer.name}: BatchNormalization must normalise the last axis; got {axis}")
    c = in_shape[-1]
    bn = _BN[len(in_shape) + 1](c, eps=cfg["epsilon"], momentum=1.0 - cfg["momentum"], unbiased_running_var=False)
    values = {w.path.split("/")[-1]: _numpy(w).astype(np.float32) for w in layer.weights}
    bn.weight.data = values.get("gamma", np.ones(c, np.float32))
    bn.bias.data = values.get("beta", np.zeros(c, np.float32))
    bn.register_buffer("running_mean", values["moving_mean"])
    bn.register_buffer("running_var", values["moving_variance"])
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


def from_keras(model: Any) -> Sequential:
    """The channels-first :mod:`tconv.nn` equivalent of a Keras model whose layers form a chain.

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
    layers = [layer for layer in model.layers if type(layer).__name__ not in ("InputLayer", "Dropout")]
    modules: list[Module] = []
    pending_input_perm: np.ndarray | None = None
    for layer in layers:
        kind = type(layer).__name__
        in_shape = tuple(int(v) for v in layer.input.shape[1:])
        out_shape = tuple(int(v) for v in layer.output.shape[1:])
        cfg = layer.get_config()
        if kind == "Dense":
            if len(in_shape) != 1:
                raise TconvError(f"tconv.nn.from_keras: {layer.name}: Dense must act on flat features; got {in_shape}")
            kernel = _numpy(layer.kernel)
            lin = Linear(kernel.shape[0], kernel.shape[1], cfg["use_bias"], dtype=kernel.dtype)
            lin.weight.data = np.ascontiguousarray(kernel.T)
            if pending_input_perm is not None:
                lin.weight.data = np.ascontiguousarray(lin.weight.data[:, pending_input_perm])
                pending_input_perm = None
            if cfg["use_bias"]:
                lin.bias.data = _numpy(layer.bias).astype(kernel.dtype)
            modules.append(lin)
            act = _activation(cfg["activation"])
        elif kind in ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
            modules.append(_keras_conv_layer(layer, in_shape, kind.endswith("Transpose")))
            act = _activation(cfg["activation"])
        elif kind == "BatchNormalization":
            modules.append(_keras_bn(layer, in_shape))
            act = None
        elif kind == "LeakyReLU":
            modules.append(LeakyReLU(cfg.get("negative_slope", cfg.get("alpha", 0.3))))
            act = None
        elif kind == "ReLU":
            if cfg.get("max_value") is not None or cfg.get("threshold", 0) or cfg.get("negative_slope", 0):
                raise TconvError(f"tconv.nn.from_keras: {layer.name}: only the plain ReLU is supported")
            modules.append(ReLU())
            act = None
        elif kind == "Activation":
            act = _activation(cfg["activation"])
        elif kind == "Reshape":
            if len(out_shape) > 1:
                perm = _channels_first_order(out_shape)
                if len(in_shape) == 1 and not np.array_equal(perm, np.arange(perm.size)):
                    _permute_features(modules, perm, layer.name)
                elif len(in_shape) != 1:
                    raise TconvError(f"tconv.nn.from_keras: {layer.name}: only Reshape of flat features is supported")
                modules.append(Reshape((out_shape[-1],) + out_shape[:-1]))
            else:
                if len(in_shape) > 1:
                    pending_input_perm = _channels_first_order(in_shape)
                modules.append(Reshape(out_shape))
            continue
        elif kind in ("UpSampling1D", "UpSampling2D", "UpSampling3D"):
            factors = _tuple(cfg.get("size", cfg.get("length")), len(in_shape) - 1)
            interpolation = cfg.get("interpolation", "nearest")
            linear = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(factors)]
            if interpolation not in ("nearest", "bilinear"):
                raise TconvError(f"tconv.nn.from_keras: {layer.name}: interpolation must be nearest or bilinear; got {interpolation!r}")
            mode = "nearest" if interpolation == "nearest" else linear
            modules.append(Upsample(scale_factor=factors, mode=mode, align_corners=None if mode == "nearest" else False))
            continue
        elif kind == "Flatten":
            if len(in_shape) > 1:
                pending_input_perm = _channels_first_order(in_shape)
            modules.append(Flatten())
            continue
        else:
            raise TconvError(f"tconv.nn.from_keras: layer {layer.name} of type {kind} is not supported")
        if act is not None:
            modules.append(act)
    return Sequential(*modules).eval()
