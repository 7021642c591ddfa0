"""Questions about one addon: why is it needed, what does it need (as a tree)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from odoo_ops.addons.core import core_addons
from odoo_ops.addons.graph import reverse, shortest_paths_to, why_chains
from odoo_ops.addons.scan import AddonsScan
from odoo_ops.addons.tree import TreeNode, dependency_tree


@dataclass(frozen=True, slots=True)
class Why:
    """Why ``name`` is needed.

    ``direct`` are the addons that depend on it, ``dependents`` all addons that
    need it transitively, ``chains`` one shortest dependency chain
    ``(root, ..., name)`` per root (see :func:`why`).
    """

    name: str
    known: bool
    direct: tuple[str, ...]
    dependents: tuple[str, ...]
    chains: tuple[tuple[str, ...], ...]


def why(scan: AddonsScan, name: str, roots: Iterable[str] | None = None) -> Why:
    """The reverse-dependency chains explaining why ``name`` is needed.

    Without ``roots`` the chains start at the top addons (those nothing depends
    on) among the addons that need ``name``; with ``roots`` (e.g. the addons a
    deployment installs explicitly) they start at each root that needs it.
    """
    graph = {n: a.depends for n, a in scan.addons.items()}
    rev = reverse(graph)
    step = shortest_paths_to(graph, name)
    root_list = list(roots) if roots is not None else None
    chains = why_chains(graph, name, root_list)
    known = name in scan.addons or name in scan.invalid_names or name in rev
    return Why(
        name=name,
        known=known,
        direct=tuple(rev.get(name, ())),
        dependents=tuple(sorted(step)),
        chains=tuple(chains),
    )


def addon_status(
    scan: AddonsScan, name: str, series: str | None, installed: Collection[str] = ()
) -> str:
    """A short status word for tree displays: installed/core/missing/invalid/not-installable."""
    if name in scan.invalid_names:
        return "invalid"
    addon = scan.addons.get(name)
    core = core_addons(series) if series else frozenset()
    if addon is None:
        return "core" if name in core else "missing"
    if name in installed:
        return "installed"
    if not addon.installable:
        return "not-installable"
    return "core" if name in core else ""


def addon_tree(
    scan: AddonsScan,
    name: str,
    series: str | None = None,
    *,
    installed: Collection[str] = (),
) -> TreeNode:
    """The dependencies of ``name`` as a tree (each addon expanded once).

    Core addons not on the path are leaves with status ``core``; addons found
    nowhere have status ``missing``.
    """
    graph = {n: a.depends for n, a in scan.addons.items()}
    names = {name}
    for deps in graph.values():
        names.update(deps)
    status = {n: addon_status(scan, n, series, installed) for n in names}
    return dependency_tree(graph, name, status)
