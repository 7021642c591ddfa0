"""``upgrade rehearse``: a major upgrade run for real, on a copy of the database.

1. read the source: installed modules, row counts of key tables, stored
   attachments (read-only);
2. copy it: ``CREATE DATABASE <db>_odoo_ops_upgrade_<hex> TEMPLATE <db>``
   (under the deployment lock; PostgreSQL refuses while other sessions use the
   source) and hard-link its filestore into the rehearsal's own data_dir;
3. run the **target** Odoo with OpenUpgrade on the copy::

       <target_odoo_command> -c <rehearsal odoo.conf> -d COPY
         --load=base,web,openupgrade_framework --upgrade-path=<scripts> -u all
         --stop-after-init --no-http

   where the conf puts the unpacked OpenUpgrade wheels on the target addons path;
4. audit the result: module states and versions, broken menus and client
   actions (``audit broken``), key tables' row counts against the source, every
   stored attachment present with its checksum, and a login through the target
   server started on the copy;
5. write the report (JSON + Markdown + the Odoo log) under
   ``.odoo-ops/<deployment>/upgrade/<id>/`` and ``last-rehearsal.json``; drop
   the copy and its filestore unless ``keep``.

The source database is only ever read (and used as the copy's template).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.audit.findings import ERROR
from odoo_ops.errors import ConfigError, OpsError
from odoo_ops.upgrade import hooks
from odoo_ops.upgrade.logscan import Failure, scan_log
from odoo_ops.upgrade.openupgrade import (
    FRAMEWORK_DIST,
    SCRIPTS_DIST,
    choose_wheel,
    unpack,
    unpack_dir,
)
from odoo_ops.upgrade.plan import (
    read_installed,
    series_of,
    source_and_steps,
    target_scan,
    upgrade_settings,
    wheel_dirs,
)

if TYPE_CHECKING:
    from odoo_ops.adapters import Database, Target
    from odoo_ops.adapters.runner import Runner
    from odoo_ops.config.schema import Upgrade
    from odoo_ops.upgrade.steps import Step

COPY_INFIX = "_odoo_ops_upgrade_"
DEFAULT_KEY_TABLES = ("res_partner", "res_users", "res_company", "res_groups", "mail_message",
                      "ir_attachment", "ir_ui_menu", "ir_cron")
LOAD = "base,web,openupgrade_framework"
SERVER_WAIT = 120.0
LAST = "last-rehearsal.json"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    problems: list[str] = field(default_factory=list)


@dataclass
class StepRun:
    """One step of the upgrade (one major version) as it ran."""

    source_series: str
    target_series: str
    openupgrade_scripts: str
    openupgrade_framework: str
    code_fingerprint: str
    command: list[str] = field(default_factory=list)
    log_file: str | None = None
    exit_code: int | None = None
    migration_seconds: float | None = None
    failure: Failure | None = None
    errors: list[str] = field(default_factory=list)
    warnings: int = 0
    warning_samples: list[str] = field(default_factory=list)
    uninstalled: list[str] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    scripts_wheel: Any = field(default=None, repr=False, compare=False)
    #: the target server left serving the migrated database (rehearsal's last step)
    server: Any = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.source_series} -> {self.target_series}"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failure is None

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("scripts_wheel", "server")}
        data["failure"] = asdict(self.failure) if self.failure else None
        data["ok"] = self.ok
        return data


@dataclass
class Rehearsal:
    id: str
    deployment: str
    source: str
    copy: str
    source_series: str
    target_series: str
    openupgrade_scripts: str
    openupgrade_framework: str
    code_fingerprint: str
    started_at: str
    command: list[str] = field(default_factory=list)
    copy_method: str | None = None
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step
    dry_run: bool = False
    exit_code: int | None = None
    migration_seconds: float | None = None
    duration_seconds: float | None = None
    failure: Failure | None = None
    errors: list[str] = field(default_factory=list)
    warnings: int = 0
    warning_samples: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    counts: dict[str, list[int | None]] = field(default_factory=dict)  # table -> [src, copy]
    report_dir: str | None = None
    log_file: str | None = None
    kept: bool = False
    cleanup: list[str] = field(default_factory=list)
    steps: list[StepRun] = field(default_factory=list)
    failed_step: str | None = None  # "16.0 -> 17.0"

    @property
    def ok(self) -> bool:
        return (not self.dry_run and self.exit_code == 0 and self.failure is None
                and all(c.ok for c in self.checks))

    def to_json(self) -> dict[str, Any]:
        steps = self.steps
        self.steps = []
        try:
            data = asdict(self)
        finally:
            self.steps = steps
        data["steps"] = [s.to_json() for s in steps]
        data["ok"] = self.ok
        return data


# -- the source ---------------------------------------------------------------------------


def _existing_tables(cur: Any, names: list[str]) -> list[str]:
    cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY(%s)",
                (names,))
    found = {str(r[0]) for r in cur.fetchall()}
    return [n for n in names if n in found]


def count_rows(db: Database, tables: list[str]) -> dict[str, int]:
    from psycopg import sql

    with db.read_only() as cur:
        out: dict[str, int] = {}
        for table in _existing_tables(cur, tables):
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            row = cur.fetchone()
            out[table] = int(row[0]) if row else 0
    return out


#: Attachments that modules make and remake (menu icons, language flags, assets, the
#: records of module data): a migration may replace them. The others are the users'.
_MODULE_MADE = (
    " AND (a.url IS NOT NULL OR EXISTS (SELECT 1 FROM ir_model_data d"
    " WHERE d.module NOT LIKE '\\_\\_%%' AND ((d.model = a.res_model AND d.res_id = a.res_id)"
    " OR (d.model = 'ir.attachment' AND d.res_id = a.id))))"
)


def stored_attachments(db: Database, *, users_only: bool = False,
                       ) -> dict[int, tuple[str, str | None]]:
    """{id: (store_fname, checksum)} of attachments kept in the filestore (with
    ``users_only``: not those modules make, see :data:`_MODULE_MADE`)."""
    query = ("SELECT a.id, a.store_fname, a.checksum FROM ir_attachment a"
             " WHERE a.store_fname IS NOT NULL AND a.store_fname <> ''")
    if users_only:
        query += " AND NOT" + _MODULE_MADE.removeprefix(" AND")
    with db.read_only() as cur:
        cur.execute(query)
        return {int(i): (str(f), c) for i, f, c in cur.fetchall()}


# -- the copy -----------------------------------------------------------------------------


def copy_name(source: str) -> str:
    suffix = COPY_INFIX + secrets.token_hex(3)
    return source[: 63 - len(suffix)] + suffix


def make_copy(target: Target, source: str, copy: str, wait: float,
              say: Any) -> tuple[str, Any]:
    """Make ``copy`` of ``source`` under the deployment lock: ``CREATE DATABASE …
    TEMPLATE`` when no one uses the source, else (a running Odoo) without disturbing
    it: from the newest fresh verified backup or a parallel ``pg_dump``/``pg_restore``
    (:func:`odoo_ops.backup.scratch.live_copy`). (how, the live_copy fill or None)."""
    import psycopg

    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.adapters.pgadmin import admin_connection, copy_database, first_line

    with deployment_lock(target, wait), admin_connection(target) as conn:
        try:
            copy_database(conn, source, copy, size_aware=True)
            return f"CREATE DATABASE {copy} TEMPLATE {source}", None
        except psycopg.Error as exc:
            text = first_line(exc)
            if "being accessed by other users" not in text:
                raise OpsError(f"cannot copy {source}: {text}") from None
        from odoo_ops.backup.scratch import live_copy

        say(f"{source} is in use: copying it without stopping anything")
        try:
            fill = live_copy(target, conn, source, copy)
        except psycopg.Error as exc:
            raise OpsError(f"cannot copy {source}: {first_line(exc)}") from None
        return fill.method, fill


def drop_copy(target: Target, copy: str, source: str) -> str | None:
    import psycopg

    from odoo_ops.adapters.pgadmin import admin_connection, drop_database, first_line

    if COPY_INFIX not in copy or copy == source:
        return f"refusing to drop {copy!r}: not a copy made by odoo-ops"
    try:
        with admin_connection(target) as conn:
            drop_database(conn, copy)
    except (psycopg.Error, OpsError) as exc:
        return f"could not drop {copy}: {first_line(exc)}"
    return None


def link_tree(source: Path, dest: Path) -> int:
    """Hard-link every file of ``source`` under ``dest`` (copy across filesystems)."""
    count = 0
    for root, dirs, files in os.walk(source, followlinks=False):
        rel = Path(root).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        dirs[:] = [d for d in dirs if not Path(root, d).is_symlink()]
        for name in files:
            src = Path(root, name)
            if src.is_symlink() or not src.is_file():
                continue
            try:
                os.link(src, dest / rel / name)
            except OSError:
                shutil.copy2(src, dest / rel / name)
            count += 1
    return count


# -- the target ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def db_options(target: Target) -> dict[str, str]:
    """How the target Odoo reaches PostgreSQL: odoo.conf's db_* options, else the dsn."""
    import psycopg

    conf = None
    try:
        conf = target.conf
    except OpsError:
        conf = None
    out: dict[str, str] = {}
    if conf is not None:
        for option in ("db_host", "db_port", "db_user", "db_password", "db_sslmode"):
            value = conf.get(option)
            if value not in (None, False, ""):
                out[option] = str(value)
    if "db_user" not in out:
        params = psycopg.conninfo.conninfo_to_dict(target.dsn())
        for key, option in (("host", "db_host"), ("port", "db_port"), ("user", "db_user"),
                            ("password", "db_password"), ("sslmode", "db_sslmode")):
            if params.get(key):
                out[option] = str(params[key])
    return out


