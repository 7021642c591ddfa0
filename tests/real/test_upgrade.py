"""``odoo-ops upgrade plan|rehearse`` over the real 17.0 database, with the real Odoo 18
and OpenUpgrade 18.0 (``../shared/odoo``, ``../shared/fixtures``).

The 17.0 database (``odoo17-base-mail-oca.dump``: 28 modules incl. 4 OCA, partners,
messages, a stored attachment) is restored once per module into a template owned by
the test role; each test works on a ``TEMPLATE`` copy with its filestore, in an
odoo-ops project whose addons path is the trimmed Odoo 17.0 tree and whose
``[upgrade]`` target is the trimmed Odoo 18.0 with the OpenUpgrade wheels. A
rehearsal runs OpenUpgrade for real (~30 s each on an idle machine).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.real import odoo17_env, openupgrade_env
from tests.real.conftest import ROLE, Odoo18, role_dsn
from tests.support import pg

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
DUMP = FIXTURES / "odoo17-base-mail-oca.dump"
FILESTORE_TAR = FIXTURES / "odoo17-base-mail-oca.filestore.tar"
DUMPED_AS = "up17_src"  # the database name inside the filestore tarball
_ENV17 = os.environ.get(odoo17_env.ENV_VAR)  # read before the isolation fixture clears it
_ENV_WHEELS = os.environ.get(openupgrade_env.ENV_VAR)
_REAL_HOME = Path.home()

CUSTOM_MODEL = (
    "from odoo import fields, models\n\n\n"
    "class ResPartner(models.Model):\n"
    "    _inherit = 'res.partner'\n\n"
    "    acme_code = fields.Char()\n"
)


def _cache() -> Path:
    return Path(os.environ.get("ODOO_OPS_TEST_CACHE") or _REAL_HOME / ".cache" / "odoo-ops-test")


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: CI must run tests/real/test_upgrade.py", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="module")
def odoo17_tree() -> Path:
    """The unpacked Odoo 17.0 source (``odoo-17.0/``)."""
    if _ENV17:
        home = Path(_ENV17)
        if not (home / "READY").is_file():
            pytest.fail(f"{odoo17_env.ENV_VAR}={_ENV17} is not an unpacked Odoo 17",
                        pytrace=False)
        return home / odoo17_env.SOURCE_DIR
    if not odoo17_env.DEFAULT_TARBALL.is_file():
        _missing(f"Odoo 17 tarball not available ({odoo17_env.DEFAULT_TARBALL})")
    return odoo17_env.ensure(odoo17_env.DEFAULT_TARBALL, _cache()) / odoo17_env.SOURCE_DIR


@pytest.fixture(scope="module")
def wheels(odoo18: Odoo18) -> Path:
    """The OpenUpgrade wheels; openupgradelib in the Odoo 18 venv."""
    if _ENV_WHEELS:
        return Path(_ENV_WHEELS)
    if not openupgrade_env.SHARED_WHEELS.is_dir():
        _missing(f"OpenUpgrade wheels not available ({openupgrade_env.SHARED_WHEELS})")
    openupgrade_env.ensure_openupgradelib(odoo18.python)
    return openupgrade_env.ensure_wheels(odoo18.python, _cache())


@pytest.fixture(scope="module")
def up17_template(real_role: str, pg_databases: pg.DatabaseManager,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(template database, its filestore directory), restored once from the dump."""
    if not DUMP.is_file() or not FILESTORE_TAR.is_file():
        _missing(f"the 17.0 database fixture is not available ({DUMP})")
    name = pg_databases.unique_name("up17tmpl")
    with psycopg.connect(pg_databases.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(ROLE)))
    params = psycopg.conninfo.conninfo_to_dict(pg_databases.admin_dsn)
    env = {**os.environ, "PGPASSWORD": str(params.get("password") or "")}
    proc = subprocess.run(
        ["pg_restore", "--no-owner", "--no-acl", f"--role={ROLE}", "--exit-on-error",
         "-h", str(params.get("host") or "127.0.0.1"), "-p", str(params.get("port") or 5432),
         "-U", str(params.get("user") or "postgres"), "-d", name, str(DUMP)],
        capture_output=True, text=True, env=env, check=False, timeout=600)
    if proc.returncode != 0:
        pg_databases.drop_later(name)
        pytest.fail(f"pg_restore of {DUMP.name} failed: {proc.stderr[-2000:]}", pytrace=False)
    store = tmp_path_factory.mktemp("up17-filestore")
    with tarfile.open(FILESTORE_TAR) as tar:
        tar.extractall(store, filter="data")
    pg.terminate_sessions(pg_databases.admin_dsn, name)
    yield name, store / DUMPED_AS
    pg_databases.drop_later(name)


