"""Parameters, the module base class and Sequential: the small bookkeeping layer of :mod:`tconv.nn`.

A module's ``forward`` keeps what its ``backward`` needs (the last input);
``backward(grad)`` returns the gradient with respect to that input and adds
the parameter gradients into each ``Parameter.grad``, as PyTorch accumulates
them (an optimizer's ``zero_grad`` clears them).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from ..errors import TconvError

__all__ = ["Parameter", "Module", "Sequential"]


class Parameter:
    """A trainable array ``data`` with its gradient ``grad`` (same shape and dtype)."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = np.array(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def _recording(forward: Callable) -> Callable:
    @functools.wraps(forward)
    def run(self: "Module", *args: Any, **kwargs: Any) -> np.ndarray:
        y = forward(self, *args, **kwargs)
        object.__setattr__(self, "_output_shape", np.shape(y))
        return y

    return run


def _checked(backward: Callable) -> Callable:
    @functools.wraps(backward)
    def run(self: "Module", grad: np.ndarray) -> np.ndarray:
        shape = self.__dict__.get("_output_shape")
        name = f"tconv.nn.{type(self).__name__}.backward"
        if shape is None:
            raise TconvError(f"{name}: call forward first (backward needs the input of the last forward)")
        grad = np.asarray(grad)
        if grad.shape != shape:
            raise TconvError(
                f"{name}: grad must have the shape of the last forward's output {shape}; got shape {grad.shape}"
            )
        return backward(self, grad)

    return run


class Module:
    """Base class: parameters, buffers and child modules registered by attribute assignment.

    Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers
    it under that name (PyTorch's naming, so state dicts carry PyTorch's keys);
    :meth:`register_buffer` registers non-trainable state such as BatchNorm's
    running statistics.

    Every subclass's ``forward`` records its output's shape and its ``backward``
    refuses a gradient of another shape, or a call before any forward (the
    wrapping is done once per class, in ``__init_subclass__``).
    """

    training: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _recording(cls.__dict__["forward"])
        if "backward" in cls.__dict__:
            cls.backward = _checked(cls.__dict__["backward"])

    def __init__(self) -> None:
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_buffers", [])
        object.__setattr__(self, "_children", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self._params[name] = value
        elif isinstance(value, Module):
            self._children[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Keep ``value`` as state that is saved and loaded but not trained."""
        if name not in self._buffers:
            self._buffers.append(name)
        object.__setattr__(self, name, value)

    # --- computation -----------------------------------------------------

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return self.forward(*args, **kwargs)

    # --- traversal -------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from self._children.items()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._params.items():
            yield prefix + name, p
        for name, child in self._children.items():
            yield from child.named_parameters(f"{prefix}{name}.")

    def parameters(self) -> Iterator[Parameter]:
        """Every trainable :class:`Parameter`, children included."""
        for _, p in self.named_parameters():
            yield p

    def train(self, mode: bool = True) -> "Module":
        object.__setattr__(self, "training", mode)
        for child in self._children.values():
            child.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad[...] = 0

    # --- state dicts -----------------------------------------------------

    def state_dict(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Parameters and buffers by PyTorch-style dotted name (copies)."""
        out = {prefix + name: p.data.copy() for name, p in self._params.items()}
        out.update({prefix + name: np.array(getattr(self, name)) for name in self._buffers})
        for name, child in self._children.items():
            out.update(child.state_dict(f"{prefix}{name}."))
        return out

    def _slots(self, prefix: str = "") -> Iterator[tuple[str, "Module", str]]:
        for name in list(self._params) + self._buffers:
            yield prefix + name, self, name
        for name, child in self._children.items():
            yield from child._slots(f"{prefix}{name}.")

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> "Module":
        """Copy arrays (NumPy, or anything ``np.asarray`` accepts, e.g. CPU torch tensors) into the model.

        Keys are PyTorch's names (``main.0.weight``, ``1.running_mean``, ...);
        shapes must match and values keep the model's dtype. With ``strict``, missing
        and unexpected keys are errors (PyTorch's ``num_batches_tracked`` is accepted).
        """
        slots = {key: (owner, attr) for key, owner, attr in self._slots()}
        given = set(state_dict)
        if strict:
            missing = sorted(set(slots) - given)
            unexpected = sorted(given - set(slots))
            if missing or unexpected:
                raise TconvError(
                    f"tconv.nn.Module.load_state_dict: the state dict must name every parameter and buffer "
                    f"of the model; missing {missing}, unexpected {unexpected}"
                )
        for key in given & set(slots):
            owner, attr = slots[key]
            value = np.asarray(state_dict[key])
            current = owner._params[attr].data if attr in owner._params else np.asarray(getattr(owner, attr))
            if value.shape != current.shape:
                raise TconvError(
                    f"tconv.nn.Module.load_state_dict: {key} must have shape {current.shape}; got {value.shape}"
                )
            if attr in owner._params:
                owner._params[attr].data = value.astype(current.dtype, copy=True)
                owner._params[attr].grad = np.zeros_like(owner._params[attr].data)
            else:
                owner.register_buffer(attr, value.astype(current.dtype, copy=True))
        return self

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._children:
            return head + ")"
        body = "".join(
            f"\n  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._children.items()
        )
        return head + body + "\n)"


class Sequential(Module):
    """Modules applied in order; ``backward`` runs them in reverse.

    Children are named ``"0"``, ``"1"``, ... (PyTorch's ``nn.Sequential`` names),
    or by the keys of a single mapping argument.

    Examples
    --------
    >>> import numpy as np
    >>> from tconv import nn
    >>> model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.ReLU())
    >>> model(np.ones((4, 3), np.float32)).shape
    (4, 2)
    >>> sorted(model.state_dict())
    ['0.bias', '0.weight']
    """

    def __init__(self, *modules: Module | Mapping[str, Module]):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            named = dict(modules[0])
        else:
            named = {str(i): m for i, m in enumerate(modules)}
        for name, module in named.items():
            if not isinstance(module, Module):
                raise TypeError(f"tconv.nn.Sequential: every entry must be a tconv.nn.Module; got {module!r}")
            setattr(self, name, module)

    def __len__(self) -> int:
        return len(self._children)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._children.values())

    def __getitem__(self, index: int | str) -> Module:
        if isinstance(index, str):
            return self._children[index]
        return list(self._children.values())[index]

    def forward(self, x: np.ndarray) -> np.ndarray:
        for module in self._children.values():
            x = module(x)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        for module in reversed(list(self._children.values())):
            grad = module.backward(grad)
        return grad