def write_conf(path: Path, options: dict[str, str]) -> None:
    from odoo_ops.fileutil import atomic_write_text

    for key, value in options.items():
        if "\n" in value or "\r" in value:
            raise ConfigError(f"odoo.conf option {key}: a line break in its value")
    text = "[options]\n" + "".join(f"{k} = {v}\n" for k, v in options.items())
    atomic_write_text(path, text, mode=0o600)


def code_fingerprint(cfg: Upgrade, target: Target, scripts: str, framework: str) -> str:
    """Names the target code: command, addons (manifest names and versions), wheels."""
    scan = target_scan(target, cfg)
    parts = [json.dumps(cfg.target_odoo_command), scripts, framework]
    parts += sorted(f"{a.name}={a.version}" for a in scan.addons.values())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _login(url: str, database: str, user: str | None, password: str | None) -> Check:
    import httpx

    try:
        with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as client:
            page = client.get("/web/login")
            if page.status_code != 200 or 'name="login"' not in page.text:
                return Check("login", False, f"/web/login answered {page.status_code}")
            if not user:
                return Check("login", True, "/web/login 200 (no [upgrade] login_user: "
                             "no authentication tried)")
            resp = client.post("/web/session/authenticate", json={
                "jsonrpc": "2.0", "method": "call",
                "params": {"db": database, "login": user, "password": password or ""}})
            body = resp.json()
            uid = (body.get("result") or {}).get("uid")
            if uid:
                return Check("login", True, f"/web/login 200, {user} authenticated (uid {uid})")
            err = ((body.get("error") or {}).get("data") or {}).get("message") or "refused"
            return Check("login", False, f"{user} could not log in: {err}")
    except (httpx.HTTPError, ValueError) as exc:
        return Check("login", False, f"target server did not answer: {exc}")


