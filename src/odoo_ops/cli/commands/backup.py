"""``odoo-ops backup``: create, list, verify, test-restore, restore, prune, Odoo zips."""

from __future__ import annotations

from pathlib import Path

import click

from odoo_ops.cli.backup_output import age_text as _age
from odoo_ops.cli.backup_output import progress as _progress
from odoo_ops.cli.backup_output import size_text as _size
from odoo_ops.cli.common import (
    App,
    deployment_options,
    dry_run_option,
    format_option,
    pass_app,
    wait_option,
)
from odoo_ops.names import check_backup_name, check_database_name, check_tag, click_check

#: Names are checked as they enter: a bad one is refused before anything runs.
_backup_name = click_check(check_backup_name)
_tag = click_check(check_tag)
_tag_option = click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="TAG",
    callback=_tag,
    help="Tag the backup (repeatable).",
)


@click.group("backup")
def command() -> None:
    """Backups that are proven: create, verify, test-restore, restore, prune.

    A backup is a directory in the deployment's backup_dir holding the
    database dump, the filestore (tar+zstd), a manifest with the sha256 of
    every file, and SHA256SUMS (checkable with sha256sum -c).
    """


@command.command("create")
@deployment_options
@click.option(
    "--name",
    metavar="NAME",
    callback=_backup_name,
    help="Backup name (default: DB-YYYYmmdd-HHMMSS, UTC).",
)
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 64), help="Parallel dump jobs ([backup] jobs)."
)
@click.option(
    "--compress",
    metavar="METHOD[:LEVEL]",
    help="zstd, gzip, lz4 or none (default: zstd:3 by pg_dump 16+; on pg_dump 15 zstd:1"
    " on the data files, compressed by odoo-ops).",
)
@click.option(
    "--dump-format",
    type=click.Choice(["custom", "directory"]),
    help="pg_dump format (default: directory; custom for one job on pg_dump 16+).",
)
@click.option("--encrypt", is_flag=True, help="Encrypt with age to [backup] age_recipients.")
@_tag_option
@click.option("--keep", is_flag=True, help="Mark the backup so prune never deletes it.")
@click.option(
    "--push",
    "push_to",
    is_flag=True,
    help="Then push it to the remotes of [backup] push (default: every [[backup.remotes]]).",
)
@dry_run_option(help="Print the commands, do nothing.")
@wait_option
@format_option("table", "json")
@pass_app
def create(
    app: App,
    name: str | None,
    jobs: int | None,
    compress: str | None,
    dump_format: str | None,
    encrypt: bool,
    tags: tuple[str, ...],
    keep: bool,
    push_to: bool,
    dry_run: bool,
    wait: float,
    fmt: str,
) -> int:
    """Back up the database and the filestore.

    The database is dumped from a snapshot first; the filestore is archived
    right after the snapshot, at the same time. The backup is written under
    a hidden temporary name and appears only when complete and fsynced.
    """
    from odoo_ops.backup.create import CreateOptions, create_backup

    target = app.target()
    options = CreateOptions(
        name=name,
        jobs=jobs,
        compress=compress,
        dump_format=dump_format,
        encrypt=encrypt,
        tags=list(tags),
        keep=keep,
        wait=wait,
        dry_run=dry_run,
    )
    if dry_run:
        result = create_backup(target, options)
        for note in result.notes:
            app.info(f"note: {note}")
        for line in result.commands:
            app.out(line)
        return 0
    with _progress(app, "backup") as report:
        result = create_backup(target, options, report)
    for note in result.notes:
        app.info(f"note: {note}")
    if fmt == "json":
        from odoo_ops.report.table import render_json

        app.out(
            render_json(
                {
                    "name": result.name,
                    "path": str(result.path),
                    "database": result.database,
                    "size": result.size,
                    "duration_seconds": result.duration,
                    "notes": result.notes,
                    "manifest": result.manifest,
                }
            )
        )
        return 0
    fs = result.manifest.get("filestore", {})
    dump = result.manifest.get("dump", {})
    app.out(
        f"backup {result.name}: {_size(result.size)} in {result.duration:.1f}s "
        f"(dump {dump.get('format')} {dump.get('compression')}, "
        f"filestore {fs.get('files')} files {_size(fs.get('bytes'))})"
    )
    if push_to or target.project.config.backup.push:
        return _push_created(app, result.name)
    return 0


def _push_created(app: App, name: str) -> int:
    from odoo_ops.backup.common import backup_dir_of
    from odoo_ops.backup.layout import find_backup
    from odoo_ops.cli.backup_remote import push_entries

    target = app.target()
    entry = find_backup(backup_dir_of(target), name)
    wanted = list(target.project.config.backup.push) or None
    _, ok = push_entries(app, target, [entry], wanted, None)
    return 0 if ok else 1


