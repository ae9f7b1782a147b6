"""tconv.compat.paddle against the real PaddlePaddle (in a subprocess): values, shapes and refusals."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("paddle") is None:  # only its presence: Paddle runs in a subprocess
    pytest.skip("paddle is not installed", allow_module_level=True)

from paddle_support import run, run_batch  # noqa: E402
from support import assert_close  # noqa: E402
from tconv import TconvError  # noqa: E402
from tconv.compat import paddle as tp  # noqa: E402

FIRST, LAST = {1: "NCL", 2: "NCHW", 3: "NCDHW"}, {1: "NLC", 2: "NHWC", 3: "NDHWC"}


def random_padding(rng, nd, k, channels_last):
    """Any of Paddle's padding forms, sometimes beyond what the kernel covers (a refusal to compare)."""
    kind = rng.integers(0, 6)
    big = [int(v) for v in rng.integers(0, 4, 2 * nd)]
    if kind == 0:
        return int(rng.integers(0, 3))
    if kind == 1:
        return big[:nd]
    if kind == 2:
        return big
    if kind == 3:
        pairs = [big[2 * i : 2 * i + 2] for i in range(nd)]
        return [[0, 0]] + pairs + [[0, 0]] if channels_last else [[0, 0], [0, 0]] + pairs
    return str(rng.choice(["SAME", "VALID", "same", "valid"]))


def random_case(rng, nd):
    """A case for Paddle and tconv: random geometry in Paddle's own forms, valid or not."""
    groups = int(rng.choice([1, 1, 2, 3]))
    c_in, c_out_g = groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    if rng.random() < 0.15:  # depthwise: Paddle runs another kernel
        c_in, c_out_g = groups, 1
    n = [int(v) for v in rng.integers(1, 6 if nd < 3 else 4, nd)]
    k = [int(v) for v in rng.integers(1, 5 if nd < 3 else 3, nd)]
    s = [int(v) for v in rng.integers(1, 4, nd)]
    d = [int(v) for v in rng.integers(1, 4, nd)]
    channels_last = bool(rng.random() < 0.4)
    kwargs = dict(stride=s if rng.random() < 0.7 else s[0], dilation=d, groups=groups,
                  padding=random_padding(rng, nd, k, channels_last),
                  data_format=(LAST if channels_last else FIRST)[nd])  # fmt: skip
    if rng.random() < 0.3:
        kwargs["output_size"] = [int(v) for v in rng.integers(1, 16, nd)]
        try:
            base = tp.geometry(n, k, s, kwargs["padding"], 0, d, 1, None, kwargs["data_format"])
        except TconvError:
            base = None
        if base is not None and rng.random() < 0.8:  # mostly near the accepted range, and its edges
            kwargs["output_size"] = [L + int(rng.integers(-1, si + 1)) for L, si in zip(base.out_size, s)]
    elif rng.random() < 0.6:
        kwargs["output_padding"] = [int(rng.integers(0, max(si, di) + 1)) for si, di in zip(s, d)]
    x = rng.standard_normal([int(rng.integers(1, 3)), c_in] + n)
    if channels_last:
        x = np.moveaxis(x, 1, -1)
    w = rng.standard_normal([c_in, c_out_g] + k)
    b = rng.standard_normal(c_out_g * groups) if rng.random() < 0.5 else None
    return dict(func=f"conv{nd}d_transpose", kwargs=kwargs, x=x, weight=w, bias=b)


def tconv_result(case):
    fn = getattr(tp, case["func"])
    try:
        return "ok", fn(case["x"], case["weight"], case["bias"], **case["kwargs"])
    except TconvError as exc:
        return "error", str(exc)


def runnable(case):
    """Not a case whose padding exceeds the full result: Paddle's kernels may crash or hang there (docs/conventions-paddle-mlx.md)."""
    status, message = tconv_result(case)
    return status == "ok" or "exceeds the full result" not in message


def compare(cases):
    cases = [case for case in cases if runnable(case)]
    real = run_batch(cases)
    accepted = refused = 0
    for case, (status, value) in zip(cases, real):
        mine, got = tconv_result(case)
        where = f"{case['func']}(x {case['x'].shape}, w {case['weight'].shape}, **{case['kwargs']})"
        assert mine == status, f"{where}: Paddle {status} ({str(value)[:300]}), tconv {mine} ({str(got)[:300]})"
        if status == "ok":
            assert got.dtype == value.dtype, where
            assert_close(got, value)
            accepted += 1
        else:
            refused += 1
    return accepted, refused


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_random_geometries_match_paddle_values_and_refusals(nd):
    rng = np.random.default_rng(2100 + nd)
    accepted, refused = compare([random_case(rng, nd) for _ in range(60 if nd < 3 else 40)])
    assert accepted >= 8 and refused >= 5, (accepted, refused)  # both sides exercised