def serve_and_login(argv: list[str], url: str, database: str, cfg: Upgrade,
                    log: Path) -> Check:
    """Start the target server on the copy, wait for /web/health, log in, stop it."""
    import httpx

    from odoo_ops.childproc import ChildPopen

    with log.open("ab") as out:
        proc = ChildPopen(argv, stdin=open(os.devnull, "rb"), stdout=out,  # noqa: SIM115
                          stderr=out)
    try:
        deadline = time.monotonic() + SERVER_WAIT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return Check("login", False, f"target server exited {proc.returncode} "
                             f"at start (log: {log})")
            try:
                if httpx.get(f"{url}/web/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            return Check("login", False, f"target server did not answer /web/health in "
                         f"{SERVER_WAIT:.0f} s")
        return _login(url, database, cfg.login_user, os.environ.get(cfg.login_password_env))
    finally:
        proc.kill_group(15)
        try:
            proc.wait(timeout=20)
        except Exception:
            proc.kill_group()
            proc.wait()


# -- audits -------------------------------------------------------------------------------


def audit_modules(copy_db: Database, before: dict[str, str | None], to: str,
                  moved: dict[str, str], gone: set[str] | frozenset[str] = frozenset(),
                  ) -> Check:
    from odoo_ops.modules.db import read_modules

    with copy_db.read_only() as cur:
        rows = read_modules(cur)
    problems = []
    for name, row in sorted(rows.items()):
        if row.state in ("to upgrade", "to install", "to remove"):
            problems.append(f"{name}: left in state {row.state!r}")
        elif row.state == "installed" and series_of(row.latest_version) != to:
            problems.append(f"{name}: installed at {row.latest_version}, not {to}")
    for name in sorted(before):
        now = rows.get(moved.get(name, name))
        if now is None or now.state != "installed":
            problems.append(f"{name}: installed before, "
                            f"{'gone' if now is None else now.state} after")
    for name in sorted(gone):
        left = rows.get(name)
        if left is not None and left.state not in ("uninstalled", "uninstallable"):
            problems.append(f"{name}: to be uninstalled between steps, {left.state} after")
    installed = sum(1 for r in rows.values() if r.state == "installed")
    base = rows.get("base")
    detail = f"{installed} installed, base {base.latest_version if base else '?'}"
    return Check("module states", not problems, detail, problems)


def audit_broken_records(copy_db: Database, target: Target, cfg: Upgrade, to: str) -> Check:
    from odoo_ops.audit.broken import audit_broken

    report = audit_broken(copy_db, target_scan(target, cfg), series=to)
    serious = [f for f in report.findings if f.severity == ERROR]
    problems = [f"{f.kind}: {f.subject}: {f.problem}" for f in serious]
    detail = f"{len(report.findings)} finding(s), {len(serious)} serious"
    return Check("broken menus/actions", not problems, detail, problems[:50])


def audit_crons_after(copy_db: Database, to: str) -> Check:
    """Crons whose server action, model or module is gone after the migration."""
    from odoo_ops.audit.crons import audit_crons

    audit = audit_crons(copy_db, series=to)
    serious = [f for f in audit.report.findings if f.severity == ERROR]
    problems = [f"{f.subject}: {f.problem}" for f in serious]
    active = sum(1 for r in audit.rows if r.active)
    return Check("crons", not problems, f"{len(audit.rows)} cron(s), {active} active, "
                 f"{len(serious)} broken", problems[:50])


def audit_counts(before: dict[str, int], after: dict[str, int],
                 counts: dict[str, list[int | None]]) -> Check:
    problems = []
    for table, n in before.items():
        m = after.get(table)
        counts[table] = [n, m]
        if m is None:
            problems.append(f"{table}: gone (had {n} rows)")
        elif m < n:
            problems.append(f"{table}: {n} rows before, {m} after")
    return Check("row counts", not problems,
                 ", ".join(f"{t} {v[0]}->{v[1]}" for t, v in counts.items()), problems)


