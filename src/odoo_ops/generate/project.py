"""``odoo-ops init``: the files of a new deployment, compared with what is on disk.

:func:`plan_project` renders every file from the answers (series, domain,
database, proxy, sizing, Redis) and reads what already exists, keeping the
secrets it finds (``.env`` values and the ``admin_passwd`` hash) so that a
re-run never replaces them. :func:`apply_plan` writes the files that differ,
each atomically; on an existing project it writes only with ``force``.
:func:`explain` says, per file, what differs (never a secret value).
"""

from __future__ import annotations

import configparser
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.config.envfile import parse_env_text
from odoo_ops.errors import OpsError, UsageError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.generate.passwords import (
    PBKDF2_ROUNDS,
    is_pbkdf2_sha512_hash,
    master_password,
    pbkdf2_sha512_hash,
    random_secret,
)
from odoo_ops.generate.render import render_template
from odoo_ops.generate.serve_files import (
    CADDY_TOKEN_FILE,
    HTPASSWD_FILE,
    NGINX_TOKEN_FILE,
    PREFIX,
    SERVE_DIR,
    SERVE_PORT,
    TOKEN_FILE,
    serve_args,
    serve_secrets,
)
from odoo_ops.generate.sizing import MIB, Sizing, compute_sizing
from odoo_ops.inputs import CONFIG_LIMIT, parse_guard, read_input_text
from odoo_ops.modules.maintenance import PAGE_NAME, caddy_snippet, nginx_snippet
from odoo_ops.serve.proxy import caddy_route, nginx_location

SUPPORTED_SERIES = ("16.0", "17.0", "18.0", "19.0")
POSTGRES_BY_SERIES = {"16.0": "15", "17.0": "16", "18.0": "16", "19.0": "17"}
SECRET_ENV_KEYS = ("POSTGRES_PASSWORD", "ODOO_DB_PASSWORD", "REDIS_PASSWORD")
MASK = "***"

#: What Odoo's web client and website editor need: inline scripts and eval
#: (QWeb templates compile to functions) from the site itself; images, media,
#: fonts and frames (videos, maps) from https sites; the site may frame only
#: itself (frame-ancestors 'self', as X-Frame-Options SAMEORIGIN).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval';"
    " style-src 'self' 'unsafe-inline' https:; img-src 'self' data: blob: https:;"
    " font-src 'self' data: https:; media-src 'self' data: blob: https:;"
    " connect-src 'self' wss: https:; frame-src 'self' https:; worker-src 'self' blob:;"
    " object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_DBNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
_DEPLOYMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,40}$")


@dataclass
class InitOptions:
    """The answers of ``odoo-ops init`` (and a few knobs tests and experts use)."""

    directory: Path
    domain: str
    database: str
    cpus: int
    ram_mb: int
    series: str = "18.0"
    proxy: str = "nginx"
    users: int = 25
    redis: bool = False
    deployment: str = "production"
    #: point-in-time recovery: pgBackRest in the db image, archiving on, the pitr timers
    pitr: bool = False
    # where the proxy listens and where it finds the certificate
    http_port: int = 80
    https_port: int = 443
    cert_file: str | None = None
    key_file: str | None = None
    email: str | None = None
    odoo_port: int = 8069
    gevent_port: int = 8072
    client_max_body_size_mb: int = 128
    odoo_ops_bin: str = "/usr/local/bin/odoo-ops"
    db_port: int = 5432
    serve_port: int = SERVE_PORT  # odoo-ops serve, on 127.0.0.1
    hash_rounds: int = PBKDF2_ROUNDS

    def validate(self) -> None:
        if self.series not in SUPPORTED_SERIES:
            raise UsageError(
                f"series {self.series!r} is not supported",
                hint=f"use one of {', '.join(SUPPORTED_SERIES)}",
            )
        if not _DOMAIN.match(self.domain):
            raise UsageError(f"{self.domain!r} is not a domain name (e.g. erp.example.com)")
        if not _DBNAME.match(self.database):
            raise UsageError(
                f"{self.database!r} is not a usable database name",
                hint="letters, digits, _ and -, starting with a letter or _",
            )
        if not _DEPLOYMENT.match(self.deployment):
            raise UsageError(f"{self.deployment!r} is not a usable deployment name")
        if self.proxy not in ("nginx", "caddy"):
            raise UsageError(f"proxy must be nginx or caddy (got {self.proxy!r})")
        if self.cpus < 1:
            raise UsageError("--cpus must be at least 1")
        if self.users < 1:
            raise UsageError("--users must be at least 1")
        if not 0 < self.serve_port < 65536:
            raise UsageError(f"{self.serve_port} is not a port")
        if self.ram_mb < 2048:
            raise UsageError("Odoo in production needs at least 2048 MiB of RAM (--ram)")


