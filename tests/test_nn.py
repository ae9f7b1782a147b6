"""tconv.nn layers, losses, optimizers and model loading against real PyTorch and Keras."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv import nn
from tconv.compat import torch as compat_torch

torch = pytest.importorskip("torch")
tnn = torch.nn


def close(got, ref, tol):
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert np.max(np.abs(got.astype(np.float64) - ref), initial=0.0) <= tol * max(1.0, np.max(np.abs(ref)))


def run_both(torch_module, x, seed=0, tol=1e-9):
    """Convert ``torch_module`` (float64), run forward and backward in both, compare everything."""
    torch_module = torch_module.double()
    ours = nn.from_torch(torch_module)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_module(xt)
    gy = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(gy))
    y = ours(x)
    close(y, yt.detach().numpy(), tol)
    close(ours.backward(gy), xt.grad.numpy(), tol)
    theirs = dict(torch_module.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs[name].grad.numpy(), tol)
    return ours


@pytest.mark.parametrize("seed", range(12))
def test_conv_layers_match_torch(seed):
    rng = np.random.default_rng(seed)
    nd = seed % 3 + 1
    transposed = seed % 2 == 0
    groups = int(rng.integers(1, 3))
    c_in, c_out = 2 * groups, groups * int(rng.integers(1, 3))
    k = int(rng.integers(1, 4))
    s = int(rng.integers(1, 3))
    d = int(rng.integers(1, 3))
    if transposed:
        cls = [tnn.ConvTranspose1d, tnn.ConvTranspose2d, tnn.ConvTranspose3d][nd - 1]
        p = int(rng.integers(0, d * (k - 1) + 1))
        module = cls(c_in, c_out, k, s, p, int(rng.integers(0, max(s, d))), groups, True, d)
    else:
        cls = [tnn.Conv1d, tnn.Conv2d, tnn.Conv3d][nd - 1]
        mode = ["zeros", "reflect", "replicate", "circular"][seed % 4 // 2 * 2 + seed // 6]
        padding = "same" if seed % 4 == 1 else int(rng.integers(0, 3))
        module = cls(c_in, c_out, k, 1 if padding == "same" else s, padding, d, groups, True, mode)
    x = rng.standard_normal((2, c_in) + (5,) * nd)
    run_both(module, x, seed)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv_padding_modes_match_torch(mode):
    rng = np.random.default_rng(1)
    run_both(tnn.Conv2d(2, 3, 3, stride=2, padding=(2, 1), padding_mode=mode), rng.standard_normal((2, 2, 6, 5)))
    run_both(tnn.Conv1d(2, 2, 3, padding="same", dilation=2, padding_mode=mode), rng.standard_normal((1, 2, 7)))


def numeric_grads(layer, x, gy, eps=1e-6):
    """Central differences of ``sum(gy * layer(x))`` along one random direction per input and parameter."""
    rng = np.random.default_rng(0)
    out = []
    for target in [None] + list(layer.parameters()):
        base = x if target is None else target.data
        direction = rng.standard_normal(base.shape)

        def loss(t, base=base, target=target):
            if target is None:
                return float(np.sum(gy * layer(base + t * direction)))
            saved = target.data
            target.data = saved + t * direction
            value = float(np.sum(gy * layer(x)))
            target.data = saved
            return value

        out.append((direction, (loss(eps) - loss(-eps)) / (2 * eps)))
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding="same"),
        dict(padding="valid"),
        dict(padding=2, output_padding=1, padding_mode="reflect"),
        dict(padding=1, padding_mode="replicate"),
        dict(padding=1, padding_mode="circular"),
        dict(padding=((2, 0), (1, 3))),
    ],
)
def test_conv_transpose_extensions(kwargs):
    """'same'/'valid'/padding modes equal tconv.compat.torch; gradients equal central differences."""
    rng = np.random.default_rng(2)
    layer = nn.ConvTranspose2d(3, 2, 4, stride=2, rng=0, dtype=np.float64, **kwargs)
    x = rng.standard_normal((2, 3, 5, 4))
    y = layer(x)
    if not isinstance(kwargs.get("padding"), tuple):
        ref = compat_torch.conv_transpose2d(
            x, layer.weight.data, layer.bias.data, 2, kwargs["padding"], kwargs.get("output_padding", 0),
            padding_mode=kwargs.get("padding_mode", "zeros"),
        )
        close(y, ref, 1e-12)
    else:
        close(y, tconv.conv_transpose(x, layer.weight.data, layer.bias.data, stride=2, padding=kwargs["padding"]), 1e-12)
    gy = rng.standard_normal(y.shape)
    layer.zero_grad()
    gx = layer.backward(gy)
    analytic = [gx] + [p.grad for p in layer.parameters()]
    for g, (direction, numeric) in zip(analytic, numeric_grads(layer, x, gy)):
        close(np.array(np.vdot(g, direction)), numeric, 1e-7)


def test_output_size_and_errors():
    layer = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, rng=0)
    assert layer(np.ones((1, 1, 4, 4)), output_size=(8, 8)).shape == (1, 1, 8, 8)
    t = tnn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)
    assert tuple(t(torch.ones(1, 1, 4, 4), output_size=[8, 8]).shape) == (1, 1, 8, 8)
    with pytest.raises(tconv.TconvError, match="ConvTranspose2d: output_size"):
        layer(np.ones((1, 1, 4, 4)), output_size=(10, 8))
    with pytest.raises(tconv.TconvError, match="Conv2d: padding='same' needs stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError):
        tnn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(tconv.TconvError, match="groups must divide"):
        nn.ConvTranspose1d(3, 2, 3, groups=2)
    with pytest.raises(tconv.TconvError, match=r"input must have shape \(N, 1"):
        layer(np.ones((1, 2, 4, 4)))
    with pytest.raises(tconv.TconvError, match="padding_mode must be one of"):
        nn.Conv1d(1, 1, 3, padding_mode="mirror")


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_linear_activations_match_torch(training):
    rng = np.random.default_rng(3)
    model = tnn.Sequential(
        tnn.Linear(6, 12), tnn.BatchNorm1d(12), tnn.LeakyReLU(0.2), tnn.Unflatten(1, (3, 2, 2)),
        tnn.ConvTranspose2d(3, 4, 3, 2, 1), tnn.BatchNorm2d(4, eps=1e-3, momentum=0.3), tnn.ReLU(),
        tnn.Conv2d(4, 2, 3, padding=1), tnn.Tanh(), tnn.Flatten(), tnn.Linear(18, 1), tnn.Sigmoid(),
    )
    with torch.no_grad():
        for m in model:
            if isinstance(m, tnn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    model.train(training)
    ours = run_both(model, rng.standard_normal((4, 6)))
    state = ours.state_dict()
    for key, value in model.state_dict().items():
        close(state[key], value.numpy(), 1e-9)  # running statistics updated alike in training


def test_losses_match_torch():
    rng = np.random.default_rng(4)
    p, t = rng.uniform(0.01, 0.99, (3, 5)), rng.uniform(0, 1, (3, 5))
    for ours, theirs in ((nn.MSELoss(), tnn.MSELoss()), (nn.BCELoss(), tnn.BCELoss())):
        pt = torch.tensor(p, requires_grad=True)
        ref = theirs(pt, torch.tensor(t))
        ref.backward()
        assert abs(ours(p, t) - ref.item()) <= 1e-12
        close(ours.backward(), pt.grad.numpy(), 1e-12)
    edge = np.array([[0.0, 1.0]])
    assert nn.BCELoss()(edge, np.array([[1.0, 0.0]])) == pytest.approx(
        tnn.BCELoss()(torch.tensor(edge), torch.tensor([[1.0, 0.0]], dtype=torch.float64)).item()
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizers_match_torch(optimizer):
    rng = np.random.default_rng(5)
    model = tnn.Sequential(tnn.ConvTranspose1d(2, 3, 4, 2, 1), tnn.Tanh(), tnn.Conv1d(3, 1, 3, padding=1)).double()
    ours = nn.from_torch(model)
    if optimizer == "sgd":
        opt_t = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
        opt = nn.SGD(ours.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    else:
        opt_t = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-3)
        opt = nn.Adam(ours.parameters(), lr=0.01, weight_decay=1e-3)
    loss_t, loss = tnn.MSELoss(), nn.MSELoss()
    for _ in range(5):
        x, target = rng.standard_normal((4, 2, 6)), rng.standard_normal((4, 1, 12))
        opt_t.zero_grad()
        loss_t(model(torch.tensor(x)), torch.tensor(target)).backward()
        opt_t.step()
        opt.zero_grad()
        value = loss(ours(x), target)
        ours.backward(loss.backward())
        opt.step()
    assert value > 0
    for key, ref in model.state_dict().items():
        close(ours.state_dict()[key], ref.numpy(), 1e-9)


def randomize_batchnorm(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tnn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


class DCGANGenerator(tnn.Module):
    """The PyTorch DCGAN example's 64x64 generator (nz=100, ngf=64, nc=3)."""

    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.main = tnn.Sequential(
            tnn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), tnn.BatchNorm2d(ngf * 8), tnn.ReLU(True),
            tnn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 4), tnn.ReLU(True),
            tnn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 2), tnn.ReLU(True),
            tnn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf), tnn.ReLU(True),
            tnn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), tnn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


