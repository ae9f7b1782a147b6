"""Small trainable layers on top of tconv's exact ops, and loaders for real PyTorch and Keras models.

Not a general framework: layers keep their last input, ``backward(grad)``
returns the input gradient and accumulates parameter gradients in
``Parameter.grad``; :class:`Sequential` chains them.

>>> import numpy as np
>>> from tconv import nn
>>> model = nn.Sequential(nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, rng=0), nn.Tanh())
>>> y = model(np.ones((1, 1, 3, 3), np.float32))
>>> y.shape, model.backward(np.ones_like(y)).shape
((1, 1, 6, 6), (1, 1, 3, 3))
"""

from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .convert import from_keras, from_torch
from .fuse import Fused, fuse
from .io import load, save
from ..padmodes import fold, pad
from .layers import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    Flatten,
    LeakyReLU,
    Linear,
    ReLU,
    Reshape,
    Sigmoid,
    Tanh,
)
from .module import Module, Parameter, Sequential
from .pool import MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d
from .resize import ResizeConv1d, ResizeConv2d, ResizeConv3d, Upsample
from .train import SGD, Adam, BCELoss, MSELoss

__all__ = [
    "Adam",
    "BCELoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Flatten",
    "Fused",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "Module",
    "Parameter",
    "ReLU",
    "ResizeConv1d",
    "ResizeConv2d",
    "ResizeConv3d",
    "Reshape",
    "SGD",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "Upsample",
    "fold",
    "fuse",
    "from_keras",
    "from_torch",
    "load",
    "pad",
    "save",
]
