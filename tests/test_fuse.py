"""tconv.nn.fuse: BatchNorm folded into the convolution before it, activations in place.

The oracle is PyTorch in eval mode (the source model) and the unfused tconv
model; BatchNorm statistics are random so that a wrong fold cannot pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tconv import TconvError, nn
from support import assert_close

T = torch.nn


def randomise_batchnorms(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Non-trivial running statistics and affine parameters in every BatchNorm, then eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 2 + 0.1)
                if m.affine:
                    m.weight.copy_(torch.randn(m.num_features, generator=gen))
                    m.bias.copy_(torch.randn(m.num_features, generator=gen))
    return model.eval()


MODELS = {
    "transposed 2-d, groups, bias": (
        lambda: T.Sequential(T.ConvTranspose2d(6, 4, 4, 2, 1, groups=2), T.BatchNorm2d(4), T.ReLU()), (2, 6, 5, 5)),
    "conv 2-d without affine, leaky": (
        lambda: T.Sequential(T.Conv2d(3, 5, 3, padding=1, bias=False), T.BatchNorm2d(5, affine=False),
                             T.LeakyReLU(0.1)), (2, 3, 6, 6)),
    "transposed 1-d without bias, tanh": (
        lambda: T.Sequential(T.ConvTranspose1d(4, 6, 16, 8, 4, bias=False), T.BatchNorm1d(6), T.Tanh()), (1, 4, 9)),
    "conv 3-d grouped, sigmoid": (
        lambda: T.Sequential(T.Conv3d(4, 6, 2, groups=2), T.BatchNorm3d(6), T.Sigmoid()), (1, 4, 4, 4, 4)),
    "reflect padding, nested chains": (
        lambda: T.Sequential(
            T.Sequential(T.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), T.BatchNorm2d(3), T.ReLU()),
            T.Sequential(T.ConvTranspose2d(3, 2, 3, 2, 1, output_padding=1), T.BatchNorm2d(2, eps=1e-3), T.Tanh())),
        (2, 2, 5, 7)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_fused_model_matches_torch_eval_and_the_unfused_model(name):
    build, shape = MODELS[name]
    torch.manual_seed(0)
    source = randomise_batchnorms(build(), seed=1)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = source(torch.from_numpy(x)).numpy()
    model = nn.from_torch(source)
    before = model.state_dict()
    x0 = x.copy()
    fused = nn.fuse(model)
    y = fused(x)
    assert y.dtype == np.float32
    assert_close(y, ref, np.float32)
    assert_close(y, model(x), np.float32)
    assert not any(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d) for m in fused)
    np.testing.assert_array_equal(x, x0)  # the activations ran in place on the model's own arrays only
    after = model.state_dict()
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)


def test_fold_is_exact_up_to_float32_rounding_in_float64():
    torch.manual_seed(3)
    source = randomise_batchnorms(T.Sequential(T.ConvTranspose2d(4, 6, 4, 2, 1, groups=2), T.BatchNorm2d(6)), 4)
    model = nn.from_torch(source.double())
    x = np.random.default_rng(5).standard_normal((2, 4, 5, 5))
    fused = nn.fuse(model)
    assert len(fused) == 1
    np.testing.assert_allclose(fused(x), model(x), rtol=1e-12, atol=1e-12)


def test_names_follow_the_source_and_unfoldable_layers_stay():
    torch.manual_seed(6)
    source = randomise_batchnorms(T.Sequential(
        T.BatchNorm2d(3),  # nothing before it: kept
        T.Conv2d(3, 4, 1), T.ReLU(), T.BatchNorm2d(4),  # after an activation: kept
        T.ConvTranspose2d(4, 2, 2, 2), T.BatchNorm2d(2, track_running_stats=False),  # batch statistics: kept
    ), 7)
    model = nn.from_torch(source)
    fused = nn.fuse(model)
    assert [name for name, _ in fused.named_children()] == ["0", "1", "2", "3", "4", "5"]
    x = np.random.default_rng(8).standard_normal((2, 3, 4, 4)).astype(np.float32)
    with torch.no_grad():
        assert_close(fused(x), source(torch.from_numpy(x)).numpy(), np.float32)

    nested = nn.fuse(nn.from_torch(randomise_batchnorms(
        T.Sequential(T.Sequential(T.ConvTranspose2d(3, 2, 4, 2, 1), T.BatchNorm2d(2)), T.Tanh()), 9)))
    assert [name for name, _ in nested.named_children()] == ["0.0", "1"]
    assert sorted(nested.state_dict()) == ["0.0.bias", "0.0.weight"]
    assert isinstance(nn.fuse(nested), nn.Fused) and len(nn.fuse(nested)) == 2


def test_activation_first_never_writes_the_callers_input():
    model = nn.Sequential(nn.ReLU(), nn.Reshape(2, 8), nn.Tanh(), nn.Conv1d(2, 2, 3, rng=0), nn.LeakyReLU(0.2))
    fused = nn.fuse(model.eval())
    x = np.random.default_rng(9).standard_normal((3, 16)).astype(np.float32)
    x0 = x.copy()
    y = fused(x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, model(x0))


def test_inplace_activations_equal_the_plain_ones_and_torch():
    x = np.array([-2.0, -0.0, 0.0, 0.5, 3.0, np.nan, np.inf, -np.inf], np.float32)
    xt = torch.from_numpy(x)
    acts = [(nn.ReLU(), torch.relu(xt)), (nn.Tanh(), torch.tanh(xt)), (nn.Sigmoid(), torch.sigmoid(xt))]
    acts += [(nn.LeakyReLU(a), torch.nn.functional.leaky_relu(xt, a)) for a in (0.0, 0.1, 1.0, 1.5, -0.2)]
    for act, ref in acts:
        with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as in torch
            expected = act.apply(x)
            got = act.apply_inplace(x.copy())
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_allclose(expected, ref.numpy(), rtol=2e-7, atol=0)  # tanh, sigmoid: 1 ulp apart
        assert np.array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(expected[~np.isnan(expected)])), act


def test_training_batchnorm_and_backward_are_refused():
    model = nn.Sequential(nn.ConvTranspose2d(2, 2, 4, 2, 1, rng=0), nn.BatchNorm2d(2))
    with pytest.raises(TconvError, match=r"tconv.nn.fuse: every BatchNorm must be in eval mode .* 1 \(BatchNorm2d\)"):
        nn.fuse(model)
    fused = nn.fuse(model.eval())
    fused(np.ones((1, 2, 3, 3), np.float32))
    with pytest.raises(TconvError, match="inference only"):
        fused.backward(np.ones((1, 2, 6, 6), np.float32))
    with pytest.raises(TypeError, match="tconv.nn.fuse: model must be a tconv.nn.Module"):
        nn.fuse(torch.nn.ReLU())


def test_resize_conv_is_flattened_and_its_conv_takes_the_batchnorm():
    bn = nn.BatchNorm2d(3)
    bn.register_buffer("running_mean", np.array([0.5, -1.0, 2.0], np.float32))
    bn.register_buffer("running_var", np.array([0.25, 2.0, 4.0], np.float32))
    model = nn.Sequential(nn.ResizeConv2d(2, 3, 3, rng=0), bn, nn.LeakyReLU(0.2)).eval()
    fused = nn.fuse(model)
    assert [name for name, _ in fused.named_children()] == ["0.upsample", "0.conv", "2"]
    x = np.random.default_rng(10).standard_normal((2, 2, 4, 5)).astype(np.float32)
    assert_close(fused(x), model(x), np.float32)


PACKED = {  # models whose layers all take winograd (stride-1 convs, transposed convs), with their inputs
    "conv 3x3 and transposed k4 s2, biases": (
        lambda: T.Sequential(T.Conv2d(6, 8, 3, padding=1), T.BatchNorm2d(8), T.ReLU(),
                             T.ConvTranspose2d(8, 4, 4, 2, 1), T.LeakyReLU(0.1)), (2, 6, 9, 7)),
    "grouped and dilated 1-d convs": (
        lambda: T.Sequential(T.Conv1d(4, 6, 3, padding=2, dilation=2, groups=2), T.Tanh(),
                             T.ConvTranspose1d(6, 4, 16, 8, 4, groups=2, bias=False)), (1, 4, 23)),
    "3-d conv without bias": (
        lambda: T.Sequential(T.Conv3d(3, 4, 3, padding=(1, 0, 1), bias=False), T.BatchNorm3d(4)), (1, 3, 6, 5, 7)),
}


@pytest.mark.parametrize("name", list(PACKED))
def test_prepacked_layers_match_torch_and_repack_when_the_weight_or_shape_changes(name, monkeypatch):
    from tconv import ops

    monkeypatch.setattr(ops, "PACK_MARGIN", 1e9)  # pack every layer winograd takes, whatever it saves
    monkeypatch.setattr(ops, "PACK_MIN_FLOPS", 0)
    build, shape = PACKED[name]
    torch.manual_seed(11)
    source = randomise_batchnorms(build(), seed=12)
    rng = np.random.default_rng(13)
    x = rng.standard_normal(shape).astype(np.float32)
    fused = nn.fuse(nn.from_torch(source))
    convs = [m for m in fused if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.ConvTranspose1d
                                            | nn.ConvTranspose2d | nn.ConvTranspose3d)]
    for _ in range(2):  # packed on the first call, reused on the second
        with torch.no_grad():
            assert_close(fused(x), source(torch.from_numpy(x)).numpy(), np.float32)
    packs = [m._packs for m in convs]
    assert all(len(p) == 1 and next(iter(p.values()))[1] is not None for p in packs)  # the packed path ran

    wider = rng.standard_normal(shape[:-1] + (shape[-1] + 3,)).astype(np.float32)  # another shape: packed too
    with torch.no_grad():
        assert_close(fused(wider), source(torch.from_numpy(wider)).numpy(), np.float32)
    assert all(len(p) == 2 for p in packs)

    x[0, 0, ..., 1] = np.nan  # NaN: the exact path, never a Winograd tile (a NaN spread over it)
    with torch.no_grad():
        ref = source(torch.from_numpy(x)).numpy()
    y = fused(x)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    assert_close(np.nan_to_num(y), np.nan_to_num(ref), np.float32)

    first = convs[0]
    first.weight.data = -first.weight.data  # a replaced weight array is packed again
    x = np.nan_to_num(x)
    assert_close(fused(x), fused_reference(fused, x), np.float32)
    assert any(entry[0] is first.weight.data for entry in first._packs.values())


def fused_reference(fused: nn.Fused, x: np.ndarray) -> np.ndarray:
    """The fused chain run with packing off (every layer's ordinary path)."""
    unpacked = nn.fuse(fused)
    for m in unpacked:
        if hasattr(m, "_packs"):
            m._packs = None
    return unpacked(x)


def test_the_cost_model_packs_a_u_net_decoder_conv_and_not_a_small_one():
    from tconv import ops
    from tconv.geometry import build_conv

    big = build_conv("t", (64, 64), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 1)
    w = np.random.default_rng(14).standard_normal((256, 256, 3, 3)).astype(np.float32)
    packed = ops.pack((1, 256, 64, 64), w, big, conv=True)
    assert packed is not None and max(t.m for t in packed.winograd.plan.transforms) > 1
    x = np.random.default_rng(15).standard_normal((1, 256, 64, 64)).astype(np.float32)
    assert_close(ops.run_packed(x, packed, None), ops.run_conv_geometry(x, w, None, big), np.float32)
    small = build_conv("t", (4, 4), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 1)
    assert ops.pack((1, 2, 4, 4), w[:2, :2], small, conv=True) is None
    strided = build_conv("t", (8, 8), (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)), 1)
    assert ops.pack((1, 256, 8, 8), w, strided, conv=True) is None  # stride 2: not a transposed conv's door
