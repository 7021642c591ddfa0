"""Install plans: closure, waves, installed, core, auto-install, problems."""

from __future__ import annotations

from pathlib import Path

from odoo_ops.addons import InstallPlan, plan_install, scan_addons_path
from odoo_ops.addons import findings as F
from tests.unit.addons.helpers import addon, graph_tree, raw_addon


def _plan(root: Path, requested: list[str], **kwargs) -> InstallPlan:  # type: ignore[no-untyped-def]
    return plan_install(scan_addons_path([root]), requested, "18.0", **kwargs)


def _waves(plan: InstallPlan) -> list[list[str]]:
    return [list(w.addons) for w in plan.waves]


def test_chain_diamond_and_independent_addons(tmp_path: Path) -> None:
    graph_tree(tmp_path, {
        "top": ["left", "right"], "left": ["bottom"], "right": ["bottom"],
        "bottom": ["base"], "alone": ["base"], "unrelated": ["base"],
    })  # fmt: skip
    plan = _plan(tmp_path, ["top", "alone"], installed={"base"})
    assert _waves(plan) == [["alone", "bottom"], ["left", "right"], ["top"]]
    assert plan.ok and plan.installed == ("base",)
    assert "unrelated" not in plan.addons
    assert plan.install_arguments() == ["alone,bottom", "left,right", "top"]
    assert plan.order == ["alone", "bottom", "left", "right", "top"]
    assert plan.addons["bottom"].needed_by == ("left", "right")
    assert plan.addons["top"].requested and not plan.addons["bottom"].requested


def test_waves_are_minimal_and_ordered(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"a": ["base"], "b": ["a"], "c": ["b", "base"], "d": ["a", "c"]})
    plan = _plan(tmp_path, ["d"])
    wave_of = {n: w.index for w in plan.waves for n in w.addons}
    assert wave_of == {"base": 0, "a": 1, "b": 2, "c": 3, "d": 4}
    for name, wave in wave_of.items():
        deps = plan.addons[name].depends
        assert all(wave_of[d] < wave for d in deps)
        assert wave == (1 + max((wave_of[d] for d in deps), default=-1))


def test_core_addons_not_on_the_path_are_leaves(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"mine": ["sale", "base"]})
    plan = _plan(tmp_path, ["mine"])
    assert _waves(plan) == [["base", "sale"], ["mine"]]
    assert plan.addons["sale"].core and not plan.addons["sale"].on_path
    assert plan.addons["sale"].origin == "core"
    assert plan.core == ["base", "sale"]
    # a requested core addon is known
    assert _plan(tmp_path, ["stock"]).ok


def test_installed_addons_are_skipped(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"a": ["base"], "b": ["a"], "c": ["b"]})
    plan = _plan(tmp_path, ["c"], installed={"base", "a"})
    assert _waves(plan) == [["b"], ["c"]]
    assert plan.installed == ("a", "base")
    assert plan.addons["a"].status == "installed" and plan.addons["a"].wave is None
    everything = _plan(tmp_path, ["c"], installed={"base", "a", "b", "c"})
    assert everything.waves == [] and everything.ok


def test_unknown_requested_addon(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"a": ["base"]})
    plan = _plan(tmp_path, ["a", "nope", "a"])
    assert plan.requested == ("a", "nope")
    unknown = [f for f in plan.findings if f.code == F.UNKNOWN_ADDON]
    assert [f.addon for f in unknown] == ["nope"] and not plan.ok
    assert _waves(plan) == [["base"], ["a"]]


def test_missing_and_invalid_dependencies(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"a": ["base", "ghost"], "b": ["broken"]})
    raw_addon(tmp_path, "broken", "{'depends': 'base'}")
    plan = _plan(tmp_path, ["a", "b"])
    assert plan.addons["ghost"].status == "missing"
    assert plan.addons["broken"].status == "invalid"
    assert plan.missing == ["ghost"]
    codes = {(f.code, f.addon) for f in plan.findings}
    assert (F.MISSING_DEPENDS, "ghost") in codes
    assert (F.INVALID_DEPENDS, "broken") in codes
    ghost = next(f for f in plan.findings if f.code == F.MISSING_DEPENDS)
    assert ghost.data["needed_by"] == ["a"] and "needed by a" in ghost.message
    assert not plan.ok


