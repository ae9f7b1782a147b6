"""The Deconvolutional Network pictures and table of docs/learning-deconvnet.md.

    python scripts/deconvnet_pictures.py            # the README's run
    python scripts/deconvnet_pictures.py --quick    # a smaller run to see it work

1. A two-layer Deconvolutional Network (9 filters of 7x7, then the paper's 45
   maps on pairs of them) learned on greyscale photos bundled with scikit-image,
   contrast-normalised; its first-layer filters -> docs/images/deconvnet_filters.png;
   reconstruction PSNR and sparsity per layer -> the table in docs/learning-deconvnet.md.
2. A small CNN trained with tconv.nn on scikit-learn's bundled digits; ZF-Net
   projections of second-layer units -> docs/images/zfnet_projection.png.

Needs the ``images`` extra (scikit-learn, scikit-image) and matplotlib; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from tconv import nn
from tconv.deconvnet import learn, project
from tconv.deconvnet.learn import psnr

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
DOC = ROOT / "docs" / "learning-deconvnet.md"
PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "clock", "moon")


def photos(size: int, count: int) -> np.ndarray:
    """``count`` bundled photos, grey, shrunk by block means and cut to ``size`` squares, contrast-normalised
    as the paper's (local mean removed, divided by the local standard deviation)."""
    from skimage import color, data

    out = []
    for name in PHOTOS[:count]:
        image = getattr(data, name)().astype(np.float64)
        if image.ndim == 3:
            image = color.rgb2gray(image[..., :3] / 255.0)
        else:
            image /= 255.0
        factor = max(1, min(image.shape) // (2 * size))
        h, w = (s // factor * factor for s in image.shape)
        image = image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
        top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
        image = image[top:top + size, left:left + size]
        local = image - gaussian_filter(image, 2.0)
        out.append(local / np.sqrt(gaussian_filter(local * local, 2.0) + 1e-2))
    return np.stack(out)[:, None]


def filters_picture(filters: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = filters.shape[0]
    cols = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.4))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, f in zip(np.ravel(axes), filters[:, 0]):
        limit = np.abs(f).max()
        ax.imshow(f, cmap="gray", vmin=-limit, vmax=limit, interpolation="nearest")
    fig.suptitle(f"{count} first-layer filters {filters.shape[2]}x{filters.shape[3]}, learned")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def deconvnet(args) -> list[str]:
    y = photos(args.size, args.photos)
    start = time.perf_counter()
    model = learn(y, [9, 45], 7, args.lam, layers=2, g="pairs", epochs=args.epochs, max_iter=args.max_iter,
                  filter_steps=5, rng=0, progress=True)
    seconds = time.perf_counter() - start
    filters_picture(model.layers[0].filters, IMAGES / "deconvnet_filters.png")
    zero = psnr(y, np.zeros_like(y), model.peak)
    lines = [
        f"Run: `python scripts/deconvnet_pictures.py{' --quick' if args.quick else ''}`: {y.shape[0]} photos of "
        f"{args.size}x{args.size}, lam = {' and '.join(map(str, args.lam))}, {' and '.join(map(str, args.epochs))} epochs (layers 1 and 2) "
        f"of {args.max_iter} inference iterations and 5 filter steps, {seconds:.0f} s in all (a shared 2-core "
        f"machine).",
        "",
        "| layer | maps | filters | objective, epoch 1 -> last | PSNR of the images from this layer's maps | "
        "PSNR of the layer's own input | non-zeros in the maps |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| none (all-zero maps) | | | | {zero:.2f} dB | | |",
    ]
    for number, layer in enumerate(model.layers, 1):
        first, last = layer.history[0], layer.history[-1]
        lines.append(
            f"| {number} | {layer.filters.shape[0]} | {'x'.join(map(str, layer.filters.shape[2:]))}, "
            f"{int(layer.g.sum())} connections | {first.objective:.4g} -> {last.objective:.4g} | "
            f"{last.psnr:.2f} dB | {last.input_psnr:.2f} dB | {100 * last.nonzero:.2f}% |"
        )
    return lines


def digits_cnn(epochs: int) -> tuple[nn.Sequential, np.ndarray, float]:
    """A small CNN trained with tconv.nn (softmax cross-entropy, Adam) on scikit-learn's bundled digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    labels = digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, test = order[:1500], order[1500:]
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, rng=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64, 10, rng=2),
    )
    opt = nn.Adam(model.parameters(), lr=5e-3)
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(train), len(train) // 50):
            logits = model(x[batch])
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(batch)), labels[batch]] -= 1  # d(mean cross-entropy)/d logits, times the batch
            opt.zero_grad()
            model.backward((p / len(batch)).astype(np.float32))
            opt.step()
    accuracy = float(np.mean(np.argmax(model(x[test]), axis=1) == labels[test]))
    return model, x, accuracy


def projection_picture(model: nn.Sequential, x: np.ndarray, accuracy: float, path: Path, units: int = 6,
                       top: int = 4) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layer = 4  # the ReLU after the second conv
    activations = x
    for child in list(model)[: layer + 1]:
        activations = child(activations)
    strength = activations.reshape(len(x), activations.shape[1], -1).max(axis=2)
    chosen = np.argsort(-strength.max(axis=0))[:units]
    fig, axes = plt.subplots(units, 2 * top, figsize=(1.1 * 2 * top, 1.15 * units + 0.6))
    for row, unit in enumerate(chosen):
        best = np.argsort(-strength[:, unit])[:top]
        shown = project(model, x[best], layer, int(unit))
        for i, b in enumerate(best):
            axes[row, 2 * i].imshow(x[b, 0], cmap="gray", interpolation="nearest")
            limit = np.abs(shown[i, 0]).max() or 1.0
            axes[row, 2 * i + 1].imshow(shown[i, 0], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        axes[row, 0].set_ylabel(f"unit {unit}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"ZF-Net projections of conv-2 units (digits CNN, test accuracy {100 * accuracy:.1f}%):\n"
                 f"each unit's {top} strongest digits, each beside its projection to pixels", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_table(lines: list[str], accuracy: float) -> None:
    block = "\n".join(lines + ["", f"The digits CNN of the projection picture: test accuracy {100 * accuracy:.1f}% "
                                   "on 297 held-out digits."])
    text = DOC.read_text()
    text = re.sub(r"(<!-- table: scripts/deconvnet_pictures.py -->\n).*?(<!-- end table -->)",
                  lambda m: m.group(1) + block + "\n" + m.group(2), text, flags=re.S)
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (fewer photos, epochs and iterations)")
    args = parser.parse_args()
    args.size, args.photos, args.epochs, args.max_iter, args.lam = (
        (32, 4, [3, 2], 20, [2.0, 20.0]) if args.quick else (48, 6, [20, 6], 30, [2.0, 20.0]))
    lines = deconvnet(args)
    print("\n".join(lines))
    model, x, accuracy = digits_cnn(3 if args.quick else 12)
    print(f"digits CNN test accuracy {100 * accuracy:.1f}%")
    projection_picture(model, x, accuracy, IMAGES / "zfnet_projection.png")
    write_table(lines, accuracy)


if __name__ == "__main__":
    main()
