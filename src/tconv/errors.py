"""The one library error class."""

from __future__ import annotations

__all__ = ["TconvError"]


class TconvError(ValueError):
    """An invalid value given to tconv.

    Every message names the function, the argument, the allowed range and the
    value received. Wrong *types* (a string where a number belongs) raise
    ``TypeError`` instead.
    """
