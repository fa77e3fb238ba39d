"""The folder tree is the architecture (docs/architecture.md): imports point down the layers, never up,
no module imports another that imports it back, and the engine and the lower layers stay free of the
database and the UI. Read from the source (ast), lazy imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ftdemo"

# Lowest first. A module may import from its own layer or a lower one; within the store/io layer the
# two packages stay apart (files and the database meet in the services).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ftdemo", "ftdemo.errors", "ftdemo.tasks", "ftdemo.settings", "ftdemo.devices", "ftdemo.processes"),
    ("ftdemo.store", "ftdemo.io"),
    ("ftdemo.models",),
    ("ftdemo.training",),
    ("ftdemo.explain",),
    ("ftdemo.serving", "ftdemo.assist"),
    ("ftdemo.jobs",),
    ("ftdemo.services",),
    ("ftdemo.ui", "ftdemo.cli", "ftdemo.benchmarks", "ftdemo.__main__"),
)
APART = {"ftdemo.store": "ftdemo.io", "ftdemo.io": "ftdemo.store"}
UI_LIBRARIES = ("gradio", "gradio_client")
DATABASE_LIBRARIES = ("sqlalchemy", "alembic", "psycopg")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Every module or package `name` imports (ftdemo ones resolved to the module; others by top name)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


def owner(name: str) -> str:
    """The entry of LAYERS a module belongs to (its longest matching prefix)."""
    entries = [e for layer in LAYERS for e in layer if name == e or name.startswith(e + ".")]
    return max(entries, key=len)


def rank(name: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if owner(name) in layer)


def ftdemo_imports(name: str) -> set[str]:
    return {m for m in imports_of(name) if m == "ftdemo" or m.startswith("ftdemo.")}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_the_layers(name: str) -> None:
    upward = [m for m in ftdemo_imports(name) if m in MODULES and rank(m) > rank(name)]
    assert not upward, f"{name} (layer {owner(name)}) imports from a higher layer: {sorted(upward)}"
    apart = APART.get(owner(name))
    crossing = [m for m in ftdemo_imports(name) if apart and m in MODULES and owner(m) == apart]
    assert not crossing, f"{name} imports {sorted(crossing)}: {owner(name)} and {apart} meet only in the services"


def test_no_import_cycles() -> None:
    graph = {name: {m for m in ftdemo_imports(name) if m in MODULES and m != name} for name in MODULES}
    # a package's __init__ re-exporting its own modules is not a cycle through them: skip parent edges
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    cycles, stack, index, low, on_stack = [], [], {}, {}, set()

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"modules that import each other (directly or around a loop): {cycles}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if rank(n) < len(LAYERS) - 1))
def test_nothing_below_the_ui_imports_gradio(name: str) -> None:
    assert not {m.split(".")[0] for m in imports_of(name)} & set(UI_LIBRARIES), name


@pytest.mark.parametrize("name", sorted(n for n in MODULES if owner(n) in
                                        ("ftdemo.training", "ftdemo.models", "ftdemo.explain", "ftdemo.serving",
                                         "ftdemo.assist", "ftdemo.io")))
def test_the_engine_and_model_layers_never_touch_the_database(name: str) -> None:
    touched = {m for m in imports_of(name) if m.split(".")[0] in DATABASE_LIBRARIES or m.startswith("ftdemo.store")}
    assert not touched, f"{name} imports {sorted(touched)}"


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        assert owner(name), name
