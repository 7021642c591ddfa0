"""Properties: the scanner never crashes; plans always respect dependencies."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo_ops.addons import analyse, plan_install, scan_addons_path
from tests.unit.addons.helpers import graph_tree, raw_addon

KEYS = ["name", "version", "depends", "auto_install", "installable", "application", "author",
        "license", "website", "summary", "external_dependencies", "data"]  # fmt: skip

literals = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.binary(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)  # fmt: skip
manifest_dicts = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), literals, max_size=6)
garbage = st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1"))
snippets = st.sampled_from(
    ["{", "}", "[", "]", "'", ":", ",", "(", ")", "open(", "__import__", "'depends'", "True",
     "1.0", "\n", "#", "\\", "{'a': 1}", "\x00"]
)  # fmt: skip
manifest_texts = (
    manifest_dicts.map(repr)
    | garbage
    | st.lists(snippets, max_size=12).map("".join)
    | st.tuples(manifest_dicts.map(repr), garbage).map("".join)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(manifest_texts, min_size=1, max_size=6))
def test_random_manifests_never_crash_the_scanner(texts: list[str]) -> None:
    root = Path(tempfile.mkdtemp(prefix="odoo-ops-prop-"))
    try:
        for i, text in enumerate(texts):
            raw_addon(root, f"addon_{i}", text.encode("utf-8", "surrogatepass"))
        scan = scan_addons_path([root])
        found = set(scan.addons) | scan.invalid_names
        assert found == {f"addon_{i}" for i in range(len(texts))}
        assert not set(scan.addons) & scan.invalid_names
        for bad in scan.invalid:
            assert bad.error.startswith(str(root / bad.name))
        report = analyse(scan, "18.0")
        plan = plan_install(scan, sorted(found), "18.0")
        assert isinstance(report.findings, list) and isinstance(plan.findings, list)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@st.composite
def dags(draw: Any) -> tuple[dict[str, list[str]], set[str], list[str]]:
    """A random acyclic graph (edges only to lower indexes), installed set, request."""
    n = draw(st.integers(min_value=1, max_value=25))
    names = [f"m{i:02d}" for i in range(n)]
    graph = {}
    for i, name in enumerate(names):
        deps = draw(st.lists(st.sampled_from(names[:i]), max_size=4, unique=True)) if i else []
        extra = draw(st.sampled_from([[], ["base"], ["sale"], ["ghost_dep"]]))
        graph[name] = deps + extra
    installed = set(draw(st.lists(st.sampled_from(names + ["base"]), max_size=5)))
    requested = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5))
    return graph, installed, requested


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=dags())
def test_every_wave_depends_only_on_earlier_waves_or_installed(
    case: tuple[dict[str, list[str]], set[str], list[str]],
) -> None:
    graph, installed, requested = case
    root = Path(tempfile.mkdtemp(prefix="odoo-ops-prop-"))
    try:
        graph_tree(root, graph)
        plan = plan_install(scan_addons_path([root]), requested, "18.0", installed=installed)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    wave_of = {n: w.index for w in plan.waves for n in w.addons}
    planned = set(wave_of)
    assert len(plan.order) == len(planned)  # each addon once
    assert not planned & installed
    for name, wave in wave_of.items():
        pending = [d for d in graph.get(name, []) if d in planned]
        # only on earlier waves (or installed / not planned) ...
        assert all(wave_of[d] < wave for d in pending)
        # ... and as early as possible (minimal number of waves)
        assert wave == 1 + max((wave_of[d] for d in pending), default=-1)
    # the closure is complete: every dependency is planned, installed or missing
    for name in planned:
        for dep in graph.get(name, []):
            status = plan.addons[dep].status
            assert dep in planned or dep in installed or status == "missing", (dep, status)
    assert plan.ok == ("ghost_dep" not in plan.addons)


@settings(max_examples=300, deadline=None)
@given(
    value=literals,
    text=st.sampled_from(
        [
            "-1",
            "+2.5",
            "1+2j",
            "set()",
            "{**{}}",
            "...",
            "(1,)",
            "{1, 2}",
            "b'x'",
            "-(1)",
            "[[], {}]",
        ]
    ),
)
def test_manifest_values_are_exactly_literal_eval(value: Any, text: str) -> None:
    import ast

    from odoo_ops.addons.manifest import ManifestProblem, _parse

    for source in (repr(value), text, f"{{'k': {text}, 'v': {value!r}}}"):
        try:
            expected: Any = ast.literal_eval(source)
        except Exception:
            expected = ManifestProblem
        try:
            got: Any = _parse(source)[0]
        except ManifestProblem:
            got = ManifestProblem
        assert repr(got) == repr(expected), source
