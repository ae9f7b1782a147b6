"""GEMM + col2im: the Caffe / ONNX Runtime / PyTorch CPU fallback.

Per group ``g``::

    cols[b, (o, j), i] = sum_c w[c, o, j] * x[b, c, i]        one GEMM: W_g^T X_g
    y_full[b, o, i*s + j*d] += cols[b, (o, j), i]               col2im: add each column back
    y = y_full[..., lo : lo + L]

FLOPs: ``2 * N * C_in * (C_out/g) * prod(n) * prod(k)``, all in one GEMM per group.
Extra memory: the column buffer ``N * C_out * prod(k) * prod(n)`` (``prod(k/s)``
times the output when ``k > s``) plus the full result.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry
from ._common import take_window, tap_slices


def conv_transpose(x: np.ndarray, weight: np.ndarray, geom: Geometry) -> np.ndarray:
    g = geom.groups
    n_batch, c_in = x.shape[:2]
    c_in_g, c_out_g = c_in // g, weight.shape[1]
    k, n = geom.kernel, geom.in_size
    y_full = np.zeros((n_batch, g * c_out_g) + geom.full, dtype=np.result_type(x, weight))
    x_flat = x.reshape(n_batch, g, c_in_g, -1)
    w_flat = weight.reshape(g, c_in_g, -1)
    for gi in range(g):
        cols = np.matmul(w_flat[gi].T, x_flat[:, gi])  # (N, C_out/g * prod(k), prod(n))
        cols = cols.reshape((n_batch, c_out_g) + k + n)
        y_g = y_full[:, gi * c_out_g : (gi + 1) * c_out_g]
        for j in np.ndindex(*k):
            dst = tap_slices(j, geom)
            y_g[(slice(None), slice(None)) + dst] += cols[(slice(None), slice(None)) + j]
    return take_window(y_full, geom)
