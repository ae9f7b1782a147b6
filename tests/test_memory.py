"""The memory budget: every transposed conv, conv and gradient estimates its bytes before it allocates.

Oversized calls run in a subprocess under an address-space limit a few hundred MiB
above what the process already maps (``resource.RLIMIT_AS``), so that the real
allocation would fail: each must be refused with the library's message, never
reach NumPy. In-process, ``tconv.memory_budget`` makes ``auto`` pick an algorithm
that fits, or cut the call into chunks, with the unconstrained result.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tconv
from tconv import algorithms, ops
from tconv.geometry import conv_geometry, transpose_geometry
from tconv.grad import conv_transpose_backward

resource = pytest.importorskip("resource")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

#: Runs in the subprocess before the calls: the limit set a little above what the process maps.
PRELUDE = """
import resource, sys
import numpy as np
import tconv
import tconv.compat.onnx

def mapped():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

{warmup}
resource.setrlimit(resource.RLIMIT_AS, (mapped() + {headroom} * 2**20, resource.RLIM_INFINITY))
x = np.ones((1, 1, 4, 4), np.float32)
w = np.ones((1, 1, 3, 3), np.float32)
"""


def run_limited(body: str, headroom_mib: int = 300, warmup: str = "") -> subprocess.CompletedProcess:
    """Run ``body`` under the limit; ``warmup`` before it (the compiled kernels' first compilation
    maps far more than a call needs)."""
    env = {k: v for k, v in os.environ.items() if k != "TCONV_MEMORY_BUDGET"}
    code = PRELUDE.format(headroom=headroom_mib, warmup=warmup) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240)


#: (call, the function its message names): the issue's oversized calls.
OVERSIZED = [
    ("tconv.conv_transpose(x, w, stride=300000)", "conv_transpose"),
    ("tconv.conv_transpose(x, w, stride=20000, algorithm='fft')", "conv_transpose"),
    ("tconv.conv_transpose(x, w, stride=20000)", "conv_transpose"),
    ("tconv.conv_transpose(x, w, stride=20000, algorithm='scatter')", "conv_transpose"),
    ("tconv.conv(x, w, padding=10**5)", "conv"),
    ("tconv.compat.onnx.conv_transpose(x, w, output_shape=[10**6, 10**6])", "compat.onnx.conv_transpose"),
    ("tconv.conv_matrix((1, 4000, 4000), np.ones((64, 1, 3, 3), np.float32))", "conv_matrix"),
]


def test_oversized_calls_are_refused_under_an_address_space_limit():
    calls = "\n".join(
        f"""
try:
    {call}
    print("RAN {i}")
except tconv.TconvError as error:
    print("REFUSED {i}", error)
