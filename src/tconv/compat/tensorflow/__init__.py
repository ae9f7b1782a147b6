"""TensorFlow's ``tf.nn.conv{1,2,3}d_transpose`` and ``tf.nn.conv_transpose``, exactly, on NumPy arrays.

Same names, order, defaults and layouts: ``input`` channels-last by default
(``NWC``/``NHWC``/``NDHWC``, or ``NCW``/``NCHW``/``NCDHW``), ``filters``
``(*k, C_out, C_in)``, ``output_shape`` the full output shape (batch and
channels included). ``name`` is accepted and ignored.

TensorFlow defines the op as the gradient of the forward conv that maps
``output_shape`` back to ``input``; so ``output_shape`` gives the length ``L``
and the padding gives the window start:

- ``SAME``: ``start = floor(P/2)``, ``P = max(0, (n-1)*s + d*(k-1) + 1 - L)``, for ``L`` in ``[(n-1)*s + 1, n*s]``;
- ``VALID``: ``start = 0``, for ``L`` in ``[(n-1)*s + d*(k-1) + 1, that + s - 1]``;
- explicit pads (2-D only, as TF): ``start = pad_before``, for ``L + pad_before + pad_after`` in the VALID range.

An ``output_shape`` outside its range raises :class:`~tconv.errors.TconvError`
giving the range. TF's own CPU kernel refuses ``NCHW`` and dilation > 1 when
oneDNN is off (``TF_ENABLE_ONEDNN_OPTS=0``); tconv always accepts them.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Axis, Geometry, same_start
from ...normalise import IntOrSeq, as_array, check_rank, choice, is_seq, padding_pairs, per_axis, spatial_dims
from ...ops import run_geometry
from ..layouts import from_tf, is_channels_last, to_channels_first, to_channels_last

__all__ = [
    "conv1d_transpose",
    "conv2d_transpose",
    "conv3d_transpose",
    "conv_transpose",
    "geometry",
    "output_shape_range",
    "same_start",
]

PaddingArg = Union[str, Sequence[Sequence[int]]]
_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def _outer(value: object, nd: int, channels_last: bool) -> list:
    """The batch and channel entries of a full-rank per-axis argument (empty otherwise)."""
    if is_seq(value) and len(value) == nd + 2:
        return [value[0], value[-1]] if channels_last else [value[0], value[1]]
    return []


def _spatial(func: str, name: str, value: object, nd: int, channels_last: bool) -> object:
    """TF's layout rule: a full-rank value (``nd + 2`` entries in data-format order) gives its spatial entries.

    Anything else is a per-axis value already (one value, or ``nd``), for :func:`~tconv.normalise.per_axis`.
    """
    if not is_seq(value):
        return value
    if len(value) == nd + 2:
        return tuple(value[1:-1] if channels_last else value[2:])
    if len(value) not in (1, nd):
        raise fail(func, f"{name} must have 1, {nd} or {nd + 2} entries for {nd} spatial dims; got {len(value)}: {value!r}")
    return value


def _strides(func: str, name: str, value: object, nd: int, channels_last: bool) -> tuple[int, ...]:
    if value is None:
        value = 1
    if any(v != 1 for v in _outer(value, nd, channels_last)):
        raise fail(func, f"{name} must be 1 in the batch and channel dims; got {value!r}")
    return per_axis(func, name, _spatial(func, name, value, nd, channels_last), nd, 1, one_for_all=True)


def _pads(func: str, padding: object, nd: int, channels_last: bool) -> tuple[tuple[int, int], ...]:
    """Explicit padding: ``nd + 2`` ``(before, after)`` pairs in data-format order, zero on batch and channels."""
    if not is_seq(padding):
        raise fail(func, f"padding must be a sequence; got {padding!r}", TypeError)
    if len(padding) != nd + 2:
        raise fail(func, f"padding must have {nd + 2} entries for {nd} spatial dims; got {len(padding)}: {padding!r}")
    for pair in padding:
        if not is_seq(pair) or len(pair) != 2:
            raise fail(func, f"each explicit padding entry must be a (before, after) pair; got {pair!r}")
    if any(tuple(p) != (0, 0) for p in _outer(padding, nd, channels_last)):
        raise fail(func, f"explicit padding must be (0, 0) on the batch and channel dims; got {padding!r}")
    return padding_pairs(func, _spatial(func, "padding", padding, nd, channels_last), nd)


def _ranges(
    func: str,
    nd: int,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    strides: IntOrSeq,
    padding: PaddingArg,
    channels_last: bool,
    dilations: IntOrSeq | None,
) -> list[tuple[Axis, int, int]]:
    """Per axis: the axis with ``length`` 0 (to be set), and the smallest and largest valid output length."""
    n = per_axis(func, "input size", in_size, nd, 1)
    k = per_axis(func, "kernel size", kernel_size, nd, 1)
    s = _strides(func, "strides", strides, nd, channels_last)
    d = _strides(func, "dilations", dilations, nd, channels_last)
    if isinstance(padding, str):
        choice(func, "padding", padding, ("SAME", "VALID"))
        pads = None
    elif nd != 2:
        raise fail(func, f"explicit padding is for 2-D only (as TensorFlow); got padding={padding!r} for {nd}-D")
    else:
        pads = _pads(func, padding, nd, channels_last)
    out = []
    for ax in range(nd):
        a = Axis(n[ax], k[ax], s[ax], d[ax], pads[ax][0] if pads else 0, 0)
        if padding == "SAME":  # the start follows from the length, once known
            smallest, largest = a.dilated_size, n[ax] * s[ax]
        else:
            shortest = a.full - a.start - (pads[ax][1] if pads else 0)
            smallest, largest = max(1, shortest), shortest + s[ax] - 1
            if largest < smallest:
                raise fail(
                    func,
                    f"padding {tuple(pads[ax]) if pads else (0, 0)} on spatial axis {ax} leaves no output length: "
                    f"the full result has {a.full} entries, so before + after must be at most {a.full + s[ax] - 2}",
                )
        out.append((a, smallest, largest))
    return out


def _geometry(
    func: str,
    nd: int,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    output_shape: Sequence[int],
    strides: IntOrSeq,
    padding: PaddingArg,
    channels_last: bool,
    dilations: IntOrSeq | None,
) -> Geometry:
    ranges = _ranges(func, nd, in_size, kernel_size, strides, padding, channels_last, dilations)
    spatial = _spatial(func, "output_shape", output_shape, nd, channels_last)
    out = per_axis(func, "output_shape", spatial, nd, 1, one_for_all=True)
    axes = []
    for ax, ((a, smallest, largest), length) in enumerate(zip(ranges, out)):
        if not smallest <= length <= largest:
            raise fail(
                func,
                f"output_shape must be in [{smallest}, {largest}] on spatial axis {ax} "
                f"(the lengths a {padding if isinstance(padding, str) else 'explicitly padded'} forward conv with "
                f"kernel {a.kernel}, stride {a.stride}, dilation {a.dilation} maps back to the input length "
                f"{a.size}); got {length}"
            )
        start = same_start(a.size, a.kernel, a.stride, a.dilation, length) if padding == "SAME" else a.start
        axes.append(Axis(a.size, a.kernel, a.stride, a.dilation, start, length))
    return Geometry(tuple(axes), 1)


def output_shape_range(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
) -> tuple[tuple[int, int], ...]:
    """Per spatial axis, the smallest and largest ``output_shape`` entry TensorFlow accepts.

    The lengths whose forward conv (same strides, padding, dilations) maps back
    to ``in_size``: SAME ``[(n-1)*s + 1, n*s]``; VALID ``[full, full + s - 1]``;
    explicit ``[full - before - after, that + s - 1]``, ``full = (n-1)*s + d*(k-1) + 1``.

    >>> output_shape_range((4, 4), 3, 2)
    ((7, 8), (7, 8))
    >>> output_shape_range(4, 3, 2, "VALID")
    ((9, 10),)
    """
    func = "compat.tensorflow.output_shape_range"
    nd = spatial_dims(func, in_size=in_size, kernel_size=kernel_size)
    channels_last = True if data_format is None else is_channels_last(data_format, func)
    ranges = _ranges(func, nd, in_size, kernel_size, strides, padding, channels_last, dilations)
    return tuple((lo, hi) for _, lo, hi in ranges)


def geometry(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    output_shape: Sequence[int],
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of TensorFlow's arguments.

    ``output_shape`` may be the spatial sizes or the full shape (read with
    ``data_format``, channels-last by default); ``strides``, ``dilations`` and
    explicit ``padding`` may be per spatial axis or full-rank, as TF takes them.

    Examples
    --------
    >>> geometry(4, 3, [8], 2).axes[0]
    Axis(size=4, kernel=3, stride=2, dilation=1, start=0, length=8)
    >>> geometry((4, 4), (3, 3), (1, 9, 9, 5), 2, "VALID").out_size
    (9, 9)
    """
    func = "compat.tensorflow.geometry"
    nd = spatial_dims(func, in_size=in_size, kernel_size=kernel_size)
    channels_last = True if data_format is None else is_channels_last(data_format, func)
    return _geometry(func, nd, in_size, kernel_size, output_shape, strides, padding, channels_last, dilations)


