"""Shape arithmetic: one normalised geometry behind every convention.

Per spatial axis a transposed convolution is fixed by six integers: input
length ``n``, kernel ``k``, stride ``s``, dilation ``d``, and the window it
returns from the full scatter result, start ``lo`` and length ``L``::

    k_eff = d*(k-1) + 1
    full  = (n-1)*s + k_eff            # y_full[i*s + j*d] += x[i] * w[j]
    y     = y_full[lo : lo + L]         # zero-extended at both ends

PyTorch's arguments choose ``lo = p_lo`` and ``L = full - p_lo - p_hi +
output_padding``. Other conventions choose ``lo`` and ``L`` differently (``lo``
may be negative, ``lo + L`` may pass ``full``); the compute code only ever sees
an :class:`Axis` per dimension.

Everything here is pure integer arithmetic, and the loose public arguments
(an int, one int per axis, ``(lo, hi)`` pairs) are normalised by
:mod:`tconv.normalise`, once.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

from .errors import fail
from .normalise import IntOrSeq, Padding, as_int, is_seq, padding_pairs, per_axis, spatial_dims

__all__ = [
    "Axis",
    "Geometry",
    "AxisExplanation",
    "Explanation",
    "AxisSolutions",
    "output_size",
    "conv_output_size",
    "solve_padding",
    "conv_input_sizes",
    "explain",
    "string_axis",
    "zero_insertion_axis",
    "conv_as_transpose",
]


def effective_kernel(kernel: int, dilation: int) -> int:
    """Span of a dilated kernel, ``d*(k-1) + 1``."""
    return dilation * (kernel - 1) + 1


def full_length(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Length of the full scatter result of one axis, ``(n-1)*s + d*(k-1) + 1``."""
    return (size - 1) * stride + effective_kernel(kernel, dilation)


def same_start(
    size: int, kernel: int, stride: int, dilation: int, length: int, *, upper: bool = True, clamp: bool = True
) -> int:
    """Where a SAME window of ``length`` starts in the full result: the excess ``P = max(0, full - length)``
    split with ``floor(P/2)`` cropped at the start (``upper``, TensorFlow's and ONNX's SAME_UPPER) or
    ``ceil(P/2)`` (ONNX's SAME_LOWER). ``clamp=False`` splits a negative excess too (the ONNX spec's
    reading: zeros on both sides of the full result).

    >>> same_start(4, 3, 2, 1, 8)  # full = 9: one element too many, cropped at the end
    0
    >>> same_start(4, 4, 2, 1, 8)  # full = 10: one cropped at each end
    1
    """
    excess = full_length(size, kernel, stride, dilation) - length
    if clamp:
        excess = max(0, excess)
    return excess // 2 if upper else excess - excess // 2


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a transposed convolution, in the normalised form.

    ``start`` is signed: a negative start returns zeros before ``y_full``.
    """

    size: int
    kernel: int
    stride: int
    dilation: int
    start: int
    length: int

    @property
    def k_eff(self) -> int:
        """Span of the dilated kernel, ``d*(k-1) + 1``."""
        return effective_kernel(self.kernel, self.dilation)

    @property
    def full(self) -> int:
        """Length of the full scatter result, ``(n-1)*s + k_eff``."""
        return full_length(self.size, self.kernel, self.stride, self.dilation)

    @property
    def dilated_size(self) -> int:
        """Zero-insertion view: the input with ``s - 1`` zeros between elements, ``(n-1)*s + 1``."""
        return (self.size - 1) * self.stride + 1

    @property
    def end_crop(self) -> int:
        """Elements of ``y_full`` dropped after the window (negative: zeros appended)."""
        return self.full - self.start - self.length

    @property
    def pad_before(self) -> int:
        """Zero-insertion view: padding before the zero-inserted input (negative: crop)."""
        return self.k_eff - 1 - self.start

    @property
    def pad_after(self) -> int:
        """Zero-insertion view: padding after the zero-inserted input (negative: crop)."""
        return self.length + self.start - self.full + self.k_eff - 1

    def tap_range(self, j: int) -> tuple[slice, slice] | None:
        """Scatter view: the inputs ``i`` whose tap ``j`` lands in the window (``0 <= i*s + j*d - lo < L``),
        and the window positions they land on (a slice of step ``s``); ``None`` when none does."""
        offset = j * self.dilation - self.start  # window position of input 0
        i0 = max(0, -(offset // self.stride))  # first i with i*s + offset >= 0
        i1 = min(self.size, (self.length - 1 - offset) // self.stride + 1)
        if i1 <= i0:
            return None
        o0 = i0 * self.stride + offset
        return slice(i0, i1), slice(o0, o0 + (i1 - i0 - 1) * self.stride + 1, self.stride)

    @functools.cached_property
    def live_phases(self) -> tuple[int, ...]:
        """Phase view (``f = s*u + r``): the phases ``r`` some tap reaches, ``{j*d mod s}``, ascending."""
        return tuple(sorted({(j * self.dilation) % self.stride for j in range(self.kernel)}))

    @property
    def shifts(self) -> int:
        """Phase view: ``Q = floor(d*(k-1)/s) + 1``, how many blocks ``u`` one input reaches."""
        return self.dilation * (self.kernel - 1) // self.stride + 1

    @property
    def window_blocks(self) -> tuple[int, int]:
        """Phase view: the first block ``lo // s`` the window ``[lo, lo + L)`` touches, and how many it touches."""
        first = self.start // self.stride
        return first, (self.start + self.length - 1) // self.stride - first + 1


