"""A deployment for the modules tests: a real Odoo-shaped database, addons on disk,
an odoo.conf and an odoo-ops.toml whose ``odoo_command`` is the ``odoo`` double."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.addons import AddonsDir
from tests.support.fakebin import FakeBin
from tests.support.pg import OdooTestDb


@dataclass
class World:
    root: Path
    db: OdooTestDb
    addons: AddonsDir
    fake: FakeBin

    def target(self, deployment: str = "prod") -> Any:
        from odoo_ops.adapters import Target
        from odoo_ops.adapters.project import resolve_project

        return Target(resolve_project(self.root, deployment=deployment))

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            odoo_ops_argv(*args), cwd=self.root, env=cli_env(), capture_output=True, text=True,
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            odoo_ops_argv(*args), cwd=self.root, env=cli_env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )

    def states(self) -> dict[str, str]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT name, state FROM ir_module_module").fetchall()
        return {str(n): str(s) for n, s in rows}

    def versions(self) -> dict[str, str | None]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT name, latest_version FROM ir_module_module").fetchall()
        return {str(n): v for n, v in rows}

    def param(self, key: str) -> str | None:
        return self.db.scalar("SELECT value FROM ir_config_parameter WHERE key = %s", (key,))

    def checksums(self) -> dict[str, Any] | None:
        value = self.param("module_auto_update.installed_checksums")
        return None if value is None else json.loads(value)

    def install_in_db(self, *names: str) -> None:
        """Mark modules already installed (as a previous deployment left them)."""
        from tests.support import odoo_schema

        with self.db.connect() as conn:
            for name in names:
                row = conn.execute(
                    "SELECT id FROM ir_module_module WHERE name = %s", (name,)
                ).fetchone()
                if row:
                    conn.execute(
                        "UPDATE ir_module_module SET state = 'installed',"
                        " latest_version = '18.0.1.0' WHERE id = %s", (row[0],)
                    )
                else:
                    odoo_schema.add_module(conn, name, state="installed",
                                           latest_version="18.0.1.0", author="tests")

    def odoo_calls(self) -> list[list[str]]:
        return self.fake.odoo_calls()


def odoo_ops_argv(*args: str) -> list[str]:
    exe = shutil.which("odoo-ops")
    return [*([exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]), *args]


def cli_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def write_toml(root: Path, db: OdooTestDb, extra: str = "") -> None:
    odoo = Path(__file__).resolve().parents[2] / "support" / "bin" / "odoo"
    (root / "odoo-ops.toml").write_text(
        f"""default_deployment = "prod"

[deployments.prod]
runner = "local"
series = "18.0"
odoo_command = [{json.dumps(str(odoo))}]
odoo_conf = "odoo.conf"
database = "{db.name}"
log_dir = "logs"

[deployments.prod.maintenance]
stop_workers = false

[module_sets.sales]
modules = ["shop_core", "shop_extra"]

[module_sets.tools]
modules = ["tool_a"]
{extra}
""",
        encoding="utf-8",
    )


@pytest.fixture
def make_world(
    odoo_db: Callable[..., OdooTestDb],
    fake_bin: FakeBin,
    tmp_path: Path,
) -> Callable[..., World]:
    def factory(extra_toml: str = "") -> World:
        root = tmp_path / "project"
        root.mkdir(exist_ok=True)
        addons = AddonsDir(root / "addons")
        db = odoo_db(18, seed=True)
        db.write_odoo_conf(root / "odoo.conf", addons_path=[addons.path])
        write_toml(root, db, extra_toml)
        return World(root, db, addons, fake_bin)

    return factory


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
