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

import bisect
import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import subprocess
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from odoo_ops.adapters.pgadmin import (
    admin_connection,
    create_database,
    drop_database,
    with_suffix,
)
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
from odoo_ops.backup.sqlguard import RESET_LINE, SqlGuard
from odoo_ops.backup.streams import FilterSource, ProcessChain, StreamError
from odoo_ops.errors import OpsError, UsageError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


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
    from odoo_ops.backup.integrity import verify_entry

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
    workdir = contextlib.ExitStack()
    if dump.get("data_files"):
        # pg_restore 15 cannot read odoo-ops' zstd data files: decompressed first
        from odoo_ops.backup import datafiles

        loaded = workdir.enter_context(
            datafiles.decompressed(entry.path, dump, jobs=2, hashed=False)
        )
        if loaded.failed:
            workdir.close()
            raise OpsError(f"backup {name}: {dump['path']}/{loaded.failed}")
        dump_path = loaded.path
    try:
        with workdir, open_output(zip_path, mode=0o600) as tmp, zipfile.ZipFile(
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


def _read_odoo_manifest(zf: zipfile.ZipFile, names: list[str], notes: list[str]) -> dict[str, Any]:
    """The zip's ``manifest.json`` as a dict of plain values; problems become notes."""
    if "manifest.json" not in names:
        return {}
    if zf.getinfo("manifest.json").file_size > MAX_ODOO_MANIFEST:
        notes.append("manifest.json of the zip is larger than 1 MiB: ignored")
        return {}
    try:
        data = json.loads(zf.read("manifest.json"))
    except (ValueError, RecursionError):
        notes.append("manifest.json of the zip is not valid JSON: ignored")
        return {}
    if not isinstance(data, dict):
        notes.append("manifest.json of the zip is not a JSON object: ignored")
        return {}
    kept: dict[str, Any] = {}
    for key in ("db_name", "version", "pg_version"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            kept[key] = str(value)[:200]
        else:
            notes.append(f"manifest.json of the zip: {key} is not a string: ignored")
    return kept


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
    try:
        with zipfile.ZipFile(zip_path) as zf:
            return _import_zip(target, zip_path, zf, name, tags, jobs, compress, wait, progress)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise OpsError(f"the zip is damaged: {exc}", hint="nothing was imported") from None


def _import_zip(
    target: Target,
    zip_path: Path,
    zf: zipfile.ZipFile,
    name: str | None,
    tags: list[str] | None,
    jobs: int | None,
    compress: str | None,
    wait: float,
    progress: ProgressFn | None,
) -> ImportResult:
    backup_dir = ensure_dir(backup_dir_of(target))
    notes: list[str] = []
    names = zf.namelist()
    if "dump.sql" not in names:
        raise OpsError(
            f"{zip_path.name} is not an Odoo database backup (no dump.sql)",
            hint="Odoo's database manager zips hold dump.sql, filestore/ and manifest.json",
        )
    if zf.getinfo("dump.sql").file_size == 0:
        raise OpsError("dump.sql of the zip is empty", hint="nothing was imported")
    members = [(m, _safe_member(m)) for m in names]
    odoo_manifest_data = _read_odoo_manifest(zf, names, notes)
    database = target.database_name or str(odoo_manifest_data.get("db_name") or "odoo")
    token = secrets.token_hex(3)
    scratch = with_suffix(database, f"__import_{token}")
    work = backup_dir / f".scratch-{token}"
    with write_lock(target, database, wait):
        clean_stale_partials(backup_dir)
        work.mkdir(mode=0o700)
        write_owner(work)
        conn = admin_connection(target)
        role: LoadRole | None = None
        try:
            notes.extend(clean_interrupted_imports(conn))
            # held while this import lives: tells a later run that it is not a leftover
            conn.execute("SELECT pg_advisory_lock(%s)", (_import_lock_key(token),))
            role = LoadRole.prepare(conn, token, scratch)
            create_database(conn, scratch, {})
            if role is not None:
                role.own(conn, scratch)
            _psql_load(target, zf, scratch, conn, role)
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
                if role is not None:
                    role.drop(conn)
            finally:
                conn.close()
                remove_tree(work)
    return ImportResult(created, zip_path, odoo_manifest_data.get("db_name"), files, notes)


_SCRATCH_TOKEN = re.compile(r"__import_([0-9a-f]{6})$")
_ROLE_TOKEN = re.compile(r"^odoo_ops_import_([0-9a-f]{6})_[0-9a-f]{8}$")


def _import_lock_key(token: str) -> int:
    from odoo_ops.adapters.database import lock_key

    return lock_key(f"import-odoo:{token}")


def clean_interrupted_imports(conn: Any) -> list[str]:
    """Drop the scratch databases and load roles of imports that were killed.

    A running import holds a session advisory lock named after its token on
    the server, so a scratch database or role whose lock can be taken belongs
    to no live import, whatever host or backup directory it came from.
    """
    from psycopg import sql

    tokens: dict[str, tuple[list[str], list[str]]] = {}
    for (datname,) in conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", ("%\\_\\_import\\_%",)
    ).fetchall():
        m = _SCRATCH_TOKEN.search(datname)
        if m:
            tokens.setdefault(m.group(1), ([], []))[0].append(datname)
    for (rolname,) in conn.execute(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE 'odoo\\_ops\\_import\\_%'"
    ).fetchall():
        m = _ROLE_TOKEN.match(rolname)
        if m:
            tokens.setdefault(m.group(1), ([], []))[1].append(rolname)
    notes: list[str] = []
    for token, (databases, roles) in sorted(tokens.items()):
        key = _import_lock_key(token)
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not (row and row[0]):
            continue  # a live import
        try:
            for datname in databases:
                drop_database(conn, datname)
            for rolname in roles:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(rolname)))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        notes.append(
            "removed what an interrupted import left: "
            + ", ".join([*(f"database {d}" for d in databases), *(f"role {r}" for r in roles)])
        )
    return notes