@dataclass
class PlannedFile:
    """One file init would write."""

    path: str  # relative to the project directory
    content: str
    mode: int = 0o644
    secret: bool = False
    old: str | None = None
    old_mode: int | None = None

    @property
    def status(self) -> str:
        if self.old is None:
            return "new"
        if self.old != self.content:
            return "changed"
        if self.old_mode is not None and self.old_mode != self.mode:
            return "mode"
        return "same"


@dataclass
class InitPlan:
    options: InitOptions
    sizing: Sizing
    files: list[PlannedFile] = field(default_factory=list)
    master_password: str | None = None  # set only when a new hash is generated
    serve_password: str | None = None  # set only when a new htpasswd line is generated
    kept_secrets: list[str] = field(default_factory=list)
    new_secrets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def existing(self) -> bool:
        """True when the directory already holds a project (some file exists)."""
        return any(f.old is not None for f in self.files)

    @property
    def differences(self) -> list[PlannedFile]:
        return [f for f in self.files if f.status != "same"]


@dataclass
class InitResult:
    plan: InitPlan
    written: list[str] = field(default_factory=list)
    refused: bool = False

    @property
    def master_password(self) -> str | None:
        """The new master password, when odoo.conf with its hash was written."""
        if self.plan.master_password and "config/odoo.conf" in self.written:
            return self.plan.master_password
        return None

    @property
    def serve_password(self) -> str | None:
        """The new password of the status pages, when their htpasswd file was written."""
        if self.plan.serve_password and HTPASSWD_FILE in self.written:
            return self.plan.serve_password
        return None


# -- answers -----------------------------------------------------------------


def recorded_answers(directory: Path) -> dict[str, Any]:
    """The ``[init]`` answers (plus what the deployment says) of an existing project."""
    path = directory / "odoo-ops.toml"
    if not path.is_file():
        return {}
    text = read_input_text(path, kind="odoo-ops.toml", limit=CONFIG_LIMIT)
    try:
        with parse_guard(str(path), "odoo-ops.toml"):
            raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OpsError(f"{path}: cannot read it ({exc})") from None
    answers: dict[str, Any] = {}
    deployments = raw.get("deployments") or {}
    init = raw.get("init") or {}
    name = init.get("deployment") or raw.get("default_deployment")
    if not name and len(deployments) == 1:
        name = next(iter(deployments))
    dep = deployments.get(name) or {} if name else {}
    if name:
        answers["deployment"] = name
    if dep.get("series"):
        answers["series"] = str(dep["series"])
    if dep.get("database"):
        answers["database"] = str(dep["database"])
    base_url = str(dep.get("base_url") or "")
    m = re.match(r"^https?://([^/:]+)", base_url)
    if m:
        answers["domain"] = m.group(1)
    if dep.get("redis_url"):
        answers["redis"] = True
    for key in ("series", "domain", "database", "proxy", "cpus", "ram_mb", "users", "redis",
                "pitr"):  # fmt: skip
        if key in init:
            answers[key] = init[key]
    return answers


# -- rendering ---------------------------------------------------------------


