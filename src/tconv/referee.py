"""Where the frameworks disagree about the same transposed-conv layer: the checked-in referee data.

``scripts/referee.py`` runs PyTorch, TensorFlow, Keras (JAX backend), JAX,
the ONNX spec text (through :mod:`tconv.compat.onnx`), ``onnx.reference``,
ONNX Runtime, OpenVINO (CPU plugin) and LiteRT over a grid of 1-D layers and keeps every layer on which their
outcomes differ; :func:`disagreements` returns that file.

A layer is a padding *concept* a user would name the same in every framework:

=======================  ===================================================================
concept                  the call each framework gets
=======================  ===================================================================
``same``                 TF/Keras/JAX/LiteRT ``SAME``, ONNX ``auto_pad=SAME_UPPER``, OpenVINO
                         ``auto_pad="same_upper"`` (no ``output_shape``); PyTorch (no
                         "same") the usual port: ``padding=(k_eff-1)//2`` and the
                         ``output_padding`` that reaches ``n*s``
``valid``                TF/Keras/JAX/LiteRT ``VALID``, ONNX and OpenVINO ``valid``, PyTorch ``padding=0``
``same+output_padding``  Keras ``same`` with ``output_padding``, ONNX ``SAME_UPPER`` and
                         OpenVINO ``same_upper`` with it, PyTorch's port with it added
``padding=p``            PyTorch ``padding=p, output_padding``, TF explicit ``[p, p]`` with the
                         matching ``output_shape``, ONNX ``pads=[p, p]``, OpenVINO
                         ``pads_begin=pads_end=[p]``, JAX the pair ``(p, p)``
                         as typed (JAX reads it as the padding of the zero-inserted input)
``output_shape=L``       TF and LiteRT ``SAME`` with ``output_shape=L``, ONNX ``output_shape=[L]``,
                         OpenVINO's ``output_shape`` input ``[L]`` (``explicit``, pads 0), Paddle
                         ``"SAME"`` with ``output_size=L``
=======================  ===================================================================

Paddle gets its own ``"SAME"`` / ``"VALID"`` (plus ``output_padding``) and
``padding=p, output_padding``; MLX (no padding strings) PyTorch's calls,
``padding=p, output_padding`` and the usual "same" port.

Each framework's cell is ``length@start``: the output is ``y_full[start :
start + length]`` of the full scatter result ``y_full[i*s + j*d] += x[i] *
w[j]`` (a negative start means zeros before it), or ``refused``, or ``n/a``
(no such call), or ``other`` (no window of ``y_full`` at all). LiteRT has no
dilation and no explicit pads (``n/a`` there); it runs with its default XNNPACK delegate.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

__all__ = ["disagreements", "FRAMEWORKS", "PARAMETERS"]

#: The outcome columns, one per framework (or runtime) the referee runs.
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "onnx_spec", "onnx_reference", "onnxruntime", "paddle", "mlx",
              "openvino", "litert")
#: The columns describing the layer; the integer ones are ``None`` where the concept has no such value.
PARAMETERS = ("concept", "n", "k", "s", "d", "padding", "output_padding", "output_shape")

_FILE = "disagreements.csv"


def disagreements() -> list[dict]:
    """Every layer of the referee's grid on which the frameworks give different outcomes.

    Returns
    -------
    list of dict
        One dict per layer with the keys :data:`PARAMETERS` (``n``, ``k``, ``s``,
        ``d`` ints; ``padding``, ``output_padding``, ``output_shape`` ints or
        ``None``) and :data:`FRAMEWORKS` (strings ``"length@start"``,
        ``"refused"``, ``"n/a"`` or ``"other"``).

    Examples
    --------
    TF/Keras ``same`` with stride 2 and a 3-tap kernel starts one element
    earlier than PyTorch's usual port (``padding=1, output_padding=1``):

    >>> row = next(r for r in disagreements() if r["concept"] == "same" and (r["k"], r["s"], r["d"]) == (3, 2, 1))
    >>> row["torch"], row["tensorflow"], row["keras"], row["onnx_spec"]
    ('6@1', '6@0', '6@0', '6@0')
    """
    text = resources.files("tconv").joinpath("data").joinpath(_FILE).read_text(encoding="utf-8")
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict = {"concept": raw["concept"]}
        for key in PARAMETERS[1:]:
            row[key] = int(raw[key]) if raw[key] else None
        row.update((name, raw[name]) for name in FRAMEWORKS)
        rows.append(row)
    return rows