@dataclass(frozen=True)
class Geometry:
    """A normalised transposed-convolution geometry: one :class:`Axis` per spatial dim."""

    axes: tuple[Axis, ...]
    groups: int = 1

    @property
    def ndim(self) -> int:
        return len(self.axes)

    # the per-axis tuples are computed once per geometry (the algorithms read them often)

    @functools.cached_property
    def in_size(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.axes)

    @functools.cached_property
    def kernel(self) -> tuple[int, ...]:
        return tuple(a.kernel for a in self.axes)

    @functools.cached_property
    def stride(self) -> tuple[int, ...]:
        return tuple(a.stride for a in self.axes)

    @functools.cached_property
    def dilation(self) -> tuple[int, ...]:
        return tuple(a.dilation for a in self.axes)

    @functools.cached_property
    def start(self) -> tuple[int, ...]:
        return tuple(a.start for a in self.axes)

    @functools.cached_property
    def out_size(self) -> tuple[int, ...]:
        return tuple(a.length for a in self.axes)

    @functools.cached_property
    def full(self) -> tuple[int, ...]:
        return tuple(a.full for a in self.axes)


# --------------------------------------------------------------------------
# windows that several conventions share
# --------------------------------------------------------------------------


def string_axis(padding: str, n: int, k: int, s: int, d: int) -> Axis:
    """One axis of the ``"same"`` or ``"valid"`` window (either case), TensorFlow's meaning.

    ``same``: length ``n*s``, starting at :func:`~tconv.geometry.same_start`;
    ``valid``: the full result from its start, zero-extended to ``n*s`` when the
    kernel is shorter than the stride.

    >>> string_axis("SAME", 4, 3, 2, 1)
    Axis(size=4, kernel=3, stride=2, dilation=1, start=0, length=8)
    >>> string_axis("valid", 4, 1, 3, 1).length  # full = 10, zeros up to n*s
    12
    """
    if padding.lower() == "same":
        return Axis(n, k, s, d, same_start(n, k, s, d, n * s), n * s)
    return Axis(n, k, s, d, 0, max(full_length(n, k, s, d), n * s))


