"""Pictures: frame counts, sizes, and the colour of known cells for known geometries."""

from __future__ import annotations

import numpy as np
import pytest

from tconv import TconvError, conv_transpose
from tconv.cli import main

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from tconv import viz  # noqa: E402
from tconv.viz import _canvas as cv  # noqa: E402
from tconv.viz.draw import DARK_BLUE, LIGHT_BLUE, tap_colour  # noqa: E402


def colour_at(image, grid, row, col):
    return image.convert("RGB").getpixel(grid.center(row, col))


def close(c1, c2, tol=10):
    return max(abs(a - b) for a, b in zip(c1, c2)) <= tol


def has_text(image, grid, row, col):
    """Some pixel of the cell differs from its fill colour: a number is drawn there."""
    x0, y0, x1, y1 = grid.box(row, col)
    fill = image.getpixel((x0 + 3, y0 + 3))
    pixels = {image.getpixel((x, y)) for x in range(x0 + 4, x1 - 3) for y in range(y0 + 4, y1 - 3)}
    return pixels != {fill}


def test_zero_insertion_view_1d_cells():
    # n=2, k=3, s=2, p=0: padded input 0 0 x0 0 x1 0 0 (7 cells), output 5
    frames = viz.zero_insertion_frames(2, 3, stride=2)
    assert len(frames) == 5 and frames.input_grid.cols == 7 and frames.output_grid.cols == 5
    g_in, g_out = frames.input_grid, frames.output_grid
    first, last = frames.images[0], frames.images[-1]
    expected_first = [cv.KERNEL_ON_ZERO, cv.KERNEL_ON_ZERO, cv.KERNEL_ON_INPUT, cv.ZERO, cv.INPUT, cv.ZERO, cv.ZERO]
    assert [colour_at(first, g_in, 0, v) for v in range(7)] == expected_first
    expected_last = [cv.ZERO, cv.ZERO, cv.INPUT, cv.ZERO, cv.KERNEL_ON_INPUT, cv.KERNEL_ON_ZERO, cv.KERNEL_ON_ZERO]
    assert [colour_at(last, g_in, 0, v) for v in range(7)] == expected_last
    assert [colour_at(first, g_out, 0, o) for o in range(5)] == [cv.OUTPUT_CURRENT] + [cv.ZERO] * 4
    assert [colour_at(last, g_out, 0, o) for o in range(5)] == [cv.OUTPUT] * 4 + [cv.OUTPUT_CURRENT]
    # numbers: the inputs are labelled, inserted zeros are not; outputs once computed
    assert has_text(first, g_in, 0, 2) and not has_text(first, g_in, 0, 3)
    assert has_text(first, g_out, 0, 0) and not has_text(first, g_out, 0, 1)
    assert all(im.size == first.size for im in frames.images)


