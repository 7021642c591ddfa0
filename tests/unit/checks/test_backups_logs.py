"""The backups checks (real directories, mtimes, manifests) and logs-rotation."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest

from odoo_ops.checks import logs
from odoo_ops.checks.backups import find_backups
from odoo_ops.checks.base import Status
from odoo_ops.checks.logs import covered_by, logrotate_rules

from .helpers import FileProject, assert_status

BACKUP_CHECKS = ("backups-dir", "backups-free-space", "backups-recent")


def age(path: Path, hours: float) -> Path:
    when = time.time() - hours * 3600
    os.utime(path, (when, when))
    return path


def odoo_ops_backup(root: Path, name: str, *, finished_hours_ago: float, size: int = 1000,
                    database: str = "odoo_prod") -> Path:  # fmt: skip
    path = root / name
    path.mkdir(parents=True)
    (path / "db.dump").write_bytes(b"x" * size)
    finished = dt.datetime.now(dt.UTC) - dt.timedelta(hours=finished_hours_ago)
    manifest = {
        "format": "odoo-ops-backup",
        "database": database,
        "finished_at": finished.isoformat().replace("+00:00", "Z"),
        "files": {"db.dump": {"size": size, "sha256": "0" * 64}},
    }
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


# -- backups ---------------------------------------------------------------------------


def test_backups_skip_without_backup_dir(fp: FileProject) -> None:
    fp.conf()
    for check_id, result in fp.run(*BACKUP_CHECKS).items():
        assert_status(result, Status.SKIP, "no backup_dir configured")
        assert "backup_dir" in (result.remediation or ""), check_id


def test_backups_good_directory_passes(fp: FileProject) -> None:
    fp.conf()
    fp.configure(backup_dir="backups")
    odoo_ops_backup(fp.root / "backups", "odoo_prod-1", finished_hours_ago=30)
    odoo_ops_backup(fp.root / "backups", "odoo_prod-2", finished_hours_ago=2, size=2048)
    results = fp.run(*BACKUP_CHECKS)
    assert_status(results["backups-dir"], Status.PASS, "2 backup(s)")
    assert_status(results["backups-free-space"], Status.PASS, "2.0 KiB")
    assert_status(results["backups-recent"], Status.PASS, "2.0 h old", "odoo_prod-2")


def test_backups_dir_missing_fails(fp: FileProject) -> None:
    fp.conf()
    fp.configure(backup_dir="backups")
    results = fp.run(*BACKUP_CHECKS)
    assert_status(results["backups-dir"], Status.FAIL, "does not exist", "mkdir -p")
    assert results["backups-free-space"].status == Status.SKIP
    assert results["backups-recent"].status == Status.SKIP


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_backups_dir_not_writable_fails(fp: FileProject) -> None:
    fp.conf()
    fp.configure(backup_dir="backups")
    (fp.root / "backups").mkdir(mode=0o500)
    assert_status(fp.one("backups-dir"), Status.FAIL, "not writable")


def test_backups_dir_not_writable_fails_by_mode(
    fp: FileProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same as above where the tests run as root: os.access answers for the mode."""
    fp.conf()
    fp.configure(backup_dir="backups")
    (fp.root / "backups").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p).endswith("backups")
                        else real_access(p, m))  # fmt: skip
    assert_status(fp.one("backups-dir"), Status.FAIL, "not writable")


def test_backups_old_file_backups_fail(fp: FileProject) -> None:
    fp.conf()
    fp.configure(backup_dir="backups")
    fp.thresholds["backup_max_age_hours"] = 12
    age(fp.write("backups/odoo_prod.dump", "d" * 10), 20)
    age(fp.write("backups/2024/odoo_prod.sql.gz", "d" * 10), 40)
    fp.write("backups/notes.txt", "not a backup")
    result = fp.one("backups-recent")
    assert_status(result, Status.FAIL, "20.0 h old", "more than 12 h", "odoo_prod.dump")
    age(fp.write("backups/2025/odoo_prod.tar.zst", "d"), 1)
    assert_status(fp.one("backups-recent"), Status.PASS, "backups/2025/odoo_prod.tar.zst")


def test_backups_none_found_fails(fp: FileProject) -> None:
    fp.conf()
    fp.configure(backup_dir="backups")
    fp.write("backups/.odoo_prod-3.partial/db.dump", "half")
    fp.write("backups/readme.txt", "x")
    results = fp.run(*BACKUP_CHECKS)
    assert_status(results["backups-recent"], Status.FAIL, "no backup in backups")
    assert_status(results["backups-free-space"], Status.SKIP, "free")


def test_backups_free_space_too_small(fp: FileProject) -> None:
    fp.conf()
    fp.configure(backup_dir="backups")
    odoo_ops_backup(fp.root / "backups", "b1", finished_hours_ago=1, size=10)
    # the newest backup's manifest says it is huge: 2 x 1 PiB cannot fit
    manifest = fp.root / "backups/b1/manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"]["db.dump"]["size"] = 2**50
    manifest.write_text(json.dumps(doc))
    result = fp.one("backups-free-space")
    assert_status(result, Status.FAIL, "1024.0 TiB", "2 ×")