def slug_of(domain: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", domain.lower()).strip("_")


def _read(path: Path) -> tuple[str | None, int | None]:
    try:
        return path.read_text(encoding="utf-8"), path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        raise OpsError(f"cannot read {path}: {exc}") from None


def _existing_admin_hash(conf_text: str | None) -> str | None:
    if not conf_text:
        return None
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(conf_text)
    except configparser.Error:
        return None
    value = parser.get("options", "admin_passwd", fallback=None)
    return value.strip() if value and is_pbkdf2_sha512_hash(value) else None


def _timer_units(options: InitOptions, project_dir: Path) -> list[dict[str, Any]]:
    dep = options.deployment
    return [
        {
            "name": f"odoo-ops-{dep}-backup-create",
            "description": "odoo-ops: back up Odoo (database and filestore)",
            "args": "backup create",
            "latest_backup": False,
            "on_calendar": "*-*-* 02:30:00",
            "cron": "30 2 * * *",
            "jitter": "15min",
            "timeout": "6h",
            "long_running": False,
        },
        {
            "name": f"odoo-ops-{dep}-backup-prune",
            "description": "odoo-ops: delete backups the retention policy no longer keeps",
            "args": "backup prune",
            "latest_backup": False,
            "on_calendar": "*-*-* 05:30:00",
            "cron": "30 5 * * *",
            "jitter": "15min",
            "timeout": "1h",
            "long_running": False,
        },
        {
            "name": f"odoo-ops-{dep}-backup-test-restore",
            "description": "odoo-ops: prove the newest backup restores",
            "args": "backup test-restore",
            "latest_backup": True,
            "on_calendar": "Sun *-*-* 04:00:00",
            "cron": "0 4 * * 0",
            "jitter": "30min",
            "timeout": "6h",
            "long_running": False,
        },
        *(_pitr_units(dep) if options.pitr else []),
        {
            "name": f"odoo-ops-{dep}-health-watch",
            "description": "odoo-ops: watch Odoo's health and alert",
            "args": "health --watch",
            "latest_backup": False,
            "on_calendar": "",
            "cron": "",
            "jitter": "",
            "timeout": "",
            "long_running": True,
        },
        {
            "name": f"odoo-ops-{dep}-serve",
            "description": "odoo-ops: status pages on 127.0.0.1, published by the proxy",
            "args": serve_args(str(project_dir), options.serve_port),
            "latest_backup": False,
            "on_calendar": "",
            "cron": "",
            "jitter": "",
            "timeout": "",
            "long_running": True,
        },
    ]


def _pitr_units(dep: str) -> list[dict[str, Any]]:
    """The timers of ``init --pitr``: pgBackRest backups (weekly full, daily incremental)
    and the filestore archive every five minutes (docs/pitr.md)."""
    common = {"latest_backup": False, "long_running": False}
    return [
        {
            **common,
            "name": f"odoo-ops-{dep}-pitr-backup-full",
            "description": "odoo-ops: full pgBackRest backup (point-in-time recovery)",
            "args": "pitr backup --type full",
            "on_calendar": "Sun *-*-* 01:30:00",
            "cron": "30 1 * * 0",
            "jitter": "15min",
            "timeout": "12h",
        },
        {
            **common,
            "name": f"odoo-ops-{dep}-pitr-backup-incr",
            "description": "odoo-ops: incremental pgBackRest backup (point-in-time recovery)",
            "args": "pitr backup --type incr",
            "on_calendar": "Mon..Sat *-*-* 01:30:00",
            "cron": "30 1 * * 1-6",
            "jitter": "15min",
            "timeout": "6h",
        },
        {
            **common,
            "name": f"odoo-ops-{dep}-pitr-filestore-sync",
            "description": "odoo-ops: copy new filestore files into the PITR archive",
            "args": "pitr filestore-sync",
            "on_calendar": "*:0/5",
            "cron": "*/5 * * * *",
            "jitter": "30s",
            "timeout": "1h",
        },
    ]


def _pitr_context(options: InitOptions, project_dir: Path) -> dict[str, Any]:
    """What the --pitr parts of docker-compose.yml, odoo-ops.toml and the wrapper need.

    The PITR directory (pgbackrest.conf, repository, logs, lock, spool) is mounted
    into the db container at the same absolute path, so the paths odoo-ops writes
    into pgbackrest.conf and archive_command hold on both sides.
    """
    import shlex

    from odoo_ops.pitr.settings import CONF_NAME

    rel = f".odoo-ops/pitr/{options.deployment}"
    pitr_dir = project_dir / rel
    archive_command = (
        f"pgbackrest --config={shlex.quote(str(pitr_dir / CONF_NAME))}"
        f" --stanza={shlex.quote(options.deployment)} archive-push %p"
    )
    import json

    return {
        "pitr": options.pitr,
        "pitr_rel": rel,
        # JSON strings are valid YAML and TOML strings; $ is compose's interpolation
        "archive_command_yaml": json.dumps("archive_command=" + archive_command.replace("$", "$$")),
        "pitr_dir_yaml": json.dumps(str(pitr_dir).replace("$", "$$")),
        "pitr_wrapper_toml": json.dumps(str(project_dir / "deploy/pitr/pgbackrest")),
        "pitr_dir": str(pitr_dir),
        "pitr_dir_q": shlex.quote(str(pitr_dir)),
        "project_dir_q": shlex.quote(str(project_dir)),
        "pitr_wrapper": str(project_dir / "deploy/pitr/pgbackrest"),
        "archive_command": archive_command,
        "archive_timeout": 60,
    }


def _env_values(options: InitOptions, old_env: dict[str, str], plan: InitPlan) -> dict[str, str]:
    keys = ["POSTGRES_PASSWORD", "ODOO_DB_PASSWORD"] + (["REDIS_PASSWORD"] if options.redis else [])
    values: dict[str, str] = {}
    for key in keys:
        if old_env.get(key):
            values[key] = old_env[key]
            plan.kept_secrets.append(key)
        else:
            values[key] = random_secret(32)
            plan.new_secrets.append(key)
    values["DB_PORT"] = old_env.get("DB_PORT") or str(options.db_port)
    return values


def plan_project(options: InitOptions) -> InitPlan:
    """Render every file and compare with the directory; nothing is written."""
    options.validate()
    directory = options.directory
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"not a directory: {directory}")
    sizing = compute_sizing(options.cpus, options.ram_mb * MIB, options.users)
    plan = InitPlan(options=options, sizing=sizing)
    project_dir = directory.resolve()

    old: dict[str, tuple[str | None, int | None]] = {}

    def existing(rel: str) -> tuple[str | None, int | None]:
        if rel not in old:
            old[rel] = _read(directory / rel)
        return old[rel]

    env_text, _ = existing(".env")
    try:
        old_env = parse_env_text(env_text, str(directory / ".env")) if env_text else {}
    except OpsError:
        old_env = {}
        plan.notes.append(".env cannot be parsed: new secrets would be generated")
    env = _env_values(options, old_env, plan)

    conf_text, _ = existing("config/odoo.conf")
    admin_hash = _existing_admin_hash(conf_text)
    if admin_hash is None:
        plan.master_password = master_password()
        admin_hash = pbkdf2_sha512_hash(plan.master_password, rounds=options.hash_rounds)
    else:
        plan.kept_secrets.append("admin_passwd")

    slug = slug_of(options.domain)
    major = int(options.series.split(".")[0])
    # the flag and page of `odoo-ops maintenance` (odoo_ops.modules.maintenance)
    maintenance_dir = project_dir / ".odoo-ops" / "maintenance"
    flag = maintenance_dir / f"{options.deployment}.flag"
    realtime = ["/websocket"] + (["/longpolling"] if major <= 16 else [])
    csp = CONTENT_SECURITY_POLICY
    units = _timer_units(options, project_dir)

    token_text, _ = existing(TOKEN_FILE)
    htpasswd_text, _ = existing(HTPASSWD_FILE)
    serve = serve_secrets(token_text, htpasswd_text)
    plan.serve_password = serve.password
    for what, new in (("serve token", serve.new_token), ("serve password", bool(serve.password))):
        (plan.new_secrets if new else plan.kept_secrets).append(what)
    htpasswd_path, token_path = project_dir / HTPASSWD_FILE, project_dir / NGINX_TOKEN_FILE
    serve_nginx = nginx_location(PREFIX, options.serve_port, str(htpasswd_path), str(token_path))
    serve_caddy = caddy_route(
        PREFIX, options.serve_port, serve.user, serve.bcrypt_hash,
        str(project_dir / CADDY_TOKEN_FILE),
    )  # fmt: skip
    ctx: dict[str, Any] = {
        "domain": options.domain,
        "series": options.series,
        "series_major": major,
        "database": options.database,
        "deployment": options.deployment,
        "proxy": options.proxy,
        "redis": options.redis,
        "sizing": sizing,
        "ram_mb": options.ram_mb,
        "env": env,
        "admin_hash": admin_hash,
        "slug": slug,
        "project_dir": str(project_dir),
        "postgres_version": POSTGRES_BY_SERIES[options.series],
        "odoo_port": options.odoo_port,
        "gevent_port": options.gevent_port,
        "http_port": options.http_port,
        "https_port": options.https_port,
        "https_suffix": "" if options.https_port == 443 else f":{options.https_port}",
        "cert_file": options.cert_file or f"/etc/letsencrypt/live/{options.domain}/fullchain.pem",
        "key_file": options.key_file or f"/etc/letsencrypt/live/{options.domain}/privkey.pem",
        "email": options.email,
        "client_max_body_size": f"{options.client_max_body_size_mb}m",
        "caddy_body_size": f"{options.client_max_body_size_mb}MB",
        "maintenance_flag": str(flag),
        "maintenance_page": str(maintenance_dir / PAGE_NAME),
        "nginx_maintenance": _indent(nginx_snippet(flag), "    "),
        "caddy_maintenance": _indent(caddy_snippet(flag), "\t\t"),
        "realtime_paths": realtime,
        "csp": csp,
        "site_address": options.domain
        if options.https_port == 443
        else f"{options.domain}:{options.https_port}",
        "log_max_size": "50m",
        "log_max_file": "5",
        "units": units,
        "odoo_ops_bin": options.odoo_ops_bin,
        "serve_nginx": _indent(serve_nginx, "    "),
        "serve_caddy": _indent(serve_caddy, "\t\t"),
        "serve_unit": f"odoo-ops-{options.deployment}-serve",
        "serve_args": serve_args(str(project_dir), options.serve_port),
        **_pitr_context(options, project_dir),
    }

    def add_secret(rel: str, content: str) -> None:
        text, current_mode = existing(rel)
        plan.files.append(PlannedFile(rel, content, 0o600, True, text, current_mode))

    def add(
        rel: str, template: str, *, mode: int = 0o644, secret: bool = False, **extra: Any
    ) -> None:
        content = render_template(template, {**ctx, **extra})
        text, current_mode = existing(rel)
        plan.files.append(PlannedFile(rel, content, mode, secret, text, current_mode))

    add("odoo-ops.toml", "odoo-ops.toml.j2")
    add("config/odoo.conf", "odoo.conf.j2")
    add(".env", "env.j2", mode=0o600, secret=True)
    add(".env.example", "env.example.j2")
    add(".gitignore", "gitignore.j2")
    add("docker-compose.yml", "docker-compose.yml.j2")
    add("db/init/10-odoo-role.sh", "db-init-role.sh.j2", mode=0o755)
    if options.pitr:
        add("db/Dockerfile", "db-pitr.Dockerfile.j2")
        add("deploy/pitr/pgbackrest", "pitr-pgbackrest.sh.j2", mode=0o755)
    add("addons/README.md", "addons-readme.md.j2")
    if options.proxy == "nginx":
        add(f"proxy/nginx/{options.domain}.conf", "nginx.conf.j2")
    else:
        add("proxy/Caddyfile", "Caddyfile.j2")
    # odoo-ops serve: its token, the basic-auth user, the token passed on by the proxy
    add_secret(TOKEN_FILE, serve.token + "\n")
    add_secret(HTPASSWD_FILE, serve.htpasswd)
    if options.proxy == "nginx":
        add_secret(NGINX_TOKEN_FILE, serve.nginx_token)
    else:
        add_secret(CADDY_TOKEN_FILE, serve.caddy_token)
    add(f".odoo-ops/maintenance/{PAGE_NAME}", "maintenance.html.j2")
    add("deploy/docker/daemon.json", "daemon.json.j2")
    for unit in units:
        add(
            f"deploy/systemd/{unit['name']}.service",
            "systemd.service.j2",
            unit={**unit, "enable": _enable(unit)},
        )
        if not unit["long_running"]:
            add(f"deploy/systemd/{unit['name']}.timer", "systemd.timer.j2", unit=unit)
    add(f"deploy/cron/odoo-ops-{options.deployment}", "crontab.j2")
    return plan


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.rstrip().splitlines())


