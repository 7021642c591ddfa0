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
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support import odoo_schema
from tests.support.addons import write_addon
from tests.support.pg import OdooTestDb

DOUBLE = Path(__file__).resolve().parents[2] / "support" / "bin" / "odoo"
OCA = "Odoo Community Association (OCA)"


def core_tree(root: Path, version: int) -> Path:
    """An Odoo source tree's ``odoo/addons`` with the core modules of ``version``."""
    addons = root / "odoo" / "addons"
    for mod in odoo_schema.core_modules(version):
        write_addon(addons, mod.name, version=mod.version, depends=mod.depends,
                    auto_install=mod.auto_install, installable=mod.installable,
                    author=mod.author, license=mod.license)
    js = addons / "mail" / "static" / "src" / "discuss.js"  # the client action's tag
    js.parent.mkdir(parents=True)
    js.write_text('registry.category("actions").add("mail.action_discuss", Discuss);\n')
    return addons


def wheel(directory: Path, dist: str, version: str, members: dict[str, str]) -> Path:
    path = directory / f"odoo_addon_{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
        zf.writestr(f"odoo_addon_{dist}-{version}.dist-info/METADATA", f"Name: {dist}\n")
    return path


def openupgrade_wheels(directory: Path, series: str, renamed: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    scripts = "odoo/addons/openupgrade_scripts/"
    wheel(directory, "openupgrade_scripts", f"{series}.1.0.0.7", {
        scripts + "__init__.py": "",
        scripts + "__manifest__.py": f"{{'name': 'OpenUpgrade scripts', 'version': "
                                     f"'{series}.1.0.0', 'installable': True}}\n",
        scripts + "apriori.py": f"renamed_modules = {renamed!r}\nmerged_modules = {{}}\n",
        scripts + f"scripts/base/{series}.1.3/post-migration.py": "# migrate base\n",
        scripts + f"scripts/mail/{series}.1.18/pre-migration.py": "# migrate mail\n",
    })
    framework = "odoo/addons/openupgrade_framework/"
    wheel(directory, "openupgrade_framework", f"{series}.1.0.0.3", {
        framework + "__init__.py": "",
        framework + "__manifest__.py": f"{{'name': 'OpenUpgrade framework', 'version': "
                                       f"'{series}.1.0.0', 'installable': True}}\n",
    })


@dataclass
class Project:
    root: Path
    db: OdooTestDb

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "odoo_ops.cli.main", *args], cwd=self.root,
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "ODOO_OPS_OFFLINE": "1"})

    def modules(self, dbname: str | None = None) -> dict[str, tuple[str, str | None]]:
        dsn = self.db.dsn if dbname is None else psycopg.conninfo.make_conninfo(
            self.db.dsn, dbname=dbname)
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT name, state, latest_version FROM ir_module_module").fetchall()
        return {str(n): (str(s), v) for n, s, v in rows}

    def databases(self, like: str) -> list[str]:
        dsn = psycopg.conninfo.make_conninfo(self.db.dsn, dbname="postgres")
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                (like,)).fetchall()
        return [str(r[0]) for r in rows]


@pytest.fixture
def project(odoo_db: Callable[..., OdooTestDb], tmp_path: Path) -> Project:
    """A 16.0 database with an OCA module and a legacy one; trees for 16, 17 and 18."""
    db = odoo_db(16, seed=True)
    root = tmp_path / "project"
    trees = {v: core_tree(tmp_path / f"odoo{v}", v) for v in (16, 17, 18)}
    oca = {v: tmp_path / f"oca{v}" for v in (16, 17, 18)}
    for v in (16, 17, 18):
        write_addon(oca[v], "web_ribbon", version=f"{v}.0.1.0.0", author=OCA)
    write_addon(oca[16], "legacy_tool", version="16.0.1.0.0", author=OCA)
    write_addon(oca[17], "legacy_tool", version="17.0.1.0.0", author=OCA)  # not in 18
    write_addon(oca[18], "new_tool", version="18.0.1.0.0", author=OCA, depends=["base"])
    with db.connect() as conn:
        for name in ("web_ribbon", "legacy_tool"):
            odoo_schema.add_module(conn, name, state="installed",
                                   latest_version="16.0.1.0.0", author=OCA)
    data = root / "data"
    db.write_filestore(data)
    for v in (17, 18):
        openupgrade_wheels(tmp_path / "wheels", f"{v}.0", {})

    def step(v: int, extra: str = "") -> str:
        command = ["env", f"ODOO_DOUBLE_SERIES={v}.0", str(DOUBLE)]
        return (f'[[upgrade.steps]]\nto = "{v}.0"\n'
                f"target_odoo_command = {json.dumps(command)}\n"
                f"target_addons_paths = {json.dumps([str(trees[v]), str(oca[v])])}\n"
                f'openupgrade = "{v}.0.1.0.0.7"\n{extra}')

    root.mkdir(exist_ok=True)
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n[deployments.prod]\nrunner = "local"\n'
        f'series = "16.0"\ndsn = {json.dumps(db.dsn)}\ndata_dir = "data"\n'
        f"addons_paths = {json.dumps([str(trees[16]), str(oca[16])])}\n"
        f"[upgrade]\nopenupgrade_wheels = {json.dumps([str(tmp_path / 'wheels')])}\n"
        + step(17, 'uninstall = ["legacy_tool"]\n')
        + step(18, 'install = ["new_tool"]\n'))
    return Project(root, db)


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


def test_rehearse_names_the_step_that_failed(project: Project, tmp_path: Path) -> None:
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
