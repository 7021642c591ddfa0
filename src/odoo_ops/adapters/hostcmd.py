"""Commands run on the host where Odoo lives (not inside the Odoo container).

``docker compose stop odoo``, ``systemctl stop odoo`` and the like run on the
host: here for ``local`` and ``compose`` deployments, through ``ssh`` for
``ssh`` deployments (in the deployment's ``remote_dir``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from odoo_ops.adapters.runner import (
    CommandResult,
    ComposeRunner,
    LocalRunner,
    SshRunner,
    run_process,
)

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


def host_argv(target: Target, argv: Sequence[str]) -> list[str]:
    """``argv`` as run from this machine on the Odoo host."""
    dep = target.deployment
    if dep.runner == "ssh":
        assert dep.ssh_host
        ssh = SshRunner(
            dep.ssh_host,
            LocalRunner(),
            remote_dir=dep.remote_dir,
            options=dep.ssh_options,
            connect_timeout=dep.connect_timeout,
        )
        return ssh.wrap(argv)
    return list(argv)


def run_on_host(target: Target, argv: Sequence[str], *, timeout: float = 300.0) -> CommandResult:
    full = host_argv(target, argv)
    cwd = target.root if target.deployment.runner != "ssh" else None
    return run_process(full, timeout=timeout, cwd=cwd)


def compose_runner(target: Target) -> ComposeRunner | None:
    """The compose runner of the deployment (also behind ssh), if it uses compose."""
    runner = target.runner()
    if isinstance(runner, ComposeRunner):
        return runner
    if isinstance(runner, SshRunner) and isinstance(runner.inner, ComposeRunner):
        return runner.inner
    return None