def _enable(unit: dict[str, Any]) -> str:
    return f"{unit['name']}.service" if unit["long_running"] else f"{unit['name']}.timer"


def apply_plan(plan: InitPlan, *, force: bool = False) -> InitResult:
    """Write the files that differ (all of them in a new directory).

    On an existing project nothing is written without ``force``; ``.env``
    secrets and the admin hash were already carried over by :func:`plan_project`.
    """
    result = InitResult(plan=plan)
    todo = plan.differences
    if not todo:
        return result
    if plan.existing and not force:
        result.refused = True
        return result
    directory = plan.options.directory
    make_project_dir(directory)
    # secrets first: a crash after this leaves a project whose .env matches
    ordered = sorted(todo, key=lambda f: (not f.secret, f.path))
    for f in ordered:
        make_project_dir(directory, str(Path(f.path).parent))
        atomic_write_text(directory / f.path, f.content, mode=f.mode)
        result.written.append(f.path)
    for rel in ("data/odoo", "backups", ".odoo-ops/maintenance"):
        make_project_dir(directory, rel)
    if plan.options.pitr:  # mounted into the db container: it must exist before `up`
        make_project_dir(directory, f".odoo-ops/pitr/{plan.options.deployment}")
    return result


DIR_MODE = 0o755
"""Mode of a directory init creates, whatever the umask (unless in PRIVATE_DIR_MODES)."""

