"""The one library error class, and the one helper that words its messages."""

from __future__ import annotations

__all__ = ["TconvError", "fail"]


class TconvError(ValueError):
    """An invalid value given to tconv.

    Every message names the function, the argument, the allowed range and the
    value received. Wrong *types* (a string where a number belongs) raise
    ``TypeError`` instead.
    """


def fail(func: str, message: str, kind: type[Exception] = TconvError) -> Exception:
    """The error to raise from ``tconv.<func>``: ``raise fail("conv", "stride must be >= 1; got 0")``.

    ``func`` is the public name below ``tconv`` (``"conv_transpose"``,
    ``"compat.jax.conv_transpose"``); ``kind`` is ``TypeError`` for a value of the
    wrong type.

    >>> fail("conv", "stride must be >= 1; got 0")
    TconvError('tconv.conv: stride must be >= 1; got 0')
    """
    return kind(f"tconv.{func}: {message}")
