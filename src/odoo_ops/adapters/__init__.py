"""Adapters to the deployment: odoo.conf, database, HTTP, runner, compose.

:class:`Target` builds them from a resolved :class:`~odoo_ops.adapters.project.Project`.
Each accessor either returns an adapter or tells why there is none
(:class:`Unavailable`), so checks can ``skip`` with the reason instead of
crashing.
"""

from odoo_ops.adapters.compose import ComposeFile, ContainerState, parse_compose_ps
from odoo_ops.adapters.database import Database
from odoo_ops.adapters.deployment import Target, Unavailable
from odoo_ops.adapters.http import Http
from odoo_ops.adapters.odoo_cmd import OdooCommand
from odoo_ops.adapters.odoo_conf import OdooConf, parse_odoo_conf, read_odoo_conf
from odoo_ops.adapters.runner import (
    CommandResult,
    ComposeRunner,
    LocalRunner,
    Runner,
    SshRunner,
    run_process,
)

__all__ = [
    "CommandResult",
    "ComposeFile",
    "ComposeRunner",
    "ContainerState",
    "Database",
    "Http",
    "LocalRunner",
    "OdooCommand",
    "OdooConf",
    "Runner",
    "SshRunner",
    "Target",
    "Unavailable",
    "parse_compose_ps",
    "parse_odoo_conf",
    "read_odoo_conf",
    "run_process",
]
