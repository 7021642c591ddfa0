"""No secret leaves odoo-ops: a deployment whose every secret is one canary string.

The db password (keyword DSN with quotes and spaces, ``${VAR}`` from ``.env``),
``admin_passwd``/``db_password`` of odoo.conf, and tokens in the URLs of
``base_url``, ``redis_url``, ``[[services]]``, ``[[oca.repos]]`` and
notifications are all the canary. Every read-only command is run as a user
runs it (a subprocess, an isolated HOME), and the canary — raw, URL-encoded,
or any distinctive piece of it — is searched in stdout, stderr and every file
the commands wrote (reports, lock file, logs, crash logs).

A second deployment uses the common password ``odoo``: its output keeps every
file name, command and key readable (``odoo.conf``, ``odoo-ops``,
``odoo_command``), never ``***.conf``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.checks_live.helpers import closed_port
from tests.support import pg
from tests.support.git import git

CANARY = "cAnAry7Q3x 9zK'pW2v"
#: what must never be found: the canary, its URL encodings, and its distinctive pieces
NEEDLES = (CANARY, quote(CANARY, safe=""), quote(CANARY), "cAnAry7Q3x", "9zK'pW2v", "pW2v")


def odoo_ops(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    return subprocess.run(
        [*argv, *args], cwd=cwd, env={**os.environ, "NO_COLOR": "1", **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def toml_str(value: str) -> str:
    return json.dumps(value)


def libpq_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Deployment:
    root: Path
    env: dict[str, str]
    bare: Path
    runs: list[tuple[tuple[str, ...], subprocess.CompletedProcess[str]]] = field(
        default_factory=list
    )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = odoo_ops(*args, cwd=self.root, env=self.env)
        self.runs.append((args, proc))
        return proc


def make_remote(base: Path) -> Path:
    """A bare repository with one addon, the 'GitHub' side of oca sync."""
    bare = base / "remotes" / "tools.git"
    work = base / "work"
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    work.mkdir()
    git(work, "init", "-q", "-b", "18.0")
    (work / "base_tool").mkdir()
    (work / "base_tool" / "__init__.py").write_text("")
    (work / "base_tool" / "__manifest__.py").write_text(
        repr({"name": "base_tool", "version": "18.0.1.0.0", "depends": ["base"],
              "license": "AGPL-3"})
    )  # fmt: skip
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "tool")
    git(work, "push", "-q", str(bare), "HEAD:18.0")
    return bare


def build(tmp_path: Path, secret: str, database: str) -> Deployment:
    """odoo-ops.toml + odoo.conf + .env + an addon, every secret being ``secret``."""
    root = tmp_path / "project"
    (root / "addons" / "my_addon").mkdir(parents=True)
    (root / "addons" / "my_addon" / "__init__.py").write_text("")
    (root / "addons" / "my_addon" / "__manifest__.py").write_text(
        repr({"name": "My addon", "version": "18.0.1.0.0", "depends": ["base"],
              "license": "LGPL-3"})
    )  # fmt: skip
    (root / "backups").mkdir()
    bare = make_remote(tmp_path)
    enc = quote(secret, safe="")
    port = closed_port()
    token_url = f"https://x-access-token:{enc}@git.example.invalid/org/tools.git"
    dsn = (
        f"host=127.0.0.1 port=5432 user=postgres dbname={database}"
        f" password={libpq_quote(secret)} connect_timeout=3"
    )
    (root / ".env").write_text(
        f"POSTGRES_PASSWORD={json.dumps(secret)}\nGITHUB_TOKEN={json.dumps(secret)}\n"
        f"REDIS_PASSWORD={json.dumps(secret)}\nPOSTGRES_USER=odoo\n"
    )
    (root / ".env").chmod(0o600)
    (root / "odoo.conf").write_text(
        "[options]\n"
        f"admin_passwd = {secret}\n"
        f"db_password = {secret}\n"
        "db_host = 127.0.0.1\ndb_user = postgres\n"
        f"db_name = {database}\naddons_path = addons\nlist_db = False\n"
    )
    (root / "odoo-ops.toml").write_text(
        f"""default_deployment = "prod"

[deployments.prod]
series = "18.0"
runner = "local"
odoo_command = ["/nonexistent/odoo-bin"]
odoo_conf = "odoo.conf"
env_file = ".env"
dsn = {toml_str(dsn)}
base_url = {toml_str(f"https://admin:{enc}@127.0.0.1:{port}")}
redis_url = "redis://:${{REDIS_PASSWORD}}@127.0.0.1:{port}/0"
addons_paths = ["addons"]
backup_dir = "backups"
connect_timeout = 2
http_timeout = 2

[[services]]
name = "search"
url = {toml_str(f"https://svc:{enc}@127.0.0.1:{port}/health?token={enc}")}
required = false
timeout = 2

[oca]
addons_dir = "addons/oca"

[[oca.repos]]
name = "tools"
url = {toml_str(token_url)}
branch = "18.0"

