"""Property tests: random odoo.conf / .env / compose content never crashes a file check,
and the checks' own outcomes (before any redaction) never contain a secret value."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo_ops.checks import all_checks
from odoo_ops.checks.base import Outcome, Status
from odoo_ops.checks.secrets import line_findings

from .helpers import FileProject

CHECKS = all_checks()
CONF_IDS = sorted(c.id for c in CHECKS.values() if c.module.endswith(".checks.conf"))
SECRET_IDS = ("secrets-env-file", "secrets-weak", "secrets-hardcoded", "conf-admin-passwd")

OPTION = st.sampled_from(
    ["workers", "limit_memory_soft", "limit_memory_hard", "limit_time_cpu", "limit_time_real",
     "proxy_mode", "list_db", "dbfilter", "admin_passwd", "log_level", "log_db", "logfile",
     "max_cron_threads", "db_maxconn", "db_name", "addons_path", "unknown_opt", "xmlrpc_port"]
)  # fmt: skip
VALUE = st.one_of(
    st.integers(-5, 10**10).map(str),
    st.sampled_from(["True", "False", "", "^%d$", ".*", "^(", "debug", "%(env:NOPE)s", "None"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
            max_size=30),
)  # fmt: skip
LINE = st.one_of(
    st.tuples(OPTION, VALUE).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
            max_size=40),
)  # fmt: skip
SECRET = st.text(
    st.sampled_from("ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789-_!@#%"),
    min_size=10, max_size=24,
).map(lambda s: "Q" + s + "9")  # fmt: skip


def fresh_project() -> FileProject:
    root = Path(tempfile.mkdtemp(prefix="odoo-ops-prop-"))
    return FileProject(
        root,
        {"runner": "local", "series": "18.0", "odoo_conf": "odoo.conf", "connect_timeout": 1,
         "dsn": "postgresql://u@127.0.0.1:1/x"},
        environ={"PATH": os.environ.get("PATH", "")},
    )  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(LINE, max_size=12), header=st.booleans())
def test_random_odoo_conf_never_crashes(lines: list[str], header: bool) -> None:
    fp = fresh_project()
    try:
        fp.write("odoo.conf", ("[options]\n" if header else "") + "\n".join(lines) + "\n")
        results = fp.run(*CONF_IDS)
        for result in results.values():
            assert result.status in set(Status)
            assert "crashed" not in result.message, result.message
    finally:
        shutil.rmtree(fp.root, ignore_errors=True)


def own_outcomes(fp: FileProject, ids: tuple[str, ...]) -> list[Outcome]:
    """The outcomes the check functions return themselves (no framework redaction)."""
    ctx = fp.context()
    outcomes = []
    for check_id in ids:
        try:
            outcomes.append(CHECKS[check_id].func(ctx))
        except Exception as exc:  # Unavailable -> a skip, fine; its text is checked too
            outcomes.append(Outcome(Status.SKIP, str(exc)))
    return outcomes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=SECRET, key=st.sampled_from(["POSTGRES_PASSWORD", "API_TOKEN", "ADMIN_SECRET"]))
def test_secret_values_never_in_outcomes(secret: str, key: str) -> None:
    fp = fresh_project()
    try:
        fp.write(".env", f"{key}={secret}\n", mode=0o644)
        fp.write(
            "docker-compose.yml", f"services:\n  db:\n    environment:\n      {key}: {secret}\n"
        )
        fp.write("odoo.conf", f"[options]\nadmin_passwd = {secret}\ndb_password = {secret}\n"
                 f"smtp_password = {secret[:6]}\n")  # fmt: skip
        fp.write("run.sh", f"#!/bin/sh\n{key}={secret} ./go\ncurl https://u:{secret}@h/\n")
        fp.configure(env_file=".env")
        for outcome in own_outcomes(fp, SECRET_IDS):
            shown = "\n".join([outcome.message, outcome.remediation or "", *outcome.evidence])
            assert secret not in shown
            assert secret[:6] not in shown
    finally:
        shutil.rmtree(fp.root, ignore_errors=True)


FINDING = re.compile(
    r"^(a private key|a GitHub token|a GitLab token|an AWS access key|a Slack token|"
    r"a Stripe live key|a Slack webhook URL|a Discord webhook URL|a URL with a password|"
    r"a notification URL with its token|"
    r"[A-Za-z0-9_.\-]+ has a literal value|[A-Za-z]+ given literally on a command line)$"
)


@given(line=st.text(max_size=120))
def test_line_findings_are_fixed_phrases(line: str) -> None:
    """A finding is a fixed phrase, at most with a key name: never free text of the line."""
    for finding in line_findings(line, example=False):
        assert FINDING.match(finding), finding
