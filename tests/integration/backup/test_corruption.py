"""Damaged backups: verify fails on every one and names the damaged file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support import pg

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.integrity import verify_entry
from odoo_ops.backup.layout import MANIFEST, SUMS, find_backup, manifest_bytes, sums_bytes

from .conftest import BackupSite, write_config

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def pristine(
    pg_databases: pg.DatabaseManager, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """Good backups made once for the module: directory (zstd data files), custom, and a
    directory dump gzipped by pg_dump (the format of earlier backups)."""
    db = pg_databases.odoo_db(18, True)
    root = tmp_path_factory.mktemp("corruption")
    data_dir = root / "data"
    db.write_filestore(data_dir)
    site = BackupSite(root, db, data_dir, root / "backups", write_config(root, db))
    site.add_files(30, size=4000)
    target = site.target()
    directory = create_backup(
        target, CreateOptions(name="dirformat", jobs=2, dump_format="directory")
    )
    custom = create_backup(target, CreateOptions(name="customformat", dump_format="custom"))
    gzipped = create_backup(
        target, CreateOptions(name="gzipdir", jobs=2, dump_format="directory", compress="gzip:6")
    )
    assert directory.path and custom.path and gzipped.path
    assert directory.manifest["dump"]["data_files"] == "zstd"
    assert "data_files" not in gzipped.manifest["dump"]
    yield {"directory": directory.path, "custom": custom.path, "gzipdir": gzipped.path}
    db.close_connections()
    pg_databases.drop(db.name)


def _data_files(backup: Path) -> list[Path]:
    return sorted(p for p in (backup / "db").glob("*.dat.*"))


def _flip(path: Path, where: float) -> None:
    data = bytearray(path.read_bytes())
    index = min(len(data) - 1, int(len(data) * where))
    data[index] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path: Path, keep: float | int) -> None:
    size = path.stat().st_size
    new = keep if isinstance(keep, int) and keep >= 0 else int(size * keep)
    if isinstance(keep, int) and keep < 0:
        new = size + keep
    with open(path, "r+b") as fh:
        fh.truncate(new)


def _append(path: Path, data: bytes = b"\0garbage") -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


Damage = Callable[[Path], str]  # damages a copy of a backup; returns the file to be named

CASES: dict[str, tuple[str, Damage]] = {
    # a byte flipped
    "flip-manifest-start": ("directory", lambda b: (_flip(b / MANIFEST, 0.0), MANIFEST)[1]),
    "flip-manifest-middle": ("directory", lambda b: (_flip(b / MANIFEST, 0.5), MANIFEST)[1]),
    "flip-manifest-end": ("directory", lambda b: (_flip(b / MANIFEST, 0.999), MANIFEST)[1]),
    "flip-sums-start": ("directory", lambda b: (_flip(b / SUMS, 0.0), SUMS)[1]),
    "flip-sums-middle": ("directory", lambda b: (_flip(b / SUMS, 0.3), SUMS)[1]),
    "flip-toc-start": ("directory", lambda b: (_flip(b / "db/toc.dat", 0.0), "db/toc.dat")[1]),
    "flip-toc-middle": ("directory", lambda b: (_flip(b / "db/toc.dat", 0.5), "db/toc.dat")[1]),
    "flip-toc-end": ("directory", lambda b: (_flip(b / "db/toc.dat", 0.999), "db/toc.dat")[1]),
    "flip-first-data": (
        "directory",
        lambda b: (_flip(_data_files(b)[0], 0.5), f"db/{_data_files(b)[0].name}")[1],
    ),
    "flip-last-data": (
        "directory",
        lambda b: (_flip(_data_files(b)[-1], 0.9), f"db/{_data_files(b)[-1].name}")[1],
    ),
    "flip-tar-start": (
        "directory", lambda b: (_flip(b / "filestore.tar.zst", 0.0), "filestore.tar.zst")[1]),
    "flip-tar-middle": (
        "directory", lambda b: (_flip(b / "filestore.tar.zst", 0.5), "filestore.tar.zst")[1]),
    "flip-tar-end": (
        "directory", lambda b: (_flip(b / "filestore.tar.zst", 0.999), "filestore.tar.zst")[1]),
    "flip-custom-dump": ("custom", lambda b: (_flip(b / "db.dump", 0.5), "db.dump")[1]),
    "flip-gzip-data": (
        "gzipdir",
        lambda b: (_flip(_data_files(b)[0], 0.5), f"db/{_data_files(b)[0].name}")[1],
    ),
    "flip-custom-tar": (
        "custom", lambda b: (_flip(b / "filestore.tar.zst", 0.7), "filestore.tar.zst")[1]),
    # truncated
    "truncate-manifest": ("directory", lambda b: (_truncate(b / MANIFEST, 0.5), MANIFEST)[1]),
    "truncate-sums": ("directory", lambda b: (_truncate(b / SUMS, -70), SUMS)[1]),
    "truncate-toc": ("directory", lambda b: (_truncate(b / "db/toc.dat", -1), "db/toc.dat")[1]),
    "truncate-data-empty": (
        "directory",
        lambda b: (_truncate(_data_files(b)[0], 0), f"db/{_data_files(b)[0].name}")[1],
    ),
    "truncate-tar-half": (
        "directory", lambda b: (_truncate(b / "filestore.tar.zst", 0.5), "filestore.tar.zst")[1]),
    "truncate-tar-one-byte": (
        "directory", lambda b: (_truncate(b / "filestore.tar.zst", -1), "filestore.tar.zst")[1]),
    "truncate-custom-dump": ("custom", lambda b: (_truncate(b / "db.dump", 0.9), "db.dump")[1]),
    # appended to
    "append-manifest": ("directory", lambda b: (_append(b / MANIFEST, b"\n"), MANIFEST)[1]),
    "append-sums-garbage": ("directory", lambda b: (_append(b / SUMS, b"oops\n"), SUMS)[1]),
    "append-sums-line": (
        "directory", lambda b: (_append(b / SUMS, b"0" * 64 + b"  ghost\n"), SUMS)[1]),
    "append-toc": ("directory", lambda b: (_append(b / "db/toc.dat"), "db/toc.dat")[1]),
    "append-data": (
        "directory",
        lambda b: (_append(_data_files(b)[1]), f"db/{_data_files(b)[1].name}")[1],
    ),
    "append-tar": (
        "directory", lambda b: (_append(b / "filestore.tar.zst"), "filestore.tar.zst")[1]),
    "append-custom-dump": ("custom", lambda b: (_append(b / "db.dump"), "db.dump")[1]),
    # deleted
    "delete-manifest": ("directory", lambda b: (_remove(b / MANIFEST), MANIFEST)[1]),
    "delete-sums": ("directory", lambda b: (_remove(b / SUMS), SUMS)[1]),
    "delete-toc": ("directory", lambda b: (_remove(b / "db/toc.dat"), "db/toc.dat")[1]),
    "delete-data": (
        "directory",
        lambda b: (f"db/{_data_files(b)[2].name}", _remove(_data_files(b)[2]))[0],
    ),
    "delete-tar": (
        "directory", lambda b: (_remove(b / "filestore.tar.zst"), "filestore.tar.zst")[1]),
    "delete-dump-dir": ("directory", lambda b: (_remove(b / "db"), "db/toc.dat")[1]),
    "delete-custom-dump": ("custom", lambda b: (_remove(b / "db.dump"), "db.dump")[1]),
    # added
    "add-top-file": ("directory", lambda b: ((b / "notes.txt").write_text("hi"), "notes.txt")[1]),
    "add-dump-file": (
        "directory", lambda b: ((b / "db/9999.dat.gz").write_bytes(b"x"), "db/9999.dat.gz")[1]),
    "add-dir-file": (
        "directory",
        lambda b: ((b / "extra").mkdir(), (b / "extra/x").write_text("x"), "extra/x")[2],
    ),
    "add-symlink": (
        "directory", lambda b: (os.symlink("/etc/passwd", b / "link"), "link")[1]),
    "add-owner-marker": ("directory", lambda b: ((b / ".owner").write_text("h 1"), ".owner")[1]),
    # replaced / renamed
    "zeroed-tar-same-size": (
        "directory",
        lambda b: (
            (b / "filestore.tar.zst").write_bytes(bytes((b / "filestore.tar.zst").stat().st_size)),
            "filestore.tar.zst",
        )[1],
    ),
    "renamed-toc": (
        "directory",
        lambda b: ((b / "db/toc.dat").rename(b / "db/toc.bak"), "db/toc.dat")[1],
    ),
    "tar-replaced-by-dir": (
        "directory",
        lambda b: (_remove(b / "filestore.tar.zst"), (b / "filestore.tar.zst").mkdir(),
                   "filestore.tar.zst")[2],
    ),
}


def test_there_are_at_least_thirty_variants() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_fails_and_names_the_file(
    pristine: dict[str, Path], tmp_path: Path, case: str
) -> None:
    kind, damage = CASES[case]
    copy = tmp_path / pristine[kind].name
    shutil.copytree(pristine[kind], copy, symlinks=True)
    assert verify_entry(find_backup(tmp_path, copy.name), record=False).ok  # the copy is good
    named = damage(copy)
    result = verify_entry(find_backup(tmp_path, copy.name), record=False)
    assert not result.ok
    assert named in [p.file for p in result.problems], result.problems


def _reseal(backup: Path, rel: str, mutate: Callable[[dict], None] | None = None) -> None:
    """Recompute the checksums of ``rel`` in the manifest and SHA256SUMS (a forged backup)."""
    manifest = json.loads((backup / MANIFEST).read_text())
    data = (backup / rel).read_bytes()
    manifest["files"][rel] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if mutate:
        mutate(manifest)
    raw = manifest_bytes(manifest)
    (backup / MANIFEST).write_bytes(raw)
    files = dict(manifest["files"])
    files[MANIFEST] = {"sha256": hashlib.sha256(raw).hexdigest()}
    (backup / SUMS).write_bytes(sums_bytes(files))


def test_deep_reads_the_filestore_entries(pristine: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "dirformat"
    shutil.copytree(pristine["directory"], copy)
    _truncate(copy / "filestore.tar.zst", 0.6)
    _reseal(copy, "filestore.tar.zst")
    assert verify_entry(find_backup(tmp_path, "dirformat"), record=False).ok  # checksums agree
    deep = verify_entry(find_backup(tmp_path, "dirformat"), deep=True, record=False)
    assert not deep.ok
    assert "filestore.tar.zst" in [p.file for p in deep.problems], deep.problems


def test_deep_compares_filestore_counts(pristine: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "dirformat"
    shutil.copytree(pristine["directory"], copy)

    def more_files(manifest: dict) -> None:
        manifest["filestore"]["files"] += 1

    _reseal(copy, "filestore.tar.zst", more_files)
    deep = verify_entry(find_backup(tmp_path, "dirformat"), deep=True, record=False)
    assert not deep.ok and "manifest says" in str(deep.problems[0])


def test_deep_reads_the_dump(pristine: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "customformat"
    shutil.copytree(pristine["custom"], copy)
    _flip(copy / "db.dump", 0.97)  # in the compressed table data, past the TOC
    _reseal(copy, "db.dump")
    assert verify_entry(find_backup(tmp_path, "customformat"), record=False).ok
    deep = verify_entry(find_backup(tmp_path, "customformat"), deep=True, record=False)
    assert not deep.ok and deep.problems[0].file == "db.dump", deep.problems


def test_a_good_backup_passes_deep(pristine: dict[str, Path]) -> None:
    for path in pristine.values():
        result = verify_entry(find_backup(path.parent, path.name), deep=True, record=False)
        assert result.ok, result.problems
        assert result.filestore_files and result.filestore_files >= 30
        assert result.table_data_entries and result.table_data_entries > 10


def test_deep_decompresses_every_data_file(pristine: dict[str, Path], tmp_path: Path) -> None:
    """A zstd data file damaged before its checksum was taken: the frame check names it."""
    copy = tmp_path / "dirformat"
    shutil.copytree(pristine["directory"], copy)
    largest = max(_data_files(copy), key=lambda p: p.stat().st_size)
    assert largest.name.endswith(".dat.zst")
    _flip(largest, 0.5)
    rel = f"db/{largest.name}"
    _reseal(copy, rel)
    assert verify_entry(find_backup(tmp_path, "dirformat"), record=False).ok  # checksums agree
    deep = verify_entry(find_backup(tmp_path, "dirformat"), deep=True, record=False)
    assert not deep.ok
    assert deep.problems[0].file == rel and "decompressed" in str(deep.problems[0]), deep.problems
