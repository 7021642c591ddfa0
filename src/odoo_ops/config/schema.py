"""The ``odoo-ops.toml`` schema (pydantic v2).

Every model allows unknown keys so that the loader can warn about them with
their dotted path instead of failing; wrong types and values fail with the
dotted path (``deployments.production.runner: must be one of …``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from odoo_ops.names import SUPPORTED_SERIES as SUPPORTED_SERIES
from odoo_ops.names import (
    InvalidName,
    check_database_name,
    check_deployment_name,
    check_supported_series,
)

SERIES_RE = re.compile(r"^(1[0-9]|[2-9][0-9])\.0$")


def _series_value(value: object) -> str | None:
    """A supported Odoo series in ``NN.0`` form (``18``, ``18.0`` and ``"18"`` accepted)."""
    if value is None:
        return None
    if isinstance(value, float):
        value = f"{value:.1f}"
    text = str(value)
    if re.fullmatch(r"\d+", text):
        text += ".0"
    if not SERIES_RE.match(text):
        raise ValueError(f"must look like 18.0 (got {text!r})")
    try:
        return check_supported_series(text)
    except InvalidName as exc:
        raise ValueError(f"{exc.message}: {exc.hint}") from None


def _database_value(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_database_name(value)
    except InvalidName as exc:
        raise ValueError(f"{exc.message} ({exc.hint})" if exc.hint else exc.message) from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)


class Maintenance(_Model):
    """How ``odoo-ops maintenance on`` keeps users out (see docs/maintenance.md).

    ``flag_file``: the file the generated nginx/Caddy config tests to answer 503
    (default ``<project>/.odoo-ops/maintenance/<deployment>.flag``).
    ``stop_workers``: stop Odoo's HTTP workers too (compose: ``docker compose
    stop <odoo_service>``; local: ``systemctl stop <systemd_unit>``).
    ``stop_command``/``start_command``/``status_command``: argv run on the Odoo
    host instead (status: exit 0 = running).
    """

    flag_file: str | None = None
    stop_workers: bool = True
    systemd_unit: str | None = None
    # several Odoo units on one database (local/ssh): all stopped and started together
    systemd_units: list[str] = Field(default_factory=list)
    stop_command: list[str] = Field(default_factory=list)
    start_command: list[str] = Field(default_factory=list)
    status_command: list[str] = Field(default_factory=list)


class Deployment(_Model):
    """One Odoo deployment that odoo-ops reaches."""

    series: str | None = None
    runner: Literal["local", "compose", "ssh"] = "local"
    production: bool = True
    # compose
    compose_file: str | None = None
    compose_project: str | None = None
    odoo_service: str = "odoo"
    # several Odoo services on one database (docs/topology.md): `odoo_service` is the
    # one-service form; both are normalised so that odoo_services lists them all and
    # odoo_service is the one that runs Odoo commands (command_service, default the first)
    odoo_services: list[str] = Field(default_factory=list)
    command_service: str | None = None
    cron_services: list[str] = Field(default_factory=list)
    db_service: str = "db"
    # local / remote odoo
    odoo_command: list[str] = Field(default_factory=lambda: ["odoo"])
    odoo_conf: str | None = None
    database: str | None = None
    dsn: str | None = None
    base_url: str | None = None
    # Odoo itself, bypassing the proxy (deploy verifies there while the proxy shows 503)
    internal_url: str | None = None
    # per Odoo service (several services): where deploy and health reach each one
    internal_urls: dict[str, str] = Field(default_factory=dict)
    env_file: str | None = None
    # paths on the machine running odoo-ops (host side of compose volumes)
    addons_paths: list[str] = Field(default_factory=list)
    data_dir: str | None = None
    backup_dir: str | None = None
    log_dir: str | None = None
    odoo_log_file: str | None = None
    # ssh
    ssh_host: str | None = None
    ssh_options: list[str] = Field(default_factory=list)
    remote_dir: str | None = None
    remote_runner: Literal["local", "compose"] = "compose"
    # behaviour
    behind_proxy: bool | None = None
    # the plain-HTTP address that must redirect to base_url (check proxy-https);
    # default: http://<host of base_url>/ on port 80
    http_url: str | None = None
    redis_url: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0, le=300)
    http_timeout: float = Field(default=5.0, gt=0, le=300)
    statement_timeout: float = Field(default=60.0, gt=0)
    maintenance: Maintenance = Field(default_factory=Maintenance)

    @model_validator(mode="before")
    @classmethod
    def _odoo_services(cls, data: object) -> object:
        """``odoo_service`` or ``odoo_services`` (not both), normalised to the list."""
        if not isinstance(data, dict):
            return data
        one, many = data.get("odoo_service"), data.get("odoo_services")
        if many == [] and one is not None:
            many = None  # a dump of a deployment that had one service: the default list
            data = {k: v for k, v in data.items() if k != "odoo_services"}
        if one is not None and many is not None and one not in many:
            # both, agreeing, is the normalised form (a deployment copied with overrides)
            raise ValueError(
                "set odoo_service (one Odoo service) or odoo_services (several), not both"
            )
        if many is not None:
            if not isinstance(many, list) or not many:
                raise ValueError("odoo_services must list at least one service")
            if len(set(map(str, many))) != len(many):
                raise ValueError("odoo_services lists a service twice")
            command = data.get("command_service") or one or many[0]
            if command not in many:
                raise ValueError(f"command_service {command!r} is not one of odoo_services")
            data = {**data, "odoo_service": command}
        elif one is not None:
            data = {**data, "odoo_services": [one]}
            if data.get("command_service") not in (None, one):
                raise ValueError("command_service must be odoo_service")
        return data

    @field_validator("series", mode="before")
    @classmethod
    def _series(cls, value: object) -> str | None:
        return _series_value(value)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        return _database_value(value)

    @field_validator("internal_urls")
    @classmethod
    def _urls(cls, value: dict[str, str]) -> dict[str, str]:
        for service, url in value.items():
            if not re.match(r"^https?://[^/\s]+", url):
                raise ValueError(f"{service}: must be an http:// or https:// URL")
        return {service: url.rstrip("/") for service, url in value.items()}

    @field_validator("base_url", "internal_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("odoo_command")
    @classmethod
    def _cmd(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must name at least the odoo executable")
        return value

    @model_validator(mode="after")
    def _runner_fields(self) -> Deployment:
        if self.runner == "ssh" and not self.ssh_host:
            raise ValueError("runner 'ssh' needs ssh_host")
        return self


class ModuleSet(_Model):
    modules: list[str] = Field(default_factory=list)
    description: str | None = None


class Thresholds(_Model):
    min_installed_modules: int | None = Field(default=None, ge=0)
    min_categories: int | None = Field(default=None, ge=0)
    min_oca_modules: int | None = Field(default=None, ge=0)
    min_menus: int | None = Field(default=None, ge=0)
    max_log_errors: int = Field(default=0, ge=0)
    backup_max_age_hours: float = Field(default=24.0, gt=0)
    backup_free_space_factor: float = Field(default=2.0, gt=0)
    certificate_min_days: int = Field(default=14, ge=0)
    disk_max_percent: float = Field(default=90.0, gt=0, le=100)
    memory_max_percent: float = Field(default=90.0, gt=0, le=100)
    db_latency_ms: float = Field(default=200.0, gt=0)
    http_latency_ms: float = Field(default=2000.0, gt=0)
    cron_lag_minutes: float = Field(default=60.0, gt=0)


class Service(_Model):
    name: str
    url: str
    required: bool = True
    expect_status: int = 200
    timeout: float = Field(default=5.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


class Verify(_Model):
    """What must be installed: `odoo-ops verify` gates on it."""

    modules: list[str] = Field(default_factory=list)
    sets: list[str] = Field(default_factory=list)


class BackupRemote(_Model):
    """An off-site copy destination (``[[backup.remotes]]``, see docs/backup.md).

    ``url``: ``file:///mnt/nas/odoo``, ``ssh://user@host:port/path`` (or
    ``sftp://``), ``s3://bucket/prefix``; ``options``: per kind (ssh_options,
    known_hosts, identity_file; endpoint_url, region, env_file, keys…). The
    ``keep_*`` settings default to the local policy of ``[backup]``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    url: str
    options: dict[str, object] = Field(default_factory=dict)
    require_encryption: bool = False
    keep_within: str | None = None
    keep_daily: int | None = Field(default=None, ge=0)
    keep_weekly: int | None = Field(default=None, ge=0)
    keep_monthly: int | None = Field(default=None, ge=0)
    keep_yearly: int | None = Field(default=None, ge=0)


