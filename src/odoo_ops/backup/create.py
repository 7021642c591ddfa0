"""``backup create``: database dump and filestore, checksummed, written atomically.

Order and consistency: a REPEATABLE READ transaction exports its snapshot
(``pg_export_snapshot()``), pg_dump dumps *that* snapshot (``--snapshot``),
and only then does the filestore walk start, concurrently with the dump.
Odoo writes an attachment's file before it commits the row, so every file
the dumped rows reference was on disk when the snapshot was taken: the
filestore archive is a superset of what the dump needs (files added later
are harmless extras). The row counts in the manifest are read in the same
snapshot, so they match the dump exactly.
"""

from __future__ import annotations

import os
import shlex
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.backup import crypto, datafiles, dbhost, filestore
from odoo_ops.backup.common import (
    KEY_TABLES,
    ProgressFn,
    backup_dir_of,
    clean_stale_partials,
    ensure_dir,
    git_commit,
    write_lock,
    write_owner,
)
from odoo_ops.backup.layout import (
    DATA_FILES_VERSION,
    DIR_MODE,
    FILE_MODE,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    OWNER_FILE,
    PARTIAL_SUFFIX,
    SUMS,
    check_name,
    default_name,
    fsync_path,
    iso,
    manifest_bytes,
    remove_tree,
    sha256_file,
    sums_bytes,
    update_status,
    utcnow,
    walk_files,
)
from odoo_ops.backup.pgtools import (
    Compression,
    outer_compress_argv,
    pg_env,
    resolve_compression,
    tool,
    tool_version,
)
from odoo_ops.backup.streams import FilterSink, ProcessChain, StreamError, run_chain_to_file
from odoo_ops.errors import OpsError, UsageError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class CreateOptions:
    name: str | None = None
    jobs: int | None = None
    compress: str | None = None
    dump_format: str | None = None  # custom | directory
    encrypt: bool = False
    tags: list[str] = field(default_factory=list)
    keep: bool = False
    wait: float = 0.0
    dry_run: bool = False
    database: str | None = None
    #: where the filestore is read from (default: the deployment's)
    filestore_dir: Path | None = None
    #: extra fields merged into the manifest (import-odoo)
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``False``: the caller already holds the lock
    take_lock: bool = True


@dataclass
class CreateResult:
    name: str
    path: Path | None
    database: str
    duration: float
    size: int
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    dry_run: bool = False


@dataclass
class _Plan:
    database: str
    name: str
    backup_dir: Path
    dump_format: str
    jobs: int
    compression: Compression
    encrypt_argv: list[str] | None
    recipients: list[str]
    filestore_dir: Path | None
    dump_file: str
    filestore_file: str
    env: dict[str, str]
    notes: list[str]

    def dump_stages(self, snapshot: str | None, out: Path | None) -> list[list[str]]:
        argv = [tool("pg_dump"), "--no-password"]
        if self.dump_format == "directory":
            argv += ["-F", "d", "-j", str(self.jobs)]
        else:
            argv += ["-F", "c"]
        argv += self.compression.pg_args
        if snapshot:
            argv.append(f"--snapshot={snapshot}")
        if out is not None:
            argv += ["-f", str(out)]
        argv += ["-d", self.database]
        stages = [argv]
        if self.compression.outer:
            stages.append(outer_compress_argv(self.compression.outer, self.compression.level))
        if self.encrypt_argv:
            stages.append(self.encrypt_argv)
        return stages

    @property
    def streamed(self) -> bool:
        return bool(self.compression.outer or self.encrypt_argv)


