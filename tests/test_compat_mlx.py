"""tconv.compat.mlx against the real MLX (CPU): values, shapes and refusals on seeded random geometries."""

from __future__ import annotations

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core")

from mlx_support import run  # noqa: E402
from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import mlx as tm  # noqa: E402


def per_axis(rng, nd, lo, hi):
    """MLX's forms: an int, or (2-D and 3-D) a tuple of one int per axis."""
    values = [int(v) for v in rng.integers(lo, hi, nd)]
    return values[0] if nd == 1 or rng.random() < 0.3 else tuple(values)


def random_case(rng, nd):
    """A case for MLX and tconv: random geometry, often beyond what either accepts."""
    groups = int(rng.choice([1, 1, 2, 3] if nd < 3 else [1] * 7 + [2]))
    c_in_g, c_out_g = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    n = [int(v) for v in rng.integers(1, 6 if nd < 3 else 4, nd)]
    k = [int(v) for v in rng.integers(1, 5 if nd < 3 else 3, nd)]
    kwargs = dict(stride=per_axis(rng, nd, 1, 4), padding=per_axis(rng, nd, -1, 4), dilation=per_axis(rng, nd, 1, 4),
                  output_padding=per_axis(rng, nd, 0 if rng.random() < 0.8 else -1, 4), groups=groups)  # fmt: skip
    x = rng.standard_normal([int(rng.integers(1, 3))] + n + [c_in_g * groups]).astype(np.float32)
    w = rng.standard_normal([c_out_g * groups] + k + [c_in_g]).astype(np.float32)
    return kwargs, x, w


def outcome(fn, *args, **kwargs):
    try:
        return "ok", fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:  # MLX's refusals, and tconv's TconvError (a ValueError) or TypeError
        return "error", exc


def check(nd, cases, rng):
    counts = {"ok": 0, "error": 0, "outside": 0}
    for _ in range(cases):
        kwargs, x, w = random_case(rng, nd)
        mine, got = outcome(getattr(tm, f"conv_transpose{nd}d"), x, w, **kwargs)
        real, value = outcome(run, kwargs, x, w)
        where = f"conv_transpose{nd}d(x {x.shape}, w {w.shape}, **{kwargs})"
        if mine == "error" and real == "ok" and ("MLX computes no window" in str(got) or "no window of the full" in str(got)):
            counts["outside"] += 1  # the documented domain where MLX's numbers are no window of y_full
            continue
        assert mine == real, f"{where}: MLX {real} ({str(value)[:200]}), tconv {mine} ({str(got)[:200]})"
        if mine == "ok":
            assert got.dtype == np.float32 and got.shape == value.shape, where
            assert_close(got, value, np.float32)
        else:
            assert isinstance(got, (TconvError, TypeError)) and f"tconv.compat.mlx.conv_transpose{nd}d" in str(got)
        counts[mine] += 1
    return counts


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_random_geometries_match_mlx_values_and_refusals(nd):
    counts = check(nd, 150 if nd < 3 else 60, np.random.default_rng(2300 + nd))
    assert counts["ok"] >= (20 if nd < 3 else 10) and counts["error"] >= 5, counts


@pytest.mark.slow
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_random_geometries_match_mlx_stress(nd):
    check(nd, 1500 if nd < 3 else 400, np.random.default_rng(2400 + nd))


def test_groups_only_in_1d_and_2d_as_mlx():
    x, w = np.ones((1, 2, 2, 2, 4), np.float32), np.ones((4, 2, 2, 2, 2), np.float32)
    with pytest.raises(ValueError, match="groups != 1 in 1D or 2D"):
        run(dict(groups=2), x, w)
    with pytest.raises(TconvError, match="groups must be 1 in 3-D"):
        tm.conv_transpose3d(x, w, groups=2)
    x2, w2 = np.ones((1, 3, 3, 4), np.float32), np.ones((4, 2, 2, 2), np.float32)
    assert_close(tm.conv_transpose2d(x2, w2, 2, 0, 1, 0, 2), run(dict(stride=2, groups=2), x2, w2), np.float32)


def test_mlx_beyond_the_kernel_span_is_no_window_of_the_full_result():
    # the finding behind tconv's refusal: n=2, k=1, s=2, padding=1, output_padding=1 is PyTorch's
    # y_full[1:3] = [0, x1] (length 2); MLX returns [x1] (length 1)
    x, w = np.array([[[1.0], [2.0]]], np.float32), np.ones((1, 1, 1), np.float32)
    assert run(dict(stride=2, padding=1, output_padding=1), x, w).ravel().tolist() == [2.0]
    with pytest.raises(TconvError, match=r"padding must be <= dilation\*\(kernel-1\) = 0"):
        tm.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1)


def test_signature_and_1d_ints_follow_mlx():
    import inspect

    params = inspect.signature(tm.conv_transpose2d).parameters
    assert list(params) == ["input", "weight", "stride", "padding", "dilation", "output_padding", "groups", "stream"]
    assert params["input"].kind is inspect.Parameter.POSITIONAL_ONLY
    x, w = np.ones((1, 3, 1), np.float32), np.ones((1, 2, 1), np.float32)
    for kwargs in (dict(stride=(2,)), dict(padding=(1,))):
        with pytest.raises(TypeError):
            run(kwargs, x, w)
        with pytest.raises(TypeError, match="must be an int for conv_transpose1d"):
            tm.conv_transpose1d(x, w, **kwargs)


def test_layouts_round_trip_and_match_a_grouped_mlx_run():
    rng = np.random.default_rng(3)
    canonical = rng.standard_normal((4, 3, 2, 3)).astype(np.float32)  # C_in 4, groups 2 -> C_out 6
    assert (tm.from_mlx(tm.to_mlx(canonical, 2), 2) == canonical).all()
    x = rng.standard_normal((1, 3, 3, 4)).astype(np.float32)
    import tconv

    ref = tconv.conv_transpose(np.moveaxis(x, -1, 1), canonical, stride=2, groups=2)
    assert_close(np.moveaxis(run(dict(stride=2, groups=2), x, tm.to_mlx(canonical, 2)), -1, 1), ref, np.float32)


def test_the_referee_data_recorded_from_mlx_are_tconvs_windows_or_refusals():
    import importlib.util
    from pathlib import Path

    import tconv

    spec = importlib.util.spec_from_file_location("referee_script", Path(__file__).resolve().parents[1] / "scripts" / "referee.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rows = [row for row in tconv.disagreements() if row["mlx"] != "n/a"]
    assert len(rows) > 100
    for row in rows:
        call = script.layer_calls(row)["mlx"]
        try:
            a = tm.geometry(row["n"], row["k"], **call).axes[0]
            text = f"{a.length}@{a.start}"
        except TconvError:
            text = "refused"
        if call["padding"] > row["d"] * (row["k"] - 1) or call["output_padding"] < 0:
            assert text == "refused", (row, call)  # beyond the domain where MLX's numbers are always a window
        else:
            assert text == row["mlx"], (row, call)