class BackupPolicy(_Model):
    keep_within: str | None = None
    keep_daily: int = Field(default=7, ge=0)
    keep_weekly: int = Field(default=4, ge=0)
    keep_monthly: int = Field(default=6, ge=0)
    keep_yearly: int = Field(default=1, ge=0)
    compress: Literal["zstd", "gzip", "lz4", "none"] | None = None
    #: None: one per CPU of the database host (odoo_ops.backup.dbhost)
    jobs: int | None = Field(default=None, ge=1, le=64)
    format: Literal["custom", "directory"] | None = None
    age_recipients: list[str] = Field(default_factory=list)
    age_identity_file: str | None = None
    #: off-site copies; ``push``: the remotes ``backup create`` pushes to (names)
    remotes: list[BackupRemote] = Field(default_factory=list)
    push: list[str] = Field(default_factory=list)


class Dr(_Model):
    """``[dr]``: the objectives a disaster-recovery drill is measured against (minutes).

    ``login``/``password``: a user the drill logs in as through ``/web/login`` once
    Odoo answers (write the password as ``"${ODOO_DR_PASSWORD}"``, from the
    environment or the deployment's env_file); the RTO then ends at that login.
    """

    rto_minutes: float = Field(default=240.0, gt=0)
    rpo_minutes: float = Field(default=1440.0, gt=0)
    login: str | None = None
    password: str | None = None