def zero_insertion_axis(n: int, k: int, s: int, d: int, pad_before: int, pad_after: int) -> Axis:
    """The axis whose zero-insertion view pads the dilated input by ``(pad_before, pad_after)``.

    The inverse of :attr:`Axis.pad_before` / :attr:`Axis.pad_after`: ``pad_before``
    falls by one for each element the start moves on, and ``pad_after`` grows by
    one for each element of start or length, so both are read off the axis of
    start 0 and length 0. The length may come out below 1: the caller decides.

    >>> a = zero_insertion_axis(4, 3, 2, 1, 0, 0)  # JAX's (0, 0) pair: crops k_eff - 1 on each side
    >>> a.start, a.length, (a.pad_before, a.pad_after)
    (2, 5, (0, 0))
    """
    origin = Axis(n, k, s, d, 0, 0)
    start = origin.pad_before - pad_before
    return Axis(n, k, s, d, start, pad_after - origin.pad_after - start)


#: The largest element count or index the array code may meet: NumPy's and the compiled kernels'
#: 64-bit index arithmetic must never wrap.
INDEX_LIMIT = 2**62


def _check_index_range(func: str, axes: list[Axis]) -> None:
    """Refuse geometries whose sizes do not fit the 64-bit index arithmetic of the algorithms."""
    for what, values in (
        ("full result", [a.full for a in axes]),
        ("output", [a.length for a in axes]),
        ("input", [a.size for a in axes]),
    ):
        total = math.prod(values)
        if total > INDEX_LIMIT or any(abs(a.start) > INDEX_LIMIT for a in axes):
            raise fail(
                func,
                f"the {what} would have {' x '.join(map(str, values))} = {total:.3g} spatial elements per channel, "
                f"beyond the 64-bit index range (at most 2**62 = {INDEX_LIMIT:.3g}); reduce stride, dilation, "
                "kernel or input sizes",
            )


