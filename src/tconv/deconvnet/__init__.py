"""Deconvolutional Networks (Zeiler et al., CVPR 2010) and convolutional sparse coding.

Feature maps ``z`` (``(N, K, *z_spatial)``) reconstruct images ``y`` (``(N, C, *n)``)
through filters ``f`` (``(K, C, *k)``): ``y_c ~ sum_k conv_transpose(z_k, f_kc)``
cut to the image by a boundary rule. :func:`infer` finds sparse maps,
:func:`synthesize` is the reconstruction, :func:`objective` the paper's energy;
:func:`learn` alternates inference and filter updates, layer on layer (:class:`DeconvNet`),
and :func:`project` is ZF-Net's projection of a CNN unit back to pixels.
"""

from .infer import BOUNDARIES, METHODS, InferResult, infer, objective, synthesize, z_shape
from .learn import DeconvNet, learn
from .project import project

__all__ = [
    "BOUNDARIES", "METHODS", "DeconvNet", "InferResult", "infer", "learn", "objective", "project", "synthesize",
    "z_shape",
]
