"""``backup restore``: a backup into the live database and filestore.

(``backup test-restore``, the proof that a backup restores, is
:mod:`odoo_ops.backup.testrestore`; both load through :func:`load_copy`.)

A restore never writes into the live database or filestore:

1. the dump goes into a new temporary database ``<db>__restoring_<id>``
   (``pg_restore --exit-on-error``; ``--single-transaction`` when it runs as
   one job), the filestore into a hidden temporary directory beside the
   live one — both at once;
2. the copy is neutralized there when asked;
3. one transaction renames the live database to
   ``<db>_before_restore_<YYYYmmddHHMMSS>`` and the temporary one to
   ``<db>``; the filestore directories are renamed the same way;
4. the journal is removed.

A swap journal (:mod:`odoo_ops.backup.swapjournal`) is written before step 1
and after every step of the swap. Killed before the database transaction
commits, the live database and filestore are untouched and the next odoo-ops
command of any kind drops the copies; killed after it, the next command
finishes the filestore renames. Either way it says what it found and did.
Every process of the pipeline dies with odoo-ops (:mod:`odoo_ops.childproc`);
SIGTERM/SIGINT undo the partial work as an error does, and wait for the end
of the swap when it has begun.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.adapters.pgadmin import (
    admin_connection,
    create_database,
    db_exists,
    drop_database,
    rename_database,
    terminate_sessions,
    with_suffix,
)
from odoo_ops.backup import crypto, datafiles, dbhost, filestore, swapjournal
from odoo_ops.backup.common import ProgressFn, backup_dir_of, write_lock
from odoo_ops.backup.layout import (
    BackupEntry,
    find_backup,
    iso,
    member_path,
    remove_tree,
    update_status,
    utcnow,
)
from odoo_ops.backup.neutralize import NeutralizeResult, neutralize_sql
from odoo_ops.backup.pgtools import outer_decompress_argv, pg_env, tool
from odoo_ops.backup.streams import (
    FileDigest,
    FilterSource,
    HashingPump,
    ProcessChain,
    StreamError,
    hash_files_thread,
)
from odoo_ops.backup.swapjournal import SwapJournal
from odoo_ops.childproc import deferred_signals
from odoo_ops.errors import ConfigError, OpsError, UsageError
from odoo_ops.names import check_database_name, path_under

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class RestoreOptions:
    to: str | None = None
    force: bool = False
    neutralize: bool = False
    use_odoo: bool = False  # also run `odoo neutralize` through the runner
    jobs: int | None = None
    wait: float = 0.0
    dry_run: bool = False
    verify: bool = True
    skip_filestore: bool = False


@dataclass
class RestoreResult:
    name: str
    database: str
    duration: float
    filestore: str | None
    replaced_database: str | None = None
    replaced_filestore: str | None = None
    neutralized: NeutralizeResult | None = None
    jobs: int = 1
    filestore_files: int = 0
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    dry_run: bool = False


def before_name(database: str, when: Any) -> str:
    return with_suffix(database, f"_before_restore_{when.strftime('%Y%m%d%H%M%S')}")


# -- the restore pipeline --------------------------------------------------------


@dataclass
class _Loaded:
    files: int
    bytes: int
    jobs: int
    maintenance_work_mem: int = 0
    host_source: str = ""


def restore_argv(entry: BackupEntry, dbname: str, jobs: int) -> tuple[list[list[str]], int, Path]:
    """pg_restore (and its input filters) for ``entry`` into ``dbname``; effective jobs."""
    manifest = entry.manifest
    assert manifest is not None
    dump = manifest.dump
    path = member_path(entry, str(dump["path"]))
    streamed = bool(dump.get("outer_compression") or dump.get("encrypted"))
    argv = [
        tool("pg_restore"),
        "--no-password",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "-d",
        dbname,
    ]
    if dump.get("data_files"):
        # decompressed by odoo-ops into a work directory first (see load_copy)
        return [argv], max(1, jobs), path
    if streamed or jobs <= 1:
        argv.append("--single-transaction")
        jobs = 1
    else:
        argv += ["-j", str(jobs)]
    if not streamed:
        argv.append(str(path))
    return [argv], jobs, path


def _load_data_files(
    entry: BackupEntry,
    argv: list[str],
    jobs: int,
    env: dict[str, str],
    digests: dict[str, FileDigest | BaseException],
    *,
    check_digests: bool,
) -> None:
    """Restore a dump whose data files odoo-ops compressed (:mod:`datafiles`).

    The data files are decompressed into a work directory, all at once (``jobs``
    at a time, while the filestore is being extracted), then one ``pg_restore
    -j N`` reads it as any directory dump. (Building the schema meanwhile with
    ``--section=pre-data`` would save a little, but a data section restored
    into tables made by another run is loaded through the free-space map, so
    the rows no longer come back in the order they were dumped in.)
    Raises :class:`StreamError` when pg_restore fails and :class:`OpsError`
    when a data file cannot be decompressed (its digest is in ``digests``).
    """
    manifest = entry.manifest
    assert manifest is not None
    dump_rel = str(manifest.dump["path"])
    with datafiles.decompressed(
        entry.path, manifest.dump, jobs=jobs, hashed=check_digests
    ) as loaded:
        for name, digest in loaded.digests.items():
            digests[f"{dump_rel}/{name}"] = digest
        if loaded.failed:
            raise OpsError(f"backup {entry.name}: {dump_rel}/{loaded.failed}")
        single = ["--single-transaction"] if jobs <= 1 else ["-j", str(jobs)]
        chain = ProcessChain([[*argv, *single, str(loaded.path)]], stdout=None, env=env)
        try:
            chain.wait()
        except BaseException:
            chain.kill()
            raise


def _filters(entry: BackupEntry, identity: str | None, root: Path) -> list[list[str]]:
    manifest = entry.manifest
    assert manifest is not None
    out: list[list[str]] = []
    if manifest.encrypted:
        out.append(crypto.decrypt_argv(identity, root))
    outer = manifest.dump.get("outer_compression")
    if outer:
        out.append(outer_decompress_argv(str(outer)))
    return out


def load_copy(
    target: Target,
    entry: BackupEntry,
    dbname: str,
    fs_dir: Path | None,
    jobs: int | None,
    progress: ProgressFn | None = None,
    *,
    check_digests: bool = False,
    host: dbhost.DbHost | None = None,
) -> _Loaded:
    """pg_restore into the (existing, empty) ``dbname`` while extracting the filestore.

    Two pipelines, one wait: the database load (``pg_restore -j N``, N from
    the database host's CPUs unless ``jobs``) and the filestore extraction
    run at the same time. ``check_digests``: the size and sha256 of every
    data file are computed on the bytes read for the restore (and, for a
    directory-format dump that pg_restore reads itself, by a thread reading
    the same files meanwhile) and compared with the manifest at the end: a
    mismatch raises :class:`OpsError` — before any swap.
    """
    manifest = entry.manifest
    assert manifest is not None
    policy = target.project.config.backup
    identity = policy.age_identity_file
    host = host or dbhost.probe(target)
    stages, jobs, path = restore_argv(entry, dbname, jobs or host.jobs)
    mwm = host.maintenance_work_mem(jobs)
    env = pg_env(target.dsn(), options=dbhost.restore_pgoptions(mwm))
    fs_errors: list[BaseException] = []
    fs_stats: list[filestore.TarStats] = []
    digests: dict[str, FileDigest | BaseException] = {}
    fs_rel = manifest.filestore.get("path")
    dump_rel = str(manifest.dump["path"])

    def extract() -> None:
        assert fs_dir is not None and fs_rel
        fs_filters = [crypto.decrypt_argv(identity, target.root)] if manifest.encrypted else []
        try:
            source = FilterSource(member_path(entry, str(fs_rel)), fs_filters, hashed=check_digests)
        except BaseException as exc:
            fs_errors.append(exc)
            return
        try:
            fs_stats.append(
                filestore.extract(
                    source,
                    fs_dir,
                    progress=(lambda b, f: progress("filestore", b, f)) if progress else None,
                )
            )
            source.close()
        except BaseException as exc:
            source.close(check=False)
            fs_errors.append(exc)
        if check_digests:
            try:
                digests[str(fs_rel)] = source.file_digest()
            except BaseException as inner:
                digests[str(fs_rel)] = inner

    thread = None
    if fs_dir is not None and fs_rel:
        thread = threading.Thread(target=extract, daemon=True)
        thread.start()
    filters = _filters(entry, identity, target.root)
    pump: HashingPump | None = None
    hasher: tuple[threading.Thread, dict[str, Any]] | None = None
    failure: str | None = None
    chain: ProcessChain | None = None
    if manifest.dump.get("data_files"):
        try:
            _load_data_files(
                entry, stages[0], jobs, env, digests, check_digests=check_digests
            )
        except StreamError as exc:
            failure = f"restore of {entry.name} failed: {target.redactor(exc.message)}"
        except OpsError as exc:
            failure = exc.message
    elif filters and check_digests:
        chain = ProcessChain([*filters, *stages], stdin=subprocess.PIPE, stdout=None, env=env)
        assert chain.stdin is not None
        pump = HashingPump(path, chain.stdin)
    elif filters:
        with open(path, "rb") as fh:
            chain = ProcessChain([*filters, *stages], stdin=fh, stdout=None, env=env)
    else:
        chain = ProcessChain(stages, stdout=None, env=env)
    if check_digests and pump is None and chain is not None:
        # pg_restore reads the dump itself: hash the same files meanwhile (page cache)
        members = {
            rel: member_path(entry, rel)
            for rel in manifest.files
            if rel == dump_rel or rel.startswith(dump_rel + "/")
        }
        hasher = hash_files_thread(members)
    try:
        if chain is not None:
            chain.wait()
    except StreamError as exc:
        failure = f"restore of {entry.name} failed: {target.redactor(exc.message)}"
    except BaseException:
        assert chain is not None
        chain.kill()
        raise
    if pump is not None:
        try:
            digests[dump_rel] = pump.digest()
        except BaseException as exc:
            digests[dump_rel] = exc
    if hasher is not None:
        hasher[0].join()
        digests.update(hasher[1])
    if progress and failure is None:
        progress("database-done", 0, 0)
    if thread is not None:
        thread.join()
    # a damaged file explains a failure best: the checksums are looked at first
    if check_digests:
        altered = _digest_problems(manifest.files, digests)
        if altered:
            raise OpsError(
                f"backup {entry.name} fails verification: {altered[0]}",
                hint="the live database and filestore were not touched;"
                " restore another backup (`odoo-ops backup list`)",
            )
    if failure is not None:
        raise OpsError(failure, hint="the live database and filestore were not touched")
    if fs_errors:
        error = fs_errors[0]
        message = error.message if isinstance(error, OpsError) else str(error)
        raise OpsError(
            f"restore of {entry.name}: filestore extraction failed: {message}",
            hint="the live database and filestore were not touched",
        )
    stats = fs_stats[0] if fs_stats else filestore.TarStats()
    return _Loaded(stats.files, stats.bytes, jobs, mwm, host.source)


def _digest_problems(
    listed: dict[str, dict[str, Any]], digests: dict[str, FileDigest | BaseException]
) -> list[str]:
    problems: list[str] = []
    for rel in sorted(digests):
        got = digests[rel]
        info = listed.get(rel) or {}
        if isinstance(got, BaseException):
            why = getattr(got, "strerror", None) or str(got)
            problems.append(f"{rel}: cannot be read ({why})")
        elif info.get("size") is not None and got.size != int(info["size"]):
            problems.append(f"{rel}: {got.size} bytes, manifest says {info['size']}")
        elif got.sha256 != info.get("sha256"):
            problems.append(f"{rel}: altered (sha256 differs from the manifest)")
    return problems


# -- journal and recovery ---------------------------------------------------------


def filestore_dest(target: Target, database: str) -> Path | None:
    """``<data_dir>/filestore/<database>``, refused unless it stays under the data_dir."""
    data_dir = target.data_dir()
    if data_dir is None:
        return None
    return path_under(data_dir / "filestore", check_database_name(database))


def check_members(entry: BackupEntry, *, filestore_too: bool = True) -> None:
    """The dump (and filestore archive) of ``entry`` are there, inside the backup.

    Run before anything changes, with or without ``--no-verify``: a restore
    never starts from a dump that is missing or lies outside the backup.
    """
    manifest = entry.manifest
    assert manifest is not None
    wanted = [("dump", str(manifest.dump.get("path")))]
    if filestore_too and manifest.filestore.get("path"):
        wanted.append(("filestore archive", str(manifest.filestore["path"])))
    for what, rel in wanted:
        path = member_path(entry, rel)
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise OpsError(
                f"backup {entry.name}: its {what} {rel} is missing",
                hint="run `odoo-ops backup verify` and restore another backup",
            )
        inside = [p for p in path.rglob("*") if p.is_symlink()] if path.is_dir() else []
        if inside:
            raise OpsError(
                f"backup {entry.name}: its {what} holds a symbolic link"
                f" ({inside[0].relative_to(entry.path)})",
                hint="run `odoo-ops backup verify` and restore another backup",
            )


def recover(target: Target, conn: Any, database: str, fs_parent: Path | None) -> list[str]:
    """Finish or undo what a killed restore of ``database`` left; say what was done."""
    # every swap journal of the deployment first (this database's lock is held:
    # taking it again is free; another database's is taken, or its run is live)
    done = swapjournal.recover_interrupted(target)
    # leftovers of killed runs (we hold the deployment lock: nobody else uses them)
    prefix = with_suffix(database, "__restoring_")[: -len("__restoring_")] + "__restoring_"
    for (name,) in conn.execute(
        "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)
    ).fetchall():
        drop_database(conn, name)
        done.append(f"dropped {name} left by an interrupted restore")
    if fs_parent is not None and fs_parent.is_dir():
        for child in fs_parent.glob(f".{database}.restoring-*"):
            remove_tree(child)
            done.append(f"removed {child.name} left by an interrupted restore")
    return done


# -- restore ------------------------------------------------------------------------


def restore_backup(
    target: Target, name: str, options: RestoreOptions, progress: ProgressFn | None = None
) -> RestoreResult:
    """Restore backup ``name`` into ``options.to`` (default: the deployment's database)."""
    start = time.monotonic()
    database = options.to or target.database_name
    if not database:
        raise UsageError("no database to restore into", hint="pass --to DB")
    # every name and path is checked before anything changes
    check_database_name(database)
    entry = find_backup(backup_dir_of(target), name)
    manifest = entry.manifest
    if manifest is None:
        raise OpsError(f"backup {name} is damaged: {entry.error}", hint="run `backup verify`")
    check_members(entry, filestore_too=not options.skip_filestore)
    policy = target.project.config.backup
    host = dbhost.probe(target)
    jobs = options.jobs or policy.jobs or host.jobs
    fs_dest = None if options.skip_filestore else filestore_dest(target, database)
    notes: list[str] = []
    has_files = bool(manifest.filestore.get("files"))
    if fs_dest is None and not options.skip_filestore:
        if has_files:
            raise ConfigError(
                "the backup has a filestore but no data_dir is known for this deployment",
                hint="set data_dir in odoo-ops.toml, or pass --skip-filestore",
            )
        notes.append("no data_dir known: the filestore is not restored")
    token = secrets.token_hex(3)
    tmp_db = with_suffix(database, f"__restoring_{token}")
    stamp = utcnow()
    before_db = before_name(database, stamp)
    fs_tmp = path_under(fs_dest.parent, f".{database}.restoring-{token}") if fs_dest else None
    fs_before = path_under(fs_dest.parent, before_db) if fs_dest else None
    stages, eff_jobs, _ = restore_argv(entry, tmp_db, jobs)
    if options.dry_run:
        from shlex import join

        filters = _filters(entry, policy.age_identity_file, target.root)
        pipeline = " | ".join(join(s) for s in [*filters, *stages])
        if filters:
            pipeline = f"< {member_path(entry, str(manifest.dump['path']))} {pipeline}"
        pgoptions = f"PGOPTIONS='{dbhost.restore_pgoptions(host.maintenance_work_mem(eff_jobs))}'"
        if manifest.dump.get("data_files"):
            dump_dir = member_path(entry, str(manifest.dump["path"]))
            loads = [
                f"{pgoptions} {line}"
                for line in datafiles.describe_restore(dump_dir, eff_jobs, stages[0])
            ]
        else:
            loads = [f"{pgoptions} {pipeline}"]
        commands = [f"CREATE DATABASE {tmp_db} TEMPLATE template0", *loads]
        if fs_dest is not None:
            commands.append(f"extract {manifest.filestore.get('path')} -> {fs_tmp}")
        if options.neutralize:
            how = "odoo neutralize + SQL" if options.use_odoo else "SQL"
            commands.append(f"neutralize {tmp_db} ({how})")
        commands.append(
            f"BEGIN; ALTER DATABASE {database} RENAME TO {before_db};"
            f" ALTER DATABASE {tmp_db} RENAME TO {database}; COMMIT"
        )
        if fs_dest is not None:
            commands.append(f"mv {fs_dest} {fs_before}; mv {fs_tmp} {fs_dest}")
        return RestoreResult(
            name,
            database,
            0.0,
            str(fs_dest) if fs_dest else None,
            notes=notes,
            commands=commands,
            dry_run=True,
            jobs=eff_jobs,
        )
    if options.verify:
        from odoo_ops.backup.integrity import verify_entry

        # everything but the data files' sha256, which load_copy computes on the
        # bytes it reads for the restore (a mismatch aborts before the swap)
        check = verify_entry(entry, record=False, hash_data=False)
        if not check.ok:
            raise OpsError(
                f"backup {name} fails verification: {check.problems[0]}",
                hint="restore another backup (`odoo-ops backup list`)",
            )
    with write_lock(target, database, options.wait):
        conn = admin_connection(target)
        try:
            notes += recover(target, conn, database, fs_dest.parent if fs_dest else None)
            db_there = db_exists(conn, database)
            fs_there = fs_dest is not None and fs_dest.exists()
            if (db_there or fs_there) and not options.force:
                what = " and ".join(
                    w for w, there in (("database", db_there), ("filestore", fs_there)) if there
                ).capitalize()
                raise OpsError(
                    f"{what} {database!r} already there: not replacing it",
                    hint="pass --force to replace it (it is kept as "
                    f"{before_db}), or --to ANOTHER_DB",
                )
            if fs_tmp is not None:
                fs_tmp.parent.mkdir(parents=True, exist_ok=True)
            # the journal: from here a kill is settled by the next odoo-ops command
            swap = SwapJournal(
                kind="restore",
                database=database,
                tmp_db=tmp_db,
                lock_database=database,
                before_db=before_db if db_there else None,
                fs_tmp=str(fs_tmp) if fs_tmp else None,
                fs_dest=str(fs_dest) if fs_dest else None,
                fs_before=str(fs_before) if fs_before else None,
                started=iso(stamp),
                path=SwapJournal.new_path(target.state_dir),
            )
            swap.save(swapjournal.LOADING)
            try:
                note = create_database(conn, tmp_db, dict(manifest.raw.get("postgresql") or {}))
                if note:
                    notes.append(note)
                loaded = load_copy(
                    target,
                    entry,
                    tmp_db,
                    fs_tmp,
                    jobs,
                    progress,
                    check_digests=options.verify,
                    host=host,
                )
                if options.verify:
                    record_verified(entry)
                neutral = None
                if options.neutralize:
                    neutral = _neutralize(target, tmp_db, options.use_odoo, notes)
            except BaseException:
                drop_database(conn, tmp_db)
                if fs_tmp is not None:
                    remove_tree(fs_tmp)
                swap.remove()
                raise
            _swap(conn, swap, db_there, fs_there)
        finally:
            conn.close()
    return RestoreResult(
        name,
        database,
        round(time.monotonic() - start, 3),
        str(fs_dest) if fs_dest else None,
        replaced_database=before_db if db_there else None,
        replaced_filestore=str(fs_before) if fs_there else None,
        neutralized=neutral,
        jobs=loaded.jobs,
        filestore_files=loaded.files,
        notes=notes,
    )


def record_verified(entry: BackupEntry) -> None:
    """Every data file matched its checksum while restoring: as good as ``backup verify``."""
    try:
        update_status(
            entry.path, verify={"at": iso(utcnow()), "ok": True, "deep": False, "problems": []}
        )
    except OpsError:
        pass  # a read-only backup directory: the restore itself is not affected


def _swap(conn: Any, swap: SwapJournal, db_there: bool, fs_there: bool) -> None:
    """Swap the copies in, recording each step; on failure finish or undo at once.

    SIGTERM/SIGINT wait for the end of the swap; a SIGKILL leaves the journal,
    which the next odoo-ops command settles.
    """
    try:
        with deferred_signals():
            swap.save(swapjournal.SWAPPING)
            _swap_databases(conn, swap.database, swap.tmp_db, swap.before_db)
            swap.save(swapjournal.DB_SWAPPED)
            if swap.fs_dest is not None and swap.fs_tmp is not None:
                if fs_there:
                    assert swap.fs_before is not None
                    Path(swap.fs_dest).rename(swap.fs_before)
                    swap.save(swapjournal.FS_ASIDE)
                Path(swap.fs_tmp).rename(swap.fs_dest)
            swap.remove()
    except BaseException as exc:
        settled = ""
        try:
            settled = swapjournal.describe(swap, swapjournal.settle(swap, conn))
        except Exception:
            settled = f"the journal {swap.path} is left for the next odoo-ops command"
        if isinstance(exc, OSError):
            raise OpsError(
                f"restore of {swap.database}: the swap failed: {exc.strerror or exc}",
                hint=settled,
            ) from None
        raise


def _swap_databases(conn: Any, database: str, tmp_db: str, before: str | None) -> None:
    import psycopg

    for attempt in range(5):
        if before:
            terminate_sessions(conn, database)
        try:
            with conn.transaction():
                if before:
                    rename_database(conn, database, before)
                rename_database(conn, tmp_db, database)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 4:
                raise OpsError(
                    f"database {database!r} is in use and could not be replaced",
                    hint="stop Odoo (or its workers) and run the restore again",
                ) from None
            time.sleep(0.5)


def _neutralize(target: Target, dbname: str, use_odoo: bool, notes: list[str]) -> NeutralizeResult:
    method = "sql"
    if use_odoo:
        try:
            result = target.runner().run(target.odoo(dbname).neutralize(), timeout=600)
        except OpsError as exc:
            notes.append(f"odoo neutralize not available ({exc.message}): used SQL only")
        else:
            if result.ok:
                method = "odoo+sql"
            else:
                notes.append(f"odoo neutralize failed (exit {result.returncode}): used SQL only")
    db = target.database().with_database(dbname)
    conn = db.connect(autocommit=True)
    try:
        return neutralize_sql(conn, method=method)
    finally:
        conn.close()
