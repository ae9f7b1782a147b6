"""Losses and optimizers (PyTorch's update rules), enough to train small models."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..errors import TconvError
from ..normalise import as_float, is_seq
from .module import Parameter

__all__ = ["MSELoss", "BCELoss", "SGD", "Adam"]


class _Loss:
    """``loss = criterion(prediction, target)`` returns a float; ``criterion.backward()`` its gradient."""

    def __call__(self, prediction: np.ndarray, target: np.ndarray) -> float:
        prediction, target = np.asarray(prediction), np.asarray(target)
        if prediction.shape != target.shape:
            raise TconvError(
                f"tconv.nn.{type(self).__name__}: prediction and target must have the same shape; "
                f"got {prediction.shape} and {target.shape}"
            )
        self._saved = (prediction, target)
        return float(self.value(prediction, target))

    def backward(self) -> np.ndarray:
        """d loss / d prediction, in the prediction's dtype."""
        prediction, target = self._saved
        return self.gradient(prediction, target).astype(prediction.dtype, copy=False)


class MSELoss(_Loss):
    """``mean((p - t)^2)``."""

    def value(self, p, t):
        return np.mean(np.square(p - t, dtype=np.float64))

    def gradient(self, p, t):
        return 2.0 * (p - t) / p.size


class BCELoss(_Loss):
    """``-mean(t log p + (1 - t) log(1 - p))`` with each log clamped at -100, as PyTorch does."""

    def value(self, p, t):
        p = p.astype(np.float64)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-p), -100.0)
        return -np.mean(t * log_p + (1 - t) * log_q)

    def gradient(self, p, t):
        return (p - t) / np.maximum(p * (1 - p), 1e-12) / p.size


class _Optimizer:
    def __init__(self, params: Iterable[Parameter], lr: float):
        func = f"nn.{type(self).__name__}"
        try:
            self.params = list(params)
        except TypeError:
            raise TconvError(
                f"tconv.{func}: params must be an iterable of Parameters (model.parameters()); got {params!r}"
            ) from None
        if not all(isinstance(p, Parameter) for p in self.params):
            raise TconvError(f"tconv.{func}: params must hold Parameters (model.parameters()); got {self.params[:3]!r}")
        if not self.params:
            raise TconvError(f"tconv.nn.{type(self).__name__}: params is empty")
        self._func = f"nn.{type(self).__name__}"
        self.lr = as_float(self._func, "lr", lr, positive=True)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad[...] = 0


class SGD(_Optimizer):
    """``v = momentum * v + (g + weight_decay * w)``; ``w -= lr * v`` (PyTorch's SGD without dampening)."""

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = as_float(self._func, "momentum", momentum, minimum=0.0)
        self.weight_decay = as_float(self._func, "weight_decay", weight_decay, minimum=0.0)
        self._velocity: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for i, p in enumerate(self.params):
            d = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                v = self._velocity[i]
                d = self._velocity[i] = d.copy() if v is None else self.momentum * v + d
            p.data -= (self.lr * d).astype(p.data.dtype, copy=False)


class Adam(_Optimizer):
    """Adam (Kingma and Ba), PyTorch's form.

    Notes
    -----
    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``, with
    ``g += weight_decay * w`` first.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        if not is_seq(betas) or len(betas) != 2:
            raise TconvError(f"tconv.{self._func}: betas must be a pair (b1, b2); got {betas!r}")
        self.betas = tuple(as_float(self._func, "betas", b, minimum=0.0) for b in betas)
        if not all(b < 1 for b in self.betas):
            raise TconvError(f"tconv.{self._func}: betas must be in [0, 1); got {betas!r}")
        self.eps = as_float(self._func, "eps", eps, positive=True)
        self.weight_decay = as_float(self._func, "weight_decay", weight_decay, minimum=0.0)
        self._m = [np.zeros_like(p.data) for p in self.params]
        self._v = [np.zeros_like(p.data) for p in self.params]
        self._t = 0

    def step(self) -> None:
        self._t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self._m, self._v):
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat = m / (1 - b1**self._t)
            v_hat = v / (1 - b2**self._t)
            p.data -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.data.dtype, copy=False)
