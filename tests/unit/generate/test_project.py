"""odoo-ops init: the files, idempotence, --force keeping secrets, --check-only."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

import pytest

from odoo_ops.config.envfile import read_env_file
from odoo_ops.config.loader import load_config
from odoo_ops.errors import UsageError
from odoo_ops.generate import InitOptions, apply_plan, diff_text, explain, plan_project
from odoo_ops.generate.passwords import verify_pbkdf2_sha512
from odoo_ops.generate.project import recorded_answers

passlib_hash = pytest.importorskip("passlib.hash", reason="passlib is a test extra")


def options(directory: Path, **kw: object) -> InitOptions:
    base: dict[str, object] = dict(
        directory=directory,
        domain="erp.example.com",
        database="odoo_prod",
        cpus=2,
        ram_mb=8192,
        hash_rounds=1000,
    )
    base.update(kw)
    return InitOptions(**base)  # type: ignore[arg-type]


def conf_options(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    parser.read(path)
    return dict(parser.items("options"))


def test_new_project_has_every_file(tmp_path: Path) -> None:
    d = tmp_path / "p"
    result = apply_plan(plan_project(options(d)))
    expected = {
        "odoo-ops.toml", "config/odoo.conf", ".env", ".env.example", ".gitignore",
        "docker-compose.yml", "db/init/10-odoo-role.sh", "addons/README.md",
        "proxy/nginx/erp.example.com.conf", ".odoo-ops/maintenance/maintenance.html",
        "deploy/docker/daemon.json", "deploy/cron/odoo-ops-production",
        "deploy/systemd/odoo-ops-production-backup-create.service",
        "deploy/systemd/odoo-ops-production-backup-create.timer",
        "deploy/systemd/odoo-ops-production-backup-prune.timer",
        "deploy/systemd/odoo-ops-production-backup-test-restore.timer",
        "deploy/systemd/odoo-ops-production-health-watch.service",
    }  # fmt: skip
    assert expected <= set(result.written)
    for rel in expected:
        assert (d / rel).is_file(), rel
    assert stat.S_IMODE((d / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "db/init/10-odoo-role.sh").stat().st_mode) == 0o755
    assert (d / ".odoo-ops/maintenance").is_dir()
    assert result.master_password


def test_odoo_conf_content(tmp_path: Path) -> None:
    d = tmp_path / "p"
    result = apply_plan(plan_project(options(d, users=25)))
    conf = conf_options(d / "config/odoo.conf")
    assert conf["workers"] == "4"
    assert conf["proxy_mode"] == "True"
    assert conf["list_db"] == "False"
    assert conf["dbfilter"] == "^odoo_prod$"
    assert int(conf["limit_memory_soft"]) < int(conf["limit_memory_hard"])
    assert int(conf["limit_time_real"]) > int(conf["limit_time_cpu"])
    assert "db_password" not in conf
    assert result.master_password is not None
    assert passlib_hash.pbkdf2_sha512.verify(result.master_password, conf["admin_passwd"])
    # the plain master password is stored nowhere
    for path in d.rglob("*"):
        if path.is_file():
            assert result.master_password not in path.read_text(), path


def test_env_and_example(tmp_path: Path) -> None:
    d = tmp_path / "p"
    apply_plan(plan_project(options(d, redis=True)))
    env = read_env_file(d / ".env")
    example = read_env_file(d / ".env.example")
    for key in ("POSTGRES_PASSWORD", "ODOO_DB_PASSWORD", "REDIS_PASSWORD"):
        assert len(env[key]) >= 40
        assert example[key] == ""
    assert len({env["POSTGRES_PASSWORD"], env["ODOO_DB_PASSWORD"], env["REDIS_PASSWORD"]}) == 3
    assert ".env" in (d / ".gitignore").read_text().split()


def test_rerun_is_a_no_op(tmp_path: Path) -> None:
    d = tmp_path / "p"
    apply_plan(plan_project(options(d)))
    before = {p: p.read_bytes() for p in d.rglob("*") if p.is_file()}
    plan = plan_project(options(d))
    assert plan.differences == []
    assert plan.master_password is None  # the stored hash is kept
    result = apply_plan(plan)
    assert result.written == [] and not result.refused
    assert {p: p.read_bytes() for p in d.rglob("*") if p.is_file()} == before


def test_changed_project_is_not_written_without_force(tmp_path: Path) -> None:
    d = tmp_path / "p"
    apply_plan(plan_project(options(d)))
    plan = plan_project(options(d, users=3))  # fewer users: fewer workers
    changed = {f.path for f in plan.differences}
    assert {"config/odoo.conf", "odoo-ops.toml"} <= changed
    old = (d / "config/odoo.conf").read_text()
    result = apply_plan(plan)
    assert result.refused and result.written == []
    assert (d / "config/odoo.conf").read_text() == old
    diff = diff_text(next(f for f in plan.differences if f.path == "config/odoo.conf"))
    assert "-workers = 4" in diff and "+workers = 2" in diff
    assert "$pbkdf2" not in diff


def test_force_keeps_secrets(tmp_path: Path) -> None:
    d = tmp_path / "p"
    first = apply_plan(plan_project(options(d)))
    env_before = read_env_file(d / ".env")
    hash_before = conf_options(d / "config/odoo.conf")["admin_passwd"]
    (d / "docker-compose.yml").write_text("services: {}\n")
    (d / ".env").chmod(0o644)
    result = apply_plan(plan_project(options(d, users=3, redis=True)), force=True)
    assert "docker-compose.yml" in result.written and "config/odoo.conf" in result.written
    env_after = read_env_file(d / ".env")
    for key in ("POSTGRES_PASSWORD", "ODOO_DB_PASSWORD"):
        assert env_after[key] == env_before[key]
    assert env_after["REDIS_PASSWORD"]  # new key gets a new value
    assert conf_options(d / "config/odoo.conf")["admin_passwd"] == hash_before
    assert conf_options(d / "config/odoo.conf")["workers"] == "2"
    assert result.master_password is None
    assert first.master_password and verify_pbkdf2_sha512(first.master_password, hash_before)
    assert stat.S_IMODE((d / ".env").stat().st_mode) == 0o600


def test_check_only_explains_differences(tmp_path: Path) -> None:
    d = tmp_path / "p"
    apply_plan(plan_project(options(d)))
    conf = d / "config/odoo.conf"
    text = conf.read_text().replace("list_db = False", "list_db = True")
    text = text.replace("workers = 4", "workers = 9")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("admin_passwd"))
    conf.write_text(text + "\nadmin_passwd = admin\n")
    (d / ".env").write_text("POSTGRES_PASSWORD=x\n")
    (d / ".env").chmod(0o644)
    (d / ".odoo-ops/maintenance/maintenance.html").unlink()
    plan = plan_project(options(d))
    lines = [line for f in plan.differences for line in explain(f, plan)]
    text = "\n".join(lines)
    assert "list_db = True, init writes False" in text
    assert "workers = 9, init writes 4 (CPU ceiling 2×2+1 = 5" in text
    assert "admin_passwd is not a pbkdf2-sha512 hash" in text
    assert ".env: ODOO_DB_PASSWORD is missing" in text
    assert ".env: mode is 644, should be 600" in text
    assert ".odoo-ops/maintenance/maintenance.html: missing" in text
    assert "=x" not in text and "admin\n" not in text


def test_generated_toml_loads_and_records_answers(tmp_path: Path) -> None:
    d = tmp_path / "p"
    apply_plan(plan_project(options(d, proxy="caddy", series="17.0", redis=True, users=40)))
    loaded = load_config(d / "odoo-ops.toml", environ={})
    assert loaded.warnings == []
    dep = loaded.config.deployments["production"]
    assert dep.series == "17.0" and dep.runner == "compose" and dep.database == "odoo_prod"
    assert dep.base_url == "https://erp.example.com"
    env = read_env_file(d / ".env")
    assert dep.dsn and env["ODOO_DB_PASSWORD"] in dep.dsn
    assert dep.redis_url and env["REDIS_PASSWORD"] in dep.redis_url
    answers = recorded_answers(d)
    assert answers["proxy"] == "caddy" and answers["users"] == 40 and answers["redis"] is True
    assert answers["cpus"] == 2 and answers["ram_mb"] == 8192


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"domain": "not a domain"}, "not a domain name"),
        ({"database": "1bad name"}, "not a usable database name"),
        ({"series": "15.0"}, "not supported"),
        ({"ram_mb": 1024}, "2048 MiB"),
    ],
)
def test_bad_answers(tmp_path: Path, change: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_project(options(tmp_path / "p", **change))
    assert not (tmp_path / "p").exists()


def test_series_16_routes_longpolling_too(tmp_path: Path) -> None:
    d = tmp_path / "p"
    apply_plan(plan_project(options(d, series="16.0")))
    site = (d / "proxy/nginx/erp.example.com.conf").read_text()
    assert "location /websocket" in site and "location /longpolling" in site
    d18 = tmp_path / "q"
    apply_plan(plan_project(options(d18, series="18.0")))
    assert "location /longpolling" not in (d18 / "proxy/nginx/erp.example.com.conf").read_text()
    assert "without_demo" in (d / "config/odoo.conf").read_text()
    d19 = tmp_path / "r"
    apply_plan(plan_project(options(d19, series="19.0")))
    assert "without_demo" not in (d19 / "config/odoo.conf").read_text()