#: The largest ``manifest.json`` of a zip that is read.
MAX_ODOO_MANIFEST = 1024 * 1024

#: Roles whose members can reach the server's files and programs from SQL.
_SERVER_ACCESS_ROLES = ("pg_execute_server_program", "pg_read_server_files",
                        "pg_write_server_files")


@dataclass
class LoadRole:
    """A temporary unprivileged login role that loads the zip's SQL.

    Made when the DSN's user could reach outside the database from SQL (a
    superuser, a CREATEROLE user, a member of pg_execute_server_program /
    pg_read_server_files / pg_write_server_files); the scratch database is
    owned by it and psql logs in as it; it is dropped afterwards. It is a
    member of no role: INHERIT only lets it use the implicit
    ``pg_database_owner`` of its scratch database (which owns ``public``).
    """

    name: str
    password: str

    @classmethod
    def prepare(cls, conn: Any, token: str, dbname: str) -> LoadRole | None:
        from psycopg import sql

        row = conn.execute(
            "SELECT r.rolsuper, r.rolcreaterole,"
            " pg_has_role(current_user, %s, 'MEMBER') OR pg_has_role(current_user, %s, 'MEMBER')"
            " OR pg_has_role(current_user, %s, 'MEMBER')"
            " FROM pg_roles r WHERE r.rolname = current_user",
            _SERVER_ACCESS_ROLES,
        ).fetchone()
        superuser, createrole, server_access = (bool(v) for v in row) if row else (0, 0, 0)
        if not (superuser or createrole or server_access):
            return None  # loads as itself: it cannot reach outside its databases
        if not (superuser or createrole):
            raise OpsError(
                "the DSN's user can read or run files on the database server, and cannot"
                " create a role to load the zip with",
                hint="import with a user that has CREATEROLE (or one without those roles)",
            )
        role = cls(f"odoo_ops_import_{token}_{secrets.token_hex(4)}", secrets.token_urlsafe(24))
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE"
                " INHERIT NOREPLICATION NOBYPASSRLS"
            ).format(sql.Identifier(role.name), sql.Literal(role.password))
        )
        conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
            sql.Identifier(role.name),
            sql.Literal(f"odoo-ops backup import-odoo: loads {dbname}, dropped afterwards")))
        if not superuser:
            # a CREATEROLE user must be a member to give it a database
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role.name)))
        return role

    def own(self, conn: Any, dbname: str) -> None:
        from psycopg import sql

        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(dbname), sql.Identifier(self.name)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
            sql.Identifier(dbname)))

    def env(self, conn: Any, base: dict[str, str]) -> dict[str, str]:
        """psql's environment: the admin's server, this role's name and password."""
        env = {k: v for k, v in base.items()
               if k not in ("PGUSER", "PGPASSWORD", "PGPASSFILE", "PGSERVICE")}
        info = conn.info
        if info.host:
            env["PGHOST"] = str(info.host)
        env["PGPORT"] = str(info.port)
        env["PGUSER"] = self.name
        env["PGPASSWORD"] = self.password
        return env

    def drop(self, conn: Any) -> None:
        import psycopg
        from psycopg import sql

        try:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.name)))
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OpsError(f"could not drop the temporary role {self.name}: {first}",
                           hint="drop it by hand (DROP ROLE)") from None


