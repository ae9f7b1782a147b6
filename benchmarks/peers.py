"""The peers: the same layer in PyTorch, ONNX Runtime, OpenVINO, TensorFlow and JAX.

Each ``make_<peer>(case, x, w)`` returns ``(run, note)``: ``run()`` computes the
layer from inputs already converted to the peer's native layout (conversion is
not timed) and returns a NumPy array in ``(N, C_out, *L)`` layout for the
accuracy check; the layout conversion back happens in ``to_numpy``, outside the
timed call. A peer that refuses the geometry raises :class:`Refused`; one that
is not installed raises ``ImportError``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable, Iterator

import numpy as np

from cases import Case

Runner = Callable[[], object]


class Refused(Exception):
    """The peer does not compute this geometry."""


def make_torch(case: Case, x: np.ndarray, w: np.ndarray, threads: int) -> tuple[Runner, Callable, str]:
    import torch

    torch.set_num_threads(threads)
    fn = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
          3: torch.nn.functional.conv_transpose3d}[case.ndim]
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    kw = case.kwargs()

    def run():
        with torch.inference_mode():
            return fn(xt, wt, **kw)

    return run, lambda y: y.numpy(), f"torch {torch.__version__}"


def onnx_model(case: Case, w: np.ndarray) -> bytes:
    """The layer as one ONNX ``ConvTranspose`` node (opset 17), the weight an initializer: what ONNX Runtime and OpenVINO run."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node(
        "ConvTranspose", ["x", "w"], ["y"],
        strides=list(case.stride), pads=list(case.padding) * 2, output_padding=list(case.output_padding),
        dilations=list(case.dilation), group=case.groups, kernel_shape=list(case.kernel),
    )
    graph = helper.make_graph(
        [node], case.name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(case.x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(case.y_shape))],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, 10)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnxruntime_runner(model: bytes, x: np.ndarray, threads: int) -> tuple[Runner, str]:
    """``run()`` of an ONNX model with input ``x`` by an ONNX Runtime CPU session on ``threads`` threads, and a note.

    Raises :class:`Refused` if ONNX Runtime declines the model.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - report any refusal as such
        raise Refused(str(exc).splitlines()[0][:80]) from None
    feed = {session.get_inputs()[0].name: x}

    def run():
        return session.run(None, feed)[0]

    return run, f"onnxruntime {ort.__version__}"


def make_onnxruntime(case: Case, x: np.ndarray, w: np.ndarray, threads: int) -> tuple[Runner, Callable, str]:
    run, note = onnxruntime_runner(onnx_model(case, w), x, threads)
    return run, lambda y: y, note


@contextlib.contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """The environment variable ``name`` set to ``value`` inside the block, as it was after it."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def import_openvino():
    """``openvino``, imported with its usage telemetry declined.

    ``import openvino`` sends a usage event over the network (the ``openvino_telemetry``
    package) unless the user has opted out with its ``opt_in_out --opt_out``; nothing the
    benchmarks run may reach the network. OpenVINO declines on its own in a CI job, which it
    tells by ``CI=true``: the import runs so, and the variable is restored after. (If
    something imported openvino earlier in the process, that import decided.)
    """
    if "openvino" not in sys.modules:
        with environment("CI", "true"):
            import openvino  # noqa: F401
    return sys.modules["openvino"]


#: OpenVINO's CPU plugin's precision hint defaults to bfloat16 where the CPU has AMX or AVX-512 BF16:
#: the benchmark compares float32, so the precision is asked for and then read back.
OPENVINO_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}


def openvino_runner(model: bytes, x: np.ndarray, threads: int) -> tuple[Runner, str]:
    """``run()`` of an ONNX model with input ``x`` by OpenVINO on the CPU, float32 on ``threads`` threads, and a note.

    Raises :class:`Refused` if OpenVINO declines the model or would not compute it in float32.
    ``run()`` returns the request's own output buffer, which the next call overwrites.
    """
    ov = import_openvino()
    core = ov.Core()
    try:
        compiled = core.compile_model(core.read_model(model), "CPU",
                                      dict(OPENVINO_CONFIG, INFERENCE_NUM_THREADS=threads))
    except Exception as exc:  # noqa: BLE001 - report any refusal as such
        raise Refused(str(exc).splitlines()[0][:80]) from None
    precision = compiled.get_property("INFERENCE_PRECISION_HINT")
    if precision != ov.Type.f32:
        raise Refused(f"compiled for {precision.get_type_name()}, not f32")
    request = compiled.create_infer_request()

    def run():
        # zero copy both ways, OpenVINO's fastest documented use (the copy for the accuracy
        # check, outside the timed call, is the caller's)
        return request.infer({0: x}, share_inputs=True, share_outputs=True)[0]

    return run, f"openvino {ov.__version__.split('-')[0]} (f32)"


def make_openvino(case: Case, x: np.ndarray, w: np.ndarray, threads: int) -> tuple[Runner, Callable, str]:
    run, note = openvino_runner(onnx_model(case, w), x, threads)
    return run, np.array, note


