"""``odoo-ops init --pitr``: the compose project gets what point-in-time recovery needs.

The generated docker-compose.yml passes the Compose specification schema; its db
service is built with pgBackRest, mounts the PITR directory at the same path and
starts PostgreSQL with the archive settings ``pitr setup`` would ask for (the very
same archive_command); the pgbackrest.conf odoo-ops writes from the generated
``[pitr]`` is read by the real pgBackRest without a complaint; the pitr timers pass
``systemd-analyze verify``; a re-run is up to date.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.config.loader import load_config
from odoo_ops.errors import ConfigError
from odoo_ops.generate import InitOptions, apply_plan, plan_project
from odoo_ops.pitr.settings import resolve

SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"


def project(tmp_path: Path, **kw: object) -> Path:
    base: dict[str, object] = dict(
        directory=tmp_path / "p", domain="erp.example.com", database="odoo_prod",
        cpus=2, ram_mb=8192, hash_rounds=1000, pitr=True,
    )  # fmt: skip
    base.update(kw)
    opts = InitOptions(**base)  # type: ignore[arg-type]
    apply_plan(plan_project(opts))
    return opts.directory


def _command_settings(db: dict[str, object]) -> dict[str, str]:
    command = db["command"]
    assert isinstance(command, list) and command[0] == "postgres"
    pairs = command[1:]
    assert all(flag == "-c" for flag in pairs[0::2])
    return dict(str(v).split("=", 1) for v in pairs[1::2])


def test_compose_db_service_archives_with_pgbackrest(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test extra")
    d = project(tmp_path)
    doc = yaml.safe_load((d / "docker-compose.yml").read_text())
    jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text())).validate(doc)
    db = doc["services"]["db"]
    assert db["build"] == "./db" and db["image"].endswith("-pgbackrest")
    dockerfile = (d / "db" / "Dockerfile").read_text()
    assert "FROM postgres:16\n" in dockerfile and "apt-get install" in dockerfile
    assert "pgbackrest" in dockerfile.split("apt-get install", 1)[1].splitlines()[0]
    # the PITR directory at the same absolute path in the container as on the host
    st = resolve(Target(resolve_project(d, environ={})))
    binds = [v for v in db["volumes"] if isinstance(v, dict) and v.get("type") == "bind"]
    assert [(b["source"], b["target"]) for b in binds] == [
        ("./.odoo-ops/pitr/production", str(st.base))
    ]
    assert (d / ".odoo-ops/pitr/production").is_dir()
    assert (d / ".odoo-ops/pitr").stat().st_mode & 0o077 == 0  # S3 keys may live in there
    # PostgreSQL starts with exactly what `pitr setup` wants: no restart, no ALTER SYSTEM
    settings = _command_settings(db)
    wanted = st.postgres_settings()
    for name in ("wal_level", "archive_mode", "archive_timeout", "archive_command"):
        assert settings[name] == wanted[name], name
    assert settings["archive_command"].startswith("pgbackrest --config=")
    assert int(settings["max_connections"]) > 0
    # without --pitr nothing of it
    plain = yaml.safe_load((project(tmp_path / "x", pitr=False) / "docker-compose.yml")
                           .read_text())["services"]["db"]  # fmt: skip
    assert "build" not in plain and "archive_mode=on" not in plain["command"]


def test_pitr_settings_and_the_real_pgbackrest_reads_the_config(tmp_path: Path) -> None:
    exe = shutil.which("pgbackrest")
    if exe is None:
        pytest.skip("pgbackrest not installed (apt-get install pgbackrest; CI installs it)")
    d = project(tmp_path)
    target = Target(resolve_project(d, environ={}))
    st = resolve(target)
    wrapper = d / "deploy/pitr/pgbackrest"
    assert st.policy.pgbackrest == str(wrapper.resolve())
    assert os.access(wrapper, os.X_OK)
    assert subprocess.run(["sh", "-n", str(wrapper)]).returncode == 0
    text = wrapper.read_text()
    assert "exec docker compose exec -T -u postgres db pgbackrest \"$@\"" in text
    assert (st.pg_data, st.pg_port, st.pg_user) == (Path("/var/lib/postgresql/data"), 5432,
                                                    "postgres")  # fmt: skip
    assert st.archive_command().startswith("pgbackrest ")  # the container's, not the wrapper
    # the restore's scratch server: the host's binaries of the db image's major (18.0: 16)
    assert st.policy.pg_bin == "/usr/lib/postgresql/16/bin"
    # a restore's scratch directory is handed to the container's postgres as well
    assert 'find "$1/scratch" -mindepth 1 -maxdepth 2 ! -user postgres' in text
    assert target.filestore_dir() == d.resolve() / "data/odoo/filestore/odoo_prod"
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text(st.pgbackrest_conf())

    def info(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, f"--config={path}", "--stanza=production",
                               "--log-level-file=off", "info", "--output=json"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    proc = info(conf)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # no option pgBackRest does not know
    assert json.loads(proc.stdout)[0]["name"] == "production"
    broken = tmp_path / "broken.conf"
    broken.write_text(conf.read_text().replace("start-fast=y", "start-fastest=y"))
    assert "invalid option" in info(broken).stderr  # the check above can fail


def test_pitr_timers_and_cron(tmp_path: Path) -> None:
    d = project(tmp_path, odoo_ops_bin=shutil.which("odoo-ops") or "/usr/local/bin/odoo-ops")
    units = d / "deploy/systemd"
    expected = {
        "pitr-backup-full": ("pitr backup --type full", "OnCalendar=Sun *-*-* 01:30:00"),
        "pitr-backup-incr": ("pitr backup --type incr", "OnCalendar=Mon..Sat *-*-* 01:30:00"),
        "pitr-filestore-sync": ("pitr filestore-sync", "OnCalendar=*:0/5"),
    }
    for job, (args, calendar) in expected.items():
        assert calendar in (units / f"odoo-ops-production-{job}.timer").read_text()
        assert f"-q {args} -C {d.resolve()}" in (units / f"odoo-ops-production-{job}.service"
                                                 ).read_text()  # fmt: skip
    cron = (d / "deploy/cron/odoo-ops-production").read_text()
    assert "*/5 * * * * root" in cron and "pitr filestore-sync" in cron
    assert "30 1 * * 0 root" in cron and "pitr backup --type full" in cron
    if shutil.which("systemd-analyze") and shutil.which("odoo-ops"):
        pitr_units = sorted(str(p) for p in units.iterdir() if "-pitr-" in p.name)
        result = subprocess.run(["systemd-analyze", "verify", *pitr_units],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        problems = [line for line in result.stderr.splitlines()
                    if "odoo-ops-" in line and "docker.service" not in line]  # fmt: skip
        assert problems == [], result.stderr


def test_rerun_keeps_pitr_and_is_up_to_date(tmp_path: Path) -> None:
    d = project(tmp_path)
    exe = shutil.which("odoo-ops")
    assert exe
    proc = subprocess.run([exe, "init", str(d), "--non-interactive", "--check-only"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr  # [init] pitr = true recorded
    off = subprocess.run([exe, "init", str(d), "--non-interactive", "--check-only", "--no-pitr"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert off.returncode == 1 and "docker-compose.yml" in off.stdout
    # [init] pitr is a setting odoo-ops knows: no "unknown setting 'init.pitr'" warning
    loaded = load_config(d / "odoo-ops.toml", environ={})
    assert loaded.config.init is not None and loaded.config.init.pitr is True
    assert not [w for w in loaded.warnings if "unknown setting" in w], loaded.warnings


def test_the_restores_scratch_server_runs_in_the_db_image(tmp_path: Path) -> None:
    """``[pitr] scratch_server`` ``auto`` on the generated project: the db service."""
    from odoo_ops.pitr.restore import scratch_compose

    d = project(tmp_path)
    target = Target(resolve_project(d, environ={}))
    st = resolve(target)
    assert st.policy.scratch_server == "auto"
    runner = scratch_compose(target, st)
    assert runner is not None and runner.service == "db"
    argv = runner.compose_argv("run")
    assert argv[:4] == ["docker", "compose", "-f", str(d.resolve() / "docker-compose.yml")]
    assert st.policy.pg_bin == "/usr/lib/postgresql/16/bin"  # where the db image has it
    toml = d / "odoo-ops.toml"
    text = toml.read_text()
    toml.write_text(text.replace("[pitr]\n", '[pitr]\nscratch_server = "host"\n', 1))
    target = Target(resolve_project(d, environ={}))
    assert scratch_compose(target, resolve(target)) is None
    toml.write_text(text.replace("[pitr]\n", '[pitr]\nscratch_server = "compose"\n', 1)
                    .replace('runner = "compose"', 'runner = "local"'))  # fmt: skip
    target = Target(resolve_project(d, environ={}))
    with pytest.raises(ConfigError, match='scratch_server = "compose" needs runner'):
        scratch_compose(target, resolve(target))