class Notifications(_Model):
    """apprise URLs (mmost://, slack://, mailto://, json://…)."""

    urls: list[str] = Field(default_factory=list)


class Health(_Model):
    interval: float = Field(default=60.0, gt=0)
    failures_before_alert: int = Field(default=3, ge=1)
    cooldown: float = Field(default=900.0, ge=0)
    latency_samples: int = Field(default=5, ge=1, le=100)
    metrics_textfile: str | None = None


class OcaRepo(_Model):
    name: str
    url: str
    branch: str | None = None
    target: str | None = None


class Oca(_Model):
    addons_dir: str = "addons/oca"
    repos_file: str | None = None
    repos: list[OcaRepo] = Field(default_factory=list)
    lock_file: str = "oca.lock.json"


class GoliveItem(_Model):
    """A go-live checklist item added (or replaced, same id) by the project."""

    id: str
    title: str
    phase: str
    category: str = "sign-off"
    evidence: str | None = None
    owner: str | None = None
    description: str | None = None


class GoliveRollback(_Model):
    """Rollback criteria evaluated from health probe history."""

    outage_minutes: float = Field(default=30.0, gt=0)
    error_rate_percent: float = Field(default=10.0, gt=0, le=100)
    error_window_minutes: float = Field(default=15.0, gt=0)


class Golive(_Model):
    """``[golive]``: the go-live board of this project (``odoo-ops golive``)."""

    date: str | None = None
    signoff_file: str = "golive.signoff.toml"
    skip: list[str] = Field(default_factory=list)
    items: list[GoliveItem] = Field(default_factory=list)
    rollback: GoliveRollback = Field(default_factory=GoliveRollback)
    loadtest_p95_seconds: float = Field(default=2.0, gt=0)


class InitAnswers(_Model):
    """``[init]``: the answers ``odoo-ops init`` was given, so a re-run is repeatable."""

    deployment: str = "production"
    series: str = "18.0"
    domain: str | None = None
    database: str | None = None
    proxy: Literal["nginx", "caddy"] = "nginx"
    cpus: int | None = Field(default=None, ge=1, le=1024)
    ram_mb: int | None = Field(default=None, ge=256)
    users: int = Field(default=25, ge=1)
    redis: bool = False
    #: ``init --pitr``: pgBackRest in the db image, archiving on, the pitr timers
    pitr: bool = False

    @field_validator("series", mode="before")
    @classmethod
    def _series(cls, value: object) -> str | None:
        return _series_value(value)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        return _database_value(value)


