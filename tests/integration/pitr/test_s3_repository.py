"""The PITR repository on an S3-compatible store: ``[pitr] repository`` names an
``s3://`` remote of ``[[backup.remotes]]``. moto's S3 server behind nginx, served
over TLS (for ``localhost``) with a certificate of the test's own (pgBackRest speaks
S3 over TLS only; ``ca_file`` makes it verify it). The whole round trip goes through
it: archive, full backup, writes on both sides of T, a restore to T.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.pitr.conftest import PitrSite, new_site
from tests.support.pgcluster import give_to_cluster_user, make_shared_dir
from tests.support.remote_servers import free_port, make_s3_user, wait_port

pytestmark = [pytest.mark.pg, pytest.mark.slow]


@dataclass
class TlsS3:
    endpoint: str
    cert: Path
    key_id: str
    secret: str


@pytest.fixture(scope="module")
def s3_tls() -> Iterator[TlsS3]:
    pytest.importorskip("boto3")
    server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not os.path.exists(server):
        pytest.skip("needs moto[server] (pip install 'moto[server]')")

    base = make_shared_dir("oo-s3tls-")
    cert, key = base / "cert.pem", base / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    cert.chmod(0o644)
    give_to_cluster_user(cert)
    port, tls_port = free_port(), free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3", "MOTO_CALL_RESET_API": "false"}
    # its request log goes to a file: into an unread pipe it would fill the pipe after a few
    # hundred requests and block moto mid-response (what made pgBackRest "hang" here)
    with (base / "moto.log").open("wb") as moto_log:
        proc = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=moto_log, env=env,
        )  # fmt: skip
    # nginx terminates TLS in front of it, as a real store's front does (moto's own TLS
    # closes connections without a TLS shutdown, which pgBackRest rightly refuses)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.skip("needs nginx (apt-get install nginx)")
    (base / "nginx.conf").write_text(
        f"pid {base}/nginx.pid;\nerror_log {base}/nginx.err warn;\ndaemon off;\n"
        "events { worker_connections 64; }\n"
        "http {\n access_log off;\n"
        f" client_body_temp_path {base}/body; proxy_temp_path {base}/proxy;\n"
        " client_max_body_size 0;\n"
        f" server {{ listen 127.0.0.1:{tls_port} ssl; ssl_certificate {cert};"
        f" ssl_certificate_key {key};\n"
        f"  location / {{ proxy_pass http://127.0.0.1:{port}; proxy_set_header Host $http_host;"
        " proxy_http_version 1.1; proxy_request_buffering off; proxy_buffering off; }\n"
        " }\n}\n"
    )
    front = subprocess.Popen([nginx, "-c", str(base / "nginx.conf"), "-e", str(base / "nginx.err")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_port(port, proc, "moto_server")
        wait_port(tls_port, front, "nginx")
        endpoint = f"https://localhost:{tls_port}"  # pgBackRest matches names, not IPs
        key_id, secret = make_s3_user(endpoint, "pitr", verify=str(cert))
        yield TlsS3(endpoint, cert, key_id, secret)
    finally:
        for child in (front, proc):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        shutil.rmtree(base, ignore_errors=True)


def _s3(s3: TlsS3) -> object:
    import boto3

    return boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                        aws_access_key_id=s3.key_id, aws_secret_access_key=s3.secret,
                        verify=str(s3.cert))  # fmt: skip


@pytest.fixture(scope="module")
def s3_site(s3_tls: TlsS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PitrSite]:
    remotes = (
        "[[backup.remotes]]\n"
        'name = "offsite"\n'
        'url = "s3://odoo-pitr/prod"\n'
        f'options = {{ endpoint_url = "{s3_tls.endpoint}", ca_file = "{s3_tls.cert}",'
        ' env_file = "s3.env" }\n'
    )
    with new_site(tmp_path_factory, "s3", remotes=remotes,
                  pitr='repository = "offsite"\n') as site:  # fmt: skip
        _s3(s3_tls).create_bucket(Bucket="odoo-pitr")  # type: ignore[attr-defined]
        (site.root / "s3.env").write_text(
            f"AWS_ACCESS_KEY_ID={s3_tls.key_id}\nAWS_SECRET_ACCESS_KEY={s3_tls.secret}\n"
        )
        yield site


def test_setup_maps_the_s3_remote_and_keeps_its_keys_secret(
    s3_site: PitrSite, s3_tls: TlsS3
) -> None:
    site = s3_site
    proc = site.run("pitr", "setup", "--format", "json")
    shown = json.loads(proc.stdout)
    assert "offsite" in shown["repository"] and "s3://odoo-pitr/prod" in shown["repository"]
    conf = site.pitr_dir / "pgbackrest.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600  # it holds the keys
    text = conf.read_text()
    port = s3_tls.endpoint.rsplit(":", 1)[1]
    for line in ("repo1-type=s3", "repo1-s3-endpoint=localhost", f"repo1-storage-port={port}",
                 "repo1-s3-bucket=odoo-pitr", "repo1-s3-uri-style=path",
                 "repo1-path=/prod/pitr",
                 f"repo1-storage-ca-file={site.pitr_dir / 'repo-s3-ca.pem'}",
                 f"repo1-s3-key={s3_tls.key_id}", f"repo1-s3-key-secret={s3_tls.secret}"):
        assert line in text.splitlines(), line
    assert "verify-tls" not in text  # verified against the test's CA
    # archive_command runs pgBackRest as the cluster's OS user: it reads setup's copy
    ca_copy = site.pitr_dir / "repo-s3-ca.pem"
    assert ca_copy.read_bytes().strip() == Path(s3_tls.cert).read_bytes().strip()
    assert stat.S_IMODE(ca_copy.stat().st_mode) == 0o600
    assert ca_copy.stat().st_uid == site.cluster.data.stat().st_uid
    assert not (site.pitr_dir / "repo").exists()  # nothing of the repository is local
    assert s3_tls.secret not in proc.stdout + proc.stderr
    assert s3_tls.key_id not in proc.stdout + proc.stderr
    # pgBackRest reaches the bucket through that file, over verified TLS
    ls = subprocess.run(["pgbackrest", f"--config={conf}", "repo-ls"], capture_output=True,
                        text=True, timeout=60)  # fmt: skip
    assert ls.returncode == 0, ls.stderr


def test_bad_repository_settings_are_one_line_errors(s3_site: PitrSite, s3_tls: TlsS3) -> None:
    site = s3_site
    good = site.config.read_text()
    cases = {
        'repository = "nowhere"': "no remote named 'nowhere'",
        f'endpoint_url = "{s3_tls.endpoint}"': "TLS only",
        'url = "s3://odoo-pitr/prod"': "cannot hold the PITR repository",
    }
    replacements = {
        'repository = "nowhere"': good.replace('repository = "offsite"', 'repository = "nowhere"'),
        f'endpoint_url = "{s3_tls.endpoint}"': good.replace(
            s3_tls.endpoint, s3_tls.endpoint.replace("https", "http")),
        'url = "s3://odoo-pitr/prod"': good.replace(
            'url = "s3://odoo-pitr/prod"', 'url = "ssh://backup@127.0.0.1:22/srv/pitr"'),
    }  # fmt: skip
    try:
        for case, expected in cases.items():
            site.config.write_text(replacements[case])
            proc = site.run("pitr", "setup", "--dry-run", ok=False)
            assert proc.returncode != 0, case
            assert expected in proc.stderr, (case, proc.stderr)
            assert "Traceback" not in proc.stderr
            assert s3_tls.secret not in proc.stdout + proc.stderr
    finally:
        site.config.write_text(good)


def test_round_trip_through_s3(s3_site: PitrSite, s3_tls: TlsS3) -> None:
    """Archive, full backup, writes on both sides of T, restore to T — all through the
    bucket (nothing of the repository is local)."""
    site = s3_site
    conf = site.pitr_dir / "pgbackrest.conf"
    site.setup_backup_restore_between_writes("S3", "shop_s3")
    keys = [o["Key"] for o in _s3(s3_tls).list_objects_v2(  # type: ignore[attr-defined]
        Bucket="odoo-pitr", Prefix="prod/pitr/")["Contents"]]  # fmt: skip
    assert any(k.startswith("prod/pitr/archive/prod/") for k in keys)
    assert any(k.startswith("prod/pitr/backup/prod/") for k in keys)
    assert not (site.pitr_dir / "repo").exists() and conf.is_file()


def test_why_an_ssh_remote_cannot_be_a_repository_host(tmp_path: Path) -> None:
    """The reasons docs/pitr.md gives, checked against the pgBackRest installed here: no
    sftp repository type, and with a repository host (repo1-host) pgBackRest refuses to
    run `backup` on the database host — the repository host would have to log in here."""
    exe = shutil.which("pgbackrest")
    if exe is None:
        pytest.skip("pgbackrest not installed (apt-get install pgbackrest; CI installs it)")
    from odoo_ops.pitr.repository import sftp_supported

    types = subprocess.run([exe, "help", "backup", "repo-type"], capture_output=True, text=True,
                           timeout=30).stdout  # fmt: skip
    assert "* s3" in types and sftp_supported(exe) == ("* sftp" in types)
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text(
        f"[global]\nrepo1-host=127.0.0.1\nrepo1-host-user=nobody\nrepo1-retention-full=1\n"
        f"log-path={tmp_path}\nlock-path={tmp_path}\nlog-level-file=off\n"
        f"[prod]\npg1-path={tmp_path / 'data'}\n"
    )
    proc = subprocess.run([exe, f"--config={conf}", "--stanza=prod", "backup"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode != 0
    assert "backup command must be run on the repository host" in proc.stdout + proc.stderr