def test_find_backups_ignores_other_databases(tmp_path: Path) -> None:
    odoo_ops_backup(tmp_path, "mine", finished_hours_ago=5)
    odoo_ops_backup(tmp_path, "theirs", finished_hours_ago=1, database="other_db")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken/manifest.json").write_text("{not json")
    age(tmp_path / "broken", 100)
    found = find_backups(tmp_path, "odoo_prod")
    assert [b.path.name for b in found] == ["mine", "broken"]
    assert "unreadable" in found[1].note


def test_find_backups_never_blocks_on_a_fifo_manifest(tmp_path: Path) -> None:
    import os

    odoo_ops_backup(tmp_path, "mine", finished_hours_ago=5)
    (tmp_path / "trap").mkdir()
    os.mkfifo(tmp_path / "trap/manifest.json")
    found = {b.path.name: b for b in find_backups(tmp_path, "odoo_prod")}
    assert "mine" in found  # and the FIFO was never opened (the test would hang)
    assert "trap" not in found or "unreadable" in found["trap"].note


# -- logs-rotation ------------------------------------------------------------------------

COMPOSE = """\
services:
  db:
    image: postgres:15
{db_logging}
  odoo:
    image: odoo:18.0
    logging:
      driver: json-file
      options:
        max-size: "50m"
        max-file: "5"
"""


@pytest.fixture
def system_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """daemon.json and logrotate paths of this test (not the host's)."""
    etc = tmp_path / "etc"
    (etc / "logrotate.d").mkdir(parents=True)
    monkeypatch.setattr(logs, "DOCKER_DAEMON_JSON", etc / "docker/daemon.json")
    monkeypatch.setattr(logs, "LOGROTATE_DIR", etc / "logrotate.d")
    monkeypatch.setattr(logs, "LOGROTATE_CONF", etc / "logrotate.conf")
    return etc


def compose_logs(fp: FileProject, db_logging: str = "") -> None:
    fp.write("docker-compose.yml", COMPOSE.format(db_logging=db_logging))
    fp.configure(runner="compose", compose_file="docker-compose.yml", odoo_conf=None)


def test_compose_service_without_rotation_warns(fp: FileProject, system_paths: Path) -> None:
    compose_logs(fp)
    result = fp.one("logs-rotation")
    assert_status(result, Status.WARN, "container logs of db are never rotated",
                  "docker-compose.yml:2: service db", "daemon.json absent", "max-size")  # fmt: skip
    assert "of db, odoo" not in result.message


def test_compose_all_services_rotated_passes(fp: FileProject, system_paths: Path) -> None:
    compose_logs(fp, "    logging:\n      driver: local")
    assert_status(fp.one("logs-rotation"), Status.PASS, "rotated by the driver")
    compose_logs(fp, "    logging:\n      driver: journald")
    assert_status(fp.one("logs-rotation"), Status.PASS, "shipped off the host")


def test_daemon_json_log_opts_cover_services(fp: FileProject, system_paths: Path) -> None:
    compose_logs(fp)
    (system_paths / "docker").mkdir()
    (system_paths / "docker/daemon.json").write_text(
        json.dumps({"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}})
    )
    result = fp.one("logs-rotation")
    assert_status(result, Status.PASS, "service db: driver json-file, max-size 10m",
                  "options from the Docker daemon")  # fmt: skip
    (system_paths / "docker/daemon.json").write_text("{broken")
    assert_status(fp.one("logs-rotation"), Status.WARN, "unreadable")


def test_local_logfile_needs_logrotate_rule(fp: FileProject, system_paths: Path) -> None:
    log = fp.root / "var/log/odoo/odoo-server.log"
    fp.conf(logfile=log)
    result = fp.one("logs-rotation")
    assert_status(result, Status.WARN, "no logrotate rule", str(log), "logrotate.d/odoo")
    (system_paths / "logrotate.d/odoo").write_text(
        f"# odoo\n{fp.root}/var/log/odoo/*.log {{\n  daily\n  rotate 7\n}}\n"
    )
    assert_status(fp.one("logs-rotation"), Status.PASS, "logrotate.d/odoo:2")


def test_odoo_logrotate_option_is_not_rotation(fp: FileProject, system_paths: Path) -> None:
    """Odoo 16+ dropped its built-in rotation: ``logrotate = True`` does not count."""
    fp.conf(logfile=fp.root / "odoo.log", logrotate="True")
    assert_status(fp.one("logs-rotation"), Status.WARN, "no logrotate rule",
                  "ignored by Odoo 16.0 and later")  # fmt: skip
    assert_status(fp.one("conf-readable"), Status.WARN, "logrotate", "logrotate(8)")


def test_local_without_logfile_passes(fp: FileProject, system_paths: Path) -> None:
    fp.conf()
    assert_status(fp.one("logs-rotation"), Status.PASS, "stdout")


def test_logs_rotation_skips_over_ssh(fp: FileProject) -> None:
    fp.configure(runner="ssh", ssh_host="deploy@example.com")
    result = fp.one("logs-rotation")
    assert_status(result, Status.SKIP, "remote host")


def test_logrotate_rules_parsing(tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text("weekly\nrotate 4\ninclude /etc/logrotate.d\n/var/log/wtmp {\n  monthly\n}\n")
    d = tmp_path / "d"
    d.mkdir()
    (d / "multi").write_text('/var/log/a.log\n"/var/log/b c.log" /srv/*/odoo.log {\n'
                             "  postrotate\n    /bin/kill -HUP x\n  endscript\n}\n")  # fmt: skip
    rules = logrotate_rules(d, conf)
    patterns = [p for p, _ in rules]
    assert patterns == ["/var/log/wtmp", "/var/log/a.log", "/var/log/b c.log", "/srv/*/odoo.log"]
    assert covered_by(Path("/srv/erp/odoo.log"), rules) == f"{d / 'multi'}:2"
    assert covered_by(Path("/srv/erp/other.log"), rules) is None
    assert "/bin/kill" not in text_of_rules(rules)


def text_of_rules(rules: list[tuple[str, str]]) -> str:
    return " ".join(p for p, _ in rules)
