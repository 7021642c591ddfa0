"""A project for the upgrade tests: an Odoo 16 shaped database, Odoo source trees for
16, 17 and 18 (core modules as manifests), OCA addons and OpenUpgrade wheels built
here, and ``[[upgrade.steps]]`` whose target Odoo is the ``odoo`` double."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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

    def cli(self, *args: str, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "odoo_ops.cli.main", *args], cwd=self.root,
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "ODOO_OPS_OFFLINE": "1",
                 **(env or {})})

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
