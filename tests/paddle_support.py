"""The real PaddlePaddle as an oracle, always in a subprocess: importing it after TensorFlow crashes the interpreter.

:func:`run_batch` sends many cases to one fresh interpreter (Paddle takes about
a second to import), :func:`run` one converter target's call. Each case is a
dict: ``func`` (``conv2d_transpose``, ...), ``kwargs`` (the function's own
keyword arguments) and the arrays ``x``, ``weight``, ``bias``; or, with
``layer`` (``Conv2DTranspose``, ...), a layer built from ``kwargs`` with
``weight``/``bias`` copied in, described by ``tconv.compat.paddle.convert.describe``
and run on ``x`` (``output_size`` forwarded to its call); or, with ``code``, that code run with
``paddle``, ``x``, ``weight`` and ``bias`` defined, its ``y`` returned.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np

_WORKER = r"""
import os, pickle, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
import paddle
import paddle.nn.functional as F

paddle.set_device("cpu")
with open(sys.argv[1], "rb") as f:
    cases = pickle.load(f)


def tensor(v):
    return None if v is None else paddle.to_tensor(v)


results = []
for case in cases:
    try:
        if "code" in case:  # a converter's pasted code, run as written
            namespace = {"paddle": paddle, "x": tensor(case["x"]), "weight": tensor(case["weight"]),
                         "bias": tensor(case.get("bias"))}
            exec(case["code"], namespace)
            results.append(("ok", namespace["y"].numpy()))
        elif "layer" in case:
            from tconv.compat.paddle import convert as port

            layer = getattr(paddle.nn, case["layer"])(**case["kwargs"])
            with paddle.no_grad():
                layer.weight.set_value(case["weight"])
                if layer.bias is not None and case.get("bias") is not None:
                    layer.bias.set_value(case["bias"])
            call = {} if case.get("output_size") is None else {"output_size": case["output_size"]}
            y = layer(tensor(case["x"]), **call).numpy() if case.get("x") is not None else None
            results.append(("ok", (port.describe(layer), y)))
        else:
            fn = getattr(F, case["func"])
            y = fn(tensor(case["x"]), tensor(case["weight"]), tensor(case.get("bias")), **case["kwargs"])
            results.append(("ok", y.numpy()))
    except Exception as exc:  # every refusal, recorded: the tests compare them with tconv's
        results.append(("error", f"{type(exc).__name__}: {exc}"))
with open(sys.argv[2], "wb") as f:
    pickle.dump(results, f)
"""


def run_batch(cases: list[dict], timeout: float = 600) -> list[tuple[str, object]]:
    """Every case in one Paddle subprocess: ``("ok", array)`` or ``("error", message)`` per case."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.pkl"), os.path.join(tmp, "out.pkl")
        with open(inp, "wb") as f:
            pickle.dump(cases, f)
        done = subprocess.run([sys.executable, "-c", _WORKER, inp, out], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "GLOG_minloglevel": "3"})  # fmt: skip
        if done.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"the Paddle subprocess failed ({done.returncode}): {done.stderr[-3000:]}")
        with open(out, "rb") as f:
            return pickle.load(f)


def run(arguments: dict, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``paddle.nn.functional.conv{nd}d_transpose(x, w, b, **arguments)`` in the real Paddle (``nd = x.ndim - 2``).

    ``arguments`` are the function's own keyword arguments (a converter
    :class:`~tconv.compat.porting.Target`'s ``arguments``); the arrays are in
    Paddle's layout (``weight`` ``(C_in, C_out/groups, *k)``, data as ``data_format``).
    """
    nd = np.ndim(x) - 2
    case = dict(func=f"conv{nd}d_transpose", kwargs=dict(arguments), x=np.asarray(x), weight=np.asarray(w),
                bias=None if b is None else np.asarray(b))  # fmt: skip
    status, value = run_batch([case])[0]
    if status != "ok":
        raise RuntimeError(f"Paddle refused {arguments!r}: {value}")
    return value
