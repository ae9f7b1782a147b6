"""Activations, BatchNorm, Linear and shape layers: what small generators and decoders need."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import init
from ..errors import TconvError
from ..memory import check
from ..normalise import as_float, as_int, as_rng, float_dtype
from .module import Module, Parameter

__all__ = [
    "ReLU",
    "LeakyReLU",
    "Tanh",
    "Sigmoid",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Linear",
    "Reshape",
    "Flatten",
]


class _Elementwise(Module):
    """An activation: ``forward`` keeps what ``derivative`` needs."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        y = self.apply(x)
        self._saved = (x, y)
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x, y = self._saved
        return grad * self.derivative(x, y)

    def apply(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def apply_inplace(self, x: np.ndarray) -> np.ndarray:
        """``apply(x)`` written into ``x`` (inference only: :class:`tconv.nn.Fused` calls it on arrays it owns)."""
        x[...] = self.apply(x)
        return x

    def derivative(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class ReLU(_Elementwise):
    """``max(x, 0)``."""

    def apply(self, x):
        return np.maximum(x, 0)

    def apply_inplace(self, x):
        return np.maximum(x, 0, out=x)

    def derivative(self, x, y):
        return (x > 0).astype(x.dtype)


class LeakyReLU(_Elementwise):
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise (PyTorch's default slope 0.01; Keras' is 0.3)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = as_float(f"nn.{type(self).__name__}", "negative_slope", negative_slope)

    def apply(self, x):
        slope = np.asarray(self.negative_slope, dtype=x.dtype)
        if 0 < self.negative_slope <= 1:  # max(x, a x): the same values, without np.where's slow masked pick
            return np.maximum(x, x * slope)
        return np.where(x >= 0, x, x * slope)

    def apply_inplace(self, x):
        if 0 < self.negative_slope <= 1:
            return np.maximum(x, x * np.asarray(self.negative_slope, dtype=x.dtype), out=x)
        return super().apply_inplace(x)

    def derivative(self, x, y):
        return np.where(x >= 0, 1.0, self.negative_slope).astype(x.dtype)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(_Elementwise):
    """``tanh(x)``."""

    def apply(self, x):
        return np.tanh(x)

    def apply_inplace(self, x):
        return np.tanh(x, out=x)

    def derivative(self, x, y):
        return 1 - y * y


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``, computed without overflow."""

    def apply(self, x):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def derivative(self, x, y):
        return y * (1 - y)


class _BatchNorm(Module):
    """Batch normalization over the channel axis 1 (PyTorch's semantics and state-dict names).

    Training uses the batch's mean and biased variance and updates
    ``running = (1 - momentum) * running + momentum * batch`` (the running variance
    takes the unbiased batch variance, as in PyTorch, unless
    ``unbiased_running_var=False``, as in Keras). Evaluation uses the running
    statistics. Keras' ``BatchNormalization(momentum=m, epsilon=1e-3)`` is
    ``momentum = 1 - m``, ``eps = 1e-3`` here.
    """

    spatial_dims: tuple[int, ...]

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        unbiased_running_var: bool = True,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        func = f"nn.{type(self).__name__}"
        self.num_features = as_int(func, "num_features", num_features, 1)
        self.eps = as_float(func, "eps", eps, positive=True)
        self.momentum = as_float(func, "momentum", momentum, minimum=0.0)
        dtype = float_dtype(func, dtype)
        check(func, 4 * dtype.itemsize * self.num_features, f"{self.num_features} features' parameters and statistics")
        self.unbiased_running_var = unbiased_running_var
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def _axes(self, x: np.ndarray) -> tuple[int, ...]:
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise TconvError(
                f"tconv.nn.{type(self).__name__}: input must have {' or '.join(map(str, self.ranks))} dims "
                f"with {self.num_features} channels on axis 1; got shape {x.shape}"
            )
        return (0,) + tuple(range(2, x.ndim))

    def _per_channel(self, v: np.ndarray, ndim: int) -> np.ndarray:
        return v.reshape((-1,) + (1,) * (ndim - 2))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        axes = self._axes(x)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            if self.training and self.track_running_stats:
                count = x.size // self.num_features
                batch_var = var * count / max(count - 1, 1) if self.unbiased_running_var else var
                m = self.momentum
                self.register_buffer("running_mean", ((1 - m) * self.running_mean + m * mean).astype(self.running_mean.dtype))
                self.register_buffer("running_var", ((1 - m) * self.running_var + m * batch_var).astype(self.running_var.dtype))
                self.register_buffer("num_batches_tracked", self.num_batches_tracked + 1)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + np.asarray(self.eps, dtype=np.result_type(var, np.float32)))
        x_hat = (x - self._per_channel(mean, x.ndim)) * self._per_channel(inv_std, x.ndim)
        self._saved = (x_hat, inv_std, axes, use_batch)
        if self.weight is None:
            return x_hat.astype(x.dtype, copy=False)
        y = x_hat * self._per_channel(self.weight.data, x.ndim) + self._per_channel(self.bias.data, x.ndim)
        return y.astype(np.result_type(x, self.weight.data), copy=False)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x_hat, inv_std, axes, use_batch = self._saved
        grad = np.asarray(grad)
        scale = inv_std if self.weight is None else inv_std * self.weight.data
        if self.weight is not None:
            self.weight.grad += (grad * x_hat).sum(axis=axes).astype(self.weight.grad.dtype)
            self.bias.grad += grad.sum(axis=axes).astype(self.bias.grad.dtype)
        if not use_batch:
            return grad * self._per_channel(scale, grad.ndim)
        # batch statistics depend on x: d x_hat / d x removes the mean and the x_hat-direction
        mean_g = grad.mean(axis=axes, keepdims=True)
        mean_gx = (grad * x_hat).mean(axis=axes, keepdims=True)
        return self._per_channel(scale, grad.ndim) * (grad - mean_g - x_hat * mean_gx)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """BatchNorm over ``(N, C)`` or ``(N, C, L)``."""

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """BatchNorm over ``(N, C, H, W)``."""

    ranks = (4,)


class BatchNorm3d(_BatchNorm):
    """BatchNorm over ``(N, C, D, H, W)``."""

    ranks = (5,)


class Linear(Module):
    """``y = x @ weight.T + bias`` over the last axis; weight ``(out_features, in_features)``, PyTorch's init."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: int | np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        func = f"nn.{type(self).__name__}"
        rng, dtype = as_rng(func, rng), float_dtype(func, dtype)
        shape = (as_int(func, "out_features", out_features, 1), as_int(func, "in_features", in_features, 1))
        check(func, 3 * 8 * math.prod(shape), f"a weight of shape {shape} and its gradient")
        self.weight = Parameter(init.kaiming_uniform(shape, rng=rng, dtype=dtype))
        self.bias = Parameter(init.default_bias(shape, shape[0], rng=rng, dtype=dtype)) if bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.shape[-1:] != self.weight.data.shape[1:]:
            raise TconvError(
                f"tconv.nn.Linear: input's last axis must have {self.weight.data.shape[1]} features; got shape {x.shape}"
            )
        self._x = x
        y = x @ self.weight.data.T
        return y if self.bias is None else y + self.bias.data

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x = self._x
        g2 = grad.reshape(-1, grad.shape[-1])
        self.weight.grad += (g2.T @ x.reshape(-1, x.shape[-1])).astype(self.weight.grad.dtype)
        if self.bias is not None:
            self.bias.grad += g2.sum(axis=0).astype(self.bias.grad.dtype)
        return grad @ self.weight.data

    def extra_repr(self) -> str:
        return f"in_features={self.weight.data.shape[1]}, out_features={self.weight.data.shape[0]}"


class Reshape(Module):
    """Reshape every sample to ``shape`` (the batch axis stays), e.g. ``Reshape(256, 7, 7)``."""

    def __init__(self, *shape: int):
        super().__init__()
        if len(shape) == 1 and isinstance(shape[0], Sequence):
            shape = tuple(shape[0])
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if math.prod(x.shape[1:]) != math.prod(self.shape):
            raise TconvError(
                f"tconv.nn.Reshape: each sample must have {math.prod(self.shape)} values to become {self.shape}; "
                f"got shape {x.shape}"
            )
        self._in_shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.reshape(self._in_shape)

    def extra_repr(self) -> str:
        return ", ".join(map(str, self.shape))


class Flatten(Reshape):
    """Flatten every sample to one axis (channels-first order, as PyTorch's ``nn.Flatten``)."""

    def __init__(self) -> None:
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.shape = (math.prod(np.shape(x)[1:]),)
        return super().forward(x)
