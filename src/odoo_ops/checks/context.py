"""What checks see of the deployment: one :class:`CheckContext` per run.

It builds adapters on demand and remembers what it learned, so a database or
host that cannot be reached is tried once: the check about reachability
fails, the checks that merely need it ``skip`` with the reason.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.adapters import Target, Unavailable
from odoo_ops.errors import OpsError, TargetError

if TYPE_CHECKING:
    import httpx

    from odoo_ops.adapters import Database, Http, OdooConf, Runner
    from odoo_ops.addons import AddonsScan


@dataclass
class HttpAnswer:
    """A fetched URL: the response, or why there is none."""

    url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""
    error: str | None = None
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class CheckContext:
    """Lazy, cached access to the deployment for checks."""

    def __init__(self, target: Target, *, full: bool = False, planned: list[str] | None = None):
        self.target = target
        self.project = target.project
        self.config = target.project.config
        self.deployment = target.deployment
        self.full = full
        self.planned = list(planned or [])
        self.cache: dict[str, Any] = {}
        self._db_error: str | None = None
        self._db_ok = False
        self._host_errors: dict[str, str] = {}

    # -- configuration -------------------------------------------------------
    @property
    def series(self) -> str | None:
        return self.deployment.series

    def conf(self) -> OdooConf:
        """The odoo.conf or :class:`Unavailable` (then a check skips)."""
        try:
            conf = self.target.conf
        except OpsError as exc:
            raise Unavailable(f"odoo.conf unreadable: {exc}") from None
        if conf is None:
            raise Unavailable("no odoo.conf configured or found")
        return conf

    def path(self, value: str | os.PathLike[str]) -> Path:
        return self.project.path(value)

    # -- database ------------------------------------------------------------
    def database(self) -> Database:
        """The database adapter after one successful connection, or Unavailable."""
        if self._db_error:
            raise Unavailable(self._db_error)
        db = self.target.database()
        if not self._db_ok:
            try:
                db.ping()
            except TargetError as exc:
                self._db_error = f"database not reachable: {exc}"
                raise Unavailable(self._db_error) from None
            self._db_ok = True
        return db

    def db_connect_error(self) -> str | None:
        """Try the database once; the error message, or None when it answers."""
        try:
            self.database()
        except Unavailable as exc:
            return str(exc)
        return None

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (cached per SQL and parameters)."""
        key = f"sql:{sql}:{params!r}"
        if key not in self.cache:
            with self.database().read_only() as cur:
                cur.execute(sql, params)
                self.cache[key] = cur.fetchall()
        return list(self.cache[key])

    def odoo_initialised(self) -> bool:
        rows = self.query("SELECT to_regclass('public.ir_module_module') IS NOT NULL")
        return bool(rows[0][0])

    def module_states(self) -> dict[str, tuple[str, str | None]]:
        """name -> (state, latest_version) from ir_module_module."""
        if not self.odoo_initialised():
            raise Unavailable("the database is not initialised by Odoo (no ir_module_module)")
        rows = self.query("SELECT name, state, latest_version FROM ir_module_module")
        return {name: (state, version) for name, state, version in rows}

    def installed_modules(self) -> set[str]:
        return {n for n, (s, _) in self.module_states().items() if s == "installed"}

    # -- addons --------------------------------------------------------------
    def addons_scan(self) -> AddonsScan:
        if not self.target.addons_paths:
            raise Unavailable("no addons directory found on this host")
        return self.target.addons_scan()

    # -- http ----------------------------------------------------------------
    def http(self) -> Http:
        return self.target.http()

    def fetch(
        self,
        path: str,
        *,
        base_url: str | None = None,
        method: str = "GET",
        json: Any = None,
        follow_redirects: bool = False,
    ) -> HttpAnswer:
        """GET (or POST) a URL once per run; a host that fails to connect is not retried."""
        import httpx

        http = self.http()
        base = base_url or http.base_url
        url = base + path if path.startswith("/") or not path else path
        key = f"http:{method}:{url}:{follow_redirects}"
        if key in self.cache:
            answer: HttpAnswer = self.cache[key]
            return answer
        parsed = httpx.URL(url)
        host = f"{parsed.host}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"
        if host in self._host_errors:
            raise Unavailable(self._host_errors[host])
        answer = HttpAnswer(url=url)
        try:
            with http.client(follow_redirects=follow_redirects) as client:
                response: httpx.Response = client.request(method, url, json=json)
            answer.status = response.status_code
            answer.headers = {k.lower(): v for k, v in response.headers.items()}
            answer.text = response.text[:200_000]
            answer.elapsed = response.elapsed.total_seconds()
        except httpx.TimeoutException:
            answer.error = f"no answer within {http.timeout:g}s"
            self._host_errors[host] = f"{host} not reachable: {answer.error}"
        except httpx.HTTPError as exc:
            from odoo_ops.adapters.http import describe_http_error

            answer.error = describe_http_error(exc)
            if isinstance(exc, httpx.ConnectError):
                self._host_errors[host] = f"{host} not reachable: {answer.error}"
        self.cache[key] = answer
        return answer

    # -- runner --------------------------------------------------------------
    @functools.cached_property
    def runner(self) -> Runner:
        return self.target.runner()
