"""tconv.compat.jax against the installed jax.lax.conv_transpose: shapes, dtypes, values and refusals."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

jax = pytest.importorskip("jax")
from jax import lax  # noqa: E402

from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import jax as tj  # noqa: E402

SPATIAL = "HWD"


def _random_call(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    nd = int(rng.integers(1, 4))
    n = tuple(int(v) for v in rng.integers(1, 5, nd))
    k = tuple(int(v) for v in rng.integers(1, 5, nd))
    mode = int(rng.integers(0, 4))
    if mode < 2:
        padding = ("SAME", "VALID")[mode]
    else:
        padding = [(int(a), int(b)) for a, b in rng.integers(-2, 5, (nd, 2))]
    transpose_kernel = bool(rng.integers(0, 2))
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    kwargs = dict(
        strides=tuple(int(v) for v in rng.integers(1, 4, nd)),
        padding=padding,
        rhs_dilation=tuple(int(v) for v in rng.integers(1, 3, nd)),
        transpose_kernel=transpose_kernel,
        use_consistent_padding=bool(rng.integers(0, 2)),
    )
    x = rng.standard_normal((2,) + n + (c_in,)).astype(np.float32)
    w = rng.standard_normal(k + ((c_out, c_in) if transpose_kernel else (c_in, c_out))).astype(np.float32)
    return x, w, kwargs


def _outcome(f, *args, **kwargs):
    try:
        return np.asarray(f(*args, **kwargs))
    except (TypeError, ValueError) as exc:
        return exc


def test_signature_is_the_installed_jax_one():
    theirs = inspect.signature(lax.conv_transpose).parameters
    ours = inspect.signature(tj.conv_transpose).parameters
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]


@pytest.mark.parametrize("seed", range(4))
def test_random_geometries_match_jax(seed):
    """SAME, VALID and pairs in both meanings, with and without transpose_kernel; refusals included."""
    rng = np.random.default_rng(seed)
    for _ in range(25):
        x, w, kwargs = _random_call(rng)
        ref = _outcome(lax.conv_transpose, x, w, **kwargs)
        y = _outcome(tj.conv_transpose, x, w, **kwargs)
        if isinstance(ref, Exception):
            assert isinstance(y, Exception), (kwargs, x.shape, w.shape, ref)
            continue
        assert not isinstance(y, Exception), (kwargs, x.shape, w.shape, y)
        assert y.dtype == ref.dtype
        assert_close(y, ref, np.float32)


@pytest.mark.parametrize(
    "specs",
    [
        ("NCH", "OIH", "NCH"),
        ("NHWC", "OIHW", "NCHW"),
        ("NCHW", "IOHW", "NHWC"),
        ("NWHC", "HWIO", "NHWC"),
        ("CHWN", "WHOI", "HCNW"),
        ("NDHWC", "DHWIO", "NCDHW"),
    ],
)
@pytest.mark.parametrize("transpose_kernel", [False, True])
def test_dimension_numbers(specs, transpose_kernel):
    rng = np.random.default_rng(len(specs[0]))
    nd = len(specs[0]) - 2
    sizes = dict(zip(SPATIAL, (3, 4, 2)))
    ksizes = dict(zip(SPATIAL, (3, 2, 2)))
    lhs_dims = {"N": 2, "C": 3, **sizes}
    rhs_dims = {"I": 3 if not transpose_kernel else 4, "O": 4 if not transpose_kernel else 3, **ksizes}
    x = rng.standard_normal(tuple(lhs_dims[c] for c in specs[0])).astype(np.float32)
    w = rng.standard_normal(tuple(rhs_dims[c] for c in specs[1])).astype(np.float32)
    strides = (2, 1, 3)[:nd]
    for padding in ("SAME", "VALID", [(1, 2), (0, 1), (2, 0)][:nd]):
        kwargs = dict(dimension_numbers=specs, transpose_kernel=transpose_kernel)
        ref = np.asarray(lax.conv_transpose(x, w, strides, padding, **kwargs))
        assert_close(tj.conv_transpose(x, w, strides, padding, **kwargs), ref, np.float32)
    # the same through a ConvDimensionNumbers object
    dn = lax.conv_dimension_numbers(x.shape, w.shape, specs)
    ref = np.asarray(lax.conv_transpose(x, w, strides, "SAME", dimension_numbers=dn, transpose_kernel=transpose_kernel))
    assert_close(tj.conv_transpose(x, w, strides, "SAME", dimension_numbers=dn, transpose_kernel=transpose_kernel), ref, np.float32)


def test_dtypes_and_preferred_element_type():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 5, 4, 2))
    w = rng.standard_normal((3, 3, 2, 3))
    for dtype, pet in [(np.float16, None), (np.float16, np.float32), (np.int32, None), (np.int8, np.int32), (np.int32, np.float32)]:
        xs = (x * 3).astype(dtype)
        ws = (w * 3).astype(dtype)
        ref = np.asarray(lax.conv_transpose(xs, ws, (2, 2), "SAME", preferred_element_type=pet))
        y = tj.conv_transpose(xs, ws, (2, 2), "SAME", preferred_element_type=pet)
        assert y.dtype == ref.dtype
        tol_dtype = np.float16 if np.float16 in (dtype, pet) else np.float32
        assert_close(y, ref, tol_dtype)


def test_float64_matches_jax_with_x64():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 3, 2))
    w = rng.standard_normal((4, 2, 2, 3))
    with jax.enable_x64(True):
        ref = np.asarray(lax.conv_transpose(x, w, (3, 2), [(2, -1), (0, 3)], (1, 2)))
    y = tj.conv_transpose(x, w, (3, 2), [(2, -1), (0, 3)], (1, 2))
    assert y.dtype == np.float64
    assert_close(y, ref, np.float64)


@pytest.mark.parametrize("dtype, preferred", [(np.float32, np.float16), (np.float32, np.int32), (np.int32, np.int8)])
def test_preferred_element_type_refusals(dtype, preferred):
    x = np.ones((1, 3, 2), dtype)
    w = np.ones((2, 2, 1), dtype)
    with pytest.raises(TypeError):
        lax.conv_transpose(x, w, (2,), "SAME", preferred_element_type=preferred)
    with pytest.raises(TypeError, match="preferred_element_type"):
        tj.conv_transpose(x, w, (2,), "SAME", preferred_element_type=preferred)


def test_precision_is_accepted_as_jax_accepts_it():
    x = np.ones((1, 3, 1), np.float32)
    w = np.ones((2, 1, 1), np.float32)
    plain = tj.conv_transpose(x, w, (2,), "SAME")
    for precision in ("highest", lax.Precision.HIGH, ("default", "highest")):
        np.testing.assert_array_equal(tj.conv_transpose(x, w, (2,), "SAME", precision=precision), plain)
    with pytest.raises(ValueError):
        lax.conv_transpose(x, w, (2,), "SAME", precision="bogus")
    with pytest.raises(TconvError, match="precision"):
        tj.conv_transpose(x, w, (2,), "SAME", precision="bogus")


def test_empty_window_like_jax():
    x = np.ones((1, 2, 1), np.float32)
    w = np.ones((4, 1, 1), np.float32)
    ref = np.asarray(lax.conv_transpose(x, w, (1,), [(1, 0)]))
    y = tj.conv_transpose(x, w, (1,), [(1, 0)])
    assert y.shape == ref.shape == (1, 0, 1)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((2, "SAME"), {}, "strides"),
        (((2,), "same"), {}, "padding"),
        (((2,), "SAME_LOWER"), {}, "padding"),
        (((2, 2), "SAME"), {}, "strides"),
        (((0,), "SAME"), {}, "strides"),
        (((1,), "SAME"), {"rhs_dilation": (0,)}, "rhs_dilation"),
        (((1,), [(1, 1), (1, 1)]), {}, "padding"),
        (((1,), 1), {}, "padding"),
        (((2,), [(-9, -9)]), {}, "crops"),
        (((1,), "SAME"), {"transpose_kernel": True}, "channels"),
        (((1,), "SAME"), {"dimension_numbers": ("NCH", "HIO")}, "dimension_numbers"),
    ],
)
def test_refuses_what_jax_refuses(args, kwargs, match):
    x = np.ones((1, 5, 2), np.float32)
    w = np.ones((3, 2, 4), np.float32)
    with pytest.raises((TypeError, ValueError)):
        np.asarray(lax.conv_transpose(x, w, *args, **kwargs))
    with pytest.raises((TypeError, TconvError), match=match):
        tj.conv_transpose(x, w, *args, **kwargs)


def test_mixed_dtypes_refused_as_in_jax():
    x = np.ones((1, 5, 2), np.float32)
    w = np.ones((3, 2, 4), np.float16)
    with pytest.raises(TypeError):
        lax.conv_transpose(x, w, (2,), "SAME")
    with pytest.raises(TypeError, match="same dtype"):
        tj.conv_transpose(x, w, (2,), "SAME")


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4, 2)).astype(np.float32)
    w = rng.standard_normal((3, 2, 2)).astype(np.float32)
    x0, w0 = x.copy(), w.copy()
    tj.conv_transpose(x, w, (2,), [(1, 0)], transpose_kernel=True)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


def test_geometry_same_is_tensorflow_crop_and_valid_length():
    # SAME: L = n*s, start floor(max(0, k_eff - s) / 2); VALID: L = (n-1)*s + max(k_eff, s)
    for n, k, s, d in [(4, 3, 2, 1), (3, 1, 3, 1), (5, 4, 2, 2), (2, 2, 4, 1)]:
        k_eff = d * (k - 1) + 1
        same = tj.geometry((n,), (k,), (s,), "SAME", (d,)).axes[0]
        assert (same.start, same.length) == (max(0, k_eff - s) // 2, n * s)
        valid = tj.geometry((n,), (k,), (s,), "VALID", (d,)).axes[0]
        assert (valid.start, valid.length) == (0, (n - 1) * s + max(k_eff, s))


def test_pairs_are_the_zero_insertion_pads_of_the_window():
    # JAX's pair (pad_a, pad_b) is the window's Axis.pad_before / pad_after, for every sign
    from tconv.geometry import zero_insertion_axis

    for n, k, s, d in [(4, 3, 2, 1), (3, 1, 3, 1), (5, 4, 2, 2)]:
        for pair in [(0, 0), (2, 1), (-1, 3), (4, -2)]:
            a = tj.geometry((n,), (k,), (s,), [pair], (d,)).axes[0]
            assert (a.pad_before, a.pad_after) == pair and a == zero_insertion_axis(n, k, s, d, *pair)
            lo, hi = pair
            c = tj.geometry((n,), (k,), (s,), [pair], (d,), use_consistent_padding=True).axes[0]
            assert (c.start, c.end_crop) == (lo, hi)  # the forward conv's padding, as PyTorch reads it
