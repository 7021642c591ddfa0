"""The one place where ``odoo`` command lines are built.

Every Odoo invocation (install, update, shell, neutralize, version, server)
is built here and then run through a :class:`~odoo_ops.adapters.runner.Runner`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def _names(modules: Iterable[str]) -> str:
    names = [m.strip() for m in modules if m.strip()]
    if not names:
        raise ValueError("no module names given")
    for name in names:
        if "," in name or " " in name:
            raise ValueError(f"invalid module name {name!r}")
    return ",".join(names)


@dataclass
class OdooCommand:
    """Builds argv lists for the deployment's odoo executable.

    ``conf`` and ``database`` are as seen where Odoo runs (inside the
    container for compose deployments).
    """

    executable: Sequence[str] = field(default_factory=lambda: ["odoo"])
    conf: str | None = None
    database: str | None = None
    extra: Sequence[str] = ()

    def _base(self, subcommand: str | None = None, database: str | None = None) -> list[str]:
        argv = list(self.executable)
        if subcommand:
            argv.append(subcommand)
        if self.conf:
            argv += ["-c", self.conf]
        db = database or self.database
        if db:
            argv += ["-d", db]
        return argv + list(self.extra)

    def version(self) -> list[str]:
        return [*self.executable, "--version"]

    def install(
        self,
        modules: Iterable[str],
        *,
        without_demo: bool = False,
        database: str | None = None,
        log_level: str | None = None,
    ) -> list[str]:
        argv = self._base(database=database) + ["-i", _names(modules)]
        if without_demo:
            argv.append("--without-demo=all")
        if log_level:
            argv.append(f"--log-level={log_level}")
        return argv + ["--stop-after-init", "--no-http"]

    def update(
        self, modules: Iterable[str], *, database: str | None = None, log_level: str | None = None
    ) -> list[str]:
        argv = self._base(database=database) + ["-u", _names(modules)]
        if log_level:
            argv.append(f"--log-level={log_level}")
        return argv + ["--stop-after-init", "--no-http"]

    def shell(self, *, database: str | None = None) -> list[str]:
        return self._base("shell", database) + ["--no-http"]

    def neutralize(self, *, database: str | None = None) -> list[str]:
        return self._base("neutralize", database)

    def server(self, *, database: str | None = None) -> list[str]:
        return self._base(database=database)