@command.command("list")
@deployment_options
@click.option("--remote", metavar="REMOTE", help="List the complete copies on this remote.")
@format_option()
@pass_app
def list_(app: App, remote: str | None, fmt: str) -> int:
    """Backups in the deployment's backup_dir, oldest first (with --remote: on a remote)."""
    from odoo_ops.backup.common import backup_dir_of
    from odoo_ops.backup.layout import list_backups, utcnow
    from odoo_ops.cli.backup_remote import list_remote, remotes_text
    from odoo_ops.report.table import Table

    target = app.target()
    if remote:
        return list_remote(app, target, remote, fmt)
    backup_dir = backup_dir_of(target)
    now = utcnow()
    table = Table(
        ["name", "database", "created", "age", "size", "tags", "verified", "test-restored", "keep",
         "remotes"],
        title=f"backups in {backup_dir}",
    )
    data = []
    for entry in list_backups(backup_dir):
        created = entry.created_at
        manifest = entry.manifest
        size = manifest.total_size if manifest else None
        ver = entry.verified
        tr = entry.test_restored
        ver_text = (
            f"{'ok' if ver.get('ok') else 'FAILED'} {str(ver.get('at', ''))[:16]}"
            if ver
            else "never"
        )
        tr_text = f"{tr.get('outcome')} {str(tr.get('at', ''))[:16]}" if tr else "never"
        if entry.error:
            ver_text = f"DAMAGED: {entry.error}"
        table.add(
            entry.name,
            manifest.database if manifest else "",
            created.strftime("%Y-%m-%d %H:%M") if created else "",
            _age((now - created).total_seconds()) if created else "",
            _size(size),
            manifest.tags if manifest else [],
            ver_text,
            tr_text,
            entry.keep,
            remotes_text(entry.status),
        )
        data.append(
            {
                "name": entry.name,
                "path": str(entry.path),
                "database": manifest.database if manifest else None,
                "deployment": manifest.deployment if manifest else None,
                "created_at": created.isoformat() if created else None,
                "size": size,
                "tags": manifest.tags if manifest else [],
                "encrypted": manifest.encrypted if manifest else None,
                "verify": ver,
                "test_restore": tr,
                "keep": entry.keep,
                "remotes": entry.status.get("remotes") or {},
                "error": entry.error,
            }
        )
    table.data = {"backup_dir": str(backup_dir), "backups": data}
    if not data:
        table.notes.append("no backups yet: odoo-ops backup create")
    app.render(table, fmt)
    return 0


@command.command("verify")
@deployment_options
@click.argument("names", nargs=-1, metavar="NAME...", callback=_backup_name)
@click.option("--all", "all_", is_flag=True, help="Verify every backup.")
@click.option(
    "--deep",
    is_flag=True,
    help="Also list the dump's table of contents, read all of it and every filestore entry.",
)
@format_option("table", "json")
@pass_app
def verify(app: App, names: tuple[str, ...], all_: bool, deep: bool, fmt: str) -> int:
    """Check sizes and sha256 of every file of a backup. Exit 1 when one fails."""
    from odoo_ops.backup.common import backup_dir_of
    from odoo_ops.backup.integrity import verify_entry
    from odoo_ops.backup.layout import find_backup, list_backups
    from odoo_ops.errors import UsageError
    from odoo_ops.report.table import Table

    target = app.target()
    backup_dir = backup_dir_of(target)
    if all_ == bool(names):
        raise UsageError("name a backup, or pass --all")
    entries = list_backups(backup_dir) if all_ else [find_backup(backup_dir, n) for n in names]
    policy = target.project.config.backup
    results = [
        verify_entry(e, deep=deep, identity_file=policy.age_identity_file, project_root=target.root)
        for e in entries
    ]
    table = Table(
        ["backup", "result", "files", "detail"], title="verify" + (" --deep" if deep else "")
    )
    for r in results:
        detail = "; ".join(str(p) for p in r.problems[:5])
        if r.ok and deep:
            detail = (
                f"{r.toc_entries} TOC entries ({r.table_data_entries} tables with data), "
                f"{r.filestore_files} filestore files read"
            )
        table.add(r.name, "ok" if r.ok else "FAILED", r.files_checked, detail)
    from odoo_ops.report.table import to_jsonable

    table.data = {"ok": all(r.ok for r in results), "results": to_jsonable(results)}
    app.render(table, fmt)
    return 0 if all(r.ok for r in results) else 1


