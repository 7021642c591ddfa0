"""``odoo-ops backup push / pull`` and the remote parts of ``backup list/create/prune``.

Registered on the ``backup`` group by :mod:`odoo_ops.cli.commands.backup`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from odoo_ops.cli.common import App, deployment_options, format_option, pass_app, wait_option
from odoo_ops.names import check_backup_name, click_check

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.backup.layout import BackupEntry

_backup_names = click_check(check_backup_name)


def _size(n: int | float | None) -> str:
    from odoo_ops.cli.backup_output import size_text as size

    return size(n)


def push_entries(
    app: App,
    target: Target,
    entries: list[BackupEntry],
    remote_names: list[str] | None,
    bwlimit: int | None,
) -> tuple[list[dict[str, Any]], bool]:
    """Push each backup to each remote; one line per copy. ``(rows, all ok)``."""
    from odoo_ops.backup.remotes.ops import push_backup, selected
    from odoo_ops.cli.backup_output import progress as _progress
    from odoo_ops.errors import OpsError

    remotes = selected(target, remote_names)
    policy = target.project.config.backup
    rows: list[dict[str, Any]] = []
    ok = True
    for entry in entries:
        for cfg in remotes:
            try:
                with _progress(app, f"push {entry.name} to {cfg.name}") as report:
                    result = push_backup(
                        target,
                        entry,
                        cfg,
                        bwlimit=bwlimit,
                        progress=report,
                        identity_file=policy.age_identity_file,
                    )
            except OpsError as exc:
                ok = False
                app.warn(f"{entry.name} -> {cfg.name}: FAILED: {exc}")
                rows.append({"backup": entry.name, "remote": cfg.name, "ok": False,
                             "error": exc.message})
                continue
            if result.already_there:
                line = "already there (complete and verified)"
            else:
                skipped = f", {result.files_skipped} already there" if result.files_skipped else ""
                line = (
                    f"pushed {_size(result.bytes_sent)} of {_size(result.bytes_total)}"
                    f" in {result.seconds:.1f}s via {result.method}{skipped}, verified"
                )
            app.out(f"{entry.name} -> {cfg.name}: {line}")
            rows.append({
                "backup": entry.name, "remote": cfg.name, "ok": True,
                "already_there": result.already_there, "bytes": result.bytes_total,
                "bytes_sent": result.bytes_sent, "seconds": result.seconds,
                "verified": result.verified or result.already_there, "method": result.method,
            })  # fmt: skip
    return rows, ok


def register(group: click.Group) -> None:
    group.add_command(push)
    group.add_command(pull)


@click.command("push")
@deployment_options
@click.argument("names", nargs=-1, metavar="NAME...", callback=_backup_names)
@click.option("--all", "all_", is_flag=True, help="Push every backup of the deployment.")
@click.option(
    "--remote",
    "remotes",
    multiple=True,
    metavar="REMOTE",
    help="Only this remote (repeatable; default: every [[backup.remotes]]).",
)
@click.option(
    "--bwlimit", type=click.IntRange(1), metavar="KIB/S", help="Bandwidth limit in KiB/s."
)
@format_option("table", "json")
@pass_app
def push(
    app: App,
    names: tuple[str, ...],
    all_: bool,
    remotes: tuple[str, ...],
    bwlimit: int | None,
    fmt: str,
) -> int:
    """Copy verified backups to the remotes, atomically; a re-run sends only what is missing.

    Each copy is uploaded under a temporary name, verified against the
    manifest's sha256 on the remote, and only then given its name (file,
    ssh) or its completion marker (S3). Exit 1 when a copy fails.
    """
    from odoo_ops.backup.common import backup_dir_of
    from odoo_ops.backup.layout import find_backup, list_backups
    from odoo_ops.errors import UsageError
    from odoo_ops.report.table import render_json

    target = app.target()
    if all_ == bool(names):
        raise UsageError("name a backup, or pass --all")
    backup_dir = backup_dir_of(target)
    if all_:
        entries = [
            e for e in list_backups(backup_dir)
            if e.manifest and e.manifest.deployment == target.name
        ]  # fmt: skip
    else:
        entries = [find_backup(backup_dir, n) for n in names]
    rows, ok = push_entries(app, target, entries, list(remotes) or None, bwlimit)
    if fmt == "json":
        app.out(render_json({"ok": ok, "copies": rows}))
    return 0 if ok else 1


@click.command("pull")
@deployment_options
@click.argument("name", callback=click_check(check_backup_name))
@click.option("--remote", "remote", metavar="REMOTE", help="The remote to read (required).")
@click.option("--force", is_flag=True, help="Replace a local backup of the same name.")
@wait_option
@pass_app
def pull(app: App, name: str, remote: str | None, force: bool, wait: float) -> int:
    """Download a backup from a remote into backup_dir, verified before it appears."""
    from odoo_ops.backup.remotes import find_config
    from odoo_ops.backup.remotes.ops import pull_backup
    from odoo_ops.cli.backup_output import progress as _progress
    from odoo_ops.errors import UsageError

    target = app.target()
    if not remote:
        raise UsageError("name the remote to pull from: --remote REMOTE")
    cfg = find_config(target, remote)
    with _progress(app, f"pull {name}") as report:
        entry = pull_backup(target, name, cfg, force=force, progress=report, wait=wait)
    size = entry.manifest.total_size if entry.manifest else 0
    app.out(f"pulled {name} from {remote} ({_size(size)}), verified: {entry.path}")
    return 0


def list_remote(app: App, target: Target, remote_name: str, fmt: str) -> int:
    """``backup list --remote R``: the complete copies on one remote."""
    from odoo_ops.backup.layout import utcnow
    from odoo_ops.backup.remotes import find_config
    from odoo_ops.backup.remotes.ops import remote_copies
    from odoo_ops.cli.backup_output import age_text as _age
    from odoo_ops.report.table import Table, to_jsonable

    cfg = find_config(target, remote_name)
    remote, copies = remote_copies(target, cfg)
    now = utcnow()
    table = Table(
        ["name", "database", "created", "age", "size", "encrypted", "problem"],
        title=f"backups on {cfg.name} ({remote.display})",
    )
    for c in copies:
        table.add(
            c.name,
            c.database,
            c.created_at.strftime("%Y-%m-%d %H:%M") if c.created_at else "",
            _age((now - c.created_at).total_seconds()) if c.created_at else "",
            _size(c.size),
            c.encrypted,
            c.error or "",
        )
    table.data = {"remote": cfg.name, "url": remote.display, "copies": to_jsonable(copies)}
    if not copies:
        table.notes.append(f"no complete copy yet: odoo-ops backup push --all --remote {cfg.name}")
    app.render(table, fmt)
    return 0


def remotes_text(status: dict[str, Any]) -> str:
    """The ``remotes`` column of ``backup list``: where each backup has a verified copy."""
    remotes = status.get("remotes")
    if not isinstance(remotes, dict):
        return ""
    return ", ".join(
        f"{name}{'' if isinstance(r, dict) and r.get('verified') else ' (unverified)'}"
        for name, r in sorted(remotes.items())
    )


def prune_remotes(app: App, target: Target, dry_run: bool) -> list[dict[str, Any]]:
    """Apply each remote's retention after the local prune (errors reported, not fatal)."""
    from odoo_ops.backup.remotes import configured
    from odoo_ops.backup.remotes.ops import prune_remote
    from odoo_ops.errors import OpsError
    from odoo_ops.report.table import to_jsonable

    out = []
    verb = "would delete" if dry_run else "deleted"
    for cfg in configured(target):
        try:
            result = prune_remote(target, cfg, dry_run=dry_run)
        except OpsError as exc:
            app.warn(f"remote {cfg.name}: prune skipped: {exc}")
            out.append({"remote": cfg.name, "error": exc.message})
            continue
        gone = [d.name for d in result.decisions if not d.keep]
        kept = len(result.decisions) - len(gone)
        app.info(
            f"remote {cfg.name}: keep {kept}, {verb} {len(gone)}"
            + (f" ({', '.join(gone)})" if gone else "")
        )
        out.append(to_jsonable(result))
    return out