@functools.lru_cache(maxsize=4)
def _psql_can_restrict(psql: str) -> bool:
    """Does this psql know ``\\restrict`` (15.14+, 16.10+, 17.6+)?"""
    out = subprocess.run([psql, "--help=commands"], capture_output=True, text=True,
                         check=False, env={**os.environ, "PAGER": "cat"}).stdout
    return "\\restrict" in out


def _psql_load(
    target: Target, zf: zipfile.ZipFile, dbname: str, conn: Any, role: LoadRole | None
) -> None:
    """Load ``dump.sql`` with psql, every line checked by :class:`SqlGuard` first."""
    psql = tool("psql")
    argv = [
        psql,
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
    env["PGCLIENTENCODING"] = "UTF8"
    if role is not None:
        env = role.env(conn, env)
    guard = SqlGuard()
    injected: list[int] = []  # psql line numbers of the lines the loader added
    out_line = 0
    chain = ProcessChain([argv], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    try:
        assert chain.stdin is not None
        stdin = chain.stdin

        def send(data: bytes, *, extra: bool = False) -> None:
            nonlocal out_line
            if data.endswith(b"\n"):
                out_line += 1
                if extra:
                    injected.append(out_line)
            stdin.write(data)

        try:
            if _psql_can_restrict(psql):
                send(b"\\restrict " + secrets.token_hex(24).encode() + b"\n", extra=True)
            with zf.open("dump.sql") as src:
                while True:
                    chunk = src.readline(CHUNK)
                    if not chunk:
                        break
                    result = guard.feed(chunk)
                    if result is None:
                        continue
                    send(result.data)
                    if result.reset_after:
                        send(RESET_LINE, extra=True)
            tail = guard.finish()
            if tail is not None:
                send(tail.data)
        except BrokenPipeError:
            pass
        except BaseException:
            chain.kill()
            raise
        try:
            stdin.close()
        except BrokenPipeError:
            pass
        chain.wait()
    except StreamError as exc:
        detail = _psql_error(chain.stderr_text(), injected) or exc.message
        raise OpsError(
            f"dump.sql does not load: {target.redactor(detail)}",
            hint="nothing was imported",
        ) from None


def _psql_error(stderr: str, injected: list[int]) -> str | None:
    """psql's first error, its line number that of dump.sql (not counting added lines)."""
    for text in stderr.splitlines():
        match = re.match(r"psql:<stdin>:(\d+): (.*)", text)
        if match is None or ("ERROR" not in match.group(2) and "error" not in match.group(2)):
            continue
        number = int(match.group(1))
        original = number - bisect.bisect_right(injected, number)
        return f"line {original}: {match.group(2).strip()[:300]}"
    return None