def audit_attachments(copy_db: Database, before: dict[int, tuple[str, str | None]],
                      filestore: Path) -> Check:
    """Every user attachment of the source still there, its file present with the
    same sha1; every stored attachment of the copy has its file."""
    after = stored_attachments(copy_db)
    problems = []
    for att_id, (fname, checksum) in sorted(before.items()):
        now = after.get(att_id)
        if now is None:
            problems.append(f"attachment {att_id} ({fname}): row gone")
            continue
        problem = _file_problem(filestore, att_id, now[0], now[1] or checksum)
        if problem:
            problems.append(problem)
    others = [i for i in after if i not in before]
    for att_id in others:
        problem = _file_problem(filestore, att_id, after[att_id][0], None)
        if problem:
            problems.append(problem)
    return Check("attachments", not problems,
                 f"{len(before)} user attachment(s) kept with the same sha1, "
                 f"{len(after)} stored attachment(s) with their file" if not problems
                 else f"{len(problems)} problem(s) in {len(after)} stored attachment(s)",
                 problems[:50])


def _file_problem(filestore: Path, att_id: int, fname: str, checksum: str | None) -> str | None:
    from odoo_ops.names import InvalidName, path_under

    try:
        path = path_under(filestore, fname)
    except InvalidName:
        return f"attachment {att_id}: store_fname {fname!r} is not a path"
    if not path.is_file():
        return f"attachment {att_id}: {fname} missing from the filestore"
    if checksum:
        digest = hashlib.sha1(path.read_bytes()).hexdigest()  # Odoo's own checksum
        if digest != checksum:
            return f"attachment {att_id}: {fname} sha1 {digest} != {checksum}"
    return None


# -- the rehearsal ------------------------------------------------------------------------


def upgrade_dir(target: Target) -> Path:
    return target.state_dir / "upgrade"


@dataclass
class Prepared:
    """One step, ready to run: its settings, wheels, command and files."""

    step: Step
    run: StepRun
    ou_addons: Path
    upgrade_path: Path
    conf: Path
    log: Path
    #: compose/ssh deployments (``upgrade run``): where the target Odoo runs, and its
    #: odoo.conf as seen there (None: here, with ``conf``)
    runner: Runner | None = None
    runner_conf: str = ""

    @property
    def conf_arg(self) -> str:
        return self.runner_conf if self.runner is not None else str(self.conf)


def step_runner(target: Target, cfg: Upgrade, label: str) -> tuple[Runner, str, str]:
    """(runner, odoo.conf, OpenUpgrade directory) for a step of ``upgrade run`` on a
    compose or ssh deployment: the deployment's runner (the same as deploy's), with
    ``target_service`` as the compose service (``docker compose run --rm``)."""
    from odoo_ops.adapters.runner import ComposeRunner, SshRunner

    runner = target.runner()
    compose = runner if isinstance(runner, ComposeRunner) else (
        runner.inner if isinstance(runner, SshRunner)
        and isinstance(runner.inner, ComposeRunner) else None)
    if compose is not None and cfg.target_service:
        compose.service = cfg.target_service
    if not cfg.openupgrade_path:
        raise ConfigError(f"[upgrade] openupgrade_path is not set{label}",
                          hint="the directory holding openupgrade_framework and "
                               "openupgrade_scripts where the target Odoo runs (in its "
                               "image, or mounted), also on its addons_path")
    conf = cfg.target_odoo_conf or target.odoo_conf_for_runner() or ""
    return runner, conf, cfg.openupgrade_path.rstrip("/")


def prepare_steps(target: Target, steps: list[Step], database: str, run_dir: Path,
                  *, dry_run: bool, on_runner: bool = False) -> list[Prepared]:
    """Check each step's settings and wheels (before any work) and build its command.
    ``on_runner``: the target Odoo runs through the deployment's runner
    (:func:`step_runner`) instead of here."""
    base = upgrade_dir(target)
    out: list[Prepared] = []
    multi = len(steps) > 1
    for step in steps:
        cfg = step.cfg
        where = f" (step {step.label})" if multi else ""
        if not cfg.target_odoo_command:
            raise ConfigError(f"[upgrade] target_odoo_command is not set{where}",
                              hint='the target Odoo, e.g. ["/opt/odoo18/venv/bin/python", '
                                   '"/opt/odoo18/odoo-bin"] (with openupgradelib installed)')
        target_scan(target, cfg)  # target_addons_paths checked before any work
        dirs = wheel_dirs(target, cfg)
        if not dirs:
            raise ConfigError("[upgrade] openupgrade_wheels is not set",
                              hint="the directory holding the OpenUpgrade wheels of " + step.to)
        scripts_wheel = choose_wheel(dirs, SCRIPTS_DIST, step.to, cfg.openupgrade)
        framework_wheel = choose_wheel(dirs, FRAMEWORK_DIST, step.to, cfg.openupgrade_framework)
        wheels = [scripts_wheel, framework_wheel]
        suffix = f"-{step.to}" if multi else ""
        conf = run_dir / f"odoo{suffix}.conf"
        log = run_dir / f"migration{suffix}.log"
        runner: Runner | None = None
        runner_conf = ""
        if on_runner:
            runner, runner_conf, ou_dir = step_runner(target, cfg, where)
            ou_addons = Path(ou_dir)
            upgrade_path = Path(f"{ou_dir}/openupgrade_scripts/scripts")
            conf_args = ["-c", runner_conf] if runner_conf else []
        else:
            ou_addons = (unpack_dir(wheels, base / "openupgrade") / "odoo" / "addons"
                         if dry_run else unpack(wheels, base / "openupgrade"))
            upgrade_path = ou_addons / "openupgrade_scripts" / "scripts"
            conf_args = ["-c", str(conf)]
        command = [*cfg.target_odoo_command, *conf_args, "-d", database,
                   f"--load={LOAD}", f"--upgrade-path={upgrade_path}", "-u", "all",
                   "--stop-after-init", "--no-http"]
        run = StepRun(step.source, step.to, scripts_wheel.version, framework_wheel.version,
                      code_fingerprint(cfg, target, scripts_wheel.version,
                                       framework_wheel.version), command, str(log))
        run.scripts_wheel = scripts_wheel
        out.append(Prepared(step, run, ou_addons, upgrade_path, conf, log, runner,
                            runner_conf))
    return out


