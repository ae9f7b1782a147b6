"""The articles' worked examples, by every algorithm."""

from __future__ import annotations

import numpy as np
import pytest

import tconv


@pytest.mark.parametrize("algorithm", tconv.ALGORITHMS)
def test_ones_2x2_with_4x4_kernel_stride_2_padding_1(algorithm):
    y = tconv.conv_transpose(np.ones((1, 1, 2, 2)), np.ones((1, 1, 4, 4)), stride=2, padding=1, algorithm=algorithm)
    np.testing.assert_allclose(y[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]], atol=1e-12)


@pytest.mark.parametrize("algorithm", tconv.ALGORITHMS)
def test_hand_worked_2x2_with_3x3_kernel(algorithm):
    x = [[[[1, 0], [2, 1]]]]
    w = [[[[1, 0, 1], [0, 1, 1], [1, 0, 0]]]]
    y = tconv.conv_transpose(x, w, algorithm=algorithm)
    np.testing.assert_allclose(y[0, 0], [[1, 0, 1, 0], [2, 2, 3, 1], [1, 2, 3, 1], [2, 1, 0, 0]], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({}, (8, 3, 4, 4)),
        ({"padding": 1}, (8, 3, 2, 2)),
        ({"stride": 2, "padding": 1, "output_padding": 1}, (8, 3, 4, 4)),
    ],
)
def test_batch_of_eight_shapes(kwargs, shape):
    rng = np.random.default_rng(0)
    assert tconv.conv_transpose(rng.standard_normal((8, 2, 2, 2)), rng.standard_normal((2, 3, 3, 3)), **kwargs).shape == shape


def test_keras_dcgan_generator_shapes_7_7_14_28():
    size, sizes = 7, [7]
    for stride, op in ((1, 0), (2, 1), (2, 1)):
        (size,) = tconv.output_size(size, 5, stride=stride, padding=2, output_padding=op)
        sizes.append(size)
    assert sizes == [7, 7, 14, 28]


def test_dcgan_stride_1_layer_equals_tf_same_in_values():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 7))
    w = rng.standard_normal((3, 4, 5, 5))  # (C_in, C_out, kh, kw)
    ours = tconv.conv_transpose(x, w, stride=1, padding=2)
    theirs = tf.nn.conv2d_transpose(
        x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), output_shape=(2, 7, 7, 4), strides=1, padding="SAME"
    ).numpy().transpose(0, 3, 1, 2)
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_dcgan_stride_2_layer_differs_from_tf_same_by_a_shift():
    """Same shape as TF 'same', but TF crops 1 at the start and 2 at the end (the conventions issue's job)."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 7, 7))
    w = rng.standard_normal((2, 3, 5, 5))
    ours = tconv.conv_transpose(x, w, stride=2, padding=2, output_padding=1)
    theirs = tf.nn.conv2d_transpose(
        x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), output_shape=(1, 14, 14, 3), strides=2, padding="SAME"
    ).numpy().transpose(0, 3, 1, 2)
    assert ours.shape == theirs.shape
    assert not np.allclose(ours, theirs)
    # the window starting 1 into y_full, not 2, is TF's
    shifted = tconv.conv_transpose(x, w, stride=2, padding=((1, 2), (1, 2)), output_padding=0)
    np.testing.assert_allclose(shifted, theirs, atol=1e-9)


def test_articles_conv_matrix_is_4_by_16():
    c = tconv.conv_matrix((1, 4, 4), np.ones((1, 1, 3, 3)))
    assert c.shape == (4, 16) and c.T.shape == (16, 4)
    assert c.nnz == 36
