"""``odoo-ops dr drill``: the "complete server failure" runbook, run for real on scratch copies.

1. **fetch** the newest copy of this deployment's database from a remote (as
   if this server were gone), verified against its manifest on arrival — or,
   without ``--from``, take the newest verified local backup;
2. **restore** it, neutralized (no mail out, crons off), into a scratch
   database ``<db>__drill_<token>`` and its filestore under the data_dir —
   of this deployment, or with ``--target NAME`` of deployment NAME of the
   same odoo-ops.toml (its database server, its data_dir; never its own
   database or filestore: a collision is refused before anything changes);
3. **start Odoo** on it through that deployment's runner (local, a scratch
   ``docker compose run`` container, or over ssh with a port forward: see
   :mod:`odoo_ops.dr.server`) and wait for ``/web/health``;
   then, with ``[dr] login``/``password``, log in as that user through
   ``/web/login`` (the RTO ends there: a user can work);
4. **compare** the installed module versions and the row counts of the key
   tables with the manifest;
5. record **RTO** (start of the drill to Odoo answering) and **RPO** (start of
   the drill minus the backup's snapshot time), against ``[dr] rto_minutes``
   and ``rpo_minutes``;
6. **tear down**: stop Odoo, drop the scratch database and filestore.

The result goes to ``.odoo-ops/<deployment>/dr/drill-<UTC time>.json`` and
``.md``, and ``last.json`` (the go-live evidence), of the deployment whose
backup was drilled, naming the target it ran on.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops import childproc
from odoo_ops.adapters import Target as _Target
from odoo_ops.adapters.pgadmin import admin_connection, db_exists, drop_database, with_suffix
from odoo_ops.backup.common import backup_dir_of
from odoo_ops.backup.layout import BackupEntry, find_backup, iso, list_backups, remove_tree, utcnow
from odoo_ops.dr.server import DrillServer, start_server
from odoo_ops.errors import ConfigError, OpsError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.names import check_database_name

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.adapters.project import Project
    from odoo_ops.backup.common import ProgressFn

#: Tables whose rows neutralization changes: not compared with the manifest.
NEUTRALIZED_TABLES = frozenset(
    {"ir_config_parameter", "ir_mail_server", "fetchmail_server", "ir_cron"}
)


@dataclass
class DrillResult:
    deployment: str
    backup: str
    source: str  # "remote NAME" or "local"
    started_at: str
    snapshot_at: str | None
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    rto_limit_minutes: float = 240.0
    rpo_limit_minutes: float = 1440.0
    phases: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ok: bool = False
    json_path: str | None = None
    markdown_path: str | None = None
    target: str | None = None  # the deployment it was restored on and served by

    @property
    def rto_ok(self) -> bool:
        return self.rto_seconds is not None and self.rto_seconds <= self.rto_limit_minutes * 60

    @property
    def rpo_ok(self) -> bool:
        return self.rpo_seconds is not None and self.rpo_seconds <= self.rpo_limit_minutes * 60


class _DrillHost(_Target):
    """Deployment ``--target``: its database server, data_dir, runner and odoo.conf,
    with the backups of the deployment being drilled (what the restore reads)."""

    def __init__(self, project: Project, source: Target) -> None:
        super().__init__(project)
        self._source = source

    @property
    def backup_dir(self) -> Path | None:
        return self._source.backup_dir


def drill_target(source: Target, name: str | None) -> Target:
    """The deployment the drill restores into and starts Odoo through.

    None or the source's own name: the source itself (the scratch database on
    its server, Odoo through its runner). Another name: that deployment of the
    same odoo-ops.toml, resolved as ``-D NAME`` would be.
    """
    if not name or name == source.name:
        return source
    from odoo_ops.adapters.project import Overrides, resolve_project

    config = source.project.config_path
    if config is None:
        raise ConfigError(
            f"--target {name}: no odoo-ops.toml to find deployment {name!r} in",
            hint="declare both deployments under [deployments.NAME] in odoo-ops.toml",
        )

    def resolve(database: str | None = None) -> Project:
        return resolve_project(
            source.root, config_file=config, deployment=name,
            overrides=Overrides(database=database),
        )  # fmt: skip

    host = _DrillHost(resolve(), source)
    if host.database_choice()[0] is None:
        # it names no database of its own: the source's name only completes its dsn
        # (the drill works on a scratch database and the server's maintenance one)
        host = _DrillHost(resolve(source.database_name), source)
    return host


def _check_scratch(host: Target, source: Target, scratch: str) -> None:
    """Refuse, before anything changes, a scratch name that is live on the target."""
    where = f"deployment {host.name}"
    if scratch in {host.database_name, source.database_name}:
        raise OpsError(
            f"the drill's scratch database {scratch} is the live database of {where}:"
            " not drilling onto it",
            hint="drill onto another deployment (--target) or rename its database",
        )
    scratch_fs = host.filestore_dir(scratch)
    if scratch_fs is not None:
        for live in (host, source):
            live_fs = live.filestore_dir()
            if live_fs is not None and live_fs.resolve() == scratch_fs.resolve():
                raise OpsError(
                    f"the drill's scratch filestore {scratch_fs} is the live filestore of"
                    f" deployment {live.name}: not drilling onto it",
                    hint="give the target deployment its own data_dir",
                )
        if scratch_fs.exists():
            raise OpsError(
                f"{scratch_fs} is already there on {where}: not drilling onto it",
                hint="remove it if it is a left-over of an earlier drill",
            )
    conn = admin_connection(host)
    try:
        if db_exists(conn, scratch):
            raise OpsError(
                f"database {scratch} is already there on the server of {where}:"
                " not drilling onto it",
                hint="drop it if it is a left-over of an earlier drill",
            )
    finally:
        conn.close()


def _newest_local(target: Target) -> BackupEntry:
    db = target.database_name
    entries = [
        e
        for e in list_backups(backup_dir_of(target))
        if e.manifest
        and e.manifest.deployment == target.name
        and (not db or e.manifest.database == db)
        and e.verified
        and e.verified.get("ok")
    ]
    if not entries:
        raise OpsError(
            "no verified backup of this deployment to drill with",
            hint="odoo-ops backup create, then backup verify (or pass --from REMOTE)",
        )
    return entries[-1]


def _fetch(
    target: Target, remote_name: str, progress: ProgressFn | None
) -> tuple[BackupEntry, str]:
    """The newest copy on the remote, downloaded and verified (into backup_dir when absent)."""
    from odoo_ops.backup.integrity import verify_entry
    from odoo_ops.backup.remotes import find_config, open_remote
    from odoo_ops.backup.remotes.ops import pull_backup

    cfg = find_config(target, remote_name)
    db = target.database_name
    with open_remote(target, cfg) as remote:
        copies = [
            c
            for c in remote.copies()
            if not c.error and c.created_at and c.deployment == target.name
            and (not db or c.database == db)
        ]  # fmt: skip
        if not copies:
            raise OpsError(
                f"remote {cfg.name} holds no copy of this deployment's backups",
                hint=f"odoo-ops backup push --all --remote {cfg.name}",
            )
        newest = max(copies, key=lambda c: (c.created_at, c.name))
        backup_dir = backup_dir_of(target)
        if not (backup_dir / newest.name).is_dir():
            return pull_backup(target, newest.name, cfg, progress=progress), newest.name
        # a local copy exists: download the remote one anyway (that is the drill), verify
        # it, and restore the local one (the same bytes: both match the manifest's sha256)
        scratch = target.state_dir / "dr" / f".fetch-{secrets.token_hex(3)}"
        copy = scratch / newest.name
        copy.mkdir(parents=True, mode=0o700)
        try:
            remote.pull(newest.name, copy, progress=progress)
            local = find_backup(backup_dir, newest.name)
            checked = verify_entry(BackupEntry(newest.name, copy, local.manifest), record=False)
            if not checked.ok:
                raise OpsError(
                    f"the copy of {newest.name} on {cfg.name} fails verification: "
                    + "; ".join(str(p) for p in checked.problems[:3])
                )
        finally:
            remove_tree(scratch)
        return local, newest.name


def run_drill(
    target: Target,
    *,
    from_remote: str | None = None,
    onto: str | None = None,
    timeout: float = 600.0,
    progress: ProgressFn | None = None,
) -> DrillResult:
    """Drill ``target``'s newest backup, restored on and served by deployment ``onto``
    (default: ``target`` itself); the result is recorded (for ``target``) even when
    it fails. A scratch name live on the target is refused before anything changes."""
    from odoo_ops.backup.restore import RestoreOptions, restore_backup

    host = drill_target(target, onto)

    t0 = time.monotonic()
    started = utcnow()
    cfg = target.project.config.dr
    mark = t0

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        result.phases[name] = round(now - mark, 3)
        mark = now

    if from_remote:
        entry, name = _fetch(target, from_remote, progress)
    else:
        entry = _newest_local(target)
        name = entry.name
    manifest = entry.manifest
    assert manifest is not None
    result = DrillResult(
        deployment=target.name,
        backup=name,
        source=f"remote {from_remote}" if from_remote else "local",
        started_at=iso(started),
        snapshot_at=iso(manifest.created_at) if manifest.created_at else None,
        rto_limit_minutes=cfg.rto_minutes,
        rpo_limit_minutes=cfg.rpo_minutes,
        target=host.name,
    )
    phase("fetch")
    if manifest.created_at:
        result.rpo_seconds = round((started - manifest.created_at).total_seconds(), 1)
    source_db = check_database_name(manifest.database or target.database_name or "db")
    token = secrets.token_hex(3)
    scratch = with_suffix(source_db, f"__drill_{token}")
    _check_scratch(host, target, scratch)
    data_dir = host.data_dir()
    server: DrillServer | None = None
    log_path = target.state_dir / "dr" / f"drill-{started.strftime('%Y%m%d-%H%M%S')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        try:
            restored = restore_backup(
                host, name, RestoreOptions(to=scratch, neutralize=True, verify=True), progress
            )
            result.checks["neutralized"] = (
                restored.neutralized.applied if restored.neutralized else []
            )
            phase("restore")
            server = start_server(host, scratch, log_path)
            result.checks["runner"] = server.how
            _wait_health(f"{server.url}/web/health", server.proc, timeout, log_path)
            if not cfg.login:
                result.rto_seconds = round(time.monotonic() - t0, 1)
            phase("start")
            if cfg.login:
                # service is back when a user can work: the RTO ends at the login
                _log_in(server.url, scratch, cfg.login, _password(target))
                result.rto_seconds = round(time.monotonic() - t0, 1)
                result.checks["login"] = cfg.login
                phase("login")
            else:
                result.notes.append(
                    "no [dr] login: the drill did not log in as a user (RTO ends at /web/health)"
                )
            _compare(host, scratch, manifest.raw, result)
            phase("compare")
        except OpsError as exc:
            result.problems.append(exc.message)
    finally:
        _teardown(host, server, scratch, data_dir, result)
        phase("teardown")
    result.ok = not result.problems and result.rto_ok and result.rpo_ok
    if not result.rto_ok and result.rto_seconds is not None:
        result.notes.append(f"RTO {result.rto_seconds:.0f} s is over {cfg.rto_minutes:g} min")
    if not result.rpo_ok and result.rpo_seconds is not None:
        result.notes.append(f"RPO {result.rpo_seconds:.0f} s is over {cfg.rpo_minutes:g} min")
    _record(target, result, started.strftime("%Y%m%d-%H%M%S"))
    _notify(target, result)
    return result


def _notify(target: Target, result: DrillResult) -> None:
    """Send the result to ``[notifications] urls``; a failed delivery becomes a note."""
    from odoo_ops.notify import notify

    urls = list(target.project.config.notifications.urls)
    if not urls:
        return
    rto = f"{result.rto_seconds:.0f} s" if result.rto_seconds is not None else "not reached"
    rpo = f"{result.rpo_seconds / 60:.0f} min" if result.rpo_seconds is not None else "?"
    onto = f" on {result.target}" if result.target and result.target != target.name else ""
    title = f"odoo-ops dr drill {target.name}{onto}: {'pass' if result.ok else 'FAIL'}"
    body = "\n".join(
        [f"backup {result.backup} ({result.source})", f"RTO {rto}, RPO {rpo}"]
        + result.problems[:5]
        + ([f"record: {result.markdown_path}"] if result.markdown_path else [])
    )
    for delivery in notify(urls, title, body, level="success" if result.ok else "failure"):
        if not delivery.ok:
            result.notes.append(f"notification to {delivery.channel} failed: {delivery.error}")


def _wait_health(url: str, proc: childproc.ChildPopen, timeout: float, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise OpsError(
                f"Odoo exited with status {proc.returncode} before answering"
                + (f": {tail[0]}" if tail else ""),
                hint=f"see {log}",
            )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise OpsError(f"Odoo did not answer {url} within {timeout:g} s", hint=f"see {log}")


def _password(target: Target) -> str:
    """``[dr] password``, its ``${VAR}`` taken from the deployment's env_file too.

    The top-level sections are interpolated with the process environment when
    the config is read; a variable only the deployment's env_file sets is
    resolved here (``Project.env`` holds both).
    """
    from odoo_ops.config.envfile import interpolate, unresolved_variables

    raw = target.project.config.dr.password or ""
    missing: set[str] = set()
    value = interpolate(raw, target.project.env, missing)
    if missing or unresolved_variables(value):
        raise OpsError(
            f"[dr] password uses unset variable(s) {', '.join(sorted(missing))}",
            hint="set it in the environment or the deployment's env_file",
        )
    return value


_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def _log_in(base_url: str, database: str, login: str, password: str) -> None:
    """Log in the way a browser does: GET /web/login (csrf_token), POST the form.

    Odoo answers a redirect away from /web/login when the login succeeded and
    the form again (200) when it did not.
    """
    import httpx

    try:
        with httpx.Client(base_url=base_url, timeout=30.0, follow_redirects=False) as client:
            page = client.get("/web/login", params={"db": database})
            match = _CSRF.search(page.text)
            if page.status_code != 200 or not match:
                raise OpsError(f"/web/login answered HTTP {page.status_code} without a login form")
            answer = client.post(
                "/web/login",
                data={"login": login, "password": password, "csrf_token": match.group(1)},
            )
    except httpx.HTTPError as exc:
        raise OpsError(f"logging in as {login} failed: {exc or type(exc).__name__}") from None
    location = answer.headers.get("location", "")
    if answer.status_code not in (301, 302, 303) or "/web/login" in location:
        raise OpsError(
            f"Odoo refused the login of {login} (HTTP {answer.status_code})",
            hint="check [dr] login and password (the restored database's users)",
        )


def _compare(target: Target, scratch: str, manifest: dict[str, Any], result: DrillResult) -> None:
    import psycopg
    from psycopg import sql

    from odoo_ops.adapters.database import dsn_for_database

    counts: dict[str, int] = dict(manifest.get("row_counts") or {})
    modules: dict[str, str | None] = dict(manifest.get("modules") or {})
    compared = 0
    with psycopg.connect(dsn_for_database(target.dsn(), scratch), autocommit=True) as conn:
        for table, want in sorted(counts.items()):
            if table in NEUTRALIZED_TABLES:
                continue
            try:
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                ).fetchone()
            except psycopg.Error:
                result.problems.append(f"table {table} is missing from the restored database")
                continue
            compared += 1
            if row is None or int(row[0]) != int(want):
                result.problems.append(
                    f"{table}: {row[0] if row else '?'} rows, the manifest says {want}"
                )
        got: dict[str, str | None] = dict(
            conn.execute(
                "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'"
            ).fetchall()
        )
    for module, version in sorted(modules.items()):
        if module not in got:
            result.problems.append(f"module {module} is not installed in the restored database")
        elif version and got[module] != version:
            result.problems.append(f"module {module}: {got[module]}, the manifest says {version}")
    result.checks["tables_compared"] = compared
    result.checks["modules_compared"] = len(modules)


def _teardown(
    target: Target,
    server: DrillServer | None,
    scratch: str,
    data_dir: Path | None,
    result: DrillResult,
) -> None:
    if server is not None:
        result.notes.extend(server.stop(target))
    try:
        conn = admin_connection(target)
        try:
            drop_database(conn, scratch)
        finally:
            conn.close()
    except Exception as exc:  # the drill's result matters more than a failed cleanup
        result.notes.append(f"could not drop the scratch database {scratch}: {exc}")
    if data_dir is not None:
        remove_tree(data_dir / "filestore" / scratch)


def _markdown(result: DrillResult) -> str:
    def minutes(seconds: float | None) -> str:
        return "—" if seconds is None else f"{seconds:.1f} s ({seconds / 60:.1f} min)"

    lines = [
        f"# Disaster-recovery drill — {result.deployment}",
        "",
        f"- started: {result.started_at}",
        f"- backup: `{result.backup}` ({result.source}), snapshot {result.snapshot_at or '?'}",
        f"- target: deployment `{result.target or result.deployment}`"
        + (f" (Odoo started through {result.checks['runner']})"
           if result.checks.get("runner") else ""),
        f"- **RTO**: {minutes(result.rto_seconds)} — limit {result.rto_limit_minutes:g} min:"
        f" {'met' if result.rto_ok else 'NOT met'}",
        f"- **RPO**: {minutes(result.rpo_seconds)} — limit {result.rpo_limit_minutes:g} min:"
        f" {'met' if result.rpo_ok else 'NOT met'}",
        "- login: "
        + (f"as `{result.checks['login']}`" if result.checks.get("login") else "not tried"),
        f"- result: **{'pass' if result.ok else 'FAIL'}**",
        "",
        "| phase | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.1f} |" for k, v in result.phases.items()],
        "",
    ]
    if result.problems:
        lines += ["## Problems", "", *[f"- {p}" for p in result.problems], ""]
    if result.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in result.notes], ""]
    return "\n".join(lines)


def _record(target: Target, result: DrillResult, stamp: str) -> None:
    directory = target.state_dir / "dr"
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"drill-{stamp}.json"
    md_path = directory / f"drill-{stamp}.md"
    result.json_path, result.markdown_path = str(json_path), str(md_path)
    data = {**asdict(result), "rto_ok": result.rto_ok, "rpo_ok": result.rpo_ok}
    text = json.dumps(data, indent=2) + "\n"
    atomic_write_text(json_path, text, mode=0o600)
    atomic_write_text(md_path, _markdown(result), mode=0o600)
    atomic_write_text(directory / "last.json", text, mode=0o600)
