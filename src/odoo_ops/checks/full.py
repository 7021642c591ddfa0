"""Slow checks (``--full``): does the code still build and update *this* database?

Both work on a throw-away copy of the deployment's database, made with
``CREATE DATABASE <db>_odoo_ops_check_<random> TEMPLATE <db>`` and dropped
afterwards whatever happens; the real database is only ever read (as the
template). PostgreSQL refuses that copy while other sessions use the source
database (a live Odoo): the copy is then made without stopping anything, from
the newest fresh verified backup or a parallel dump/restore, with the
filestore hard-linked (:mod:`odoo_ops.backup.scratch`); ``full-update-base``
reports the rehearsal's duration as the expected downtime of the next ``-u``.

- ``full-update-base``: ``odoo -c CONF -d COPY -u base --stop-after-init``
  (updating base updates every installed module);
- ``full-assets-build``: ``odoo shell -d COPY`` generating the CSS and JS of
  the web client's bundles the way a first page load would.

Each passes when Odoo exits 0 and logs no ERROR or CRITICAL line.
"""

from __future__ import annotations

import re
import secrets
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.adapters import CommandResult, Database, OdooCommand, Unavailable
from odoo_ops.adapters.pgadmin import copy_database, drop_database, first_line
from odoo_ops.checks.base import Need, Outcome, Severity, check, failed, passed, skipped
from odoo_ops.checks.context import CheckContext
from odoo_ops.errors import OpsError, TargetError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

COPY_INFIX = "_odoo_ops_check_"
UPDATE_TIMEOUT = 1800.0
ASSETS_TIMEOUT = 900.0
ASSETS_OK = "ODOO_OPS_ASSETS_OK"
ASSETS_ERROR = "ODOO_OPS_ASSETS_ERROR"
# Odoo's log format: "2025-07-02 10:00:00,123 4242 ERROR db odoo.modules.loading: ..."
_LOG_PROBLEM = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (ERROR|CRITICAL) ")

# Run by ``odoo shell`` on the copy. Odoo 17+ builds a bundle with
# ir.qweb._get_asset_bundle(name) (ir_qweb.py) and its css()/js() generate and
# store the files (assetsbundle.py); 16.0 needs the files first
# (_get_asset_content) and passes them in. SCSS compile errors are collected in
# bundle.css_errors instead of raised. The copy's filestore directory (written
# by the generation) is removed at the end; the database copy is dropped by
# odoo-ops.
ASSETS_SCRIPT = f"""
import os, shutil, sys
failed = False
for name in ('web.assets_backend', 'web.assets_frontend'):
    try:
        qweb = env['ir.qweb']
        try:
            bundle = qweb._get_asset_bundle(name)
        except TypeError:
            files, _remains = qweb._get_asset_content(name)
            bundle = qweb._get_asset_bundle(name, files, env=env)
        bundle.css()
        bundle.js()
        for err in getattr(bundle, 'css_errors', None) or []:
            failed = True
            first = (str(err).splitlines() or [''])[0]
            print('%s %s: %s' % ('{ASSETS_ERROR}', name, first))
        print('bundle %s built' % name)
    except Exception as exc:
        failed = True
        print('%s %s: %s: %s' % ('{ASSETS_ERROR}', name, type(exc).__name__, exc))
env.cr.rollback()
try:
    store = env['ir.attachment']._filestore()
except Exception:
    store = ''
if store and os.path.basename(store.rstrip('/')) == env.cr.dbname and '{COPY_INFIX}' in store:
    shutil.rmtree(store, ignore_errors=True)
if not failed:
    print('{ASSETS_OK}')
sys.stdout.flush()
"""

# Removes the copy's filestore after -u base (created only if it wrote files).
CLEANUP_SCRIPT = f"""
import os, shutil
try:
    store = env['ir.attachment']._filestore()
except Exception:
    store = ''
if store and os.path.basename(store.rstrip('/')) == env.cr.dbname and '{COPY_INFIX}' in store:
    shutil.rmtree(store, ignore_errors=True)
"""


def copy_name(source: str) -> str:
    """``<source>_odoo_ops_check_<hex>``, within PostgreSQL's 63-byte identifiers."""
    suffix = COPY_INFIX + secrets.token_hex(3)
    return source[: 63 - len(suffix)] + suffix


@dataclass
class DatabaseCopy:
    source: str
    name: str
    admin: Database  # connected to a maintenance database, never the source
    method: str = "CREATE DATABASE ... TEMPLATE"
    seconds: float = 0.0
    filestore: Path | None = None  # hard-linked filestore of a live copy (removed with it)
    notes: list[str] = field(default_factory=list)