def test_pytorch_dcgan_generator():
    torch.manual_seed(0)
    gen = DCGANGenerator()
    randomize_batchnorm(gen)
    gen.eval()
    z = np.random.default_rng(6).standard_normal((2, 100, 1, 1)).astype(np.float32)
    with torch.no_grad():
        ref = gen(torch.tensor(z)).numpy()
    ours = nn.from_torch(gen)
    y = ours(z)
    assert y.shape == (2, 3, 64, 64) and y.dtype == np.float32
    close(y, ref, 1e-4)
    # a state dict alone, PyTorch-named NumPy arrays, into a model built by hand
    built = nn.Sequential({"main": nn.Sequential(*[
        layer
        for c_in, c_out, s, p in ((100, 512, 1, 0), (512, 256, 2, 1), (256, 128, 2, 1), (128, 64, 2, 1))
        for layer in (nn.ConvTranspose2d(c_in, c_out, 4, s, p, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())
    ] + [nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh()])})
    built.load_state_dict({k: v.numpy() for k, v in gen.state_dict().items()}).eval()
    close(built(z), ref, 1e-4)
    with pytest.raises(tconv.TconvError, match="missing"):
        built.load_state_dict({"main.0.weight": gen.state_dict()["main.0.weight"].numpy()})


def keras_mnist_generator(keras):
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(100,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"),
    ])


