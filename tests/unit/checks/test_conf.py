"""The odoo.conf checks (area odoo-conf) on real files."""

from __future__ import annotations

import re

import psutil
import pytest

from odoo_ops.checks import all_checks
from odoo_ops.checks.base import Status
from odoo_ops.checks.evidence import parse_memory, scan_conf_text, yaml_key_lines

from .helpers import FileProject, assert_status, text_of

CONF_CHECKS = sorted(c.id for c in all_checks().values() if c.module.endswith(".checks.conf"))

COMPOSE = """\
services:
  db:
    image: postgres:15
  odoo:
    image: odoo:18.0
    volumes:
      - ./config:/etc/odoo
{extra}
"""


def compose_project(fp: FileProject, conf_text: str, extra: str = "") -> None:
    fp.write("docker-compose.yml", COMPOSE.format(extra=extra))
    fp.write("config/odoo.conf", conf_text)
    fp.configure(runner="compose", compose_file="docker-compose.yml", odoo_conf="config/odoo.conf")


def test_good_conf_passes_every_conf_check(fp: FileProject) -> None:
    fp.conf()
    results = fp.run(*CONF_CHECKS)
    assert set(results) == {
        "conf-readable", "conf-workers", "conf-memory-limits", "conf-time-limits",
        "conf-proxy-mode", "conf-list-db", "conf-dbfilter", "conf-admin-passwd",
        "conf-logging", "conf-cron-threads", "conf-db-maxconn",
    }  # fmt: skip
    # db-maxconn warns only when over the assumed default; here it passes
    bad = {i: text_of(r) for i, r in results.items() if r.status != Status.PASS}
    assert not bad


def test_every_conf_check_skips_without_odoo_conf(fp: FileProject) -> None:
    fp.configure(odoo_conf=None)
    results = fp.run(*CONF_CHECKS)
    for check_id, result in results.items():
        assert result.status == Status.SKIP, check_id
        assert "odoo.conf" in result.message, (check_id, result.message)
    assert "odoo_conf" in (results["conf-readable"].remediation or "")


# -- conf-readable -------------------------------------------------------------------


def test_readable_garbage_names_the_line(fp: FileProject) -> None:
    fp.write("odoo.conf", "[options]\nworkers = 2\nthis line is garbage\n")
    result = fp.one("conf-readable")
    assert_status(result, Status.FAIL, "odoo.conf:3")
    # the other checks cannot read it and skip, saying why
    assert fp.one("conf-workers").status == Status.SKIP


def test_readable_missing_options_section(fp: FileProject) -> None:
    fp.write("odoo.conf", "[server]\nworkers = 2\n")
    assert_status(fp.one("conf-readable"), Status.FAIL, "[options]")


def test_readable_missing_file(fp: FileProject) -> None:
    fp.configure(odoo_conf="etc/nope.conf")
    assert_status(fp.one("conf-readable"), Status.FAIL, "not found", "etc/nope.conf")


def test_readable_conversion_error_names_option(fp: FileProject) -> None:
    fp.conf(workers="many", log_level="loud")
    result = fp.one("conf-readable")
    assert_status(result, Status.FAIL, "workers", "'many' is not an integer", "log_level")
    assert "odoo.conf:" in result.evidence[0]
    assert fp.one("conf-workers").status == Status.SKIP


def test_readable_unknown_option_warns(fp: FileProject) -> None:
    fp.conf(xmlrpc_port="8069", my_custom_thing="1")
    result = fp.one("conf-readable")
    assert_status(result, Status.WARN, "xmlrpc_port", "http_port", "my_custom_thing")


def test_readable_unresolved_env_names_variable(fp: FileProject) -> None:
    fp.conf(db_password="%(env:DB_SECRET_PW)s")
    result = fp.one("conf-readable")
    assert_status(result, Status.FAIL, "db_password", "DB_SECRET_PW")
    # resolved from the env file: passes
    fp.write(".env", "DB_SECRET_PW=Zq8-long-random-value\n", mode=0o600)
    fp.configure(env_file=".env")
    assert_status(fp.one("conf-readable"), Status.PASS)


def test_readable_env_given_to_container_counts_as_set(fp: FileProject) -> None:
    conf = "[options]\ndb_password = %(env:PGPW)s\n"
    compose_project(fp, conf, "    environment:\n      PGPW: literal-in-compose\n")
    assert fp.one("conf-readable").status == Status.PASS


