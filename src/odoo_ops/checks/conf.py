"""Checks of ``odoo.conf`` (area ``odoo-conf``).

They read the odoo.conf of the deployment the way Odoo does and compare it
with Odoo's deployment guide: workers and the machine's CPUs, memory and time
limits, ``proxy_mode``, the database manager (``list_db``, ``dbfilter``,
``admin_passwd``), logging, cron threads and the connection budget against
PostgreSQL's ``max_connections``.

Evidence names ``file:line`` of the option (:mod:`odoo_ops.checks.evidence`).
Secret options never show their value. This module also tells the CPUs and
memory Odoo gets (:func:`resources`), which other checks use.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.adapters import Unavailable
from odoo_ops.adapters.odoo_conf import OPTIONS, OdooConf
from odoo_ops.checks.base import (
    Outcome,
    Status,
    check,
    failed,
    passed,
    skipped,
    warned,
)
from odoo_ops.checks.evidence import (
    INTENTIONAL,
    KEY_LINE,
    SECTION_LINE,
    compose_where,
    conf_text,
    display,
    human_bytes,
    parse_memory,
    walk_files,
)
from odoo_ops.errors import ConfigError
from odoo_ops.inputs import (
    ODOO_CONF_LIMIT,
    read_input_lenient,
)

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext

AREA = "odoo-conf"

#: Options Odoo 16.0-19.0 read from the ``[options]`` section, beyond the
#: typed ones the reader knows (``odoo/tools/config.py``).
ODOO_OPTIONS = frozenset(OPTIONS) | {
    "bin_path",
    "db_app_name",
    "default_productivity_apps",
    "dev_mode",
    "from_filter",
    "geoip_city_db",
    "geoip_country_db",
    "import_file_maxbytes",
    "import_file_timeout",
    "import_partial",
    "import_url_regex",
    "language",
    "limit_time_worker_cron",
    "load_language",
    "osv_memory_age_limit",
    "overwrite_existing_translations",
    "pg_path",
    "pre_upgrade_scripts",
    "proxy_access_token",
    "publisher_warranty_url",
    "root_path",
    "screencasts",
    "screenshots",
    "shell_interface",
    "smtp_ssl_certificate_filename",
    "smtp_ssl_private_key_filename",
    "stop_after_init",
    "test_file",
    "test_tags",
    "test_commit",
    "test_report_directory",
    "translate_in",
    "translate_modules",
    "translate_out",
    "websocket_keep_alive_timeout",
    "websocket_rate_limit_burst",
    "websocket_rate_limit_delay",
    "with_demo",
    "demo",
    "init",
    "update",
    "save",
    "config",
}

#: Options older Odoo versions wrote into odoo.conf that 16.0+ ignores.
OBSOLETE_OPTIONS = {
    "xmlrpc": "removed; use http_enable",
    "xmlrpc_port": "renamed http_port (Odoo ignores xmlrpc_port in the file)",
    "xmlrpc_interface": "renamed http_interface (Odoo ignores xmlrpc_interface in the file)",
    "xmlrpcs": "removed (Odoo serves no TLS: terminate it at the proxy)",
    "xmlrpcs_port": "removed (Odoo serves no TLS: terminate it at the proxy)",
    "xmlrpcs_interface": "removed (Odoo serves no TLS: terminate it at the proxy)",
    "netrpc": "removed",
    "netrpc_port": "removed",
    "netrpc_interface": "removed",
    "secure_cert_file": "removed (terminate TLS at the proxy)",
    "secure_pkey_file": "removed (terminate TLS at the proxy)",
    "timezone": "removed: the time zone is a user preference",
    "debug_mode": "removed: use dev_mode",
    "auto_reload": "removed: use dev_mode = reload",
    "logrotate": "removed: Odoo 16+ no longer rotates its log file; use logrotate(8)",
}

LOG_LEVELS = (
    "info", "debug_rpc", "warn", "test", "critical", "runbot", "debug_sql", "error",
    "debug", "debug_rpc_answer", "notset",
)  # fmt: skip
DEBUG_LEVELS = frozenset({"debug", "debug_rpc", "debug_rpc_answer", "debug_sql"})
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

#: PostgreSQL's default ``max_connections`` (used when no database answers).
PG_DEFAULT_MAX_CONNECTIONS = 100
#: Each PostgreSQL server keeps this many connection slots for superusers.
PG_DEFAULT_RESERVED = 3





@dataclass
class Resources:
    """CPUs and memory available to Odoo, and where each figure comes from."""

    cpus: float | None
    cpu_source: str
    memory: int | None
    memory_source: str


def resources(ctx: CheckContext) -> Resources:
    """CPU count and RAM Odoo gets: compose limits of the odoo service, else this host."""
    if "resources" in ctx.cache:
        cached: Resources = ctx.cache["resources"]
        return cached
    import psutil

    dep = ctx.deployment
    cpus: float | None = None
    memory: int | None = None
    cpu_source = memory_source = ""
    if dep.runner == "ssh":
        res = Resources(None, f"the CPUs of {dep.ssh_host} are not known from here", None,
                        f"the memory of {dep.ssh_host} is not known from here")  # fmt: skip
        ctx.cache["resources"] = res
        return res
    svc = ctx.target.odoo_service if dep.runner == "compose" else None
    if svc is not None:
        limits = ((svc.raw.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        for value, where in (
            (svc.raw.get("cpus"), "cpus"),
            (limits.get("cpus"), "deploy.resources.limits.cpus"),
        ):
            try:
                if value is not None and float(value) > 0:
                    cpus = float(value)
                    cpu_source = f"{where} of compose service {svc.name!r}"
                    break
            except (TypeError, ValueError):
                continue
        for value, where in (
            (svc.raw.get("mem_limit"), "mem_limit"),
            (limits.get("memory"), "deploy.resources.limits.memory"),
        ):
            parsed = parse_memory(value)
            if parsed:
                memory = parsed
                memory_source = f"{where} of compose service {svc.name!r}"
                break
    if cpus is None:
        count = psutil.cpu_count(logical=True) or os.cpu_count()
        if count:
            cpus = float(count)
            cpu_source = "this host"
    if memory is None:
        memory = int(psutil.virtual_memory().total)
        memory_source = "this host"
    res = Resources(cpus, cpu_source, memory, memory_source)
    ctx.cache["resources"] = res
    return res


def _fmt_cpus(cpus: float) -> str:
    return f"{cpus:g}"


def _ints(conf: OdooConf, *options: str) -> dict[str, int] | str:
    """Typed ints of ``options``, or why one cannot be read."""
    out: dict[str, int] = {}
    for option in options:
        if option in conf.unresolved:
            names = ", ".join(conf.unresolved[option])
            return f"{option} needs unset variable(s) {names} (see conf-readable)"
        err = conf.error_for(option)
        if err:
            return f"{option} cannot be read: {err} (see conf-readable)"
        value = conf.get(option)
        out[option] = int(value) if value is not None else int(OPTIONS[option][1] or 0)
    return out


# -- conf-readable -------------------------------------------------------------


def _garbage_lines(path: Path) -> list[int]:
    """Lines configparser cannot read (not a section, ``key = value``, comment, continuation)."""
    text = read_input_lenient(path, kind="odoo.conf", limit=ODOO_CONF_LIMIT)
    if text is None:
        return []
    bad = []
    seen_section = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if SECTION_LINE.match(line):
            seen_section = True
            continue
        if line[:1].isspace() and seen_section:
            continue  # continuation line
        if not seen_section or not KEY_LINE.match(line):
            bad.append(number)
    return bad


@check(
    "conf-readable",
    area=AREA,
    title="odoo.conf parses and every option converts",
    severity="error",
    needs=["files"],
)
def conf_readable(ctx: CheckContext) -> Outcome:
    dep = ctx.deployment
    if dep.runner == "ssh":
        return skipped("odoo.conf is on the remote host (runner ssh): not readable from here")
    path = ctx.target.odoo_conf_path
    if path is None:
        return Outcome(
            Status.SKIP,
            "no odoo.conf configured or found",
            "set odoo_conf in odoo-ops.toml, pass -c FILE, or set ODOO_RC",
        )
    shown = display(ctx, path)
    try:
        conf = ctx.target.conf
    except ConfigError as exc:
        lines = _garbage_lines(path) if path.is_file() else []
        bad = [f"{shown}:{n}: not an `option = value` line" for n in lines[:20]]
        if not path.exists():
            return failed(
                f"odoo.conf not found: {shown}",
                "fix odoo_conf in odoo-ops.toml (or -c) to point at the file Odoo reads",
            )
        return failed(
            f"odoo.conf cannot be read: {exc}",
            "fix the lines shown: every line of [options] must be `option = value`,"
            " a comment (; or #) or an indented continuation",
            bad,
        )
    assert conf is not None
    text = conf_text(ctx, conf)
    problems: list[str] = []
    evidence: list[str] = []
    for option in sorted(conf.raw):
        err = conf.error_for(option)
        if err:
            problems.append(f"{option}: {err}")
            evidence.append(f"{text.at(option)}: {option}: {err}")
    level = conf.raw.get("log_level")
    if (
        level is not None
        and "log_level" not in conf.unresolved
        and level.strip().lower() not in LOG_LEVELS
    ):
        problems.append(f"log_level: {level.strip()!r} is not one of {', '.join(LOG_LEVELS)}")
        evidence.append(f"{text.at('log_level')}: log_level is not a level Odoo knows")
    sslmode = conf.raw.get("db_sslmode")
    if (
        sslmode is not None
        and "db_sslmode" not in conf.unresolved
        and sslmode.strip() not in SSL_MODES
    ):
        problems.append(f"db_sslmode: {sslmode.strip()!r} is not one of {', '.join(SSL_MODES)}")
        evidence.append(f"{text.at('db_sslmode')}: db_sslmode is not a libpq sslmode")
    in_container = _container_env(ctx)
    unresolved = {
        option: [v for v in names if v not in in_container]
        for option, names in conf.unresolved.items()
    }
    unresolved = {k: v for k, v in unresolved.items() if v}
    for option, names in sorted(unresolved.items()):
        problems.append(f"{option} uses unset variable(s) {', '.join(names)}")
        evidence.append(f"{text.at(option)}: {option} needs {', '.join(names)}")
    unknown = sorted(o for o in conf.raw if o not in ODOO_OPTIONS)
    notes = []
    for option in unknown:
        why = OBSOLETE_OPTIONS.get(option)
        if why:
            notes.append(f"{option} ({why})")
            evidence.append(f"{text.at(option)}: {option}: {why}")
        else:
            notes.append(option)
            evidence.append(f"{text.at(option)}: {option}: not an Odoo option")
    if problems:
        fix = []
        if any("not " in p and "unset" not in p for p in problems):
            fix.append(
                "give each option a value of its type (integers in bytes/seconds, True/False)"
            )
        if unresolved:
            names = sorted({n for v in unresolved.values() for n in v})
            fix.append(
                f"set {', '.join(names)} in the env file ({dep.env_file or '.env'})"
                " or the environment"
            )
        return failed(
            f"odoo.conf ({shown}) has {len(problems)} problem(s): " + "; ".join(problems),
            "; ".join(fix) or "fix the options shown",
            evidence,
        )
    if unknown:
        return warned(
            f"odoo.conf ({shown}) has option(s) Odoo does not read: {', '.join(notes)}",
            "remove or rename them (an addon may read its own options: then keep them)",
            evidence,
        )
    return passed(f"odoo.conf ({shown}) parses: {len(conf.raw)} options, all convert")


def _container_env(ctx: CheckContext) -> set[str]:
    """Variables the odoo service gets as literals in compose (resolved in the container)."""
    svc = ctx.target.odoo_service if ctx.deployment.runner == "compose" else None
    if svc is None:
        return set()
    return {k for k, v in svc.environment.items() if v and "$" not in v}


# -- conf-workers ------------------------------------------------------------


@check(
    "conf-workers",
    area=AREA,
    title="workers set for production and within 2×CPU+1",
    severity="error",
    needs=["files"],
)
def conf_workers(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    values = _ints(conf, "workers")
    if isinstance(values, str):
        return skipped(values)
    workers = values["workers"]
    res = resources(ctx)
    if res.cpus is not None:
        limit = int(2 * res.cpus + 1)
        cpu_note = f"{_fmt_cpus(res.cpus)} CPU(s) from {res.cpu_source}"
        suggest = limit
    else:
        limit = None
        cpu_note = res.cpu_source
        suggest = 0
    evidence = [text.show("workers", workers)]
    if workers < 0:
        return failed(f"workers = {workers} is negative", "set workers to 0 or more", evidence)
    if workers == 0:
        if ctx.deployment.production:
            hint = f" (2×CPU+1 = {limit} for {cpu_note})" if limit else ""
            return failed(
                "workers = 0 on a production deployment: Odoo runs threaded in one process,"
                " without memory/time limits per request and without the longpolling/gevent worker",
                f"set workers = {suggest or 'N'} in odoo.conf{hint}; size it as about one worker"
                " per 6 concurrent users, at most 2×CPU+1",
                evidence,
            )
        return passed("workers = 0 (threaded mode) on a non-production deployment", evidence)
    if limit is None:
        return passed(f"workers = {workers} (upper bound not checked: {cpu_note})", evidence)
    if workers > limit:
        return warned(
            f"workers = {workers} exceeds 2×CPU+1 = {limit} ({cpu_note}):"
            " workers compete for CPU and requests get slower",
            f"lower workers to {limit} or less, or give Odoo more CPUs",
            evidence,
        )
    return passed(f"workers = {workers} (≤ 2×CPU+1 = {limit}, {cpu_note})", evidence)


# -- conf-memory-limits --------------------------------------------------------


@check(
    "conf-memory-limits",
    area=AREA,
    title="limit_memory_soft < limit_memory_hard, workers × hard ≤ RAM",
    severity="error",
    needs=["files"],
)
def conf_memory_limits(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    values = _ints(conf, "limit_memory_soft", "limit_memory_hard", "workers", "max_cron_threads")
    if isinstance(values, str):
        return skipped(values)
    soft, hard = values["limit_memory_soft"], values["limit_memory_hard"]
    workers, crons = values["workers"], values["max_cron_threads"]
    evidence = [
        text.show("limit_memory_soft", soft) + f" ({human_bytes(soft)})",
        text.show("limit_memory_hard", hard) + f" ({human_bytes(hard)})",
    ]
    if soft <= 0 or hard <= 0:
        return failed(
            "a memory limit is 0 or negative: workers are never recycled and can take all memory",
            "set limit_memory_soft and limit_memory_hard in bytes, e.g. 2147483648 and 2684354560",
            evidence,
        )
    if soft >= hard:
        return failed(
            f"limit_memory_soft ({human_bytes(soft)}) is not below limit_memory_hard"
            f" ({human_bytes(hard)}): a worker is killed before it can finish its request and"
            " be recycled gracefully",
            "set limit_memory_soft below limit_memory_hard (e.g. soft = 80% of hard)",
            evidence,
        )
    if workers <= 0:
        return passed(
            f"limit_memory_soft {human_bytes(soft)} < limit_memory_hard {human_bytes(hard)}"
            " (workers = 0: per-worker totals not applicable)",
            evidence,
        )
    res = resources(ctx)
    if res.memory is None:
        return passed(
            f"limit_memory_soft < limit_memory_hard; total not checked: {res.memory_source}",
            evidence,
        )
    ram = res.memory
    total = workers * hard
    evidence.append(f"memory: {human_bytes(ram)} from {res.memory_source}")
    if total > ram:
        per = ram // workers
        return failed(
            f"workers × limit_memory_hard = {workers} × {human_bytes(hard)} = {human_bytes(total)}"
            f" exceeds the {human_bytes(ram)} of memory ({res.memory_source}):"
            " busy workers can exhaust it and the kernel OOM killer stops Odoo or PostgreSQL",
            f"lower limit_memory_hard to at most {per} ({human_bytes(per)}) with soft about 80%"
            " of it, lower workers, or give Odoo more memory",
            evidence,
        )
    with_cron = (workers + crons) * hard
    if with_cron > ram:
        return warned(
            f"workers × limit_memory_hard = {human_bytes(total)} fits in {human_bytes(ram)}"
            f" ({res.memory_source}), but with the {crons} cron worker(s) it is"
            f" {human_bytes(with_cron)}",
            "lower limit_memory_hard or max_cron_threads, or give Odoo more memory",
            evidence,
        )
    return passed(
        f"limit_memory_soft {human_bytes(soft)} < hard {human_bytes(hard)};"
        f" {workers} workers × hard = {human_bytes(total)} ≤ {human_bytes(ram)}"
        f" ({res.memory_source})",
        evidence,
    )


# -- conf-time-limits ----------------------------------------------------------


@check(
    "conf-time-limits",
    area=AREA,
    title="limit_time_real > limit_time_cpu",
    severity="warning",
    needs=["files"],
)
def conf_time_limits(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    values = _ints(conf, "limit_time_cpu", "limit_time_real")
    if isinstance(values, str):
        return skipped(values)
    cpu, real = values["limit_time_cpu"], values["limit_time_real"]
    evidence = [text.show("limit_time_cpu", cpu), text.show("limit_time_real", real)]
    if cpu <= 0 or real <= 0:
        which = "limit_time_cpu" if cpu <= 0 else "limit_time_real"
        return failed(
            f"{which} is {min(cpu, real)}: requests are never stopped in that dimension",
            "set both limits in seconds, e.g. limit_time_cpu = 600 and limit_time_real = 1200",
            evidence,
        )
    if real <= cpu:
        return failed(
            f"limit_time_real ({real}s) is not greater than limit_time_cpu ({cpu}s):"
            " the CPU limit can never be reached, the wall-clock limit kills requests first",
            f"set limit_time_real above limit_time_cpu (e.g. {cpu * 2})",
            evidence,
        )
    return passed(f"limit_time_real {real}s > limit_time_cpu {cpu}s", evidence)


# -- conf-proxy-mode -----------------------------------------------------------

_PROXY_FILE = re.compile(
    r"(^|/)(nginx[^/]*|caddy[^/]*|Caddyfile[^/]*|[^/]+\.conf|[^/]+\.nginx)$", re.I
)
def proxy_evidence(ctx: CheckContext) -> list[str]:
    """Why odoo-ops thinks Odoo is behind a reverse proxy (empty when it does not)."""
    if "proxy_evidence" in ctx.cache:
        cached: list[str] = ctx.cache["proxy_evidence"]
        return cached
    found: list[str] = []
    base_url = ctx.deployment.base_url or ""
    if base_url.startswith("https://"):
        found.append(f"base_url is https ({base_url}): TLS ends at a proxy, Odoo serves plain HTTP")
    compose = ctx.target.compose_or_none()
    if compose is not None:
        for name, svc in compose.services.items():
            image = (svc.image or "").lower()
            if re.search(r"(^|/)(nginx|caddy|traefik|haproxy|nginx-proxy)([:@]|$)", image):
                found.append(
                    f"{compose_where(ctx, 'services', name)}: service {name!r} runs {svc.image}"
                )
    for path in walk_files(ctx.project.root):
        rel = path.relative_to(ctx.project.root).as_posix()
        if not _PROXY_FILE.search(rel) and not ("nginx" in rel.lower() or "caddy" in rel.lower()):
            continue
        content = read_input_lenient(path, kind="proxy config", limit=256 * 1024)
        if content is None:
            continue
        for number, line in enumerate(content.splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"\b(proxy_pass|reverse_proxy)\b", code):
                found.append(f"{display(ctx, path)}:{number}: {code.strip()[:80]}")
                break
    ctx.cache["proxy_evidence"] = found
    return found


@check(
    "conf-proxy-mode",
    area=AREA,
    title="proxy_mode on behind a reverse proxy, off without one",
    severity="error",
    needs=["files"],
)
def conf_proxy_mode(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    if conf.error_for("proxy_mode") or "proxy_mode" in conf.unresolved:
        return skipped("proxy_mode cannot be read (see conf-readable)")
    proxy_mode = bool(conf.get("proxy_mode"))
    declared = ctx.deployment.behind_proxy
    if declared is not None:
        behind = declared
        why = [f"odoo-ops.toml: behind_proxy = {str(declared).lower()}"]
    else:
        why = proxy_evidence(ctx)
        behind = bool(why)
    evidence = [text.show("proxy_mode", proxy_mode), *why[:5]]
    if behind and not proxy_mode:
        return failed(
            "Odoo is behind a reverse proxy but proxy_mode is off: Odoo logs the proxy's address"
            " as every client's IP, and builds http:// URLs and redirects behind HTTPS",
            "set proxy_mode = True in odoo.conf, and have the proxy send X-Forwarded-For,"
            " X-Forwarded-Host and X-Forwarded-Proto",
            evidence,
        )
    if proxy_mode and not behind:
        return warned(
            "proxy_mode = True but no reverse proxy was found (no https base_url, no nginx/Caddy"
            " config in the project): if clients reach Odoo directly they can forge"
            " X-Forwarded-* headers (client IP, host)",
            "if a proxy runs elsewhere, set behind_proxy = true for this deployment in"
            " odoo-ops.toml; otherwise set proxy_mode = False",
            evidence,
        )
    if behind:
        return passed("proxy_mode = True behind a reverse proxy", evidence)
    return passed("proxy_mode off and no reverse proxy found", evidence)


# -- conf-list-db --------------------------------------------------------------


@check(
    "conf-list-db",
    area=AREA,
    title="database manager disabled (list_db = False)",
    severity="error",
    needs=["files"],
)
def conf_list_db(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    if conf.error_for("list_db") or "list_db" in conf.unresolved:
        return skipped("list_db cannot be read (see conf-readable)")
    list_db = bool(conf.get("list_db"))
    evidence = [text.show("list_db", list_db)]
    if list_db:
        where = "set to True" if conf.has("list_db") else "not set (Odoo's default is True)"
        return failed(
            f"list_db is {where}: anyone reaching Odoo can list the databases and open the"
            " database manager (/web/database/manager) to back up, duplicate or drop them with"
            " the master password",
            "set list_db = False in odoo.conf, and block /web/database/* at the proxy",
            evidence,
        )
    return passed("list_db = False: the database manager and selector are disabled", evidence)


# -- conf-dbfilter -------------------------------------------------------------


def _server_database_count(ctx: CheckContext) -> tuple[int | None, str]:
    """How many user databases the server holds, or why that is not known."""
    if not ctx.target.database_name and not ctx.deployment.dsn:
        return None, "no database configured"
    try:
        rows = ctx.query(
            "SELECT count(*) FROM pg_database WHERE NOT datistemplate"
            " AND datname NOT IN ('postgres') AND datallowconn"
        )
    except Unavailable as exc:
        return None, str(exc)
    return int(rows[0][0]), "PostgreSQL server"


@check(
    "conf-dbfilter",
    area=AREA,
    title="a dbfilter when the database list is open or several databases exist",
    severity="warning",
    needs=["files"],
)
def conf_dbfilter(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    if "dbfilter" in conf.unresolved:
        return skipped("dbfilter needs unset variable(s) (see conf-readable)")
    dbfilter = str(conf.get("dbfilter") or "").strip()
    list_db = bool(conf.get("list_db"))
    db_name = conf.get("db_name")
    names = [n.strip() for n in str(db_name).split(",") if n.strip()] if db_name else []
    evidence = [text.show("dbfilter", dbfilter)]
    if dbfilter:
        probe = dbfilter.replace("%d", "example").replace("%h", "example.com")
        try:
            pattern = re.compile(probe)
        except re.error as exc:
            return failed(
                f"dbfilter is not a valid regular expression ({exc})",
                "write it as a regular expression, e.g. ^%d$ or ^odoo_prod$",
                evidence,
            )
        if pattern.fullmatch("any_database_name") and pattern.fullmatch("another-db"):
            return failed(
                f"dbfilter {dbfilter!r} matches every database name: it filters nothing",
                "anchor it: ^%d$ (database named after the domain's first label),"
                " ^%h$ (the whole host name) or ^NAME$",
                evidence,
            )
        return passed(f"dbfilter = {dbfilter}", evidence)
    if list_db:
        return failed(
            "no dbfilter while list_db is on: every database of the server is offered to"
            " every visitor of every domain",
            "set dbfilter = ^%d$ (or ^NAME$ for one database) and list_db = False",
            evidence + [text.show("list_db", list_db)],
        )
    if len(names) == 1:
        return passed(f"no dbfilter, but db_name = {names[0]} pins the database", evidence)
    count, source = _server_database_count(ctx)
    if count is not None and count > 1:
        return failed(
            f"no dbfilter and db_name does not pin one database, while the {source} holds"
            f" {count} databases: requests go to whichever database the URL or cookie names",
            "set dbfilter = ^NAME$ (or ^%d$ for one database per domain)",
            evidence,
        )
    if count is None:
        return warned(
            f"no dbfilter and no single db_name; the number of databases is not known ({source})",
            "set dbfilter = ^NAME$ (or ^%d$), or db_name = NAME",
            evidence,
        )
    return passed(f"no dbfilter, and the {source} holds {count} database(s)", evidence)


# -- conf-admin-passwd ---------------------------------------------------------

_PBKDF2 = re.compile(r"^\$pbkdf2-sha512\$(\d+)\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+$")


@check(
    "conf-admin-passwd",
    area=AREA,
    title="admin_passwd set, strong and hashed",
    severity="error",
    needs=["files"],
)
def conf_admin_passwd(ctx: CheckContext) -> Outcome:
    from odoo_ops.checks.secrets import weak_reason

    conf = ctx.conf()
    text = conf_text(ctx, conf)
    gen = (
        'generate a strong password, then store its hash: python3 -c "from passlib.context'
        " import CryptContext; print(CryptContext(['pbkdf2_sha512']).hash(input()))\""
    )
    if "admin_passwd" not in conf.raw:
        return failed(
            "admin_passwd is not set: Odoo's master password is then `admin`, which lets anyone"
            " reaching the database manager create, back up or drop databases",
            f"set admin_passwd in odoo.conf; {gen}",
            [f"{text.shown}: admin_passwd not set"],
        )
    evidence = [text.show("admin_passwd", secret=True)]
    if "admin_passwd" in conf.unresolved:
        return skipped(
            "admin_passwd needs unset variable(s) "
            f"{', '.join(conf.unresolved['admin_passwd'])} (see conf-readable)"
        )
    value = conf.raw["admin_passwd"].strip()
    if value.lower() in ("", "false", "none"):
        return failed(
            "admin_passwd is empty: Odoo falls back to its default master password `admin`",
            f"set admin_passwd; {gen}",
            evidence,
        )
    if value.startswith("$pbkdf2-sha512$"):
        m = _PBKDF2.match(value)
        if not m:
            return failed(
                "admin_passwd starts like a pbkdf2-sha512 hash but is malformed: Odoo will"
                " compare it as plain text",
                f"store a complete hash; {gen}",
                evidence,
            )
        return passed("admin_passwd is a pbkdf2-sha512 hash", evidence)
    if value.startswith("$"):
        return failed(
            "admin_passwd is hashed with a scheme Odoo does not accept (only pbkdf2-sha512):"
            " Odoo compares it as plain text",
            gen,
            evidence,
        )
    others = [str(conf.raw[o]) for o in ("db_password",) if conf.raw.get(o)]
    reason = weak_reason(value, same_as=others)
    if reason:
        return failed(
            f"admin_passwd is weak ({reason}): the master password guards the database manager",
            gen,
            evidence,
        )
    return warned(
        "admin_passwd is stored in plain text: anyone who reads odoo.conf (or a backup of it)"
        " gets the master password",
        f"store its hash instead; {gen}",
        evidence,
    )


# -- conf-logging --------------------------------------------------------------


@check(
    "conf-logging",
    area=AREA,
    title="logs kept somewhere, not at debug level in production, not into the database",
    severity="warning",
    needs=["files"],
)
def conf_logging(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    dep = ctx.deployment
    problems: list[str] = []
    fixes: list[str] = []
    evidence: list[str] = []
    notes: list[str] = []
    logfile = conf.get("logfile")
    syslog = bool(conf.get("syslog"))
    if logfile:
        evidence.append(text.show("logfile", logfile))
        if dep.runner == "compose":
            svc = ctx.target.odoo_service
            host = ctx.target.to_host_path(str(logfile))
            mount = svc.volume_for(str(logfile)) if svc else None
            if mount is None:
                problems.append(
                    f"logfile {logfile} is written inside the container: `docker logs` stays"
                    " empty and the file is lost when the container is recreated"
                )
                fixes.append(
                    "remove logfile (Odoo then logs to stdout, which Docker keeps)"
                    " or put it on a mounted volume"
                )
            else:
                where = f"host path {host}" if host else f"volume {mount.volume}"
                notes.append(f"logfile {logfile} on {where}")
        elif dep.runner == "local":
            path = Path(str(logfile))
            parent = path.parent
            if path.exists() and not os.access(path, os.W_OK):
                notes.append(f"logfile {logfile} exists and is not writable by this user")
            elif not parent.is_dir():
                problems.append(f"the directory of logfile {logfile} does not exist on this host")
                fixes.append(f"create {parent} owned by the user running Odoo")
            else:
                notes.append(f"logs go to {logfile}")
    elif syslog:
        notes.append("logs go to syslog")
    elif dep.runner == "compose":
        notes.append("logs go to stdout, kept by Docker")
    else:
        notes.append("logs go to stdout/stderr (kept by journald or your supervisor)")
    level = str(conf.get("log_level") or "info").lower()
    if dep.production and level in DEBUG_LEVELS:
        problems.append(f"log_level = {level} in production: slow, and logs request data")
        fixes.append("set log_level = info (or warn)")
        evidence.append(text.show("log_level", level))
    handlers = conf.get("log_handler") or []
    debug_handlers = [h for h in handlers if h.upper().endswith(":DEBUG")]
    if dep.production and debug_handlers:
        problems.append(f"log_handler enables DEBUG for {', '.join(debug_handlers)}")
        fixes.append("remove the :DEBUG log_handler entries")
        evidence.append(text.show("log_handler"))
    log_db = conf.get("log_db")
    if log_db and str(log_db).lower() not in ("false", "none", ""):
        problems.append(
            "log_db is set: every log record at log_db_level or above becomes an INSERT into"
            " ir_logging, which slows Odoo down and grows the database"
        )
        fixes.append("remove log_db (use the log file or stdout)")
        evidence.append(text.show("log_db", log_db))
    if problems:
        return failed("; ".join(problems), "; ".join(fixes), evidence)
    return passed("; ".join([*notes, f"log_level {level}"]), evidence)


# -- conf-cron-threads ---------------------------------------------------------


@check(
    "conf-cron-threads",
    area=AREA,
    title="max_cron_threads between 1 and 4",
    severity="warning",
    needs=["files"],
)
def conf_cron_threads(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    values = _ints(conf, "max_cron_threads")
    if isinstance(values, str):
        return skipped(values)
    crons = values["max_cron_threads"]
    evidence = [text.show("max_cron_threads", crons)]
    if crons <= 0:
        if any(INTENTIONAL.search(c) for c in text.comments_before.get("max_cron_threads", [])):
            return passed("max_cron_threads = 0, marked intentional in odoo.conf", evidence)
        return failed(
            "max_cron_threads = 0: no scheduled action runs (outgoing mail queue, reminders,"
            " recurring invoices, autovacuum)",
            "set max_cron_threads = 1 or 2; if another Odoo server runs the crons, put a comment"
            " `; odoo-ops: intentional` on the line above it",
            evidence,
        )
    if crons > 4:
        return failed(
            f"max_cron_threads = {crons}: each cron worker is a process with its own database"
            " connections and memory; more than a few rarely helps",
            "lower max_cron_threads to 2 (at most 4) unless you measured a backlog",
            evidence,
        )
    return passed(f"max_cron_threads = {crons}", evidence)


# -- conf-db-maxconn -----------------------------------------------------------


@check(
    "conf-db-maxconn",
    area=AREA,
    title="db_maxconn × processes within PostgreSQL's max_connections",
    severity="error",
    needs=["files", "database"],
)
def conf_db_maxconn(ctx: CheckContext) -> Outcome:
    conf = ctx.conf()
    text = conf_text(ctx, conf)
    values = _ints(conf, "db_maxconn", "workers", "max_cron_threads")
    if isinstance(values, str):
        return skipped(values)
    maxconn, workers, crons = values["db_maxconn"], values["workers"], values["max_cron_threads"]
    if maxconn <= 0:
        return failed(
            f"db_maxconn = {maxconn}: Odoo cannot open a database connection",
            "set db_maxconn to a positive number (Odoo's default is 64)",
            [text.show("db_maxconn", maxconn)],
        )
    if workers > 0:
        processes = workers + crons
        formula = f"db_maxconn {maxconn} × ({workers} workers + {crons} cron)"
    else:
        processes = 1
        formula = f"db_maxconn {maxconn} × 1 process (threaded mode)"
    need = maxconn * processes
    evidence = [
        text.show("db_maxconn", maxconn),
        text.show("workers", workers),
        text.show("max_cron_threads", crons),
    ]
    reachable = True
    try:
        max_conn = int(ctx.query("SHOW max_connections")[0][0])
        reserved = int(ctx.query("SHOW superuser_reserved_connections")[0][0])
        source = f"max_connections = {max_conn} of the PostgreSQL server"
    except Unavailable as exc:
        reachable = False
        max_conn, reserved = PG_DEFAULT_MAX_CONNECTIONS, PG_DEFAULT_RESERVED
        source = f"max_connections = {max_conn}, PostgreSQL's default, assumed because {exc}"
    usable = max_conn - reserved
    evidence.append(f"{source}; {reserved} connection(s) reserved for superusers")
    if need > usable:
        message = (
            f"{formula} = {need} connections may be opened, more than the {usable} usable"
            f" ({source}): under load Odoo fails with `too many clients`"
        )
        per = max(1, usable // processes)
        fix = (
            f"lower db_maxconn to {per} or less, or raise max_connections in PostgreSQL to at"
            f" least {need + reserved} (and leave room for backups and maintenance)"
        )
        return failed(message, fix, evidence) if reachable else warned(message, fix, evidence)
    return passed(f"{formula} = {need} ≤ {usable} usable connections ({source})", evidence)