class Pitr(_Model):
    """``[pitr]``: point-in-time recovery with pgBackRest (see docs/pitr.md).

    Paths are relative to the project; ``dir`` defaults to
    ``.odoo-ops/pitr/<deployment>`` (pgBackRest config, repository, logs, the
    filestore archive), ``stanza`` to the deployment name, ``pg_data`` is the
    server's data directory (pgBackRest's ``pg1-path``), ``os_user`` the OS
    user pgBackRest and the scratch server run as (default: the owner of
    ``pg_data`` when odoo-ops runs as root).
    """

    dir: str | None = None
    repo_path: str | None = None
    #: the name of a ``[[backup.remotes]]`` (s3://) holding the repository instead
    repository: str | None = None
    stanza: str | None = None
    pg_data: str | None = None
    pg_socket_path: str | None = None
    pg_port: int | None = Field(default=None, ge=1, le=65535)
    pg_bin: str = "/usr/lib/postgresql/15/bin"
    #: where ``pitr restore --to`` runs its scratch server: ``host`` (``pg_bin`` as
    #: ``os_user``), ``compose`` (a one-off container of the db service's image),
    #: ``auto`` (compose when the deployment's runner is compose and its compose file
    #: has ``db_service``)
    scratch_server: Literal["auto", "host", "compose"] = "auto"
    os_user: str | None = None
    #: pgBackRest's role for pg1-user (default: the DSN's user)
    pg_user: str | None = None
    pgbackrest: str = "pgbackrest"
    #: pgBackRest as the PostgreSQL server runs it in archive_command (default: pgbackrest);
    #: differs when odoo-ops reaches it through a wrapper (compose: deploy/pitr/pgbackrest)
    server_pgbackrest: str | None = None
    retention_full: int = Field(default=2, ge=1, le=100)
    retention_diff: int | None = Field(default=None, ge=1, le=100)
    archive_timeout: int = Field(default=60, ge=1, le=86400)
    max_archive_lag_minutes: float = Field(default=15.0, gt=0)
    full_max_age_hours: float = Field(default=192.0, gt=0)
    filestore_max_age_minutes: float = Field(default=30.0, gt=0)
    filestore_keep_days: float = Field(default=14.0, ge=0)
    process_max: int = Field(default=2, ge=1, le=64)
    jobs: int = Field(default=2, ge=1, le=64)
    #: ``pitr restore --in-place``: argv that stop / start the PostgreSQL server
    #: (default: ``pg_ctl -D pg_data`` as ``os_user`` when postgresql.conf is in pg_data)
    pg_stop_command: list[str] = Field(default_factory=list)
    pg_start_command: list[str] = Field(default_factory=list)


_SERIES_RE = re.compile(r"^\d{1,2}\.0$")
_MODULE_RE = re.compile(r"^[A-Za-z0-9_]+$")


