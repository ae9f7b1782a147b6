"""tconv.convert to and from PaddlePaddle and MLX: every pair with every other framework, run in the real ones.

Paddle runs in subprocesses (a batch per check, :mod:`paddle_support`); MLX in process.
"""

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("paddle") is None:  # only its presence: Paddle runs in a subprocess
    pytest.skip("paddle is not installed", allow_module_level=True)
mx = pytest.importorskip("mlx.core")

import paddle_support  # noqa: E402
from converter_support import (CODE_CASES, CODE_IDS, F32, FRAMEWORKS, check_interface, check_pairs, code_case,  # noqa: E402
                               first, last, run_target)  # fmt: skip
from support import assert_close  # noqa: E402

import tconv  # noqa: E402

NEW = ("paddle", "mlx")
ALL = FRAMEWORKS + NEW


@pytest.mark.parametrize("source", ALL)
def test_every_framework_to_and_from_paddle_and_mlx_sample(source):
    targets = ALL if source in NEW else NEW
    check_pairs([(source, targets)], 2100 + sum(map(ord, source)), 3)


@pytest.mark.slow
@pytest.mark.parametrize("source", ALL)
def test_every_framework_to_and_from_paddle_and_mlx_stress(source):
    targets = ALL if source in NEW else NEW
    check_pairs([(source, targets)], 3100 + sum(map(ord, source)), 30, isolate=True)


def test_both_implement_the_one_interface():
    assert tconv.converter.FRAMEWORKS[: len(FRAMEWORKS)] == FRAMEWORKS and set(NEW) <= set(tconv.converter.FRAMEWORKS)
    check_interface("paddle", "EXPLICIT")
    check_interface("mlx")


def test_paddle_same_with_dilation_is_not_ported_as_same():
    # Paddle's SAME drops the dilation: a dilated TF SAME layer must become explicit pads in Paddle
    desc = {"framework": "tensorflow", "op": "conv1d_transpose", "filters_shape": [3, 1, 1], "strides": 1,
            "padding": "SAME", "dilations": 2}  # fmt: skip
    conv = tconv.convert(desc, "paddle", 5)
    assert conv.arguments["padding"] != "SAME" and conv.arguments["dilation"] == [2]


def test_live_mlx_layer_is_read_and_paddle_layer_described_in_its_process():
    import mlx.nn

    layer = mlx.nn.ConvTranspose2d(3, 4, (3, 2), stride=2, padding=1, output_padding=1, bias=False)
    conv = tconv.convert(layer, "torch", (5, 5))
    assert conv.arguments["in_channels"] == 3 and conv.arguments["out_channels"] == 4 and conv.arguments["bias"] is False
    rng = np.random.default_rng(1)
    w, x = rng.standard_normal((3, 4, 3, 3)).astype(F32), rng.standard_normal((1, 3, 4, 4)).astype(F32)
    case = dict(layer="Conv2DTranspose", kwargs=dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=[1, 0, 0, 1],
                groups=1), weight=w, bias=np.zeros(4, F32), x=x, output_size=[9, 8])  # fmt: skip
    (status, value), = paddle_support.run_batch([case])
    assert status == "ok", value
    desc, y = value
    desc = dict(desc, output_size=[9, 8])
    conv = tconv.convert(desc, "torch", (4, 4))
    wt, bt = conv.convert_weights(w, np.zeros(4, F32))
    assert_close(run_target(conv, x, wt, bt), y, F32)


@pytest.mark.parametrize("desc, size", CODE_CASES, ids=CODE_IDS)
def test_pasted_paddle_and_mlx_code_runs_and_matches(desc, size):
    x, w, b, ref = code_case(desc, size, 2)
    to_paddle, to_mlx = tconv.convert(desc, "paddle", size), tconv.convert(desc, "mlx", size)
    assert to_paddle.residual is not None or to_mlx.residual is not None or desc["framework"] == "torch"
    wp, bp = to_paddle.convert_weights(w, b)
    (status, y), = paddle_support.run_batch([dict(code=to_paddle.code, x=x, weight=wp, bias=bp)])
    assert status == "ok", (to_paddle.code, y)
    assert_close(y, ref, F32)
    wm, bm = to_mlx.convert_weights(w, b)
    namespace = {"mx": mx, "x": mx.array(last(x)), "weight": mx.array(wm), "bias": None if bm is None else mx.array(bm)}
    exec(to_mlx.code, namespace)
    assert_close(first(np.array(namespace["y"])), ref, F32)
