"""Data files compressed while a process writes them, and decompressed for a restore."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from odoo_ops.backup import datafiles
from odoo_ops.errors import OpsError

# writes each file of argv in slices, pausing between them, holding it open meanwhile
WRITER = r"""
import os, sys, time
for index, name in enumerate(sys.argv[1:]):
    with open(name, "wb") as fh:
        for part in range(6):
            fh.write(os.urandom(1000) * 300 + bytes([index, part]) * 5000)
            fh.flush()
            time.sleep(0.15)
"""


def _content(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return zstandard.ZstdDecompressor().stream_reader(fh).read()


def _writer(dump: Path, names: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITER, *[str(dump / n) for n in names]])


def test_follows_files_while_they_are_written(tmp_path: Path) -> None:
    dump = tmp_path / "db"
    dump.mkdir()
    keep = tmp_path / "copies"
    keep.mkdir()
    proc = _writer(dump, ["3001.dat", "3002.dat"])
    compressor = datafiles.DumpCompressor(dump, proc.pid, 1)
    # the first file is compressed while the writer still works on the second
    deadline = time.monotonic() + 20
    while "3001.dat.zst" not in compressor.result.digests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "3001.dat.zst" in compressor.result.digests
    assert proc.poll() is None
    assert proc.wait(timeout=30) == 0
    raws = {n: (dump / n).read_bytes() for n in ("3001.dat", "3002.dat")}
    (dump / "toc.dat").write_bytes(b"toc")
    result = compressor.finish()
    assert sorted(os.listdir(dump)) == ["3001.dat.zst", "3002.dat.zst", "toc.dat"]
    assert result.raw_bytes == sum(len(v) for v in raws.values())
    assert compressor.recompressed == []
    for name, raw in raws.items():
        assert _content(dump / f"{name}.zst") == raw
        digest = result.digests[f"{name}.zst"]
        assert digest.size == (dump / f"{name}.zst").stat().st_size


def test_a_file_ended_too_early_is_compressed_again(tmp_path: Path) -> None:
    """If the open-file check is wrong (here: the pid of a process that is not the
    writer), the sizes compared at the end catch it and the file is redone whole."""
    dump = tmp_path / "db"
    dump.mkdir()
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = _writer(dump, ["4001.dat"])
        compressor = datafiles.DumpCompressor(dump, bystander.pid, 1)
        assert proc.wait(timeout=30) == 0
        raw = (dump / "4001.dat").read_bytes()
        result = compressor.finish()
    finally:
        bystander.kill()
        bystander.wait()
    assert compressor.recompressed == ["4001.dat"]
    assert _content(dump / "4001.dat.zst") == raw
    assert result.raw_bytes == len(raw)
    assert not (dump / "4001.dat").exists()


def test_materialize_decompresses_and_hashes_the_bytes_read(tmp_path: Path) -> None:
    dump = tmp_path / "db"
    dump.mkdir()
    proc = _writer(dump, ["5001.dat", "blob_77.dat"])
    compressor = datafiles.DumpCompressor(dump, proc.pid, 3)
    assert proc.wait(timeout=30) == 0
    raws = {n: (dump / n).read_bytes() for n in ("5001.dat", "blob_77.dat")}
    (dump / "toc.dat").write_bytes(b"table of contents")
    made = compressor.finish()
    out = datafiles.materialize(dump, tmp_path / "work", jobs=2, hashed=True)
    assert out.failed is None
    assert sorted(os.listdir(out.path)) == ["5001.dat", "blob_77.dat", "toc.dat"]
    for name, raw in raws.items():
        assert (out.path / name).read_bytes() == raw
        assert out.digests[f"{name}.zst"] == made.digests[f"{name}.zst"]
    assert (out.path / "toc.dat").read_bytes() == b"table of contents"
    assert out.digests["toc.dat"].size == len(b"table of contents")


def test_a_damaged_frame_is_named(tmp_path: Path) -> None:
    dump = tmp_path / "db"
    dump.mkdir()
    (dump / "6001.dat.zst").write_bytes(
        zstandard.ZstdCompressor(write_checksum=True).compress(os.urandom(50_000) * 4)
    )
    data = bytearray((dump / "6001.dat.zst").read_bytes())
    data[len(data) // 2] ^= 0x40
    (dump / "6001.dat.zst").write_bytes(bytes(data))
    out = datafiles.materialize(dump, tmp_path / "work", jobs=2, hashed=True)
    assert out.failed and out.failed.startswith("6001.dat.zst: ")
    assert datafiles.check_frames(dump)[0][0] == "6001.dat.zst"


def test_restore_workdir_needs_room_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    stale = tmp_path / f"{datafiles.WORKDIR_PREFIX}old"
    stale.mkdir()
    (stale / ".owner").write_text("some-other-host 1\n")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    with datafiles.restore_workdir(1024, None) as work:
        assert work.parent == tmp_path and work.is_dir()
        assert not stale.exists()  # left by a killed restore: removed
    assert not work.exists()
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    with (
        pytest.raises(OpsError, match=r"needs .* GiB of temporary space"),
        datafiles.restore_workdir(free * 4, None),
    ):
        pass  # pragma: no cover
