"""PaddlePaddle's ``paddle.nn.functional.conv{1,2,3}d_transpose``, exactly, on NumPy arrays.

Same names, positional order, defaults and layouts (the 2-D function puts
``dilation`` before ``groups``, the 1-D and 3-D ones after, as Paddle does):
``x`` ``(N, C_in, *n)`` (``NCL``/``NCHW``/``NCDHW``, the default) or
channels-last (``NLC``/``NHWC``/``NDHWC``), ``weight`` ``(C_in, C_out/groups, *k)``
(PyTorch's, tconv's own), ``bias`` ``(C_out,)``. ``name`` is accepted and ignored.

``padding`` takes every form Paddle takes: an int; one int per spatial dim
(both sides); ``2*nd`` ints ``[before_0, after_0, before_1, after_1, ...]``;
``nd + 2`` ``(before, after)`` pairs in ``data_format`` order with ``(0, 0)``
on the batch and channel dims; or ``"SAME"`` / ``"VALID"`` (any case). Per axis
the window of the full result ``y_full[i*s + j*d] += x[i] * w[j]`` is

- explicit pads: ``start = before``, ``L' = full - before - after``;
- ``"VALID"``: ``start = 0``, ``L' = full``;
- ``"SAME"``: Paddle pads as the *forward* conv of the input would (``out =
  ceil(n/s)``, ``P = max(0, (out-1)*s + k - n)``, ``start = floor(P/2)``,
  ``L' = (n-1)*s + k - P``) and runs with **dilation 1 whatever ``dilation``
  says** (Paddle's ``UpdatePaddingAndDilation``; its documentation does not say so);

then ``L = L' + output_padding``, or ``L = output_size`` (which excludes
``output_padding``) for ``output_size`` in ``[L', L' + stride - 1]``.

``output_padding`` must be in ``[0, stride - 1]``: Paddle's shape inference
admits up to ``max(stride, dilation) - 1``, but its CPU kernel fails (an
``im2col`` shape check) for ``output_padding >= stride``, so tconv refuses it
with the range. Every other bad argument Paddle refuses is refused here too,
with a message naming it.
"""

from __future__ import annotations

import inspect
from typing import Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from ...errors import fail
from ...geometry import Geometry, build_transpose, full_length
from ...normalise import IntOrSeq, as_array, as_int, check_bias, check_rank, is_seq, padding_pairs, per_axis, spatial_dims
from ...ops import run_geometry
from ..layouts import to_channels_first, to_channels_last

__all__ = ["conv1d_transpose", "conv2d_transpose", "conv3d_transpose", "geometry", "DATA_FORMATS"]

#: per rank: (channels first, channels last); the first is Paddle's default
DATA_FORMATS = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}

PaddingArg = Union[str, int, Sequence[int], Sequence[Sequence[int]]]


