"""Bad input: one clear error naming the function, the argument, the allowed range and the value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tconv

X = np.ones((1, 4, 5, 5))
W = np.ones((4, 3, 3, 3))

# (keyword arguments, pieces the message must contain, whether torch refuses it too)
BAD_VALUES = [
    (dict(stride=0), ["tconv.conv_transpose", "stride", ">= 1", "0"], True),
    (dict(stride=(2, -1)), ["stride", ">= 1", "(2, -1)"], True),
    (dict(dilation=0), ["dilation", ">= 1", "0"], True),
    (dict(padding=-1), ["padding", ">= 0", "-1"], True),
    (dict(padding=((0, -2), 0)), ["padding", ">= 0", "-2"], False),
    (dict(stride=2, output_padding=2), ["output_padding", "[0, 1]", "got 2"], True),
    (dict(output_padding=-1), ["output_padding", ">= 0", "-1"], True),
    (dict(groups=3), ["groups", "divide C_in = 4", "groups=3"], True),
    (dict(groups=0), ["groups", ">= 1", "0"], True),
    (dict(stride=(1, 2, 3)), ["stride", "2 ints", "(1, 2, 3)"], True),
    (dict(padding=(1, 2, 3)), ["padding", "one entry per spatial dim (2)", "(1, 2, 3)"], True),
    (dict(padding=4), ["empty", "axis 0", ">= 1"], True),
    (dict(algorithm="strassen"), ["algorithm", "'auto'", "'winograd'", "'strassen'"], None),
]


@pytest.mark.parametrize("kwargs, pieces, torch_refuses", BAD_VALUES)
def test_bad_values_raise_tconv_error(kwargs, pieces, torch_refuses):
    with pytest.raises(tconv.TconvError) as info:
        tconv.conv_transpose(X, W, **kwargs)
    assert isinstance(info.value, ValueError)
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))
    if torch_refuses:  # both refuse the same bad input
        torch_kwargs = {k: v for k, v in kwargs.items() if k != "algorithm"}
        with pytest.raises((RuntimeError, ValueError, TypeError)):
            torch.nn.functional.conv_transpose2d(torch.from_numpy(X), torch.from_numpy(W), **torch_kwargs)


def test_asymmetric_padding_spelling_hint_for_one_dim():
    with pytest.raises(tconv.TconvError, match=r"padding=\(\(1, 2\),\)"):
        tconv.conv_transpose(np.ones((1, 1, 4)), np.ones((1, 1, 3)), padding=(1, 2))
    assert tconv.conv_transpose(np.ones((1, 1, 4)), np.ones((1, 1, 3)), padding=((1, 2),)).shape == (1, 1, 3)


@pytest.mark.parametrize(
    "x, w, b, pieces",
    [
        (np.ones((1, 3, 5, 5)), W, None, ["weight.shape[0]", "C_in", "3", "(4, 3, 3, 3)"]),
        (X, W, np.ones(4), ["bias", "(3,)", "(4,)"]),
        (X, np.ones((4, 3, 3)), None, ["weight", "4 dims", "(4, 3, 3)"]),
        (np.ones((4, 5)), W, None, ["x", "(N, C, *spatial)", "(4, 5)"]),
        (X, np.ones((4, 0, 3, 3)), None, ["weight", "empty", "(4, 0, 3, 3)"]),
    ],
)
def test_bad_shapes(x, w, b, pieces):
    with pytest.raises(tconv.TconvError) as info:
        tconv.conv_transpose(x, w, b)
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))


@pytest.mark.parametrize("bad", ["abc", [["a"]], np.array([1 + 2j]), None, [[1, 2], [3]], {"a": 1}])
def test_non_numeric_input_is_a_type_error(bad):
    with pytest.raises(TypeError, match="tconv.conv_transpose: x"):
        tconv.conv_transpose(bad, W)


@pytest.mark.parametrize("kwargs", [dict(stride=1.5), dict(stride="2"), dict(padding=(1.0, 0)), dict(groups=2.0), dict(dilation=True)])
def test_wrong_argument_types_are_type_errors(kwargs):
    with pytest.raises(TypeError, match="tconv.conv_transpose"):
        tconv.conv_transpose(X, W, **kwargs)


def test_conv_errors_name_conv():
    with pytest.raises(tconv.TconvError, match=r"tconv.conv: x.shape\[1\] must equal C_in"):
        tconv.conv(np.ones((1, 5, 6, 6)), W)
    with pytest.raises(tconv.TconvError, match="tconv.conv: the output would be empty"):
        tconv.conv(np.ones((1, 3, 2, 2)), W)
    with pytest.raises(tconv.TconvError, match="tconv.conv: groups must divide C_out"):
        tconv.conv(np.ones((1, 9, 6, 6)), W, groups=3)


def test_shape_function_errors_name_themselves():
    with pytest.raises(tconv.TconvError, match="tconv.output_size: stride"):
        tconv.output_size(4, 3, stride=0)
    with pytest.raises(tconv.TconvError, match="tconv.solve_padding: kernel_size"):
        tconv.solve_padding(4, 8, 0)
    with pytest.raises(tconv.TconvError, match="tconv.conv_input_sizes: padding"):
        tconv.conv_input_sizes(4, 3, padding=-1)
    with pytest.raises(tconv.TconvError, match="tconv.output_size: per-axis arguments disagree"):
        tconv.output_size((4, 4), (3, 3, 3))
    with pytest.raises(tconv.TconvError, match="tconv.conv_matrix: input_shape"):
        tconv.conv_matrix((2, 4, 4), np.ones((1, 1, 3, 3)))