# -- conf-workers ----------------------------------------------------------------------


def test_workers_zero_fails_in_production_naming_cpus(fp: FileProject) -> None:
    fp.conf(workers=0)
    cpus = psutil.cpu_count()
    result = fp.one("conf-workers")
    assert_status(result, Status.FAIL, "workers = 0", f"{cpus} CPU(s) from this host",
                  f"2×CPU+1 = {2 * cpus + 1}")  # fmt: skip
    fp.configure(production=False)
    assert_status(fp.one("conf-workers"), Status.PASS, "non-production")


def test_workers_above_two_cpus_plus_one_warns(fp: FileProject) -> None:
    fp.conf(workers=999)
    assert_status(fp.one("conf-workers"), Status.WARN, "999", "this host")


def test_workers_bound_uses_compose_cpus(fp: FileProject) -> None:
    compose_project(fp, "[options]\nworkers = 3\n", '    cpus: "0.5"')
    assert_status(fp.one("conf-workers"), Status.WARN, "2×CPU+1 = 2", "0.5 CPU(s)",
                  "cpus of compose service 'odoo'")  # fmt: skip
    compose_project(
        fp, "[options]\nworkers = 3\n",
        "    deploy:\n      resources:\n        limits:\n          cpus: '1'",
    )  # fmt: skip
    assert_status(fp.one("conf-workers"), Status.PASS, "deploy.resources.limits.cpus")


# -- conf-memory-limits -------------------------------------------------------------------


def test_memory_soft_not_below_hard_fails(fp: FileProject) -> None:
    fp.conf(limit_memory_soft=2147483648, limit_memory_hard=1610612736)
    result = fp.one("conf-memory-limits")
    assert_status(result, Status.FAIL, "2.0 GiB", "1.5 GiB", "odoo.conf:")


def test_memory_total_over_compose_mem_limit_fails(fp: FileProject) -> None:
    conf = "[options]\nworkers = 4\nmax_cron_threads = 1\nlimit_memory_soft = 268435456\n"
    conf += "limit_memory_hard = 402653184\n"  # 384 MiB x 4 = 1.5 GiB > 1 GiB
    compose_project(fp, conf, "    mem_limit: 1g")
    result = fp.one("conf-memory-limits")
    assert_status(result, Status.FAIL, "1.5 GiB", "mem_limit of compose service 'odoo'",
                  "limit_memory_hard to at most")  # fmt: skip


def test_memory_cron_workers_tip_it_over_warns(fp: FileProject) -> None:
    conf = "[options]\nworkers = 2\nmax_cron_threads = 2\nlimit_memory_soft = 268435456\n"
    conf += "limit_memory_hard = 402653184\n"  # 2 x 384 MiB fits 1 GiB, 4 x does not
    compose_project(fp, conf, "    mem_limit: 1g")
    assert_status(fp.one("conf-memory-limits"), Status.WARN, "cron")


def test_memory_threaded_mode_only_compares_soft_and_hard(fp: FileProject) -> None:
    fp.conf(workers=0)
    assert_status(fp.one("conf-memory-limits"), Status.PASS, "workers = 0")


# -- conf-time-limits -----------------------------------------------------------------


def test_time_limits(fp: FileProject) -> None:
    fp.conf(limit_time_cpu=600, limit_time_real=300)
    assert_status(fp.one("conf-time-limits"), Status.WARN, "300", "600")
    fp.conf(limit_time_cpu=60, limit_time_real=120)
    assert fp.one("conf-time-limits").status == Status.PASS
    fp.conf(limit_time_cpu="%(env:UNSET_LIMIT)s")
    assert_status(fp.one("conf-time-limits"), Status.SKIP, "UNSET_LIMIT")


# -- conf-proxy-mode -------------------------------------------------------------------


def test_proxy_mode_off_behind_https_fails(fp: FileProject) -> None:
    fp.conf(proxy_mode=False)
    fp.configure(base_url="https://erp.example.com")
    assert_status(fp.one("conf-proxy-mode"), Status.FAIL, "proxy_mode = True", "https")


