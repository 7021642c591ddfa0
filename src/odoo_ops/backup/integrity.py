"""``backup verify``: every file present, whole and unaltered; ``--deep`` reads it all.

Quick verification compares the backup directory with its manifest and
``SHA256SUMS``: a missing, extra, truncated, grown or altered file fails and
is named. Deep verification also lists the dump's table of contents
(``pg_restore -l``), reads every data block of the dump (``pg_restore -f
/dev/null``) and reads every entry of the filestore archive, checking the
counts against the manifest.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops import childproc
from odoo_ops.backup import filestore
from odoo_ops.backup.layout import (
    MANIFEST,
    OWNER_FILE,
    SUMS,
    UNCHECKED,
    BackupEntry,
    iso,
    member_path,
    parse_sums,
    read_small_file,
    sha256_file,
    update_status,
    utcnow,
)
from odoo_ops.backup.pgtools import outer_decompress_argv, tool
from odoo_ops.backup.streams import FilterSource, ProcessChain, StreamError
from odoo_ops.errors import OpsError
from odoo_ops.names import InvalidName, check_relative


@dataclass
class Problem:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class VerifyResult:
    name: str
    ok: bool
    deep: bool
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    toc_entries: int | None = None
    table_data_entries: int | None = None
    filestore_files: int | None = None
    filestore_bytes: int | None = None
    duration: float = 0.0
    notes: list[str] = field(default_factory=list)


_STATUS_TEMP = re.compile(r"\.status\.json\.[^/]+\.tmp")


def _actual_files(root: Path, directories: set[str] | None = None) -> dict[str, Path]:
    """Every entry of the backup directory that is not a real directory (links included).

    Real subdirectories go into ``directories`` when given. Links are never
    followed, so nothing outside the backup is looked at.
    """
    out: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in dirnames:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = path
            elif directories is not None:
                directories.add(rel)
        for name in filenames:
            path = base / name
            out[path.relative_to(root).as_posix()] = path
    return out


def _parents(rel: str) -> set[str]:
    parts = rel.split("/")[:-1]
    return {"/".join(parts[: i + 1]) for i in range(len(parts))}


def verify_entry(
    entry: BackupEntry,
    *,
    deep: bool = False,
    identity_file: str | None = None,
    project_root: Path | None = None,
    record: bool = True,
    hash_data: bool = True,
) -> VerifyResult:
    """Verify one backup; record the outcome in its ``status.json`` when ``record``.

    ``hash_data=False``: everything but the sha256 of the data files (the
    manifest and SHA256SUMS are still hashed and compared) — for a restore,
    which hashes the data files on the bytes it reads anyway
    (:func:`~odoo_ops.backup.restore.load_copy`).
    """
    start = time.monotonic()
    result = VerifyResult(entry.name, ok=False, deep=deep)
    problems = result.problems
    root = entry.path
    if root.is_symlink():
        problems.append(Problem(root.name, "is a symbolic link, not a backup directory"))
        return _finish(result, root, deep, start, record=False)
    directories: set[str] = set()
    actual = _actual_files(root, directories)
    for special in UNCHECKED:
        actual.pop(special, None)
    for name in [n for n in actual if _STATUS_TEMP.fullmatch(n)]:
        # a status.json update killed half-way (atomic write): not part of the backup
        actual.pop(name)
    # the manifest and SHA256SUMS
    manifest = entry.manifest
    if manifest is None:
        problems.append(Problem(MANIFEST, entry.error or "unreadable"))
    sums: dict[str, str] | None = None
    if SUMS not in actual:
        problems.append(Problem(SUMS, "missing"))
    else:
        try:
            sums = parse_sums(read_small_file(actual[SUMS]).decode("utf-8"))
        except OSError as exc:
            problems.append(Problem(SUMS, f"cannot be read ({exc.strerror})"))
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(Problem(SUMS, f"damaged ({exc})"))
    if sums is not None:
        for rel in sorted(sums):
            try:
                check_relative(rel, "lists")
            except InvalidName as exc:
                problems.append(Problem(SUMS, exc.message))
                sums = None
                break
    if sums is not None and MANIFEST in actual:
        expected = sums.get(MANIFEST)
        try:
            got: str | None = hashlib.sha256(read_small_file(actual[MANIFEST])).hexdigest()
        except OSError as exc:
            got = None
            problems.append(Problem(MANIFEST, f"cannot be read ({exc.strerror})"))
        if expected is None:
            problems.append(Problem(SUMS, f"has no line for {MANIFEST}"))
        elif got is not None and got != expected:
            problems.append(Problem(MANIFEST, "altered (sha256 differs from SHA256SUMS)"))
    listed: dict[str, dict[str, Any]] = manifest.files if manifest else {}
    if sums is not None and manifest is not None:
        for rel in sorted(set(sums) | set(listed)):
            if rel == MANIFEST:
                continue
            if rel not in listed:
                problems.append(Problem(SUMS, f"lists {rel}, which the manifest does not"))
            elif rel not in sums:
                problems.append(Problem(SUMS, f"has no line for {rel}"))
            elif sums[rel] != listed[rel].get("sha256"):
                problems.append(Problem(SUMS, f"disagrees with {MANIFEST} about {rel}"))
    # every file against the manifest (or SHA256SUMS when the manifest is unusable)
    expected_files: dict[str, dict[str, Any]] = dict(listed)
    if manifest is None and sums is not None:
        expected_files = {p: {"sha256": h} for p, h in sums.items() if p != MANIFEST}
    for rel in sorted(expected_files):
        info = expected_files[rel]
        path = actual.get(rel)
        if path is None:
            problems.append(Problem(rel, "missing"))
            continue
        if path.is_symlink() or not path.is_file():
            problems.append(Problem(rel, "is not a regular file"))
            continue
        size = path.stat().st_size
        want_size = info.get("size")
        if want_size is not None and size != int(want_size):
            kind = "truncated" if size < int(want_size) else "grown"
            problems.append(Problem(rel, f"{kind}: {size} bytes, manifest says {want_size}"))
            continue
        if not hash_data:
            continue
        _, digest = sha256_file(path)
        result.files_checked += 1
        result.bytes_checked += size
        if digest != info.get("sha256"):
            problems.append(Problem(rel, "altered (sha256 differs from the manifest)"))
    known = set(expected_files) | {MANIFEST, SUMS}
    for rel in sorted(set(actual) - known):
        if rel == OWNER_FILE:
            problems.append(Problem(rel, "unfinished backup marker present"))
        else:
            problems.append(Problem(rel, "unexpected file (not in the manifest)"))
    wanted_dirs: set[str] = set()
    for rel in expected_files:
        wanted_dirs |= _parents(rel)
    for rel in sorted(directories - wanted_dirs):
        problems.append(Problem(rel, "unexpected directory (not in the manifest)"))
    if deep and not problems and manifest is not None:
        try:
            _deep(entry, result, identity_file, project_root)
        except OpsError as exc:
            problems.append(Problem(str(manifest.dump.get("path", "?")), exc.message))
    return _finish(result, root, deep, start, record)


def _finish(
    result: VerifyResult, root: Path, deep: bool, start: float, record: bool
) -> VerifyResult:
    problems = result.problems
    result.ok = not problems
    result.duration = round(time.monotonic() - start, 3)
    if record:
        try:
            update_status(
                root,
                verify={
                    "at": iso(utcnow()),
                    "ok": result.ok,
                    "deep": deep,
                    "problems": [str(p) for p in problems][:20],
                },
            )
        except OpsError:
            result.notes.append("could not record the result in status.json")
    return result


def _decrypt(manifest: Any, identity_file: str | None, root: Path | None) -> list[list[str]]:
    if not manifest.encrypted:
        return []
    from odoo_ops.backup import crypto

    return [crypto.decrypt_argv(identity_file, root)]


def _deep(
    entry: BackupEntry, result: VerifyResult, identity_file: str | None, root: Path | None
) -> None:
    manifest = entry.manifest
    assert manifest is not None
    dump = manifest.dump
    dump_path = member_path(entry, str(dump.get("path")))
    filters = _decrypt(manifest, identity_file, root)
    if dump.get("outer_compression"):
        filters.append(outer_decompress_argv(str(dump["outer_compression"])))
    # 1. table of contents
    toc = _pg_restore_output(["-l"], dump_path, filters)
    lines = [ln for ln in toc.splitlines() if ln and not ln.startswith(";")]
    result.toc_entries = len(lines)
    result.table_data_entries = sum(1 for ln in lines if " TABLE DATA " in ln)
    if not lines:
        result.problems.append(
            Problem(str(dump.get("path")), "the dump's table of contents is empty")
        )
        return
    # 2. every data block, decompressed and discarded
    if dump.get("data_files"):
        # compressed by odoo-ops: every zstd frame, with its content checksum
        from odoo_ops.backup import datafiles

        for name, why in datafiles.check_frames(dump_path):
            result.problems.append(Problem(f"{dump.get('path')}/{name}", why))
        if result.problems:
            return
    else:
        _pg_restore_output(["-f", os.devnull], dump_path, filters)
    # 3. every filestore entry
    fs = manifest.filestore
    fs_rel = str(fs.get("path") or "")
    if fs_rel:
        source = FilterSource(member_path(entry, fs_rel), _decrypt(manifest, identity_file, root))
        try:
            stats, _ = filestore.scan(source)
        except StreamError as exc:
            source.close(check=False)
            result.problems.append(Problem(fs_rel, exc.message))
            return
        except Exception as exc:  # zstd / tar damage
            source.close(check=False)
            result.problems.append(Problem(fs_rel, f"cannot be read: {exc}"))
            return
        try:
            source.close()
        except StreamError as exc:
            result.problems.append(Problem(fs_rel, exc.message))
            return
        result.filestore_files, result.filestore_bytes = stats.files, stats.bytes
        if stats.files != fs.get("files") or stats.bytes != fs.get("bytes"):
            result.problems.append(
                Problem(
                    fs_rel,
                    f"holds {stats.files} files / {stats.bytes} bytes, manifest says "
                    f"{fs.get('files')} / {fs.get('bytes')}",
                )
            )


def _pg_restore_output(args: list[str], dump_path: Path, filters: list[list[str]]) -> str:
    argv = [tool("pg_restore"), *args]
    if not filters:
        proc = childproc.run([*argv, str(dump_path)], capture_output=True, check=False)
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise OpsError(f"pg_restore {' '.join(args)} failed: {err[-1] if err else ''}")
        return proc.stdout.decode("utf-8", "replace") if args == ["-l"] else ""
    with open(dump_path, "rb") as fh:
        chain = ProcessChain([*filters, argv], stdin=fh)
        assert chain.stdout is not None
        out = chain.stdout.read()
        try:
            chain.wait(early_exit_ok=args == ["-l"])
        except StreamError as exc:
            raise OpsError(exc.message) from None
    return out.decode("utf-8", "replace") if args == ["-l"] else ""
