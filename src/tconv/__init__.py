"""tconv: exact N-d transposed convolution in NumPy, in every formulation, explained.

>>> import numpy as np, tconv
>>> tconv.conv_transpose(np.array([[[[1, 0], [2, 1]]]]), np.array([[[[1, 0, 1], [0, 1, 1], [1, 0, 0]]]]))[0, 0]
array([[1., 0., 1., 0.],
       [2., 2., 3., 1.],
       [1., 2., 3., 1.],
       [2., 1., 0., 0.]])
"""

from . import checkerboard
from .algorithms import ALGORITHMS
from .converter import Conversion, convert
from .errors import TconvError
from .geometry import (
    Explanation,
    conv_input_sizes,
    conv_output_size,
    explain,
    output_size,
    solve_padding,
)
from .grad import conv_backward, conv_transpose_backward
from .interpolate import upsample
from .ops import conv, conv_matrix, conv_transpose
from .referee import disagreements

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
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
    "output_size",
    "solve_padding",
    "upsample",
]
