"""Fixtures of the backup tests: a deployment directory around an Odoo-shaped database."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.support import odoo_schema, pg

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project


@dataclass
class BackupSite:
    """A project directory (odoo-ops.toml), its data_dir and backup_dir, and the database."""

    root: Path
    db: pg.OdooTestDb
    data_dir: Path
    backup_dir: Path
    config: Path

    def target(self, database: str | None = None) -> Target:
        project = resolve_project(self.root, config_file=self.config, environ={})
        if database:
            project.deployment.database = database
        return Target(project)

    def filestore(self, name: str | None = None) -> Path:
        return self.data_dir / "filestore" / (name or self.db.name)

    def connect(self, name: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(pg.dsn_for(self.db.admin_dsn, name or self.db.name), autocommit=True)

    def add_files(self, count: int, *, size: int = 2000, prefix: str = "f") -> list[str]:
        """``count`` stored attachments (rows + files); returns their store_fname."""
        names = []
        with self.connect() as conn:
            for i in range(count):
                content = f"{prefix}-{i}-".encode() + os.urandom(size // 2) + b"x" * (size // 2)
                odoo_schema.add_attachment(
                    conn, f"{prefix}{i}.bin", content=content, filestore=self.filestore()
                )
                names.append(odoo_schema.store_fname_for(content)[0])
        return names


def write_config(root: Path, db: pg.OdooTestDb, extra: str = "") -> Path:
    config = root / "odoo-ops.toml"
    config.write_text(
        "[deployments.test]\n"
        f'dsn = "{db.dsn}"\n'
        'data_dir = "data"\n'
        'backup_dir = "backups"\n'
        "production = false\n"
        f"{extra}"
    )
    return config


@pytest.fixture
def backup_site(
    odoo_db: Callable[..., pg.OdooTestDb], tmp_path: Path
) -> Callable[..., BackupSite]:
    """Factory: ``backup_site(extra_config="")`` -> a seeded Odoo 18 site with a filestore."""

    def factory(extra_config: str = "", version: int = 18) -> BackupSite:
        db = odoo_db(version)
        root = tmp_path / f"site-{db.name[-6:]}"
        root.mkdir()
        data_dir = root / "data"
        db.write_filestore(data_dir)
        config = write_config(root, db, extra_config)
        return BackupSite(root, db, data_dir, root / "backups", config)

    return factory


def data_dump(dsn: str) -> dict[str, str]:
    """``pg_dump --data-only`` of a database, per object (``{"-- Name: …" header: block}``).

    Keyed by object so that the order pg_dump writes tables in (which follows
    their OIDs, new after a restore) does not matter; the rows and sequence
    values themselves must be identical.
    """
    out = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", "-d", dsn],
        capture_output=True, text=True, check=True,
    )
    blocks: dict[str, str] = {}
    key = "preamble"
    lines: list[str] = []
    for line in out.stdout.splitlines():
        if line.startswith(("-- Dumped", "\\restrict", "\\unrestrict")):
            continue
        if line.startswith(("-- Name: ", "-- Data for Name: ")):
            blocks[key] = "\n".join(lines)
            key, lines = line, []
            continue
        lines.append(line)
    blocks[key] = "\n".join(lines)
    return blocks


def tree_digest(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file below ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def age_keypair(directory: Path) -> tuple[Path, str, str]:
    """``(identity file, public key, secret key)`` made by the real age-keygen."""
    identity = directory / "backup.agekey"
    subprocess.run(["age-keygen", "-o", str(identity)], capture_output=True, check=True)
    text = identity.read_text()
    public = next(
        line.split(":", 1)[1].strip() for line in text.splitlines() if "public key" in line
    )
    secret = next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-"))
    return identity, public, secret
