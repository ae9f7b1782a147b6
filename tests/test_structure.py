"""The shape of the package: no import cycles, argparse only in the CLI, no private imports across packages,
and a public surface that loads lazily with the base dependencies."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tconv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import architecture  # noqa: E402  (scripts/architecture.py: the layers and the import graph)
OPTIONAL = ("torch", "tensorflow", "keras", "jax", "onnx", "onnxruntime", "PIL", "matplotlib", "numba")


def _modules() -> dict[str, Path]:
    return architecture.modules()


_imports = architecture.imports
_graph = architecture.graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_the_package():
    """Imports inside functions count: a cycle hidden there is still a cycle."""
    assert _cycles(_graph()) == []


def test_every_module_has_a_layer_and_imports_only_downward():
    """The layers of the README's architecture picture: geometry < algorithms < ops < compat < features < cli."""
    upward = []
    for source, targets in _graph().items():
        if source == "tconv":
            continue  # the package's face re-exports from every layer
        assert architecture.layer_of(source) is not None, f"{source} belongs to no layer of scripts/architecture.py"
        for target in targets:
            if target != "tconv" and architecture.layer_of(target) > architecture.layer_of(source):
                upward.append(f"{source} -> {target}")
    assert upward == []


def test_the_graph_sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("from .a import f\n")
    known = {"pkg", "pkg.a", "pkg.b"}
    assert [t for t, _ in _imports("pkg.a", pkg / "a.py", known)] == ["pkg.b"]
    assert [t for t, _ in _imports("pkg.b", pkg / "b.py", known)] == ["pkg.a"]


def test_argparse_only_in_the_cli_package():
    modules = _modules()
    offenders = [
        f"{name}:{line}"
        for name, path in modules.items()
        if not (name == "tconv.cli" or name.startswith("tconv.cli."))
        for target, line in _imports(name, path, set(modules))
        if target == "argparse"
    ]
    assert offenders == []


def _private_imports(files: dict[str, Path], known: set[str]) -> list[str]:
    """Imports of an underscore module from outside the package that holds it."""
    offenders = []
    for name, path in files.items():
        for target, line in _imports(name, path, known):
            parts = target.split(".")
            for depth, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(parts[:depth])
                    if not (name == owner or name.startswith(owner + ".")):
                        offenders.append(f"{name}:{line} imports {target}")
                    break
    return offenders


def test_no_private_module_imported_across_packages():
    modules = _modules()
    files = dict(modules)
    for path in sorted((ROOT / "benchmarks").rglob("*.py")) + sorted((ROOT / "scripts").rglob("*.py")):
        files[f"{path.parent.name}.{path.stem}"] = path
    assert _private_imports(files, set(modules)) == []


def test_bare_import_reaches_the_subpackages_without_extras():
    code = (
        "import sys, tconv\n"
        "tconv.nn.ConvTranspose2d; tconv.compat.torch.conv_transpose2d; tconv.checkerboard.unevenness\n"
        "tconv.viz; tconv.init.bilinear; tconv.inspect; tconv.compat.layouts; tconv.convert\n"
        f"print(sorted(m for m in {OPTIONAL!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_attributes_still_raise():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tconv.nope
    with pytest.raises(AttributeError):
        tconv.compat.nope


def test_all_is_explicit_and_importable():
    assert len(tconv.__all__) == len(set(tconv.__all__)) <= 20
    for name in tconv.__all__:
        assert getattr(tconv, name) is not None
    assert {"nn", "compat", "checkerboard", "viz", "init", "inspect"} <= set(dir(tconv))


def test_print_explain_prints_the_explanation(capsys):
    e = tconv.explain(3, 3, stride=2, padding=1, output_padding=1)
    print(e)
    assert capsys.readouterr().out == e.text() + "\n"
