"""`odoo-ops init` run as a user runs it: create, re-run, --force, --check-only, errors."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

passlib_hash = pytest.importorskip("passlib.hash", reason="passlib is a test extra")

FLAGS = ["--domain", "erp.example.com", "--database", "odoo_prod", "--cpus", "2",
         "--ram", "8192", "--users", "25", "--non-interactive"]  # fmt: skip


def odoo_ops(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, timeout=120, input=stdin,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


def files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_init_rerun_force_check_only(tmp_path: Path) -> None:
    d = tmp_path / "erp"
    first = odoo_ops("init", str(d), *FLAGS)
    assert first.returncode == 0, first.stderr
    match = re.search(r"shown once.*\n\n\s+(\S+)\n", first.stdout)
    assert match, first.stdout
    master = match.group(1)
    conf = (d / "config/odoo.conf").read_text()
    stored = re.search(r"^admin_passwd = (\S+)$", conf, re.M)
    assert stored and passlib_hash.pbkdf2_sha512.verify(master, stored.group(1))
    assert stat.S_IMODE((d / ".env").stat().st_mode) == 0o600
    for rel, content in files(d).items():
        assert master.encode() not in content, rel
    snapshot = files(d)

    # re-run (answers come from odoo-ops.toml): a no-op
    again = odoo_ops("init", str(d), "--non-interactive")
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout and "shown once" not in again.stdout
    assert files(d) == snapshot

    # a change is shown as a diff and not written without --force
    changed = odoo_ops("init", str(d), "--users", "3", "--non-interactive")
    assert changed.returncode == 1
    assert "-workers = 4" in changed.stdout and "+workers = 2" in changed.stdout
    assert "error: " in changed.stderr and "--force" in changed.stderr
    assert files(d) == snapshot

    # --force writes it, keeping every secret
    env_before = (d / ".env").read_text()
    forced = odoo_ops("init", str(d), "--users", "3", "--non-interactive", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "shown once" not in forced.stdout
    assert (d / ".env").read_text() == env_before
    assert re.search(r"^admin_passwd = (\S+)$", (d / "config/odoo.conf").read_text(), re.M).group(
        1
    ) == stored.group(1)  # type: ignore[union-attr]
    assert "workers = 2" in (d / "config/odoo.conf").read_text()
    for line in env_before.splitlines():
        if "PASSWORD=" in line:
            assert line.split("=", 1)[1] not in forced.stdout + forced.stderr

    # --check-only explains differences and exits 1; 0 when all match
    ok = odoo_ops("init", str(d), "--check-only")
    assert ok.returncode == 0 and "match" in ok.stdout
    conf_path = d / "config/odoo.conf"
    conf_path.write_text(conf_path.read_text().replace("proxy_mode = True", "proxy_mode = False"))
    audit = odoo_ops("init", str(d), "--check-only")
    assert audit.returncode == 1
    assert "config/odoo.conf: proxy_mode = False, init writes True" in audit.stdout
    assert conf_path.read_text().count("proxy_mode = False") == 1  # nothing written


def test_interactive_prompts(tmp_path: Path) -> None:
    # prompts read stdin (the CLI asks only on a terminal, so isatty is forced);
    # answers: domain, series, database, proxy, cpus, ram, users, redis, deployment, pitr
    d = tmp_path / "erp"
    script = (
        "import sys, odoo_ops.cli.main as m\n"
        "sys.stdin.isatty = lambda: True\n"
        "sys.exit(m.main(sys.argv[1:]))\n"
    )
    answers = "shop.example.org\n17.0\nshop\ncaddy\n2\n4096\n12\ny\n\n\n"
    proc = subprocess.run(
        [sys.executable, "-c", script, "init", str(d)], input=answers, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    toml = (d / "odoo-ops.toml").read_text()
    assert 'series = "17.0"' in toml and 'proxy = "caddy"' in toml and "redis = true" in toml
    assert (d / "proxy/Caddyfile").is_file()
    assert "[pitr]" not in toml  # the PITR question left at its default (no)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "not a domain"], "is not a domain name"),
        (["--domain", "erp.example.com", "--series", "15.0"], "Invalid value for '--series'"),
        (["--domain", "erp.example.com", "--ram", "512"], "Invalid value for '--ram'"),
        ([], "no domain given"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = odoo_ops("init", str(tmp_path / "x"), "--non-interactive", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_a_new_project_passes_check_strict_but_for_the_live_server(tmp_path: Path) -> None:
    """What init writes passes every file check; only what needs the running
    deployment (the database, the Docker daemon, a first backup) may fail."""
    d = tmp_path / "erp"
    assert odoo_ops("init", str(d), *FLAGS).returncode == 0
    proc = odoo_ops("check", str(d), "--strict", "--format", "json")
    assert "Traceback" not in proc.stderr
    import json

    results = json.loads(proc.stdout)["results"]
    needs_live = {"db-reachable", "docker-daemon", "compose-services", "backups-recent"}
    # and the off-site destination, which only the operator can name ([[backup.remotes]])
    needs_live.add("backups-offsite")
    bad = {r["id"]: r["message"] for r in results if r["status"] in ("fail", "warn")}
    assert set(bad) <= needs_live, bad
    assert sum(r["status"] == "pass" for r in results) >= 15


def test_init_serve_token_and_password_kept_and_never_printed(tmp_path: Path) -> None:
    bcrypt = pytest.importorskip("bcrypt")
    d = tmp_path / "erp"
    first = odoo_ops("init", str(d), *FLAGS)
    assert first.returncode == 0, first.stderr
    match = re.search(r"Status pages .* user (\S+), password \(shown once\):\n\n\s+(\S+)\n",
                      first.stdout)  # fmt: skip
    assert match, first.stdout
    user, password = match.groups()
    token_file, htpasswd = d / ".odoo-ops/serve/token", d / ".odoo-ops/serve/htpasswd"
    token = token_file.read_text().strip()
    assert len(token) >= 32 and token not in first.stdout + first.stderr
    assert stat.S_IMODE(token_file.stat().st_mode) == stat.S_IMODE(htpasswd.stat().st_mode) == 0o600
    stored_user, hashed = htpasswd.read_text().strip().split(":", 1)
    assert stored_user == user and bcrypt.checkpw(password.encode(), hashed.encode())
    for rel, content in files(d).items():
        assert password.encode() not in content, rel
        if token.encode() in content:
            assert rel in (".odoo-ops/serve/token", ".odoo-ops/serve/nginx-token.conf"), rel
    unit = (d / "deploy/systemd/odoo-ops-production-serve.service").read_text()
    assert f"serve --bind 127.0.0.1:8090 --token-file {token_file.resolve()}" in unit
    assert "location ^~ /odoo-ops/ {" in (d / "proxy/nginx/erp.example.com.conf").read_text()

    # a lost htpasswd: --check-only says so, --force makes a new password, keeps the token
    htpasswd.unlink()
    token_file.chmod(0o644)
    check = odoo_ops("init", str(d), "--check-only")
    assert check.returncode == 1
    assert ".odoo-ops/serve/htpasswd: missing" in check.stdout
    assert ".odoo-ops/serve/token: mode is 644, should be 600" in check.stdout
    refused = odoo_ops("init", str(d), "--non-interactive", "--diff")
    assert refused.returncode == 1 and token not in refused.stdout + refused.stderr
    forced = odoo_ops("init", str(d), "--non-interactive", "--force")
    assert forced.returncode == 0, forced.stderr
    new = re.search(r"password \(shown once\):\n\n\s+(\S+)\n", forced.stdout)
    assert new and new.group(1) != password
    assert "Odoo master password" not in forced.stdout
    assert token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token not in forced.stdout + forced.stderr
    again = odoo_ops("init", str(d), "--non-interactive")
    assert again.returncode == 0 and "up to date" in again.stdout
    assert "shown once" not in again.stdout