@pytest.mark.slow
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_random_geometries_match_paddle_stress(nd):
    rng = np.random.default_rng(2200 + nd)
    compare([random_case(rng, nd) for _ in range(400 if nd < 3 else 150)])


def test_same_ignores_dilation_as_paddle_does():
    x, w = np.arange(1.0, 4.0).reshape(1, 1, 3), np.arange(1.0, 4.0).reshape(1, 1, 3)
    y = run(dict(stride=2, padding="SAME", dilation=2), x, w)
    assert_close(tp.conv1d_transpose(x, w, stride=2, padding="SAME", dilation=2), y)
    assert_close(tp.conv1d_transpose(x, w, stride=2, padding="SAME", dilation=1), y)


def test_bad_arguments_are_refused_like_paddle():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 3, 3, 3))
    bad = [
        dict(padding="FULL"),
        dict(padding=[[1, 1], [0, 0], [1, 1], [1, 1]]),  # batch padded
        dict(padding=[1, 2, 3]),
        dict(padding=-1),
        dict(padding=[[1, 1], [1, 1]]),  # pairs without the batch and channel dims
        dict(output_padding=1),  # stride 1
        dict(stride=2, output_padding=1, output_size=[9, 9]),
        dict(stride=2, output_size=[11, 9]),
        dict(groups=3),
        dict(data_format="NWHC"),
    ]
    cases = [dict(func="conv2d_transpose", kwargs=kw, x=x, weight=w, bias=None) for kw in bad]
    cases.append(dict(func="conv2d_transpose", kwargs={}, x=x, weight=w[:1], bias=None))  # C_in mismatch
    cases.append(dict(func="conv2d_transpose", kwargs={}, x=x, weight=w, bias=np.zeros(4)))
    for case, (status, value) in zip(cases, run_batch(cases)):
        assert status == "error", (case["kwargs"], value)
        with pytest.raises(TconvError, match=r"tconv\.compat\.paddle\.conv2d_transpose: "):
            getattr(tp, case["func"])(case["x"], case["weight"], case["bias"], **case["kwargs"])


def test_signatures_follow_paddle():
    import inspect

    names = {nd: list(inspect.signature(getattr(tp, f"conv{nd}d_transpose")).parameters) for nd in (1, 2, 3)}
    assert names[2][6:8] == ["dilation", "groups"] and names[1][6:8] == names[3][6:8] == ["groups", "dilation"]
    assert names[2][-3:] == ["output_size", "data_format", "name"]
    x, w = np.ones((1, 1, 3)), np.ones((1, 2, 2))
    assert_close(tp.conv1d_transpose(x, w, None, 2, 0, 1, 1, 1), run(dict(stride=2, output_padding=1), x, w))


def test_geometry_matches_the_module_docstring():
    g = tp.geometry((5, 4), (3, 2), stride=(2, 3), padding=[1, 0, 0, 2], output_size=(10, 10))
    assert g.start == (1, 0) and g.out_size == (10, 10)
    with pytest.raises(TconvError, match=r"output_size must be in \[10, 11\]"):
        tp.geometry(5, 3, stride=2, padding=[1, 0], output_size=[7])


def _referee_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "referee.py"
    spec = importlib.util.spec_from_file_location("referee_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def window_text(geometry_of, call):
    """``length@start`` of tconv's geometry for the call, or ``refused``."""
    try:
        a = geometry_of(call).axes[0]
    except TconvError:
        return "refused", None
    return f"{a.length}@{a.start}", a


def test_the_referee_data_recorded_from_paddle_are_tconvs_windows():
    import tconv

    script = _referee_script()
    rows = [row for row in tconv.disagreements() if row["paddle"] != "n/a"]
    assert len(rows) > 100
    for row in rows:
        call = dict(script.layer_calls(row)["paddle"])
        text, axis = window_text(lambda c: tp.geometry(row["n"], row["k"], **c), call)
        if row["paddle"].startswith("0@"):  # Paddle's empty output: no geometry, an empty array
            assert tp.conv1d_transpose(np.ones((1, 1, row["n"])), np.ones((1, 1, row["k"])), **call).shape == (1, 1, 0)
        elif row["paddle"] == "other":  # SAME with dilation: Paddle ran dilation 1, no window of the dilated y_full
            assert call["padding"] == "SAME" and row["d"] > 1 and axis is not None and axis.dilation == 1, row
        else:
            assert text == row["paddle"], (row, call)
