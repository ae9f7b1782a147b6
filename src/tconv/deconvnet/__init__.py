"""Deconvolutional Networks and convolutional sparse coding (TEMPORARY stand-in package face).

The inverse helper writes this package's face and :mod:`.infer`; this tree
carries a small stand-in so that :mod:`.learn` and :mod:`.project` can be
developed and tested. At merge the integrator takes the inverse helper's
files and adds the two names below.
"""

from .infer import infer, objective, synthesize
from .learn import DeconvNet, learn
from .project import project

__all__ = ["DeconvNet", "infer", "learn", "objective", "project", "synthesize"]