PRIVATE_DIR_MODES: dict[str, int] = {
    ".odoo-ops": 0o711,  # state and journals; the proxy only passes through to maintenance/
    "backups": 0o700,  # database dumps and filestores
    "data": 0o750,  # Odoo's filestore (attachments)
    "data/odoo": 0o750,
    ".odoo-ops/pitr": 0o700,  # pgBackRest's config (S3 keys), repository, filestore archive
    SERVE_DIR: 0o711,  # secrets of odoo-ops serve (0600); nginx's user reads the htpasswd
}
"""Directories init creates for data not everyone on the host may read."""


def make_project_dir(directory: Path, rel: str = ".") -> None:
    """Create ``directory/rel`` and what is missing above it, each with an explicit mode.

    ``os.mkdir`` applies the umask (under ``umask 000`` everything would be
    0777), so every directory created here is chmod'ed to :data:`DIR_MODE` or
    its entry in :data:`PRIVATE_DIR_MODES`. Directories that exist are left as
    they are: they are the user's.
    """
    parts = Path(rel).parts if rel not in ("", ".") else ()
    chain: list[tuple[Path, int]] = []
    above = directory.parent
    while not directory.is_dir() and not above.is_dir() and above != above.parent:
        chain.insert(0, (above, DIR_MODE))  # `init a/b/c`: like mkdir -p
        above = above.parent
    for i in range(len(parts) + 1):
        name = "/".join(parts[:i])
        chain.append((directory.joinpath(*parts[:i]), PRIVATE_DIR_MODES.get(name, DIR_MODE)))
    for path, mode in chain:
        if path.is_dir():
            continue
        try:
            path.mkdir(mode=mode)
            path.chmod(mode)
        except FileExistsError:
            raise OpsError(f"cannot create directory {path}: a file is in the way") from None
        except OSError as exc:
            raise OpsError(f"cannot create directory {path}: {exc.strerror}") from None