@pytest.mark.parametrize(
    "n, k, s, p, op, d",
    [
        (4, 3, 1, 0, 0, 1),
        (2, 3, 2, 0, 0, 1),
        (3, 3, 2, 1, 0, 1),
        (3, 3, 2, 1, 1, 1),
        (3, 2, 3, 0, 2, 1),
        (3, 3, 2, 0, 0, 2),
        (4, 3, 2, 3, 0, 1),  # padding > k_eff - 1: the view crops the dilated input
    ],
)
def test_zero_insertion_2d_cells_follow_the_geometry(n, k, s, p, op, d):
    frames = viz.zero_insertion_frames((n, n), k, stride=s, padding=p, output_padding=op, dilation=d)
    out = conv_transpose(np.ones((1, 1, n, n)), np.ones((1, 1, k, k)), stride=s, padding=p, output_padding=op, dilation=d)
    L = out.shape[-1]
    k_eff = d * (k - 1) + 1
    assert len(frames) == L * L
    assert (frames.input_grid.rows, frames.output_grid.rows) == (L + k_eff - 1, L)
    height = cv.MARGIN + cv.TITLE + (L + k_eff - 1) * frames.input_grid.cell + 1 + cv.MARGIN
    assert frames.images[0].size[1] == height
    # input elements sit at before + i*s with before = k_eff - 1 - p
    before = k_eff - 1 - p
    image = frames.images[L * L // 2]
    for v in range(L + k_eff - 1):
        t = v - before
        is_input = t % s == 0 and 0 <= t // s < n
        colour = colour_at(image, frames.input_grid, v, v)
        assert colour in ((cv.INPUT, cv.KERNEL_ON_INPUT) if is_input else (cv.ZERO, cv.KERNEL_ON_ZERO)), (v, colour)
    # the kernel shadow of frame (r, c) covers (r + i*d, c + j*d)
    r, c = divmod(L * L // 2, L)
    for i in range(k):
        for j in range(k):
            assert colour_at(image, frames.input_grid, r + i * d, c + j * d) in (cv.KERNEL_ON_INPUT, cv.KERNEL_ON_ZERO)


def test_scatter_view_1d_cells():
    # n=3, k=3, s=2, p=1: y_full has 7 cells, the output is y_full[1:6]
    frames = viz.scatter_frames(3, 3, stride=2, padding=1)
    assert len(frames) == 3 and frames.output_grid.cols == 7 and frames.output_offset == (0,)
    g = frames.output_grid
    first, second, _ = frames.images
    assert [colour_at(first, g, 0, v) for v in range(7)] == [cv.OUTPUT_CURRENT] * 3 + [cv.ZERO] * 3 + [cv.CROPPED]
    assert [colour_at(second, g, 0, v) for v in range(7)] == [cv.CROPPED, cv.OUTPUT] + [cv.OUTPUT_CURRENT] * 3 + [cv.ZERO, cv.CROPPED]
    assert colour_at(second, frames.input_grid, 0, 1) == cv.KERNEL_ON_INPUT
    assert colour_at(second, frames.input_grid, 0, 0) == cv.INPUT


def test_scatter_view_negative_start_extends_the_grid():
    # padding can't make lo negative through PyTorch's arguments, but output_padding extends the end
    frames = viz.scatter_frames(2, 2, stride=3, output_padding=2)
    assert frames.output_grid.cols == 7  # full = 5, window [0, 7)
    last = frames.images[-1]
    assert [colour_at(last, frames.output_grid, 0, v) for v in (5, 6)] == [cv.ZERO, cv.ZERO]


def test_animate_gif_and_png_frames(tmp_path):
    path = tmp_path / "a.gif"
    frames = viz.animate(path, (3, 3), 3, stride=2, padding=1, frames_dir=tmp_path / "frames")
    with Image.open(path) as gif:
        assert gif.n_frames == 25 == len(frames)
        assert gif.size == frames.images[0].size
        gif.seek(7)
        rgb = gif.convert("RGB")
        assert close(colour_at(rgb, frames.output_grid, 1, 2), cv.OUTPUT_CURRENT)
        assert close(colour_at(rgb, frames.output_grid, 1, 1), cv.OUTPUT)
        assert close(colour_at(rgb, frames.output_grid, 1, 3), cv.ZERO)
    pngs = sorted((tmp_path / "frames").iterdir())
    assert len(pngs) == 25 and pngs[0].name == "frame_000.png"
    with Image.open(pngs[7]) as png:
        assert np.array_equal(np.asarray(png.convert("RGB")), np.asarray(frames.images[7]))


def test_animate_rejects_bad_input(tmp_path):
    with pytest.raises(TconvError, match="view"):
        viz.animate(tmp_path / "a.gif", 2, 3, view="sideways")
    with pytest.raises(TconvError, match="1-D and 2-D"):
        viz.zero_insertion_frames((2, 2, 2), 3)
    with pytest.raises(TconvError, match="at most"):
        viz.zero_insertion_frames(60, 3)
    with pytest.raises(TconvError, match="x must have"):
        viz.zero_insertion_frames(3, 3, x=np.ones(4))


def test_draw_matrix_articles_figure(tmp_path):
    pic = viz.draw_matrix(tmp_path / "m.png")
    g_c, g_t = pic.grids["C"], pic.grids["C^T"]
    assert (g_c.rows, g_c.cols, g_t.rows, g_t.cols) == (4, 16, 16, 4)
    with Image.open(tmp_path / "m.png") as im:
        rgb = im.convert("RGB")
        # row 0 of C: taps 1 2 3 _ 4 5 6 _ 7 8 9 _ _ _ _ _
        row0 = [colour_at(rgb, g_c, 0, col) for col in range(16)]
        taps = [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
        assert row0 == [tap_colour(t, 9) if t else cv.ZERO for t in taps]
        # C^T is the transpose, cell by cell
        for r in range(4):
            for c in range(16):
                assert colour_at(rgb, g_t, c, r) == colour_at(rgb, g_c, r, c)
        assert has_text(rgb, g_c, 0, 0) and not has_text(rgb, g_c, 0, 3)


def test_draw_overlap_geometry_and_stack(tmp_path):
    pic = viz.draw_overlap(3, stride=2, periods=3)
    (name, grid), = pic.grids.items()
    assert (grid.rows, grid.cols) == (1, 6)
    assert [colour_at(pic.image, grid, 0, c) for c in range(6)] == [DARK_BLUE, LIGHT_BLUE] * 3
    pic = viz.draw_overlap(1, stride=2)
    (grid,) = pic.grids.values()
    mid = viz.draw.heat_colour(1.0, 1.0, 1.0)
    assert [colour_at(pic.image, grid, 0, c) for c in range(2)] == [mid, cv.NO_TAP]
    from tconv.checkerboard import analyze_stack

    report = analyze_stack([dict(kernel_size=(4, 4), stride=2, padding=1, name="a"), dict(kernel_size=(3, 3), stride=2, name="b")])
    pic = viz.draw_overlap(report, tmp_path / "o.png", periods=2)
    grids = list(pic.grids.values())
    assert [(g.rows, g.cols) for g in grids] == [(2, 2), (4, 4)]  # period 1 after 'a', 2x2 after 'b'
    assert (tmp_path / "o.png").stat().st_size > 0


def test_cli_pictures(tmp_path, capsys):
    gif = tmp_path / "a.gif"
    assert main(["animate", "-i", "2", "-k", "3", "-s", "2", "-o", str(gif), "--view", "scatter"]) == 0
    assert "2 frames" in capsys.readouterr().out
    with Image.open(gif) as im:
        assert im.n_frames == 2
    png = tmp_path / "m.png"
    assert main(["draw", "matrix", "-o", str(png)]) == 0
    assert "C is 4x16" in capsys.readouterr().out
    assert Image.open(png).size[0] > 16 * 24
    assert main(["draw", "overlap", "-k", "3,3", "-s", "2", "-o", str(tmp_path / "o.png")]) == 0
    assert main(["checkerboard", "-k", "3", "-s", "2", "--heatmap", str(tmp_path / "h.png")]) == 0
    assert (tmp_path / "h.png").exists()
    assert main(["animate", "-i", "2", "-k", "3"]) == 2
    assert "-o/--out is required" in capsys.readouterr().err
    assert main(["animate", "-i", "2,2,2", "-k", "3", "-o", str(gif)]) == 2



def test_cli_pictures_read_a_lo_hi_pair_as_one_axis(tmp_path, capsys):
    """``-p 1:0`` is one axis's (lo, hi) in every subcommand: the pictures agree with ``tconv shape``."""
    flags = ["-i", "3", "-k", "3", "-s", "2", "-p", "1:0", "--output-padding", "1"]
    assert main(["shape", *flags]) == 0
    assert capsys.readouterr().out == "output size: 7\n"
    gif = tmp_path / "a.gif"
    assert main(["animate", *flags, "-o", str(gif)]) == 0
    assert "7 frames" in capsys.readouterr().out  # one frame per output element
    with Image.open(gif) as im:
        assert im.n_frames == 7
    assert main(["draw", "matrix", "-i", "2", "-k", "3", "-p", "1:0", "-o", str(tmp_path / "m.png")]) == 0
    assert "C is 2x3, C^T is 3x2" in capsys.readouterr().out  # 2 -> 3, one axis
    assert main(["draw", "overlap", "-k", "3", "-s", "2", "-p", "1:0", "-o", str(tmp_path / "o.png")]) == 0


@pytest.mark.slow
def test_make_pictures_script_regenerates_everything(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "make_pictures.py"
    spec = importlib.util.spec_from_file_location("make_pictures", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    for name in module.ARTICLE_CASES:
        with Image.open(tmp_path / f"{name}.gif") as gif:
            assert gif.n_frames > 1
    assert (tmp_path / "generators.png").exists()