def _padding(func: str, padding: object, nd: int, channels_last: bool) -> str | tuple[tuple[int, int], ...]:
    """``"SAME"``, ``"VALID"`` or one ``(before, after)`` pair per spatial axis, read as Paddle reads ``padding``."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "VALID"):
            raise fail(func, f"padding must be 'SAME' or 'VALID' (any case) when a string; got {padding!r}")
        return mode
    if not is_seq(padding):
        return padding_pairs(func, padding, nd)
    forms = (
        f"an int, {nd} ints (both sides), {2 * nd} ints [before, after] per axis, "
        f"or {nd + 2} (before, after) pairs in data_format order"
    )
    if len(padding) == nd + 2 and is_seq(padding[0]):
        for pair in padding:
            if not is_seq(pair) or len(pair) != 2:
                raise fail(func, f"padding as {nd + 2} entries must be (before, after) pairs; got {padding!r}")
        outer = [padding[0], padding[-1]] if channels_last else [padding[0], padding[1]]
        if any(tuple(pair) != (0, 0) for pair in outer):
            raise fail(func, f"padding must be (0, 0) on the batch and channel dims (as Paddle); got {padding!r}")
        spatial = padding[1:-1] if channels_last else padding[2:]
        return padding_pairs(func, [tuple(pair) for pair in spatial], nd)
    if any(is_seq(v) for v in padding):
        raise fail(func, f"padding must be {forms}; got {padding!r}")
    if len(padding) == 2 * nd:
        return padding_pairs(func, [(padding[2 * i], padding[2 * i + 1]) for i in range(nd)], nd)
    if len(padding) == nd:
        return padding_pairs(func, tuple(padding), nd)
    raise fail(func, f"padding must be {forms}; got {len(padding)} values {tuple(padding)!r}")


def _parse(
    func: str,
    nd: int,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq,
    padding: PaddingArg,
    output_padding: IntOrSeq,
    dilation: IntOrSeq,
    groups: int,
    output_size: IntOrSeq | None,
    channels_last: bool,
) -> tuple:
    """The canonical per-axis tuples ``(n, k, s, d, pads, output_padding, groups)`` Paddle computes with."""
    n = per_axis(func, "input size", in_size, nd, 1)
    k = per_axis(func, "kernel size", kernel_size, nd, 1)
    s = per_axis(func, "stride", stride, nd, 1)
    d = per_axis(func, "dilation", dilation, nd, 1)
    g = as_int(func, "groups", groups, 1)
    op = per_axis(func, "output_padding", output_padding, nd, 0)
    for ax, (o, si) in enumerate(zip(op, s)):
        if o >= si:
            raise fail(
                func,
                f"output_padding must be in [0, stride - 1] = [0, {si - 1}] on axis {ax} (Paddle's CPU kernel "
                f"fails from stride on, whatever the dilation); got {o}",
            )
    pads = _padding(func, padding, nd, channels_last)
    if pads == "SAME":  # the forward conv's SAME pads of the input, with the dilation dropped (as Paddle)
        d = (1,) * nd
        totals = [max(0, (-(-ni // si) - 1) * si + ki - ni) for ni, ki, si in zip(n, k, s)]
        pads = tuple((t // 2, t - t // 2) for t in totals)
    elif pads == "VALID":
        pads = ((0, 0),) * nd
    shortest = [full_length(*axis) - lo - hi for axis, (lo, hi) in zip(zip(n, k, s, d), pads)]
    for ax, length in enumerate(shortest):
        if length < 0:  # 0 is Paddle's empty output (or output_padding's zeros)
            raise fail(
                func,
                f"the padding exceeds the full result on axis {ax}: (n-1)*s + d*(k-1) + 1 - pad_before - pad_after = "
                f"{length}; it must be >= 0 (reduce padding)",
            )
    if output_size is not None:
        if any(op):
            raise fail(func, f"output_padding must be 0 when output_size is given (as Paddle); got {output_padding!r}")
        sizes = per_axis(func, "output_size", output_size, nd, 1)
        for ax, (size, lo, si) in enumerate(zip(sizes, shortest, s)):
            if not lo <= size <= lo + si - 1:
                raise fail(
                    func,
                    f"output_size must be in [{lo}, {lo + si - 1}] on axis {ax} (the inferred length and the "
                    f"stride - 1 lengths after it); got {size}",
                )
        op = tuple(size - lo for size, lo in zip(sizes, shortest))
    return n, k, s, d, pads, op, g


def _geometry(func: str, *args: object) -> Geometry:
    return build_transpose(func, *_parse(func, *args))


def geometry(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: PaddingArg = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
    output_size: IntOrSeq | None = None,
    data_format: str | None = None,
) -> Geometry:
    """The :class:`~tconv.geometry.Geometry` of Paddle's ``conv*d_transpose`` arguments.

    ``data_format`` (default channels first) only says which two of ``nd + 2``
    padding pairs are the batch and channel dims. The windows are in the module docstring.

    Examples
    --------
    >>> geometry(4, 3, stride=2, padding=[1, 0]).axes[0]
    Axis(size=4, kernel=3, stride=2, dilation=1, start=1, length=8)
    >>> geometry(3, 3, stride=2, padding="SAME", dilation=2).axes[0]  # SAME drops the dilation
    Axis(size=3, kernel=3, stride=2, dilation=1, start=1, length=5)
    """
    func = "compat.paddle.geometry"
    nd = spatial_dims(func, in_size=in_size, kernel_size=kernel_size)
    channels_last = data_format is not None and data_format in {last for _, last in DATA_FORMATS.values()}
    if data_format is not None and data_format not in DATA_FORMATS.get(nd, ()):
        raise fail(func, f"data_format must be {' or '.join(map(repr, DATA_FORMATS.get(nd, ())))} for {nd}-D; got {data_format!r}")
    return _geometry(func, nd, in_size, kernel_size, stride, padding, output_padding, dilation, groups, output_size,
                     channels_last)  # fmt: skip


def _conv_transpose(
    nd: int,
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: IntOrSeq,
    padding: PaddingArg,
    output_padding: IntOrSeq,
    dilation: IntOrSeq,
    groups: int,
    output_size: IntOrSeq | None,
    data_format: str,
) -> np.ndarray:
    func = f"compat.paddle.conv{nd}d_transpose"
    if data_format not in DATA_FORMATS[nd]:
        raise fail(func, f"data_format must be {' or '.join(map(repr, DATA_FORMATS[nd]))} for {nd}-D; got {data_format!r}")
    channels_last = data_format == DATA_FORMATS[nd][1]
    a = as_array(func, "x", x)
    w = as_array(func, "weight", weight)
    b = None if bias is None else as_array(func, "bias", bias)
    check_rank(func, "x", a, nd + 2, f"({data_format})")
    check_rank(func, "weight", w, nd + 2, "(C_in, C_out/groups, *kernel)")
    a = to_channels_first(a) if channels_last else a
    g = as_int(func, "groups", groups, 1)
    c_in = a.shape[1]
    if c_in % g:
        raise fail(func, f"groups must divide the input's channels C_in = {c_in}; got groups={g}")
    if w.shape[0] != c_in:
        raise fail(func, f"weight.shape[0] must equal C_in = {c_in} (the input's channels); got weight shape {w.shape}")
    check_bias(func, b, w.shape[1] * g)
    parsed = _parse(func, nd, a.shape[2:], w.shape[2:], stride, padding, output_padding, dilation, g, output_size,
                    channels_last)  # fmt: skip
    n, k, s, d, pads, op, _ = parsed
    lengths = [full_length(*axis) - lo - hi + o for axis, (lo, hi), o in zip(zip(n, k, s, d), pads, op)]
    if min(lengths) == 0:  # Paddle returns an empty array channels first, and refuses one channels last
        if channels_last:
            raise fail(func, f"the output would be empty (spatial size {tuple(lengths)}): Paddle refuses that with "
                       f"data_format={data_format!r} (channels first it returns an empty array)")  # fmt: skip
        y = np.zeros(a.shape[:1] + (w.shape[1] * g,) + tuple(lengths), np.result_type(a, w, *([] if b is None else [b])))
    else:
        y = run_geometry(a, w, b, build_transpose(func, *parsed), func=func)
    return np.ascontiguousarray(to_channels_last(y)) if channels_last else y


_DOC = """{nd}-d transposed convolution with Paddle's semantics (``paddle.nn.functional.conv{nd}d_transpose``).

    Parameters
    ----------
    x : array_like, ``{first}`` (default) or ``{last}``
    weight : array_like, shape ``(C_in, C_out/groups, *k)``
    bias : array_like, shape ``(C_out,)``, optional
    stride, dilation : int or {nd} ints, >= 1
    padding : int, {nd} ints, {nd2} ints ``[before, after, ...]``, {nd_outer} ``(before, after)`` pairs
        (batch and channel ``(0, 0)``), or ``"SAME"`` / ``"VALID"``
    output_padding : int or {nd} ints in ``[0, stride - 1]``; 0 when ``output_size`` is given
    groups : int dividing ``C_in``
    output_size : int or {nd} ints, optional: the output's spatial size, in ``[L', L' + stride - 1]``
    data_format : ``"{first}"`` or ``"{last}"``
    name : ignored

    Returns
    -------
    ndarray, ``(N, C_out, *L)`` (or channels-last, as ``data_format``)

    Notes
    -----
    Per axis ``y_full[i*s + j*d] += x[i] * w[j]`` and ``y = y_full[start : start + L]``, with
    ``start`` and ``L`` as in :mod:`tconv.compat.paddle` (``"SAME"`` runs with dilation 1, as Paddle).

    Examples
    --------
    {example}
    """


def _entry_point(nd: int, example: str):
    """The public ``conv{nd}d_transpose``: Paddle's signature of that rank (2-D: ``dilation`` before ``groups``)."""
    first = DATA_FORMATS[nd][0]
    middle = ["dilation", "groups"] if nd == 2 else ["groups", "dilation"]
    defaults = dict(bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1, output_size=None,
                    data_format=first, name=None)  # fmt: skip
    order = ["bias", "stride", "padding", "output_padding", *middle, "output_size", "data_format", "name"]
    P = inspect.Parameter
    signature = inspect.Signature(
        [P("x", P.POSITIONAL_OR_KEYWORD), P("weight", P.POSITIONAL_OR_KEYWORD)]
        + [P(key, P.POSITIONAL_OR_KEYWORD, default=defaults[key]) for key in order],
        return_annotation=np.ndarray,
    )

    def conv_transpose(*args: object, **kwargs: object) -> np.ndarray:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise fail(f"compat.paddle.conv{nd}d_transpose", str(exc), TypeError) from None
        bound.apply_defaults()
        a = bound.arguments
        return _conv_transpose(nd, a["x"], a["weight"], a["bias"], a["stride"], a["padding"], a["output_padding"],
                               a["dilation"], a["groups"], a["output_size"], a["data_format"])  # fmt: skip

    conv_transpose.__signature__ = signature  # type: ignore[attr-defined]
    conv_transpose.__name__ = conv_transpose.__qualname__ = f"conv{nd}d_transpose"
    conv_transpose.__doc__ = _DOC.format(
        nd=nd, nd2=2 * nd, nd_outer=nd + 2, first=first, last=DATA_FORMATS[nd][1], example=example
    )
    return conv_transpose


conv1d_transpose = _entry_point(
    1,
    """>>> conv1d_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2, padding=[1, 0])
    array([[[1., 2., 1., 2., 1., 1.]]])""",
)
conv2d_transpose = _entry_point(
    2,
    """>>> conv2d_transpose(np.ones((1, 2, 2, 1)), np.ones((1, 1, 3, 3)), stride=2, padding="SAME",
    ...                  data_format="NHWC")[0, :, :, 0]
    array([[1., 1., 2., 1.],
           [1., 1., 2., 1.],
           [2., 2., 4., 2.],
           [1., 1., 2., 1.]])""",
)
conv3d_transpose = _entry_point(
    3,
    """>>> conv3d_transpose(np.ones((1, 2, 2, 2, 2)), np.ones((2, 3, 2, 2, 2)), stride=2, output_size=5).shape
    (1, 3, 5, 5, 5)""",
)