def test_cycles_block_what_sits_on_them(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"x": ["y", "base"], "y": ["x"], "top": ["x"], "free": ["base"]})
    plan = _plan(tmp_path, ["top", "free"])
    assert not plan.ok
    cycle = next(f for f in plan.findings if f.code == F.CYCLE)
    assert cycle.data["cycle"] == ["x", "y"]
    assert {plan.addons[n].status for n in ("x", "y", "top")} == {"blocked"}
    assert _waves(plan) == [["base"], ["free"]]


def test_not_installable_and_wrong_series_in_the_closure(tmp_path: Path) -> None:
    root = tmp_path
    addon(root, "off", installable=False)
    addon(root, "old", version="17.0.1.0.0")
    addon(root, "top", depends=["off", "old"])
    plan = _plan(root, ["top"])
    codes = {(f.code, f.addon) for f in plan.findings if f.is_error}
    assert codes == {(F.NOT_INSTALLABLE, "off"), (F.VERSION_SERIES, "old")}


def test_auto_install_true(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"sale_x": ["base"], "stock_x": ["base"]})
    addon(tmp_path, "bridge", depends=["sale_x", "stock_x"], auto_install=True)
    both = _plan(tmp_path, ["sale_x", "stock_x"])
    assert [(a.name, a.wave, a.triggers) for a in both.auto_installed] == [
        ("bridge", 1, ("sale_x", "stock_x"))
    ]
    assert "bridge" not in both.order
    one = _plan(tmp_path, ["sale_x"])
    assert one.auto_installed == []
    other_installed = _plan(tmp_path, ["sale_x"], installed={"base", "stock_x"})
    assert [a.name for a in other_installed.auto_installed] == ["bridge"]
    assert other_installed.auto_installed[0].wave == 0
    # all triggers installed already: not this plan's doing
    assert _plan(tmp_path, ["base"], installed={"base", "sale_x", "stock_x"}).auto_installed == []
    # requested explicitly: planned, not auto
    explicit = _plan(tmp_path, ["bridge"])
    assert "bridge" in explicit.order and explicit.auto_installed == []


def test_auto_install_list_pulls_in_other_dependencies(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"trigger": ["base"], "extra": ["extra_dep"], "extra_dep": ["base"]})
    addon(tmp_path, "glue", depends=["trigger", "extra"], auto_install=["trigger"])
    addon(tmp_path, "second", depends=["glue"], auto_install=True)
    plan = _plan(tmp_path, ["trigger"])
    auto = {a.name: a for a in plan.auto_installed}
    assert auto["glue"].triggers == ("trigger",)
    assert auto["glue"].also_installs == ("extra", "extra_dep")
    assert auto["glue"].wave == 1
    assert auto["second"].wave == 1  # cascades: glue's installation triggers it


def test_auto_install_without_triggers_comes_with_base(tmp_path: Path) -> None:
    addon(tmp_path, "always", depends=[], auto_install=True)
    graph_tree(tmp_path, {"a": ["base"]})
    fresh = _plan(tmp_path, ["a"])
    assert [(a.name, a.wave) for a in fresh.auto_installed] == [("always", 0)]
    existing = _plan(tmp_path, ["a"], installed={"base"})
    assert existing.auto_installed == []


def test_not_installable_auto_install_is_ignored(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"a": ["base"]})
    addon(tmp_path, "auto_off", depends=["a"], auto_install=True, installable=False)
    assert _plan(tmp_path, ["a"]).auto_installed == []


def test_database_module_list(tmp_path: Path) -> None:
    graph_tree(tmp_path, {"a": ["base"], "b": ["a"]})
    plan = _plan(tmp_path, ["b"], installed={"base"}, available_in_db={"base", "a"})
    assert plan.addons["a"].in_database is True and plan.addons["b"].in_database is False
    note = next(f for f in plan.findings if f.code == F.NOT_IN_DATABASE)
    assert note.severity == "info" and note.data["addons"] == ["b"] and plan.ok
    assert _plan(tmp_path, ["b"]).addons["b"].in_database is None


def test_plans_are_deterministic(tmp_path: Path) -> None:
    graph_tree(tmp_path, {f"m{i}": ["base"] + [f"m{j}" for j in range(i) if (i * j) % 3 == 1]
                          for i in range(30)})  # fmt: skip
    first = _plan(tmp_path, [f"m{i}" for i in range(30)][::-1])
    second = _plan(tmp_path, [f"m{i}" for i in range(30)])
    assert first.waves == second.waves
    for wave in first.waves:
        assert list(wave.addons) == sorted(wave.addons)
