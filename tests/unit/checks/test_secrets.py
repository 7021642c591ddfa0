"""The secrets checks on real files, modes and git repositories."""

from __future__ import annotations

import pytest

from odoo_ops.checks.base import Status
from odoo_ops.checks.secrets import is_secret_name, line_findings, weak_reason

from .helpers import FileProject, assert_status, text_of

STRONG = "Vq7-rT9x-Lm2p-Zk4w"  # a fixture secret: must never be shown
COMPOSE_REF = """\
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_USER: odoo
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
      POSTGRES_DB: ${POSTGRES_DB:-postgres}
  odoo:
    image: odoo:18.0
    env_file: .env
    volumes:
      - ./config:/etc/odoo
"""


def compose_project(fp: FileProject, compose: str = COMPOSE_REF) -> None:
    fp.write("docker-compose.yml", compose)
    fp.write("config/odoo.conf", "[options]\ndb_password = %(env:POSTGRES_PASSWORD)s\n")
    fp.configure(runner="compose", compose_file="docker-compose.yml", odoo_conf="config/odoo.conf")


# -- helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,needle",
    [
        ("admin", "default"),
        ("Postgres", "default"),
        ("changeme", "example"),
        ("your_password_here", "example"),
        ("<secret>", "example"),
        ("aaaaaaaaaaaaaaaa", "repeated"),
        ("Sh0rt!pw", "shorter than 12"),
        ("", "empty"),
    ],
)
def test_weak_reason(value: str, needle: str) -> None:
    reason = weak_reason(value)
    assert reason is not None and needle in reason
    assert value == "" or value not in reason


def test_weak_reason_strong_and_same_as() -> None:
    assert weak_reason(STRONG) is None
    assert "same as" in (weak_reason(STRONG, same_as=[STRONG]) or "")


@pytest.mark.parametrize(
    "name,secret",
    [("POSTGRES_PASSWORD", True), ("db_password", True), ("admin_passwd", True),
     ("GITHUB_TOKEN", True), ("api_key", True), ("POSTGRES_PASSWORD_FILE", False),
     ("POSTGRES_USER", False), ("password_min_length", False), ("token_validity", False)],
)  # fmt: skip
def test_is_secret_name(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    "line,expected",
    [
        ("      POSTGRES_PASSWORD: odoo", "POSTGRES_PASSWORD has a literal value"),
        ('      - "POSTGRES_PASSWORD=odoo"', "POSTGRES_PASSWORD has a literal value"),
        ("db_password = hunter2hunter2", "db_password has a literal value"),
        ('export PGPASSWORD="hunter2hunter2"', "PGPASSWORD has a literal value"),
        ('psql "host=db user=odoo password=hunter2"', "password given literally"),
        ("pg_dump --password hunter2 odoo", "password given literally"),
        ('dsn = "postgresql://odoo:hunter2@db/odoo"', "a URL with a password"),
        ("token: ghp_" + "a" * 36, "a GitHub token"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "a private key"),
        ('"api_key": "sk-abcdefghijklmnop",', "api_key has a literal value"),
        ('urls = ["slack://TokenA/TokenB/TokenC"]', "a notification URL with its token"),
        ('    "mmost://mattermost.example.com/abcdefgh12345",', "a notification URL"),
        ("url: https://discord.com/api/webhooks/123/abcDEF", "a Discord webhook URL"),
    ],
)
def test_line_findings_flags(line: str, expected: str) -> None:
    found = line_findings(line, example=False)
    assert any(expected in f for f in found), found
    assert not any("hunter2" in f or 'odoo"' in f for f in found)


@pytest.mark.parametrize(
    "line",
    [
        "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}",
        "      POSTGRES_PASSWORD_FILE: /run/secrets/db_password",
        "db_password = %(env:POSTGRES_PASSWORD)s",
        "db_password = False",
        "admin_passwd = $pbkdf2-sha512$600000$c2FsdA$aGFzaA",
        'PGPASSWORD="$DB_PASSWORD" pg_dump odoo',
        "# password=hunter2 in a comment",
        'dsn = "postgresql://odoo:${POSTGRES_PASSWORD}@db/odoo"',
        "password_min_length = 12",
        'echo "Enter the password for the user"',
        "    password:",
        'urls = ["${NOTIFY_URL}"]',
        '    "slack://${SLACK_TOKENS}",',
    ],
)
def test_line_findings_ignores_references(line: str) -> None:
    assert line_findings(line, example=False) == []