@dataclass
class UpProject:
    root: Path
    database: str
    admin_dsn: str

    def cli(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "odoo_ops.cli.main", *args], cwd=self.root,
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})})

    def sql(self, query: str, dbname: str | None = None) -> list[tuple[object, ...]]:
        with psycopg.connect(pg.dsn_for(self.admin_dsn, dbname or self.database),
                             autocommit=True) as conn:
            return conn.execute(query).fetchall()  # type: ignore[arg-type]

    def modules(self, dbname: str | None = None) -> dict[str, tuple[str, str | None]]:
        rows = self.sql("SELECT name, state, latest_version FROM ir_module_module", dbname)
        return {str(n): (str(s), v if v is None else str(v)) for n, s, v in rows}


@pytest.fixture
def project(tmp_path: Path, up17_template: tuple[str, Path], odoo17_tree: Path,
            odoo18: Odoo18, wheels: Path, pg_databases: pg.DatabaseManager,
            ) -> Iterator[UpProject]:
    """An odoo-ops project over a fresh copy of the 17.0 database."""
    from odoo_ops.adapters.pgadmin import copy_database

    template, template_store = up17_template
    name = pg_databases.unique_name("up17")
    with psycopg.connect(pg_databases.admin_dsn, autocommit=True) as conn:
        copy_database(conn, template, name)
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(name), sql.Identifier(ROLE)))
    root = tmp_path / "project"
    (root / "custom").mkdir(parents=True)
    data = root / "data"
    (data / "filestore").mkdir(parents=True)
    import shutil

    shutil.copytree(template_store, data / "filestore" / name)
    target_src = odoo18.source
    toml = f"""
default_deployment = "prod"
[deployments.prod]
runner = "local"
series = "17.0"
dsn = {json.dumps(role_dsn(pg_databases.admin_dsn, name))}
data_dir = "data"
addons_paths = [{json.dumps(str(odoo17_tree / "odoo" / "addons"))},
                {json.dumps(str(odoo17_tree / "extra-addons"))}, "custom"]
[upgrade]
target_odoo_command = {json.dumps(odoo18.command)}
target_addons_paths = [{json.dumps(str(target_src / "odoo" / "addons"))},
                       {json.dumps(str(target_src / "extra-addons"))}]
openupgrade = "{openupgrade_env.GOOD}"
openupgrade_wheels = [{json.dumps(str(wheels))}]
login_user = "admin"
"""
    (root / "odoo-ops.toml").write_text(toml)
    project = UpProject(root, name, pg_databases.admin_dsn)
    try:
        yield project
    finally:
        leftovers = project.sql(
            "SELECT datname FROM pg_database WHERE datname LIKE "
            f"'{name}\\_odoo\\_ops\\_%'", "postgres")
        for (copy,) in leftovers:
            pg_databases.drop_later(str(copy))
        pg_databases.drop_later(name)


def _add_custom(project: UpProject) -> None:
    """A custom 17.0 addon, installed in the database, that has no 18.0 version."""
    addon = project.root / "custom" / "acme_partner_code"
    addon.mkdir()
    (addon / "__manifest__.py").write_text(
        "{'name': 'ACME partner code', 'version': '17.0.1.0.0', 'depends': ['base'],\n"
        " 'author': 'ACME', 'license': 'LGPL-3', 'data': []}\n")
    (addon / "__init__.py").write_text("from . import models\n")
    (addon / "models.py").write_text(CUSTOM_MODEL)
    # what Odoo 17 records for an installed module (its row and its dependency)
    project.sql(
        "WITH m AS (INSERT INTO ir_module_module (name, state, latest_version, author)"
        " VALUES ('acme_partner_code', 'installed', '17.0.1.0.0', 'ACME') RETURNING id)"
        " INSERT INTO ir_module_module_dependency (module_id, name) SELECT id, 'base' FROM m"
        " RETURNING module_id")