def test_proxy_mode_on_with_nginx_config_passes(fp: FileProject) -> None:
    fp.conf(proxy_mode=True)
    fp.write("nginx/odoo.conf", "server {\n  listen 80;\n  location / {\n"
             "    proxy_pass http://127.0.0.1:8069;\n  }\n}\n")  # fmt: skip
    assert_status(fp.one("conf-proxy-mode"), Status.PASS, "nginx/odoo.conf:4")


def test_proxy_mode_on_without_proxy_warns(fp: FileProject) -> None:
    fp.conf(proxy_mode=True)
    assert_status(fp.one("conf-proxy-mode"), Status.WARN, "behind_proxy")
    fp.configure(behind_proxy=True)
    assert fp.one("conf-proxy-mode").status == Status.PASS


def test_proxy_mode_caddy_service_in_compose(fp: FileProject) -> None:
    compose_project(fp, "[options]\nproxy_mode = False\n",
                    "  caddy:\n    image: caddy:2\n")  # fmt: skip
    assert_status(fp.one("conf-proxy-mode"), Status.FAIL, "caddy")


# -- conf-list-db / conf-dbfilter -----------------------------------------------------


def test_list_db(fp: FileProject) -> None:
    fp.conf(list_db=None)
    assert_status(fp.one("conf-list-db"), Status.FAIL, "default is True", "list_db = False")
    fp.conf(list_db=True)
    assert_status(fp.one("conf-list-db"), Status.FAIL, "set to True")
    fp.conf(list_db=False)
    assert fp.one("conf-list-db").status == Status.PASS


@pytest.mark.parametrize("value", ["^%d$", "^%h$", "^odoo_prod$"])
def test_dbfilter_anchored_passes(fp: FileProject, value: str) -> None:
    fp.conf(dbfilter=value)
    assert fp.one("conf-dbfilter").status == Status.PASS


@pytest.mark.parametrize("value,needle", [(".*", "matches every"), ("^(", "not a valid")])
def test_dbfilter_useless_or_broken_warns(fp: FileProject, value: str, needle: str) -> None:
    fp.conf(dbfilter=value)
    assert_status(fp.one("conf-dbfilter"), Status.WARN, needle)


def test_dbfilter_missing(fp: FileProject) -> None:
    fp.conf(dbfilter=None, list_db=True)
    assert_status(fp.one("conf-dbfilter"), Status.WARN, "list_db is on")
    fp.conf(dbfilter=None, list_db=False)  # db_name pins one database
    assert_status(fp.one("conf-dbfilter"), Status.PASS, "db_name")
    fp.conf(dbfilter=None, list_db=False, db_name=None)  # and no database to count
    assert_status(fp.one("conf-dbfilter"), Status.WARN, "not known")


# -- conf-admin-passwd -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,needle",
    [
        ("admin", "default or common"),
        ("S3cret!", "shorter than 12"),
        ("changeme-please-now", "example/placeholder"),
        ("same-as-the-db-password", "same as another password"),
    ],
)
def test_admin_passwd_weak_fails_without_showing_it(
    fp: FileProject, value: str, needle: str
) -> None:
    fp.conf(admin_passwd=value, db_password="same-as-the-db-password")
    result = fp.one("conf-admin-passwd")
    assert_status(result, Status.FAIL, needle, "odoo.conf:")
    # never the value; its name stays readable ("admin" in "admin_passwd" is a word, not it)
    assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text_of(result))
    assert "admin_passwd" in text_of(result)


def test_admin_passwd_missing_plain_hashed(fp: FileProject) -> None:
    fp.conf(admin_passwd=None)
    assert_status(fp.one("conf-admin-passwd"), Status.FAIL, "not set")
    fp.conf(admin_passwd="Kx9!long-and-random-Ze7q")
    result = fp.one("conf-admin-passwd")
    assert_status(result, Status.WARN, "plain text")
    assert "Kx9!long" not in text_of(result)
    fp.conf(admin_passwd="$pbkdf2-sha512$600000$broken")
    assert_status(fp.one("conf-admin-passwd"), Status.FAIL, "malformed")
    fp.conf(admin_passwd="$2b$12$abcdefghijklmnopqrstuv")
    assert_status(fp.one("conf-admin-passwd"), Status.FAIL, "pbkdf2-sha512")


