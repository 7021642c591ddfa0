"""Resolving a deployment: odoo-ops.toml, discovery, the adapters built from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from odoo_ops.adapters import ComposeRunner, LocalRunner, SshRunner, Target, Unavailable
from odoo_ops.adapters.project import Overrides, resolve_project
from odoo_ops.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "compose-project"


def discovered_copy(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    shutil.copytree(EXAMPLE, project)
    (project / "odoo-ops.toml").unlink()
    return project


def test_discovery_without_config(tmp_path: Path) -> None:
    project_dir = discovered_copy(tmp_path)
    (project_dir / ".env").write_text("POSTGRES_PASSWORD=pw-secret-1\nODOO_ADMIN_PASSWD=x\n")
    project = resolve_project(project_dir, environ={})
    dep = project.deployment
    assert project.discovered
    assert dep.runner == "compose"
    assert dep.odoo_service == "odoo" and dep.db_service == "db"
    assert dep.series == "18.0"
    assert dep.env_file == ".env"
    assert Path(dep.odoo_conf or "").name == "odoo.conf"
    target = Target(project)
    # odoo.conf's addons_path goes through the compose bind mounts to host paths
    assert target.addons_paths == [
        project_dir / "addons" / "custom",
        project_dir / "addons" / "oca",
    ]
    assert target.unmapped_addons_paths() == ["/usr/lib/python3/dist-packages/odoo/addons"]
    assert target.database_name == "odoo_prod"
    conf = target.conf
    assert conf is not None and conf.get("db_password") == "pw-secret-1"
    # the db service publishes no port: no DSN from this host, with the reason
    with pytest.raises(Unavailable, match="publishes no port"):
        target.dsn()
    runner = target.runner()
    assert isinstance(runner, ComposeRunner)
    argv = runner.wrap(target.odoo().install(["a", "b"]))
    assert argv[:2] == ["docker", "compose"]
    assert argv[argv.index("exec") : argv.index("exec") + 3] == ["exec", "-T", "odoo"]
    assert argv[-6:] == ["-d", "odoo_prod", "-i", "a,b", "--stop-after-init", "--no-http"]
    assert "/etc/odoo/odoo.conf" in argv  # the conf path inside the container


def test_discovery_odoo_rc_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "my.conf").write_text("[options]\ndb_name = fromconf\ndb_host = 127.0.0.1\n")
    project = resolve_project(tmp_path, environ={"ODOO_RC": str(tmp_path / "my.conf")})
    target = Target(project)
    assert project.deployment.runner == "local"
    assert target.database_name == "fromconf"
    assert "dbname=fromconf" in target.dsn() and "host=127.0.0.1" in target.dsn()
    project = resolve_project(
        tmp_path,
        environ={"ODOO_RC": str(tmp_path / "my.conf")},
        overrides=Overrides(database="other", series="17.0"),
    )
    assert Target(project).database_name == "other"
    assert project.deployment.series == "17.0"
    assert isinstance(Target(project).runner(), LocalRunner)


def test_example_project_with_config() -> None:
    project = resolve_project(EXAMPLE, environ={})
    target = Target(project)
    assert project.name == "production"
    assert project.config_path == EXAMPLE / "odoo-ops.toml"
    with pytest.raises(Unavailable, match="POSTGRES_PASSWORD"):
        target.dsn()
    assert target.backup_dir == EXAMPLE / "backups"


def test_dsn_password_is_redacted(tmp_path: Path) -> None:
    (tmp_path / "odoo-ops.toml").write_text(
        '[deployments.p]\ndsn = "postgresql://odoo:${PW}@127.0.0.1:1/db"\n'
    )
    target = Target(resolve_project(tmp_path, environ={"PW": "hunter2-secret"}))
    assert "hunter2-secret" in target.dsn()
    assert target.redactor("password hunter2-secret") == "password ***"


def test_selecting_deployments(tmp_path: Path) -> None:
    (tmp_path / "odoo-ops.toml").write_text(
        '[deployments.a]\nrunner = "local"\n[deployments.b]\nrunner = "ssh"\n'
        'ssh_host = "deploy@h"\nremote_dir = "/opt/odoo"\n'
    )
    with pytest.raises(ConfigError, match="several deployments"):
        resolve_project(tmp_path, environ={})
    with pytest.raises(ConfigError, match="no deployment named 'c'"):
        resolve_project(tmp_path, deployment="c", environ={})
    project = resolve_project(tmp_path, deployment="b", environ={})
    runner = Target(project).runner()
    assert isinstance(runner, SshRunner)
    argv = runner.wrap(["odoo", "--version"])
    assert argv[0] == "ssh" and "deploy@h" in argv
    assert argv[-1].startswith("cd /opt/odoo && docker compose -f docker-compose.yml exec -T odoo")


def test_missing_project_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        resolve_project(tmp_path / "nope", environ={})


def test_addons_scan_once_per_run_and_refreshed_on_demand(tmp_path: Path) -> None:
    (tmp_path / "addons" / "shop").mkdir(parents=True)
    (tmp_path / "addons" / "shop" / "__manifest__.py").write_text("{'name': 'Shop'}")
    (tmp_path / "odoo-ops.toml").write_text(
        '[deployments.prod]\nseries = "18.0"\naddons_paths = ["addons"]\n'
    )
    target = Target(resolve_project(tmp_path, environ={}))
    first = target.addons_scan()
    assert set(first.addons) == {"shop"}
    (tmp_path / "addons" / "blog").mkdir()
    (tmp_path / "addons" / "blog" / "__manifest__.py").write_text("{'name': 'Blog'}")
    assert target.addons_scan() is first  # one scan per run
    assert set(target.addons_scan(refresh=True).addons) == {"blog", "shop"}  # after a deploy's code


def test_addons_scan_without_an_addons_path_is_empty(tmp_path: Path) -> None:
    (tmp_path / "odoo-ops.toml").write_text('[deployments.prod]\nseries = "18.0"\n')
    assert Target(resolve_project(tmp_path, environ={})).addons_scan().addons == {}
