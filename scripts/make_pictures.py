"""Regenerate the pictures under docs/images/ (needs tconv[viz]: Pillow).

    python scripts/make_pictures.py            # writes docs/images/*.gif, *.png
    python scripts/make_pictures.py --out DIR  # somewhere else

Everything is seeded: running it twice gives the same files. It also prints the
checkerboard scores of the generator comparison quoted in docs/checkerboard.md.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

import architecture  # scripts/architecture.py: the package's layers, read off its imports
from tconv import conv, conv_transpose
from tconv import checkerboard as cb
from tconv import viz

# The three cases the articles (and conv_arithmetic) animate: (input, kernel, stride, padding).
ARTICLE_CASES = {
    "tconv_s1_p0_k3": ((2, 2), 3, 1, 0),
    "tconv_s2_p0_k3": ((2, 2), 3, 2, 0),
    "tconv_s2_p1_k3": ((3, 3), 3, 2, 1),
}

KERAS_MNIST_GENERATOR = [  # Conv2DTranspose k5 'same', strides 1, 2, 2 (window start floor((k - s)/2))
    dict(kernel_size=(5, 5), stride=1, padding=2, name="Conv2DTranspose(128, 5, 1)"),
    dict(kernel_size=(5, 5), stride=2, padding=1, name="Conv2DTranspose(64, 5, 2)"),
    dict(kernel_size=(5, 5), stride=2, padding=1, name="Conv2DTranspose(1, 5, 2)"),
]


def uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    bound = 1 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape)


def generator(z: np.ndarray, rng: np.random.Generator, kind: str, layers: int = 3) -> np.ndarray:
    """A small untrained generator: ``layers`` x2 upsamplings with ReLU, then a channel mean.

    kind: "k3" (transposed conv k3 s2 p1 op1: uneven overlap), "k4" (k4 s2 p1: even
    geometry, random weights), or "resize" (nearest x2 then a 3x3 'same' conv).
    """
    x = z
    channels = z.shape[1]
    for _ in range(layers):
        if kind == "resize":
            w = uniform(rng, (channels, channels, 3, 3), channels * 9)
            x = conv(x.repeat(2, axis=2).repeat(2, axis=3), w, padding=1)
        else:
            k = 3 if kind == "k3" else 4
            w = uniform(rng, (channels, channels, k, k), channels * k * k)
            x = conv_transpose(x, w, stride=2, padding=1, output_padding=1 if k == 3 else 0)
        x = np.maximum(x, 0.0)
    return x[0].mean(axis=0)


def generator_comparison(out: Path, seeds: int = 8) -> list[tuple[str, float]]:
    from PIL import Image, ImageDraw, ImageFont

    kinds = [("transposed conv k3 s2", "k3"), ("transposed conv k4 s2", "k4"), ("resize-convolution", "resize")]
    scores = {kind: [] for _, kind in kinds}
    shown = {}
    for seed in range(seeds):
        z = np.random.default_rng(1000 + seed).normal(size=(1, 16, 6, 6))
        for _, kind in kinds:
            image = generator(z, np.random.default_rng(seed), kind)
            scores[kind].append(cb.image_score(image, 8))
            shown.setdefault(kind, image)
    scale, pad, title = 5, 12, 34
    size = next(iter(shown.values())).shape[0] * scale
    canvas = Image.new("RGB", (len(kinds) * (size + pad) + pad, size + title + pad), "white")
    draw = ImageDraw.Draw(canvas)
    rows = []
    for index, (label, kind) in enumerate(kinds):
        a = shown[kind]
        a = (255 * (a - a.min()) / max(a.max() - a.min(), 1e-12)).astype(np.uint8)
        tile = Image.fromarray(a).resize((size, size), Image.NEAREST)
        x = pad + index * (size + pad)
        canvas.paste(tile, (x, title))
        mean = float(np.mean(scores[kind]))
        draw.text((x, 4), f"{label}\nimage_score {mean:.3f}", fill=(20, 20, 20), font=ImageFont.load_default(size=12))
        rows.append((label, mean))
    canvas.save(out / "generators.png")
    return rows


def architecture_picture(path: Path) -> None:
    """The layers of the package, bottom to top, with the imports between them counted (all point down)."""
    from PIL import Image, ImageDraw, ImageFont

    layers = architecture.LAYERS
    mods = architecture.modules()
    edges = architecture.layer_edges()
    title_font, text_font = ImageFont.load_default(size=15), ImageFont.load_default(size=12)
    band_w, band_h, gap, left, top = 780, 64, 14, 16, 16
    lane_w = 30
    width = left + band_w + 24 + lane_w * len(edges) + 16
    height = top + len(layers) * (band_h + gap)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    centre = {}
    palette = [(222, 235, 247), (198, 219, 239), (158, 202, 225), (253, 208, 162), (199, 233, 192), (218, 218, 235)]
    for row, index in enumerate(reversed(range(len(layers)))):
        name, what, _ = layers[index]
        y = top + row * (band_h + gap)
        centre[index] = y + band_h // 2
        draw.rounded_rectangle((left, y, left + band_w, y + band_h), 8, fill=palette[index], outline=(90, 90, 90))
        draw.text((left + 10, y + 7), f"{name}: {what}", fill=(20, 20, 20), font=title_font)
        # the layer's top-level modules, packages with a slash; a layer that is one package shows its contents
        members = sorted(m.removeprefix("tconv.") for m in mods if architecture.layer_of(m) == index)

        def label(m: str) -> str:
            return m.split(".")[-1] + ("/" if mods["tconv." + m].name == "__init__.py" else "")

        if len(members) > 1 and len({m.split(".")[0] for m in members}) == 1:
            names = [label(members[0]) + ":"] + [label(m) for m in members if m.count(".") == 1]
        else:
            names = [label(m) for m in members if "." not in m]
        draw.text((left + 10, y + 34), "  ".join(names), fill=(40, 40, 40), font=text_font)
    x = left + band_w + 24
    for (a, b), count in sorted(edges.items(), key=lambda e: (-e[0][0], -e[0][1])):
        y0, y1 = centre[a], centre[b]
        draw.line((x, y0, x, y1 - 6), fill=(60, 60, 60), width=2)
        draw.polygon([(x - 5, y1 - 8), (x + 5, y1 - 8), (x, y1)], fill=(60, 60, 60))
        draw.ellipse((x - 3, y0 - 3, x + 3, y0 + 3), fill=(60, 60, 60))
        draw.text((x + 4, (y0 + y1) // 2 - 6), str(count), fill=(160, 30, 30), font=text_font)
        x += lane_w
    image.save(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "images"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (n, k, s, p) in ARTICLE_CASES.items():
        viz.animate(out / f"{name}.gif", n, k, stride=s, padding=p)
        written.append(f"{name}.gif")
    viz.animate(out / "scatter_s2_p1_k3.gif", (3, 3), 3, stride=2, padding=1, view="scatter")
    viz.animate(out / "tconv_1d_s2_d2_k3.gif", 4, 3, stride=2, dilation=2)
    viz.draw_matrix(out / "matrix_4x16.png")
    viz.draw_overlap((3, 3), out / "overlap_k3_s2.png", stride=2)
    viz.draw_overlap((4, 4), out / "overlap_k4_s2.png", stride=2)
    viz.draw_overlap(cb.analyze_stack(KERAS_MNIST_GENERATOR), out / "overlap_keras_mnist_generator.png", periods=2)
    written += [
        "scatter_s2_p1_k3.gif",
        "tconv_1d_s2_d2_k3.gif",
        "matrix_4x16.png",
        "overlap_k3_s2.png",
        "overlap_k4_s2.png",
        "overlap_keras_mnist_generator.png",
    ]
    architecture_picture(out / "architecture.png")
    written.append("architecture.png")
    rows = generator_comparison(out)
    written.append("generators.png")
    print("wrote", ", ".join(written), "in", out)
    print("untrained generators, 3 x2 upsamplings, mean image_score(stride 8) over 8 seeds:")
    for label, score in rows:
        print(f"  {label:24s} {score:.3f}")


if __name__ == "__main__":
    main()
