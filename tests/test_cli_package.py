"""The command line lives in its own package: argparse nowhere else, subcommands imported explicitly, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "tconv"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """The tconv modules ``path`` imports, at the top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


def stdlib_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_argparse_only_in_the_cli_package():
    outside = sorted(n for n, p in MODULES.items() if "argparse" in stdlib_imports(p) and not n.startswith("tconv.cli"))
    assert outside == []


def test_subcommands_are_imported_explicitly():
    for name, path in MODULES.items():
        if name.startswith("tconv.cli"):
            assert "import_module" not in path.read_text(), name


def cycles_through(modules: set[str]) -> list[list[str]]:
    """The import cycles of src/tconv that pass through one of ``modules`` (each as a path a -> ... -> a)."""
    graph = {n: imports(p) for n, p in MODULES.items()}
    found = []
    for start in sorted(modules):
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    found.append(path + [start])
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    return found


def test_no_import_cycle_through_the_cli_tour_viz_or_checkerboard():
    """cli <-> tour and checkerboard <-> viz were cycles; the command line imports the library, never the reverse."""
    mine = {n for n in MODULES if n.split(".")[1:2] in (["cli"], ["tour"], ["text"], ["viz"], ["checkerboard"])}
    assert cycles_through(mine) == []


def test_the_library_never_imports_the_cli():
    library = {n: p for n, p in MODULES.items() if not n.startswith("tconv.cli")}
    importers = sorted(n for n, p in library.items() if any(m.startswith("tconv.cli") for m in imports(p)))
    assert importers == ["tconv.__main__"]