class UpgradeStep(_Model):
    """``[[upgrade.steps]]``: one major version of a multi-step upgrade (``to`` =
    ``"17.0"``): its target Odoo, addons, OpenUpgrade pins, hooks, and the modules
    to ``uninstall``/``install`` with that Odoo once the step has migrated. Keys left
    out of the last step come from ``[upgrade]`` itself (docs/upgrade.md)."""

    to: str
    target_odoo_command: list[str] = Field(default_factory=list)
    target_addons_paths: list[str] = Field(default_factory=list)
    openupgrade: str | None = None
    openupgrade_framework: str | None = None
    before_sql: list[str] = Field(default_factory=list)
    after_sql: list[str] = Field(default_factory=list)
    after_shell: list[str] = Field(default_factory=list)
    install: list[str] = Field(default_factory=list)
    uninstall: list[str] = Field(default_factory=list)
    target_service: str | None = None
    target_odoo_conf: str | None = None
    openupgrade_path: str | None = None

    @field_validator("to")
    @classmethod
    def _series(cls, value: str) -> str:
        if not _SERIES_RE.match(value):
            raise ValueError(f"not an Odoo series: {value!r} (e.g. \"17.0\")")
        return value

    @field_validator("install", "uninstall")
    @classmethod
    def _modules(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _MODULE_RE.match(name):
                raise ValueError(f"not a module name: {name!r}")
        return value


class Upgrade(_Model):
    """``[upgrade]``: the target of a major upgrade (``odoo-ops upgrade``, docs/upgrade.md).

    ``target_odoo_command`` runs the target Odoo (its venv's python and
    odoo-bin, with ``openupgradelib`` installed), ``target_addons_paths`` are
    the target's addons (Odoo's core, OCA and ported custom addons; relative
    to the project), ``openupgrade`` pins the ``openupgrade_scripts`` wheel
    version found in ``openupgrade_wheels`` (directories of wheels, like
    pip's --find-links), ``openupgrade_framework`` optionally pins that one.
    ``login_user`` logs in to the migrated copy with the password in the
    environment variable ``login_password_env``. Hooks: ``before_sql`` files
    run before OpenUpgrade, ``after_sql`` files and ``after_shell`` scripts
    (the target's ``odoo shell``) after it.
    """

    target_odoo_command: list[str] = Field(default_factory=list)
    target_addons_paths: list[str] = Field(default_factory=list)
    openupgrade: str | None = None
    openupgrade_framework: str | None = None
    openupgrade_wheels: list[str] = Field(default_factory=list)
    timeout: float = Field(default=4 * 3600.0, gt=0)
    key_tables: list[str] = Field(default_factory=list)
    login_user: str | None = None
    login_password_env: str = "ODOO_OPS_UPGRADE_PASSWORD"
    before_sql: list[str] = Field(default_factory=list)
    after_sql: list[str] = Field(default_factory=list)
    after_shell: list[str] = Field(default_factory=list)
    #: modules to uninstall / install with the target Odoo after the (one-step) migration
    install: list[str] = Field(default_factory=list)
    uninstall: list[str] = Field(default_factory=list)
    #: ``upgrade run`` on compose/ssh deployments: the compose service that runs the
    #: target image (``docker compose run --rm``), the odoo.conf and the directory of
    #: the OpenUpgrade addons as the target Odoo sees them there, and the compose file
    #: the deployment switches to
    target_service: str | None = None
    target_odoo_conf: str | None = None
    openupgrade_path: str | None = None
    target_compose_file: str | None = None
    #: a multi-step upgrade (16.0 -> 17.0 -> 18.0): one table per major version
    steps: list[UpgradeStep] = Field(default_factory=list)
    #: ``upgrade plan``: ask this index whether ``odoo-addon-NAME`` wheels exist for
    #: OCA modules missing from the target path ("" = never ask)
    registry_url: str = "https://pypi.org/pypi"
    registry_timeout: float = Field(default=5.0, gt=0, le=120)
    registry_cache_hours: float = Field(default=24.0, ge=0)

    @field_validator("install", "uninstall")
    @classmethod
    def _modules(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _MODULE_RE.match(name):
                raise ValueError(f"not a module name: {name!r}")
        return value

    @field_validator("steps")
    @classmethod
    def _distinct_steps(cls, value: list[UpgradeStep]) -> list[UpgradeStep]:
        seen = [s.to for s in value]
        dupes = sorted({t for t in seen if seen.count(t) > 1})
        if dupes:
            raise ValueError(f"two [[upgrade.steps]] with to = {dupes[0]!r}")
        return value


class Config(_Model):
    default_deployment: str | None = None
    deployments: dict[str, Deployment] = Field(default_factory=dict)
    module_sets: dict[str, ModuleSet] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    services: list[Service] = Field(default_factory=list)
    verify: Verify = Field(default_factory=Verify)
    backup: BackupPolicy = Field(default_factory=BackupPolicy)
    dr: Dr = Field(default_factory=Dr)
    notifications: Notifications = Field(default_factory=Notifications)
    health: Health = Field(default_factory=Health)
    oca: Oca = Field(default_factory=Oca)
    golive: Golive = Field(default_factory=Golive)
    pitr: Pitr = Field(default_factory=Pitr)
    upgrade: Upgrade = Field(default_factory=Upgrade)
    init: InitAnswers | None = None

    @field_validator("deployments")
    @classmethod
    def _deployment_names(cls, value: dict[str, Deployment]) -> dict[str, Deployment]:
        for name in value:
            try:
                check_deployment_name(name)
            except InvalidName as exc:
                raise ValueError(f"{exc.message} ({exc.hint})") from None
        return value

    @model_validator(mode="after")
    def _default(self) -> Config:
        if self.default_deployment and self.default_deployment not in self.deployments:
            names = ", ".join(repr(n) for n in sorted(self.deployments)) or "none"
            raise ValueError(
                f"default_deployment {self.default_deployment!r} is not a deployment "
                f"(deployments: {names})"
            )
        for set_name in self.verify.sets:
            if set_name not in self.module_sets:
                raise ValueError(f"verify.sets names unknown module set {set_name!r}")
        return self
