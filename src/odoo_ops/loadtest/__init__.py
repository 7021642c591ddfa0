"""Bounded load tests against the deployment's own URL (``odoo-ops loadtest``)."""

from odoo_ops.loadtest.engine import (
    LoadTestOptions,
    LoadTestResult,
    RouteStats,
    check_target_host,
    percentile,
    run_loadtest,
    save_result,
)

__all__ = [
    "LoadTestOptions",
    "LoadTestResult",
    "RouteStats",
    "check_target_host",
    "percentile",
    "run_loadtest",
    "save_result",
]
