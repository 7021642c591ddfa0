"""Real servers for the off-site copy tests: OpenSSH's sshd and moto's S3 server.

Both are started on 127.0.0.1 on a free port by the fixtures below (import
them into a test module). ``sshd`` needs Debian's openssh-server (installed on
CI by .ci/setup.d/45-backup-remotes.sh); ``moto_server`` comes with the
``moto[server]`` test dependency.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(
    port: int,
    proc: subprocess.Popen[bytes],
    what: str,
    timeout: float = 20,
    log: Path | None = None,
) -> None:
    """Wait until ``proc`` listens on ``port``; its log (a file, never a pipe nobody
    reads: a server blocks once 64 KiB of log fill it) explains an early exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if log is not None:
                err = log.read_text(errors="replace")
            else:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {err[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


@dataclass
class SshServer:
    port: int
    user: str
    identity: Path
    known_hosts: Path
    root: Path  # the remote directory the tests use (same machine)

    def url(self, scheme: str = "ssh") -> str:
        return f"{scheme}://{self.user}@127.0.0.1:{self.port}{self.root}"

    def options_toml(self) -> str:
        return (
            f'options = {{ identity_file = "{self.identity}",'
            f' known_hosts = "{self.known_hosts}" }}\n'
        )


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return Path(f"{path}.pub").read_text().strip()


def _start_sshd(
    base: Path, *, without_rsync: bool, without_openssl: bool = False
) -> Iterator[SshServer]:
    if not os.path.exists(SSHD) or not shutil.which("ssh"):
        if os.environ.get("CI"):
            pytest.fail("openssh-server is missing on CI (.ci/setup.d/45-backup-remotes.sh)")
        pytest.skip("needs OpenSSH's sshd (apt-get install openssh-server)")
    base.mkdir(parents=True, exist_ok=True)
    host_key = base / "host_key"
    user_key = base / "user_key"
    host_pub = _keygen(host_key)
    user_pub = _keygen(user_key)
    (base / "authorized_keys").write_text(user_pub + "\n")
    port = free_port()
    (base / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    root = base / "remote"
    root.mkdir()
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {base / 'sshd.pid'}",
        f"AuthorizedKeysFile {base / 'authorized_keys'}",
        "StrictModes no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "LogLevel ERROR",
        "Subsystem sftp internal-sftp",
    ]
    if without_rsync or without_openssl:
        # a shell whose PATH has the usual tools but no rsync (or rsync but no openssl)
        tools = base / "bin"
        tools.mkdir()
        names = ["sh", "sha256sum", "head", "mkdir", "test", "mv", "rm", "cat", "ls", "echo"]
        if not without_rsync:
            names += ["rsync", "timeout", "sleep"]
        for tool in names:
            found = shutil.which(tool)
            if found:
                (tools / tool).symlink_to(found)
        wrapper = base / "no-rsync-shell"
        wrapper.write_text(
            "#!/bin/sh\n"
            f"PATH={tools}; export PATH\n"
            'if [ -z "$SSH_ORIGINAL_COMMAND" ]; then exec /usr/lib/openssh/sftp-server; fi\n'
            'case "$SSH_ORIGINAL_COMMAND" in internal-sftp|*sftp-server*)'
            " exec /usr/lib/openssh/sftp-server;; esac\n"
            'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
        )
        wrapper.chmod(0o755)
        lines.append(f"ForceCommand {wrapper}")
        lines[-2] = "Subsystem sftp /usr/lib/openssh/sftp-server"
    config = base / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    log = base / "sshd.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log_file
        )
    try:
        wait_port(port, proc, "sshd", log=log)
        user = os.environ.get("USER") or subprocess.run(
            ["id", "-un"], capture_output=True, text=True, check=True
        ).stdout.strip()
        yield SshServer(port, user, user_key, base / "known_hosts", root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def sshd_rsync(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A real sshd whose shell has rsync and sha256sum."""
    yield from _start_sshd(tmp_path_factory.mktemp("sshd-rsync"), without_rsync=False)


@pytest.fixture(scope="session")
def sshd_no_rsync(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A real sshd whose shell has no rsync on its PATH (copies go with sftp)."""
    yield from _start_sshd(tmp_path_factory.mktemp("sshd-plain"), without_rsync=True)


@pytest.fixture(scope="session")
def sshd_no_openssl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A real sshd whose shell has rsync and sha256sum but no openssl (the hash falls back)."""
    yield from _start_sshd(
        tmp_path_factory.mktemp("sshd-no-openssl"), without_rsync=False, without_openssl=True
    )


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> object:
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
        )  # fmt: skip

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
        return name


def make_s3_user(endpoint: str, name: str, verify: str | None = None) -> tuple[str, str]:
    """An IAM user of moto's server allowed every S3 action: (access key id, secret)."""
    import boto3

    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", verify=verify,
    )  # fmt: skip
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(
        UserName=name, PolicyName="s3",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
    )  # fmt: skip
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server as its own process, with authentication on (an IAM user and key)."""
    pytest.importorskip("boto3")
    server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not os.path.exists(server):
        pytest.skip("needs moto[server] (pip install 'moto[server]')")

    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3", "MOTO_CALL_RESET_API": "false"}
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=log_file, env=env,
        )  # fmt: skip
    try:
        wait_port(port, proc, "moto_server", log=log)
        endpoint = f"http://127.0.0.1:{port}"
        key_id, secret = make_s3_user(endpoint, "backup")
        yield S3Server(endpoint, key_id, secret)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
