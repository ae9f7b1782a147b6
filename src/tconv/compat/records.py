"""What the model readers (``compat/<framework>/models.py``) return: one framework-neutral record per layer.

A reader knows its framework (class names, argument spellings, kernel
layouts); the features that consume the records (:mod:`tconv.checkerboard`
builds its stack layers from them, :mod:`tconv.nn` its modules) know nothing
of the framework. A reader never refuses a layer: it records what the layer
says, and each feature decides what it supports.

Kinds and their ``config`` (per-axis values as canonical tuples, weights in
tconv's layouts):

==================  =======================================================================
kind                config
==================  =======================================================================
``conv_transpose``  ``kernel_size, stride, padding, output_padding, dilation, groups, bias``
                    (``padding`` as the framework states it); ``geometry`` holds the window
``conv``            ``kernel_size, stride, padding, dilation, groups, bias``, and ``pads``:
                    the ``(lo, hi)`` pairs, ``None`` when they depend on the input size
``upsample``        ``scale_factor`` (a tuple, or ``None`` for a fixed ``size``), ``size``,
                    ``mode``, ``align_corners``
``batchnorm``       ``num_features, eps, momentum`` (PyTorch's reading), ``affine``, ``axis``
``linear``          ``in_features, out_features, bias``
``activation``      ``function`` (``relu``, ``tanh``, ``sigmoid``, ``leaky_relu``, ...)
``flatten``         ``start_dim, end_dim`` (PyTorch) or the input shape (Keras)
``reshape``         ``shape`` (the target, batch excluded)
``container``       ``children`` hold the layers, applied in order
``other``           anything else (``source_type`` names it)
==================  =======================================================================

``weights`` maps tconv's parameter and buffer names (``weight``, ``bias``,
``running_mean``, ...) to arrays in tconv's layouts: ``(C_in, C_out/g, *k)``
for a transposed conv, ``(C_out, C_in/g, *k)`` for a conv, ``(out, in)`` for
a linear layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from ..geometry import Geometry

__all__ = ["LayerRecord", "walk"]


@dataclass(frozen=True)
class LayerRecord:
    """One layer of a framework model, read once (see the module docstring for the kinds)."""

    kind: str
    name: str
    source_type: str
    config: Mapping[str, Any] = field(default_factory=dict)
    weights: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    geometry: Geometry | None = None
    children: tuple["LayerRecord", ...] = ()
    #: what a feature needs to know when the reader could not resolve everything (e.g. the window)
    note: str | None = None


def walk(record: LayerRecord) -> Iterator[LayerRecord]:
    """``record`` and all its descendants, depth first, in order."""
    yield record
    for child in record.children:
        yield from walk(child)
