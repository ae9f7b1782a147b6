"""``tconv tour``: the articles' worked examples, through every algorithm, with their shape derivations."""

from __future__ import annotations

import numpy as np

from . import geometry as geo
from .algorithms import ALGORITHMS, backend
from .ops import conv_matrix, conv_transpose
from .text import grid


def _agreement(x: np.ndarray, w: np.ndarray, **kwargs) -> tuple[np.ndarray, str]:
    """The result by ``scatter`` and one line per algorithm with its largest difference from it."""
    reference = conv_transpose(x, w, algorithm="scatter", **kwargs)
    cells = []
    for name in ALGORITHMS:
        diff = np.abs(conv_transpose(x, w, algorithm=name, **kwargs) - reference).max()
        cells.append(f"{name} {diff:.0e}")
    return reference, "  every algorithm, max |difference| from scatter: " + ", ".join(cells)


def _grid(a: np.ndarray) -> str:
    return "\n".join("    " + line for line in grid(a).splitlines())


def _example(title: str, x: np.ndarray, w: np.ndarray, **kwargs) -> list[str]:
    y, agree = _agreement(x, w, **kwargs)
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "stride 1, no padding"
    lines = [title, f"  x {x.shape[2:]} with kernel {w.shape[2:]}, {args}:", "  x =", _grid(x[0, 0]), "  kernel ="]
    lines += [_grid(w[0, 0]), "  result ="]
    lines += [_grid(y[0, 0]), agree]
    explanation = geo.explain(x.shape[2:], w.shape[2:], **kwargs)
    lines += ["  " + line for line in explanation.axes[0].text(0).splitlines()]
    return lines


def tour() -> str:
    """The text ``tconv tour`` prints (every number computed now, none stored)."""
    out = ["tconv tour: transposed convolution by hand, checked by every algorithm", ""]
    out += _example(
        "1. A 2x2 input of ones, a 4x4 kernel of ones, stride 2, padding 1 (the DCGAN layer's geometry):",
        np.ones((1, 1, 2, 2)),
        np.ones((1, 1, 4, 4)),
        stride=2,
        padding=1,
    )
    out.append("")
    out += _example(
        "2. The articles' hand-worked example: x = [[1,0],[2,1]], kernel [[1,0,1],[0,1,1],[1,0,0]]:",
        np.array([[[[1, 0], [2, 1]]]]),
        np.array([[[[1, 0, 1], [0, 1, 1], [1, 0, 0]]]]),
    )
    out += ["", "3. Shapes: x (8, 2, 2, 2), weight (2, 3, 3, 3)"]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((8, 2, 2, 2)), rng.standard_normal((2, 3, 3, 3))
    for kwargs in ({}, {"padding": 1}, {"stride": 2, "padding": 1, "output_padding": 1}):
        y, agree = _agreement(x, w, **kwargs)
        label = ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "no padding"
        s, p, op = kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("output_padding", 0)
        n_out = geo.output_size(2, 3, **kwargs)[0]
        out.append(f"  {label:<38} -> {y.shape}: (2-1)*{s} - 2*{p} + (3-1) + {op} + 1 = {n_out}")
        out.append("  " + agree)
    out += ["", "4. The Keras MNIST DCGAN generator: 7x7 -> 7x7 -> 14x14 -> 28x28 (kernel 5; strides 1, 2, 2)"]
    size = 7
    for stride, op in ((1, 0), (2, 1), (2, 1)):
        new = geo.output_size(size, 5, stride=stride, padding=2, output_padding=op)[0]
        out.append(
            f"  stride {stride}, padding 2, output_padding {op}: ({size}-1)*{stride} - 4 + 4 + {op} + 1 = {new}"
        )
        size = new
    out.append("  (TF 'same' crops 1 at the start and 2 at the end for the stride-2 layers: same shape, shifted values)")
    out += ["", "5. The convolution matrix: a 3x3 conv over a 4x4 input is C (4x16); the transposed conv is C^T (16x4)"]
    w = np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3)
    c = conv_matrix((1, 4, 4), w)
    x = rng.standard_normal((1, 1, 2, 2))
    by_matrix = (c.T @ x.ravel()).reshape(4, 4)
    diff = np.abs(by_matrix - conv_transpose(x, w)[0, 0]).max()
    out.append(f"  C has shape {c.shape}; C^T x equals conv_transpose(x) to {diff:.0e} (`tconv matrix` prints C)")
    out += ["", "6. Speed: `auto` picks a formulation by a cost model (docs/performance.md); the passes around its GEMMs"]
    kernels = backend()
    out.append(
        f"  run compiled here ({kernels}; TCONV_KERNELS=numpy selects pure NumPy)" if kernels != "numpy"
        else '  run in pure NumPy here (pip install "tconv[fast]" adds compiled loops for them)'
    )
    out.append("")
    out.append("Next: `tconv explain -i 2,2 -k 3 -s 2 -p 1 --output-padding 1`, `tconv solve -i 7 -k 5 -s 2 --target 14`.")
    return "\n".join(out)