"""
        for i, (call, _) in enumerate(OVERSIZED)
    )
    done = run_limited(calls)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(OVERSIZED), done.stdout + done.stderr
    for i, (line, (call, func)) in enumerate(zip(lines, OVERSIZED)):
        assert line.startswith(f"REFUSED {i} tconv.{func}: "), (call, line)
        if func != "conv_matrix":
            assert "needs about" in line and "memory budget" in line, (call, line)
            assert "TCONV_MEMORY_BUDGET" in line and "tconv.memory_budget" in line, (call, line)


def test_auto_picks_the_algorithm_that_fits_under_an_address_space_limit():
    # an 81 MB output: col2im (auto's cheapest) needs about four times that, subpixel about the output
    done = run_limited(
        """
        from tconv import algorithms, ops
        from tconv.geometry import conv_geometry, transpose_geometry
        geom = transpose_geometry("t", (4, 4), (3, 3), stride=1500, padding=0, output_padding=0, dilation=1,
                                  groups=1, nd=2)
        names = algorithms.ranked(x.shape, w.shape, geom)
        plan = ops.plan("conv_transpose", names, x.shape, w.shape, geom, 4, 4, 0, "auto")
        y = tconv.conv_transpose(x, w, stride=1500)
        print(names[0], plan.name, y.shape, float(y.sum()), float(y.max()))
        """,
        headroom_mib=250,
        warmup="for name in ('col2im', 'subpixel', 'phase'): "
               "tconv.conv_transpose(np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32), "
               "stride=15, algorithm=name)",
    )
    assert done.returncode == 0, done.stderr
    cheapest, chosen, *rest = done.stdout.split()
    assert cheapest == "col2im" and chosen != "col2im", done.stdout
    assert " ".join(rest) == "(1, 1, 4503, 4503) 144.0 1.0"


CASES = [
    # (x shape, w shape, kwargs): chunks of samples, of output channels, of groups
    ((6, 8, 10, 10), (8, 6, 4, 4), dict(stride=2, padding=1)),
    ((1, 4, 12, 12), (4, 12, 3, 3), dict(stride=3, padding=(1, 2), output_padding=1)),
    ((3, 8, 9, 7), (8, 3, 3, 2), dict(stride=(2, 1), groups=4, dilation=(1, 2))),
]


def _geometry(x_shape, w_shape, kw):
    kw = dict(dict(padding=0, output_padding=0, dilation=1, groups=1), **kw)
    return transpose_geometry("t", x_shape[2:], w_shape[2:], nd=len(x_shape) - 2, **kw)


@pytest.mark.parametrize("x_shape, w_shape, kw", CASES)
@pytest.mark.parametrize("algorithm", ["auto", "col2im", "subpixel", "phase", "zero_insert", "scatter", "fft"])
def test_a_tight_budget_chunks_and_gives_scatters_result(x_shape, w_shape, kw, algorithm):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * kw.get("groups", 1))
    expected = tconv.conv_transpose(x, w, b, algorithm="scatter", **kw)
    geom = _geometry(x_shape, w_shape, kw)
    names = algorithms.ranked(x_shape, w_shape, geom) if algorithm == "auto" else (algorithm,)
    free = ops.plan("t", names, x_shape, w_shape, geom, 8, 8, 0, "")
    assert free.whole
    smallest = min(ops.transpose_bytes(n, x_shape, w_shape, geom, 8, 8, 0, 1, 1) for n in names)
    # halfway between the smallest chunk of any candidate and the whole call of the unconstrained choice
    limit = (smallest + free.need) // 2
    with tconv.memory_budget(limit):
        chosen = ops.plan("t", names, x_shape, w_shape, geom, 8, 8, 0, "")
        y = tconv.conv_transpose(x, w, b, algorithm=algorithm, **kw)
    assert chosen.need <= limit and (chosen.name != free.name or not chosen.whole)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    with tconv.memory_budget(smallest - 1):
        with pytest.raises(tconv.TconvError, match=r"tconv\.conv_transpose: algorithm=.* needs about .* memory budget"):
            tconv.conv_transpose(x, w, b, algorithm=algorithm, **kw)


def test_auto_keeps_its_choice_when_everything_fits():
    x_shape, w_shape, kw = CASES[0]
    geom = _geometry(x_shape, w_shape, kw)
    with tconv.memory_budget("none"):
        assert ops.plan("t", algorithms.ranked(x_shape, w_shape, geom), x_shape, w_shape, geom, 4, 4, 0, "") == (
            algorithms.choose(x_shape, w_shape, geom), x_shape[0], w_shape[1],
            ops.transpose_bytes(algorithms.choose(x_shape, w_shape, geom), x_shape, w_shape, geom, 4, 4, 0,
                                x_shape[0], w_shape[1]), True)


def test_float16_counts_its_float32_copies_and_chunks_exactly():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 4, 6, 6)).astype(np.float16)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float16)
    expected = tconv.conv_transpose(x, w, stride=2)
    assert expected.dtype == np.float16
    geom = _geometry(x.shape, w.shape, dict(stride=2))
    whole = ops.transpose_bytes("col2im", x.shape, w.shape, geom, 4, 2, (x.size + w.size) * 4, 4, 2)
    chunk = ops.transpose_bytes("col2im", x.shape, w.shape, geom, 4, 2, (x.size + w.size) * 4, 1, 2)
    with tconv.memory_budget((whole + chunk) // 2):
        y = tconv.conv_transpose(x, w, stride=2, algorithm="col2im")
    np.testing.assert_array_equal(y, expected)


def test_conv_chunks_samples_and_refuses_what_one_sample_cannot_fit():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((8, 6, 20, 20)), rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    expected = tconv.conv(x, w, b, stride=2, padding=3, groups=2)
    geom = conv_geometry("c", (20, 20), (3, 3), stride=2, padding=3, dilation=1, groups=2, nd=2)
    whole = ops.conv_bytes(x.shape, w.shape, geom, 8, 8, 0, 8)
    one = ops.conv_bytes(x.shape, w.shape, geom, 8, 8, 0, 1)
    assert one < whole
    with tconv.memory_budget((one + whole) // 2):
        y = tconv.conv(x, w, b, stride=2, padding=3, groups=2)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    with tconv.memory_budget(one - 1):
        with pytest.raises(tconv.TconvError, match=r"tconv\.conv: the convolution \(even one sample at a time\)"):
            tconv.conv(x, w, b, stride=2, padding=3, groups=2)


def test_gradients_are_checked_against_the_budget():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 4, 8, 8)), rng.standard_normal((4, 3, 3, 3))
    gy = rng.standard_normal((2, 3, 17, 17))
    with tconv.memory_budget("4KiB"):
        with pytest.raises(tconv.TconvError, match=r"tconv\.conv_transpose_backward: .*needs about"):
            conv_transpose_backward(gy, x, w, stride=2)
        with pytest.raises(tconv.TconvError, match=r"tconv\.conv_backward: .*needs about"):
            tconv.conv_backward(rng.standard_normal((2, 3, 3, 3)), x, rng.standard_normal((3, 4, 3, 3)), stride=2)


def test_the_budget_comes_from_the_environment(monkeypatch):
    x, w = np.ones((2, 3, 16, 16)), np.ones((3, 2, 4, 4))
    monkeypatch.setenv("TCONV_MEMORY_BUDGET", "1KiB")
    with pytest.raises(tconv.TconvError, match=r"memory budget of 1\.0 KiB; raise it with TCONV_MEMORY_BUDGET"):
        tconv.conv_transpose(x, w, stride=2)
    with pytest.raises(tconv.TconvError, match="memory budget of 1.0 KiB"):
        tconv.conv(x, np.ones((2, 3, 3, 3)))
    monkeypatch.setenv("TCONV_MEMORY_BUDGET", "none")
    assert tconv.conv_transpose(x, w, stride=2).shape == (2, 2, 34, 34)
    with tconv.memory_budget("1KiB"):  # the context wins over the environment
        with pytest.raises(tconv.TconvError, match="1.0 KiB"):
            tconv.conv_transpose(x, w, stride=2)
