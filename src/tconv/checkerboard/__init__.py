"""Checkerboard artifacts: measured from the geometry, the weights, or the image.

A transposed convolution with stride ``s`` writes each input element into every
``s``-th output position, so the output splits into ``s`` phases per axis. When
the phases receive different numbers of taps, a constant input comes out as a
periodic pattern: the checkerboard (Odena, Dumoulin & Olah, Distill 2016).

Four measurements, from cheapest to most concrete, one module each:

- :func:`overlap` / :func:`unevenness` (``analysis``): taps per phase of one layer's geometry.
- :func:`analyze_stack` (``stack``): a constant input propagated through a whole
  stack of layers (a list of geometries, a ``tconv.nn`` model, a PyTorch module,
  a Keras model, an ONNX file), each layer's and the stack's period pattern,
  and the artifact-prone layers named.
- :func:`analyze_weight` (``weights``): the per-phase sums of real kernels (even
  geometry and uneven weights still make a checkerboard).
- :func:`image_score` (``scores``): the share of an image's spectral energy at
  the frequencies a stride-``s`` checkerboard lives on.

:func:`remedies` (``remedies``) suggests fixes with their before/after scores,
and :func:`report` (``report``) writes the text the ``tconv checkerboard``
command prints.
"""

from .analysis import EVEN_TOLERANCE, overlap, unevenness
from .remedies import Remedy, remedies
from .report import report
from .scores import image_score
from .stack import LayerReport, StackLayer, StackReport, analyze_stack, layers_from
from .weights import WeightReport, analyze_weight, phase_sums

__all__ = [
    "EVEN_TOLERANCE",
    "overlap",
    "unevenness",
    "StackLayer",
    "LayerReport",
    "StackReport",
    "layers_from",
    "analyze_stack",
    "WeightReport",
    "phase_sums",
    "analyze_weight",
    "image_score",
    "Remedy",
    "remedies",
    "report",
]
