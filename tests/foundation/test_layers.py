"""The import graph follows the layers: a module imports only its own package and the layers below it,
and no modules import each other in a cycle. Every import counts, also one inside a function."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Lowest first. `domain` is pure; `workflows` holds the contract with the activities.
LAYERS = ["domain", "workflows", "infra", "store", "activities", "steering", "worker", "web", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            found.add(base.strip("."))
            found.update(f"{base}.{alias.name}".strip(".") for alias in node.names)
    return {name for name in found if name.split(".")[0] in RANK}


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {imp for imp in _imports(path, package) if imp in modules and imp != name}
    return graph


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{src} imports {dst}"
        for src, targets in graph.items()
        for dst in targets
        if RANK[dst.split(".")[0]] > RANK[src.split(".")[0]]
    )


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    cycles: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert _upward(_graph()) == []


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_checks_see_what_they_forbid(tmp_path: Path) -> None:
    """Negative control: a function-level import of a higher layer, an upward edge and a cycle are found."""
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from web.app import create_app\n    from . import sibling\n")
    assert {"web.app", "store.sibling"} <= _imports(source, "store")
    assert _upward({"store.x": {"web.app"}, "web.app": set()}) == ["store.x imports web.app"]
    assert _cycles({"cli.a": {"cli.b"}, "cli.b": {"cli.a"}}) == ["cli.a -> cli.b -> cli.a"]
