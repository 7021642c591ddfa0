"""The one redaction (``odoo_ops.secrets``): secrets by position, known values as
whole tokens, short or common values never masked inside other words."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from odoo_ops.secrets import (
    MASK,
    Redactor,
    is_secret_name,
    maskable,
    redact_mapping,
    redact_text,
    redact_url,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://odoo:odoo@db:5432/x", "postgresql://odoo:***@db:5432/x"),
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("https://x-access-token:TOK@github.com/o/r.git", "https://x-access-token:***@github.com/o/r.git"),
        ("https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r",
         "https://***@github.com/o/r"),
        ("ssh://deploy:pw@host:2222/srv/repo", "ssh://deploy:***@host:2222/srv/repo"),
        ("s3://AKIA:sk@bucket/path?x=1", "s3://AKIA:***@bucket/path?x=1"),
        ("git+ssh://git@github.com/o/r", "git+ssh://git@github.com/o/r"),
        ("clone 'https://u:p%40ss@h/r' now", "clone 'https://u:***@h/r' now"),
        ("https://h/p?a=1&token=abc&sig=xyz#f", "https://h/p?a=1&token=***&sig=***#f"),
        ("https://maps.example/api?key=AIzaXYZ&q=odoo", "https://maps.example/api?key=***&q=odoo"),
        ("host=db password='a b\\' c' user=x", "host=db password='***' user=x"),
        ("host=db password='it''s here' user=x", "host=db password='***' user=x"),
        ('host=db password="x y" sslpassword=zz dbname=p',
         'host=db password="***" sslpassword=*** dbname=p'),
        ("PGPASSWORD=odoo psql -h db", "PGPASSWORD=*** psql -h db"),
        ("db_password = odoo", "db_password = ***"),
        ("odoo --db_password odoo -d x", "odoo --db_password *** -d x"),
        ("pg_dump --no-password -Fc x", "pg_dump --no-password -Fc x"),
        ("Authorization: Bearer abcdefghijk", "Authorization: Bearer ***"),
        # references and placeholders stay readable
        ("admin_passwd = ${ADMIN_PASSWD}", "admin_passwd = ${ADMIN_PASSWD}"),
        ("db_password = False", "db_password = ***"),
        ("password_file=/run/secrets/pg POSTGRES_USER=odoo",
         "password_file=/run/secrets/pg POSTGRES_USER=odoo"),
    ],
)  # fmt: skip
def test_secret_positions(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_url_of_one_value_with_raw_specials() -> None:
    assert redact_url("postgresql://u:pa ss#x@h/db") == "postgresql://u:***@h/db"
    assert redact_url("host=x password='a b'") == "host=x password='***'"


@pytest.mark.parametrize(
    "text",
    [
        "/etc/odoo/odoo.conf", ".odoo-ops/maintenance", "odoo exited with 255", "odoo-process",
        "odoo_command = ['odoo-bin']", "odoo-ops backup list", "docker compose exec odoo odoo",
        "admin and postgres roles", "password is weak: a default or common password",
    ],
)
def test_short_common_values_never_masked_inside_words(text: str) -> None:
    redactor = Redactor(["odoo", "admin", "postgres", "password", "abc12"])
    assert redactor(text) == text
    assert "odoo" not in redactor and len(redactor) == 0


def test_short_common_value_masked_in_secret_positions() -> None:
    redactor = Redactor(["odoo"])
    out = redactor("postgresql://odoo:odoo@db/odoo password=odoo odoo.conf")
    assert out == "postgresql://odoo:***@db/odoo password=*** odoo.conf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password hunter2-secret", "password ***"),
        ("'hunter2-secret'", "'***'"),
        ("=hunter2-secret;", "=***;"),
        (":hunter2-secret@", ":***@"),
        ("hunter2-secret.", "***."),
        ("url-encoded hunter2%21x", "url-encoded ***"),
        # a longer word is another token
        ("hunter2-secrets", "hunter2-secrets"),
        ("xhunter2-secret", "xhunter2-secret"),
    ],
)
def test_known_values_masked_as_whole_tokens(text: str, expected: str) -> None:
    redactor = Redactor(["hunter2-secret", "hunter2!x"])
    assert redactor(text) == expected


@pytest.mark.parametrize(
    ("name", "secret"),
    [("POSTGRES_PASSWORD", True), ("PGPASSWORD", True), ("db_pwd", True), ("DB_PASS", True),
     ("GITHUB_TOKEN", True), ("notifications.urls", True), ("webhook_url", True),
     ("x_connector.api_token", True), ("database.secret", True), ("--db-password", True),
     ("PWD", False), ("OLDPWD", False), ("BYPASS", False), ("PASSENGER_ENV", False),
     ("POSTGRES_PASSWORD_FILE", False), ("age_identity_file", False), ("dsn", False),
     ("password_min_length", False), ("token_validity", False), ("password-env", False),
     ("base_url", False), ("web.base.url", False)],
)  # fmt: skip
def test_is_secret_name(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redact_mapping_masks_urls_and_dsns_anywhere() -> None:
    data = {
        "base_url": "https://u:pw1@erp.example.com",
        "services": [{"name": "r", "url": "redis://:pw2@h:6379"}],
        "dsn": "host=db password='pw 3' user=x",
        "notifications": {"urls": ["mmost://host/tok"]},
        "name": "odoo",
    }
    out = redact_mapping(data)
    text = repr(out)
    for secret in ("pw1", "pw2", "pw 3", "tok"):
        assert secret not in text
    assert isinstance(out, dict) and out["name"] == "odoo"
    assert out["notifications"] == {"urls": [MASK]}


# -- properties ---------------------------------------------------------------------

SECRET_CHARS = st.characters(
    min_codepoint=33, max_codepoint=0x2FF, blacklist_characters="*"
)
secrets_st = st.text(SECRET_CHARS, min_size=1, max_size=24).filter(lambda s: s.strip() == s)
schemes = st.sampled_from(["postgresql", "postgres", "redis", "rediss", "https", "http", "ssh",
                           "s3", "git+ssh", "amqp", "mongodb+srv", "ftp"])  # fmt: skip
hosts = st.sampled_from(["db", "127.0.0.1", "[::1]", "erp.example.com", "github.com"])
users = st.sampled_from(["", "odoo", "x-access-token", "postgres", "AKIA0"])
paths = st.sampled_from(["", "/", "/odoo_prod", "/org/repo.git", "/0?sslmode=require"])
wrappers = st.sampled_from(["{}", "url: {}", "'{}'", '"{}"', "remote add origin {} now",
                            "error: cannot reach {}: timeout", "({})", "x={}"])  # fmt: skip


def _absent(secret: str, template: str, out: str) -> None:
    assume(secret not in template)
    assert secret not in out, out


@FAST
@given(secrets_st, schemes, users, hosts, paths, wrappers)
def test_url_passwords_never_appear(
    secret: str, scheme: str, user: str, host: str, path: str, wrapper: str
) -> None:
    url = f"{scheme}://{user}:{quote(secret, safe='')}@{host}{path}"
    template = wrapper.format(f"{scheme}://{user}:***@{host}{path}")
    text = wrapper.format(url)
    for out in (redact_text(text), Redactor()(text), redact_url(url)):
        _absent(quote(secret, safe=""), template, out)


@FAST
@given(secrets_st, st.sampled_from(["password", "sslpassword", "token", "api_key"]))
def test_query_secrets_never_appear(secret: str, name: str) -> None:
    text = f"https://h/p?user=me&{name}={quote(secret, safe='')}&x=1"
    _absent(quote(secret, safe=""), f"https://h/p?user=me&{name}=***&x=1", redact_text(text))


@FAST
@given(st.text(SECRET_CHARS | st.sampled_from(" '\\\""), min_size=1, max_size=24),
       st.sampled_from(["password", "sslpassword"]), wrappers)  # fmt: skip
def test_keyword_dsn_passwords_never_appear(secret: str, key: str, wrapper: str) -> None:
    dsn = make_conninfo("", host="db", port=5432, dbname="odoo_prod", user="odoo", **{key: secret})
    assert conninfo_to_dict(dsn)[key] == secret
    assume(len(secret.strip(" '\"\\")) >= 1)
    template = wrapper.format(f"host=db port=5432 dbname=odoo_prod user=odoo {key}=''")
    text = wrapper.format(dsn)
    for out in (redact_text(text), redact_url(dsn)):
        _absent(secret, template, out)
        assert "host=db" in out and "dbname=odoo_prod" in out


@FAST
@given(st.text(SECRET_CHARS, min_size=8, max_size=32),
       st.sampled_from([" ", "'", '"', ":", "@", "=", "/", "(", ",", "\n", ""]),
       st.sampled_from([" ", "'", '"', ":", "@", ";", "/", ")", ".", "\n", ""]))  # fmt: skip
def test_known_long_values_never_appear_as_tokens(secret: str, before: str, after: str) -> None:
    assume(secret.strip() == secret and maskable(secret))  # common ones are reported as weak
    redactor = Redactor([secret])
    head = f"failed for value{before}" if before else ""
    tail = f"{after} end" if after else ""
    _absent(secret, head + tail, redactor(head + secret + tail))


WORD_AFFIX = st.text(st.sampled_from("abcdefgh0123456789._-/"), max_size=6)


@FAST
@given(st.lists(st.tuples(WORD_AFFIX, st.sampled_from(["odoo", "admin", "postgres"]), WORD_AFFIX),
                min_size=1, max_size=6))  # fmt: skip
def test_words_containing_a_common_secret_are_unchanged(parts: list[tuple[str, str, str]]) -> None:
    text = " ".join(a + word + b for a, word, b in parts)
    redactor = Redactor(["odoo", "admin", "postgres"])
    assert redactor(text) == text


def test_crash_log_is_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from odoo_ops.cli.main import _crash_log

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["odoo-ops", "--base-url", "https://u:Zq8-leak@h"])
    path = _crash_log(RuntimeError("cannot reach postgresql://odoo:Zq8-leak@db/x password=Zq8"))
    assert path is not None and path.parent == tmp_path / "odoo-ops"
    text = path.read_text()
    assert "Zq8" not in text
    assert "postgresql://odoo:***@db/x" in text and "RuntimeError" in text


def test_debug_logs_are_redacted(tmp_path: Path) -> None:
    """-vv logging: messages and tracebacks leave through the redaction."""
    import subprocess
    import sys

    script = (
        "import logging\n"
        "from odoo_ops.cli.common import App\n"
        "App(verbose=2).setup_logging()\n"
        "log = logging.getLogger('odoo_ops.t')\n"
        "log.debug('git remote %s', 'https://x-access-token:Zq8-tok@github.com/o/r')\n"
        "try:\n"
        "    raise RuntimeError(\"password='Zq8 x' host=db\")\n"
        "except RuntimeError:\n"
        "    log.exception('failed')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert "x-access-token:***@github.com" in proc.stderr, proc.stderr
    assert "password='***'" in proc.stderr and "RuntimeError" in proc.stderr
    assert "Zq8" not in proc.stderr


def test_warnings_logged_without_verbose_are_redacted_too() -> None:
    """Without -v a command's warnings (a failed notification quoting its URL)
    reach stderr through the redaction, not through Python's bare default."""
    import subprocess
    import sys

    code = (
        "from odoo_ops.cli.common import App\n"
        "App().setup_logging()\n"
        "import logging\n"
        "logging.getLogger('odoo_ops.notify').warning(\n"
        "    'notification failed: %s', 'POST https://user:S3cr3tT0ken99@hooks.example/x: 500')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "notification failed: POST https://user:***@hooks.example/x: 500" in proc.stderr
    assert "S3cr3tT0ken99" not in proc.stderr