def steps_fingerprint(prepared: list[Prepared]) -> str:
    """One step: that step's code fingerprint (as before steps existed); several: a
    fingerprint of theirs, in order."""
    if len(prepared) == 1:
        return prepared[0].run.code_fingerprint
    parts = [f"{p.step.to}:{p.run.code_fingerprint}" for p in prepared]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def step_options(target: Target, cfg: Upgrade, ou_addons: Path, data_dir: Path,
                 database: str, log: Path) -> dict[str, str]:
    """The odoo.conf of a step's target Odoo (private ports, no workers or crons)."""
    addons = [str(target.project.path(p)) for p in cfg.target_addons_paths]
    return {
        "addons_path": ",".join([addons[0], str(ou_addons), *addons[1:]]),
        "data_dir": str(data_dir),
        **db_options(target),
        "db_name": database,
        "dbfilter": f"^{database}$",
        "list_db": "False",
        "http_interface": "127.0.0.1",
        "http_port": str(free_port()),
        "gevent_port": str(free_port()),
        "workers": "0",
        "max_cron_threads": "0",
        "proxy_mode": "False",
        "logfile": str(log),
        "log_level": "info",
        "admin_passwd": secrets.token_urlsafe(24),
    }


def run_steps(target: Target, result: Rehearsal, prepared: list[Prepared], db: Database,
              database: str, data_dir: Path, run_dir: Path, say: Any,
              *, serve_last: bool = False) -> dict[str, str]:
    """Run every step on ``database`` in order: before hooks, OpenUpgrade, after hooks,
    the step's uninstall/install lists. Stops at the first failing step (named in
    ``result.failed_step``). Returns the last conf's options (for the login).

    ``serve_last``: when the last step has nothing to do after OpenUpgrade (no after
    hooks, no module lists), its target Odoo runs without ``--stop-after-init`` and is
    left serving the migrated database (``StepRun.server``) for the login, instead of
    loading the registry a second time in another server."""
    options: dict[str, str] = {}
    multi = len(prepared) > 1
    try:
        for prep in prepared:
            cfg, run = prep.step.cfg, prep.run
            result.steps.append(run)
            if multi:
                say(f"step {prep.step.label}")
            if prep.runner is None:
                options = step_options(target, cfg, prep.ou_addons, data_dir, database,
                                       prep.log)
                write_conf(prep.conf, options)
            serve = serve_last and prep is prepared[-1] and prep.runner is None and not (
                cfg.after_sql or cfg.after_shell or cfg.install or cfg.uninstall)
            if _hooks(run, lambda cfg=cfg: hooks.run_sql(target, db, cfg.before_sql, say)):
                _migrate(run, cfg.timeout, prep.log, str(prep.upgrade_path), say, serve=serve,
                         runner=prep.runner)

            def after(cfg: Upgrade = cfg, prep: Prepared = prep,
                      run: StepRun = run) -> None:
                hooks.run_sql(target, db, cfg.after_sql, say)
                hooks.run_shell(target, cfg, prep.conf_arg, database, cfg.after_shell,
                                run_dir, say, runner=prep.runner)
                hooks.apply_modules(cfg, prep.conf_arg, database, cfg.uninstall, cfg.install,
                                    run_dir, f"step {prep.step.to}", say, runner=prep.runner)
                run.uninstalled, run.installed = list(cfg.uninstall), list(cfg.install)

            if run.exit_code != 0 or run.failure is not None or not _hooks(run, after):
                result.failed_step = prep.step.label
                break
    finally:
        _gather(result)
    return options


def _gather(result: Rehearsal) -> None:
    """The rehearsal's top-level migration fields from its steps (the failing or last)."""
    if not result.steps:
        return
    last = result.steps[-1]
    result.exit_code = last.exit_code
    result.failure = last.failure
    result.log_file = last.log_file
    result.command = last.command
    seconds = [s.migration_seconds for s in result.steps if s.migration_seconds is not None]
    result.migration_seconds = round(sum(seconds), 1) if seconds else None
    if seconds:
        result.phases["migrate"] = result.migration_seconds or 0.0
    result.errors = [e for s in result.steps for e in s.errors][:40]
    result.warnings = sum(s.warnings for s in result.steps)
    result.warning_samples = [w for s in result.steps for w in s.warning_samples][:20]


