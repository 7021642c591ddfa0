"""Health monitoring (``odoo-ops health``): probes, the watcher, metrics."""

from odoo_ops.health.probes import HealthReport, ProbeContext, ProbeResult, run_probes
from odoo_ops.health.watch import AlertPolicy, Event, Watcher, append_history, watch

__all__ = [
    "AlertPolicy",
    "Event",
    "HealthReport",
    "ProbeContext",
    "ProbeResult",
    "Watcher",
    "append_history",
    "run_probes",
    "watch",
]