@command.command("test-restore")
@deployment_options
@click.argument("name", callback=_backup_name)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Parallel restore jobs.")
@click.option(
    "--from", "from_remote", metavar="REMOTE", help="Pull (and verify) it from this remote first."
)
@wait_option
@format_option("table", "json")
@pass_app
def test_restore(
    app: App, name: str, jobs: int | None, from_remote: str | None, wait: float, fmt: str
) -> int:
    """Restore into a scratch database and filestore, compare, neutralize, drop.

    Row counts and module versions must match the manifest and every stored
    attachment's file must exist. The result is recorded next to the backup
    (see `backup list`). Exit 1 when the backup does not restore as recorded.
    """
    from odoo_ops.backup.testrestore import run_test_restore
    from odoo_ops.report.table import render_json

    target = app.target()
    if from_remote:
        from odoo_ops.backup.remotes.ops import local_or_pulled

        with _progress(app, f"pull {name}") as report:
            local_or_pulled(target, name, from_remote, progress=report, wait=wait)
    with _progress(app, "test-restore") as report:
        result = run_test_restore(target, name, jobs=jobs, wait=wait, progress=report)
    if fmt == "json":
        app.out(render_json(result))
    else:
        c = result.checks
        app.out(
            f"test-restore {name}: {'pass' if result.ok else 'FAIL'} in {result.duration:.1f}s"
            f" ({c.get('tables_compared', 0)} tables, {c.get('modules_compared', 0)} modules,"
            f" {c.get('attachments_checked', 0)} attachment files checked)"
        )
        for problem in result.problems:
            app.out(f"  - {problem}")
    return 0 if result.ok else 1


@command.command("restore")
@deployment_options
@click.argument("name", callback=_backup_name)
@click.option(
    "--to",
    "to",
    metavar="DB",
    callback=click_check(check_database_name),
    help="Database to restore into (default: the deployment's).",
)
@click.option("--force", is_flag=True, help="Replace an existing database/filestore (kept aside).")
@click.option("--neutralize", is_flag=True, help="Make the copy safe for staging (SQL).")
@click.option(
    "--odoo-neutralize",
    is_flag=True,
    help="With --neutralize: also run `odoo neutralize` through the deployment's runner.",
)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Parallel restore jobs.")
@click.option("--skip-filestore", is_flag=True, help="Restore the database only.")
@click.option("--no-verify", is_flag=True, help="Do not check the checksums first.")
@click.option(
    "--from", "from_remote", metavar="REMOTE", help="Pull (and verify) it from this remote first."
)
@dry_run_option(help="Print the commands, do nothing.")
@wait_option
@format_option("table", "json")
@pass_app
def restore(
    app: App,
    name: str,
    to: str | None,
    force: bool,
    neutralize: bool,
    odoo_neutralize: bool,
    jobs: int | None,
    skip_filestore: bool,
    no_verify: bool,
    from_remote: str | None,
    dry_run: bool,
    wait: float,
    fmt: str,
) -> int:
    """Restore a backup into a new database, then swap it into place in one step.

    An existing database or filestore is refused without --force; with
    --force it is kept as <db>_before_restore_<YYYYmmddHHMMSS> until you
    drop it.
    """
    from odoo_ops.backup.restore import RestoreOptions, restore_backup
    from odoo_ops.report.table import render_json

    target = app.target()
    options = RestoreOptions(
        to=to,
        force=force,
        neutralize=neutralize or odoo_neutralize,
        use_odoo=odoo_neutralize,
        jobs=jobs,
        wait=wait,
        dry_run=dry_run,
        verify=not no_verify,
        skip_filestore=skip_filestore,
    )
    if from_remote and not dry_run:
        from odoo_ops.backup.remotes.ops import local_or_pulled

        with _progress(app, f"pull {name}") as report:
            local_or_pulled(target, name, from_remote, progress=report, wait=wait)
    if dry_run:
        result = restore_backup(target, name, options)
        for line in result.commands:
            app.out(line)
        return 0
    with _progress(app, "restore") as report:
        result = restore_backup(target, name, options, report)
    for note in result.notes:
        app.info(f"note: {note}")
    if fmt == "json":
        app.out(render_json(result))
        return 0
    app.out(
        f"restored {name} into {result.database} in {result.duration:.1f}s"
        f" ({result.jobs} job(s), {result.filestore_files} filestore files)"
    )
    if result.replaced_database:
        app.out(f"  previous database kept as {result.replaced_database}")
    if result.replaced_filestore:
        app.out(f"  previous filestore kept as {result.replaced_filestore}")
    if result.neutralized:
        app.out(
            f"  neutralized ({result.neutralized.method}): {', '.join(result.neutralized.applied)}"
        )
    return 0