def check_output_padding(
    func: str, output_padding: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> None:
    """``output_padding`` selects one of the ``max(s, d)`` sizes a conv maps to the same output: ``op < max(s, d)``."""
    for ax, (op, s, d) in enumerate(zip(output_padding, stride, dilation)):
        if op >= max(s, d):
            raise fail(
                func,
                f"output_padding must be in [0, max(stride, dilation) - 1] = [0, {max(s, d) - 1}] "
                f"on axis {ax} (stride {s}, dilation {d}); got {op}",
            )


def build_transpose(
    func: str,
    in_size: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    output_padding: tuple[int, ...],
    groups: int = 1,
) -> Geometry:
    """The :class:`Geometry` of canonical per-axis tuples (PyTorch's window: ``lo = pad_lo``).

    Only the rules that tie the arguments together are checked here
    (``output_padding < max(stride, dilation)``, a non-empty output); the tuples
    themselves come from :mod:`tconv.normalise`. Layers call this once per input
    shape with the arguments they parsed at construction.
    """
    check_output_padding(func, output_padding, stride, dilation)
    axes = []
    for ax, (n, k, s, d, (lo, hi), op) in enumerate(zip(in_size, kernel, stride, dilation, padding, output_padding)):
        full = full_length(n, k, s, d)
        length = full - lo - hi + op
        if length < 1:
            raise fail(
                func,
                f"the output would be empty on axis {ax}: length (n-1)*s + d*(k-1) + 1 - pad_lo - pad_hi "
                f"+ output_padding = {full} - {lo} - {hi} + {op} = {length}; it must be >= 1 "
                f"(reduce padding to at most {full - 1 + op} in total)",
            )
        axes.append(Axis(n, k, s, d, lo, length))
    _check_index_range(func, axes)
    return Geometry(tuple(axes), groups)


def build_conv(
    func: str,
    in_size: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    groups: int = 1,
) -> Geometry:
    """The geometry of a forward conv of canonical tuples, written as the transposed conv it is the adjoint of.

    A conv maps length ``m`` to ``n = (m + lo + hi - k_eff) // s + 1``; its adjoint
    is the transposed conv with input ``n``, window start ``lo`` and length ``m``.
    """
    axes = []
    for ax, (m, k, s, d, (lo, hi)) in enumerate(zip(in_size, kernel, stride, dilation, padding)):
        span = m + lo + hi
        ke = effective_kernel(k, d)
        if span < ke:
            raise fail(
                func,
                f"the output would be empty on axis {ax}: the padded input (m + pad_lo + pad_hi = "
                f"{m} + {lo} + {hi} = {span}) is shorter than the dilated kernel (d*(k-1) + 1 = {ke})",
            )
        axes.append(Axis((span - ke) // s + 1, k, s, d, lo, m))
    _check_index_range(func, axes)
    return Geometry(tuple(axes), groups)


def conv_as_transpose(geom: Geometry) -> Geometry:
    """A stride-1 forward conv (``geom`` as :func:`build_conv` writes it: its adjoint) as the transposed
    conv that computes it with the kernel flipped and the channel axes swapped.

    Per axis ``y[t] = sum_j w[j] x[t - lo + j*d]``; a stride-1 transposed conv of ``x`` with the
    flipped kernel has ``z[u] = sum_j w[j] x[u + start - d*(k-1) + j*d]``, so the two agree with
    ``start = d*(k-1) - lo`` and the conv's output length (the adjoint's input size).

    >>> conv_as_transpose(build_conv("f", (8,), (3,), (1,), (1,), ((1, 1),))).axes[0]
    Axis(size=8, kernel=3, stride=1, dilation=1, start=1, length=8)
    """
    if any(a.stride != 1 for a in geom.axes):
        raise fail("geometry.conv_as_transpose", f"stride must be 1 on every axis (a stride-1 forward conv); got {geom.stride}")
    axes = tuple(Axis(a.length, a.kernel, 1, a.dilation, a.dilation * (a.kernel - 1) - a.start, a.size) for a in geom.axes)
    return Geometry(axes, geom.groups)


def transpose_geometry(
    func: str,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
    nd: int | None = None,
    output_size: Sequence[int] | None = None,
) -> Geometry:
    """Parse PyTorch-style arguments (with ``(lo, hi)`` padding pairs) into a :class:`Geometry`, once.

    ``output_size`` resolves ``output_padding`` as PyTorch's
    ``ConvTranspose*.forward(input, output_size)`` does (then ``output_padding``
    must be 0).
    """
    if nd is None:
        nd = spatial_dims(
            func,
            in_size=in_size,
            kernel_size=kernel_size,
            stride=stride,
            output_padding=output_padding,
            dilation=dilation,
            padding=padding,
        )
    n = per_axis(func, "input size", in_size, nd, 1)
    k = per_axis(func, "kernel size", kernel_size, nd, 1)
    s = per_axis(func, "stride", stride, nd, 1)
    d = per_axis(func, "dilation", dilation, nd, 1)
    op = per_axis(func, "output_padding", output_padding, nd, 0)
    pads = padding_pairs(func, padding, nd)
    groups = as_int(func, "groups", groups, 1)
    if output_size is not None:
        if any(op):
            raise fail(
                func,
                f"give output_size or output_padding, not both "
                f"(got output_size={output_size!r}, output_padding={output_padding!r})",
            )
        op = output_padding_for_size(func, n, k, s, pads, d, output_size)
    return build_transpose(func, n, k, s, d, pads, op, groups)


def conv_geometry(
    func: str,
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
    nd: int | None = None,
) -> Geometry:
    """Parse a forward conv's PyTorch-style arguments into its :class:`Geometry` (see :func:`build_conv`)."""
    if nd is None:
        nd = spatial_dims(
            func, in_size=in_size, kernel_size=kernel_size, stride=stride, dilation=dilation, padding=padding
        )
    return build_conv(
        func,
        per_axis(func, "input size", in_size, nd, 1),
        per_axis(func, "kernel size", kernel_size, nd, 1),
        per_axis(func, "stride", stride, nd, 1),
        per_axis(func, "dilation", dilation, nd, 1),
        padding_pairs(func, padding, nd),
        as_int(func, "groups", groups, 1),
    )


def output_padding_for_size(
    func: str,
    in_size: tuple[int, ...],
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    dilation: tuple[int, ...],
    output_size: Sequence[int],
) -> tuple[int, ...]:
    """Resolve ``output_size`` into ``output_padding`` as PyTorch's ``ConvTranspose*.forward`` does.

    Accepts the spatial sizes, or the full ``(N, C, *spatial)`` shape; each size
    must lie in ``[min, min + stride - 1]`` with ``min`` the size at output_padding 0.
    """
    nd = len(in_size)
    if not is_seq(output_size):
        raise fail(func, f"output_size must be a sequence of ints; got {output_size!r}", TypeError)
    sizes = tuple(as_int(func, "output_size", v) for v in output_size)
    if len(sizes) == nd + 2:
        sizes = sizes[2:]
    if len(sizes) != nd:
        raise fail(
            func, f"output_size must have {nd} or {nd + 2} entries (spatial, or N, C, spatial); got {sizes!r}"
        )
    result = []
    for ax in range(nd):
        lo, hi = padding[ax]
        smallest = full_length(in_size[ax], kernel_size[ax], stride[ax], dilation[ax]) - lo - hi
        largest = smallest + stride[ax] - 1
        if not smallest <= sizes[ax] <= largest:
            raise fail(
                func,
                f"output_size must be in [{smallest}, {largest}] on axis {ax} "
                f"(the sizes output_padding 0..stride-1 reach); got {sizes[ax]}",
            )
        result.append(sizes[ax] - smallest)
    return tuple(result)


# --------------------------------------------------------------------------
# Public shape arithmetic
# --------------------------------------------------------------------------


def output_size(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
) -> tuple[int, ...]:
    """Spatial output size of a transposed convolution.

    ``L = (n-1)*s - pad_lo - pad_hi + d*(k-1) + output_padding + 1`` per axis.

    Examples
    --------
    >>> output_size(7, 5, stride=2, padding=2, output_padding=1)
    (14,)
    >>> output_size((2, 3), 3, stride=(2, 1), padding=((0, 1), 1))
    (4, 3)
    """
    geom = transpose_geometry(
        "output_size",
        in_size,
        kernel_size,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    return geom.out_size


def conv_output_size(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    dilation: IntOrSeq = 1,
) -> tuple[int, ...]:
    """Spatial output size of the forward convolution, ``(m + lo + hi - d*(k-1) - 1) // s + 1``.

    Examples
    --------
    >>> conv_output_size(14, 5, stride=2, padding=2)
    (7,)
    """
    geom = conv_geometry(
        "conv_output_size", in_size, kernel_size, stride=stride, padding=padding, dilation=dilation
    )
    return geom.in_size


class AxisSolutions(Sequence):
    """The answers for one axis: the pairs ``(a0 + i*da, b0 + i*db)`` for ``i`` in ``range(count)``, never built.

    Solutions of shape arithmetic form arithmetic progressions, so a stride of
    ``10**12`` costs nothing: the sequence answers ``len``, indexing, slicing and
    iteration lazily, ``ranges`` describes it as two ``range`` objects (the first
    and the second member of each pair), and it compares equal to a list of the
    same pairs. ``reason`` says why it is empty (``None`` otherwise).
    """

    __hash__ = None  # compares equal to lists, so unhashable like them

    def __init__(
        self, first: tuple[int, int] = (0, 0), step: tuple[int, int] = (1, 1), count: int = 0, reason: str | None = None
    ):
        self._first, self._step, self._count = first, step, max(0, count)
        self.reason = reason

    @property
    def ranges(self) -> tuple[range, range]:
        """``(range of first members, range of second members)``, in step: pair ``i`` is ``(r0[i], r1[i])``."""
        (a0, b0), (da, db), n = self._first, self._step, self._count
        return range(a0, a0 + n * da, da), range(b0, b0 + n * db, db)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        first, second = self.ranges
        if isinstance(index, slice):
            return list(zip(first[index], second[index]))
        return first[index], second[index]

    def __iter__(self):
        return zip(*self.ranges)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AxisSolutions):
            return self.ranges == other.ranges or (len(self) == 0 == len(other))
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(tuple(o) == p for o, p in zip(other, self))
        return NotImplemented

    def __repr__(self) -> str:
        if self._count <= 8:
            return repr(list(self))
        first, second = self.ranges
        return f"AxisSolutions({self[0]}, {self[1]}, ..., {self[-1]}: {self._count} pairs, ranges {first}, {second})"


def solve_padding(
    in_size: IntOrSeq,
    out_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    dilation: IntOrSeq = 1,
) -> list[AxisSolutions]:
    """Every PyTorch-style ``(padding, output_padding)`` pair that gives ``out_size``.

    One list per axis (never a Cartesian product). Padding is symmetric and
    ``0 <= output_padding < max(stride, dilation)``; since ``L = full - 2p + op``,
    each ``p`` gives at most one ``op = L - full + 2p``. An axis with no answer
    gets an empty :class:`AxisSolutions` whose ``reason`` says why.

    Examples
    --------
    >>> solve_padding(7, 14, 5, stride=2)
    [[(2, 1)]]
    >>> solve_padding(4, 8, 4, stride=2)
    [[(1, 0)]]
    >>> solve_padding(3, 40, 3)[0].reason
    'axis 0: the largest reachable size is 5 (padding 0, output_padding 0); 40 is larger'
    """
    func = "solve_padding"
    nd = spatial_dims(
        func, in_size=in_size, out_size=out_size, kernel_size=kernel_size, stride=stride, dilation=dilation
    )
    n = per_axis(func, "in_size", in_size, nd, 1)
    target = per_axis(func, "out_size", out_size, nd, 1)
    k = per_axis(func, "kernel_size", kernel_size, nd, 1)
    s = per_axis(func, "stride", stride, nd, 1)
    d = per_axis(func, "dilation", dilation, nd, 1)
    answers = []
    for ax in range(nd):
        full = full_length(n[ax], k[ax], s[ax], d[ax])
        op_limit = max(s[ax], d[ax])  # output_padding < op_limit
        # L = full - 2p + op, so op = c + 2p: p from the first with op >= 0 to the last with op < op_limit
        c = target[ax] - full
        p_first = max(0, (1 - c) // 2)
        count = (op_limit - 1 - c) // 2 - p_first + 1
        reason = None
        if count <= 0:
            reason = (
                f"axis {ax}: the largest reachable size is {full + op_limit - 1} (padding 0, output_padding "
                f"{op_limit - 1}); {target[ax]} is larger"
            )
        answers.append(AxisSolutions((p_first, c + 2 * p_first), (1, 2), count, reason))
    return answers


def conv_input_sizes(
    out_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    dilation: IntOrSeq = 1,
) -> list[AxisSolutions]:
    """Every input size a forward conv maps to ``out_size``, each with the ``output_padding`` that recovers it.

    A stride-``s`` conv maps ``s`` consecutive input sizes to one output size;
    a transposed conv with ``output_padding = op`` returns size ``min + op``.
    One list of ``(input_size, output_padding)`` per axis.

    Examples
    --------
    >>> conv_input_sizes(7, 5, stride=2, padding=2)
    [[(13, 0), (14, 1)]]
    """
    func = "conv_input_sizes"
    nd = spatial_dims(
        func, out_size=out_size, kernel_size=kernel_size, stride=stride, dilation=dilation, padding=padding
    )
    n = per_axis(func, "out_size", out_size, nd, 1)
    k = per_axis(func, "kernel_size", kernel_size, nd, 1)
    s = per_axis(func, "stride", stride, nd, 1)
    d = per_axis(func, "dilation", dilation, nd, 1)
    pads = padding_pairs(func, padding, nd)
    answers = []
    for ax in range(nd):
        lo, hi = pads[ax]
        smallest = full_length(n[ax], k[ax], s[ax], d[ax]) - lo - hi
        first = max(smallest, 1)
        count = smallest + s[ax] - first
        reason = None if count > 0 else (
            f"axis {ax}: no input size reaches {n[ax]}: the padding ({lo} + {hi}) exceeds what any input "
            f"of length >= 1 leaves"
        )
        answers.append(AxisSolutions((first, first - smallest), (1, 1), count, reason))
    return answers


# --------------------------------------------------------------------------
# explain()
# --------------------------------------------------------------------------


def _window_text(a: Axis) -> str:
    """What the window does at each end: crops, or (a negative crop) zeros taken in beyond ``y_full``."""
    if a.start >= 0 and a.end_crop >= 0:
        return f"crop {a.start} at the start, {a.end_crop} at the end"
    start = f"crop {a.start} at the start" if a.start >= 0 else f"{-a.start} zero(s) added before y_full"
    end = f"crop {a.end_crop} at the end" if a.end_crop >= 0 else f"{-a.end_crop} zero(s) added after y_full"
    return f"{start}, {end}"


def _minus(value: int) -> str:
    return f"- {value}" if value >= 0 else f"+ {-value}"


@dataclass(frozen=True)
class AxisExplanation:
    """How one axis of a transposed convolution is computed, in both views."""

    axis: Axis
    output_padding: int

    @property
    def zeros_between(self) -> int:
        return self.axis.stride - 1

    @property
    def pad_before(self) -> int:
        return self.axis.pad_before

    @property
    def pad_after(self) -> int:
        return self.axis.pad_after

    def text(self, index: int) -> str:
        a = self.axis
        dilated = a.dilated_size
        lines = [
            f"axis {index}: n={a.size} k={a.kernel} s={a.stride} d={a.dilation} -> {a.length}",
            f"  scatter view: full = (n-1)*s + d*(k-1) + 1 = ({a.size}-1)*{a.stride} + {a.dilation}*"
            f"({a.kernel}-1) + 1 = {a.full}",
            f"    {_window_text(a)}"
            + (f" (output_padding {self.output_padding} included)" if self.output_padding else "")
            + f": output = {a.full} {_minus(a.start)} {_minus(a.end_crop)} = {a.length}",
            f"  zero-insertion view: insert {self.zeros_between} zero(s) between inputs "
            f"({a.size} -> {dilated}), pad {self.pad_before} before and {self.pad_after} after "
            f"({dilated + self.pad_before + self.pad_after}), correlate with the flipped kernel"
            + (f" (dilated: {a.dilation - 1} zero(s) between taps, span {a.k_eff})" if a.dilation > 1 else "")
            + f" at stride 1 -> {dilated + self.pad_before + self.pad_after} - {a.k_eff} + 1 = {a.length}",
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class Explanation:
    """One :class:`AxisExplanation` per spatial axis; :meth:`text` renders them."""

    axes: tuple[AxisExplanation, ...]

    @property
    def out_size(self) -> tuple[int, ...]:
        return tuple(a.axis.length for a in self.axes)

    def text(self) -> str:
        return "\n".join(a.text(i) for i, a in enumerate(self.axes))

    def __str__(self) -> str:
        return self.text()


def explain(
    in_size: IntOrSeq,
    kernel_size: IntOrSeq,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
) -> Explanation:
    """Explain a geometry axis by axis: the full scatter result and its crops, and the zero-insertion view.

    Examples
    --------
    >>> e = explain(2, 3, stride=2)
    >>> e.out_size
    (5,)
    >>> print(e.text().splitlines()[3])
      zero-insertion view: insert 1 zero(s) between inputs (2 -> 3), pad 2 before and 2 after (7), correlate with the flipped kernel at stride 1 -> 7 - 3 + 1 = 5
    """
    func = "explain"
    nd = spatial_dims(
        func,
        in_size=in_size,
        kernel_size=kernel_size,
        stride=stride,
        output_padding=output_padding,
        dilation=dilation,
        padding=padding,
    )
    op = per_axis(func, "output_padding", output_padding, nd, 0)
    geom = build_transpose(
        func,
        per_axis(func, "input size", in_size, nd, 1),
        per_axis(func, "kernel size", kernel_size, nd, 1),
        per_axis(func, "stride", stride, nd, 1),
        per_axis(func, "dilation", dilation, nd, 1),
        padding_pairs(func, padding, nd),
        op,
    )
    return Explanation(tuple(AxisExplanation(a, o) for a, o in zip(geom.axes, op)))
