"""``odoo-ops rollback [ID]``: put a deploy back, by hand."""

from __future__ import annotations

import click

from odoo_ops.cli.common import App, deployment_options, dry_run_option, pass_app, wait_option


@click.command("rollback")
@click.argument("deploy_id", required=False)
@deployment_options
@wait_option
@dry_run_option(help="Say what would be put back, change nothing.")
@pass_app
def command(app: App, deploy_id: str | None, wait: float, dry_run: bool) -> int:
    """Roll back deploy ID (default: an interrupted deploy, else the latest).

    Code goes back to the commit recorded before the deploy; the database and
    filestore to the instant copy when it still exists, else to the deploy's
    backup (the current database is kept as <db>_before_restore_<time>);
    crons and maintenance mode as they were before the deploy. A finished
    deploy is rolled back under maintenance mode (users kept out while the
    database is swapped).
    """
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.deploy import interrupted, journal_of, roll_back_record
    from odoo_ops.deploy.journal import DeployRecord, new_id, now_iso, who
    from odoo_ops.errors import OpsError

    target = app.target()
    journal = journal_of(target)
    if deploy_id:
        record = journal.get(deploy_id)
        if record is None:
            raise OpsError(
                f"no deploy {deploy_id!r} in the journal", hint="see `odoo-ops deploy history`"
            )
    else:
        deploys = [r for r in journal.records() if r.kind == "deploy"]
        record = interrupted(target) or (
            max(deploys, key=lambda r: r.started_at) if deploys else None
        )
        if record is None:
            raise OpsError("no deploy to roll back", hint="see `odoo-ops deploy history`")
    if record.kind != "deploy":
        raise OpsError(f"{record.id} is a {record.kind}, not a deploy")
    if record.result in ("rolled-back", "failed") and record.finished_at:
        raise OpsError(f"deploy {record.id} already ended {record.result}: nothing to roll back")
    source = (
        f"instant copy {record.instant_copy}"
        if record.instant_copy
        else f"backup {record.backup}"
        if record.backup
        else "nothing"
    )
    app.info(
        f"rolling back deploy {record.id} ({record.result}): code to"
        f" {(record.ref_before or '?')[:12]}, database from {source}"
    )
    if dry_run:
        return 0
    entry = DeployRecord(
        id=new_id(),
        kind="rollback",
        who=who(),
        started_at=now_iso(),
        ref_before=record.ref_after,
        ref_after=record.ref_before,
        backup=record.backup,
        requested_ref=record.id,
    )
    with deployment_lock(target, wait=wait):
        try:
            if record.result == "deployed" and not record.maintenance_before:
                # the live database is about to be replaced: keep users out
                # while it is; the rollback turns maintenance off at the end
                from odoo_ops.modules.maintenance import maintenance_on

                maintenance_on(target, reason=f"rollback of deploy {record.id}", note=app.info)
            roll_back_record(target, record, say=app.info)
        except OpsError as exc:
            entry.result, entry.error, entry.finished_at = "failed", exc.message, now_iso()
            journal.write(entry)
            raise
    record.result = "rolled-back"
    record.finished_at = record.finished_at or now_iso()
    journal.write(record)
    entry.result, entry.finished_at = "rolled-back", now_iso()
    journal.write(entry)
    from odoo_ops.notify import notify

    urls = target.project.config.notifications.urls
    for delivery in notify(
        urls,
        f"[odoo-ops] {target.name}: deploy {record.id} rolled back",
        f"rollback by {entry.who}: code at {(record.ref_before or '?')[:12]},"
        f" database from {source}",
        level="warning",
    ):
        if not delivery.ok:
            app.warn(f"notification to {delivery.channel} not delivered: {delivery.error}")
    app.out(f"rolled back deploy {record.id}\n")
    return 0
