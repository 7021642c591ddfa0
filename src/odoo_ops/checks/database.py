"""Database checks: reachable, initialised by Odoo, a supported PostgreSQL, a
role that is not a superuser, and room for more connections.

All of them read only (``CheckContext.query`` runs in a READ ONLY
transaction). The connection is tried once per run: when it fails,
``db-reachable`` fails and the others skip with the reason.
"""

from __future__ import annotations

import time
from typing import Any

from odoo_ops.checks.base import Need, Outcome, Severity, check, failed, passed, skipped, warned
from odoo_ops.checks.context import CheckContext

# Minimum PostgreSQL major version per Odoo series: (refused below, recommended).
# - 16.0: the 16.0 docs (content/administration/install/source.rst) ask for
#   "PostgreSQL 12.0 or above"; the server itself still runs on 10/11
#   (odoo/sql_db.py of 16.0 documents REPEATABLE READ "for all supported
#   PostgreSQL version (>10)"), so 10-11 is a warning and below 10 a failure.
# - 17.0 and 18.0: source.rst "supported versions: 12.0 or above".
# - 19.0: odoo/release.py declares MIN_PG_VERSION = 13 and odoo/sql_db.py warns
#   when server_version < MIN_PG_VERSION * 10000; odoo/documentation PR #14803
#   "bump minimal postgresql version for Odoo 19" (12 -> 13).
PG_MINIMUM: dict[str, tuple[int, int]] = {
    "16.0": (10, 12),
    "17.0": (12, 12),
    "18.0": (12, 12),
    "19.0": (13, 13),
}

CONNECTIONS_WARN = 0.75
CONNECTIONS_FAIL = 0.90