def _plan(target: Target, options: CreateOptions, now: Any) -> _Plan:
    policy = target.project.config.backup
    database = options.database or target.database_name
    if not database:
        raise UsageError("no database to back up", hint="pass -d DB or set database in the config")
    backup_dir = backup_dir_of(target)
    name = check_name(options.name or default_name(database, now))
    if not options.name:
        base, counter = name, 2
        while (backup_dir / name).exists():  # two backups in the same second
            name, counter = f"{base}-{counter}", counter + 1
    jobs = options.jobs or policy.jobs or dbhost.probe(target).jobs
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    notes: list[str] = []
    pg_major = tool_version("pg_dump")[0]
    requested = options.compress or policy.compress
    chosen_format = options.dump_format or policy.format
    encrypt = options.encrypt
    method = requested.split(":")[0] if requested else None
    if chosen_format:
        dump_format = chosen_format
    elif (
        pg_major < 16
        and method == "lz4"
        and not encrypt
        and shutil.which(method) is not None
    ):
        # lz4 asked for and pg_dump 15 cannot write it: an uncompressed
        # custom-format dump streamed through the tool (restores then run as one job)
        dump_format = "custom"
        notes.append(
            f"pg_dump {pg_major}: custom format streamed through {method}"
            " (restores run as one job); leave compress unset for a dump that restores"
            " in parallel"
        )
    elif pg_major < 16 and method in (None, "zstd"):
        # pg_dump 15 cannot write zstd: an uncompressed directory dump whose data
        # files odoo-ops compresses while pg_dump writes them (backup/datafiles.py);
        # restored with `jobs` workers
        dump_format = "directory"
    else:
        # directory format, compressed by pg_dump itself: dumped and restored with
        # `jobs` workers (pg_restore -j reads its files in any order)
        dump_format = "directory" if jobs > 1 else "custom"
    if encrypt and dump_format == "directory":
        notes.append("encrypted backups use pg_dump's custom format (streamed through age)")
        dump_format = "custom"
    if dump_format == "custom" and jobs > 1 and chosen_format:
        notes.append("custom format dumps with one job (restores can still use --jobs)")
    # only zstd/lz4 on an old pg_dump turn a plain custom dump into a streamed one
    wants_outer = method in ("zstd", "lz4")
    streamed = encrypt or (dump_format == "custom" and wants_outer and pg_major < 16)
    compression = resolve_compression(requested, dump_format, pg_major, streamed=streamed)
    notes += compression.notes
    encrypt_argv = crypto.encrypt_argv(policy.age_recipients, target.root) if encrypt else None
    suffix = {"zstd": ".zst", "lz4": ".lz4"}.get(compression.outer or "", "")
    dump_file = "db" if dump_format == "directory" else f"db.dump{suffix}"
    fs_file = "filestore.tar.zst"
    if encrypt:
        dump_file += ".age"
        fs_file += ".age"
    fs_dir = options.filestore_dir or target.filestore_dir(database)
    if fs_dir is None:
        notes.append("no data_dir known: the backup holds the database only (set data_dir)")
    elif not fs_dir.is_dir():
        notes.append(f"filestore {fs_dir} does not exist: backing up an empty filestore")
    return _Plan(
        database=database,
        name=name,
        backup_dir=backup_dir,
        dump_format=dump_format,
        jobs=jobs if dump_format == "directory" else 1,
        compression=compression,
        encrypt_argv=encrypt_argv,
        recipients=list(policy.age_recipients) if encrypt else [],
        filestore_dir=fs_dir,
        dump_file=dump_file,
        filestore_file=fs_file,
        env=pg_env(target.dsn()),
        notes=notes,
    )


def _describe(stages: list[list[str]], out: str | None = None) -> str:
    text = " | ".join(shlex.join(s) for s in stages)
    return f"{text} > {out}" if out else text


def _db_facts(cur: Any, database: str) -> dict[str, Any]:
    """Versions, modules, collation and row counts, read in the dump's snapshot."""
    facts: dict[str, Any] = {}
    cur.execute("SHOW server_version")
    facts["server_version"] = str(cur.fetchone()[0]).split()[0]
    cur.execute(
        "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database"
        " WHERE datname = current_database()"
    )
    enc, collate, ctype = cur.fetchone()
    facts["encoding"], facts["collate"], facts["ctype"] = enc, collate, ctype
    modules: dict[str, str | None] = {}
    cur.execute("SELECT to_regclass('public.ir_module_module') IS NOT NULL")
    if cur.fetchone()[0]:
        cur.execute(
            "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'"
            " ORDER BY name"
        )
        modules = {str(n): (str(v) if v is not None else None) for n, v in cur.fetchall()}
    facts["modules"] = modules
    base = modules.get("base")
    facts["odoo_version"] = base
    facts["series"] = ".".join(base.split(".")[:2]) if base and base.count(".") >= 1 else None
    counts: dict[str, int] = {}
    for table in KEY_TABLES:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",))
        if cur.fetchone()[0]:
            from psycopg import sql

            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            counts[table] = int(cur.fetchone()[0])
    facts["row_counts"] = counts
    stored: int | None = None
    cur.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name = 'ir_attachment' AND column_name = 'store_fname'"
    )
    if cur.fetchone()[0]:
        cur.execute("SELECT count(DISTINCT store_fname) FROM ir_attachment WHERE store_fname <> ''")
        stored = int(cur.fetchone()[0])
    facts["stored_attachments"] = stored
    return facts