def make_tensorflow(case: Case, x: np.ndarray, w: np.ndarray, threads: int) -> tuple[Runner, Callable, str]:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised by an earlier case
    nd = case.ndim
    # channels last: x (N, *n, C_in); TF's transposed-conv filter is (*k, C_out, C_in)
    xt = tf.constant(np.moveaxis(x, 1, -1).copy())
    full = tuple((n - 1) * s + d * (k - 1) + 1 for n, k, s, d in zip(case.size, case.kernel, case.stride, case.dilation))
    lo = case.padding
    out = case.out_size
    note = f"tensorflow {tf.__version__}"
    if case.groups > 1:
        if case.groups != case.c_in or case.c_out != case.c_in or nd != 2:
            raise Refused("grouped transposed conv")
        # depthwise: the transposed conv is the input gradient of a depthwise conv
        ft = tf.constant(np.moveaxis(w.reshape((case.c_in,) + case.kernel), 0, -1)[..., None].copy())
        pads = [[0, 0]] + [[p, p - op] for p, op in zip(lo, case.output_padding)] + [[0, 0]]
        if any(b < 0 for _, b in pads):
            raise Refused("negative explicit padding")
        shape = tf.constant((case.batch,) + out + (case.c_out,))

        def run():
            return tf.compat.v1.nn.depthwise_conv2d_native_backprop_input(
                shape, ft, xt, strides=[1, *case.stride, 1], padding=pads, dilations=[1, *case.dilation, 1])

        return run, lambda y: np.moveaxis(y.numpy(), -1, 1), note + " (depthwise backprop_input)"
    ft = tf.constant(np.moveaxis(np.moveaxis(w, 0, -1), 0, -2).copy())
    if nd == 2:
        pads = [[0, 0]] + [[p, p - op] for p, op in zip(lo, case.output_padding)] + [[0, 0]]
        if any(b < 0 for _, b in pads):
            raise Refused("negative explicit padding")
        shape = (case.batch,) + out + (case.c_out,)

        def run():
            return tf.nn.conv2d_transpose(xt, ft, shape, list(case.stride), pads, dilations=list(case.dilation))

        return run, lambda y: np.moveaxis(y.numpy(), -1, 1), note
    # 1-D and 3-D take only 'VALID'/'SAME': compute the full result, crop the window (timed)
    if any(p + L > f for p, L, f in zip(lo, out, full)):
        raise Refused("window past the full result")
    shape = (case.batch,) + full + (case.c_out,)
    crop = (slice(None),) + tuple(slice(p, p + L) for p, L in zip(lo, out)) + (slice(None),)
    op_fn = tf.nn.conv1d_transpose if nd == 1 else tf.nn.conv3d_transpose
    strides = list(case.stride) if nd == 1 else [1, *case.stride, 1]
    dil = list(case.dilation) if nd == 1 else [1, *case.dilation, 1]

    def run():
        return op_fn(xt, ft, shape, strides, "VALID", dilations=dil)[crop]

    return run, lambda y: np.moveaxis(y.numpy(), -1, 1), note + " (VALID + crop)"


def make_jax(case: Case, x: np.ndarray, w: np.ndarray, threads: int) -> tuple[Runner, Callable, str]:
    import jax
    from jax import lax

    jax.config.update("jax_enable_x64", False)
    nd = case.ndim
    g = case.groups
    # the conv layout (C_out, C_in/g, *k), flipped: the lhs-dilated correlation is the transposed conv
    k = case.kernel
    wc = w.reshape((g, case.c_in // g, case.c_out // g) + k).swapaxes(1, 2).reshape((case.c_out, case.c_in // g) + k)
    wc = np.ascontiguousarray(wc[(Ellipsis,) + (slice(None, None, -1),) * nd])
    full = tuple((n - 1) * s + d * (kk - 1) + 1 for n, kk, s, d in zip(case.size, k, case.stride, case.dilation))
    pads = [(d * (kk - 1) - p, L + p - f + d * (kk - 1))
            for kk, d, p, L, f in zip(k, case.dilation, case.padding, case.out_size, full)]
    spatial = "DHW"[-nd:] if nd <= 3 else None
    dn = lax.conv_dimension_numbers(x.shape, wc.shape, ("NC" + spatial, "OI" + spatial, "NC" + spatial))
    fn = jax.jit(lambda a, b: lax.conv_general_dilated(
        a, b, (1,) * nd, pads, lhs_dilation=case.stride, rhs_dilation=case.dilation,
        dimension_numbers=dn, feature_group_count=g))
    xj, wj = jax.device_put(x), jax.device_put(wc)

    def run():
        return fn(xj, wj).block_until_ready()

    return run, lambda y: np.asarray(y), f"jax {jax.__version__}"


PEERS: dict[str, Callable] = {
    "torch": make_torch,
    "onnxruntime": make_onnxruntime,
    "openvino": make_openvino,
    "tensorflow": make_tensorflow,
    "jax": make_jax,
}
