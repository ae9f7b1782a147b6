"""The package's layers, read off its own imports (used by tests/test_structure.py and make_pictures.py).

Every module of ``src/tconv`` belongs to one layer; a module imports only from
its own layer or the ones below. ``python scripts/architecture.py`` prints the
layers with their modules and the imports between layers.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tconv"

#: Bottom first: (layer, what it holds, module-name prefixes).
LAYERS: list[tuple[str, str, tuple[str, ...]]] = [
    ("geometry", "errors, the one normaliser, the memory budget, shape arithmetic",
     ("tconv.errors", "tconv.normalise", "tconv.memory", "tconv.geometry", "tconv.text")),
    ("algorithms", "one module per formulation, each pricing itself; the cost table; compiled loops",
     ("tconv.algorithms",)),
    ("ops", "validate once, estimate memory, dispatch; non-finite terms; gradients; padding modes",
     ("tconv.ops", "tconv.nonfinite", "tconv.grad", "tconv.padmodes")),
    ("compat", "one package per framework: arguments, layouts, converter hooks, model readers",
     ("tconv.compat",)),
    ("features", "converter, referee, inspect, checkerboard, nn, init, interpolate, viz, tour",
     ("tconv.converter", "tconv.referee", "tconv.inspect", "tconv.checkerboard", "tconv.nn", "tconv.init",
      "tconv.interpolate", "tconv.viz", "tconv.tour", "tconv.inverse", "tconv.deconvnet")),
    ("cli", "every subcommand; the only home of argparse", ("tconv.cli", "tconv.__main__")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """``(module imported, line)`` for every import in ``path``, at any depth (inside functions too).

    ``from P import x`` counts as importing ``P.x`` when that is a module, else ``P``.
    """
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in known else base, node.lineno))
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    mods = modules()
    known = set(mods)
    return {
        name: {target for target, _ in imports(name, path, known) if target in known and target != name}
        for name, path in mods.items()
    }


def layer_of(name: str) -> int | None:
    """The layer index of a module (``None`` for the package's face, ``tconv`` itself)."""
    for index, (_, _, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return index
    return None


def layer_edges() -> Counter:
    """``(from layer, to layer) -> number of module imports`` (the face left out)."""
    edges: Counter = Counter()
    for source, targets in graph().items():
        for target in targets:
            a, b = layer_of(source), layer_of(target)
            if a is not None and b is not None and a != b:
                edges[a, b] += 1
    return edges


def main() -> None:
    mods = modules()
    for index, (layer, what, _) in reversed(list(enumerate(LAYERS))):
        names = sorted(m.removeprefix("tconv.") for m in mods if layer_of(m) == index)
        print(f"{index} {layer}: {what}\n    {', '.join(names)}")
    for (a, b), count in sorted(layer_edges().items(), reverse=True):
        print(f"{LAYERS[a][0]} -> {LAYERS[b][0]}: {count} imports")


if __name__ == "__main__":
    main()
