"""Dependency trees for display (``odoo-ops addons tree``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from odoo_ops.addons.graph import Graph


@dataclass
class TreeNode:
    """One addon in a dependency tree.

    ``repeated`` marks a node already shown earlier in the tree (its
    dependencies are not shown again); ``cycle`` one that closes a cycle;
    ``status`` is free text from the caller (``core``, ``missing`` ...).
    """

    name: str
    status: str = ""
    repeated: bool = False
    cycle: bool = False
    children: list[TreeNode] = field(default_factory=list)

    def walk(self, depth: int = 0) -> Iterable[tuple[int, TreeNode]]:
        """``(depth, node)`` in display order (iterative pre-order)."""
        stack: list[tuple[int, TreeNode]] = [(depth, self)]
        while stack:
            level, node = stack.pop()
            yield level, node
            stack.extend((level + 1, c) for c in reversed(node.children))

    def to_dict(self) -> dict[str, object]:
        """A JSON-able nested dict (built iteratively)."""
        out: dict[int, dict[str, object]] = {}
        for _level, node in self.walk():
            out[id(node)] = {
                "name": node.name,
                "status": node.status,
                "repeated": node.repeated,
                "cycle": node.cycle,
                "depends": [],
            }
        for _level, node in self.walk():
            kids = out[id(node)]["depends"]
            assert isinstance(kids, list)
            kids.extend(out[id(c)] for c in node.children)
        return out[id(self)]


def dependency_tree(
    graph: Graph,
    name: str,
    status: Mapping[str, str] | None = None,
) -> TreeNode:
    """The dependencies of ``name`` as a tree; each addon expanded once.

    The first occurrence of an addon in display order (depth first, sorted)
    shows its dependencies; later ones are leaves marked ``repeated``. A
    dependency back onto the current branch is a leaf marked ``cycle``.
    """
    status = status or {}
    root = TreeNode(name, status.get(name, ""))
    expanded: set[str] = set()
    on_branch: set[str] = set()
    # (node, leaving): a node is left once all its children were shown
    stack: list[tuple[TreeNode, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_branch.discard(node.name)
            continue
        if node.name in on_branch:
            node.cycle = True
            continue
        if node.name in expanded:
            node.repeated = True
            continue
        expanded.add(node.name)
        on_branch.add(node.name)
        deps = sorted(set(graph.get(node.name, ())))
        node.children = [TreeNode(d, status.get(d, "")) for d in deps]
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.children))
    return root