def test_admin_passwd_real_passlib_hash_passes(fp: FileProject) -> None:
    passlib = pytest.importorskip("passlib.context")
    hashed = passlib.CryptContext(["pbkdf2_sha512"]).hash("a-strong-master-password")
    fp.conf(admin_passwd=hashed)
    assert_status(fp.one("conf-admin-passwd"), Status.PASS, "pbkdf2-sha512 hash")


# -- conf-logging ------------------------------------------------------------------------


def test_logging_debug_and_log_db_warn(fp: FileProject) -> None:
    fp.conf(log_level="debug_sql", log_db="odoo_prod", log_handler=":INFO,odoo.sql_db:DEBUG")
    result = fp.one("conf-logging")
    assert_status(result, Status.WARN, "debug_sql", "log_db", "odoo.sql_db:DEBUG")
    fp.configure(production=False)
    fp.conf(log_level="debug")
    assert fp.one("conf-logging").status == Status.PASS


def test_logging_local_logfile(fp: FileProject) -> None:
    fp.conf(logfile=fp.root / "var/log/odoo.log")
    assert_status(fp.one("conf-logging"), Status.WARN, "does not exist")
    (fp.root / "var/log").mkdir(parents=True)
    assert_status(fp.one("conf-logging"), Status.PASS, "odoo.log")


def test_logging_logfile_inside_container_warns(fp: FileProject) -> None:
    compose_project(fp, "[options]\nlogfile = /var/log/odoo/odoo.log\n")
    assert_status(fp.one("conf-logging"), Status.WARN, "inside the container")
    compose_project(fp, "[options]\n")
    assert_status(fp.one("conf-logging"), Status.PASS, "stdout")


# -- conf-cron-threads -------------------------------------------------------------------


def test_cron_threads(fp: FileProject) -> None:
    fp.conf(max_cron_threads=0)
    assert_status(fp.one("conf-cron-threads"), Status.WARN, "max_cron_threads = 0")
    fp.conf(max_cron_threads=6)
    assert_status(fp.one("conf-cron-threads"), Status.WARN, "6")
    fp.conf(max_cron_threads=2)
    assert fp.one("conf-cron-threads").status == Status.PASS


def test_cron_threads_zero_marked_intentional(fp: FileProject) -> None:
    fp.write("odoo.conf", "[options]\n; odoo-ops: intentional (crons run on node 2)\n"
             "max_cron_threads = 0\n")  # fmt: skip
    assert_status(fp.one("conf-cron-threads"), Status.PASS, "intentional")


# -- conf-db-maxconn (without a database; the server case is an integration test) -------


def test_db_maxconn_against_assumed_default(fp: FileProject) -> None:
    fp.configure(database="nodb", dsn="postgresql://u@127.0.0.1:1/nodb")
    fp.conf(db_maxconn=64, workers=4, max_cron_threads=2)
    result = fp.one("conf-db-maxconn")
    assert_status(result, Status.WARN, "384", "assumed", "max_connections = 100")
    fp.conf(db_maxconn=8, workers=4, max_cron_threads=2)
    assert_status(fp.one("conf-db-maxconn"), Status.PASS, "48", "assumed")


# -- helpers ------------------------------------------------------------------------------


def test_scan_conf_text_lines(fp: FileProject) -> None:
    path = fp.write("odoo.conf", "[other]\nworkers = 9\n[options]\n; c\nworkers = 2\n"
                    "addons_path = a,\n  b\nlist_db: False\n")  # fmt: skip
    text = scan_conf_text(path, "odoo.conf")
    assert text.lines == {"workers": 5, "addons_path": 6, "list_db": 8}
    assert text.at("workers") == "odoo.conf:5"
    assert text.show("admin_passwd").endswith("not set (Odoo's default: 'admin')")


def test_yaml_key_lines(fp: FileProject) -> None:
    path = fp.write("c.yml", "services:\n  db:\n    image: x\n  odoo:\n    logging:\n      a: 1\n")
    lines = yaml_key_lines(path)
    assert lines[("services", "odoo", "logging")] == 5
    assert lines[("services", "db")] == 2


@pytest.mark.parametrize(
    "value,expected",
    [("512m", 512 * 1024**2), ("1g", 1024**3), ("2GB", 2 * 1024**3), (1000, 1000),
     ("1.5g", int(1.5 * 1024**3)), ("lots", None), (None, None)],
)  # fmt: skip
def test_parse_memory(value: object, expected: int | None) -> None:
    assert parse_memory(value) == expected