def expected_after(installed: dict[str, str | None], prepared: list[Prepared],
                   ) -> tuple[dict[str, str | None], set[str]]:
    """(what must be installed after every step, what the steps uninstalled): renames
    and merges of each step's OpenUpgrade followed, uninstall/install lists applied."""
    from odoo_ops.upgrade.openupgrade import read_scripts

    now = dict(installed)
    gone: set[str] = set()
    for prep in prepared:
        index = read_scripts(prep.run.scripts_wheel)
        moved = {**index.renamed, **index.merged}
        now = {moved.get(name, name): version for name, version in now.items()}
        for name in prep.step.cfg.uninstall:
            now.pop(name, None)
            gone.add(name)
        for name in prep.step.cfg.install:
            now.setdefault(name, None)
            gone.discard(name)
    return now, gone


def rehearse(target: Target, to: str | None, *, keep: bool = False, wait: float = 0.0,
             dry_run: bool = False, progress: Any = None) -> Rehearsal:
    """Rehearse the upgrade of ``target``'s database to ``to`` on a copy (every step
    of a multi-step upgrade in order, on the same copy)."""
    from odoo_ops.names import check_database_name

    say = progress or (lambda _text: None)
    started = time.monotonic()
    cfg = upgrade_settings(target)
    source, installed = read_installed(target)
    if not source:
        raise OpsError("no database name for the deployment")
    check_database_name(source)
    source_series, steps = source_and_steps(installed, target, to)
    to = steps[-1].to
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)
    copy = copy_name(source)
    run_dir = upgrade_dir(target) / run_id
    data_dir = run_dir / "data"
    prepared = prepare_steps(target, steps, copy, run_dir, dry_run=dry_run)
    final = prepared[-1]
    result = Rehearsal(
        id=run_id, deployment=target.name, source=source, copy=copy,
        source_series=source_series, target_series=to,
        openupgrade_scripts=final.run.openupgrade_scripts,
        openupgrade_framework=final.run.openupgrade_framework,
        code_fingerprint=steps_fingerprint(prepared),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"), dry_run=dry_run,
        command=final.run.command,
    )
    if dry_run:
        result.steps = [p.run for p in prepared]
        return result
    tables = list(dict.fromkeys([*DEFAULT_KEY_TABLES, *cfg.key_tables]))
    src_db = target.database()
    say(f"reading {source}: row counts, stored attachments")
    before_counts = count_rows(src_db, tables)
    before_atts = stored_attachments(src_db, users_only=True)
    run_dir.mkdir(parents=True)
    result.report_dir = str(run_dir)
    result.log_file = str(final.log)
    say(f"copying {source} to {copy}")
    copy_store = data_dir / "filestore" / copy
    try:
        tick = time.monotonic()
        how, fill = make_copy(target, source, copy, wait, say)
        result.copy_method = how
        if fill is not None:
            result.cleanup.extend(fill.notes or [])
            linked = fill.filestore  # links beside the live filestore: ours are elsewhere
            if linked is not None and COPY_INFIX in linked.name:
                shutil.rmtree(linked, ignore_errors=True)
        src_store = target.filestore_dir(source)
        copy_store.mkdir(parents=True)
        has_store = src_store is not None and src_store.is_dir()
        if src_store is not None and src_store.is_dir():
            say(f"hard-linking the filestore ({src_store})")
            link_tree(src_store, copy_store)
        else:
            result.cleanup.append(f"no filestore of {source} on this host: attachments "
                                  "not checked")
        result.phases["copy"] = round(time.monotonic() - tick, 1)
        copy_db = src_db.with_database(copy)
        options = run_steps(target, result, prepared, copy_db, copy, data_dir, run_dir, say,
                            serve_last=True)
        tick = time.monotonic()
        if result.failed_step is None and result.exit_code == 0 and result.failure is None:
            final_cfg = final.step.cfg
            url = f"http://127.0.0.1:{options['http_port']}"
            login: Any = None
            if final.run.server is not None:
                # the migration's own server is up: log in while the audits run
                from concurrent.futures import ThreadPoolExecutor

                say("logging in to the target Odoo that migrated the copy, auditing it")
                pool = ThreadPoolExecutor(1)
                login = pool.submit(_login, url, copy, final_cfg.login_user,
                                    os.environ.get(final_cfg.login_password_env))
                pool.shutdown(wait=False)
            else:
                say("auditing the result")
            expected, gone = expected_after(installed, prepared)
            result.checks.append(audit_modules(copy_db, expected, to, {}, gone))
            result.checks.append(audit_counts(before_counts, count_rows(copy_db, tables),
                                              result.counts))
            if has_store:
                result.checks.append(audit_attachments(copy_db, before_atts, copy_store))
            result.checks.append(audit_broken_records(copy_db, target, final_cfg, to))
            result.checks.append(audit_crons_after(copy_db, to))
            result.phases["audits"] = round(time.monotonic() - tick, 1)
            tick = time.monotonic()
            if login is not None:
                result.checks.append(login.result())
                stop_server(final.run, graceful=False)  # idle, the migration committed
                _recheck(final, result)
            else:
                say("starting the target Odoo on the copy for a login")
                server = [*final_cfg.target_odoo_command, "-c", str(final.conf), "-d", copy,
                          f"--db-filter=^{copy}$"]
                result.checks.append(serve_and_login(server, url, copy, final_cfg,
                                                     run_dir / "server.log"))
            result.phases["login"] = round(time.monotonic() - tick, 1)
    except OpsError as exc:  # recorded in the report, then said to the user
        if result.failure is None:
            result.failure = Failure(None, None, None, None, exc.message)
        raise
    finally:
        for st in result.steps:
            stop_server(st)
        tick = time.monotonic()
        if keep:
            result.kept = True
        else:
            problem = drop_copy(target, copy, source)
            if problem:
                result.cleanup.append(problem)
            shutil.rmtree(data_dir, ignore_errors=True)
        result.phases["cleanup"] = round(time.monotonic() - tick, 1)
        result.duration_seconds = round(time.monotonic() - started, 1)
        write_report(target, result)
    return result


