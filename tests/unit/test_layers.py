"""The layers import one way only: cli -> actions -> adapters -> config.

Read from the source (every ``import``, also inside functions), so a lazy
import cannot hide a circle. docs/ARCHITECTURE.md draws the same picture.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import odoo_ops

PACKAGE = Path(odoo_ops.__file__).parent

#: Shared helpers every layer may use (they import none of the layers).
COMMON = {"errors", "inputs", "secrets", "names", "fileutil", "childproc", "jsondata"}
#: The actions: each does one job, through the adapters, and returns results.
ACTIONS = {
    "addons", "audit", "backup", "checks", "deploy", "generate", "golive", "health",
    "loadtest", "modules", "oca", "snapshot", "notify", "status", "serve", "pitr", "upgrade", "dr",
}  # fmt: skip

#: What each layer may import (top-level names under odoo_ops).
ALLOWED: dict[str, set[str]] = {
    "config": {"config"} | COMMON,
    "adapters": {"adapters", "config", "addons"} | COMMON,
    "report": {"report", "checks"} | COMMON,  # checks: the CheckReport type only
    **{action: ACTIONS | {"adapters", "config"} | COMMON for action in ACTIONS},
}


def imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_downward(path: Path) -> None:
    layer = layer_of(path)
    if layer not in ALLOWED:
        return  # cli (may import anything), __init__, the shared helpers below
    allowed = ALLOWED[layer]
    for module in imports(path):
        parts = module.split(".")
        if parts[0] != "odoo_ops" or len(parts) < 2:
            continue
        used = parts[1]
        if layer == "report" and used == "checks":
            assert module == "odoo_ops.checks.base", f"{path.name} imports {module}"
            continue
        assert used in allowed, f"{layer} ({path.name}) imports {module}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_imports_the_cli(path: Path) -> None:
    if layer_of(path) == "cli":
        return
    for module in imports(path):
        assert not module.startswith("odoo_ops.cli"), f"{path} imports {module}"


@pytest.mark.parametrize("name", sorted(COMMON))
def test_shared_helpers_import_no_layer(name: str) -> None:
    path = PACKAGE / f"{name}.py"
    layers = set(ALLOWED) | {"cli"}
    for module in imports(path):
        parts = module.split(".")
        if parts[0] == "odoo_ops" and len(parts) > 1:
            assert parts[1] not in layers, f"{name}.py imports {module}"


def _module_graph() -> dict[str, set[str]]:
    """Module -> the odoo_ops modules it imports (lazy imports too, not the ones
    under ``if TYPE_CHECKING:``, which never run)."""
    names: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def resolve(module: str) -> str | None:
        while module and module not in names:
            module = module.rpartition(".")[0]
        return module or None

    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for module in targets:
                found = resolve(module) if module.startswith("odoo_ops") else None
                if found and found != name:
                    deps.add(found)
        graph[name] = deps
    return graph


def test_no_import_cycles() -> None:
    graph = _module_graph()
    assert len(graph) > 100
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
