"""Fuzz the command line: random argument vectors to every subcommand, in-process.

Every call exits 0, or 2 with exactly one line on stderr and no traceback.
Exit 1 (the CLI's "internal error, please report it") fails the test: it is a
bug. Values are valid-looking and hostile (huge, negative, zero, malformed
lists and ``lo:hi`` pairs, unknown flags, missing, garbage, truncated and
deeply nested files). Pictures go to ``tmp_path`` and stay small or are refused.

Known library bugs found by this fuzz are listed in ``KNOWN_BUGS``: each has a
``xfail(strict=True)`` test below, and the random run steps around it (so it
stays green); once a bug is fixed its test passes, strict xfail turns that into
a failure, and its entry here is deleted, which gives the fuzz its region back.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fuzz_support import LONG, bounded, guarded, hostile_ints
from tconv.cli import main

COMMANDS = {
    # command: (per-axis flags, other flags)
    ("shape",): ("-i -k -s -p --output-padding -d", ""),
    ("solve",): ("-i -k -s -d --target", ""),
    ("explain",): ("-i -k -s -p --output-padding -d", ""),
    ("matrix",): ("-i -k -s -p --output-padding -d", ""),
    ("tour",): ("", ""),
    ("checkerboard",): ("-i -k -s -p -d", "--model --heatmap"),
    ("animate",): ("-i -k -s -p --output-padding -d", "--view --frames --duration"),
    ("draw", "matrix"): ("-i -k -s -p --output-padding -d", ""),
    ("draw", "overlap"): ("-k -s -p -d", "--model --periods"),
    ("convert",): ("-i", "--to --json LAYER"),
    ("inspect",): ("", "--json MODEL"),
}
PICTURES = {("animate",), ("draw", "matrix"), ("draw", "overlap")}


def _known(argv: list[str]) -> str | None:
    """The known library bug this argument vector runs into (see KNOWN_BUGS), or None."""
    values = dict(zip(argv, argv[1:]))
    for name, (hit, _reason) in KNOWN_BUGS.items():
        if hit(argv, values):
            return name
    return None


def _axes(text: str | None) -> list[int]:
    """The integers of a per-axis flag's text (empty when it does not parse)."""
    try:
        return [int(v) for v in text.replace(":", ",").split(",")] if text else []
    except ValueError:
        return []


#: an animation draws about one frame per output cell (~50 ms each): the fuzz keeps to short ones
MAX_FRAMES = 40


def _long_animation(argv: list[str]) -> bool:
    """An upper bound of the frames ``tconv animate`` would draw exceeds MAX_FRAMES (padding ignored)."""
    if argv[0] != "animate":
        return False
    values = dict(zip(argv, argv[1:]))
    axes = {f: _axes(values.get(f)) for f in ("-i", "-k", "-s", "-d", "--output-padding")}
    if not all(axes[f] for f in ("-i", "-k")) or any(v < 0 for a in axes.values() for v in a):
        return False  # refused before drawing
    nd = max(len(a) for a in axes.values())
    at = lambda f, ax, default: (axes[f] or [default])[min(ax, len(axes[f] or [default]) - 1)]  # noqa: E731
    frames = 1
    for ax in range(nd):
        n, k, s, d, op = (at(f, ax, dv) for f, dv in (("-i", 1), ("-k", 1), ("-s", 1), ("-d", 1), ("--output-padding", 0)))
        frames *= (n - 1) * s + d * (k - 1) + 1 + op
    return frames > MAX_FRAMES


#: name -> (does this argv hit it, the bug); each has a strict-xfail test in test_known_library_bugs
KNOWN_BUGS = {
}

# ---------------------------------------------------------------------------
# argument strategies
# ---------------------------------------------------------------------------

number = hostile_ints.map(str) | st.sampled_from(["x", "", "1.5", "0x10", " 3", "1e3", "+2", "٣"])
per_axis = st.lists(number, min_size=1, max_size=3).map(",".join)
pad_entry = number | st.tuples(number, number).map(":".join) | st.sampled_from(["1:2:3", ":", "1:"])
paddings = st.lists(pad_entry, min_size=1, max_size=3).map(",".join)
junk = st.sampled_from([["--bogus"], ["-g", "2"], ["-x"], ["--"], ["-"], ["--target"], ["-i"], ["extra"]])