def test_plan_classifies_every_module_and_names_the_custom_blocker(project: UpProject) -> None:
    _add_custom(project)
    # a module OpenUpgrade renames for 18.0 (apriori.py): website_sale_picking
    assert project.sql("UPDATE ir_module_module SET state = 'installed', latest_version ="
                       " '17.0.1.0' WHERE name = 'website_sale_picking' RETURNING id")
    installed = {n for n, (s, _v) in project.modules().items() if s == "installed"}

    proc = project.cli("upgrade", "plan", "--to", "18.0", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    plan = json.loads(proc.stdout)
    fates = {m["name"]: m for m in plan["modules"]}
    assert set(fates) == installed  # every installed module, none else
    assert plan["source_series"] == "17.0" and plan["target_series"] == "18.0"
    assert plan["openupgrade_scripts"] == openupgrade_env.GOOD
    assert plan["blocked"] == ["acme_partner_code"]
    custom = fates["acme_partner_code"]
    assert custom["fate"] == "blocked" and custom["origin"] == "custom"
    assert custom["lines"] == CUSTOM_MODEL.count("\n") + 1 + 2  # models + __init__ + manifest
    assert plan["modules"][0]["name"] == "acme_partner_code"  # blockers first
    assert fates["base"]["fate"] == "openupgrade"
    assert fates["base"]["scripts"] == ["18.0.1.3"]
    assert fates["mail"]["target_version"] == "18.0.1.18"
    assert fates["contacts"]["fate"] == "core"  # no scripts for contacts in .440
    for oca in ("auditlog", "web_responsive", "web_environment_ribbon", "base_technical_user"):
        assert fates[oca]["fate"] == "available" and fates[oca]["origin"] == "oca", oca
        assert fates[oca]["target_version"].startswith("18.0."), oca
    renamed = fates["website_sale_picking"]
    assert renamed["fate"] == "renamed" and renamed["target_name"] == "website_sale_collect"
    assert sum(plan["counts"].values()) == len(installed)

    md = project.cli("upgrade", "plan", "--to", "18.0", "--format", "markdown")
    assert md.returncode == 1
    assert "**BLOCKED**: acme_partner_code" in md.stdout
    assert "| acme_partner_code | blocked | custom | 17.0.1.0.0 |" in md.stdout


def test_plan_and_rehearse_refuse_bad_targets(project: UpProject) -> None:
    proc = project.cli("upgrade", "plan", "--to", "19.0")
    assert proc.returncode == 2
    assert "one at a time" in proc.stderr and "Traceback" not in proc.stderr
    pinned = (project.root / "odoo-ops.toml").read_text().replace(
        openupgrade_env.GOOD, "18.0.1.0.0.1")
    (project.root / "odoo-ops.toml").write_text(pinned)
    proc = project.cli("upgrade", "rehearse", "--to", "18.0")
    assert proc.returncode == 1
    assert "no openupgrade_scripts wheel 18.0.1.0.0.1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not project.sql("SELECT 1 FROM pg_database WHERE datname LIKE '%odoo_ops_upgrade%'"
                           f" AND datname LIKE '{project.database}%'", "postgres")
    # a failing hook fails the rehearsal before OpenUpgrade, named in the report
    (project.root / "odoo-ops.toml").write_text(pinned.replace('"18.0.1.0.0.1"', '"' + (
        openupgrade_env.GOOD + '"\nbefore_sql = ["bad.sql"]')))
    (project.root / "bad.sql").write_text("UPDATE no_such_table SET x = 1;\n")
    proc = project.cli("upgrade", "rehearse", "--to", "18.0", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["failure"]["file"] == "bad.sql" and "no_such_table" in report["failure"][
        "message"]
    assert report["exit_code"] is None  # OpenUpgrade never ran
    assert not project.sql(f"SELECT 1 FROM pg_database WHERE datname = '{report['copy']}'",
                           "postgres")


HOOK_SHELL = (
    "n = env['res.partner'].with_context(active_test=False).search_count([])\n"
    "env.cr.execute(\"INSERT INTO acme_hook VALUES ('shell ' || %s || ' ' || %s)\","
    " [n, env['ir.module.module'].search([('name', '=', 'base')]).latest_version])\n"
    "env.cr.commit()\n"
)


def _hooks(project: UpProject) -> None:
    """SQL before and after OpenUpgrade, an odoo shell script (the target's) after it."""
    hooks = project.root / "hooks"
    hooks.mkdir()
    (hooks / "before.sql").write_text(
        "CREATE TABLE IF NOT EXISTS acme_hook (step text);\n"
        "INSERT INTO acme_hook SELECT 'before ' || latest_version FROM ir_module_module"
        " WHERE name = 'base';\n")
    (hooks / "after.sql").write_text("INSERT INTO acme_hook VALUES ('after');\n")
    (hooks / "after.py").write_text(HOOK_SHELL)
    with (project.root / "odoo-ops.toml").open("a") as fh:
        fh.write('before_sql = ["hooks/before.sql"]\nafter_sql = ["hooks/after.sql"]\n'
                 'after_shell = ["hooks/after.py"]\n')


def test_rehearse_succeeds_with_matching_scripts(project: UpProject) -> None:
    _hooks(project)
    before = project.modules()
    dry = project.cli("upgrade", "rehearse", "--to", "18.0", "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    assert "--load=base,web,openupgrade_framework" in json.loads(dry.stdout)["command"]

    proc = project.cli("upgrade", "rehearse", "--to", "18.0", "--keep", "--format", "json",
                       env={"ODOO_OPS_UPGRADE_PASSWORD": "admin"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"] and report["exit_code"] == 0 and report["failure"] is None
    assert report["openupgrade_scripts"] == openupgrade_env.GOOD
    assert report["copy_method"].startswith("CREATE DATABASE")
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == {"module states", "row counts", "attachments",
                           "broken menus/actions", "crons", "login"}
    assert all(c["ok"] for c in checks.values()), checks
    assert "admin authenticated" in checks["login"]["detail"]
    for table in ("res_partner", "mail_message", "res_users"):
        src, dst = report["counts"][table]
        assert src == dst and src > 0, table
    # the copy was kept: every module at 18.0, the source still at 17.0
    copy = report["copy"]
    after = project.modules(copy)
    assert after["base"] == ("installed", "18.0.1.3")
    assert after["mail"] == ("installed", "18.0.1.18")
    assert after["auditlog"][1].startswith("18.0.")
    assert after["html_editor"][0] == "installed"
    assert project.modules() == before
    steps = [r[0] for r in project.sql("SELECT step FROM acme_hook", copy)]
    assert steps == ["before 17.0.1.3", "after", "shell 13 18.0.1.3"]
    assert not project.sql("SELECT 1 FROM pg_class WHERE relname = 'acme_hook'")
    # the stored attachment of the fixture, with its content, in the copy's filestore
    (fname, checksum), = project.sql(
        "SELECT store_fname, checksum FROM ir_attachment WHERE name = 'up17-seed.txt'", copy)
    stored = Path(report["report_dir"]) / "data" / "filestore" / copy / str(fname)
    assert stored.is_file()
    import hashlib

    assert hashlib.sha1(stored.read_bytes()).hexdigest() == checksum
    run_dir = Path(report["report_dir"])
    assert run_dir.parent.parent == project.root / ".odoo-ops" / "prod"
    assert "SUCCEEDED" in (run_dir / "report.md").read_text()
    last = json.loads((run_dir.parent / "last-rehearsal.json").read_text())
    assert last["id"] == report["id"] and last["ok"]
    assert (run_dir / "migration.log").stat().st_size > 0
    assert _golive_item(project)["status"] == "done"

    # the real thing, after that rehearsal of the same code
    proc = project.cli("upgrade", "run", "--to", "18.0", "--format", "json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads(proc.stdout)
    assert run["ok"] and not run["rolled_back"] and not run["forced"]
    assert run["steps_done"] == ["maintenance on", "rollback point", "migrate", "verify",
                                 "switch configuration", "maintenance off"]
    assert project.modules()["base"] == ("installed", "18.0.1.3")
    assert project.modules(run["rollback_copy"])["base"] == ("installed", "17.0.1.3")
    config = tomllib.loads((project.root / "odoo-ops.toml").read_text())
    assert config["deployments"]["prod"]["series"] == "18.0"
    assert config["deployments"]["prod"]["odoo_command"] == config["upgrade"][
        "target_odoo_command"]
    _assert_maintenance_off(project)
    steps = [r[0] for r in project.sql("SELECT step FROM acme_hook")]
    assert steps == ["before 17.0.1.3", "after", "shell 13 18.0.1.3"]


def _assert_maintenance_off(project: UpProject) -> None:
    from odoo_ops.modules.maintenance import MARKER_PARAM

    assert project.sql(f"SELECT count(*) FROM ir_config_parameter WHERE key = '{MARKER_PARAM}'"
                       ) == [(0,)]
    status = project.cli("maintenance", "status", "--format", "json")
    state = json.loads(status.stdout)
    assert state["state"] == "off" and not state["flag_present"], status.stdout


def _golive_item(project: UpProject) -> dict[str, object]:
    proc = project.cli("golive", "status", "--format", "json")
    items = json.loads(proc.stdout)["items"]
    return next(i for i in items if i["item"]["id"] == "upgrade-rehearsed")


def test_rehearse_failing_names_the_file_and_record_and_leaves_the_source(
        project: UpProject) -> None:
    before = project.modules()
    counts = project.sql("SELECT (SELECT count(*) FROM res_partner),"
                         " (SELECT count(*) FROM mail_message)")
    toml = (project.root / "odoo-ops.toml").read_text().replace(
        openupgrade_env.GOOD, openupgrade_env.TOO_NEW)
    (project.root / "odoo-ops.toml").write_text(toml)

    # a session on the source (a running Odoo would hold some): no TEMPLATE copy then
    with psycopg.connect(pg.dsn_for(project.admin_dsn, project.database)) as held:
        held.execute("SELECT 1")
        proc = project.cli("upgrade", "rehearse", "--to", "18.0", "--format", "json")
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert "pg_dump" in report["copy_method"] and "of the live database" in report["copy_method"]
    assert not report["ok"] and report["exit_code"] != 0
    failure = report["failure"]
    assert failure["module"] == "base"
    assert failure["file"] == "base/18.0.1.3/noupdate_changes.xml"
    assert failure["missing_record"] == "base.XCG"
    assert report["checks"] == []  # nothing audited on a failed migration
    md = (Path(report["report_dir"]) / "report.md").read_text()
    assert "FAILED" in md and "noupdate_changes.xml" in md and "base.XCG" in md
    item = _golive_item(project)
    assert item["status"] == "failed"
    assert "base: base/18.0.1.3/noupdate_changes.xml" in str(item["evidence"])

    # production is refused after a failed rehearsal; forced, it fails and rolls back
    toml_before = (project.root / "odoo-ops.toml").read_text()
    refused = project.cli("upgrade", "run", "--to", "18.0")
    assert refused.returncode == 1
    assert "upgrade refused: the last rehearsal" in refused.stderr and "failed" in refused.stderr
    forced = project.cli("upgrade", "run", "--to", "18.0", "--force", "--format", "json")
    assert forced.returncode == 1, forced.stderr[-3000:]
    run = json.loads(forced.stdout)
    assert run["forced"] and run["rolled_back"] and not run["switched"]
    assert run["failure"]["missing_record"] == "base.XCG"
    assert project.modules() == before
    assert (project.root / "odoo-ops.toml").read_text() == toml_before
    assert not project.sql(f"SELECT 1 FROM pg_database WHERE datname = '{run['rollback_copy']}'",
                           "postgres")
    _assert_maintenance_off(project)
    # the source is as it was; the copy is gone
    assert project.modules() == before
    assert project.sql("SELECT (SELECT count(*) FROM res_partner),"
                       " (SELECT count(*) FROM mail_message)") == counts
    assert not project.sql(f"SELECT 1 FROM pg_database WHERE datname = '{report['copy']}'",
                           "postgres")


def test_run_killed_mid_way_is_refused_until_rolled_back(project: UpProject) -> None:
    before = project.modules()
    toml_before = (project.root / "odoo-ops.toml").read_text()
    upgrade = project.root / ".odoo-ops" / "prod" / "upgrade"
    journal = upgrade / "run-in-progress.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "odoo_ops.cli.main", "upgrade", "run", "--to", "18.0",
         "--force"], cwd=project.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
    try:
        deadline = time.monotonic() + 180
        while True:  # until OpenUpgrade is migrating the live database
            logs = list(upgrade.glob("run-*/migration.log"))
            if journal.is_file() and logs and "Running migration" in logs[0].read_text(
                    errors="replace"):
                break
            assert proc.poll() is None, "upgrade run ended before it could be killed"
            assert time.monotonic() < deadline, "the migration did not start"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30  # its Odoo dies with it (childproc)
    while project.sql("SELECT 1 FROM pg_stat_activity WHERE datname = "
                      f"'{project.database}' AND pid <> pg_backend_pid()", "postgres"):
        assert time.monotonic() < deadline, "Odoo outlived the killed odoo-ops"
        time.sleep(0.2)
    point = json.loads(journal.read_text())["copy_name"]

    again = project.cli("upgrade", "run", "--to", "18.0", "--force")
    assert again.returncode == 1
    assert "was interrupted" in again.stderr and "upgrade rollback" in again.stderr
    back = project.cli("upgrade", "rollback")
    assert back.returncode == 0, back.stderr
    assert f"put back {point} as {project.database}" in back.stdout
    assert project.modules() == before
    assert (project.root / "odoo-ops.toml").read_text() == toml_before
    assert not journal.exists()
    assert not project.sql(f"SELECT 1 FROM pg_database WHERE datname = '{point}'", "postgres")
    _assert_maintenance_off(project)
    assert project.cli("upgrade", "rollback").returncode == 1  # nothing left to put back


def test_rehearse_applies_the_steps_install_and_uninstall_lists(project: UpProject) -> None:
    """A ``[[upgrade.steps]]`` table for 18.0 (the rest from ``[upgrade]``): after the
    migration the real Odoo 18 uninstalls and installs modules through its shell."""
    before = project.modules()
    assert before["web_environment_ribbon"][0] == "installed"
    assert "base_sparse_field" not in before or before["base_sparse_field"][0] != "installed"
    with (project.root / "odoo-ops.toml").open("a") as fh:
        fh.write('\n[[upgrade.steps]]\nto = "18.0"\nuninstall = ["web_environment_ribbon"]\n'
                 'install = ["base_sparse_field"]\n')
    plan = project.cli("upgrade", "plan", "--format", "json")
    assert plan.returncode == 0, plan.stderr
    assert "after 17.0 -> 18.0: uninstall web_environment_ribbon; install base_sparse_field" \
        in json.loads(plan.stdout)["notes"]

    proc = project.cli("upgrade", "rehearse", "--to", "18.0", "--keep", "--format", "json",
                       env={"ODOO_OPS_UPGRADE_PASSWORD": "admin"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"] and report["failed_step"] is None
    (step,) = report["steps"]
    assert step["uninstalled"] == ["web_environment_ribbon"]
    assert step["installed"] == ["base_sparse_field"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["module states"]["ok"], checks["module states"]
    after = project.modules(report["copy"])
    assert after["web_environment_ribbon"][0] == "uninstalled"
    assert after["base_sparse_field"] == ("installed", "18.0.1.0")
    assert after["base"] == ("installed", "18.0.1.3")
    # Odoo removed the module's data itself (its ir_model_data), not raw SQL
    assert project.sql("SELECT count(*) FROM ir_model_data WHERE module ="
                       " 'web_environment_ribbon'", report["copy"]) == [(0,)]
    assert (Path(report["report_dir"]) / "modules-18.0.log").is_file()
    assert project.modules() == before
