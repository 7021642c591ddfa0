"""Backup format helpers: names, SHA256SUMS, listing, compression choice, Odoo manifest, age."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from odoo_ops.backup import crypto, layout
from odoo_ops.backup.odoo_zip import odoo_manifest
from odoo_ops.backup.pgtools import parse_compress, pg_env, resolve_compression
from odoo_ops.errors import ConfigError, UsageError


@pytest.mark.parametrize("name", ["db-20250101-000000", "prod.before-upgrade", "a_b"])
def test_valid_names(name: str) -> None:
    assert layout.check_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../x", "x.partial", "a b", "a..b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(UsageError):
        layout.check_name(name)


def test_sums_round_trip_and_sha256sum_compatible(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"alpha")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"beta")
    files = {}
    for rel in ("a", "d/b"):
        size, sha = layout.sha256_file(tmp_path / rel)
        files[rel] = {"size": size, "sha256": sha}
    text = layout.sums_bytes(files).decode()
    assert layout.parse_sums(text) == {k: v["sha256"] for k, v in files.items()}
    (tmp_path / "SHA256SUMS").write_text(text)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True)
    assert check.returncode == 0, check.stdout
    with pytest.raises(ValueError):
        layout.parse_sums("nothex  file\n")


def _fake_backup(root: Path, name: str, created: str) -> Path:
    path = root / name
    path.mkdir()
    data = valid_manifest(name, created)
    (path / layout.MANIFEST).write_text(json.dumps(data))
    (path / layout.SUMS).write_text("")
    return path


def valid_manifest(name: str, created: str = "2025-01-01T00:00:00Z") -> dict:
    """The smallest manifest odoo-ops accepts (one dump file, no filestore archive)."""
    return {
        "format": layout.FORMAT,
        "format_version": layout.FORMAT_VERSION,
        "name": name,
        "database": "db",
        "created_at": created,
        "tags": [],
        "dump": {"path": "db.dump", "format": "custom"},
        "filestore": {},
        "files": {"db.dump": {"size": 0, "sha256": "0" * 64}},
    }


def test_list_skips_partial_hidden_and_foreign(tmp_path: Path) -> None:
    _fake_backup(tmp_path, "new", "2025-02-01T00:00:00Z")
    _fake_backup(tmp_path, "old", "2025-01-01T00:00:00Z")
    _fake_backup(tmp_path, ".old.partial", "2025-01-03T00:00:00Z")
    (tmp_path / "other").mkdir()  # no manifest: not ours
    (tmp_path / "file.txt").write_text("x")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / layout.MANIFEST).write_text("{not json")
    entries = layout.list_backups(tmp_path)
    names = [e.name for e in entries]
    assert names[:2] == ["old", "new"]
    assert set(names) == {"old", "new", "broken"}
    (damaged,) = [e for e in entries if e.name == "broken"]
    assert damaged.manifest is None and "not valid JSON" in (damaged.error or "")


def test_status_update_is_merged(tmp_path: Path) -> None:
    layout.update_status(tmp_path, keep=True)
    layout.update_status(tmp_path, verify={"ok": True})
    assert layout.read_status(tmp_path) == {"keep": True, "verify": {"ok": True}}
    assert (tmp_path / layout.STATUS).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, (None, None)), ("zstd", ("zstd", None)), ("gzip:9", ("gzip", 9)),
     ("lz4:1", ("lz4", 1)), ("none", ("none", None))],
)
def test_parse_compress(value: str | None, expected: tuple) -> None:
    assert parse_compress(value) == expected


@pytest.mark.parametrize("value", ["bzip2", "gzip:10", "zstd:x", "zstd:0"])
def test_parse_compress_rejects(value: str) -> None:
    with pytest.raises(UsageError):
        parse_compress(value)


def test_compression_on_pg15_and_pg16() -> None:
    # pg_dump 15, directory: written uncompressed, data files zstd-compressed by odoo-ops
    auto15 = resolve_compression(None, "directory", 15, streamed=False)
    assert (auto15.pg_args, auto15.outer, auto15.data_files) == (["-Z", "0"], None, "zstd")
    assert (auto15.label, auto15.level) == ("zstd:1", 1)
    asked15 = resolve_compression("zstd:5", "directory", 15, streamed=False)
    assert (asked15.pg_args, asked15.data_files, asked15.level) == (["-Z", "0"], "zstd", 5)
    # ... a custom dump keeps gzip inside (pg_dump -Fc's own level)
    custom15 = resolve_compression(None, "custom", 15, streamed=False)
    assert (custom15.pg_args, custom15.data_files) == (["-Z", "6"], None)
    auto16 = resolve_compression(None, "directory", 16, streamed=False)
    assert (auto16.pg_args, auto16.data_files) == (["-Z", "zstd:3"], None)
    # zstd on pg_dump 15: streamed custom dumps go through the zstd tool
    stream = resolve_compression("zstd:5", "custom", 15, streamed=True)
    assert (stream.pg_args, stream.outer, stream.level) == (["-Z", "0"], "zstd", 5)
    # ... lz4 in a directory dump falls back to gzip level 1 and says so
    fallback = resolve_compression("lz4", "directory", 15, streamed=False)
    assert fallback.pg_args == ["-Z", "1"] and "gzip level 1" in fallback.notes[0]
    assert resolve_compression("gzip:4", "custom", 16, streamed=False).pg_args == [
        "-Z", "gzip:4"]
    assert resolve_compression("none", "custom", 15, streamed=False).pg_args == ["-Z", "0"]


def test_pg_env_keeps_the_password_out_of_argv() -> None:
    env = pg_env("postgresql://odoo:s3cr3t-pw@db.example:5433/prod?sslmode=require")
    assert env["PGPASSWORD"] == "s3cr3t-pw"
    assert env["PGHOST"] == "db.example" and env["PGPORT"] == "5433"
    assert env["PGUSER"] == "odoo" and env["PGSSLMODE"] == "require"
    assert "PGDATABASE" not in env
    assert "-c a=b" in pg_env("host=x", options="-c a=b")["PGOPTIONS"]


def test_odoo_manifest_fields() -> None:
    data = odoo_manifest(
        {"database": "prod", "series": "18.0", "postgresql": {"server_version": "15.20"},
         "modules": {"base": "18.0.1.3"}}
    )
    assert data == {
        "odoo_dump": "1",
        "db_name": "prod",
        "version": "18.0",
        "version_info": [18, 0, 0, "final", 0, ""],
        "major_version": "18.0",
        "pg_version": "15.0",  # what Odoo's own "%d.%d" % divmod(num / 100, 100) gives
        "modules": {"base": "18.0.1.3"},
    }


def test_age_recipients() -> None:
    key = "age1" + "q" * 58
    assert crypto.check_recipients([key]) == ["-r", key]
    with pytest.raises(ConfigError) as err:
        crypto.check_recipients(["AGE-SECRET-KEY-1" + "Q" * 58])
    assert "AGE-SECRET-KEY-1Q" not in err.value.message
    with pytest.raises(ConfigError):
        crypto.check_recipients([])
    with pytest.raises(ConfigError):
        crypto.check_recipients(["not-a-key"])
    with pytest.raises(ConfigError):
        crypto.decrypt_argv(None)


def test_extract_refuses_entries_leaving_the_tree(tmp_path: Path) -> None:
    import io
    import tarfile

    import zstandard

    from odoo_ops.backup import filestore

    def archive(*members: tarfile.TarInfo) -> io.BytesIO:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for m in members:
                tar.addfile(m, io.BytesIO(b"x" * m.size) if m.isreg() else None)
        return io.BytesIO(zstandard.ZstdCompressor().compress(raw.getvalue()))

    def reg(name: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = 1
        return info

    def sym(name: str, target: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        return info

    for i, bad in enumerate([reg("../escape"), reg("/etc/x"), reg("a/../../x"),
                             sym("l", "/etc"), sym("d/l", "../../x")]):
        with pytest.raises(filestore.UnsafeEntry):
            filestore.extract(archive(bad), tmp_path / f"out{i}")
    good = filestore.extract(archive(reg("ab/abc"), sym("ab/link", "abc")), tmp_path / "ok")
    assert good.files == 1 and (tmp_path / "ok/ab/abc").read_bytes() == b"x"
    assert (tmp_path / "ok/ab/link").resolve() == (tmp_path / "ok/ab/abc").resolve()
    assert not (tmp_path.parent / "escape").exists()