def _layer() -> st.SearchStrategy:
    value = st.recursive(
        st.none() | st.booleans() | hostile_ints | st.text(max_size=5) | st.floats(allow_nan=False, width=32),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
        max_leaves=5,
    )
    geometric = st.one_of(hostile_ints, st.lists(hostile_ints, min_size=1, max_size=3), value)
    keys = st.sampled_from(
        "layer in_channels out_channels filters kernel_size stride strides padding output_padding dilation "
        "dilation_rate groups group op op_type kernel_shape pads auto_pad output_shape bias use_bias".split()
    )
    framework = st.sampled_from(["torch", "keras", "tensorflow", "jax", "onnx", "caffe", None])
    layer_name = st.sampled_from(["ConvTranspose2d", "ConvTranspose1d", "ConvTranspose3d", "Conv2DTranspose", "Dense"])
    return st.builds(
        lambda fw, name, rest: {"framework": fw, "layer": name, **rest},
        framework,
        layer_name,
        st.dictionaries(keys, geometric, max_size=6),
    )


def _onnx_model(kind: str, tmp_path) -> str:
    path = tmp_path / f"{kind}.onnx"
    if kind == "missing":
        return str(path)
    if kind == "directory":
        path.mkdir(exist_ok=True)
        return str(path)
    if kind == "garbage":
        path.write_bytes(bytes(range(256)) * 3)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        from onnx_support import convtranspose_model

        model = convtranspose_model((1, 2, 5, 5), (2, 3, 3, 3), static_weight=np.ones((2, 3, 3, 3)), strides=[2, 2])
        data = model.SerializeToString()
        path.write_bytes(data if kind == "good" else data[: len(data) * 2 // 3])
    return str(path)


def _layer_arg(kind: str, layer: dict, tmp_path) -> str:
    if kind == "text":
        return json.dumps(layer)
    path = tmp_path / f"{kind}.json"
    if kind == "file":
        path.write_text(json.dumps(layer))
    elif kind == "nested":
        path.write_text('{"framework": ' + "[" * 100_000)
    elif kind == "garbage":
        path.write_bytes(bytes(range(256)))
    elif kind == "missing":
        return str(tmp_path / "absent.json")
    return str(path)


@st.composite
def tame_values(draw, nd: int, flag: str) -> str:
    """A valid-looking per-axis value: small, one for every axis or one per axis."""
    count = draw(st.sampled_from([1, nd]))
    if flag == "-p":
        entries = [draw(st.sampled_from(["0", "1", "0:1", "1:0", "2"])) for _ in range(count)]
    elif flag == "--output-padding":
        entries = [draw(st.sampled_from(["0", "0", "1"])) for _ in range(count)]
    else:
        entries = [str(draw(st.integers(1, 4))) for _ in range(count)]
    return ",".join(entries)


def _tame_layer(nd: int, k: int, s: int) -> dict:
    return {"framework": "torch", "layer": f"ConvTranspose{nd}d", "in_channels": 2, "out_channels": 3, "kernel_size": k,
            "stride": s, "padding": k // 2, "output_padding": s - 1 if k % 2 else 0}  # fmt: skip


@st.composite
def argvs(draw, tmp_path, commands=tuple(COMMANDS)):
    """Half the time a valid-looking command line (small values, the required flags), else a hostile one."""
    command = draw(st.sampled_from(commands))
    axes, others = (s.split() for s in COMMANDS[command])
    argv = list(command)
    tame = draw(st.booleans())
    nd = 1 if command == ("animate",) else draw(st.integers(1, 2))
    for flag in axes:
        if tame and flag in ("-i", "-k", "--target") or draw(st.integers(0, 9)) < 6:
            argv += [flag, draw(tame_values(nd, flag) if tame else paddings if flag == "-p" else per_axis)]
    if "MODEL" in others or ("--model" in others and draw(st.booleans())):
        kinds = ["good"] if tame else ["good", "truncated", "garbage", "empty", "missing", "directory"]
        model = _onnx_model(draw(st.sampled_from(kinds)), tmp_path)
        argv += [model] if "MODEL" in others else ["--model", model]
    if "LAYER" in others:
        if tame:
            layer = _tame_layer(nd, draw(st.integers(1, 4)), draw(st.integers(1, 3)))
            argv.append(_layer_arg(draw(st.sampled_from(["text", "file"])), layer, tmp_path))
        else:
            kind = draw(st.sampled_from(["text", "file", "nested", "garbage", "missing"]))
            argv.append(_layer_arg(kind, draw(_layer()), tmp_path))
    if "--to" in others and (tame or draw(st.integers(0, 9))):
        targets = ["torch", "keras", "tensorflow", "jax", "onnx", "all"] + ([] if tame else ["caffe"])
        argv += ["--to", draw(st.sampled_from(targets))]
    if "--json" in others and draw(st.booleans()):
        argv.append("--json")
    if "--view" in others and draw(st.booleans()):
        argv += ["--view", draw(st.sampled_from(["zero_insertion", "scatter", "side"]))]
    if "--frames" in others and draw(st.integers(0, 3)) == 0:
        argv += ["--frames", str(tmp_path / draw(st.sampled_from(["frames", "no/such/dir"])))]
    for flag in ("--duration", "--periods"):
        if flag in others and draw(st.booleans()):
            argv += [flag, draw(number)]
    picture = command in PICTURES
    if picture or "--heatmap" in others or draw(st.integers(0, 4)) == 0:
        names = ["p.png", "p.gif"] if tame else ["p.png", "p.gif", "p.txt", "p.xyz", "no/such/dir/p.png", "."]
        name = draw(st.sampled_from(names))
        if "--heatmap" in others and draw(st.booleans()):
            flag = "--heatmap"
        else:
            flag = "-o" if picture or draw(st.booleans()) else None
        if flag:
            argv += [flag, str(tmp_path / name)]
    if not tame and draw(st.integers(0, 9)) == 0:
        argv += draw(junk)
    return argv


def check(capsys, argv: list[str]) -> None:
    """``main(argv)`` exits 0, or 2 with one stderr line; 1 (an internal error) or a traceback fails."""
    with guarded(what=argv):
        code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 2), f"exit {code} for {argv}: {err}"
    assert "Traceback" not in err, argv
    if code == 2:
        assert err.count("\n") == 1 and err.endswith("\n") and err.startswith("tconv"), (argv, err)
        assert out == "", argv
    else:
        assert err == "", (argv, err)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_cli")


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=" ".join)
def test_every_subcommand_exits_0_or_2_with_one_line(capsys, files, command):
    @bounded(25 if command in PICTURES else 30)
    @given(argvs(files, commands=(command,)))
    def run(argv):
        assume(_known(argv) is None and not _long_animation(argv))
        check(capsys, argv)

    run()


@pytest.mark.slow
def test_long_run(capsys, files):
    @LONG
    @given(argvs(files))
    def run(argv):
        assume(_known(argv) is None and not _long_animation(argv))
        check(capsys, argv)

    run()


@pytest.mark.parametrize(
    "argv",
    [
        ["checkerboard", "--model", "truncated"],
        ["checkerboard", "--model", "garbage"],
        ["checkerboard", "--model", "empty"],
        ["checkerboard", "--model", "directory"],
        ["draw", "overlap", "--model", "garbage", "-o", "p.png"],
        ["draw", "overlap", "--model", "truncated", "-o", "p.png"],
        ["inspect", "truncated"],
        ["inspect", "directory"],
    ],
    ids=" ".join,
)
def test_unreadable_models_give_one_line(capsys, files, argv):
    argv = [_onnx_model(a, files) if a in ("truncated", "garbage", "empty", "directory") else a for a in argv]
    argv = [str(files / a) if a.endswith(".png") else a for a in argv]
    code, (out, err) = main(argv), capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "onnx" in err.lower() or "directory" in err.lower(), err


def test_deeply_nested_json_gives_one_line(capsys, files):
    code, (out, err) = main(["convert", _layer_arg("nested", {}, files), "--to", "torch", "-i", "8"]), capsys.readouterr()
    assert code == 2 and out == "" and err.startswith("tconv convert: ") and err.count("\n") == 1, err
    assert "levels deep" in err


#: the smallest command line of each known bug
KNOWN_CASES: dict[str, list[str]] = {}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=r)) for n, (_, r) in KNOWN_BUGS.items()]
)
def test_known_library_bugs(capsys, files, name):
    argv = [str(files / a) if a in ("p.png", "a.gif") else a for a in KNOWN_CASES[name]]
    assert _known(argv) == name
    with guarded(what=argv):
        code = main(argv)
    out, err = capsys.readouterr()
    if name == "report_3d":  # a 3-D geometry is valid: its report prints
        assert code == 0 and err == "" and "unevenness" in out, err
    else:  # refused in the library's own words, naming the argument (not numpy's)
        assert code == 2 and err.count("\n") == 1 and "internal error" not in err, err
        assert {"checkerboard_sizes": "budget", "periods": "periods", "duration": "duration"}[name] in err, err
