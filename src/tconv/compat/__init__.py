"""Every framework's transposed-convolution convention, exactly, on NumPy arrays.

One package per framework, each with that framework's own names, argument
order, defaults and layouts:

- :mod:`tconv.compat.torch`: ``conv_transpose1d/2d/3d`` (``torch.nn.functional``)
- :mod:`tconv.compat.tensorflow`: ``conv1d/2d/3d_transpose`` and ``conv_transpose`` (``tf.nn``)
- :mod:`tconv.compat.keras`: ``conv_transpose`` (``keras.ops``)
- :mod:`tconv.compat.jax`: ``conv_transpose`` (``jax.lax``)
- :mod:`tconv.compat.onnx`: ``conv_transpose`` (the ONNX ``ConvTranspose`` operator)
- :mod:`tconv.compat.paddle`: ``conv1d/2d/3d_transpose`` (``paddle.nn.functional``)
- :mod:`tconv.compat.mlx`: ``conv_transpose1d/2d/3d`` (``mlx.core``)
- :mod:`tconv.compat.openvino`: ``(group_)convolution_backprop_data`` (OpenVINO opset1)
- :mod:`tconv.compat.litert`: ``transpose_conv`` (LiteRT's ``TRANSPOSE_CONV`` op)
- :mod:`tconv.compat.webnn`: ``conv_transpose2d`` (W3C WebNN's ``MLGraphBuilder.convTranspose2d``)

and :mod:`tconv.compat.layouts` for moving weights and data between their layouts.

Each package holds all of its framework's knowledge. Its ``__init__`` exposes
a pure ``geometry(in_size, kernel_size, ...)`` that turns the framework's
geometry arguments into one :class:`tconv.geometry.Geometry` (parsed with
:mod:`tconv.normalise`); its array entry points parse into that geometry,
permute layouts, call :func:`tconv.ops.run_geometry` and permute back. Its
``convert`` module holds the converter hooks (:func:`tconv.convert` runs the
same parse in reverse), one interface for the five frameworks:
:class:`tconv.compat.porting.Framework`.

Shared below the packages, framework-independent: :mod:`tconv.compat.porting`
(the converter's records and search primitives); the windows several
conventions share are :func:`tconv.geometry.string_axis` and
:func:`tconv.geometry.zero_insertion_axis`.

The modules are imported on demand (``tconv.compat.torch``, or ``from tconv.compat import torch as tt``);
none of them imports the framework it mirrors.
"""

from importlib import import_module

#: The framework modules, loaded on first use as attributes (``tconv.compat.torch``).
FRAMEWORK_MODULES = ("torch", "tensorflow", "keras", "jax", "onnx", "paddle", "mlx", "openvino", "litert", "webnn")
_SUBMODULES = frozenset(FRAMEWORK_MODULES + ("layouts",))


def __getattr__(name: str):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
