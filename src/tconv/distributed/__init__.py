"""Exact tiled transposed convolution, convolution and whole decoders on Dask arrays, stored in Zarr.

An output block of a transposed convolution needs only the input interval its
window reaches (:mod:`tconv.distributed.tiling`), so the operation tiles
exactly: no blending, no seams. :func:`conv_transpose` and :func:`conv` take a
``dask.array.Array`` ``(N, C, *spatial)`` with any chunking and the core's
arguments; :func:`apply` runs a :class:`tconv.nn.Sequential` of convolutions,
transposed convolutions, resizes and point-wise layers block by block, the
receptive field propagated through the stack; :func:`apply_zarr` does it from
one Zarr array into another, resumably. Dask and Zarr are the ``dask`` extra,
imported on first use.

>>> import numpy as np, dask.array as da, tconv
>>> x = da.from_array(np.arange(12.0).reshape(1, 1, 12), chunks=(1, 1, (5, 1, 6)))
>>> w = np.ones((1, 1, 3))
>>> y = conv_transpose(x, w, stride=2, padding=1)
>>> y.chunks[2]
(10, 2, 11)
>>> bool(np.array_equal(y.compute(), tconv.conv_transpose(np.arange(12.0).reshape(1, 1, 12), w, stride=2, padding=1)))
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..algorithms import ALGORITHMS
from ..normalise import IntOrSeq, Padding, choice
from ..ops import conv_inputs, transpose_inputs
from .graph import as_dask, stand_in, tiled
from .store import ApplyResult, apply_zarr
from .tiling import ConvStage, LayerField, Pipeline, ReceptiveField, TransposeStage, pipeline, receptive_field

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["conv_transpose", "conv", "apply", "apply_zarr", "receptive_field", "ReceptiveField", "LayerField",
           "ApplyResult"]


def conv_transpose(
    x: Any, weight: Any, bias: Any = None, *, stride: IntOrSeq = 1, padding: Padding = 0,
    output_padding: IntOrSeq = 0, groups: int = 1, dilation: IntOrSeq = 1, output_size: Sequence[int] | None = None,
    algorithm: str = "auto", out_chunks: Any = None,
) -> da.Array:
    """:func:`tconv.conv_transpose` on a dask array, lazily, one task per output block.

    Parameters
    ----------
    x : dask.array.Array (or array_like), shape ``(N, C_in, *n)``, any chunks along the batch and spatial
        axes (the channel axis is joined to one chunk)
    weight, bias, stride, padding, output_padding, groups, dilation, output_size, algorithm :
        as in :func:`tconv.conv_transpose` (checked when the graph is built, with its errors)
    out_chunks : int, or per spatial axis an int or a tuple of sizes, optional
        The output's spatial chunks; by default ``stride x`` the input's, the last
        chunk absorbing the window's crop.

    Returns
    -------
    dask.array.Array, shape ``(N, C_out, *L)``, equal to the in-memory result
    """
    func = "distributed.conv_transpose"
    x = as_dask(func, x)
    _, weight, bias, geom = transpose_inputs(
        func, stand_in(x), weight, bias, stride=stride, padding=padding, output_padding=output_padding,
        groups=groups, dilation=dilation, output_size=output_size,
    )
    choice(func, "algorithm", algorithm, ALGORITHMS)
    stage = TransposeStage("conv_transpose", weight, bias, geom, algorithm, func)
    return tiled(func, x, Pipeline([stage], x.shape, x.dtype), out_chunks)


def conv(
    x: Any, weight: Any, bias: Any = None, *, stride: IntOrSeq = 1, padding: Padding = 0, groups: int = 1,
    dilation: IntOrSeq = 1, out_chunks: Any = None,
) -> da.Array:
    """:func:`tconv.conv` on a dask array, lazily; the adjoint of :func:`conv_transpose` with the same weight.

    Parameters are those of :func:`tconv.conv`, ``x`` and ``out_chunks`` as in
    :func:`conv_transpose` (the default output chunks are the input's divided
    by the stride).
    """
    func = "distributed.conv"
    x = as_dask(func, x)
    _, weight, bias, geom = conv_inputs(
        func, stand_in(x), weight, bias, stride=stride, padding=padding, groups=groups, dilation=dilation
    )
    return tiled(func, x, Pipeline([ConvStage("conv", weight, bias, geom, func)], x.shape, x.dtype), out_chunks)


def apply(model: Any, x: Any, *, out_chunks: Any = None) -> da.Array:
    """Run a :class:`tconv.nn.Sequential` on a dask array block by block, exactly, in one pass per block.

    Each output block's receptive field is propagated through the stack
    (:func:`receptive_field`): its task reads that input interval and runs
    every layer on exactly the interval the next layer needs. Tileable:
    ``Conv*``, ``ConvTranspose*`` (zeros padding), ``ResizeConv*``/``Upsample``,
    ``ReLU``, ``LeakyReLU``, ``Tanh``, ``Sigmoid``, eval-mode ``BatchNorm*``;
    any other layer is refused by name.

    Parameters
    ----------
    model : tconv.nn.Module
    x : dask.array.Array (or array_like), ``(N, C, *spatial)``
    out_chunks : as in :func:`conv_transpose`; by default the input's chunks scaled by the stack's
        nominal factor (the product of the strides and scale factors)

    Examples
    --------
    >>> import dask.array as da
    >>> from tconv import nn
    >>> model = nn.Sequential(nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1, rng=0), nn.ReLU()).eval()
    >>> x = da.ones((1, 2, 8, 8), chunks=(1, 2, 3, 5), dtype=np.float32)
    >>> y = apply(model, x)
    >>> y.chunks[2:]
    ((6, 6, 4), (10, 6))
    >>> bool(np.allclose(y.compute(), model(np.ones((1, 2, 8, 8), np.float32)), atol=1e-6))
    True
    """
    func = "distributed.apply"
    x = as_dask(func, x)
    return tiled(func, x, pipeline(func, model, x.shape, x.dtype), out_chunks)
