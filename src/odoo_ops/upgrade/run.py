"""``upgrade run``: the major upgrade of the live database, after a rehearsal.

Refused unless the last rehearsal (``last-rehearsal.json``) succeeded for the
same target series, OpenUpgrade scripts and target code (``code_fingerprint``);
``force`` overrides. Then, under the deployment lock:

1. maintenance on (workers stopped, flag and marker set);
2. a rollback point: ``CREATE DATABASE <db>_odoo_ops_pre<series> TEMPLATE <db>``
   and a hard-link copy of the filestore (:mod:`odoo_ops.deploy.instant`);
3. the same OpenUpgrade command as the rehearsal, on the live database with
   the deployment's data_dir;
4. the rehearsal's audits (module states, row counts, attachments, broken
   records) against what the database held before;
5. the switch: in odoo-ops.toml the deployment's ``series``, ``odoo_command``
   and ``addons_paths`` become the target's; in odoo.conf ``addons_path``
   (both files saved in the run's directory first);
6. maintenance off.

Any failure in 3-5 puts the rollback point back in place (database and
filestore) and the two files as they were, then turns maintenance off: the
deployment is as it was. On success the rollback point is kept (its name is in
the report) until you drop it.

Compose and ssh deployments run the target Odoo through the deployment's runner,
as deploy does: ``docker compose run --rm -T <target_service>`` (also behind ssh),
or the command on the ssh host, with ``target_odoo_conf`` and ``openupgrade_path``
as the target Odoo sees them there. Compose deployments switch to
``target_compose_file`` and their Odoo services are re-created on it
(``docker compose up -d``); a rollback re-creates them on the previous file. On a
local deployment, starting the target server is the maintenance
``start_command``'s job (a systemd unit pointing at the target).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import ConfigError, OpsError
from odoo_ops.upgrade.logscan import Failure
from odoo_ops.upgrade.plan import (
    read_installed,
    source_and_steps,
    upgrade_settings,
)
from odoo_ops.upgrade.rehearse import (
    DEFAULT_KEY_TABLES,
    Prepared,
    Rehearsal,
    audit_attachments,
    audit_broken_records,
    audit_counts,
    audit_crons_after,
    audit_modules,
    count_rows,
    expected_after,
    last_rehearsal,
    prepare_steps,
    run_steps,
    steps_fingerprint,
    stored_attachments,
    upgrade_dir,
)

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.config.schema import Upgrade

LAST_RUN = "last-run.json"
JOURNAL = "run-in-progress.json"
STEPS = ("maintenance on", "rollback point", "migrate", "verify", "switch configuration",
         "maintenance off")


@dataclass
class UpgradeRun(Rehearsal):
    forced: bool = False
    refusal: str | None = None  # why it would have been refused without --force
    rollback_copy: str | None = None
    rolled_back: bool = False
    switched: list[str] = field(default_factory=list)
    steps_done: list[str] = field(default_factory=list)
    runner: str = "local"  # where the target Odoo runs (the deployment's runner)

    @property
    def ok(self) -> bool:
        return super().ok and bool(self.switched) and not self.rolled_back


def why_not_rehearsed(last: dict[str, Any] | None, to: str, scripts: str,
                      fingerprint: str) -> str | None:
    if last is None:
        return "no rehearsal was run"
    if not last.get("ok"):
        return f"the last rehearsal ({last.get('id')}) failed"
    if last.get("target_series") != to:
        return f"the last rehearsal was for {last.get('target_series')}, not {to}"
    if last.get("openupgrade_scripts") != scripts:
        return (f"the last rehearsal used OpenUpgrade {last.get('openupgrade_scripts')}, "
                f"not {scripts}")
    if last.get("code_fingerprint") != fingerprint:
        return "the target code changed since the last rehearsal"
    return None


def switch_config(target: Target, to: str, run_dir: Path, cfg: Upgrade | None = None,
                  ) -> list[str]:
    """Point the deployment at the target (``cfg``: the last step's settings):
    odoo-ops.toml and odoo.conf (saved first)."""
    import tomlkit

    from odoo_ops.fileutil import atomic_write_text

    cfg = cfg or upgrade_settings(target)
    toml_path = target.project.config_path
    if toml_path is None or not toml_path.is_file():
        raise OpsError("no odoo-ops.toml to switch to the target")
    text = toml_path.read_text(encoding="utf-8")
    shutil.copy2(toml_path, run_dir / "odoo-ops.toml.before")
    doc = tomlkit.parse(text)
    deployments = doc.get("deployments")
    if deployments is None or target.name not in deployments:
        raise OpsError(f"{toml_path}: no [deployments.{target.name}] table to switch")
    dep = deployments[target.name]
    dep["series"] = to
    dep["odoo_command"] = list(cfg.target_odoo_command)
    dep["addons_paths"] = list(cfg.target_addons_paths)
    switched = [f"{toml_path}: series = {to}, odoo_command, addons_paths"]
    if cfg.target_compose_file and target.deployment.runner != "local":
        dep["compose_file"] = cfg.target_compose_file
        switched[0] += f", compose_file = {cfg.target_compose_file}"
    conf_path = target.odoo_conf_path if target.deployment.runner == "local" else None
    new_conf: str | None = None
    if conf_path is not None and conf_path.is_file():
        conf_text = conf_path.read_text(encoding="utf-8")
        paths = ",".join(str(target.project.path(p)) for p in cfg.target_addons_paths)
        replaced, n = re.subn(r"(?m)^(\s*addons_path\s*=).*$", lambda m: f"{m[1]} {paths}",
                              conf_text)
        if n:
            shutil.copy2(conf_path, run_dir / "odoo.conf.before")
            new_conf = replaced
    atomic_write_text(toml_path, tomlkit.dumps(doc))
    if new_conf is not None and conf_path is not None:
        mode = conf_path.stat().st_mode & 0o777
        atomic_write_text(conf_path, new_conf, mode=mode)
        switched.append(f"{conf_path}: addons_path")
    return switched


def uses_compose(target: Target) -> bool:
    dep = target.deployment
    return dep.runner == "compose" or (dep.runner == "ssh" and dep.remote_runner == "compose")


def recreate_services(target: Target, which: str, say: Any) -> str:
    """``docker compose up -d`` of the Odoo services with the compose file odoo-ops.toml
    names now (read again: after the switch, the target's; after a rollback, the
    previous one), as deploy drives compose (here, or through ssh)."""
    from odoo_ops.adapters import Target as TargetClass
    from odoo_ops.adapters.hostcmd import compose_runner, run_on_host
    from odoo_ops.adapters.project import resolve_project

    fresh = TargetClass(resolve_project(target.root, deployment=target.name,
                                        config_file=target.project.config_path))
    compose = compose_runner(fresh)
    if compose is None:
        raise OpsError("the deployment does not use compose any more")
    services = fresh.odoo_services
    say(f"re-creating {', '.join(services)} on {which} image")
    result = run_on_host(fresh, compose.compose_argv("up", "-d", "--no-deps", *services),
                         timeout=600)
    if not result.ok:
        tail = result.output.strip().splitlines()[-1:] or [""]
        raise OpsError(f"docker compose up of {', '.join(services)} failed "
                       f"(exit {result.returncode}): {tail[0]}")
    return f"{', '.join(services)} re-created ({compose.compose_file})"


def journal_path(target: Target) -> Path:
    """Present while a run holds a rollback point (removed when it ends either way)."""
    return upgrade_dir(target) / JOURNAL


def read_journal(target: Target) -> dict[str, Any] | None:
    from odoo_ops.inputs import read_input_text

    path = journal_path(target)
    text = read_input_text(path, kind="upgrade journal", limit=1 << 20, missing_ok=True)
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        raise OpsError(f"{path}: not JSON", hint="read it and put things back by hand") from None
    if not isinstance(doc, dict):
        raise OpsError(f"{path}: not an upgrade journal")
    return doc


def _write_journal(target: Target, result: UpgradeRun, point: Any, run_dir: Path) -> None:
    from odoo_ops.fileutil import atomic_write_text

    doc = {"run": result.id, "database": point.database, "copy_name": point.copy_name,
           "filestore": str(point.filestore) if point.filestore else None,
           "filestore_copy": str(point.filestore_copy) if point.filestore_copy else None,
           "run_dir": str(run_dir), "started_at": result.started_at}
    atomic_write_text(journal_path(target), json.dumps(doc, indent=2) + "\n")


def rollback_interrupted(target: Target, *, wait: float = 0.0,
                         dry_run: bool = False) -> dict[str, Any]:
    """Put back the rollback point of a run that was killed: database, filestore,
    odoo-ops.toml and odoo.conf; maintenance off; the journal removed."""
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.deploy.instant import InstantCopy, database_exists, restore_copy
    from odoo_ops.modules.maintenance import maintenance_off
    from odoo_ops.names import check_database_name

    doc = read_journal(target)
    if doc is None:
        raise OpsError("no interrupted upgrade run to roll back")
    database = check_database_name(str(doc.get("database")))
    copy_name = check_database_name(str(doc.get("copy_name")))
    if "_odoo_ops_pre" not in copy_name or database != target.database_name:
        raise OpsError(f"{journal_path(target)}: does not name this deployment's database "
                       "and a rollback point made by odoo-ops")
    if dry_run:
        return doc
    db = target.database()
    with deployment_lock(target, wait):
        if not database_exists(db, copy_name):
            raise OpsError(f"the rollback point {copy_name} is gone",
                           hint=f"restore a backup; then remove {journal_path(target)}")
        point = InstantCopy(database, copy_name,
                            Path(doc["filestore"]) if doc.get("filestore") else None,
                            Path(doc["filestore_copy"]) if doc.get("filestore_copy") else None)
        restore_copy(db, point)
        run_dir = Path(str(doc.get("run_dir") or ""))
        if run_dir.is_dir():
            restore_config(target, run_dir)
        maintenance_off(target)
        journal_path(target).unlink()
    return doc


def restore_config(target: Target, run_dir: Path) -> None:
    from odoo_ops.fileutil import atomic_write_text

    saved = run_dir / "odoo-ops.toml.before"
    if saved.is_file() and target.project.config_path is not None:
        atomic_write_text(target.project.config_path, saved.read_text(encoding="utf-8"))
    saved_conf = run_dir / "odoo.conf.before"
    conf_path = target.odoo_conf_path
    if saved_conf.is_file() and conf_path is not None:
        mode = saved_conf.stat().st_mode & 0o777
        atomic_write_text(conf_path, saved_conf.read_text(encoding="utf-8"), mode=mode)


def run_upgrade(target: Target, to: str | None, *, force: bool = False, wait: float = 0.0,
                dry_run: bool = False, progress: Any = None) -> UpgradeRun:
    """Upgrade the deployment's database to ``to`` (see the module docstring)."""
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.deploy import instant
    from odoo_ops.modules.maintenance import maintenance_off, maintenance_on
    from odoo_ops.names import check_database_name

    say = progress or (lambda _text: None)
    started = time.monotonic()
    cfg = upgrade_settings(target)
    on_runner = target.deployment.runner != "local"
    if on_runner and uses_compose(target) and not cfg.target_compose_file:
        raise ConfigError("[upgrade] target_compose_file is not set",
                          hint="the compose file whose Odoo services run the target image: "
                               "the deployment switches to it after the migration")
    source, installed = read_installed(target)
    if not source:
        raise OpsError("no database name for the deployment")
    check_database_name(source)
    source_series, steps = source_and_steps(installed, target, to)
    to = steps[-1].to
    run_id = "run-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)
    run_dir = upgrade_dir(target) / run_id
    prepared = prepare_steps(target, steps, source, run_dir, dry_run=dry_run,
                             on_runner=on_runner)
    final = prepared[-1]
    fingerprint = steps_fingerprint(prepared)  # the same code as rehearsed here
    interrupted = read_journal(target)
    if interrupted is not None:
        raise OpsError(f"upgrade run {interrupted.get('run')} was interrupted: its rollback "
                       f"point {interrupted.get('copy_name')} is still there",
                       hint="odoo-ops upgrade rollback puts it back")
    refusal = why_not_rehearsed(last_rehearsal(target), to,
                                final.run.openupgrade_scripts, fingerprint)
    if refusal and not force:
        raise OpsError(f"upgrade refused: {refusal}",
                       hint=f"odoo-ops upgrade rehearse --to {to} first (or --force)")
    rollback = f"{source[:40]}_odoo_ops_pre{to.split('.')[0]}_{secrets.token_hex(2)}"
    result = UpgradeRun(
        id=run_id, deployment=target.name, source=source, copy=source,
        source_series=source_series, target_series=to,
        openupgrade_scripts=final.run.openupgrade_scripts,
        openupgrade_framework=final.run.openupgrade_framework, code_fingerprint=fingerprint,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"), dry_run=dry_run,
        forced=force and refusal is not None, refusal=refusal, rollback_copy=rollback,
        command=final.run.command,
        runner=final.runner.describe() if final.runner is not None else "local",
    )
    if dry_run:
        result.steps = [p.run for p in prepared]
        return result
    data_dir = target.data_dir() if not on_runner else None
    if data_dir is None and not on_runner:
        raise ConfigError("the deployment's data_dir is unknown: the filestore cannot follow",
                          hint="set data_dir in the deployment or in odoo.conf")
    run_dir.mkdir(parents=True)
    result.report_dir = str(run_dir)
    result.log_file = str(final.log)
    tables = list(dict.fromkeys([*DEFAULT_KEY_TABLES, *cfg.key_tables]))
    db = target.database()
    try:
        with deployment_lock(target, wait):
            before_counts = count_rows(db, tables)
            before_atts = stored_attachments(db, users_only=True)
            try:
                say("maintenance on")
                maintenance_on(target, reason=f"major upgrade to {to}", note=say)
                result.steps_done.append("maintenance on")
                _run_locked(target, result, prepared, instant, db, source, rollback,
                            data_dir or run_dir, installed, before_counts, before_atts, tables,
                            run_dir, say)
            finally:
                say("maintenance off")
                maintenance_off(target, note=say)
                result.steps_done.append("maintenance off")
    except OpsError as exc:  # recorded in the report, then said to the user
        if result.failure is None:
            result.failure = Failure(None, None, None, None, exc.message)
        raise
    finally:
        result.duration_seconds = round(time.monotonic() - started, 1)
        _write(target, result)
    return result


def _run_locked(target: Target, result: UpgradeRun, prepared: list[Prepared], instant: Any,
                db: Any, source: str, rollback: str, data_dir: Path,
                installed: dict[str, str | None], before_counts: dict[str, int],
                before_atts: dict[int, tuple[str, str | None]], tables: list[str],
                run_dir: Path, say: Any) -> None:
    say(f"rollback point {rollback}")
    on_runner = prepared[-1].runner is not None
    store = None if target.deployment.runner == "ssh" else target.filestore_dir(source)
    point = instant.create_copy(db, source, rollback, store)
    recreated = False
    _write_journal(target, result, point, run_dir)
    result.steps_done.append("rollback point")
    final_cfg = prepared[-1].step.cfg
    try:
        run_steps(target, result, prepared, db, source, data_dir, run_dir, say)
        if result.failed_step is not None or result.exit_code != 0 or result.failure:
            raise OpsError(f"the migration failed (step {result.failed_step})"
                           if len(prepared) > 1 else "the migration failed")
        result.steps_done.append("migrate")
        say("verifying")
        expected, gone = expected_after(installed, prepared)
        result.checks.append(audit_modules(db, expected, result.target_series, {}, gone))
        result.checks.append(audit_counts(before_counts, count_rows(db, tables),
                                          result.counts))
        if store is not None and store.is_dir():
            result.checks.append(audit_attachments(db, before_atts, store))
        result.checks.append(audit_broken_records(db, target, final_cfg, result.target_series))
        result.checks.append(audit_crons_after(db, result.target_series))
        result.steps_done.append("verify")
        if not all(c.ok for c in result.checks):
            raise OpsError("the upgraded database did not pass the audits")
        say("switching the deployment to the target")
        result.switched = switch_config(target, result.target_series, run_dir, final_cfg)
        if on_runner and uses_compose(target):
            recreated = True
            result.switched.append(recreate_services(target, "the target's", say))
        result.steps_done.append("switch configuration")
    except BaseException as exc:
        say(f"rolling back: {exc}")
        if isinstance(exc, OpsError) and result.failure is None:
            result.failure = Failure(None, None, None, None, exc.message)
        restore_config(target, run_dir)
        instant.restore_copy(db, point)
        if recreated:
            try:
                recreate_services(target, "the previous", say)
            except OpsError as again:
                result.cleanup.append(f"re-creating the previous Odoo services failed: "
                                      f"{again.message}")
        result.rolled_back = True
        result.switched = []
        journal_path(target).unlink(missing_ok=True)
        if not isinstance(exc, OpsError):
            raise
    else:
        journal_path(target).unlink(missing_ok=True)


def _write(target: Target, result: UpgradeRun) -> None:
    from odoo_ops.fileutil import atomic_write_text
    from odoo_ops.upgrade.rehearse import to_markdown

    if not result.report_dir:
        return
    run_dir = Path(result.report_dir)
    data = json.dumps(result.to_json(), indent=2, default=str) + "\n"
    atomic_write_text(run_dir / "report.json", data)
    md = to_markdown(result).replace("# Upgrade rehearsal", "# Upgrade run", 1)
    md += (f"\nRollback point: {result.rollback_copy}"
           + (" (put back: the deployment is as it was)" if result.rolled_back else " (kept)")
           + "\n")
    atomic_write_text(run_dir / "report.md", md)
    atomic_write_text(upgrade_dir(target) / LAST_RUN, data)