def randomize_keras_batchnorm(model, rng):
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            ranges = {"gamma": (0.5, 1.5), "beta": (-0.2, 0.2), "moving_mean": (-0.5, 0.5), "moving_variance": (0.5, 1.5)}
            for w in layer.weights:
                w.assign(rng.uniform(*ranges[w.path.split("/")[-1]], size=tuple(w.shape)).astype(np.float32))


def test_keras_mnist_dcgan_generator():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(7)
    model = keras_mnist_generator(keras)
    randomize_keras_batchnorm(model, rng)
    z = rng.standard_normal((2, 100)).astype(np.float32)
    ref = np.asarray(model(z, training=False))
    ours = nn.from_keras(model)
    bn = ours[1]
    assert bn.eps == pytest.approx(1e-3) and bn.momentum == pytest.approx(0.01)
    y = ours(z)
    assert y.shape == (2, 1, 28, 28)
    close(np.moveaxis(y, 1, -1), ref, 1e-4)


def test_keras_conv_flatten_dense_and_strided_same():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(1)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(9, 8, 3)),
        layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(2, 3, strides=2, padding="valid"), layers.Activation("sigmoid"),
        layers.Flatten(), layers.Dense(5), layers.ReLU(),
    ])
    x = np.random.default_rng(8).standard_normal((2, 9, 8, 3)).astype(np.float32)
    ours = nn.from_keras(model)
    close(ours(np.moveaxis(x, -1, 1)), np.asarray(model(x)), 1e-4)


def test_module_bookkeeping():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.BatchNorm1d(3), nn.ReLU())
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert len(list(model.parameters())) == 4 and model[1] is model["1"] and len(model) == 3
    assert not model.eval()[1].training
    assert "running_var" in repr(model.state_dict().keys())
    with pytest.raises(tconv.TconvError, match="0.weight must have shape"):
        model.load_state_dict({**model.state_dict(), "0.weight": np.zeros((2, 2))})
    with pytest.raises(TypeError, match="Sequential"):
        nn.Sequential(np.ones(2))


def test_keras_upsampling_and_batchnorm_training_update():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(2)
    layers = keras.layers
    rng = np.random.default_rng(9)
    model = keras.Sequential([
        keras.Input(shape=(5, 4, 2)),
        layers.UpSampling2D(2), layers.Conv2D(3, 3, padding="same"),
        layers.UpSampling2D((2, 3), interpolation="bilinear"), layers.Conv2D(1, 1),
    ])
    x = rng.standard_normal((2, 5, 4, 2)).astype(np.float32)
    close(nn.from_keras(model)(np.moveaxis(x, -1, 1)), np.moveaxis(np.asarray(model(x)), -1, 1), 1e-4)
    # one training step of Keras' BatchNormalization moves the statistics as momentum = 1 - m says
    bn_keras = layers.BatchNormalization(momentum=0.9)
    features = rng.standard_normal((8, 3)).astype(np.float32) * 2 + 1
    bn_keras(features, training=True)
    ours = nn.from_keras(keras.Sequential([keras.Input(shape=(3,)), layers.BatchNormalization(momentum=0.9)]))
    bn = ours[0].train()
    bn(features)
    stats = {w.path.split("/")[-1]: np.asarray(w.value) for w in bn_keras.weights}
    close(bn.running_mean, stats["moving_mean"], 1e-5)
    close(bn.running_var, stats["moving_variance"], 1e-5)