[notifications]
urls = [{toml_str(f"mmost://chat.example.invalid/{enc}")}]
"""
    )
    env = {
        # the token URL reaches the local bare repository (git's own URL rewriting)
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.file://{bare}.insteadOf",
        "GIT_CONFIG_VALUE_0": token_url,
        "GIT_TERMINAL_PROMPT": "0",
    }
    return Deployment(root, env, bare)


#: Read-only commands (plus oca sync, which only writes the project's checkouts and lock).
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("config", "show"),
    ("config", "show", "--all"),
    ("config", "show", "--all", "--format", "json"),
    ("-v", "check", "--format", "json"),
    ("config", "validate"),
    ("check",),
    ("check", "--only", "secrets-weak,secrets-hardcoded,conf-admin-passwd", "-o", "REPORT"),
    ("addons", "list"),
    ("backup", "list"),
    ("health",),
    ("audit", "modules"),
    ("audit", "database"),
    ("audit", "crons"),
    ("audit", "broken"),
    ("audit", "drift"),
    ("crons", "status"),
    ("verify",),
    ("golive", "status"),
    ("golive", "report", "--run-checks"),
    ("status",),
    ("status", "--all-deployments", "--format", "json"),
    ("deploy", "history"),
    ("maintenance", "status"),
    ("modules", "plan", "my_addon"),
    ("-vv", "oca", "sync", "--dry-run"),
    ("-vv", "oca", "sync"),
    ("oca", "sync", "--format", "json"),
    ("-vv", "oca", "sync", "--update"),
)


def written_files(*roots: Path) -> list[Path]:
    """Every regular file under ``roots`` except git's own object store and config.

    A checkout's ``.git/config`` holds the remote URL the user configured, as
    ``git clone`` writes it: that is git's credential store, not odoo-ops output.
    """
    out = []
    for root in roots:
        for path in root.rglob("*"):
            if ".git" in path.relative_to(root).parts or not path.is_file():
                continue
            out.append(path)
    return out


def leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_the_canary_never_leaves_odoo_ops(
    tmp_path: Path, odoo_db: Callable[..., pg.OdooTestDb], _isolated_environment: Path
) -> None:
    db = odoo_db()
    dep = build(tmp_path, CANARY, db.name)
    before = {p for p in written_files(dep.root)}
    report = tmp_path / "out" / "check-report.md"
    report.parent.mkdir()
    found: list[str] = []
    tracebacks = 0
    for args in COMMANDS:
        args = tuple(str(report) if a == "REPORT" else a for a in args)
        proc = dep.run(*args)
        text = proc.stdout + proc.stderr
        tracebacks += "Traceback" in text or "unexpected error" in text
        found += [f"{' '.join(args)}: {n!r}" for n in leaks(text)]
    # every file the commands wrote: reports, the lock, checkouts, logs, crash logs
    files = [report, *written_files(tmp_path / "out", _isolated_environment)]
    files += [p for p in written_files(dep.root) if p not in before]
    for path in files:
        if path.is_file():
            found += [f"{path}: {n!r}" for n in leaks(path.read_text("utf-8", "replace"))]
    print(f"canary: {len(dep.runs)} commands run, {len(files)} files read,"
          f" {len(found)} secrets found, {tracebacks} tracebacks")  # fmt: skip
    assert found == []
    assert tracebacks == 0
    # the commands did their work (not a vacuous pass): a real config, DB, report and lock
    shown = {" ".join(a): p for a, p in dep.runs}
    assert shown["config show --all"].returncode == 0
    assert "x-access-token:***@git.example.invalid" in shown["config show --all"].stdout
    assert "password='***'" in shown["config show --all"].stdout
    assert "redis://:***@127.0.0.1" in shown["config show"].stdout
    assert shown["audit modules"].returncode == 0, shown["audit modules"].stderr
    assert report.is_file() and "conf-admin-passwd" in report.read_text()
    lock = json.loads((dep.root / "oca.lock.json").read_text())
    assert lock["repos"]["tools"]["merges"][0]["url"] == (
        "https://x-access-token:***@git.example.invalid/org/tools.git"
    )
    assert (dep.root / "addons" / "oca" / "tools" / "base_tool" / "__manifest__.py").is_file()
    assert len(dep.runs) == len(COMMANDS)


#: words that contain the common password and must stay readable
READABLE = ("odoo.conf", "odoo-ops.toml", "odoo_command", "odoo-bin")


def test_a_common_password_does_not_mask_words(tmp_path: Path) -> None:
    dep = build(tmp_path, "odoo", "postgres")  # only reads settings: any database will do
    outputs = {}
    for args in (("config", "show"), ("config", "show", "--all"), ("config", "validate"),
                 ("check", "--only", "secrets-weak,conf-admin-passwd,conf-readable"),
                 ("backup", "list"), ("health",)):  # fmt: skip
        proc = dep.run(*args)
        outputs[" ".join(args)] = proc.stdout + proc.stderr
    everything = "\n".join(outputs.values())
    assert not re.search(r"\*\*\*[._-]|[._-]\*\*\*", everything), everything
    assert "odoo_command" in outputs["config show"]
    assert "odoo.conf" in outputs["config show"] and "odoo-bin" in outputs["config show"]
    assert "odoo-ops.toml" in outputs["config validate"]
    # the weak password is reported as such, and still masked where it is a password
    assert "a default or common password" in outputs[
        "check --only secrets-weak,conf-admin-passwd,conf-readable"
    ]
    assert "x-access-token:***@" in outputs["config show --all"]
    assert "password='***'" in outputs["config show --all"]
    assert "admin:odoo@" not in everything and "password='odoo'" not in everything
    assert all(word in everything for word in READABLE)