def _maintenance(db: Database) -> Database:
    """A Database on the same server, connected to ``postgres`` (else ``template1``)."""
    last: TargetError | None = None
    for name in ("postgres", "template1"):
        candidate = db.with_database(name)
        try:
            candidate.connect(autocommit=True).close()
            return candidate
        except TargetError as exc:
            last = exc
    raise Unavailable(f"cannot reach a maintenance database to copy from: {last}")


def create_copy(db: Database, target: Target | None = None) -> DatabaseCopy:
    """CREATE DATABASE copy TEMPLATE source, or Unavailable saying why not.

    With ``target``, a source that other sessions use (a live Odoo) is copied
    without stopping anything (:func:`odoo_ops.backup.scratch.live_copy`: the
    newest fresh verified backup, else a parallel dump and restore)."""
    import time

    import psycopg

    source = db.name
    if not source:
        raise Unavailable("no database name to copy")
    admin = _maintenance(db)
    name = copy_name(source)
    conn = admin.connect(autocommit=True)
    try:
        if target is not None and _other_sessions(conn, source):
            return _live_copy(target, conn, admin, source, name)
        started = time.monotonic()
        try:
            copy_database(conn, source, name)
        except psycopg.Error as exc:
            text = first_line(exc)
            if "being accessed by other users" in text:
                others = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (source,)
                ).fetchone()
                n = others[0] if others else "some"
                text = (
                    f"{n} other session(s) use {source} and CREATE DATABASE ... TEMPLATE needs"
                    " none: stop Odoo (and its cron workers) for the check, or run it in a"
                    " maintenance window"
                )
            raise Unavailable(f"cannot copy {source}: {text}") from None
    finally:
        conn.close()
    return DatabaseCopy(source, name, admin, seconds=time.monotonic() - started)


def _other_sessions(conn: Any, source: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (source,),
    ).fetchone()
    return int(row[0]) if row else 0


def _live_copy(
    target: Target, conn: Any, admin: Database, source: str, name: str
) -> DatabaseCopy:
    """The copy of a database in use (see :mod:`odoo_ops.backup.scratch`)."""
    from odoo_ops.backup.scratch import live_copy

    copy = DatabaseCopy(source, name, admin)
    try:
        fill = live_copy(target, conn, source, name)
    except (OpsError, OSError) as exc:
        drop_copy(copy)
        copy.filestore = target.filestore_dir(name)
        _drop_filestore(copy)
        text = exc.message if isinstance(exc, OpsError) else str(exc)
        raise Unavailable(f"cannot copy {source} while it is in use: {text}") from None
    copy.method, copy.seconds, copy.filestore = fill.method, fill.seconds, fill.filestore
    copy.notes = list(fill.notes or [])
    if fill.filestore is not None:
        copy.notes.append(f"filestore hard-linked ({fill.filestore_files} files)")
    return copy


def _drop_filestore(copy: DatabaseCopy) -> None:
    path = copy.filestore
    if path is not None and path.name == copy.name and COPY_INFIX in path.name:
        shutil.rmtree(path, ignore_errors=True)


def drop_copy(copy: DatabaseCopy) -> str | None:
    """Drop the copy; an error message when that failed (never raises)."""
    import psycopg

    if COPY_INFIX not in copy.name or copy.name == copy.source:  # never the real one
        return f"refusing to drop {copy.name!r}: not a copy made by odoo-ops"
    try:
        conn = copy.admin.connect(autocommit=True)
    except TargetError as exc:
        return f"could not drop {copy.name}: {exc}"
    try:
        drop_database(conn, copy.name)
    except psycopg.Error as exc:
        return f"could not drop {copy.name}: {first_line(exc)}"
    finally:
        conn.close()
    return None


def log_problems(output: str, limit: int = 10) -> list[str]:
    """ERROR and CRITICAL lines of an Odoo log."""
    lines = [ln.rstrip() for ln in output.splitlines() if _LOG_PROBLEM.match(ln)]
    return lines[:limit]


def _preflight(ctx: CheckContext) -> Database:
    db = ctx.database()  # Unavailable -> skip
    if not ctx.odoo_initialised():
        raise Unavailable("the database is not initialised by Odoo: nothing to update")
    if ctx.deployment.runner == "compose":
        from odoo_ops.checks.docker import daemon_state

        ok, message = daemon_state(ctx)
        if not ok:
            raise Unavailable(f"Docker daemon not reachable: {message}")
    return db


def _on_copy(ctx: CheckContext, work: Callable[[DatabaseCopy], Outcome]) -> Outcome:
    db = _preflight(ctx)
    copy = create_copy(db, ctx.target)
    outcome: Outcome | None = None
    try:
        outcome = work(copy)
        outcome.evidence.append(f"copy: {copy.method} in {copy.seconds:.1f}s")
        outcome.evidence.extend(copy.notes)
    finally:
        _drop_filestore(copy)
        problem = drop_copy(copy)
        if problem and outcome is not None:
            outcome.evidence.append(problem)
            outcome.message += f" (warning: {problem})"
    assert outcome is not None
    return outcome


