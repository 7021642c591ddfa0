"""Instant rollback copies: a template copy of the database and a hard-link
copy of the filestore, so rolling back a big database takes seconds.

- Database: ``CREATE DATABASE copy TEMPLATE db`` through
  :func:`odoo_ops.adapters.pgadmin.copy_database` (with ``STRATEGY
  FILE_COPY`` on PostgreSQL 15+ for databases of 1 GB or more: a file-level
  copy that writes no WAL for the whole base; smaller ones use the default
  WAL_LOG strategy, which needs no checkpoint). It needs no other session
  on ``db``: a deploy takes it after maintenance mode stopped the workers; remaining sessions of the
  deployment's database are terminated first.
- Filestore: Odoo names attachment files by their content checksum and never
  rewrites one in place, so a tree of hard links (``cp -al``) is a complete,
  instant and space-free copy.

Rolling back swaps the names: the changed database is renamed aside and
dropped, the copy is renamed into place; the filestore the same way.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops import childproc
from odoo_ops.adapters.pgadmin import (
    copy_database,
    db_exists,
    drop_database,
    first_line,
    rename_database,
    terminate_sessions,
)
from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from odoo_ops.adapters import Database


@dataclass
class InstantCopy:
    database: str
    copy_name: str
    filestore: Path | None = None
    filestore_copy: Path | None = None


def database_exists(admin: Database, name: str) -> bool:
    with admin.connect(autocommit=True, dbname="postgres") as conn:
        return db_exists(conn, name)


def create_copy(
    admin: Database, database: str, copy_name: str, filestore: Path | None
) -> InstantCopy:
    """Copy ``database`` (and its filestore) under ``copy_name``; raise OpsError when refused."""
    import psycopg

    with admin.connect(autocommit=True, dbname="postgres") as conn:
        terminate_sessions(conn, database)
        try:
            copy_database(conn, database, copy_name, size_aware=True)
        except psycopg.Error as exc:
            raise OpsError(
                f"instant copy of {database} refused by the server: {first_line(exc)}"
            ) from None
    result = InstantCopy(database=database, copy_name=copy_name)
    if filestore is not None and filestore.is_dir():
        copy_dir = filestore.with_name(filestore.name + ".odoo-ops-rollback")
        if copy_dir.exists():
            shutil.rmtree(copy_dir)
        proc = childproc.run(
            ["cp", "-al", str(filestore), str(copy_dir)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            drop_copy(admin, result)
            raise OpsError(f"hard-link copy of the filestore failed: {proc.stderr.strip()}")
        result.filestore, result.filestore_copy = filestore, copy_dir
    return result


def restore_copy(admin: Database, copy: InstantCopy) -> None:
    """Put the copy back in place of the (changed) database and filestore."""
    aside = f"{copy.database}_odoo_ops_failed"[:63]
    with admin.connect(autocommit=True, dbname="postgres") as conn:
        drop_database(conn, aside)
        if db_exists(conn, copy.database):
            terminate_sessions(conn, copy.database)
            rename_database(conn, copy.database, aside)
        terminate_sessions(conn, copy.copy_name)
        rename_database(conn, copy.copy_name, copy.database)
        drop_database(conn, aside)
    if copy.filestore is not None and copy.filestore_copy is not None:
        if not copy.filestore_copy.is_dir():
            raise OpsError(f"filestore rollback copy missing: {copy.filestore_copy}")
        failed = copy.filestore.with_name(copy.filestore.name + ".odoo-ops-failed")
        if failed.exists():
            shutil.rmtree(failed)
        if copy.filestore.exists():
            copy.filestore.rename(failed)
        copy.filestore_copy.rename(copy.filestore)
        shutil.rmtree(failed, ignore_errors=True)


def drop_copy(admin: Database, copy: InstantCopy) -> None:
    """Drop the rollback copy (after a successful deploy)."""
    with admin.connect(autocommit=True, dbname="postgres") as conn:
        drop_database(conn, copy.copy_name)
    if copy.filestore_copy is not None and copy.filestore_copy.exists():
        shutil.rmtree(copy.filestore_copy, ignore_errors=True)
