"""A deployable project: a bare git "origin", the project's clone, a real
Odoo-shaped database with a filestore, the odoo double, and a real HTTP server
standing in for Odoo's web endpoints (internal_url)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.fakebin import FakeBin
from tests.support.git import git
from tests.support.pg import OdooTestDb
from tests.support.web import FakeOdooWeb


def manifest(version: str, extra: str = "") -> str:
    return (
        f'{{"name": "Shop", "version": "{version}", "depends": ["base"],'
        f' "license": "LGPL-3", "installable": True{extra}}}\n'
    )


@dataclass
class DeployWorld:
    root: Path
    seed: Path
    db: OdooTestDb
    data_dir: Path
    web: FakeOdooWeb
    fake: FakeBin

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db.dsn, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def release(self, version: str, extra: str = "", files: dict[str, str] | None = None) -> str:
        """Push a new commit of the shop addon to origin; returns its sha."""
        git(self.seed, "pull", "-q", "--ff-only", "origin", "main")
        (self.seed / "addons" / "shop" / "__manifest__.py").write_text(manifest(version, extra))
        for rel, text in (files or {}).items():
            path = self.seed / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.seed, "add", "-A")
        git(self.seed, "commit", "-qm", f"release {version}")
        git(self.seed, "push", "-q", "origin", "HEAD:main")
        return git(self.seed, "rev-parse", "HEAD")

    def cli(
        self, *args: str, timeout: float = 180, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        exe = shutil.which("odoo-ops")
        argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
        return subprocess.run(
            [*argv, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        exe = shutil.which("odoo-ops")
        argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
        return subprocess.Popen(
            [*argv, *args],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )

    def configure(self, extra: str) -> None:
        """Append to the project's odoo-ops.toml, committed and pushed (no local change)."""
        path = self.root / "odoo-ops.toml"
        path.write_text(path.read_text() + extra)
        git(self.root, "commit", "-qam", "config")
        git(self.root, "push", "-q", "origin", "HEAD:main")

    def filestore(self) -> Path:
        return self.data_dir / "filestore" / self.db.name

    def state(self) -> dict[str, Any]:
        """Everything a deploy may change and a rollback must put back."""
        from odoo_ops.adapters import Target
        from odoo_ops.adapters.project import resolve_project
        from odoo_ops.modules.maintenance import maintenance_status

        files = {}
        for path in sorted(self.filestore().rglob("*")):
            if path.is_file():
                files[str(path.relative_to(self.filestore()))] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
        target = Target(resolve_project(self.root, environ=dict(os.environ)))
        return {
            "commit": git(self.root, "rev-parse", "HEAD"),
            "modules": sorted(self.sql("SELECT name, state, latest_version FROM ir_module_module")),
            "markers": sorted(self.sql("SELECT name FROM res_partner")),
            "params": sorted(self.sql("SELECT key, value FROM ir_config_parameter")),
            "active_crons": sorted(r[0] for r in self.sql("SELECT id FROM ir_cron WHERE active")),
            "filestore": files,
            "maintenance": maintenance_status(target).state,
        }

    def journal(self) -> list[dict[str, Any]]:
        path = self.root / ".odoo-ops" / "prod" / "deploy" / "journal.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def deploy_world(
    tmp_path: Path, odoo_db: Callable[..., OdooTestDb], fake_bin: FakeBin, odoo_web: FakeOdooWeb
) -> DeployWorld:
    db = odoo_db(version=18)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(origin), str(seed))
    git(seed, "checkout", "-q", "-b", "main")
    (seed / "addons" / "shop").mkdir(parents=True)
    (seed / "addons" / "shop" / "__manifest__.py").write_text(manifest("18.0.1.0.0"))
    (seed / "addons" / "shop" / "__init__.py").write_text("")
    (seed / ".gitignore").write_text(".odoo-ops/\nbackups/\nlogs/\nodoo.conf\n")
    data_dir = tmp_path / "data"
    (seed / "odoo-ops.toml").write_text(f"""default_deployment = "prod"
[deployments.prod]
runner = "local"
series = "18.0"
odoo_command = [{json.dumps(str(fake_bin.odoo))}]
odoo_conf = "odoo.conf"
database = "{db.name}"
dsn = "{db.dsn}"
internal_url = "{odoo_web.url}"
backup_dir = "backups"
log_dir = "logs"
data_dir = {json.dumps(str(data_dir))}
http_timeout = 2
[deployments.prod.maintenance]
stop_workers = false
[verify]
modules = ["shop"]
[backup]
compress = "none"
""")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "initial")
    git(seed, "push", "-q", "-u", "origin", "main")
    root = tmp_path / "project"
    git(tmp_path, "clone", "-q", "-b", "main", str(origin), str(root))
    db.write_odoo_conf(root / "odoo.conf", addons_path=[root / "addons"], data_dir=data_dir)
    db.write_filestore(data_dir)
    world = DeployWorld(root, seed, db, data_dir, odoo_web, fake_bin)
    world.sql("UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC') + interval '1 hour'")
    world.sql("INSERT INTO res_partner (name, active) VALUES ('marker before deploy', true)")
    proc = fake_bin.run_odoo(
        "-c", str(root / "odoo.conf"), "-d", db.name, "-i", "shop", "--stop-after-init"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return world
