"""Off-site copies for real: a second directory (and a full one), sshd, an S3 server.

Every kind: push is atomic (a killed push never looks complete), resumable,
verified against the manifest; pull is verified on arrival; a damaged remote
copy is named by verify.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.remote_servers import (  # noqa: F401 - fixtures
    S3Server,
    SshServer,
    s3_server,
    sshd_no_openssl,
    sshd_no_rsync,
    sshd_rsync,
)

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.layout import BackupEntry, find_backup, remove_tree
from odoo_ops.backup.remotes import find_config, open_remote
from odoo_ops.backup.remotes.base import RemoteError, wanted_files
from odoo_ops.backup.remotes.ops import prune_remote, pull_backup, push_backup
from odoo_ops.errors import OpsError

from .conftest import BackupSite

pytestmark = pytest.mark.pg


def _remote_toml(name: str, url: str, extra: str = "") -> str:
    return f'[[backup.remotes]]\nname = "{name}"\nurl = "{url}"\n{extra}'


def _backup(site: BackupSite, *, big_mib: int = 0, name: str | None = None) -> BackupEntry:
    if big_mib:
        site.add_files(big_mib, size=1 << 20, prefix=f"big{name or ''}")
    created = create_backup(site.target(), CreateOptions(name=name))
    assert created.path is not None
    return find_backup(site.backup_dir, created.name)


def _cli(site: BackupSite, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    assert exe
    return subprocess.run(
        [exe, *args], cwd=site.root, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def _roundtrip(site: BackupSite, remote_name: str) -> None:
    """push, list, already-there, verify, pull into an empty backup_dir, verify locally."""
    target = site.target()
    entry = _backup(site)
    cfg = find_config(target, remote_name)
    result = push_backup(target, entry, cfg)
    assert result.verified and result.files_sent >= 3 and result.bytes_sent > 0
    remote = open_remote(target, cfg)
    copies = remote.copies()
    assert [c.name for c in copies] == [entry.name]
    assert copies[0].database == site.db.name and copies[0].error is None
    assert remote.verify(entry.name, wanted_files(entry)) == []
    record = find_backup(site.backup_dir, entry.name).status["remotes"][remote_name]
    assert record["verified"] is True and record["bytes"] == result.bytes_total
    assert "pushed_at" in record and "seconds" in record
    again = push_backup(target, find_backup(site.backup_dir, entry.name), cfg)
    assert again.already_there and again.bytes_sent == 0
    listed = _cli(site, "backup", "list")
    assert listed.returncode == 0 and remote_name in listed.stdout
    # the server is gone: pull it back, verified on arrival
    remove_tree(entry.path)
    pulled = pull_backup(target, entry.name, cfg)
    assert pulled.manifest is not None and pulled.verified and pulled.verified["ok"]
    assert pulled.status["pulled_from"]["remote"] == remote_name
    verify = _cli(site, "backup", "verify", entry.name)
    assert verify.returncode == 0, verify.stdout + verify.stderr


# -- file:// -----------------------------------------------------------------


def test_file_remote_roundtrip(backup_site: Callable[..., BackupSite], tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    site = backup_site(_remote_toml("nas", f"file://{nas}"))
    _roundtrip(site, "nas")
    assert not [p for p in nas.iterdir() if p.name.startswith(".")]  # no partial left


def test_file_remote_damaged_copy_is_named(
    backup_site: Callable[..., BackupSite], tmp_path: Path
) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    site = backup_site(_remote_toml("nas", f"file://{nas}"))
    entry = _backup(site)
    cfg = find_config(site.target(), "nas")
    push_backup(site.target(), entry, cfg)
    victim = nas / entry.name / "filestore.tar.zst"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    problems = open_remote(site.target(), cfg).verify(entry.name, wanted_files(entry))
    assert problems == ["filestore.tar.zst: altered (sha256 differs from the manifest)"]
    # and a pull refuses it
    remove_tree(entry.path)
    with pytest.raises(RemoteError, match=r"fails verification on arrival.*filestore\.tar\.zst"):
        pull_backup(site.target(), entry.name, cfg)
    assert not (site.backup_dir / entry.name).exists()
    assert not [p for p in site.backup_dir.iterdir() if p.name.startswith(".")]


def test_require_encryption_refuses_a_plain_backup(
    backup_site: Callable[..., BackupSite], tmp_path: Path
) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    site = backup_site(_remote_toml("nas", f"file://{nas}", "require_encryption = true\n"))
    entry = _backup(site)
    proc = _cli(site, "backup", "push", entry.name)
    assert proc.returncode == 1
    assert "requires encrypted backups" in proc.stderr and "Traceback" not in proc.stderr
    assert list(nas.iterdir()) == []


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
    )
    return proc.returncode == 0


def test_file_remote_full_disk(backup_site: Callable[..., BackupSite], tmp_path: Path) -> None:
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "1m"):
        pytest.skip("cannot mount a small tmpfs here (needs root and mount permission)")
    try:
        site = backup_site(_remote_toml("small", f"file://{small}"))
        entry = _backup(site, big_mib=3)
        proc = _cli(site, "backup", "push", entry.name)
        assert proc.returncode == 1
        assert "No space left on device" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert open_remote(site.target(), find_config(site.target(), "small")).copies() == []
        assert "remotes" not in find_backup(site.backup_dir, entry.name).status
    finally:
        subprocess.run(["umount", str(small)], check=False)


def _kill_during(site: BackupSite, args: list[str], delay: float) -> None:
    exe = shutil.which("odoo-ops")
    assert exe
    proc = subprocess.Popen(
        [exe, *args], cwd=site.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_file_push_killed_never_looks_complete(
    backup_site: Callable[..., BackupSite], tmp_path: Path
) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    site = backup_site(_remote_toml("nas", f"file://{nas}"))
    entry = _backup(site, big_mib=2)
    remote = open_remote(site.target(), find_config(site.target(), "nas"))
    for delay in (0.3, 0.9, 1.6):
        _kill_during(site, ["backup", "push", entry.name, "--bwlimit", "1024"], delay)
        copies = remote.copies()
        # either not there at all, or complete and whole
        assert all(c.name == entry.name for c in copies)
        if copies:
            assert remote.verify(entry.name, wanted_files(entry)) == []
    proc = _cli(site, "backup", "push", entry.name)
    assert proc.returncode == 0, proc.stderr
    assert remote.verify(entry.name, wanted_files(entry)) == []


# -- ssh:// ------------------------------------------------------------------


def _ssh_site(
    backup_site: Callable[..., BackupSite], server: SshServer, name: str
) -> BackupSite:
    root = server.root / name
    url = f"ssh://{server.user}@127.0.0.1:{server.port}{root}"
    return backup_site(_remote_toml("off", url, server.options_toml()))


@pytest.mark.parametrize("flavour", ["rsync", "sftp"])
def test_ssh_remote_roundtrip(
    backup_site: Callable[..., BackupSite],
    sshd_rsync: SshServer,  # noqa: F811
    sshd_no_rsync: SshServer,  # noqa: F811
    flavour: str,
) -> None:
    server = sshd_rsync if flavour == "rsync" else sshd_no_rsync
    site = _ssh_site(backup_site, server, f"rt-{flavour}")
    remote = open_remote(site.target(), find_config(site.target(), "off"))
    assert remote.check().endswith(f"via {flavour}")
    _roundtrip(site, "off")


@pytest.mark.parametrize("flavour", ["rsync", "sftp"])
def test_ssh_resume_and_damage(
    backup_site: Callable[..., BackupSite],
    sshd_rsync: SshServer,  # noqa: F811
    sshd_no_rsync: SshServer,  # noqa: F811
    flavour: str,
) -> None:
    server = sshd_rsync if flavour == "rsync" else sshd_no_rsync
    site = _ssh_site(backup_site, server, f"dmg-{flavour}")
    entry = _backup(site)
    target = site.target()
    cfg = find_config(target, "off")
    # an earlier run that got the dump across, then died: the copy is not listed
    partial = server.root / f"dmg-{flavour}" / f".{entry.name}.partial"
    dump_rel = str(entry.manifest.dump["path"]) if entry.manifest else ""
    src = entry.path / dump_rel
    (partial / Path(dump_rel).parent).mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, partial / dump_rel)
    else:
        shutil.copy2(src, partial / dump_rel)
    remote = open_remote(target, cfg)
    assert remote.copies() == []
    result = push_backup(target, entry, cfg)
    assert result.verified
    if flavour == "sftp":
        assert result.files_skipped >= 1  # the dump was not sent again
    # a damaged copy on the server is named by verify
    victim = server.root / f"dmg-{flavour}" / entry.name / "filestore.tar.zst"
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    assert remote.verify(entry.name, wanted_files(entry)) == [
        "filestore.tar.zst: altered (sha256 differs from the manifest)"
    ]


def test_ssh_rsync_damaged_leftover_is_caught_then_sent_again(
    backup_site: Callable[..., BackupSite],
    sshd_rsync: SshServer,  # noqa: F811
) -> None:
    """A file left by an earlier run with the right size and mtime but other bytes:
    rsync's quick check skips it, the remote session hashes it once rsync is done,
    the comparison here names it; nothing is published, the file is dropped, the
    re-run sends it."""
    site = _ssh_site(backup_site, sshd_rsync, "leftover")
    entry = _backup(site, big_mib=3)
    cfg = find_config(site.target(), "off")
    partial = sshd_rsync.root / "leftover" / f".{entry.name}.partial"
    partial.mkdir(parents=True)
    victim = partial / "filestore.tar.zst"
    src = entry.path / "filestore.tar.zst"
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    shutil.copystat(src, victim)
    with pytest.raises(RemoteError) as caught:
        push_backup(site.target(), entry, cfg)
    assert "filestore.tar.zst: altered" in caught.value.message
    remote = open_remote(site.target(), cfg)
    assert remote.copies() == []  # nothing published
    assert not victim.exists()  # dropped: the next run sends it
    again = push_backup(site.target(), find_backup(site.backup_dir, entry.name), cfg)
    assert again.verified
    assert [c.name for c in remote.copies()] == [entry.name]
    assert remote.verify(entry.name, wanted_files(entry)) == []


def test_ssh_rsync_without_openssl_hashes_with_sha256sum(
    backup_site: Callable[..., BackupSite],
    sshd_no_openssl: SshServer,  # noqa: F811
) -> None:
    """The remote session falls back to coreutils' sha256sum: the push is verified all
    the same, and a damaged leftover of an earlier run is still named."""
    site = _ssh_site(backup_site, sshd_no_openssl, "no-openssl")
    remote = open_remote(site.target(), find_config(site.target(), "off"))
    assert remote.check().endswith("via rsync")
    entry = _backup(site, big_mib=3)
    partial = sshd_no_openssl.root / "no-openssl" / f".{entry.name}.partial"
    partial.mkdir(parents=True)
    victim = partial / "filestore.tar.zst"
    src = entry.path / "filestore.tar.zst"
    data = bytearray(src.read_bytes())
    data[len(data) // 3] ^= 0x01
    victim.write_bytes(bytes(data))
    shutil.copystat(src, victim)
    cfg = find_config(site.target(), "off")
    with pytest.raises(RemoteError) as caught:
        push_backup(site.target(), entry, cfg)
    assert "filestore.tar.zst: altered" in caught.value.message
    assert remote.copies() == []
    result = push_backup(site.target(), find_backup(site.backup_dir, entry.name), cfg)
    assert result.verified and result.files_sent >= 1
    assert [c.name for c in remote.copies()] == [entry.name]
    assert remote.verify(entry.name, wanted_files(entry)) == []
    remote.close()


@pytest.mark.parametrize("flavour", ["rsync", "sftp"])
def test_ssh_push_killed_never_looks_complete(
    backup_site: Callable[..., BackupSite],
    sshd_rsync: SshServer,  # noqa: F811
    sshd_no_rsync: SshServer,  # noqa: F811
    flavour: str,
) -> None:
    server = sshd_rsync if flavour == "rsync" else sshd_no_rsync
    site = _ssh_site(backup_site, server, f"kill-{flavour}")
    entry = _backup(site, big_mib=4)
    remote = open_remote(site.target(), find_config(site.target(), "off"))
    for delay in (0.8, 2.0):
        _kill_during(site, ["backup", "push", entry.name, "--bwlimit", "512"], delay)
        copies = remote.copies()
        assert all(c.name == entry.name for c in copies)
        if copies:  # complete means whole
            assert remote.verify(entry.name, wanted_files(entry)) == []
    proc = _cli(site, "backup", "push", entry.name)
    assert proc.returncode == 0, proc.stderr
    assert remote.verify(entry.name, wanted_files(entry)) == []
    remote.close()


def test_ssh_unknown_host_key_is_one_clear_error(
    backup_site: Callable[..., BackupSite],
    sshd_rsync: SshServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    url = f"ssh://{sshd_rsync.user}@127.0.0.1:{sshd_rsync.port}{sshd_rsync.root}/x"
    opts = f'options = {{ identity_file = "{sshd_rsync.identity}", known_hosts = "{empty}" }}\n'
    site = backup_site(_remote_toml("off", url, opts))
    proc = _cli(site, "backup", "list", "--remote", "off")
    assert proc.returncode != 0
    assert "Host key verification failed" in proc.stderr and "Traceback" not in proc.stderr
    assert "known_hosts" in proc.stderr  # the hint


# -- s3:// ---------------------------------------------------------------------


def _s3_site(
    backup_site: Callable[..., BackupSite], server: S3Server, bucket: str, *, keys: str = ""
) -> BackupSite:
    server.make_bucket(bucket)
    access, secret = (server.access_key, server.secret_key) if not keys else (keys, keys)
    env = Path(f"/tmp/odoo-ops-s3-{bucket}.env")
    env.write_text(f"AWS_ACCESS_KEY_ID={access}\nAWS_SECRET_ACCESS_KEY={secret}\n")
    opts = (
        f'options = {{ endpoint_url = "{server.endpoint}", region = "us-east-1",'
        f' env_file = "{env}", part_size_mib = 5 }}\n'
    )
    return backup_site(_remote_toml("s3", f"s3://{bucket}/odoo/prod", opts))


def test_s3_multipart_roundtrip(
    backup_site: Callable[..., BackupSite], s3_server: S3Server  # noqa: F811
) -> None:
    site = _s3_site(backup_site, s3_server, "rt-bucket")
    _roundtrip_big = _backup(site, big_mib=24)
    target = site.target()
    cfg = find_config(target, "s3")
    result = push_backup(target, _roundtrip_big, cfg)
    assert result.verified and result.bytes_sent > 10 << 20
    client = s3_server.client()
    key = f"odoo/prod/{_roundtrip_big.name}/filestore.tar.zst"
    head = client.head_object(Bucket="rt-bucket", Key=key, PartNumber=1)  # type: ignore[attr-defined]
    assert head["PartsCount"] >= 3  # sent as a multipart upload of 5 MiB parts
    remove_tree(_roundtrip_big.path)
    pulled = pull_backup(target, _roundtrip_big.name, cfg)
    assert pulled.verified and pulled.verified["ok"]


def test_s3_killed_upload_resumes_and_damage_is_named(
    backup_site: Callable[..., BackupSite], s3_server: S3Server  # noqa: F811
) -> None:
    site = _s3_site(backup_site, s3_server, "kill-bucket")
    entry = _backup(site, big_mib=24)
    client = s3_server.client()
    # 1 MiB/s: a 5 MiB part every ~5 s, the whole (~12 MiB) takes ~12 s
    _kill_during(site, ["backup", "push", entry.name, "--bwlimit", "1024"], 7.5)
    remote = open_remote(site.target(), find_config(site.target(), "s3"))
    assert remote.copies() == []  # never listed
    uploads = client.list_multipart_uploads(Bucket="kill-bucket").get("Uploads", [])  # type: ignore[attr-defined]
    assert uploads, "the killed push left no multipart upload to resume"
    result = push_backup(site.target(), entry, find_config(site.target(), "s3"))
    assert result.verified
    assert any("already there" in n for n in result.notes)  # parts were not sent again
    assert result.bytes_sent < result.bytes_total
    assert [c.name for c in remote.copies()] == [entry.name]
    # damage one object on the store: verify names it
    key = f"odoo/prod/{entry.name}/SHA256SUMS"
    client.put_object(Bucket="kill-bucket", Key=key, Body=b"not the sums\n")  # type: ignore[attr-defined]
    problems = remote.verify(entry.name, wanted_files(entry))
    assert len(problems) == 1 and problems[0].startswith("SHA256SUMS:"), problems


def test_s3_parts_carry_crc32_and_the_store_composite_is_checked(
    backup_site: Callable[..., BackupSite],
    s3_server: S3Server,  # noqa: F811
) -> None:
    """Multipart objects go with a CRC32 per part (the checksum boto3's own uploads
    send): the store's composite CRC32 of the object is the one of the parts sent,
    it is recorded in the marker, and verify compares it with the store's; an
    object replaced by another multipart upload of other bytes is named."""
    import base64
    import json
    import zlib

    site = _s3_site(backup_site, s3_server, "crc-bucket")
    entry = _backup(site, big_mib=12)
    target = site.target()
    cfg = find_config(target, "s3")
    assert push_backup(target, entry, cfg).verified
    client = s3_server.client()
    key = f"odoo/prod/{entry.name}/filestore.tar.zst"
    head = client.head_object(Bucket="crc-bucket", Key=key, ChecksumMode="ENABLED")  # type: ignore[attr-defined]
    assert "ChecksumSHA256" not in head
    data = (entry.path / "filestore.tar.zst").read_bytes()
    part = 5 << 20
    crcs = b"".join(
        zlib.crc32(data[i : i + part]).to_bytes(4, "big") for i in range(0, len(data), part)
    )
    expected = base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode()
    assert str(head["ChecksumCRC32"]).split("-")[0] == expected  # computed here, independently
    marker = json.loads(
        client.get_object(Bucket="crc-bucket", Key=f"odoo/prod/{entry.name}/.odoo-ops-complete")[  # type: ignore[attr-defined]
            "Body"
        ].read()
    )
    assert marker["composite_crc32"]["filestore.tar.zst"].split("-")[0] == expected
    remote = open_remote(target, cfg)
    assert remote.verify(entry.name, wanted_files(entry)) == []
    # the object replaced behind our back by a multipart upload of other bytes
    other = bytearray(data)
    other[len(other) // 2] ^= 0xFF
    upload = client.create_multipart_upload(  # type: ignore[attr-defined]
        Bucket="crc-bucket", Key=key, ChecksumAlgorithm="CRC32"
    )["UploadId"]
    parts = []
    for n, i in enumerate(range(0, len(other), part), start=1):
        block = bytes(other[i : i + part])
        crc = base64.b64encode(zlib.crc32(block).to_bytes(4, "big")).decode()
        answer = client.upload_part(  # type: ignore[attr-defined]
            Bucket="crc-bucket", Key=key, UploadId=upload, PartNumber=n, Body=block,
            ChecksumAlgorithm="CRC32", ChecksumCRC32=crc,
        )  # fmt: skip
        parts.append({"PartNumber": n, "ETag": answer["ETag"], "ChecksumCRC32": crc})
    client.complete_multipart_upload(  # type: ignore[attr-defined]
        Bucket="crc-bucket", Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert remote.verify(entry.name, wanted_files(entry)) == [
        "filestore.tar.zst: altered (the store's CRC32 differs from the one pushed)"
    ]


def test_s3_local_file_changed_after_verify_is_never_completed(
    backup_site: Callable[..., BackupSite],
    s3_server: S3Server,  # noqa: F811
) -> None:
    """The file is hashed with SHA-256 in the read that feeds the parts: bytes that
    are not the manifest's (same size, one byte flipped after the backup was
    verified) stop the push before the upload is completed, and nothing is listed."""
    site = _s3_site(backup_site, s3_server, "changed-bucket")
    entry = _backup(site, big_mib=12)
    files = wanted_files(entry)  # as the local verify saw them
    victim = entry.path / "filestore.tar.zst"
    data = bytearray(victim.read_bytes())
    data[len(data) - 100] ^= 0x01
    victim.write_bytes(bytes(data))
    remote = open_remote(site.target(), find_config(site.target(), "s3"))
    with pytest.raises(RemoteError, match=r"filestore\.tar\.zst: the local file changed"):
        remote.push(entry, files)
    assert remote.copies() == []
    client = s3_server.client()
    listed = client.list_objects_v2(Bucket="changed-bucket").get("Contents", [])  # type: ignore[attr-defined]
    assert not any(o["Key"].endswith("filestore.tar.zst") for o in listed)  # never completed


def test_s3_older_sha256_upload_is_not_mixed_with_crc32_parts(
    backup_site: Callable[..., BackupSite],
    s3_server: S3Server,  # noqa: F811
) -> None:
    """An unfinished multipart upload left by an older odoo-ops (SHA-256 parts)
    cannot take CRC32 parts: it is aborted and the file sent again, verified."""
    site = _s3_site(backup_site, s3_server, "old-bucket")
    entry = _backup(site, big_mib=12)
    client = s3_server.client()
    key = f"odoo/prod/{entry.name}/filestore.tar.zst"
    old = client.create_multipart_upload(  # type: ignore[attr-defined]
        Bucket="old-bucket", Key=key, ChecksumAlgorithm="SHA256"
    )["UploadId"]
    result = push_backup(site.target(), entry, find_config(site.target(), "s3"))
    assert result.verified and result.bytes_sent == result.bytes_total
    uploads = client.list_multipart_uploads(Bucket="old-bucket").get("Uploads", [])  # type: ignore[attr-defined]
    assert old not in [u["UploadId"] for u in uploads]
    head = client.head_object(Bucket="old-bucket", Key=key, ChecksumMode="ENABLED")  # type: ignore[attr-defined]
    assert "ChecksumCRC32" in head and "ChecksumSHA256" not in head  # a new upload, not the old
    remote = open_remote(site.target(), find_config(site.target(), "s3"))
    assert remote.verify(entry.name, wanted_files(entry)) == []


def test_s3_wrong_credentials_one_clear_error(
    backup_site: Callable[..., BackupSite], s3_server: S3Server  # noqa: F811
) -> None:
    site = _s3_site(backup_site, s3_server, "creds-bucket", keys="AKIAWRONGWRONGWRONG1")
    entry = _backup(site)
    proc = _cli(site, "backup", "push", entry.name)
    assert proc.returncode == 1
    assert "the store refused the credentials" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "AKIAWRONGWRONGWRONG1" not in proc.stderr


# -- retention per remote ----------------------------------------------------------


def test_prune_per_remote_keeps_the_newest(
    backup_site: Callable[..., BackupSite], tmp_path: Path
) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    site = backup_site(
        '[backup]\nkeep_within = "1d"\n'
        + _remote_toml(
            "nas", f"file://{nas}",
            'keep_within = "0H"\n'
            "keep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0\nkeep_yearly = 0\n",
        )
    )  # fmt: skip
    target = site.target()
    cfg = find_config(target, "nas")
    names = []
    for i in range(3):
        entry = _backup(site, name=f"b{i}")
        push_backup(target, entry, cfg)
        names.append(entry.name)
        time.sleep(1.1)  # distinct creation times
    planned = prune_remote(target, cfg, dry_run=True)
    assert [d.keep for d in planned.decisions] == [True, False, False]
    proc = _cli(site, "backup", "prune")
    assert proc.returncode == 0, proc.stderr
    remote = open_remote(target, cfg)
    assert [c.name for c in remote.copies()] == [names[-1]]  # the newest verified copy stays
    assert all((site.backup_dir / n).is_dir() for n in names)  # the local policy keeps them
    assert "nas" not in find_backup(site.backup_dir, names[0]).status.get("remotes", {})


def test_unknown_remote_and_bad_url_are_config_errors(
    backup_site: Callable[..., BackupSite],
) -> None:
    site = backup_site(_remote_toml("odd", "ftp://example.com/x"))
    entry = _backup(site)
    with pytest.raises(OpsError, match="unknown kind of remote"):
        push_backup(site.target(), entry, find_config(site.target(), "odd"))
    proc = _cli(site, "backup", "push", entry.name, "--remote", "nope")
    assert proc.returncode != 0 and "no remote named 'nope'" in proc.stderr


# -- the backups-offsite check -------------------------------------------------------


def _offsite(site: BackupSite) -> dict[str, object]:
    import json

    proc = _cli(site, "check", "--only", "backups-offsite", "--format", "json")
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    (result,) = [r for r in report["results"] if r["id"] == "backups-offsite"]
    return dict(result)


def test_check_backups_offsite(backup_site: Callable[..., BackupSite], tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    alone = backup_site()
    assert _offsite(alone)["status"] == "fail"  # no remote configured at all
    site = backup_site(_remote_toml("nas", f"file://{nas}"))
    entry = _backup(site)
    before = _offsite(site)
    assert before["status"] == "fail" and "no remote holds" in str(before["message"])
    push_backup(site.target(), entry, find_config(site.target(), "nas"))
    after = _offsite(site)
    assert after["status"] == "pass", after
    assert entry.name in " ".join(map(str, after["evidence"]))  # type: ignore[call-overload]
    nas.rename(tmp_path / "unmounted")
    gone = _offsite(site)
    assert gone["status"] == "fail" and "cannot be reached" in str(gone["message"])


def test_create_push_then_test_restore_from_the_remote(
    backup_site: Callable[..., BackupSite], tmp_path: Path
) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    site = backup_site(_remote_toml("nas", f"file://{nas}"))
    created = _cli(site, "backup", "create", "--name", "pushed", "--push")
    assert created.returncode == 0, created.stderr
    assert "pushed -> nas: pushed" in created.stdout and "verified" in created.stdout
    assert (nas / "pushed" / "manifest.json").is_file()
    remove_tree(site.backup_dir / "pushed")  # the local copy is lost
    listed = _cli(site, "backup", "list", "--remote", "nas", "--format", "json")
    assert listed.returncode == 0 and '"pushed"' in listed.stdout
    proc = _cli(site, "backup", "test-restore", "pushed", "--from", "nas")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test-restore pushed: pass" in proc.stdout
    assert (site.backup_dir / "pushed").is_dir()  # pulled, verified, kept
