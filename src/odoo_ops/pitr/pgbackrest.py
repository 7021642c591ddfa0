"""Running ``pgbackrest`` for a deployment's stanza, and reading what it says.

Every call goes through :mod:`odoo_ops.childproc` (it dies with odoo-ops) as
the cluster's OS user (:attr:`PitrSetup.os_user`: the kernel switches user in
the child, no ``su``/``runuser`` in between, so the death signal reaches
pgBackRest itself).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from odoo_ops import childproc
from odoo_ops.errors import OpsError, TargetError
from odoo_ops.pitr.settings import PitrSetup


def user_kwargs(user: str | None) -> dict[str, Any]:
    """``Popen`` keyword arguments that run the child as ``user`` (None: as us)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    env = dict(os.environ)
    env.update({"HOME": entry.pw_dir, "USER": user, "LOGNAME": user})
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "env": env,
            "cwd": "/"}  # fmt: skip


def pgbackrest_path(setup: PitrSetup) -> str:
    found = shutil.which(setup.policy.pgbackrest)
    if found is None:
        raise TargetError(
            f"{setup.policy.pgbackrest} not found on PATH",
            hint="install pgBackRest (Debian: apt-get install pgbackrest)",
        )
    return found


def argv(setup: PitrSetup, command: str, *options: str) -> list[str]:
    return [pgbackrest_path(setup), f"--config={setup.conf_path}", f"--stanza={setup.stanza}",
            *options, command]  # fmt: skip


def run(setup: PitrSetup, command: str, *options: str, timeout: float | None = None) -> str:
    """Run ``pgbackrest <command>``; its standard output, or :class:`OpsError` with its error."""
    args = argv(setup, command, *options)
    try:
        result = childproc.run(args, capture_output=True, text=True, timeout=timeout,
                               **user_kwargs(setup.os_user))  # fmt: skip
    except subprocess.TimeoutExpired:
        raise OpsError(f"pgbackrest {command} did not finish within {timeout:.0f} s") from None
    except OSError as exc:  # e.g. a wrapper the cluster's OS user may not run
        who = f" as {setup.os_user}" if setup.os_user else ""
        raise OpsError(
            f"cannot run {args[0]}{who}: {exc.strerror}",
            hint="[pitr] pgbackrest must be executable by that user",
        ) from None
    if result.returncode != 0:
        line = error_line(result.stderr or result.stdout)
        hint = f"pgBackRest's log: {setup.log_dir}"
        advice = setup.remote.advice(line) if setup.remote is not None else None
        if advice:
            hint = f"{advice}; {hint}"
        raise OpsError(f"pgbackrest {command} failed (exit {result.returncode}): {line}",
                       hint=hint)  # fmt: skip
    return str(result.stdout)


def error_line(text: str) -> str:
    """The most telling line of pgBackRest's output (its ERROR line when there is one)."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    for line in lines:
        if "ERROR:" in line:
            return line[line.index("ERROR:"):][:400]
    return (lines[-1] if lines else "no output")[:400]


# -- info ------------------------------------------------------------------------------


@dataclass
class BackupSet:
    label: str
    type: str  # full, diff, incr
    start: datetime
    stop: datetime
    wal_start: str | None
    wal_stop: str | None
    size: int | None
    repo_size: int | None

    @property
    def restorable_from(self) -> datetime:
        """The first moment pgBackRest restores from this set: its stop plus one second.

        pgBackRest keeps the stop time in whole seconds and, for a restore to a
        time, takes a set whose stop is strictly before the target read in whole
        seconds: a target in the same second as the stop finds no set.
        """
        return self.stop.replace(microsecond=0) + timedelta(seconds=1)


@dataclass
class StanzaInfo:
    stanza: str
    status_code: int
    status: str
    backups: list[BackupSet] = field(default_factory=list)
    wal_min: str | None = None
    wal_max: str | None = None

    @property
    def oldest(self) -> BackupSet | None:
        return self.backups[0] if self.backups else None

    def newest(self, kind: str | None = None) -> BackupSet | None:
        sets = [b for b in self.backups if kind is None or b.type == kind]
        return sets[-1] if sets else None


def _ts(value: object) -> datetime:
    if not isinstance(value, int | float):
        raise ValueError(f"not a timestamp: {value!r}")
    return datetime.fromtimestamp(float(value), tz=UTC)


def parse_info(text: str, stanza: str) -> StanzaInfo:
    """``pgbackrest info --output=json`` -> :class:`StanzaInfo` of ``stanza``."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise OpsError("pgbackrest info did not answer JSON") from None
    if not isinstance(doc, list):
        raise OpsError("pgbackrest info: unexpected JSON (not a list of stanzas)")
    entry = next((s for s in doc if isinstance(s, dict) and s.get("name") == stanza), None)
    if entry is None:
        return StanzaInfo(stanza, 1, "missing stanza path")
    status = entry.get("status") or {}
    info = StanzaInfo(stanza, int(status.get("code", 99)), str(status.get("message", "")))
    try:
        for b in entry.get("backup") or []:
            ts = b.get("timestamp") or {}
            arch = b.get("archive") or {}
            binfo = b.get("info") or {}
            repo = binfo.get("repository") or {}
            info.backups.append(BackupSet(
                label=str(b.get("label")), type=str(b.get("type")),
                start=_ts(ts.get("start")), stop=_ts(ts.get("stop")),
                wal_start=arch.get("start"), wal_stop=arch.get("stop"),
                size=binfo.get("size"), repo_size=repo.get("size"),
            ))  # fmt: skip
    except (ValueError, TypeError, AttributeError) as exc:
        raise OpsError(f"pgbackrest info: unexpected backup entry ({exc})") from None
    info.backups.sort(key=lambda b: b.stop)
    archives = [a for a in entry.get("archive") or [] if isinstance(a, dict)]
    mins = [a["min"] for a in archives if a.get("min")]
    maxs = [a["max"] for a in archives if a.get("max")]
    info.wal_min = min(mins) if mins else None
    info.wal_max = max(maxs) if maxs else None
    return info


def info(setup: PitrSetup) -> StanzaInfo:
    return parse_info(run(setup, "info", "--output=json", timeout=120), setup.stanza)


def newest_archived_mtime(setup: PitrSetup) -> datetime | None:
    """When the newest WAL file reached a local repository (None if none / not local)."""
    root = setup.repo / "archive" / setup.stanza
    newest: float | None = None
    try:
        for path in root.glob("*/*/*"):
            if path.name.endswith((".backup",)) or ".backup." in path.name:
                continue
            mtime = path.stat().st_mtime
            newest = mtime if newest is None or mtime > newest else newest
    except OSError:
        return None
    return datetime.fromtimestamp(newest, tz=UTC) if newest is not None else None

