"""``odoo_ops.fileutil.write_output``: a file the user names is written, never blindly replaced."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_ops.errors import OpsError
from odoo_ops.fileutil import check_output_path, open_output, show_path, write_output


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_writes_a_new_file_with_the_mode_and_no_temporary_left(tmp_path: Path) -> None:
    path = write_output(tmp_path / "report.md", "hello\n")
    assert path == tmp_path / "report.md"
    assert (tmp_path / "report.md").read_text() == "hello\n"
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o644
    write_output(tmp_path / "private.zip", b"PK", mode=0o600)
    assert stat.S_IMODE((tmp_path / "private.zip").stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_replacing_a_regular_file_keeps_its_mode_but_never_widens_a_private_one(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.md"
    report.write_text("old")
    report.chmod(0o640)
    write_output(report, "new")
    assert report.read_text() == "new"
    assert stat.S_IMODE(report.stat().st_mode) == 0o640
    export = tmp_path / "export.zip"
    export.write_text("old")
    export.chmod(0o644)
    write_output(export, "new", mode=0o600)
    assert stat.S_IMODE(export.stat().st_mode) == 0o600


@pytest.fixture
def specials(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """One of each thing at an output path that must not be written."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "link-to-file").symlink_to(victim)
    (tmp_path / "link-to-null").symlink_to("/dev/null")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    yield {
        "a symbolic link": tmp_path / "link-to-file",
        "a symbolic link ": tmp_path / "link-to-null",
        "a symbolic link  ": tmp_path / "dangling",
        "a FIFO": tmp_path / "fifo",
        "a directory": tmp_path / "dir",
        "a socket": tmp_path / "sock",
        "a character device": Path("/dev/null"),
        "a character device ": Path("/dev/full"),
    }
    sock.close()


def test_non_regular_targets_are_refused_and_left_as_they_were(
    tmp_path: Path, specials: dict[str, Path]
) -> None:
    for kind, path in specials.items():
        before = os.lstat(path)
        with pytest.raises(OpsError) as err:
            write_output(path, "x")
        message = err.value.message
        assert kind.strip() in message and str(path) in message and "nothing written" in message
        assert "\n" not in message
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode,
            before.st_ino,
            before.st_rdev,
        ), kind
    assert (tmp_path / "victim.txt").read_text() == "keep me"
    assert not (tmp_path / "nowhere").exists()
    assert leftovers(tmp_path) == []


def test_a_missing_directory_is_refused_unless_asked_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(OpsError, match=r"directory .*/missing/deeper does not exist"):
        write_output(tmp_path / "missing" / "deeper" / "out.txt", "x")
    assert not (tmp_path / "missing").exists()
    write_output(tmp_path / "made" / "out.txt", "x", create_parents=True)
    assert (tmp_path / "made" / "out.txt").read_text() == "x"
    (tmp_path / "afile").write_text("")
    with pytest.raises(OpsError, match=r"(?i)not a directory"):
        write_output(tmp_path / "afile" / "out.txt", "x")


@pytest.mark.parametrize("length", [300, 100_000])
def test_names_too_long_and_proc_are_errors(tmp_path: Path, length: int) -> None:
    with pytest.raises(OpsError, match="File name too long") as err:
        write_output(tmp_path / ("n" * length), "x")
    assert len(err.value.message) < 400  # shortened for a one-line message
    with pytest.raises(OpsError, match="cannot write /proc/self/x"):
        write_output("/proc/self/x", "x")


def test_a_name_near_the_limit_still_gets_a_temporary_name(tmp_path: Path) -> None:
    name = "r" * 250  # the temporary ".<name>.XXXX.tmp" must not exceed NAME_MAX
    write_output(tmp_path / name, "ok")
    assert (tmp_path / name).read_text() == "ok"


def test_stdout_only_where_allowed(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert write_output("-", "to stdout\n", allow_stdout=True) is None
    assert capfd.readouterr().out == "to stdout\n"
    with pytest.raises(OpsError, match="standard output"):
        write_output("-", "x")


def test_show_path_keeps_messages_on_one_line() -> None:
    assert show_path("a\nb") == "a\\nb"
    assert "(100000 characters)" in show_path("x" * 100_000)


def test_check_output_path_for_directories(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert check_output_path(tmp_path / "empty", directory=True)[1] is not None
    assert check_output_path(tmp_path / "new", directory=True) == (tmp_path / "new", None)
    (tmp_path / "file").write_text("")
    with pytest.raises(OpsError, match="it is a regular file"):
        check_output_path(tmp_path / "file", directory=True)
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    with pytest.raises(OpsError, match="it is a symbolic link"):
        check_output_path(tmp_path / "link", directory=True)


def test_an_error_inside_the_block_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.zip"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), open_output(target) as fh:
        fh.write(b"partial")
        raise RuntimeError("the export failed")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []
    with open_output(target, mode=0o600) as fh, zipfile.ZipFile(fh, "w") as zf:
        zf.writestr("a.txt", "a")  # zipfile seeks in the temporary file
    assert zipfile.ZipFile(target).read("a.txt") == b"a"


def test_a_target_swapped_for_a_link_while_writing_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    with pytest.raises(OpsError, match="symbolic link"), open_output(target) as fh:
        fh.write(b"data")
        target.symlink_to(victim)  # another process races us
    assert target.is_symlink() and victim.read_text() == "keep"
    assert leftovers(tmp_path) == []


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a real ENOSPC (needs root and mount)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_full_disk_is_an_error_and_leaves_the_old_file_and_no_temporary(tiny_fs: Path) -> None:
    target = tiny_fs / "metrics.prom"
    target.write_text("old")
    with pytest.raises(OpsError, match="No space left on device") as err:
        write_output(target, b"x" * 512 * 1024)
    assert "nothing written" in err.value.message
    assert target.read_text() == "old"
    assert sorted(p.name for p in tiny_fs.iterdir()) == ["metrics.prom"]
