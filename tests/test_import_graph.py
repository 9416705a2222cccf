"""The code's layering, read from its imports (every import, lazy ones in functions included):
no module imports itself back through others, the spawners never reach into the platform, and
review never reaches into production."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "sdk", "spawner", "kernels")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of ours that ``name`` (a module or a name in one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found


def _graph() -> dict[str, set[str]]:
    graph = defaultdict(set)
    for name, path in MODULES.items():
        for target in _imports(path):
            owner = _owner(target)
            if owner and owner != name:
                graph[name].add(owner)
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(component))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    return out


def _edges(source: str, target: str) -> list[tuple[str, str]]:
    def inside(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    return sorted(
        (a, b) for a, bs in GRAPH.items() for b in bs if inside(a, source) and inside(b, target)
    )


def test_the_graph_is_read_from_real_imports():
    assert "hub.cli.base" in GRAPH["hub.cli.main"]  # a guard that the reader finds imports
    assert "sdk.errors" in GRAPH["sdk.client"]


def test_when_imports_are_followed_then_no_module_comes_back_to_itself():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize(
    "source, target",
    [
        ("spawner", "hub"),  # the platform hands the spawners what they need (tenant lookup)
        ("kernels", "hub"),  # the workspace side never holds platform code
        ("sdk", "hub"),  # the SDK is a pure HTTP client
        ("hub.review", "hub.production"),  # review decides; production acts on what it decided
    ],
)
def test_when_a_layer_is_below_another_then_it_never_imports_it(source, target):
    assert _edges(source, target) == []
