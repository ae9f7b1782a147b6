"""Draw docs/images/tiling.png: input blocks, halos and output blocks of exact tiling (needs matplotlib).

    python scripts/tiling_picture.py            # writes docs/images/tiling.png
    python scripts/tiling_picture.py --out FILE

Every interval drawn is computed by :func:`tconv.distributed.receptive_field`
(the same arithmetic the tasks run), for one transposed conv and for a
three-layer stack, along one axis and over a 2-D input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tconv import nn
from tconv.distributed import receptive_field
from tconv.distributed.graph import default_chunks

ROOT = Path(__file__).resolve().parents[1]
OWN, HALO, OUT, EDGE = "#4c72b0", "#dd8452", "#55a868", "#333333"


def one_layer():
    return nn.Sequential(nn.ConvTranspose1d(1, 1, 4, stride=2, padding=1))


def stack(nd: int = 1):
    t = (nn.ConvTranspose1d, nn.ConvTranspose2d)[nd - 1]
    c = (nn.Conv1d, nn.Conv2d)[nd - 1]
    return nn.Sequential(t(1, 1, 4, stride=2, padding=1), nn.ReLU(), c(1, 1, 5, padding=2), t(1, 1, 3, stride=2, padding=1, output_padding=1))


def chunk_edges(chunks):
    return np.concatenate([[0], np.cumsum(chunks)])


def draw_row(ax, y, length, chunks, label, read=None, own=None, block=None):
    """One axis as a bar of cells: chunk boundaries, the interval read (halo) and the block's own part."""
    ax.add_patch(_rect(0, y, length, "#f4f4f4"))
    if read is not None:
        ax.add_patch(_rect(read[0], y, read[1] - read[0], HALO))
    if own is not None:
        ax.add_patch(_rect(own[0], y, own[1] - own[0], OWN))
    if block is not None:
        ax.add_patch(_rect(block[0], y, block[1] - block[0], OUT))
    for e in chunk_edges(chunks):
        ax.plot([e, e], [y - 0.05, y + 0.85], color=EDGE, lw=1.6)
    for i in range(length + 1):
        ax.plot([i, i], [y, y + 0.8], color="#bbbbbb", lw=0.4, zorder=0)
    ax.text(-1, y + 0.4, label, ha="right", va="center", fontsize=8)


def _rect(x, y, w, color):
    import matplotlib.patches as patches

    return patches.Rectangle((x, y), w, 0.8, color=color, lw=0)


def axis_panel(ax, model, n, chunks, pick, title):
    """The chain of intervals of one output block, from the model's output down to its input."""
    from tconv.distributed.tiling import pipeline

    pipe = pipeline("picture", model, (1, 1, n), np.float64)
    out_chunks = default_chunks(chunks, pipe.factor[0], pipe.out_shape[2])
    edges = chunk_edges(out_chunks)
    block = (int(edges[pick]), int(edges[pick + 1]))
    rf = receptive_field(model, [block], input_shape=(1, 1, n))
    levels = [(rf.input[0], "input")] + [(f.output[0], f.name) for f in rf.layers if f.kind != "point-wise"]
    kinds = [f for f in rf.layers if f.kind != "point-wise"]
    y = 0.0
    lengths = [n] + [s.out_size[0] for s in pipe.stages if s.kind != "point-wise"]
    # the input, with the chunk that owns the block in blue and the halo in orange
    for i, ((lo, hi), name) in enumerate(levels):
        last = i == len(levels) - 1
        label = "input" if i == 0 else f"layer {name} ({kinds[i - 1].kind})" + ("" if last else ", in the task")
        c = chunks if i == 0 else (out_chunks if last else (lengths[i],))
        own = None
        if i == 0:
            factor = pipe.factor[0]
            own = (int(np.floor(block[0] / factor)), int(np.ceil(block[1] / factor)))
        draw_row(ax, -1.4 * i, lengths[i], c, label, read=(lo, hi) if not last else None, own=own,
                 block=(lo, hi) if last else None)
        y = -1.4 * i
    ax.set_xlim(-14, max(lengths) + 1)
    ax.set_ylim(y - 0.6, 1.3)
    ax.set_title(title, fontsize=9, loc="left")
    ax.axis("off")


def grid_panel(ax, model, n, tile, pick):
    """A 2-D input in chunks: the receptive field of one output block of the stack, over several chunks."""
    import matplotlib.patches as patches

    rf = receptive_field(model, pick, input_shape=(1, 1, n, n))
    (a0, a1), (b0, b1) = rf.input
    touched = ((a1 - 1) // tile - a0 // tile + 1) * ((b1 - 1) // tile - b0 // tile + 1)
    for e in range(0, n + 1, tile):
        ax.plot([e, e], [0, n], color=EDGE, lw=1.2)
        ax.plot([0, n], [e, e], color=EDGE, lw=1.2)
    own = [(int(np.floor(t0 / 4)), int(np.ceil(t1 / 4))) for t0, t1 in pick]
    ax.add_patch(patches.Rectangle((b0, a0), b1 - b0, a1 - a0, color=HALO, alpha=0.8))
    ax.add_patch(patches.Rectangle((own[1][0], own[0][0]), own[1][1] - own[1][0], own[0][1] - own[0][0], color=OWN))
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"the stack in 2-D, {tile}x{tile} input chunks:\noutput block [{pick[0][0]}, {pick[0][1]}) x "
                 f"[{pick[1][0]}, {pick[1][1]})\nreads [{a0}, {a1}) x [{b0}, {b1}): 9 chunks", fontsize=9, loc="left")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "images" / "tiling.png"))
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11, 6.2))
    grid = fig.add_gridspec(2, 2, width_ratios=[2.3, 1], height_ratios=[1, 1.7])
    axis_panel(fig.add_subplot(grid[0, 0]), one_layer(), 12, (4, 3, 1, 4), 1,
               "one layer: ConvTranspose1d(k=4, s=2, p=1), input chunks (4, 3, 1, 4), output chunks stride x those")
    axis_panel(fig.add_subplot(grid[1, 0]), stack(), 12, (4, 3, 1, 4), 2,
               "a stack: ConvT(k4, s2, p1), ReLU, Conv(k5, p2), ConvT(k3, s2, p1, op1): halos chained layer by layer")
    grid_panel(fig.add_subplot(grid[:, 1]), stack(2), 24, 4, [(32, 48), (48, 64)])
    fig.legend(handles=[patches.Patch(color=OWN, label="the block's own share of the input"),
                        patches.Patch(color=HALO, label="read for it (own share + halo)"),
                        patches.Patch(color=OUT, label="the output block")],
               loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