def _conv_transpose(
    func: str,
    nd: int,
    input: ArrayLike,
    filters: ArrayLike,
    output_shape: Sequence[int],
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
) -> np.ndarray:
    if data_format is None:
        data_format = _FORMATS[nd][0]
    if data_format not in _FORMATS[nd]:
        allowed = " or ".join(map(repr, _FORMATS[nd]))
        raise fail(func, f"data_format must be {allowed} for {nd}-D; got {data_format!r}")
    channels_last = data_format == _FORMATS[nd][0]
    x = as_array(func, "input", input)
    f = as_array(func, "filters", filters)
    check_rank(func, "input", x, nd + 2, f"({data_format})")
    check_rank(func, "filters", f, nd + 2, "(*kernel, out_channels, in_channels)")
    x = to_channels_first(x) if channels_last else x
    if f.shape[-1] != x.shape[1]:
        raise fail(
            func,
            f"filters.shape[-1] (in_channels) must equal the input's channels {x.shape[1]}; "
            f"got filters shape {f.shape}",
        )
    if not is_seq(output_shape) and not isinstance(output_shape, np.ndarray):
        raise fail(func, f"output_shape must be a sequence of ints; got {output_shape!r}", TypeError)
    shape = np.asarray(output_shape).ravel().tolist()  # the entries are parsed with the geometry
    if len(shape) not in (nd, nd + 2):
        raise fail(
            func,
            f"output_shape must have {nd + 2} entries ({data_format}) or {nd} (spatial only); "
            f"got {output_shape!r}",
        )
    if len(shape) == nd + 2 and _outer(shape, nd, channels_last) != [x.shape[0], f.shape[-2]]:
        raise fail(
            func,
            f"output_shape must have batch {x.shape[0]} (the input's) and channels {f.shape[-2]} "
            f"(filters.shape[-2]); got {output_shape!r}",
        )
    geom = _geometry(func, nd, x.shape[2:], f.shape[:-2], shape, strides, padding, channels_last, dilations)
    y = run_geometry(x, from_tf(f), None, geom, func=func)
    return np.ascontiguousarray(to_channels_last(y)) if channels_last else y