def _hooks(result: Any, work: Any) -> bool:
    """Run hooks; a failing one becomes the step's (or rehearsal's) failure (False)."""
    try:
        work()
    except hooks.HookFailed as exc:
        result.failure = Failure(None, exc.file, None, None, f"hook failed: {exc.detail}")
        return False
    return True


def _migrate(result: Any, timeout: float, log: Path, upgrade_path: str, say: Any,
             *, serve: bool = False, runner: Runner | None = None) -> None:
    """Run ``result.command`` (a step's OpenUpgrade run) and read its log. ``serve``:
    without ``--stop-after-init --no-http``, the end of the migration read from the log
    and the server left running in ``result.server``."""
    import subprocess

    from odoo_ops.childproc import run

    say(f"migrating to {result.target_series} with OpenUpgrade {result.openupgrade_scripts}: "
        f"{' '.join(result.command[-6:])}")
    out_file = log.with_name(log.stem + ".stdout")
    t0 = time.monotonic()
    try:
        if runner is not None:  # compose/ssh: the output is the log
            done = runner.run(result.command, timeout=timeout, log_file=log, use_run=True)
            if done.timed_out:
                raise subprocess.TimeoutExpired(result.command, timeout)
            result.exit_code = done.returncode
        elif serve:
            result.exit_code = _migrate_serving(result, timeout, log, out_file)
        else:
            with out_file.open("wb") as out:
                proc = run(result.command, stdout=out, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout)
            result.exit_code = proc.returncode
    except subprocess.TimeoutExpired:
        result.exit_code = None
        result.errors.append(f"no end within {timeout:.0f} s ([upgrade] timeout)")
    except OSError as exc:
        raise OpsError(f"cannot run the target Odoo {result.command[0]}: {exc.strerror}",
                       hint="check [upgrade] target_odoo_command") from None
    result.migration_seconds = round(time.monotonic() - t0, 1)
    text = log.read_text(errors="replace") if log.exists() else ""
    text += out_file.read_text(errors="replace") if out_file.exists() else ""
    scanned = scan_log(text, upgrade_path)
    result.errors.extend(scanned.errors[:20])
    result.warnings = scanned.warnings
    result.warning_samples = scanned.warning_samples
    result.failure = scanned.failure
    if result.failure is None and result.exit_code not in (0, None):
        result.failure = Failure(None, None, None, None,
                                 f"the target Odoo exited {result.exit_code} (see {log})")
    if result.failure is None and result.exit_code is None:
        result.failure = Failure(None, None, None, None, result.errors[-1])
    if result.failure is not None or result.exit_code != 0:
        stop_server(result)


#: What Odoo logs when ``-u all`` ended: the registry is ready (then it serves) ...
_LOADED = "odoo.modules.registry: Registry loaded in "
#: ... or it failed (``preload_registries``; Odoo keeps serving without a database)
_FAILED = "Failed to initialize database"


def _migrate_serving(result: Any, timeout: float, log: Path, out_file: Path) -> int | None:
    """Start the migration with HTTP on and wait for its end in the log: 0 when the
    registry loaded (the server stays up), 255 (Odoo's exit code for it) when it
    failed, the exit code when the process ended."""
    import subprocess

    from odoo_ops.childproc import ChildPopen

    argv = [a for a in result.command if a not in ("--stop-after-init", "--no-http")]
    with out_file.open("wb") as out:
        proc = ChildPopen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    result.server = proc
    deadline = time.monotonic() + timeout
    seen = 0
    tail = ""
    while True:
        code = proc.poll()
        try:
            with log.open("rb") as fh:
                fh.seek(seen)
                chunk = fh.read()
        except FileNotFoundError:
            chunk = b""
        seen += len(chunk)
        text = tail + chunk.decode("utf-8", errors="replace")
        if _FAILED in text:
            return 255
        if _LOADED in text:
            return 0
        tail = text[-len(_FAILED) - len(_LOADED):]
        if code is not None:
            result.server = None
            return code
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(argv, timeout)
        time.sleep(0.2)


