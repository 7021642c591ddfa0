"""Odoo's database-manager zip, both ways.

Odoo's ``/web/database/backup`` (and Odoo.sh downloads) produce a zip of
``dump.sql`` (``pg_dump --no-owner``, plain SQL), ``filestore/…`` and
``manifest.json`` (``odoo_dump``, ``db_name``, ``version``,
``version_info``, ``major_version``, ``pg_version``, ``modules``); Odoo's
restore extracts only ``dump.sql`` and ``filestore/`` and runs the SQL with
psql.

- :func:`export_odoo` turns an odoo-ops backup into that zip without a
  database: ``pg_restore -f -`` writes the SQL script straight into the zip
  entry, and the filestore entries are copied from the tar stream.
- :func:`import_odoo` restores such a zip into a scratch database (psql,
  stopping on the first error, in one transaction) and a scratch
  filestore, then makes a regular, checksummed odoo-ops backup of it.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from odoo_ops.backup import filestore
from odoo_ops.backup.common import (
    ProgressFn,
    backup_dir_of,
    clean_stale_partials,
    ensure_dir,
    write_lock,
    write_owner,
)
from odoo_ops.backup.create import CreateOptions, CreateResult, create_backup
from odoo_ops.backup.layout import CHUNK, default_name, find_backup, iso, remove_tree, utcnow
from odoo_ops.backup.pgtools import outer_decompress_argv, pg_env, tool
from odoo_ops.backup.restore import _short, admin_connection, create_database, drop_database
from odoo_ops.backup.streams import FilterSource, ProcessChain, StreamError
from odoo_ops.errors import OpsError, UsageError

if TYPE_CHECKING:
    from odoo_ops.target import Target


@dataclass
class ExportResult:
    name: str
    path: Path
    size: int
    files: int
    manifest: dict[str, Any]


@dataclass
class ImportResult:
    backup: CreateResult
    source: Path
    db_name: str | None
    files: int
    notes: list[str] = field(default_factory=list)


def odoo_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The ``manifest.json`` Odoo writes, from an odoo-ops manifest."""
    series = str(manifest.get("series") or "")
    parts = series.split(".") if series else []
    major = int(parts[0]) if parts and parts[0].isdigit() else 0
    minor = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    server = str((manifest.get("postgresql") or {}).get("server_version") or "0.0")
    pg_parts = [int(p) for p in server.split(".")[:2] if p.isdigit()] + [0, 0]
    if pg_parts[0] >= 10:
        num = pg_parts[0] * 10000 + pg_parts[1]
    else:
        num = pg_parts[0] * 10000 + pg_parts[1] * 100
    hundreds, rest = divmod(num / 100, 100)
    return {
        "odoo_dump": "1",
        "db_name": manifest.get("database"),
        "version": series,
        "version_info": [major, minor, 0, "final", 0, ""],
        "major_version": series,
        "pg_version": f"{int(hundreds)}.{int(rest)}",
        "modules": dict(manifest.get("modules") or {}),
    }