def create_backup(
    target: Target, options: CreateOptions, progress: ProgressFn | None = None
) -> CreateResult:
    """Make one backup of the deployment's database and filestore."""
    started = utcnow()
    plan = _plan(target, options, started)
    final = plan.backup_dir / plan.name
    partial = plan.backup_dir / f".{plan.name}{PARTIAL_SUFFIX}"
    if options.dry_run:
        dump_out = None if plan.streamed else partial / plan.dump_file
        cmd = _describe(
            plan.dump_stages("SNAPSHOT", dump_out),
            str(partial / plan.dump_file) if plan.streamed else None,
        )
        fs_cmd = (
            f"tar+zstd (in process) of {plan.filestore_dir}"
            + (f" | {shlex.join(plan.encrypt_argv)}" if plan.encrypt_argv else "")
            + f" > {partial / plan.filestore_file}"
        )
        return CreateResult(
            plan.name,
            final,
            plan.database,
            0.0,
            0,
            {},
            notes=plan.notes,
            commands=[
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot()",
                cmd,
                fs_cmd,
                f"mv {partial} {final}",
            ],
            dry_run=True,
        )
    lock = write_lock(target, plan.database, options.wait) if options.take_lock else None
    if lock is not None:
        lock.__enter__()
    try:
        return _create_locked(target, options, plan, partial, final, started, progress)
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)