def _recheck(prep: Prepared, result: Rehearsal) -> None:
    """After a serving migration's login: the log read again to its end (Odoo may
    still have been finishing ``-u all`` when the registry line appeared)."""
    run = prep.run
    text = prep.log.read_text(errors="replace") if prep.log.exists() else ""
    scanned = scan_log(text, str(prep.upgrade_path))
    if scanned.failure is None and _FAILED not in text:
        return
    run.exit_code = 255
    run.failure = scanned.failure or Failure(None, None, None, None,
                                             f"the target Odoo failed (see {prep.log})")
    run.errors = scanned.errors[:20]
    result.failed_step = run.label
    _gather(result)


def stop_server(result: Any, *, graceful: bool = True) -> None:
    """Stop the server a serving migration left running (if any). Not ``graceful``:
    SIGKILL at once (an idle server whose work is committed: Odoo's own shutdown
    would wait up to 1.5 s for its HTTP loop and threads)."""
    proc, result.server = result.server, None
    if proc is None:
        return
    if not graceful:
        proc.kill_group()
        proc.wait()
        return
    proc.kill_group(15)
    try:
        proc.wait(timeout=20)
    except Exception:
        proc.kill_group()
        proc.wait()


def to_markdown(r: Rehearsal) -> str:
    verdict = "SUCCEEDED" if r.ok else ("DRY RUN" if r.dry_run else "FAILED")
    lines = [
        f"# Upgrade rehearsal {r.id}: {r.source} {r.source_series} -> {r.target_series}: "
        f"{verdict}",
        "",
        f"- deployment: {r.deployment}; copy: {r.copy}{' (kept)' if r.kept else ' (dropped)'}"
        f" made by {r.copy_method or '-'}",
        f"- OpenUpgrade scripts {r.openupgrade_scripts}, framework {r.openupgrade_framework}; "
        f"code fingerprint {r.code_fingerprint}",
        f"- migration: exit {r.exit_code} in {r.migration_seconds} s; total "
        f"{r.duration_seconds} s ({', '.join(f'{k} {v} s' for k, v in r.phases.items())}); "
        f"{r.warnings} warning(s), {len(r.errors)} error line(s)",
        f"- command: `{' '.join(r.command)}`",
        f"- log: {r.log_file}",
    ]
    if len(r.steps) > 1 or r.failed_step:
        lines += ["", "## Steps", "", "| step | OpenUpgrade | result | seconds | modules |",
                  "|---|---|---|---|---|"]
        for st in r.steps:
            mods = "; ".join(x for x in (
                f"uninstalled {', '.join(st.uninstalled)}" if st.uninstalled else "",
                f"installed {', '.join(st.installed)}" if st.installed else "") if x)
            lines.append(f"| {st.label} | {st.openupgrade_scripts} | "
                         f"{'ok' if st.ok and st.label != r.failed_step else 'FAILED'} | "
                         f"{st.migration_seconds} | {mods or '-'} |")
    if r.failure:
        lines += ["", "## First failure", ""]
        if r.failed_step:
            lines.append(f"- step: {r.failed_step}")
        lines += [f"- module: {r.failure.module or '?'}",
                  f"- file: {r.failure.file or '?'}"
                  + (f" (line {r.failure.line})" if r.failure.line else ""),
                  f"- missing record: {r.failure.missing_record or '-'}",
                  f"- message: {r.failure.message}"]
    if r.checks:
        lines += ["", "## Checks", "", "| check | result | details |", "|---|---|---|"]
        for c in r.checks:
            lines.append(f"| {c.name} | {'ok' if c.ok else 'FAIL'} | {c.detail} |")
        for c in r.checks:
            lines += [f"- {c.name}: {p}" for p in c.problems]
    if r.errors:
        lines += ["", "## Errors", "", *[f"    {e}" for e in r.errors]]
    if r.warning_samples:
        lines += ["", "## Warnings (first distinct ones)", "",
                  *[f"    {w}" for w in r.warning_samples]]
    if r.cleanup:
        lines += ["", "## Notes", "", *[f"- {n}" for n in r.cleanup]]
    return "\n".join(lines) + "\n"


def write_report(target: Target, result: Rehearsal) -> None:
    from odoo_ops.fileutil import atomic_write_text

    if not result.report_dir:
        return
    run_dir = Path(result.report_dir)
    data = json.dumps(result.to_json(), indent=2, default=str) + "\n"
    atomic_write_text(run_dir / "report.json", data)
    atomic_write_text(run_dir / "report.md", to_markdown(result))
    atomic_write_text(upgrade_dir(target) / LAST, data)


def last_rehearsal(target: Target) -> dict[str, Any] | None:
    """The last rehearsal's report (JSON), or None."""
    from odoo_ops.inputs import read_input_text

    path = upgrade_dir(target) / LAST
    if not path.is_file():
        return None
    try:
        data = json.loads(read_input_text(path, kind="rehearsal report", limit=16 << 20))
    except (OpsError, ValueError):
        return None
    return data if isinstance(data, dict) else None
