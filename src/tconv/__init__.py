"""tconv: exact N-d transposed convolution in NumPy, in every formulation, explained.

>>> import numpy as np, tconv
>>> tconv.conv_transpose(np.array([[[[1, 0], [2, 1]]]]), np.array([[[[1, 0, 1], [0, 1, 1], [1, 0, 0]]]]))[0, 0]
array([[1., 0., 1., 0.],
       [2., 2., 3., 1.],
       [1., 2., 3., 1.],
       [2., 1., 0., 0.]])

The operations and the shape arithmetic are imported with ``tconv``; the
subpackages (``tconv.nn``, ``tconv.compat``, ``tconv.checkerboard``,
``tconv.viz``, ``tconv.init``, ``tconv.inspect``, ...) load on first use, so
``import tconv`` stays fast and needs no optional extra.
"""

from importlib import import_module

from .algorithms import ALGORITHMS
from .errors import TconvError
from .geometry import Explanation, conv_input_sizes, conv_output_size, explain, output_size, solve_padding
from .grad import conv_backward, conv_transpose_backward
from .interpolate import upsample
from .memory import memory_budget
from .ops import conv, conv_matrix, conv_transpose, tune
from .tuning import autotune

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "autotune",
    "Conversion",
    "Explanation",
    "TconvError",
    "conv",
    "conv_backward",
    "conv_input_sizes",
    "conv_matrix",
    "conv_output_size",
    "conv_transpose",
    "conv_transpose_backward",
    "convert",
    "disagreements",
    "explain",
    "memory_budget",
    "output_size",
    "solve_padding",
    "tune",
    "upsample",
]

#: Modules reachable as attributes of ``tconv`` without an import of their own.
_SUBMODULES = frozenset(
    {
        "algorithms",
        "checkerboard",
        "cli",
        "compat",
        "converter",
        "deconvnet",
        "distributed",
        "errors",
        "geometry",
        "grad",
        "init",
        "inspect",
        "interpolate",
        "inverse",
        "memory",
        "nn",
        "normalise",
        "ops",
        "padmodes",
        "referee",
        "tour",
        "tuning",
        "viz",
    }
)
#: Public names whose modules load on first use (the converter and the referee's table).
_LAZY_NAMES = {"Conversion": "converter", "convert": "converter", "disagreements": "referee"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        return getattr(import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY_NAMES))