@command.command("prune")
@deployment_options
@dry_run_option(help="Say what would be deleted, delete nothing.")
@wait_option
@format_option()
@pass_app
def prune_(app: App, dry_run: bool, wait: float, fmt: str) -> int:
    """Delete backups that the [backup] retention policy does not keep.

    Never deletes a backup marked keep, nor the newest verified one. Prints
    each backup with the rule that keeps it. Then applies each remote's
    retention (keep_* of its [[backup.remotes]], default the local ones) to
    its copies, never deleting a remote's newest verified copy.
    """
    from odoo_ops.backup.prune import prune
    from odoo_ops.report.table import Table, to_jsonable

    target = app.target()
    result = prune(target, dry_run=dry_run, wait=wait)
    verb = "would delete" if dry_run else "deleted"
    table = Table(
        ["backup", "created", "action", "why"], title="prune" + (" (dry run)" if dry_run else "")
    )
    for d in result.decisions:
        table.add(
            d.name,
            d.created_at.strftime("%Y-%m-%d %H:%M"),
            "keep" if d.keep else verb,
            ", ".join(d.reasons) or "no rule keeps it",
        )
    if result.skipped:
        table.notes.append(
            f"{len(result.skipped)} backup(s) of other deployments/databases left alone"
        )
    gone = [d.tag for d in result.images if (not d.keep if dry_run else d.removed)]
    if gone:
        table.notes.append(
            f"rollback image tag(s) {'that would be removed' if dry_run else 'removed'}: "
            + ", ".join(gone)
        )
    refused = [f"{d.tag} ({d.error})" for d in result.images if not d.keep and not d.removed]
    if refused and not dry_run:
        table.notes.append("rollback image tag(s) left: " + "; ".join(refused))
    table.data = to_jsonable(result)
    from odoo_ops.cli.backup_remote import prune_remotes

    table.data["remotes"] = prune_remotes(app, target, dry_run)
    app.render(table, fmt)
    return 0


@command.command("keep")
@deployment_options
@click.argument("name", callback=_backup_name)
@click.option("--off", is_flag=True, help="Remove the mark.")
@pass_app
def keep(app: App, name: str, off: bool) -> int:
    """Mark a backup so prune never deletes it (or remove the mark with --off)."""
    from odoo_ops.backup.common import backup_dir_of
    from odoo_ops.backup.layout import find_backup, update_status

    entry = find_backup(backup_dir_of(app.target()), name)
    update_status(entry.path, keep=not off)
    app.out(f"{name}: {'no longer kept' if off else 'kept (prune never deletes it)'}")
    return 0


@command.command("export-odoo")
@deployment_options
@click.argument("name", callback=_backup_name)
@click.argument("zip_file", metavar="FILE.zip", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace FILE.zip when it exists (a regular file only; never a link or device).")
@pass_app
def export_odoo_(app: App, name: str, zip_file: Path, force: bool) -> int:
    """Write a backup as Odoo's database-manager zip (dump.sql, filestore/, manifest.json)."""
    from odoo_ops.backup.odoo_zip import export_odoo

    with _progress(app, "export") as report:
        result = export_odoo(app.target(), name, zip_file, force=force, progress=report)
    app.out(f"wrote {result.path} ({_size(result.size)}, {result.files} filestore files)")
    return 0


@command.command("import-odoo")
@deployment_options
@click.argument("zip_file", metavar="FILE.zip", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", metavar="NAME", callback=_backup_name, help="Name of the new backup.")
@_tag_option
@wait_option
@pass_app
def import_odoo_(
    app: App, zip_file: Path, name: str | None, tags: tuple[str, ...], wait: float
) -> int:
    """Turn an Odoo database-manager zip (or an Odoo.sh download) into a backup.

    The zip's dump.sql is loaded into a scratch database (stopping on the
    first error), then backed up with its filestore like any other backup;
    restore it with `odoo-ops backup restore`.
    """
    from odoo_ops.backup.odoo_zip import import_odoo

    with _progress(app, "import") as report:
        result = import_odoo(
            app.target(), zip_file, name=name, tags=list(tags), wait=wait, progress=report
        )
    for note in result.notes:
        app.info(f"note: {note}")
    app.out(
        f"imported {zip_file.name} (database {result.db_name or '?'}, {result.files} files)"
        f" as backup {result.backup.name}"
    )
    return 0


from odoo_ops.cli.backup_remote import register as _register_remote  # noqa: E402

_register_remote(command)
