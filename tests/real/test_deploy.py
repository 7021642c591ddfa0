"""``odoo-ops deploy`` of a real Odoo 18: a version bump, and a broken upgrade rolled back.

The server runs as a service: maintenance mode stops and starts it through the
configured commands (a detached ``odoo-bin --pidfile``), as an init script would.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.real.conftest import RealProject
from tests.real.test_modules import add_shop, checksums
from tests.support.git import git

IGNORED = "odoo.conf\nodoo.log\ndata/\nrun/\nlogs/\nbackups/\n.odoo-ops/\n"


def make_repo(project: RealProject) -> Path:
    """The project becomes a clone of a bare origin; returns a second clone to release from."""
    origin = project.root.parent / "origin.git"
    git(project.root.parent, "init", "-q", "--bare", "-b", "main", str(origin))
    (project.root / ".gitignore").write_text(IGNORED)
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "initial")
    git(project.root, "remote", "add", "origin", str(origin))
    git(project.root, "push", "-q", "-u", "origin", "main")
    seed = project.root.parent / "seed"
    git(project.root.parent, "clone", "-q", str(origin), str(seed))
    return seed


def release(project: RealProject, seed: Path, version: str, field: str = "x_ops_code") -> str:
    into_seed = RealProject(**{**project.__dict__, "addons": seed / "addons", "proc": None})
    add_shop(into_seed, version, field)
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", f"release {version}")
    git(seed, "push", "-q", "origin", "HEAD:main")
    return git(seed, "rev-parse", "HEAD")


def state(project: RealProject) -> dict[str, Any]:
    filestore = project.data_dir / "filestore" / project.database
    return {
        "commit": git(project.root, "rev-parse", "HEAD"),
        "modules": project.modules(),
        "views": project.sql("SELECT name FROM ir_ui_view WHERE name LIKE 'res.partner.form.ops%'"),
        "partners": project.sql("SELECT id, name FROM res_partner ORDER BY id"),
        "crons": project.sql("SELECT id FROM ir_cron WHERE active ORDER BY id"),
        "maintenance": project.sql("SELECT value FROM ir_config_parameter"
                                   " WHERE key = 'odoo_ops.maintenance'"),
        "checksums": checksums(project),
        "filestore": {str(p.relative_to(filestore)): hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in sorted(filestore.rglob("*")) if p.is_file()},
    }


def test_deploy_a_version_bump_then_roll_back_a_broken_upgrade(
    real_project: RealProject,
) -> None:
    p = real_project
    p.sql("INSERT INTO ir_config_parameter (key, value, create_uid, write_uid, create_date,"
          " write_date) VALUES ('module_auto_update.installed_checksums', '{}', 1, 1, now(),"
          " now())")
    add_shop(p, "18.0.1.0.0")
    p.use_service_commands()
    seed = make_repo(p)
    installed = p.cli("modules", "install", "ops_shop")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    p.service_start()

    new = release(p, seed, "18.0.1.0.1")
    deployed = p.cli("deploy", "--force")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert git(p.root, "rev-parse", "HEAD") == new
    assert p.modules()["ops_shop"] == ("installed", "18.0.1.0.1")
    assert p.health() == 200
    # one server, the one the pid file names (deploy started it once)
    assert p.service_pids() == [int(p.pidfile.read_text())]
    before = state(p)
    assert before["maintenance"] == []

    release(p, seed, "18.0.1.0.2", field="x_ops_missing")
    broken = p.cli("deploy", "--force")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "modules" in broken.stdout + broken.stderr
    assert state(p) == before
    assert p.health() == 200  # Odoo answers again
    assert p.service_pids() == [int(p.pidfile.read_text())]
    # the broken upgrade ran with the server stopped: no request was served meanwhile
    assert "Failed to load registry" in p.log_tail(200_000)