def _where(ctx: CheckContext) -> str:
    """``user@host:port/db`` of the deployment's DSN (never the password)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(ctx.target.dsn())
    except Exception:
        return "the database"
    host = str(params.get("host") or "local socket")
    port = f":{params['port']}" if params.get("port") else ""
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{host}{port}/{params.get('dbname') or '?'}"


def _odoo_db_user(ctx: CheckContext) -> str | None:
    """The role Odoo itself connects as (odoo.conf db_user), when known."""
    try:
        conf = ctx.target.conf
    except Exception:
        return None
    if conf is None:
        return None
    value = conf.get("db_user")
    return str(value) if value else None


@check(
    "db-reachable",
    area="database",
    title="Database reachable",
    severity=Severity.ERROR,
    needs=[Need.DATABASE],
)
def db_reachable(ctx: CheckContext) -> Outcome:
    ctx.target.dsn()  # Unavailable (-> skip) when no database is configured
    where = _where(ctx)
    start = time.monotonic()
    error = ctx.db_connect_error()
    elapsed = (time.monotonic() - start) * 1000
    if error:
        text = error.removeprefix("database not reachable: ")
        if text.startswith("cannot connect to PostgreSQL (") and "): " in text:
            text = text.split("): ", 1)[1]
        hint = "check host, port, credentials and that PostgreSQL accepts connections from here"
        if "does not exist" in text:
            hint = "create the database or fix `database`/`dsn` (odoo-ops.toml) or `-d`"
        elif "password authentication failed" in text or "no password supplied" in text:
            hint = "fix the password (dsn, db_password in odoo.conf, or the .env variable)"
        elif "timeout" in text.lower():
            hint = "the server did not answer within connect_timeout: check firewall and host"
        return failed(
            f"cannot connect to {where} within {ctx.deployment.connect_timeout:g}s: {text}",
            hint,
        )
    return passed(f"connected to {where} ({elapsed:.0f} ms)")


@check(
    "db-initialised",
    area="database",
    title="Database initialised by Odoo (base installed)",
    severity=Severity.ERROR,
    needs=[Need.DATABASE],
)
def db_initialised(ctx: CheckContext) -> Outcome:
    db = ctx.database()
    name = db.name or "the database"
    fix = f"initialise it: `odoo -c odoo.conf -d {name} -i base --stop-after-init`"
    if not ctx.odoo_initialised():
        return failed(f"{name} has no ir_module_module table: Odoo never initialised it", fix)
    rows = ctx.query("SELECT state, latest_version FROM ir_module_module WHERE name = 'base'")
    if not rows:
        return failed(f"{name}: module base is not registered in ir_module_module", fix)
    state, version = rows[0]
    if state != "installed":
        return failed(f"{name}: module base is {state!r}, not installed", fix)
    count = ctx.query("SELECT count(*) FROM ir_module_module WHERE state = 'installed'")[0][0]
    base = f"base {version}" if version else "base"
    return passed(f"{name}: {base} installed, {count} modules installed")


def _server_version(ctx: CheckContext) -> tuple[int, str]:
    rows = ctx.query(
        "SELECT current_setting('server_version_num')::int, current_setting('server_version')"
    )
    num, text = rows[0]
    return int(num), str(text)


@check(
    "db-postgres-version",
    area="database",
    title="PostgreSQL version supported by the series",
    severity=Severity.ERROR,
    needs=[Need.DATABASE],
)
def db_postgres_version(ctx: CheckContext) -> Outcome:
    num, text = _server_version(ctx)
    major = num // 10000
    series = ctx.series
    if not series:
        return skipped(f"no series configured to compare with; PostgreSQL {text} runs")
    if series not in PG_MINIMUM:
        return skipped(f"no known PostgreSQL minimum for series {series}; PostgreSQL {text} runs")
    minimum, recommended = PG_MINIMUM[series]
    if major < minimum:
        return failed(
            f"PostgreSQL {text} is older than {minimum}, the minimum for Odoo {series}",
            f"upgrade PostgreSQL to {recommended} or later (pg_upgrade, or dump and restore)",
        )
    if major < recommended:
        return warned(
            f"PostgreSQL {text} runs Odoo {series}, but {recommended}+ is what Odoo supports",
            f"plan an upgrade to PostgreSQL {recommended} or later",
        )
    return passed(f"PostgreSQL {text} (Odoo {series} needs {recommended}+)")


@check(
    "db-user-not-superuser",
    area="database",
    title="Odoo's database role is not a superuser",
    severity=Severity.ERROR,
    needs=[Need.DATABASE],
)
def db_user_not_superuser(ctx: CheckContext) -> Outcome:
    role = _odoo_db_user(ctx)
    rows: list[tuple[Any, ...]] = []
    if role:
        rows = ctx.query(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s",
            (role,),
        )
    source = "odoo.conf db_user"
    if not rows:
        rows = ctx.query(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
            " WHERE rolname = current_user"
        )
        source = "the role odoo-ops connects as"
    name, is_super, create_role, create_db = rows[0]
    evidence = [
        f"role {name} ({source}): superuser={is_super}, createrole={create_role},"
        f" createdb={create_db}"
    ]
    if is_super:
        return failed(
            f"role {name!r} is a PostgreSQL superuser: a flaw in Odoo or an addon gets the"
            " whole server (and the host, through COPY ... PROGRAM)",
            f"give Odoo its own role: `CREATE ROLE odoo LOGIN CREATEDB PASSWORD '...'`, "
            f"`ALTER DATABASE ... OWNER TO odoo`, then `ALTER ROLE {name} NOSUPERUSER`",
            evidence,
        )
    if create_role:
        return warned(
            f"role {name!r} has CREATEROLE: it can create roles and grant itself their rights",
            f"`ALTER ROLE {name} NOCREATEROLE` (Odoo never needs it)",
            evidence,
        )
    return passed(f"role {name!r} is not a superuser and has no CREATEROLE", evidence)


@check(
    "db-connections",
    area="database",
    title="Room for more database connections",
    severity=Severity.ERROR,
    needs=[Need.DATABASE],
)
def db_connections(ctx: CheckContext) -> Outcome:
    rows = ctx.query(
        "SELECT current_setting('max_connections')::int,"
        " current_setting('superuser_reserved_connections')::int,"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    )
    max_conn, reserved, used = (int(v) for v in rows[0])
    usable = max(1, max_conn - reserved)
    ratio = used / usable
    per_db = ctx.query(
        "SELECT coalesce(datname, '-'), count(*) FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
    )
    evidence = [f"{db}: {n} connection(s)" for db, n in per_db]
    evidence.append(f"max_connections={max_conn}, superuser_reserved_connections={reserved}")
    message = f"{used} of {usable} usable connections in use ({ratio:.0%})"
    fix = (
        "raise max_connections in postgresql.conf (and restart), or lower db_maxconn/workers;"
        " look for idle connections left by other clients"
    )
    if ratio >= CONNECTIONS_FAIL:
        return failed(message + ": new Odoo workers will get 'too many clients'", fix, evidence)
    if ratio >= CONNECTIONS_WARN:
        return warned(message + ": little headroom left", fix, evidence)
    return passed(message, evidence)
