"""tconv.convert to and from PaddlePaddle and MLX: every pair with every other framework, run in the real ones.

Paddle runs in subprocesses (a batch per test, :mod:`paddle_support`); MLX in process.
"""

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("paddle") is None:  # only its presence: Paddle runs in a subprocess
    pytest.skip("paddle is not installed", allow_module_level=True)
mx = pytest.importorskip("mlx.core")

import mlx_support  # noqa: E402
import paddle_support  # noqa: E402
import test_converter as old  # noqa: E402  (its helpers: the five older frameworks' sources and real runs)
from support import assert_close  # noqa: E402

import tconv  # noqa: E402
from tconv import TconvError  # noqa: E402

NEW = ("paddle", "mlx")
ALL = old.FRAMEWORKS + NEW
F32 = np.float32
FIRST = {1: "NCL", 2: "NCHW", 3: "NCDHW"}


def source_paddle(rng, nd):
    n, k, s, d = old.rand_geometry(rng, nd)
    g = int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    kind = rng.integers(0, 4)
    padding = (int(rng.integers(0, 3)) if kind == 0 else [int(v) for v in rng.integers(0, 3, 2 * nd)] if kind == 1
               else str(rng.choice(["SAME", "VALID"])))  # fmt: skip
    desc = dict(framework="paddle", layer=f"Conv{nd}DTranspose", in_channels=c_in, out_channels=c_out, kernel_size=k,
                stride=s, padding=padding, dilation=d, groups=g, bias=bool(rng.random() < 0.7))  # fmt: skip
    if rng.random() < 0.3:
        try:
            base = tconv.compat.paddle.geometry(n, k, s, padding, 0, d, g)
        except TconvError:
            return None
        desc["output_size"] = [L + int(rng.integers(0, si)) for L, si in zip(base.out_size, s)]
    else:
        desc["output_padding"] = [int(rng.integers(0, si)) for si in s]
    w = rng.standard_normal([c_in, c_out // g] + k).astype(F32)
    call = {key: desc[key] for key in ("stride", "padding", "output_padding", "dilation", "groups", "output_size") if key in desc}
    return desc, n, w, c_out, ("paddle", dict(call, data_format=FIRST[nd]))


def source_mlx(rng, nd):
    n, k, s, d = old.rand_geometry(rng, nd)
    layer = rng.random() < 0.5
    g = 1 if layer or nd == 3 else int(rng.choice([1, 2]))
    c_in, c_out = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    ints = lambda lo, his: [int(rng.integers(lo, hi)) for hi in his]  # noqa: E731
    call = dict(stride=s, padding=ints(-1, [di * (ki - 1) + 1 for ki, di in zip(k, d)]), dilation=d,
                output_padding=ints(0, [si + 2 for si in s]), groups=g)  # fmt: skip
    if nd == 1:
        call = {key: v[0] if isinstance(v, list) else v for key, v in call.items()}
    desc = dict(framework="mlx", kernel_size=k, in_channels=c_in, out_channels=c_out, **call)
    if layer:
        desc.update(layer=f"ConvTranspose{nd}d", bias=bool(rng.random() < 0.7))
        del desc["groups"]
    else:
        desc["op"] = f"conv_transpose{nd}d"
    w = rng.standard_normal([c_out] + k + [c_in // g]).astype(F32)

    def run(x, b):
        return old.first(mlx_support.run(call, old.last(x), w, b))

    return desc, n, w, c_out, run


SOURCES = {**old.SOURCES, "paddle": source_paddle, "mlx": source_mlx}


def valid_source(rng, framework, nd):
    while True:
        try:
            case = SOURCES[framework](rng, nd)
        except ValueError:  # test_converter's TF source draws from an empty output_shape range now and then
            continue
        if case is None:
            continue
        try:
            tconv.convert(case[0], "onnx", case[1])
        except TconvError:
            continue  # e.g. an empty output
        return case


def check_pairs(sources, targets, seed, cases):
    """Every source's random layers converted to every target; the targets' outputs equal the source's."""
    rng = np.random.default_rng(seed)
    jobs, paddle_cases = [], []
    for source in sources:
        for case in range(cases):
            nd = 1 + case % 2 if source != "mlx" else 1 + case % 3
            desc, n, w, c_out, run_source = valid_source(rng, source, nd)
            c_in = desc.get("in_channels") or desc.get("filters_shape", [0])[-1]
            x = rng.standard_normal((2, c_in) + tuple(n)).astype(F32)
            with_bias = desc.get("bias", desc.get("use_bias", source in ("paddle", "mlx") and "layer" in desc))
            b = rng.standard_normal(c_out).astype(F32) if with_bias else None
            if isinstance(run_source, tuple):  # Paddle: the reference comes from the batch
                paddle_cases.append(dict(func=f"conv{nd}d_transpose", kwargs=run_source[1], x=x, weight=w, bias=b))
                ref = len(paddle_cases) - 1
            else:
                ref = run_source(x, b)
            for target in targets:
                conv = tconv.convert(desc, target, n)
                wt, bt = conv.convert_weights(w, b)
                inside = None if conv.bias_after else bt
                job = dict(desc=desc, target=target, conv=conv, x=x, b=bt, ref=ref)
                if target == "paddle":
                    paddle_cases.append(dict(func=f"conv{nd}d_transpose", kwargs=conv.arguments, x=x, weight=wt, bias=inside))
                    job["out"] = len(paddle_cases) - 1
                elif target == "mlx":
                    job["out"] = old.first(conv.apply_residual(mlx_support.run(conv.arguments, old.last(x), wt, inside), bt))
                else:
                    job["out"] = old.run_target(conv, x, wt, bt)
                jobs.append(job)
    results = paddle_support.run_batch(paddle_cases) if paddle_cases else []
    for index, (status, value) in enumerate(results):
        assert status == "ok", (paddle_cases[index]["kwargs"], value)
    for job in jobs:
        ref = results[job["ref"]][1] if isinstance(job["ref"], int) else job["ref"]
        out = job["out"]
        if isinstance(out, int):
            out = job["conv"].apply_residual(results[out][1], job["b"])
        assert job["conv"].geometry.out_size == ref.shape[2:], (job["desc"], job["target"])
        assert_close(out, ref, F32)


@pytest.mark.parametrize("source", ALL)
def test_every_framework_to_and_from_paddle_and_mlx_sample(source):
    targets = ALL if source in NEW else NEW
    check_pairs([source], targets, 2100 + sum(map(ord, source)), 3)


@pytest.mark.slow
@pytest.mark.parametrize("source", ALL)
def test_every_framework_to_and_from_paddle_and_mlx_stress(source):
    targets = ALL if source in NEW else NEW
    check_pairs([source], targets, 3100 + sum(map(ord, source)), 30)


def test_both_implement_the_one_interface():
    from tconv import converter
    from tconv.compat import porting
    from tconv.compat.mlx import convert as mlx_port
    from tconv.compat.paddle import convert as paddle_port

    assert converter.FRAMEWORKS[: len(old.FRAMEWORKS)] == old.FRAMEWORKS and set(NEW) <= set(converter.FRAMEWORKS)
    rng = np.random.default_rng(8)
    for port, option in ((paddle_port, "EXPLICIT"), (mlx_port, None)):
        assert port.describe(object()) is None
        desc, n, *_ = valid_source(rng, port.NAME, 2)
        src = port.source(desc, n)
        assert isinstance(src, porting.Source) and src.framework == port.NAME
        assert isinstance(port.target(src), porting.Target)
        for a in src.geometry.axes:
            choice = port.search(a, option)
            assert choice is None or (len(choice) == 2 and len(choice[1]) == 2)


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
    assert_close(old.run_target(conv, x, wt, bt), y, F32)


@pytest.mark.parametrize("desc, size", old.CODE_CASES, ids=["keras-same", "jax-zeros-before", "torch-groups"])
def test_pasted_paddle_and_mlx_code_runs_and_matches(desc, size):
    from tconv.compat import layouts

    rng = np.random.default_rng(2)
    to_torch = tconv.convert(desc, "torch", size)
    c_in, c_out, groups = to_torch.arguments["in_channels"], to_torch.arguments["out_channels"], to_torch.groups
    x = rng.standard_normal((2, c_in) + tuple(size)).astype(F32)
    w_torch = rng.standard_normal((c_in, c_out // groups) + to_torch.geometry.kernel).astype(F32)
    b = rng.standard_normal(c_out).astype(F32) if to_torch.bias else None
    w_src = {"torch": lambda: w_torch, "keras": lambda: layouts.to_keras(w_torch),
             "jax": lambda: layouts.to_jax(w_torch, "HWIO", transpose_kernel=True)}[desc["framework"]]()  # fmt: skip
    ref = old.run_target(to_torch, x, *to_torch.convert_weights(w_src, b))  # real torch, residual applied
    to_paddle, to_mlx = tconv.convert(desc, "paddle", size), tconv.convert(desc, "mlx", size)
    assert to_paddle.residual is not None or to_mlx.residual is not None or desc["framework"] == "torch"
    wp, bp = to_paddle.convert_weights(w_src, b)
    (status, y), = paddle_support.run_batch([dict(code=to_paddle.code, x=x, weight=wp, bias=bp)])
    assert status == "ok", (to_paddle.code, y)
    assert_close(y, ref, F32)
    wm, bm = to_mlx.convert_weights(w_src, b)
    namespace = {"mx": mx, "x": mx.array(old.last(x)), "weight": mx.array(wm), "bias": None if bm is None else mx.array(bm)}
    exec(to_mlx.code, namespace)
    assert_close(old.first(np.array(namespace["y"])), ref, F32)
