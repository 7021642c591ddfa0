"""Multi-step upgrades (16.0 -> 17.0 -> 18.0) with the ``odoo`` double as each step's
target Odoo: ``upgrade plan`` lists every step, ``upgrade rehearse`` runs them in
order on one copy (the install/uninstall lists applied between steps through the
step's Odoo shell) and names the step that failed.

Real PostgreSQL (an Odoo 16 shaped database), real files; the OpenUpgrade wheels
are built here as zip files of the layout OCA publishes. The double plays Odoo 17
and 18 through ``ODOO_DOUBLE_SERIES`` (a real ``env`` in front of it).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.integration.upgrade.conftest import OCA, Project
from tests.support.addons import write_addon


def test_plan_lists_each_step_with_its_own_classification(project: Project) -> None:
    proc = project.cli("upgrade", "plan", "--to", "18.0", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["source_series"] == "16.0" and plan["target_series"] == "18.0"
    steps = plan["steps"]
    assert [(s["source_series"], s["target_series"]) for s in steps] == [
        ("16.0", "17.0"), ("17.0", "18.0")]
    assert [s["openupgrade_scripts"] for s in steps] == ["17.0.1.0.0.7", "18.0.1.0.0.7"]
    by_step: dict[str, dict[str, Any]] = {}
    for m in plan["modules"]:
        by_step.setdefault(m["step"], {})[m["name"]] = m
    # step 1 sees legacy_tool (17.0 version on the path); step 2 no longer: it was
    # uninstalled after step 1, and new_tool is not there yet
    assert by_step["17.0"]["legacy_tool"]["fate"] == "available"
    assert "legacy_tool" not in by_step["18.0"]
    assert by_step["17.0"]["base"]["fate"] == "openupgrade"
    assert by_step["18.0"]["base"]["scripts"] == ["18.0.1.3"]
    assert by_step["18.0"]["web_ribbon"]["target_version"] == "18.0.1.0.0"
    assert by_step["18.0"]["base"]["source_version"] == "17.0.1.3"
    assert "after 16.0 -> 17.0: uninstall legacy_tool; install -" in plan["notes"]

    one = project.cli("upgrade", "plan", "--to", "17.0", "--format", "json")
    assert one.returncode == 0, one.stderr
    assert [s["target_series"] for s in json.loads(one.stdout)["steps"]] == ["17.0"]
    md = project.cli("upgrade", "plan", "--format", "markdown")  # default: the last step
    assert "# Upgrade plan: " in md.stdout and "in 2 steps" in md.stdout
    assert "## Step: " in md.stdout and "16.0 -> 17.0" in md.stdout


def test_plan_refuses_a_missing_step(project: Project) -> None:
    toml = project.root / "odoo-ops.toml"
    text = toml.read_text()
    toml.write_text(text[:text.index("[[upgrade.steps]]")]
                    + text[text.index("[[upgrade.steps]]", text.index("[[upgrade.steps]]")
                                      + 1):])
    proc = project.cli("upgrade", "plan", "--to", "18.0")
    assert proc.returncode == 2, proc.stderr
    assert 'no [[upgrade.steps]] with to = "17.0"' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_rehearse_runs_the_steps_in_order_on_one_copy(project: Project) -> None:
    before = project.modules()
    dry = project.cli("upgrade", "rehearse", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = [ln for ln in dry.stdout.splitlines() if "migrate " in ln]
    assert "16.0 -> 17.0" in lines[0] and "ODOO_DOUBLE_SERIES=17.0" in lines[0]
    assert "17.0 -> 18.0" in lines[1]
    assert not project.databases(f"{project.db.name}%odoo_ops_upgrade%")
    proc = project.cli("upgrade", "rehearse", "--to", "18.0", "--keep", "--format", "json")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"] and report["failed_step"] is None
    assert [(s["target_series"], s["ok"]) for s in report["steps"]] == [
        ("17.0", True), ("18.0", True)]
    assert report["steps"][0]["uninstalled"] == ["legacy_tool"]
    assert report["steps"][1]["installed"] == ["new_tool"]
    for st in report["steps"]:
        assert f"-c {project.root}" in " ".join(st["command"])
        assert st["command"][1] == f"ODOO_DOUBLE_SERIES={st['target_series']}"
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["module states"]["ok"], checks["module states"]
    after = project.modules(report["copy"])
    assert after["base"] == ("installed", "18.0.1.3")
    assert after["web_ribbon"] == ("installed", "18.0.1.0.0")
    assert after["new_tool"][0] == "installed"
    assert after["legacy_tool"][0] == "uninstalled"
    assert project.modules() == before  # the source only read
    run_dir = Path(report["report_dir"])
    assert (run_dir / "migration-17.0.log").stat().st_size > 0
    assert (run_dir / "migration-18.0.log").stat().st_size > 0
    assert "| 16.0 -> 17.0 | 17.0.1.0.0.7 | ok |" in (run_dir / "report.md").read_text()
    # the go-live board takes the multi-step rehearsal as its evidence ...
    assert _golive_item(project)["status"] == "done"
    # ... until an earlier step's target code changes
    write_addon(project.root.parent / "oca17", "web_ribbon", version="17.0.1.0.1", author=OCA)
    item = _golive_item(project)
    assert item["status"] == "attention" and "target code changed" in str(item["evidence"])


def _golive_item(project: Project) -> dict[str, Any]:
    proc = project.cli("golive", "status", "--format", "json")
    items = json.loads(proc.stdout)["items"]
    return next(i for i in items if i["item"]["id"] == "upgrade-rehearsed")


@pytest.mark.parametrize("serving", [False, True], ids=["stop-after-init", "serving"])
def test_rehearse_names_the_step_that_failed(project: Project, tmp_path: Path,
                                             serving: bool) -> None:
    if serving:  # nothing after the last step: its Odoo would have served the login
        toml = project.root / "odoo-ops.toml"
        toml.write_text(toml.read_text().replace('install = ["new_tool"]\n', ""))
    write_addon(tmp_path / "oca18", "web_ribbon", version="18.0.1.0.0", author=OCA,
                odoo_double={"fail": "update", "message": "column ribbon_color missing"})
    before = project.modules()
    proc = project.cli("upgrade", "rehearse", "--to", "18.0", "--format", "json")
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["failed_step"] == "17.0 -> 18.0" and not report["ok"]
    assert [s["ok"] for s in report["steps"]] == [True, False]
    assert report["checks"] == []
    assert report["failure"]["module"] == "web_ribbon"
    md = (Path(report["report_dir"]) / "report.md").read_text()
    assert "- step: 17.0 -> 18.0" in md and "FAILED" in md
    assert project.modules() == before
    assert not project.databases(f"{project.db.name}%odoo_ops_upgrade%")


def test_last_step_logs_in_through_the_server_that_migrated(project: Project) -> None:
    """Nothing to do after the last step's OpenUpgrade: its Odoo runs without
    --stop-after-init and the login goes through it (no second server start)."""
    toml = project.root / "odoo-ops.toml"
    toml.write_text(toml.read_text().replace('install = ["new_tool"]\n', ""))
    proc = project.cli("upgrade", "rehearse", "--to", "18.0", "--format", "json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"], report
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["login"]["ok"] and "/web/login 200" in checks["login"]["detail"]
    run_dir = Path(report["report_dir"])
    assert not (run_dir / "server.log").exists()  # no second server
    assert "Registry loaded in" in (run_dir / "migration-18.0.log").read_text()
    assert "logging in to the target Odoo that migrated the copy" in proc.stderr
    assert not project.databases(f"{project.db.name}%odoo_ops_upgrade%")  # dropped: no
    # session of the migrating server was left on it


def test_run_chains_the_steps_on_the_live_database(project: Project) -> None:
    rehearsed = project.cli("upgrade", "rehearse", "--to", "18.0")
    assert rehearsed.returncode == 0, rehearsed.stdout[-3000:] + rehearsed.stderr[-3000:]
    assert "step 16.0 -> 17.0" in rehearsed.stdout and "uninstalled legacy_tool" in \
        rehearsed.stdout  # the table's row per step
    before = project.modules()
    proc = project.cli("upgrade", "run", "--to", "18.0", "--format", "json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads(proc.stdout)
    assert run["ok"] and not run["forced"] and run["failed_step"] is None
    assert [s["target_series"] for s in run["steps"]] == ["17.0", "18.0"]
    after = project.modules()
    assert after["base"] == ("installed", "18.0.1.3")
    assert after["legacy_tool"][0] == "uninstalled" and after["new_tool"][0] == "installed"
    assert project.modules(run["rollback_copy"]) == before  # one point, before step 1
    config = tomllib.loads((project.root / "odoo-ops.toml").read_text())
    dep = config["deployments"]["prod"]
    last = config["upgrade"]["steps"][1]
    assert dep["series"] == "18.0" and dep["odoo_command"] == last["target_odoo_command"]
    assert dep["addons_paths"] == last["target_addons_paths"]


def test_run_failing_in_a_later_step_rolls_back_every_step(project: Project,
                                                           tmp_path: Path) -> None:
    write_addon(tmp_path / "oca18", "web_ribbon", version="18.0.1.0.0", author=OCA,
                odoo_double={"fail": "update", "message": "column ribbon_color missing"})
    before = project.modules()
    toml_before = (project.root / "odoo-ops.toml").read_text()
    proc = project.cli("upgrade", "run", "--to", "18.0", "--force")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "step 17.0 -> 18.0: web_ribbon" in proc.stdout
    assert "ROLLED BACK" in proc.stdout and "Traceback" not in proc.stderr
    assert project.modules() == before  # 16.0 again, step 1's changes too
    assert (project.root / "odoo-ops.toml").read_text() == toml_before