def test_line_findings_example_files_only_private_keys() -> None:
    assert line_findings("POSTGRES_PASSWORD=changeme", example=True) == []
    assert line_findings("-----BEGIN RSA PRIVATE KEY-----", example=True) == ["a private key"]


def test_line_findings_python_only_string_literals() -> None:
    assert line_findings("password = os.environ['PW']", example=False, python=True) == []
    assert line_findings("password = 'hunter2hunter2'", example=False, python=True)


# -- secrets-env-file ---------------------------------------------------------------------


def test_env_file_private_and_complete_passes(fp: FileProject) -> None:
    compose_project(fp)
    fp.write(".env", f"POSTGRES_PASSWORD={STRONG}\n", mode=0o600)
    fp.configure(env_file=".env")
    result = fp.one("secrets-env-file")
    assert_status(result, Status.PASS, ".env")
    assert STRONG not in text_of(result)


@pytest.mark.parametrize(
    "mode,status,needle",
    [(0o640, Status.WARN, "readable by its group"), (0o620, Status.WARN, "writable by its group"),
     (0o644, Status.FAIL, "every user"), (0o400, Status.PASS, ".env")],
)  # fmt: skip
def test_env_file_mode(fp: FileProject, mode: int, status: Status, needle: str) -> None:
    compose_project(fp)
    fp.write(".env", f"POSTGRES_PASSWORD={STRONG}\n", mode=mode)
    fp.configure(env_file=".env")
    result = fp.one("secrets-env-file")
    assert_status(result, status, needle)
    if status != Status.PASS:
        assert "chmod 600 .env" in (result.remediation or "")


def test_env_file_missing_but_referenced_fails(fp: FileProject) -> None:
    compose_project(fp)
    fp.write(".env.example", "POSTGRES_PASSWORD=changeme\n")
    result = fp.one("secrets-env-file")
    assert_status(result, Status.FAIL, ".env is referenced but does not exist", ".env.example",
                  "docker-compose.yml:10", "POSTGRES_PASSWORD")  # fmt: skip


def test_env_file_missing_variables_named_with_places(fp: FileProject) -> None:
    compose_project(fp)
    fp.write(".env", "OTHER=1\n", mode=0o600)
    fp.write("config/odoo.conf", "[options]\nadmin_passwd = %(env:ODOO_MASTER)s\n")
    fp.configure(env_file=".env", dsn="postgresql://odoo:${DSN_PW}@127.0.0.1/odoo")
    result = fp.one("secrets-env-file")
    assert_status(result, Status.FAIL, "POSTGRES_PASSWORD", "ODOO_MASTER", "DSN_PW",
                  "docker-compose.yml:6", "config/odoo.conf:2", "odoo-ops.toml:")  # fmt: skip
    # defaults make a variable optional
    assert "POSTGRES_DB" not in text_of(result)


def test_env_file_empty_value_fails(fp: FileProject) -> None:
    compose_project(fp)
    fp.write(".env", "POSTGRES_PASSWORD=\n", mode=0o600)
    assert_status(fp.one("secrets-env-file"), Status.FAIL, "set but empty: POSTGRES_PASSWORD")


def test_env_file_not_used_skips(fp: FileProject) -> None:
    fp.write("odoo.conf", "[options]\nworkers = 2\n")
    assert_status(fp.one("secrets-env-file"), Status.SKIP, "no env file")


# -- secrets-weak -------------------------------------------------------------------------


def test_weak_passwords_in_env_and_conf(fp: FileProject) -> None:
    compose_project(fp)
    fp.write(".env", f"# comment\nPOSTGRES_USER=odoo\nPOSTGRES_PASSWORD=odoo\nAPI_TOKEN={STRONG}\n",
             mode=0o600)  # fmt: skip
    fp.write("config/odoo.conf", "[options]\nsmtp_password = changeme\n")
    result = fp.one("secrets-weak")
    assert_status(result, Status.FAIL, ".env:3: POSTGRES_PASSWORD", "config/odoo.conf:2",
                  "smtp_password")  # fmt: skip
    shown = text_of(result)
    assert "API_TOKEN" not in shown and "POSTGRES_USER" not in shown
    assert "=odoo" not in shown and "changeme" not in shown.replace("change", "", 0)