# --------------------------------------------------------------------------
# loaders load only what they reproduce exactly (issue 17)
# --------------------------------------------------------------------------


class Residual(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.relu = tnn.Conv2d(2, 2, 3, padding=1), tnn.ReLU()

    def forward(self, x):
        return x + self.relu(self.conv(x))


class Reversed(tnn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = tnn.Conv2d(2, 2, 3, padding=1), tnn.Tanh()

    def forward(self, x):
        return self.a(self.b(x))


class DoubledConv(tnn.Conv2d):
    def forward(self, x):
        return 2 * super().forward(x)


def test_from_torch_refuses_what_a_chain_cannot_reproduce():
    shared = tnn.Conv2d(2, 2, 3, padding=1)
    cases = [
        (Residual(), r"the model \(Residual\): its forward uses 'x' 2 times \(a residual or a branch\)"),
        (tnn.Sequential(tnn.ReLU(), Residual()), r"module '1' \(Residual\)"),
        (Reversed(), r"applies 'b', 'a', not its submodules once each in order"),
        (tnn.Sequential(shared, shared), r"applies '0', '0'"),
        (tnn.Sequential(DoubledConv(2, 2, 3)), r"module '0' \(DoubledConv\) is not a supported layer"),
        (tnn.Sequential(tnn.Dropout()), r"module '0' \(Dropout\) is not a supported layer"),
    ]
    for module, message in cases:
        with pytest.raises(tconv.TconvError, match=message):
            nn.from_torch(module)


def test_from_torch_keeps_a_wrapper_whose_forward_is_a_chain():
    class Wrapper(tnn.Module):
        def __init__(self):
            super().__init__()
            self.body = tnn.Sequential(tnn.Conv2d(2, 3, 3), tnn.ReLU())
            self.head = tnn.Conv2d(3, 1, 1)

        def forward(self, x):
            return self.head(self.body(x))

    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    model = Wrapper()
    with torch.no_grad():
        ref = model(torch.tensor(x)).numpy()
    ours = nn.from_torch(model)
    close(ours(x), ref, 1e-5)
    assert set(ours.state_dict()) == set(model.state_dict())


def test_from_keras_refuses_merges_branches_shared_and_subclassed():
    keras = pytest.importorskip("keras")
    layers = keras.layers
    inp = keras.Input((8, 8, 2))
    residual = keras.Model(inp, layers.Add(name="plus")([inp, layers.Conv2D(2, 3, padding="same")(inp)]))
    inp = keras.Input((3,))
    shared = layers.Dense(3, name="twice")
    twice = keras.Model(inp, shared(shared(inp)))
    inp = keras.Input((3,))
    trunk = layers.Dense(2, name="trunk")(inp)
    branches = keras.Model(inp, [layers.Dense(2)(trunk), layers.Dense(2)(trunk)])
    inp = keras.Input((3,))
    trunk2 = layers.Dense(2, name="trunk2")(inp)
    skip = keras.Model(inp, layers.Dense(2, name="late")(layers.ReLU()(trunk2)))  # a chain: accepted below
    inp = keras.Input((3,))
    cat = keras.Model(inp, layers.Concatenate(name="cat")([layers.Dense(2)(inp), layers.Dense(2)(inp)]))

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(3)

        def call(self, x):
            return x + self.a(x)

    sub = Sub()
    sub(np.ones((1, 3), np.float32))
    cases = [
        (residual, r"layer 'plus' \(Add\): it takes the outputs of .* \(a merge\)"),
        (cat, r"layer 'cat' \(Concatenate\): it takes the outputs"),
        (twice, r"layer 'twice' \(Dense\): the model applies it 2 times \(a shared layer\)"),
        (branches, r"layer 'trunk' \(Dense\): its output is used 2 times|not of the layer listed before it"),
        (sub, r"subclassed keras.Model"),
        (keras.Sequential([layers.Dense(2)]), r"is not built"),
    ]
    for model, message in cases:
        with pytest.raises(tconv.TconvError, match=message):
            nn.from_keras(model)
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    close(nn.from_keras(skip)(x), np.asarray(skip(x)), 1e-5)


def test_from_torch_refuses_forward_hooks():
    model = tnn.Sequential(tnn.Conv1d(1, 1, 3), tnn.ReLU())
    model[0].register_forward_hook(lambda module, inputs, output: output * 2)
    with pytest.raises(tconv.TconvError, match=r"module '0' \(Conv1d\): it has 1 forward hook\(s\)"):
        nn.from_torch(model)
