"""``backup push`` to each kind of remote against the tool a user would otherwise use.

    python bench/push.py [--size-mib 256] [--repeat 3] [--kinds file,ssh,s3]

* **Data**: a synthetic backup directory (random, incompressible data: a
  ``db.dump`` of half the size, a ``filestore.tar.zst`` of the other half, a
  manifest with their sha256 and SHA256SUMS) under a temporary directory.
* **file**: ``FileRemote.push`` (copy hashed as written, fsync, rename) against
  ``rsync -a SRC/ DEST/`` into a fresh directory of the same file system.
* **ssh**: a real sshd on 127.0.0.1 (as the tests start it); ``SshRemote.push``
  (rsync over ssh, a remote SHA-256 of each file as it lands — ``openssl dgst``
  where the remote has it —, compared here, rename) against
  ``rsync -a -e ssh SRC/ host:DEST/``.
* **s3**: moto's S3 server on 127.0.0.1; ``S3Remote.push`` (PutObject with the
  manifest's SHA-256 for small files; multipart, 16 MiB parts, 10 at a time, each
  with its CRC32, the file's SHA-256 computed in the same read and compared with
  the manifest, the store's composite CRC32 checked; marker) against boto3's
  ``upload_file`` of the same files (16 MiB parts, 10 threads, CRC32: the AWS
  CLI's ``s3 cp --recursive`` does the same multipart transfer).

Each pair alternates ``--repeat`` times; the medians and the ratio
(odoo-ops / the plain tool, verification included on our side) are printed,
then the median of the pairs' own ratios (each pair ran back to back, under
about the same load from other processes), every pair's ratio, and the load
average (1 min) once the pairs are done.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.remote_servers import SshServer  # noqa: E402

from odoo_ops.backup.layout import (  # noqa: E402
    BackupEntry,
    manifest_bytes,
    read_manifest,
    sha256_file,
    sums_bytes,
)
from odoo_ops.backup.remotes.base import wanted_files  # noqa: E402


def make_backup(base: Path, size_mib: int) -> BackupEntry:
    name = "benchdb-20260101-000000"
    path = base / name
    path.mkdir()
    files = {}
    for rel, share in (("db.dump", 0.5), ("filestore.tar.zst", 0.5)):
        with open(path / rel, "wb") as fh:
            left = int(size_mib * share) << 20
            while left:
                block = os.urandom(min(left, 4 << 20))
                fh.write(block)
                left -= len(block)
        size, digest = sha256_file(path / rel)
        files[rel] = {"size": size, "sha256": digest}
    manifest = {
        "format": "odoo-ops-backup", "format_version": 1, "name": name, "database": "benchdb",
        "deployment": "bench", "created_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:01Z", "files": files,
        "dump": {"path": "db.dump", "format": "custom"},
        "filestore": {"path": "filestore.tar.zst", "files": 0, "bytes": 0},
    }  # fmt: skip
    data = manifest_bytes(manifest)
    (path / "manifest.json").write_bytes(data)
    sums = dict(files)
    sums["manifest.json"] = {"sha256": hashlib.sha256(data).hexdigest()}
    (path / "SHA256SUMS").write_bytes(sums_bytes(sums))
    return BackupEntry(name, path, read_manifest(path))


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def compare(label: str, ours: Callable[[], object], theirs: Callable[[], object],
            reset: Callable[[], object], repeat: int, theirs_name: str) -> None:  # fmt: skip
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        reset()
        b.append(timed(theirs))
        reset()
        a.append(timed(ours))
    ma, mb = statistics.median(a), statistics.median(b)
    # each pair ran back to back, under about the same load from other processes:
    # the median of the pairs' ratios is steadier than the ratio of the medians
    pairs = sorted(x / y for x, y in zip(a, b, strict=True))
    print(
        f"{label:5} odoo-ops push {ma:7.2f} s   {theirs_name:28} {mb:7.2f} s"
        f"   ratio {ma / mb:5.2f}x   pairs {statistics.median(pairs):5.2f}x"
        f" ({' '.join(f'{r:.2f}' for r in pairs)})   load {os.getloadavg()[0]:.1f}"
    )


def bench_file(entry: BackupEntry, work: Path, repeat: int) -> None:
    from odoo_ops.backup.remotes.filedir import FileRemote

    dest = work / "nas"
    plain = work / "plain"
    files = wanted_files(entry)

    def reset() -> None:
        for d in (dest, plain):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()

    remote = FileRemote("nas", f"file://{dest}", dest)
    compare(
        "file", lambda: remote.push(entry, files),
        lambda: subprocess.run(["rsync", "-a", f"{entry.path}/", f"{plain}/"], check=True),
        reset, repeat, "rsync -a",
    )  # fmt: skip


@contextlib.contextmanager
def sshd(work: Path) -> Iterator[SshServer]:
    from tests.support import remote_servers

    gen = remote_servers._start_sshd(work / "sshd", without_rsync=False)
    server = next(gen)
    try:
        yield server
    finally:
        with contextlib.suppress(StopIteration):
            next(gen)


def bench_ssh(entry: BackupEntry, work: Path, repeat: int) -> None:
    from odoo_ops.backup.remotes.ssh import SshRemote

    with sshd(work) as server:
        root = server.root
        opts = {"identity_file": str(server.identity), "known_hosts": str(server.known_hosts)}
        remote = SshRemote(
            "box",
            "ssh://bench",
            host="127.0.0.1",
            user=server.user,
            port=server.port,
            root=str(root / "ours"),
            options=opts,
        )
        files = wanted_files(entry)
        ssh = shlex_join(remote.ssh_argv())

        def reset() -> None:
            for d in (root / "ours", root / "plain"):
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir()

        compare(
            "ssh", lambda: remote.push(entry, files),
            lambda: subprocess.run(
                ["rsync", "-a", "-e", ssh, f"{entry.path}/",
                 f"{server.user}@127.0.0.1:{root / 'plain'}/"], check=True,
            ),
            reset, repeat, "rsync -a -e ssh",
        )  # fmt: skip


def shlex_join(argv: list[str]) -> str:
    import shlex

    return shlex.join(argv)


def bench_s3(entry: BackupEntry, work: Path, repeat: int) -> None:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from tests.support.remote_servers import free_port, wait_port

    from odoo_ops.backup.remotes.s3 import S3Remote

    port = free_port()
    server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_port(port, proc, "moto_server")
        endpoint = f"http://127.0.0.1:{port}"
        keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
        client.create_bucket(Bucket="bench-bucket")
        opts = {"endpoint_url": endpoint, "access_key_id": "bench", "secret_access_key": "bench",
                "part_size_mib": 16}  # fmt: skip
        remote = S3Remote("s3", "s3://bench-bucket/ours", bucket="bench-bucket", prefix="ours",
                          options=opts, env={})  # fmt: skip
        files = wanted_files(entry)
        transfer = TransferConfig(multipart_chunksize=16 << 20, multipart_threshold=16 << 20)
        round_ = [0]

        def reset() -> None:
            round_[0] += 1
            remote.prefix = f"ours{round_[0]}"

        def plain() -> None:
            for f in files:
                key = f"plain{round_[0]}/{entry.name}/{f.rel}"
                client.upload_file(str(entry.path / f.rel), "bench-bucket", key, Config=transfer)

        compare("s3", lambda: remote.push(entry, files), plain, reset, repeat,
                "boto3 upload_file (multipart)")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default="file,ssh,s3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="odoo-ops-bench-push-") as tmp:
        work = Path(tmp)
        entry = make_backup(work, args.size_mib)
        print(json.dumps({"size_mib": args.size_mib, "repeat": args.repeat,
                          "loadavg": os.getloadavg()[0]}))  # fmt: skip
        for kind in args.kinds.split(","):
            {"file": bench_file, "ssh": bench_ssh, "s3": bench_s3}[kind](entry, work, args.repeat)


if __name__ == "__main__":
    main()
