"""Learning Deconvolutional Networks (tconv.deconvnet.learn): monotone epochs, reconstruction from the top
layer, exact filter gradients, the paper's connectivity, and refusals."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv import TconvError
from tconv.deconvnet import learn, synthesize
from tconv.deconvnet.learn import _filter_gradient, pair_connectivity, psnr


def images(seed=0, n=2, size=12, k=3, maps=4):
    """Images made of a few random filters placed sparsely: what a Deconvolutional Network can explain."""
    rng = np.random.default_rng(seed)
    filters = rng.standard_normal((maps, 1, k, k))
    z = (rng.random((n, maps, size + k - 1, size + k - 1)) < 0.05) * rng.standard_normal((n, maps, size + k - 1,
                                                                                            size + k - 1))
    return tconv.conv_transpose(z, filters, padding=k - 1, algorithm="col2im")


@pytest.fixture(scope="module")
def two_layers():
    log = []
    model = learn(images(), 4, 3, 20.0, layers=2, epochs=4, max_iter=20, filter_steps=2, rng=0, callback=log.append,
                  progress=False)
    return model, log


def test_each_layers_objective_never_increases(two_layers):
    model, log = two_layers
    y = images()
    for number, layer in enumerate(model.layers, 1):
        values = [e.objective for e in layer.history]
        assert len(values) == 4 and [e.epoch for e in layer.history] == [1, 2, 3, 4]
        below = y if number == 1 else model.layers[0].maps
        start = layer.lam / 2 * float(np.sum(below ** 2))  # the all-zero maps
        assert values[0] < start
        assert all(b <= a for a, b in zip(values, values[1:])), values
        assert values[-1] < values[0]  # the filters learned something
    assert log == model.layers[0].history + model.layers[1].history


def test_reconstruction_from_layer_two_beats_zero_maps_by_10_db(two_layers):
    model, _ = two_layers
    y = images()
    from_top = model.reconstruct()
    assert from_top.shape == y.shape
    zero = psnr(y, np.zeros_like(y), model.peak)
    got = psnr(y, from_top, model.peak)
    assert got >= zero + 10, (got, zero)
    assert model.layers[1].history[-1].psnr == pytest.approx(got)
    # the layer-1 reconstruction is the reconstruction through layer 1's maps only
    assert psnr(y, model.reconstruct(layer=1), model.peak) == pytest.approx(model.layers[0].history[-1].psnr)


def test_filters_have_unit_norm_and_maps_are_sparse(two_layers):
    model, _ = two_layers
    for layer in model.layers:
        norms = np.sqrt(np.sum(layer.filters ** 2, axis=(2, 3)))
        np.testing.assert_allclose(norms, 1.0, rtol=1e-12)
        nonzero = layer.history[-1].nonzero
        assert 0 < nonzero < 1 and nonzero == np.count_nonzero(layer.maps) / layer.maps.size


@pytest.mark.parametrize("boundary, stride", [("zero", 1), ("zero", 2), ("valid", 1), ("valid", 2),
                                              ("circular", 1), ("circular", 2)])
def test_filter_gradient_is_the_synthesis_adjoint(boundary, stride):
    """<synthesize(z, f), r> = <f, gradient(z, r)>: the filter step's gradient is exact for this synthesis."""
    rng = np.random.default_rng(stride)
    # circular images must divide by the stride (the periodic geometry's own rule, refused otherwise)
    y_shape, k = ((2, 3, 10, 8) if boundary == "circular" else (2, 3, 10, 9)), (3, 4)
    f = rng.standard_normal((5, 3) + k)
    sizes = {
        "zero": [-(-(n + kk - 2) // stride) + 1 for n, kk in zip(y_shape[2:], k)],
        "valid": [(n - kk) // stride + 1 for n, kk in zip(y_shape[2:], k)],
        "circular": [n // stride for n in y_shape[2:]],
    }[boundary]
    z = rng.standard_normal((2, 5) + tuple(sizes))
    image = synthesize(z, f, boundary=boundary, stride=stride, image_shape=y_shape[2:])
    r = rng.standard_normal(image.shape)
    assert image.shape == y_shape
    lhs = float(np.vdot(image, r))
    rhs = float(np.vdot(f, _filter_gradient(z, r, k, boundary, (stride, stride))))
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_pairs_connectivity_keeps_unconnected_filters_zero():
    g = pair_connectivity(3)
    assert g.shape == (6, 3) and g.sum() == 3 + 2 * 3
    model = learn(images(), [3, 6], 3, 20.0, layers=2, g="pairs", epochs=1, max_iter=10, rng=1, progress=False)
    top = model.layers[1]
    np.testing.assert_array_equal(top.g, g)
    assert np.all(top.filters[g == 0] == 0) and np.all(np.abs(top.filters[g == 1]).sum(axis=(1, 2)) > 0)


def test_progress_line_goes_to_stderr(capsys):
    learn(images(), 2, 3, 10.0, epochs=2, max_iter=5, rng=0, progress=True)
    err = capsys.readouterr().err
    assert "layer 1/1 epoch 2/2 [####################]" in err and "PSNR=" in err and "nonzero=" in err


@pytest.mark.parametrize("kwargs, message", [
    (dict(boundary="same"), r"boundary must be one of 'zero', 'valid', 'circular'; got 'same'"),
    (dict(layers=2, n_filters=[4, 4, 4]), r"n_filters must be one value or one per layer \(2\); got 3 values"),
    (dict(layers=2, g="pairs"), r"g='pairs' on layer 2 needs n_filters = 10"),
    (dict(layers=2, g=np.ones((4, 3))), r"g of layer 2 must be 0/1 of shape \(4, 4\)"),
    (dict(lam=0.0), r"lam must be > 0"),
    (dict(epochs=0), r"epochs must be >= 1"),
])
def test_bad_arguments_are_refused(kwargs, message):
    args = dict(images=images(), n_filters=4, kernel_size=3, lam=1.0, progress=False)
    args.update(kwargs)
    with pytest.raises(TconvError, match=r"tconv\.deconvnet\.learn: " + message):
        learn(**args)


def test_bad_images_are_refused():
    with pytest.raises(TconvError, match=r"images must have shape \(N, C, \*spatial\)"):
        learn(np.ones((4, 4)), 2, 3, 1.0)
    y = images()
    y[0, 0, 0, 0] = np.nan
    with pytest.raises(TconvError, match=r"images must be finite"):
        learn(y, 2, 3, 1.0)


def test_encode_new_images_and_reconstruct_from_them(two_layers):
    model, _ = two_layers
    y = images(seed=5)
    maps = model.encode(y, max_iter=20)
    assert [m.shape for m in maps] == [model.layers[0].maps.shape, model.layers[1].maps.shape]
    zero = psnr(y, np.zeros_like(y), model.peak)
    assert psnr(y, model.reconstruct(maps[0], layer=1), model.peak) > zero + 10
    with pytest.raises(TconvError, match=r"tconv\.deconvnet\.DeconvNet\.reconstruct: layer must be in \[1, 2\]"):
        model.reconstruct(layer=3)


@pytest.mark.parametrize("stride", [1, 2])
def test_one_dimensional_signals_learn_monotonically(stride):
    rng = np.random.default_rng(3)
    spikes = (rng.random((3, 2, 40)) < 0.1) * rng.standard_normal((3, 2, 40))
    y = tconv.conv_transpose(spikes, rng.standard_normal((2, 1, 5)), padding=4)
    model = learn(y, 2, 5, 20.0, epochs=5, stride=stride, max_iter=30, rng=0, progress=False)
    assert model.layers[0].maps.shape[2] == -(-(y.shape[2] + 5 - 2) // stride) + 1
    values = [e.objective for e in model.layers[0].history]
    assert all(b <= a for a, b in zip(values, values[1:])) and values[-1] < values[0]
    assert model.reconstruct().shape == y.shape