def _create_locked(
    target: Target,
    options: CreateOptions,
    plan: _Plan,
    partial: Path,
    final: Path,
    started: Any,
    progress: ProgressFn | None,
) -> CreateResult:
    ensure_dir(plan.backup_dir)
    removed = clean_stale_partials(plan.backup_dir)
    notes = list(plan.notes)
    if removed:
        notes.append(f"removed {len(removed)} unfinished backup(s) left by interrupted runs")
    if final.exists():
        raise OpsError(f"a backup named {plan.name!r} already exists", hint="choose another --name")
    t0 = time.monotonic()
    partial.mkdir(mode=DIR_MODE)
    write_owner(partial)
    db = target.database().with_database(plan.database)
    conn = db.connect()
    chain: ProcessChain | None = None
    compressor: datafiles.DumpCompressor | None = None
    fs_error: list[BaseException] = []
    fs_result: dict[str, Any] = {}
    try:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL statement_timeout = 0")
        snapshot = str(conn.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
        dump_path = partial / plan.dump_file
        # 1. the database dump, from the exported snapshot
        dump_digest: dict[str, Any] = {}
        dump_thread: threading.Thread | None = None
        dump_errors: list[BaseException] = []
        if plan.streamed:
            stages = plan.dump_stages(snapshot, None)

            def run_streamed() -> None:
                try:
                    d = run_chain_to_file(stages, dump_path, env=plan.env)
                    dump_digest[plan.dump_file] = {"size": d.size, "sha256": d.sha256}
                except BaseException as exc:
                    dump_errors.append(exc)

            dump_thread = threading.Thread(target=run_streamed, daemon=True)
            dump_thread.start()
        else:
            chain = ProcessChain(plan.dump_stages(snapshot, dump_path), stdout=None, env=plan.env)
            if plan.compression.data_files:
                # zstd on each data file while pg_dump writes it (pg_dump 15 and older)
                compressor = datafiles.DumpCompressor(
                    dump_path, chain.procs[0].pid, plan.compression.level or 1
                )
        if progress:
            progress("dump", 0, 0)

        # 2. the filestore, started after the snapshot, concurrently with the dump
        def run_filestore() -> None:
            sink = FilterSink(
                partial / plan.filestore_file, [plan.encrypt_argv] if plan.encrypt_argv else []
            )
            try:
                stats = filestore.write_tar(
                    plan.filestore_dir,
                    sink,
                    progress=(lambda b, f: progress("filestore", b, f)) if progress else None,
                )
                digest = sink.close()
            except BaseException as exc:
                sink.abort()
                fs_error.append(exc)
                return
            fs_result["stats"] = stats
            fs_result["digest"] = digest

        fs_thread = threading.Thread(target=run_filestore, daemon=True)
        fs_thread.start()
        # 3. facts from the same snapshot while both run
        with conn.cursor() as cur:
            facts = _db_facts(cur, plan.database)
        # wait for the dump, then the filestore
        if chain is not None:
            chain.wait()
            chain = None
        compressed: datafiles.Compressed | None = None
        if compressor is not None:
            compressed = compressor.finish()
            compressor = None
        if dump_thread is not None:
            dump_thread.join()
            if dump_errors:
                raise dump_errors[0]
        if progress:
            progress("dump-done", 0, 0)
        fs_thread.join()
        if fs_error:
            raise fs_error[0]
        conn.rollback()
        conn.close()
        # 4. checksums of every file
        files: dict[str, dict[str, Any]] = {}
        if plan.dump_format == "directory":
            known = compressed.digests if compressed is not None else {}
            for rel, path in walk_files(dump_path):
                os.chmod(path, FILE_MODE)
                if rel in known:  # hashed (and synced) as it was written
                    size, sha = known[rel].size, known[rel].sha256
                else:
                    size, sha = sha256_file(path)
                    fsync_path(path)
                files[f"{plan.dump_file}/{rel}"] = {"size": size, "sha256": sha}
            os.chmod(dump_path, DIR_MODE)
            fsync_path(dump_path)
        elif plan.streamed:
            files.update(dump_digest)
        else:
            os.chmod(dump_path, FILE_MODE)
            size, sha = sha256_file(dump_path)
            fsync_path(dump_path)
            files[plan.dump_file] = {"size": size, "sha256": sha}
        fs_digest = fs_result["digest"]
        files[plan.filestore_file] = {"size": fs_digest.size, "sha256": fs_digest.sha256}
        stats: filestore.TarStats = fs_result["stats"]
        if stats.skipped:
            notes.append(
                f"{len(stats.skipped)} filestore entr(ies) vanished or were not regular files"
            )
        finished = utcnow()
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION if compressed is None else DATA_FILES_VERSION,
            "name": plan.name,
            "deployment": target.name,
            "database": plan.database,
            "series": facts["series"] or target.series,
            "odoo_version": facts["odoo_version"],
            "postgresql": {
                "server_version": facts["server_version"],
                "pg_dump_version": ".".join(str(v) for v in tool_version("pg_dump")),
                "encoding": facts["encoding"],
                "collate": facts["collate"],
                "ctype": facts["ctype"],
            },
            "git_commit": git_commit(target.root),
            "created_at": iso(started),
            "finished_at": iso(finished),
            "duration_seconds": round(time.monotonic() - t0, 3),
            "tags": list(dict.fromkeys(options.tags)),
            "dump": {
                "path": plan.dump_file,
                "format": plan.dump_format,
                "jobs": plan.jobs,
                "compression": plan.compression.label,
                "outer_compression": plan.compression.outer,
                "encrypted": bool(plan.encrypt_argv),
                **(
                    {"data_files": datafiles.METHOD, "raw_bytes": compressed.raw_bytes}
                    if compressed is not None
                    else {}
                ),
            },
            "filestore": {
                "path": plan.filestore_file,
                "source_present": plan.filestore_dir is not None and plan.filestore_dir.is_dir(),
                "files": stats.files,
                "bytes": stats.bytes,
                "directories": stats.directories,
                "compression": f"zstd:{filestore.LEVEL}",
                "encrypted": bool(plan.encrypt_argv),
            },
            "encryption": (
                {"tool": "age", "recipients": crypto.recipient_fingerprints(plan.recipients)}
                if plan.encrypt_argv
                else None
            ),
            "row_counts": facts["row_counts"],
            "stored_attachments": facts["stored_attachments"],
            "modules": facts["modules"],
            "files": dict(sorted(files.items())),
        }
        manifest.update(options.extra)
        mbytes = manifest_bytes(manifest)
        _write_synced(partial / MANIFEST, mbytes)
        import hashlib

        all_sums = dict(files)
        all_sums[MANIFEST] = {"size": len(mbytes), "sha256": hashlib.sha256(mbytes).hexdigest()}
        _write_synced(partial / SUMS, sums_bytes(all_sums))
        if options.keep:
            update_status(partial, keep=True)
        (partial / OWNER_FILE).unlink()
        fsync_path(partial)
        os.rename(partial, final)
        fsync_path(plan.backup_dir)
        size = sum(int(f["size"]) for f in files.values()) + len(mbytes)
        return CreateResult(
            plan.name,
            final,
            plan.database,
            round(time.monotonic() - t0, 3),
            size,
            manifest,
            notes=notes,
        )
    except BaseException as exc:
        if chain is not None:
            chain.kill()
        if compressor is not None:
            compressor.abort()
        try:
            conn.close()
        except Exception:
            pass
        remove_tree(partial)
        if isinstance(exc, StreamError):
            raise OpsError(
                f"backup failed: {target.redactor(exc.message)}",
                hint="nothing was kept; the previous backups are untouched",
            ) from None
        raise


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
