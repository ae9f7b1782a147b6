"""The command line, in-process (and once through the console script)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

import tconv
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
        (["shape", "-i", "7,5", "-k", "3,3,3"], "-i/--input has 2, -k/--kernel has 3"),
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
    done = subprocess.run([sys.executable, "-m", "tconv", "shape", "-i", "2", "-k", "3"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "output size: 4\n"


# --------------------------------------------------------------------------
# one reading of the per-axis flags (tconv.normalise), the same in every subcommand
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, size",
    [
        (["-i", "3", "-k", "3", "-s", "2", "-p", "1:0", "--output-padding", "1"], "7"),  # a lo:hi pair is one axis
        (["-i", "3,3", "-k", "3", "-s", "2", "-p", "1:0", "--output-padding", "1"], "7,7"),  # one pair for every axis
        (["-i", "3,3", "-k", "3", "-s", "2", "-p", "1:0,0", "--output-padding", "1"], "7,8"),
        (["-i", "3", "-k", "3,3", "-d", "2"], "7,7"),  # one value for every axis
    ],
)
def test_shape_reads_lo_hi_pairs_per_axis(capsys, flags, size):
    assert run(capsys, "shape", *flags) == (0, f"output size: {size}\n", "")


def test_checkerboard_reads_a_lo_hi_pair_as_one_axis(capsys):
    code, out, _ = run(capsys, "checkerboard", "-k", "3", "-s", "2", "-p", "1:0")
    assert code == 0
    assert out.startswith("overlap (taps per output position over one period 2):\n  1 2\nunevenness: 2\n")
    assert "kernel_size=4 " in out  # one axis: not (4, 4)


def test_explain_and_matrix_read_a_lo_hi_pair_as_one_axis(capsys):
    code, out, _ = run(capsys, "explain", "-i", "3", "-k", "3", "-s", "2", "-p", "1:0", "--output-padding", "1")
    assert code == 0 and out.startswith("axis 0: n=3 k=3 s=2 d=1 -> 7\n") and "axis 1" not in out
    code, out, _ = run(capsys, "matrix", "-i", "2", "-k", "3", "-p", "1:0")
    assert code == 0 and "transposed conv 2 -> 3" in out and "2x3:" in out


# --------------------------------------------------------------------------
# help, version, refused flags, one error style
# --------------------------------------------------------------------------

GEOMETRY = {"-i", "-k", "-s", "-p", "--output-padding", "-d"}
READS = {
    ("shape",): GEOMETRY | {"-o"},
    ("solve",): {"-i", "-k", "-s", "-d", "--target", "-o"},
    ("explain",): GEOMETRY | {"-o"},
    ("matrix",): GEOMETRY | {"-o"},
    ("tour",): {"-o"},
    ("vectors",): {"--convention", "--cases", "--seed", "--dtype", "--out"},
    ("apply",): {"--input", "--output", "--chunks", "--workers", "--memory-limit", "--quiet"},
    ("checkerboard",): {"-i", "-k", "-s", "-p", "-d", "-o", "--model", "--heatmap"},
    ("animate",): GEOMETRY | {"-o", "--view", "--frames", "--duration"},
    ("draw", "matrix"): GEOMETRY | {"-o"},
    ("draw", "overlap"): {"-k", "-s", "-p", "-d", "-o", "--model", "--periods"},
    ("convert",): {"-i", "-o", "--to", "--json"},
    ("inspect",): {"-o", "--json"},
}


def test_every_subcommand_is_tested_here(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert set(re.findall(r"^    (\w+)", out, re.M)) == {c[0] for c in READS}


@pytest.mark.parametrize("command", sorted(READS), ids=" ".join)
def test_help_has_one_line_description_and_lists_only_the_flags_read(capsys, command):
    code, out, err = run(capsys, *command, "--help")
    assert code == 0 and err == ""
    description = out.split("\n\n")[1]
    assert description.endswith(".") and description.count(".") == 1, description  # one sentence
    options = set(re.findall(r"^  (-[-\w]+)", out, re.M)) - {"-h"}
    assert options == READS[command]


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["shape", "-i", "3", "-k", "3", "--target", "99"], "--target 99"),
        (["tour", "-i", "3"], "-i 3"),
        (["solve", "-i", "7", "-k", "5", "-p", "1", "--target", "14"], "-p 1"),
        (["solve", "-i", "7", "-k", "5", "--output-padding", "1", "--target", "14"], "--output-padding 1"),
        (["checkerboard", "-k", "3", "--output-padding", "1"], "--output-padding 1"),
        (["draw", "overlap", "-k", "3", "-i", "4", "-o", "o.png"], "-i 4"),
        (["inspect", "m.onnx", "-k", "3"], "-k 3"),
        (["convert", "{}", "--to", "torch", "-i", "8", "-s", "2"], "-s 2"),
        (["shape", "-i", "3", "-k", "3", "-g", "2"], "-g 2"),
    ],
)
def test_flags_a_subcommand_does_not_read_are_refused(capsys, argv, flag):
    code, out, err = run(capsys, *argv)
    command = "tconv " + " ".join(argv[: 2 if argv[0] == "draw" else 1])
    assert code == 2 and out == ""
    assert err == f"{command}: unrecognized arguments: {flag} ({command} --help lists what it reads)\n"


def test_version(capsys):
    assert run(capsys, "--version") == (0, f"tconv {tconv.__version__}\n", "")


@pytest.mark.parametrize(
    "argv, prefix",
    [
        (["shape", "-i", "7", "-k", "5", "-s", "0"], "tconv shape: -s/--stride must be >= 1"),  # the normaliser's
        (["shape", "-i", "3", "-k", "3", "-s", "2", "--output-padding", "5"], "tconv shape: output_padding"),  # the library's
        (["shape", "-i", "x", "-k", "3"], "tconv shape: argument -i/--input:"),  # argparse's
        (["shape", "-i", "7"], "tconv shape: -k/--kernel is required"),  # the command's
        (["matrix", "-i", "20,20", "-k", "3"], "tconv matrix: prints tiny cases only"),
        (["checkerboard", "-s", "2"], "tconv checkerboard: give -k/--kernel"),
        (["checkerboard", "--model", "model.pt"], "tconv checkerboard: model files must be ONNX"),
        (["draw", "overlap", "-s", "2", "-o", "o.png"], "tconv draw overlap: give -k/--kernel"),
        (["draw", "matrix", "-i", "2,2,2"], "tconv draw matrix:"),
        (["convert", "{not json", "--to", "torch", "-i", "8"], "tconv convert: the layer description is not valid JSON"),
        (["convert", "nofile.json", "--to", "torch", "-i", "8"], "tconv convert: LAYER must be a JSON object"),
        (["inspect", "missing.onnx"], "tconv inspect: no such file: 'missing.onnx'"),
        (["draw"], "tconv draw: the following arguments are required: PICTURE"),
        (["bogus"], "tconv: argument COMMAND: invalid choice: 'bogus'"),
    ],
)
def test_one_error_style(capsys, argv, prefix):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(prefix + (" " if prefix.endswith(":") else "")) and err.count("\n") == 1, err
    assert not re.match(r"tconv( \w+)*: (error: )?tconv[. ]", err), err  # no second prefix from the library


def test_console_script():
    script = shutil.which("tconv")
    if script is None:
        pytest.skip("the tconv console script is not installed")
    done = subprocess.run([script, "shape", "-i", "7", "-k", "5", "--target", "14"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "tconv shape: unrecognized arguments: --target 14 (tconv shape --help lists what it reads)\n"
    done = subprocess.run([script, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == f"tconv {tconv.__version__}\n"


def test_the_command_line_needs_no_optional_extra():
    code = "import sys, tconv.cli; assert not {'PIL', 'matplotlib', 'onnx', 'torch'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------
# never a traceback: bad input exits 2, a bug of tconv exits 1, both in one line
# --------------------------------------------------------------------------


def raising(exc):
    def handler(args):
        raise exc

    return handler


@pytest.mark.parametrize(
    "exc, piece",
    [
        (MemoryError("Unable to allocate 7.45 GiB"), "not enough memory for this size (Unable to allocate 7.45 GiB)"),
        (OverflowError("int too large to convert"), "a size is too large to compute (int too large to convert)"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (FileNotFoundError(2, "No such file or directory"), "No such file or directory"),
        (PermissionError(13, "Permission denied"), "Permission denied"),
        (TypeError("tconv.conv: stride must be an int; got 'x'"), "stride must be an int; got 'x'"),
        (tconv.TconvError("tconv.conv: stride must be >= 1; got 0"), "stride must be >= 1; got 0"),
        (ImportError("tconv.viz needs Pillow: pip install 'tconv[viz]'"), "pip install 'tconv[viz]'"),
        (ModuleNotFoundError("No module named 'onnx'", name="onnx"), "pip install 'tconv[onnx]'"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_bad_input_and_sizes_exit_2_in_one_line(capsys, monkeypatch, exc, piece):
    monkeypatch.setattr(tconv.cli.shapes, "cmd_shape", raising(exc))
    code, out, err = run(capsys, "shape", "-i", "3", "-k", "3")
    assert code == 2 and out == ""
    assert err.startswith("tconv shape: ") and err.count("\n") == 1 and piece in err, err
    assert "internal error" not in err
    assert isinstance(exc, ImportError) or "tconv shape: tconv." not in err  # the library's prefix is replaced


@pytest.mark.parametrize(
    "exc",
    [KeyError("taps"), TypeError("unsupported format string passed to numpy.ndarray.__format__"), ValueError("x"),
     AttributeError("'NoneType' object has no attribute 'shape'"), ZeroDivisionError("division by zero"),
     ImportError("cannot import name 'plan' from partially initialized module 'tconv.ops'")],
    ids=lambda e: type(e).__name__,
)
def test_an_internal_error_asks_for_a_bug_report_and_exits_1(capsys, monkeypatch, exc):
    monkeypatch.setattr(tconv.cli.shapes, "cmd_shape", raising(exc))
    code, out, err = run(capsys, "shape", "-i", "3", "-k", "3")
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith("tconv shape: internal error, please report it as a bug of tconv")
    assert f"{type(exc).__name__}: {str(exc)}" in err and "--debug" in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(capsys, monkeypatch, where):
    monkeypatch.setattr(tconv.cli.shapes, "cmd_shape", raising(KeyError("taps")))
    argv = ["shape", "-i", "3", "-k", "3"]
    code, out, err = run(capsys, *(["--debug"] + argv if where == "before" else argv + ["--debug"]))
    assert code == 1 and out == ""
    assert err.startswith("Traceback (most recent call last):") and "KeyError: 'taps'" in err
    assert err.splitlines()[-1].startswith("tconv shape: internal error")
    # bad input keeps its exit code under --debug
    code, _, err = run(capsys, "explain", "-i", "3", "-k", "3", "-s", "0", "--debug")
    assert code == 2 and "TconvError" in err and err.splitlines()[-1].startswith("tconv explain: -s/--stride")


def test_debug_is_listed_in_the_top_level_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--debug" in out


def test_solve_prints_a_bounded_answer_for_a_huge_stride(capsys):
    code, out, err = run(capsys, "solve", "-i", "7", "-k", "5", "-s", "100000000000", "--target", "14")
    assert code == 0 and err == "" and len(out) < 1000
    progression = "padding 299999999996 to 349999999995 in steps of 1, output_padding 1 to 99999999999 in steps of 2"
    assert f"50000000000 pairs: {progression}" in out


def test_solve_lists_a_short_answer_in_full(capsys):
    code, out, _ = run(capsys, "solve", "-i", "7", "-k", "5", "-s", "8", "--target", "14")
    assert code == 0
    pairs = out.splitlines()[1].split(": ", 1)[1].split(", ")
    assert len(pairs) == 4 and pairs[0] == "padding=20 output_padding=1" and "..." not in out


def test_matrix_refuses_a_big_case_before_building_it(capsys):
    code, out, err = run(capsys, "matrix", "-i", "100000,100000", "-k", "3")
    assert code == 2 and err.startswith("tconv matrix: prints tiny cases only (at most 64 rows and columns); ")
    assert err.endswith("C would be 10000000000x10000400004\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["draw", "matrix", "-o", "m.txt"],
        ["animate", "-i", "3", "-k", "3", "-o", "a"],
        ["checkerboard", "-k", "3", "-s", "2", "--heatmap", "h.xyz"],
    ],
    ids=" ".join,
)
def test_a_picture_file_pillow_cannot_write_is_one_line(capsys, tmp_path, argv):
    argv = [str(tmp_path / a) if "." in a or a == "a" else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and "must end in an image extension Pillow writes" in err


def test_a_layer_file_that_is_not_text_is_one_line(capsys, tmp_path):
    path = tmp_path / "layer.json"
    path.write_bytes(bytes(range(256)))
    code, out, err = run(capsys, "convert", str(path), "--to", "torch", "-i", "8")
    assert code == 2 and out == "" and err.startswith("tconv convert: LAYER file") and "not UTF-8" in err


def test_an_interrupt_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(tconv.cli.shapes, "cmd_shape", raising(KeyboardInterrupt()))
    assert run(capsys, "shape", "-i", "3", "-k", "3") == (130, "", "tconv shape: interrupted\n")


def test_convert_to_all_reports_the_targets_that_cannot_hold_the_layer(capsys):
    layer = '{"framework": "torch", "layer": "ConvTranspose3d", "in_channels": 2, "out_channels": 2, "kernel_size": 3, "stride": 2}'
    code, out, err = run(capsys, "convert", layer, "--to", "all", "-i", "4")
    assert code == 0 and err == ""
    refused = [line for line in out.splitlines() if re.match(r"# (litert|webnn): tconv\.convert: ", line)]
    assert len(refused) == 2 and all("3 spatial dims" in line for line in refused)
    assert "torch.nn.ConvTranspose3d -> onnx" in out
    # a layer that every target refuses is the source's error: one line, exit 2
    code, out, err = run(capsys, "convert", layer.replace('"stride": 2', '"stride": -2'), "--to", "all", "-i", "4")
    assert code == 2 and out == "" and "stride must be >= 1" in err and len(err.splitlines()) == 1