def test_weak_passwords_none(fp: FileProject) -> None:
    compose_project(fp)
    fp.write(".env", f"POSTGRES_PASSWORD={STRONG}\n", mode=0o600)
    result = fp.one("secrets-weak")
    assert_status(result, Status.PASS, "1 password value(s) checked")
    assert STRONG not in text_of(result)


def test_weak_skips_without_files(fp: FileProject) -> None:
    fp.configure(odoo_conf=None)
    assert_status(fp.one("secrets-weak"), Status.SKIP, "no .env and no odoo.conf")


# -- secrets-hardcoded --------------------------------------------------------------------

LEAKY_COMPOSE = """\
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: Leaked-Db-Password-77
"""


def test_hardcoded_in_git_repo(fp: FileProject) -> None:
    fp.git("init", "-q")
    fp.write("docker-compose.yml", LEAKY_COMPOSE)
    fp.write("scripts/backup.sh", "#!/bin/sh\nPGPASSWORD=Leaked-Script-Pw pg_dump odoo > x\n")
    fp.write("deploy/key.txt", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n")
    fp.write(".env", "POSTGRES_PASSWORD=Leaked-Env-Pw-99\n")
    fp.write("notes.txt", "password=Leaked-Untracked\n")  # untracked: not looked at
    fp.write("odoo.conf", "[options]\nworkers = 2\n")
    fp.git("add", "docker-compose.yml", "scripts/backup.sh", "deploy/key.txt", ".env", "odoo.conf")
    result = fp.one("secrets-hardcoded")
    assert_status(result, Status.FAIL, "files tracked by git",
                  "docker-compose.yml:5: POSTGRES_PASSWORD has a literal value",
                  "scripts/backup.sh:2: PGPASSWORD", ".env: a secrets file is tracked by git",
                  "rotate")  # fmt: skip
    shown = text_of(result)
    assert "Leaked" not in shown
    assert "notes.txt" not in shown


def test_hardcoded_certificate_is_not_a_secret(fp: FileProject) -> None:
    fp.git("init", "-q")
    fp.write(
        "proxy/fullchain.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    )
    fp.write("proxy/privkey.pem", "-----BEGIN PRIVATE KEY-----\nMIIE\n")
    fp.git("add", ".")
    result = fp.one("secrets-hardcoded")
    assert_status(result, Status.FAIL, "proxy/privkey.pem:1: a private key")
    assert "fullchain" not in text_of(result)


def test_hardcoded_private_key_file_content(fp: FileProject) -> None:
    fp.git("init", "-q")
    fp.write("deploy/id.conf", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n")
    fp.git("add", ".")
    assert_status(fp.one("secrets-hardcoded"), Status.FAIL, "deploy/id.conf:1: a private key")


def test_hardcoded_clean_repo_passes(fp: FileProject) -> None:
    fp.git("init", "-q")
    compose_project(fp)
    fp.write(".env.example", "POSTGRES_PASSWORD=changeme\n")
    fp.write(".gitignore", ".env\n")
    fp.write(".env", f"POSTGRES_PASSWORD={STRONG}\n", mode=0o600)
    fp.addon("my_addon")
    fp.write("addons/my_addon/models.py", "password = 'not-a-deployment-secret'\n")
    fp.git("add", ".")
    result = fp.one("secrets-hardcoded")
    assert_status(result, Status.PASS, "files tracked by git")


def test_hardcoded_without_git_walks_usual_files(fp: FileProject) -> None:
    fp.write("docker-compose.yml", LEAKY_COMPOSE)
    fp.write(".env", "POSTGRES_PASSWORD=odoo\n")  # the place for secrets: not a finding here
    fp.write("odoo.conf", "[options]\ndb_password = Leaked-Conf-Pw\n")
    result = fp.one("secrets-hardcoded")
    assert_status(result, Status.FAIL, "not a git work tree", "docker-compose.yml:5",
                  "odoo.conf:2: db_password")  # fmt: skip
    assert ".env" not in "\n".join(result.evidence)
    assert "Leaked" not in text_of(result)
