"""Graph algorithms: cycles, why, trees; deep graphs without recursion."""

from __future__ import annotations

from pathlib import Path

from odoo_ops.addons import addon_tree, find_cycles, scan_addons_path, why
from odoo_ops.addons.graph import closure, strongly_connected, why_chains
from odoo_ops.addons.tree import dependency_tree
from tests.unit.addons.helpers import graph_tree, raw_addon


def test_find_cycles() -> None:
    graph = {"a": ["b"], "b": ["c", "a"], "c": ["a"], "d": ["d"], "e": ["a"]}
    assert find_cycles(graph) == [("a", "b"), ("a", "b", "c"), ("d",)]
    assert find_cycles({"a": ["b"], "b": []}) == []
    components = strongly_connected(graph)
    assert ["a", "b", "c"] in components


def test_deep_graphs_do_not_recurse() -> None:
    n = 5_000
    graph = {f"m{i}": [f"m{i + 1}"] for i in range(n)}
    graph[f"m{n}"] = ["m0"]
    cycles = find_cycles(graph)
    assert len(cycles) == 1 and len(cycles[0]) == n + 1
    del graph[f"m{n}"]
    assert len(closure(graph, ["m0"])) == n + 1
    tree = dependency_tree(graph, "m0")
    assert sum(1 for _ in tree.walk()) == n + 1
    assert len(why_chains(graph, f"m{n}")) == 1


def test_why(tmp_path: Path) -> None:
    graph_tree(tmp_path, {
        "app_a": ["mid"], "app_b": ["mid", "leaf"], "mid": ["leaf"], "leaf": ["base"],
        "other": ["base"],
    })  # fmt: skip
    scan = scan_addons_path([tmp_path])
    answer = why(scan, "leaf")
    assert answer.known
    assert answer.direct == ("app_b", "mid")
    assert answer.dependents == ("app_a", "app_b", "mid")
    assert answer.chains == (("app_b", "leaf"), ("app_a", "mid", "leaf"))
    rooted = why(scan, "leaf", roots=["app_a", "other"])
    assert rooted.chains == (("app_a", "mid", "leaf"),)
    nobody = why(scan, "other")
    assert nobody.known and nobody.dependents == () and nobody.chains == ()
    core = why(scan, "base")
    assert core.known and set(core.dependents) == {"app_a", "app_b", "mid", "leaf", "other"}
    assert not why(scan, "nope").known


def test_why_inside_a_cycle() -> None:
    graph = {"a": ["b"], "b": ["a", "x"]}
    assert why_chains(graph, "x") == [("b", "x")]


def test_tree_expands_each_addon_once(tmp_path: Path) -> None:
    graph_tree(tmp_path, {
        "top": ["left", "right", "ghost"], "left": ["shared"], "right": ["shared", "sale"],
        "shared": ["base"], "loop_a": ["loop_b"], "loop_b": ["loop_a"],
    })  # fmt: skip
    raw_addon(tmp_path, "bad", "{")
    scan = scan_addons_path([tmp_path])
    tree = addon_tree(scan, "top", "18.0")
    rows = [(depth, n.name, n.status, n.repeated) for depth, n in tree.walk()]
    assert rows == [
        (0, "top", "", False),
        (1, "ghost", "missing", False),
        (1, "left", "", False),
        (2, "shared", "", False),
        (3, "base", "core", False),
        (1, "right", "", False),
        (2, "sale", "core", False),
        (2, "shared", "", True),
    ]
    data = tree.to_dict()
    assert data["name"] == "top" and [c["name"] for c in data["depends"]] == [
        "ghost",
        "left",
        "right",
    ]
    loop = addon_tree(scan, "loop_a", "18.0")
    flat = [(n.name, n.cycle) for _d, n in loop.walk()]
    assert flat == [("loop_a", False), ("loop_b", False), ("loop_a", True)]
    assert addon_tree(scan, "bad", "18.0").status == "invalid"