# -- showing differences -------------------------------------------------------

_SECRET_LINE = re.compile(
    r"^(\s*(?:admin_passwd|[A-Z_]*(?:PASSWORD|SECRET|TOKEN)[A-Z_]*)\s*=\s*).+$"
)


def _mask(text: str) -> list[str]:
    return [_SECRET_LINE.sub(lambda m: m.group(1) + MASK, line) for line in text.splitlines()]


def diff_text(f: PlannedFile) -> str:
    """A unified diff of the file (secret values masked)."""
    if f.status == "mode":
        return f"{f.path}: mode {f.old_mode:o} -> {f.mode:o}\n"
    if f.secret and f.path != ".env":
        return f"{f.path}: {f.status} (it holds a secret: content not shown)\n"
    old = _mask(f.old or "")
    new = _mask(f.content)
    label = f.path
    lines = difflib.unified_diff(
        old,
        new,
        fromfile=f"{label} (on disk)" if f.old is not None else "/dev/null",
        tofile=f"{label} (init)",
        lineterm="",
        n=2,
    )
    return "\n".join(lines) + "\n"


def _ini_options(text: str) -> dict[str, str]:
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return {}
    return dict(parser.items("options")) if parser.has_section("options") else {}


def explain(f: PlannedFile, plan: InitPlan) -> list[str]:
    """Why ``f`` differs from what init would write, one sentence per difference."""
    if f.status == "same":
        return []
    if f.status == "new":
        return [f"{f.path}: missing (init would create it)"]
    if f.status == "mode":
        return [
            f"{f.path}: mode is {f.old_mode:o}, should be {f.mode:o}"
            + (" (it holds secrets)" if f.secret else "")
        ]
    out: list[str] = []
    if f.old_mode is not None and f.old_mode != f.mode:
        out.append(f"{f.path}: mode is {f.old_mode:o}, should be {f.mode:o}")
    assert f.old is not None
    if f.path.endswith("odoo.conf"):
        have, want = _ini_options(f.old), _ini_options(f.content)
        why = _conf_reasons(plan)
        for key in sorted(set(have) | set(want)):
            a, b = have.get(key), want.get(key)
            if a == b:
                continue
            if key == "admin_passwd":
                out.append(
                    f"{f.path}: admin_passwd is not a pbkdf2-sha512 hash"
                    " (init would set a new master password and store its hash)"
                )
            elif a is None:
                out.append(f"{f.path}: {key} is not set; init writes {key} = {b}{why.get(key, '')}")
            elif b is None:
                out.append(f"{f.path}: {key} = {a} is not part of the generated configuration")
            else:
                out.append(f"{f.path}: {key} = {a}, init writes {b}{why.get(key, '')}")
        if not out:
            out.append(f"{f.path}: same options, different comments or layout")
        return out
    if f.secret and f.path != ".env":
        return out + [
            f"{f.path}: differs (it holds a secret: init keeps a usable one and writes what"
            " depends on it)"
        ]
    if f.secret:
        have_env = parse_env_text(f.old, f.path)
        want_env = parse_env_text(f.content, f.path)
        for key in sorted(set(want_env) - set(have_env)):
            out.append(f"{f.path}: {key} is missing (init would add a new random value)")
        for key in sorted(set(have_env) - set(want_env)):
            out.append(f"{f.path}: {key} is not used by the generated project (kept)")
        for key in sorted(set(have_env) & set(want_env)):
            if have_env[key] != want_env[key]:
                out.append(f"{f.path}: {key} differs")
        return out or [f"{f.path}: same values, different comments or layout"]
    diff = [
        line
        for line in difflib.unified_diff(_mask(f.old), _mask(f.content), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    removed = [d[1:].strip() for d in diff if d.startswith("-") and d[1:].strip()]
    added = [d[1:].strip() for d in diff if d.startswith("+") and d[1:].strip()]
    for line in added[:8]:
        out.append(f"{f.path}: init would add `{line}`")
    for line in removed[:8]:
        out.append(f"{f.path}: init would remove `{line}`")
    more = len(added) + len(removed) - min(len(added), 8) - min(len(removed), 8)
    if more > 0:
        out.append(f"{f.path}: … and {more} more changed line(s) (see the diff)")
    return out or [f"{f.path}: whitespace differs"]


def _conf_reasons(plan: InitPlan) -> dict[str, str]:
    s = plan.sizing
    return {
        "workers": f" ({'; '.join(s.reasons[:4])})",
        "limit_memory_hard": f" ({s.limit_memory_hard // MIB} MiB per worker)",
        "limit_memory_soft": " (80% of limit_memory_hard)",
        "max_cron_threads": " (1 up to 4 workers, else 2)",
        "db_maxconn": f" ({s.workers + s.max_cron_threads} processes within max_connections)",
        "list_db": " (the database manager must be off in production)",
        "proxy_mode": " (Odoo runs behind the generated reverse proxy)",
        "dbfilter": " (only the deployment's database is served)",
    }
