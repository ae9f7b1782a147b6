"""The command line, in-process."""

from __future__ import annotations

import pytest

from tconv.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_shape(capsys):
    assert run(capsys, "shape", "-i", "7,7", "-k", "5", "-s", "2", "-p", "2", "--output-padding", "1") == (0, "output size: 14,14\n", "")


def test_shape_with_asymmetric_padding(capsys):
    code, out, _ = run(capsys, "shape", "-i", "4,4", "-k", "3", "-p", "1:2,0")
    assert code == 0 and out.strip() == "output size: 3,6"


def test_solve(capsys):
    code, out, _ = run(capsys, "solve", "-i", "7", "-k", "5", "-s", "2", "--target", "14")
    assert code == 0 and "padding=2 output_padding=1" in out
    code, out, _ = run(capsys, "solve", "-i", "7", "-k", "5", "-s", "2", "--target", "99")
    assert code == 0 and "none" in out and "largest reachable size is 18" in out


def test_explain_draws_grids(capsys):
    code, out, _ = run(capsys, "explain", "-i", "2,2", "-k", "3", "-s", "2")
    assert code == 0
    assert "insert 1 zero(s) between inputs" in out
    lines = out.splitlines()
    start = lines.index("zero-inserted and padded input (· = inserted zero or padding):")
    grid = lines[start + 1 : start + 8]
    assert grid[2].split() == ["·", "·", "1", "·", "2", "·", "·"]
    result = lines[lines.index("output (each cell sums the input values under the flipped kernel):") + 1 :]
    assert [row.split() for row in result[:5]][2] == ["4", "4", "10", "6", "6"]


def test_matrix_prints_c_and_ct(capsys):
    code, out, _ = run(capsys, "matrix", "-i", "2,2", "-k", "3")
    assert code == 0
    assert "4x16" in out and "16x4" in out
    assert "1 2 3 · 4 5 6 · 7 8 9 · · · · ·" in out


def test_tour_runs_every_algorithm(capsys):
    code, out, _ = run(capsys, "tour")
    assert code == 0
    assert "1 2 2 1" in out and "2 2 3 1" in out
    assert "(8, 3, 4, 4)" in out and "= 28" in out
    for name in ("scatter", "zero_insert", "matrix", "col2im", "phase", "fft"):
        assert f"{name} " in out


def test_out_writes_a_file(capsys, tmp_path):
    target = tmp_path / "shape.txt"
    code, out, _ = run(capsys, "shape", "-i", "3", "-k", "3", "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_text() == "output size: 5\n"


@pytest.mark.parametrize(
    "argv, piece",
    [
        (["shape", "-i", "7", "-k", "5", "-s", "0"], "stride"),
        (["shape", "-i", "7"], "-k/--kernel is required"),
        (["shape", "-i", "x", "-k", "3"], "expected integers"),
        (["solve", "-i", "7", "-k", "3"], "--target is required"),
        (["bogus"], "invalid choice"),
        (["shape", "-i", "3", "-k", "3", "-p", "1:a"], "lo:hi"),
        (["matrix", "-i", "20,20", "-k", "3"], "tiny cases only"),
        (["shape", "-i", "3", "-k", "3", "-s", "2", "--output-padding", "5"], "output_padding"),
        ([], "required"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(capsys, argv, piece):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and piece in err
    assert "Traceback" not in err


def test_python_dash_m(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "tconv", "shape", "-i", "2", "-k", "3"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "output size: 4\n"
