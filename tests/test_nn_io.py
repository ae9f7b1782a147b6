"""tconv.nn.save / tconv.nn.load: JSON and .npz, every saved layer type, never pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tconv import nn
from tconv.errors import TconvError


def _every_layer() -> nn.Sequential:
    bn = nn.BatchNorm2d(3, eps=1e-3, momentum=0.2, unbiased_running_var=False)
    bn.load_state_dict({"weight": np.arange(3.0), "bias": np.ones(3), "running_mean": np.full(3, 0.5),
                        "running_var": np.full(3, 2.0), "num_batches_tracked": np.array(4)})
    return nn.Sequential(
        nn.ConvTranspose2d(2, 3, (4, 3), stride=(2, 1), padding=((1, 2), 0), output_padding=(1, 0), groups=1,
                           dilation=(1, 2), rng=0),
        bn, nn.LeakyReLU(0.3), nn.Tanh(),
        nn.ResizeConv2d(3, 2, 3, scale_factor=2, mode="bilinear", rng=1, dtype=np.float64),
        nn.Sequential({"inner": nn.Conv2d(2, 4, 3, stride=2, padding="valid", groups=2, bias=False, rng=2),
                       "act": nn.Sigmoid()}),
        nn.Upsample(scale_factor=(1.5, 2), mode="nearest"),
        nn.ConvTranspose2d(4, 2, 3, stride=2, padding="same", rng=3),
        nn.ReLU(), nn.Flatten(), nn.Linear(2080, 5, rng=4),
    )


def test_a_saved_model_loads_to_the_same_layers_weights_modes_and_outputs(tmp_path):
    model = _every_layer().eval()
    model[0].train()  # a mixed mode is kept as saved
    nn.save(model, tmp_path / "m")
    again = nn.load(tmp_path / "m")
    assert repr(again) == repr(model)
    assert [m.training for m in again] == [m.training for m in model]
    state, loaded = model.state_dict(), again.state_dict()
    assert sorted(state) == sorted(loaded)
    for key in state:
        assert loaded[key].dtype == state[key].dtype and np.array_equal(loaded[key], state[key])
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 7)).astype(np.float32)
    model.eval(), again.eval()
    assert np.array_equal(again(x), model(x))
    desc = json.loads((tmp_path / "m" / "model.json").read_text())
    assert desc["format"] == "tconv.nn/1" and desc["model"]["type"] == "Sequential"


def test_reshape_round_trips(tmp_path):
    model = nn.Sequential(nn.Linear(6, 12, rng=0), nn.Reshape(3, 4))
    nn.save(model, tmp_path / "m")
    x = np.ones((2, 6), np.float32)
    assert np.array_equal(nn.load(tmp_path / "m")(x), model(x))


def test_save_refuses_a_layer_without_a_saved_form(tmp_path):
    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TconvError, match="layer 'model.1' of type Custom has no saved form"):
        nn.save(nn.Sequential(nn.ReLU(), Custom()), tmp_path / "m")


def test_load_refuses_bad_files_and_never_unpickles(tmp_path):
    model = nn.Sequential(nn.Conv1d(1, 1, 3, rng=0))
    nn.save(model, tmp_path / "m")
    with pytest.raises(TconvError, match="model.json and weights.npz"):
        nn.load(tmp_path / "nothing")
    np.savez(tmp_path / "m" / "weights.npz", **{"0.weight": np.array([object()], dtype=object), "0.bias": np.ones(1)})
    with pytest.raises(TconvError, match="plain .npz"):
        nn.load(tmp_path / "m")
    np.savez(tmp_path / "m" / "weights.npz", **{"0.weight": np.ones((1, 1, 4)), "0.bias": np.ones(1)})
    with pytest.raises(TconvError, match=r"does not match model.json: .*0.weight must have shape \(1, 1, 3\)"):
        nn.load(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    for text, words in [
        ("{", "not JSON"),
        ('{"format": "pickle"}', "must have format 'tconv.nn/1'"),
        ('{"format": "tconv.nn/1", "model": {"type": "os.system"}}', "unknown layer type 'os.system'"),
        ('{"format": "tconv.nn/1", "model": {"type": "Conv1d", "args": {"in_channels": 1}}}', "Conv1d cannot be built"),
        ('{"format": "tconv.nn/1", "model": {"type": "Conv1d", "args": {"in_channels": 1, "out_channels": 1, '
         '"kernel_size": 3, "stride": 0}}}', "stride"),
    ]:
        path.write_text(text)
        with pytest.raises(TconvError, match=words):
            nn.load(tmp_path / "m")
