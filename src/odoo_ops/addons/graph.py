"""Dependency graph algorithms: cycles, closures, reverse chains and trees.

A graph here is a mapping ``name -> names it depends on``. Names that are not
keys are leaves (their dependencies are unknown). Everything is iterative
(no recursion limit on deep graphs) and deterministic (sorted).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

Graph = Mapping[str, Sequence[str]]


def strongly_connected(graph: Graph) -> list[list[str]]:
    """The strongly connected components of ``graph`` (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            deps = graph.get(node, ())
            recurse = False
            while i < len(deps):
                dep = deps[i]
                i += 1
                if dep not in index:
                    work.append((node, i))
                    work.append((dep, 0))
                    recurse = True
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def _shortest_cycle(graph: Graph, start: str, members: set[str]) -> list[str]:
    """The shortest path ``start -> ... -> start`` inside ``members``."""
    parent: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for dep in sorted(graph.get(node, ())):
            if dep not in members:
                continue
            if dep == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return list(reversed(path))
            if dep not in seen:
                seen.add(dep)
                parent[dep] = node
                queue.append(dep)
    return [start]  # pragma: no cover - a member of a component always cycles


def find_cycles(graph: Graph) -> list[tuple[str, ...]]:
    """Dependency cycles, each once, as ordered tuples ``(a, b, c)`` for a->b->c->a.

    Every addon that lies on a cycle appears in at least one of them; a cycle
    starts with its smallest name. Sorted.
    """
    cycles: set[tuple[str, ...]] = set()
    for component in strongly_connected(graph):
        members = set(component)
        if len(component) == 1:
            name = component[0]
            if name in graph.get(name, ()):
                cycles.add((name,))
            continue
        covered: set[str] = set()
        for start in component:
            if start in covered:
                continue
            path = _shortest_cycle(graph, start, members)
            pivot = path.index(min(path))
            cycle = tuple(path[pivot:] + path[:pivot])
            cycles.add(cycle)
            covered.update(cycle)
    return sorted(cycles)


def closure(graph: Graph, roots: Iterable[str]) -> set[str]:
    """``roots`` and everything they depend on, transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(d for d in graph.get(node, ()) if d not in seen)
    return seen


def reverse(graph: Graph) -> dict[str, list[str]]:
    """``name -> names that depend on it`` (sorted)."""
    rev: dict[str, list[str]] = {}
    for node, deps in graph.items():
        for dep in deps:
            rev.setdefault(dep, []).append(node)
    for users in rev.values():
        users.sort()
    return rev


def shortest_paths_to(graph: Graph, name: str) -> dict[str, str]:
    """For every addon that depends on ``name`` (transitively): its next step on a
    shortest dependency path to ``name`` (breadth-first over reverse edges)."""
    rev = reverse(graph)
    step: dict[str, str] = {}
    queue = deque([name])
    while queue:
        node = queue.popleft()
        for user in rev.get(node, ()):
            if user != name and user not in step:
                step[user] = node
                queue.append(user)
    return step


def why_chains(
    graph: Graph,
    name: str,
    roots: Iterable[str] | None = None,
) -> list[tuple[str, ...]]:
    """The reverse-dependency chains that explain why ``name`` is needed.

    One chain ``(root, ..., name)`` per root that depends on ``name``, along a
    shortest dependency path. The roots are ``roots`` when given, otherwise the
    addons that depend on ``name`` and that nothing depends on (the tops).
    Sorted by length, then by name.
    """
    step = shortest_paths_to(graph, name)
    if roots is not None:
        starts = sorted({r for r in roots if r in step})
    else:
        rev = reverse(graph)
        starts = sorted(u for u in step if not rev.get(u))
        if step and not starts:  # every dependent lies on a cycle
            starts = sorted(u for u in step if step[u] == name)
    chains = []
    for start in starts:
        chain = [start]
        while chain[-1] != name:
            chain.append(step[chain[-1]])
        chains.append(tuple(chain))
    chains.sort(key=lambda c: (len(c), c))
    return chains
