"""The windows several framework conventions share, read off :mod:`tconv.geometry`.

- TensorFlow's ``SAME`` / ``VALID`` windows with no output length given, which
  Keras's and JAX's strings also choose and :mod:`tconv.compat.torch` offers as
  ``padding="same"`` / ``"valid"``;
- the zero-insertion view of JAX's and Keras's paddings: a window named by how
  much the zero-inserted input is padded on each side.

Both build an :class:`~tconv.geometry.Axis` from geometry's own definitions, so
no convention recomputes ``k_eff``, the full length or the SAME start.
"""

from __future__ import annotations

from ..geometry import Axis, full_length, same_start

__all__ = ["string_axis", "zero_insertion_axis"]


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