def _odoo(ctx: CheckContext, copy: DatabaseCopy) -> OdooCommand:
    """The command builder for the copy; Odoo's log comes to us even with a ``logfile``."""
    odoo = ctx.target.odoo(copy.name)
    try:
        conf = ctx.target.conf
    except OpsError:
        conf = None
    if conf is not None and conf.get("logfile"):
        odoo = replace(odoo, extra=[*odoo.extra, "--logfile="])
    return odoo


def _remove_filestore(ctx: CheckContext, copy: DatabaseCopy, odoo: OdooCommand) -> None:
    """Remove the copy's filestore (files written by -u): here when its host path is
    known, else by Odoo itself where it runs (one short ``odoo shell``)."""
    host = ctx.target.filestore_dir(copy.name)
    if host is not None:
        if host.name == copy.name and COPY_INFIX in host.name and host.is_dir():
            shutil.rmtree(host, ignore_errors=True)
        return
    try:
        ctx.runner.run(odoo.shell(database=copy.name), input=CLEANUP_SCRIPT, timeout=300)
    except OpsError:
        pass


def _log_file(ctx: CheckContext, copy: DatabaseCopy, what: str) -> Path:
    return ctx.target.log_dir / f"check-{what}-{copy.name}.log"


def _judge(
    what: str, result: CommandResult, command: str, log_path: Path, extra_ok: bool = True
) -> Outcome:
    problems = log_problems(result.output)
    evidence = [
        f"$ {command}",
        f"exit {result.returncode} in {result.duration:.1f}s",
        f"log: {log_path}",
        *problems,
    ]
    if result.timed_out:
        return failed(
            f"{what}: no end within the time limit", "run it by hand and watch the log", evidence
        )
    if result.returncode != 0 or problems or not extra_ok:
        why = []
        if result.returncode != 0:
            why.append(f"exit code {result.returncode}")
        if problems:
            why.append(f"{len(problems)} ERROR/CRITICAL log line(s)")
        if not why:
            why.append("did not report success")
        first = problems[0].split(": ", 1)[-1] if problems else ""
        return failed(
            f"{what} failed on a copy of the database ({', '.join(why)})"
            + (f": {first[:200]}" if first else ""),
            "fix the reported addon(s) before deploying; the full log is in the file above",
            evidence,
        )
    return passed(f"{what} succeeded on a copy of the database ({result.duration:.0f}s)", evidence)


@check(
    "full-update-base",
    area="full",
    title="-u base succeeds on a copy of the database",
    severity=Severity.ERROR,
    needs=[Need.DATABASE, Need.RUNNER],
    slow=True,
)
def full_update_base(ctx: CheckContext) -> Outcome:
    def work(copy: DatabaseCopy) -> Outcome:
        odoo = _odoo(ctx, copy)
        argv = odoo.update(["base"], database=copy.name)
        runner = ctx.runner
        log_path = _log_file(ctx, copy, "update-base")
        try:
            result = runner.run(argv, timeout=UPDATE_TIMEOUT, log_file=log_path)
        except OpsError as exc:
            return skipped(f"cannot run odoo: {exc}")
        outcome = _judge("-u base", result, shlex.join(runner.wrap(argv)), log_path)
        _remove_filestore(ctx, copy, odoo)
        if outcome.status.value == "pass":  # the rehearsal: what the next -u will take
            outcome.message += (
                f"; expected downtime of the next -u: about {result.duration:.0f}s"
            )
        return outcome

    return _on_copy(ctx, work)


@check(
    "full-assets-build",
    area="full",
    title="Web assets build on a copy of the database",
    severity=Severity.ERROR,
    needs=[Need.DATABASE, Need.RUNNER],
    slow=True,
)
def full_assets_build(ctx: CheckContext) -> Outcome:
    def work(copy: DatabaseCopy) -> Outcome:
        odoo = _odoo(ctx, copy)
        argv = odoo.shell(database=copy.name)
        runner = ctx.runner
        log_path = _log_file(ctx, copy, "assets")
        try:
            result = runner.run(
                argv, input=ASSETS_SCRIPT, timeout=ASSETS_TIMEOUT, log_file=log_path
            )
        except OpsError as exc:
            return skipped(f"cannot run odoo shell: {exc}")
        errors = [ln.strip() for ln in result.output.splitlines() if ln.startswith(ASSETS_ERROR)]
        ok = ASSETS_OK in result.output and not errors
        outcome = _judge("assets build", result, shlex.join(runner.wrap(argv)), log_path, ok)
        for line in errors:
            outcome.evidence.append(line.removeprefix(ASSETS_ERROR).strip())
        if errors and outcome.status.value == "fail":
            outcome.message += f": {errors[0].removeprefix(ASSETS_ERROR).strip()[:200]}"
        return outcome

    return _on_copy(ctx, work)