_DOC = """{what} with TensorFlow's semantics (``tf.nn.{name}``).

    Parameters
    ----------
    input : array_like, ``{last}`` (default) or ``{first}``
    filters : array_like, shape ``(*k, out_channels, in_channels)``
    output_shape : sequence of {rank} ints, the full output shape in ``data_format`` order (or the spatial sizes only)
    strides, dilations : int, or 1, {nd_text} or {rank} ints (batch and channel entries 1)
    padding : ``"SAME"``, ``"VALID"``{explicit}
    data_format : ``"{last}"`` or ``"{first}"``
    name : ignored

    Returns
    -------
    ndarray of ``output_shape``

    Notes
    -----
    Per axis ``y_full[i*s + j*d] += x[i] * w[j]`` and ``y = y_full[start : start + L]``
    (zero-extended), ``L`` from ``output_shape`` and ``start`` from ``padding`` as in
    :mod:`tconv.compat.tensorflow`.
    """


def _entry_point(nd: int):
    """The public ``conv{nd}d_transpose``: one signature for the three ranks."""

    def conv_nd_transpose(
        input: ArrayLike,
        filters: ArrayLike,
        output_shape: Sequence[int],
        strides: IntOrSeq,
        padding: PaddingArg = "SAME",
        data_format: str | None = _FORMATS[nd][0],
        dilations: IntOrSeq | None = None,
        name: str | None = None,
    ) -> np.ndarray:
        return _conv_transpose(
            f"compat.tensorflow.conv{nd}d_transpose", nd, input, filters, output_shape, strides, padding, data_format, dilations
        )

    conv_nd_transpose.__name__ = conv_nd_transpose.__qualname__ = f"conv{nd}d_transpose"
    conv_nd_transpose.__doc__ = _DOC.format(
        what=f"{nd}-d transposed convolution",
        name=f"conv{nd}d_transpose",
        last=_FORMATS[nd][0],
        first=_FORMATS[nd][1],
        rank=nd + 2,
        nd_text=nd,
        explicit=" or explicit ``(before, after)`` pairs, one per dim of ``data_format``" if nd == 2 else "",
    )
    return conv_nd_transpose


conv1d_transpose = _entry_point(1)
conv2d_transpose = _entry_point(2)
conv3d_transpose = _entry_point(3)


def conv_transpose(
    input: ArrayLike,
    filters: ArrayLike,
    output_shape: Sequence[int],
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    name: str | None = None,
) -> np.ndarray:
    func = "compat.tensorflow.conv_transpose"
    rank = np.ndim(input)
    if rank not in (3, 4, 5):
        raise fail(func, f"input must have 3, 4 or 5 dims (1, 2 or 3 spatial); got {rank}")
    return _conv_transpose(func, rank - 2, input, filters, output_shape, strides, padding, data_format, dilations)


conv_transpose.__doc__ = _DOC.format(
    what="N-d transposed convolution (N = input rank - 2)",
    name="conv_transpose",
    last="N...C",
    first="NC...",
    rank="N+2",
    nd_text="N",
    explicit=" or explicit pairs (2-D)",
) + """
    Examples
    --------
    >>> conv_transpose(np.ones((1, 2, 1)), np.ones((3, 1, 1)), [1, 4, 1], 2)[0, :, 0]
    array([1., 1., 2., 1.])
    """