def export_odoo(
    target: Target,
    name: str,
    zip_path: Path,
    *,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> ExportResult:
    entry = find_backup(backup_dir_of(target), name)
    manifest = entry.manifest
    if manifest is None:
        raise OpsError(f"backup {name} is damaged: {entry.error}")
    from odoo_ops.fileutil import check_output_path, open_output, show_path

    # a link, FIFO, device or directory is refused even with --force; the directory must exist
    _, existing = check_output_path(zip_path)
    if existing is not None and not force:
        raise OpsError(f"{show_path(zip_path)} exists", hint="pass --force to replace it")
    from odoo_ops.backup.verify import verify_entry

    check = verify_entry(entry, record=True)
    if not check.ok:
        raise OpsError(f"backup {name} fails verification: {check.problems[0]}")
    policy = target.project.config.backup
    dump = manifest.dump
    filters: list[list[str]] = []
    if manifest.encrypted:
        from odoo_ops.backup import crypto

        filters.append(crypto.decrypt_argv(policy.age_identity_file, target.root))
    if dump.get("outer_compression"):
        filters.append(outer_decompress_argv(str(dump["outer_compression"])))
    dump_path = entry.path / str(dump["path"])
    files = 0
    try:
        with open_output(zip_path, mode=0o600) as tmp, zipfile.ZipFile(
            tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True
        ) as zf:
            zf.writestr("manifest.json", json.dumps(odoo_manifest(manifest.raw), indent=4))
            argv = [tool("pg_restore"), "--no-owner", "-f", "-"]
            if filters:
                fh = open(dump_path, "rb")  # noqa: SIM115
                chain = ProcessChain([*filters, argv], stdin=fh)
                fh.close()
            else:
                chain = ProcessChain([[*argv, str(dump_path)]])
            try:
                assert chain.stdout is not None
                with zf.open("dump.sql", "w", force_zip64=True) as out:
                    shutil.copyfileobj(chain.stdout, out, CHUNK)
                chain.wait()
            except BaseException:
                chain.kill()
                raise
            fs_rel = manifest.filestore.get("path")
            if fs_rel:
                fs_filters = filters[:1] if manifest.encrypted else []
                source = FilterSource(entry.path / str(fs_rel), fs_filters)
                try:
                    tar = filestore.open_tar_reader(source)
                    for member in tar:
                        if not member.isreg():
                            continue
                        src = tar.extractfile(member)
                        assert src is not None
                        with zf.open(f"filestore/{member.name}", "w", force_zip64=True) as out:
                            shutil.copyfileobj(src, out, CHUNK)
                        files += 1
                        if progress:
                            progress("filestore", member.size, 1)
                        filestore.forget_members(tar)
                    source.close()
                except BaseException:
                    source.close(check=False)
                    raise
    except StreamError as exc:  # open_output removed the temporary file
        raise OpsError(f"export failed: {target.redactor(exc.message)}") from None
    return ExportResult(name, zip_path, zip_path.stat().st_size, files, odoo_manifest(manifest.raw))


def _safe_member(name: str) -> str | None:
    """The path below ``filestore/`` of a zip member, None when it is not one."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise OpsError(f"refusing zip member with an unsafe path: {name!r}")
    if path.parts[0] != "filestore" or len(path.parts) < 2 or name.endswith("/"):
        return None
    return "/".join(path.parts[1:])


def import_odoo(
    target: Target,
    zip_path: Path,
    *,
    name: str | None = None,
    tags: list[str] | None = None,
    jobs: int | None = None,
    compress: str | None = None,
    wait: float = 0.0,
    progress: ProgressFn | None = None,
) -> ImportResult:
    if not zip_path.is_file():
        raise UsageError(f"no such file: {zip_path}")
    if not zipfile.is_zipfile(zip_path):
        raise OpsError(f"{zip_path} is not a zip file")
    backup_dir = ensure_dir(backup_dir_of(target))
    notes: list[str] = []
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        if "dump.sql" not in names:
            raise OpsError(
                f"{zip_path.name} is not an Odoo database backup (no dump.sql)",
                hint="Odoo's database manager zips hold dump.sql, filestore/ and manifest.json",
            )
        members = [(m, _safe_member(m)) for m in names]
        odoo_manifest_data: dict[str, Any] = {}
        if "manifest.json" in names:
            try:
                odoo_manifest_data = json.loads(zf.read("manifest.json"))
            except ValueError:
                notes.append("manifest.json of the zip is not valid JSON: ignored")
        database = target.database_name or str(odoo_manifest_data.get("db_name") or "odoo")
        token = secrets.token_hex(3)
        scratch = _short(database, f"__import_{token}")
        work = backup_dir / f".scratch-{token}"
        with write_lock(target, database, wait):
            clean_stale_partials(backup_dir)
            work.mkdir(mode=0o700)
            write_owner(work)
            conn = admin_connection(target)
            try:
                create_database(conn, scratch, {})
                _psql_load(target, zf, scratch)
                fs_dir = work / "filestore"
                fs_dir.mkdir()
                files = 0
                for member, rel in members:
                    if rel is None:
                        continue
                    dest = fs_dir / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(member) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out, CHUNK)
                    files += 1
                    if progress:
                        progress("filestore", zf.getinfo(member).file_size, 1)
                extra = {
                    "database": database,
                    "imported_from": {
                        "file": zip_path.name,
                        "db_name": odoo_manifest_data.get("db_name"),
                        "version": odoo_manifest_data.get("version"),
                        "pg_version": odoo_manifest_data.get("pg_version"),
                        "at": iso(utcnow()),
                    },
                }
                created = create_backup(
                    target,
                    CreateOptions(
                        name=name or default_name(database, utcnow()),
                        jobs=jobs,
                        compress=compress,
                        tags=list(tags or []) + ["imported"],
                        database=scratch,
                        filestore_dir=fs_dir,
                        extra=extra,
                        take_lock=False,
                    ),
                )
            finally:
                try:
                    drop_database(conn, scratch)
                finally:
                    conn.close()
                    remove_tree(work)
    return ImportResult(created, zip_path, odoo_manifest_data.get("db_name"), files, notes)


def _psql_load(target: Target, zf: zipfile.ZipFile, dbname: str) -> None:
    argv = [
        tool("psql"),
        "--no-password",
        "--no-psqlrc",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-d",
        dbname,
        "-f",
        "-",
    ]
    env = pg_env(target.dsn(), options="-c synchronous_commit=off")
    chain = ProcessChain([argv], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    try:
        assert chain.stdin is not None
        with zf.open("dump.sql") as src:
            try:
                shutil.copyfileobj(src, chain.stdin, CHUNK)
            except BrokenPipeError:
                pass
        chain.stdin.close()
        chain.wait()
    except StreamError as exc:
        raise OpsError(
            f"dump.sql does not load: {target.redactor(exc.message)}",
            hint="nothing was imported",
        ) from None
    except (tarfile.TarError, zipfile.BadZipFile) as exc:
        chain.kill()
        raise OpsError(f"the zip is damaged: {exc}") from None
    except BaseException:
        chain.kill()
        raise
