"""Prometheus metrics of health rounds: a node_exporter textfile and an HTTP endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from odoo_ops.health.probes import FAIL, OK, WARN, HealthReport

_STATUS_VALUE = {OK: 1.0, WARN: 1.0, FAIL: 0.0}


class HealthMetrics:
    """Gauges updated after each round; rendered in the Prometheus text format."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Gauge

        self.registry = CollectorRegistry()
        labels = ["deployment", "probe"]
        self.up = Gauge(
            "odoo_ops_probe_up",
            "1 when the probe passes, 0 when it fails",
            labels,
            registry=self.registry,
        )
        self.value = Gauge(
            "odoo_ops_probe_value",
            "Measured value of the probe (unit in label)",
            [*labels, "unit"],
            registry=self.registry,
        )
        self.duration = Gauge(
            "odoo_ops_probe_duration_seconds", "Time the probe took", labels, registry=self.registry
        )
        self.healthy = Gauge(
            "odoo_ops_healthy", "1 when no probe fails", ["deployment"], registry=self.registry
        )
        self.last_round = Gauge(
            "odoo_ops_last_round_timestamp_seconds",
            "Unix time of the last health round",
            ["deployment"],
            registry=self.registry,
        )

    def update(self, report: HealthReport) -> None:
        import time

        dep = report.deployment
        for p in report.probes:
            if p.status in _STATUS_VALUE:
                self.up.labels(dep, p.name).set(_STATUS_VALUE[p.status])
            if p.value is not None:
                self.value.labels(dep, p.name, p.unit or "").set(p.value)
            self.duration.labels(dep, p.name).set(p.duration)
        self.healthy.labels(dep).set(1.0 if report.healthy else 0.0)
        self.last_round.labels(dep).set(time.time())

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()

    def write_textfile(self, path: str | Path) -> None:
        """Atomically write the metrics for node_exporter's textfile collector.

        The directory must exist; a link, FIFO or device at ``path`` is refused
        and a write error raised (:func:`odoo_ops.fileutil.write_output`).
        """
        from odoo_ops.fileutil import write_output

        write_output(path, self.text())

    def serve(self, port: int, host: str = "127.0.0.1") -> Any:
        """Serve /metrics on host:port (loopback by default); returns the server."""
        from prometheus_client import start_http_server

        from odoo_ops.errors import OpsError

        try:
            return start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise OpsError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}",
                hint="choose another --metrics-port (or --metrics-host)",
            ) from None
