"""Shared test helpers: the project tolerance and seeded random geometries."""

from __future__ import annotations

import numpy as np

TOLERANCE = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4, np.dtype(np.float16): 1e-2}


def assert_close(y, ref, dtype=np.float64) -> None:
    """``max|y - ref| <= tol * max(1, max|ref|)``, shapes equal first."""
    y, ref = np.asarray(y, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert y.shape == ref.shape, f"shape {y.shape} != reference {ref.shape}"
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    err = float(np.abs(y - ref).max()) if ref.size else 0.0
    tol = TOLERANCE[np.dtype(dtype)]
    assert err <= tol * scale, f"max |y - ref| = {err:.3g} > {tol:g} * {scale:.3g}"


def random_case(rng: np.random.Generator, nd: int, *, asymmetric: bool = True, max_size: int = 6) -> dict:
    """A random valid transposed-conv geometry: shapes and keyword arguments.

    Returns ``dict(x_shape, w_shape, kwargs)`` with per-axis stride, dilation,
    padding (int or (lo, hi) pairs), output_padding and groups, chosen so the
    output is non-empty.
    """
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 3))
        c_out_g = int(rng.integers(1, 3))
        n = tuple(int(v) for v in rng.integers(1, max_size + 1, nd))
        k = tuple(int(v) for v in rng.integers(1, 5, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        d = tuple(int(v) for v in rng.integers(1, 4, nd))
        op = tuple(int(rng.integers(0, max(si, di))) for si, di in zip(s, d))
        if asymmetric and rng.random() < 0.5:
            padding = tuple((int(rng.integers(0, 4)), int(rng.integers(0, 4))) for _ in range(nd))
        else:
            padding = tuple(int(rng.integers(0, 3)) for _ in range(nd))
        pairs = [p if isinstance(p, tuple) else (p, p) for p in padding]
        lengths = [
            (ni - 1) * si + di * (ki - 1) + 1 - lo - hi + o
            for ni, ki, si, di, (lo, hi), o in zip(n, k, s, d, pairs, op)
        ]
        if min(lengths) >= 1:
            return dict(
                x_shape=(int(rng.integers(1, 3)), c_in) + n,
                w_shape=(c_in, c_out_g) + k,
                kwargs=dict(stride=s, padding=padding, output_padding=op, dilation=d, groups=groups),
            )


def symmetric(padding) -> bool:
    return all(not isinstance(p, tuple) or p[0] == p[1] for p in padding)
