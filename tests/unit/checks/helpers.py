"""A deployment project written file by file, for the file-based check tests.

``FileProject`` writes files under a temporary project root (odoo.conf, .env,
compose files, addons...), an ``odoo-ops.toml`` from keyword arguments, and
runs checks through the real framework (severity mapping, redaction), so a
test sees exactly what ``odoo-ops check`` would report.
"""

from __future__ import annotations

import json
import os
import pprint
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.checks import all_checks
from odoo_ops.checks.base import CheckResult, Status
from odoo_ops.checks.context import CheckContext
from odoo_ops.checks.run import run_checks

GOOD_CONF = """\
[options]
; a sane production odoo.conf
admin_passwd = $pbkdf2-sha512$600000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA
db_host = 127.0.0.1
db_port = 5432
db_user = odoo
db_name = odoo_prod
dbfilter = ^odoo_prod$
list_db = False
proxy_mode = False
workers = 2
max_cron_threads = 1
limit_memory_soft = 104857600
limit_memory_hard = 125829120
limit_time_cpu = 60
limit_time_real = 120
db_maxconn = 8
log_level = info
"""


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_manifest(directory: Path, name: str, **manifest: Any) -> Path:
    """``directory/name/__manifest__.py`` (defaults: version 18.0.1.0.0, depends base)."""
    data: dict[str, Any] = {"name": name, "version": "18.0.1.0.0", "depends": ["base"]}
    data.update(manifest)
    path = directory / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").write_text("", encoding="utf-8")
    (path / "__manifest__.py").write_text(pprint.pformat(data, sort_dicts=False) + "\n")
    return path


@dataclass
class FileProject:
    root: Path
    deployment: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)

    # -- files ------------------------------------------------------------------
    def write(self, rel: str, text: str, *, mode: int | None = None) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if mode is not None:
            path.chmod(mode)
        return path

    def conf(self, text: str = GOOD_CONF, **options: Any) -> Path:
        """Write odoo.conf: ``text`` with ``options`` replaced/added (None removes one)."""
        lines = text.splitlines()
        for key, value in options.items():
            lines = [ln for ln in lines if ln.split("=", 1)[0].strip() != key]
            if value is not None:
                lines.append(f"{key} = {value}")
        return self.write("odoo.conf", "\n".join(lines) + "\n")

    def addon(self, name: str, where: str = "addons", **manifest: Any) -> Path:
        return write_manifest(self.root / where, name, **manifest)

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
        result = subprocess.run(
            ["git", "-C", str(self.root), *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    # -- configuration ------------------------------------------------------------
    def configure(self, **deployment: Any) -> FileProject:
        """Set deployment keys (``None`` removes one)."""
        for key, value in deployment.items():
            if value is None:
                self.deployment.pop(key, None)
            else:
                self.deployment[key] = value
        return self

    def write_config(self) -> None:
        lines = ['default_deployment = "test"', "[deployments.test]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in self.deployment.items()]
        if self.thresholds:
            lines.append("[thresholds]")
            lines += [f"{k} = {toml_value(v)}" for k, v in self.thresholds.items()]
        self.write("odoo-ops.toml", "\n".join(lines) + "\n")

    def context(self, *, planned: Sequence[str] = ()) -> CheckContext:
        self.write_config()
        project = resolve_project(self.root, environ=self.environ)
        return CheckContext(Target(project), planned=list(planned))

    def run(
        self, *ids: str, planned: Iterable[str] = (), ctx: CheckContext | None = None
    ) -> dict[str, CheckResult]:
        checks = all_checks()
        unknown = [i for i in ids if i not in checks]
        assert not unknown, f"unknown check ids {unknown}"
        context = ctx or self.context(planned=list(planned))
        report = run_checks(context, [checks[i] for i in ids])
        return {r.id: r for r in report.results}

    def one(self, check_id: str, **kw: Any) -> CheckResult:
        result = self.run(check_id, **kw)[check_id]
        assert "crashed" not in result.message, result.message
        return result


def text_of(result: CheckResult) -> str:
    """Everything a result shows (message, remediation, evidence) as one string."""
    return "\n".join([result.message, result.remediation or "", *result.evidence])


def assert_status(result: CheckResult, status: Status, *needles: str) -> None:
    """``result`` has ``status`` and shows every needle somewhere."""
    shown = text_of(result)
    assert result.status == status, f"{result.id}: {result.status} ({shown})"
    for needle in needles:
        assert needle in shown, f"{needle!r} not in {shown!r}"
