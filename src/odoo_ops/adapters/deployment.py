"""The deployment as odoo-ops reaches it: :class:`Target`."""

from __future__ import annotations

import functools
import glob
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.adapters.compose import ComposeFile, ComposeService, load_compose
from odoo_ops.adapters.database import Database, dsn_for_database
from odoo_ops.adapters.http import Http
from odoo_ops.adapters.odoo_cmd import OdooCommand
from odoo_ops.adapters.odoo_conf import OdooConf, read_odoo_conf
from odoo_ops.adapters.project import Project
from odoo_ops.adapters.runner import ComposeRunner, LocalRunner, Runner, SshRunner
from odoo_ops.errors import ConfigError, OpsError
from odoo_ops.secrets import Redactor

if TYPE_CHECKING:
    from odoo_ops.addons import AddonsScan


class Unavailable(OpsError):
    """An adapter cannot be built; the message says why (a check then skips)."""


class Target:
    """Everything odoo-ops needs to reach one deployment."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.deployment = project.deployment
        # values of secret-named variables (.env, environment) are masked as tokens
        self.redactor = Redactor.from_env(project.env)
        self._addons_scan: AddonsScan | None = None

    # -- files -------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def name(self) -> str:
        return self.project.name

    @functools.cached_property
    def compose(self) -> ComposeFile | None:
        dep = self.deployment
        if dep.runner == "compose" or (dep.runner == "ssh" and dep.remote_runner == "compose"):
            if dep.runner == "ssh":
                return None  # the compose file lives on the remote host
            path = self.project.path(dep.compose_file or "docker-compose.yml")
            if not path.is_file():
                raise ConfigError(f"compose file not found: {path}")
            return load_compose(path)
        return None

    def compose_or_none(self) -> ComposeFile | None:
        try:
            return self.compose
        except ConfigError:
            return None

    @property
    def odoo_service(self) -> ComposeService | None:
        compose = self.compose_or_none()
        return compose.services.get(self.command_service) if compose else None

    @functools.cached_property
    def odoo_services(self) -> list[str]:
        """Every Odoo service (compose) or unit (systemd) on this database.

        ``odoo_services``/``odoo_service`` from odoo-ops.toml; when neither is
        set, the compose services that run Odoo on the same database
        (:func:`~odoo_ops.adapters.topology.discover_odoo_services`)."""
        dep = self.deployment
        if dep.runner != "compose" and dep.maintenance.systemd_units:
            return list(dep.maintenance.systemd_units)
        if "odoo_services" in dep.model_fields_set or "odoo_service" in dep.model_fields_set:
            return list(dep.odoo_services) or [dep.odoo_service]
        compose = self.compose_or_none()
        if compose is not None:
            from odoo_ops.adapters.topology import discover_odoo_services

            found = discover_odoo_services(
                compose, db_service=dep.db_service, preferred=dep.odoo_service
            )
            if len(found) > 1:
                return found
        return [dep.odoo_service]

    @property
    def command_service(self) -> str:
        """The Odoo service that runs Odoo commands (-i/-u, shell, neutralize)."""
        dep = self.deployment
        services = self.odoo_services
        if dep.command_service and dep.command_service in services:
            return dep.command_service
        return dep.odoo_service if dep.odoo_service in services else services[0]

    def internal_url_for(self, service: str) -> str | None:
        """Where Odoo service ``service`` answers directly (``internal_urls``; the
        one-service form: ``internal_url`` or ``base_url``)."""
        dep = self.deployment
        if service in dep.internal_urls:
            return dep.internal_urls[service]
        if len(self.odoo_services) == 1:
            return dep.internal_url or dep.base_url
        return None

    @property
    def odoo_conf_path(self) -> Path | None:
        if not self.deployment.odoo_conf or self.deployment.runner == "ssh":
            return None
        return self.project.path(self.deployment.odoo_conf)

    @functools.cached_property
    def conf(self) -> OdooConf | None:
        """The parsed odoo.conf, None when the deployment has none on this host."""
        path = self.odoo_conf_path
        if path is None:
            return None
        conf = read_odoo_conf(path, self.project.env)
        for value in conf.secret_values():
            self.redactor.add(value)
        return conf

    def require_conf(self) -> OdooConf:
        conf = self.conf
        if conf is None:
            raise Unavailable("no odoo.conf on this host (set odoo_conf in odoo-ops.toml)")
        return conf

    @property
    def series(self) -> str | None:
        return self.deployment.series

    @property
    def database_name(self) -> str | None:
        """The database every command of this run uses, resolved once.

        Precedence: ``-d`` > ``database =`` (odoo-ops.toml) > odoo.conf
        ``db_name`` > the dsn's own database. A dsn that names a database
        explicitly and another source naming a different one is refused
        (:class:`~odoo_ops.errors.ConfigError`) rather than guessed.
        """
        return self.database_choice()[0]

    def database_choice(self) -> tuple[str | None, str]:
        """``(name, where it comes from)`` of the database this run uses."""
        named = self._named_database()
        dsn_db = self._dsn_database()
        if named is not None:
            name, source = named
            if dsn_db is not None and dsn_db != name:
                raise ConfigError(
                    f"{source} {name} but the dsn names database {dsn_db}: remove the"
                    f" database from the dsn or pass -d {dsn_db}",
                    hint="the dsn of deployment"
                    f" {self.name!r} in odoo-ops.toml names the database; odoo-ops will not"
                    " guess which one you mean",
                )
            return name, source
        if dsn_db is not None:
            return dsn_db, "the dsn"
        return None, "nothing"

    def _named_database(self) -> tuple[str, str] | None:
        """The database named by ``-d``, ``database =`` or odoo.conf ``db_name``."""
        dep = self.deployment
        if dep.database:
            configured = self.project.config.deployments.get(self.name)
            from_file = configured.database if configured is not None else None
            source = "database =" if from_file == dep.database else "-d"
            return dep.database, source
        conf = self._conf_quiet()
        name = conf.get("db_name") if conf else None
        if name and "," not in str(name):
            return str(name), "odoo.conf db_name ="
        return None

    def _dsn_database(self) -> str | None:
        """The database the dsn names explicitly, if any."""
        if not self.deployment.dsn:
            return None
        from psycopg.conninfo import conninfo_to_dict

        try:
            name = conninfo_to_dict(self.deployment.dsn).get("dbname")
        except Exception:
            return None
        return str(name) if name else None

    def _conf_quiet(self) -> OdooConf | None:
        try:
            return self.conf
        except ConfigError:
            return None

    def to_host_path(self, path: str) -> Path | None:
        """A path as Odoo sees it, translated to this host (compose bind mounts)."""
        if self.deployment.runner == "ssh":
            return None
        svc = self.odoo_service
        if svc is not None:
            return svc.host_path(path)
        return self.project.path(path)

    @functools.cached_property
    def addons_paths(self) -> list[Path]:
        """Addons directories on this host, in Odoo's order (first wins)."""
        dep = self.deployment
        paths: list[Path] = []
        if dep.addons_paths:
            for entry in dep.addons_paths:
                expanded = str(self.project.path(entry))
                matches = sorted(glob.glob(expanded)) if glob.has_magic(expanded) else [expanded]
                paths.extend(Path(m) for m in matches)
            return paths
        conf = self._conf_quiet()
        if conf is not None:
            for entry in conf.addons_path:
                host = self.to_host_path(entry)
                if host is not None:
                    paths.append(host)
        if not paths and self.project.discovered:
            for candidate in sorted(self.root.glob("addons*")) + sorted(self.root.glob("addons/*")):
                if candidate.is_dir() and any(candidate.glob("*/__manifest__.py")):
                    paths.append(candidate)
        return paths

    def unmapped_addons_paths(self) -> list[str]:
        """odoo.conf addons_path entries with no host path (inside the image)."""
        conf = self._conf_quiet()
        if conf is None or self.deployment.addons_paths:
            return []
        return [e for e in conf.addons_path if self.to_host_path(e) is None]

    @property
    def backup_dir(self) -> Path | None:
        return self.project.path(self.deployment.backup_dir) if self.deployment.backup_dir else None

    @property
    def log_dir(self) -> Path:
        if self.deployment.log_dir:
            return self.project.path(self.deployment.log_dir)
        return self.root / ".odoo-ops" / "logs"

    def addons_scan(self, *, refresh: bool = False) -> AddonsScan:
        """The addons on the deployment's addons path on this host: scanned once
        per run (``refresh`` after the code changed, as a deploy does), manifests
        parsed through the user's parse cache. Empty when there is no path."""
        from odoo_ops.addons import AddonsScan, scan_addons_path
        from odoo_ops.addons.cache import user_cache_dir

        if self._addons_scan is None or refresh:
            paths = self.addons_paths
            self._addons_scan = (
                scan_addons_path(paths, base_dir=self.root, cache_dir=user_cache_dir())
                if paths
                else AddonsScan()
            )
        return self._addons_scan

    @property
    def state_dir(self) -> Path:
        """Where odoo-ops keeps its own state for this deployment (journal, records)."""
        return self.root / ".odoo-ops" / self.name

    def data_dir(self) -> Path | None:
        """Odoo's data_dir on this host, when known."""
        if self.deployment.data_dir:
            return self.project.path(self.deployment.data_dir)
        conf = self._conf_quiet()
        value = conf.get("data_dir") if conf else None
        if value:
            return self.to_host_path(str(value))
        return None

    def filestore_dir(self, database: str | None = None) -> Path | None:
        from odoo_ops.names import check_database_name, path_under

        data = self.data_dir()
        db = database or self.database_name
        if data is None or not db:
            return None
        # the name may come from a dsn or odoo.conf: checked here, where it becomes a path
        return path_under(data / "filestore", check_database_name(db))

    # -- database ----------------------------------------------------------
    def dsn(self) -> str:
        """The libpq DSN of the deployment's database, or :class:`Unavailable`."""
        dep = self.deployment
        if dep.dsn:
            missing = self.project.unresolved_for("dsn")
            if missing:
                raise Unavailable(f"dsn needs unset variable(s) {', '.join(missing)}")
            self._remember_dsn_password(dep.dsn)
            return self._dsn_with_database(dep.dsn)
        conf = self._conf_quiet()
        db = self.database_name
        if not db:
            raise Unavailable("no database configured (set database or dsn, or pass -d)")
        if conf is None:
            raise Unavailable("no dsn and no odoo.conf to take db_host/db_user from")
        from psycopg.conninfo import make_conninfo

        host = conf.get("db_host")
        port = conf.get("db_port")
        if self.deployment.runner == "compose":
            svc = self.compose_or_none()
            db_svc = svc.services.get(dep.db_service) if svc else None
            if host in (None, dep.db_service, "db", "postgres") and db_svc is not None:
                published = _published_port(db_svc, 5432)
                if published is None:
                    raise Unavailable(
                        f"the database runs in compose service {dep.db_service!r} and publishes"
                        " no port on this host (set dsn in odoo-ops.toml)"
                    )
                host, port = published
        if self.deployment.runner == "ssh":
            raise Unavailable("the database is on the remote host (set dsn in odoo-ops.toml)")
        for option in ("db_user", "db_password", "db_host"):
            if option in conf.unresolved:
                raise Unavailable(
                    f"odoo.conf {option} needs unset variable(s) "
                    f"{', '.join(conf.unresolved[option])}"
                )
        params: dict[str, str] = {"dbname": db}
        if host:
            params["host"] = str(host)
        if port:
            params["port"] = str(port)
        if conf.get("db_user"):
            params["user"] = str(conf.get("db_user"))
        if conf.get("db_password"):
            params["password"] = str(conf.get("db_password"))
            self.redactor.add(str(conf.get("db_password")))
        if conf.get("db_sslmode") and conf.get("db_sslmode") != "prefer":
            params["sslmode"] = str(conf.get("db_sslmode"))
        return make_conninfo("", **params)

    def _dsn_with_database(self, dsn: str) -> str:
        """``dsn`` naming the resolved database (the one every command reports)."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(dsn)
        except Exception:  # its text may quote the password: say where, not what
            raise ConfigError(
                f"invalid database DSN in deployment {self.name!r}: not a libpq connection"
                " string or postgresql:// URL",
                hint="check the quoting of dsn in odoo-ops.toml",
            ) from None
        db = self.database_name
        if not db:
            raise Unavailable(
                "no database configured (the dsn names none: set database, or pass -d)"
            )
        return dsn_for_database(dsn, db)

    def _remember_dsn_password(self, dsn: str) -> None:
        from psycopg.conninfo import conninfo_to_dict

        try:
            password = conninfo_to_dict(dsn).get("password")
        except Exception:
            return
        if password:
            self.redactor.add(str(password))

    def database(self) -> Database:
        dep = self.deployment
        return Database(
            self.dsn(),
            connect_timeout=dep.connect_timeout,
            statement_timeout=dep.statement_timeout,
        )

    # -- http --------------------------------------------------------------
    def http(self) -> Http:
        if not self.deployment.base_url:
            raise Unavailable("no base_url configured")
        return Http(self.deployment.base_url, timeout=self.deployment.http_timeout)

    # -- runner ------------------------------------------------------------
    def _compose_runner(self, remote: bool) -> ComposeRunner:
        dep = self.deployment
        compose_file = dep.compose_file or "docker-compose.yml"
        if not remote:
            compose_file = str(self.project.path(compose_file))
        env_file = None
        if dep.env_file and not remote:
            env_path = self.project.path(dep.env_file)
            env_file = str(env_path) if env_path.is_file() else None
        return ComposeRunner(
            compose_file,
            self.command_service,
            project_directory=None if remote else str(self.root),
            env_file=env_file,
            project_name=dep.compose_project,
        )

    def runner(self) -> Runner:
        dep = self.deployment
        if dep.runner == "compose":
            return self._compose_runner(remote=False)
        if dep.runner == "ssh":
            assert dep.ssh_host
            inner: Runner = (
                self._compose_runner(remote=True)
                if dep.remote_runner == "compose"
                else LocalRunner()
            )
            return SshRunner(
                dep.ssh_host,
                inner,
                remote_dir=dep.remote_dir,
                options=dep.ssh_options,
                connect_timeout=dep.connect_timeout,
            )
        return LocalRunner(self.root)

    def odoo_conf_for_runner(self) -> str | None:
        """The odoo.conf path as Odoo sees it where it runs."""
        dep = self.deployment
        if not dep.odoo_conf:
            return None
        if dep.runner == "compose":
            svc = self.odoo_service
            host = self.odoo_conf_path
            if svc is not None and host is not None:
                for mount in svc.mounts:
                    if mount.source is None:
                        continue
                    try:
                        rel = host.resolve().relative_to(mount.source.resolve())
                    except ValueError:
                        continue
                    return mount.target if str(rel) == "." else f"{mount.target}/{rel}"
            return "/etc/odoo/odoo.conf"
        if dep.runner == "local":
            return str(self.odoo_conf_path)
        return dep.odoo_conf

    def odoo(self, database: str | None = None) -> OdooCommand:
        return OdooCommand(
            executable=list(self.deployment.odoo_command),
            conf=self.odoo_conf_for_runner(),
            database=database or self.database_name,
        )


def _published_port(svc: ComposeService, container_port: int) -> tuple[str, int] | None:
    for item in svc.raw.get("ports") or []:
        if isinstance(item, dict):
            if int(item.get("target", 0)) == container_port and item.get("published"):
                return (str(item.get("host_ip") or "127.0.0.1"), int(item["published"]))
            continue
        text = str(item).split("/", 1)[0]
        parts = text.split(":")
        try:
            if len(parts) == 3 and int(parts[2]) == container_port:
                return (parts[0] or "127.0.0.1", int(parts[1]))
            if len(parts) == 2 and int(parts[1]) == container_port:
                return ("127.0.0.1", int(parts[0]))
        except ValueError:
            continue
    return None
