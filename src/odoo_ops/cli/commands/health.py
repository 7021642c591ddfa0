"""``odoo-ops health``: is it up? ``--watch`` keeps probing and pages someone."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from odoo_ops.health.probes import HealthReport
    from odoo_ops.health.watch import Event
    from odoo_ops.notify import Delivery
    from odoo_ops.report import Table

from odoo_ops.cli.common import App, deployment_options, pass_app
from odoo_ops.errors import OpsError


def _table(report: HealthReport) -> Table:
    from odoo_ops.report import Table

    table = Table(["probe", "status", "message", "required"], title=f"health: {report.deployment}")
    for p in report.probes:
        table.add(p.name, p.status, p.message, p.required)
    c = report.counts()
    table.notes.append(
        f"{'healthy' if report.healthy else 'UNHEALTHY'}: {c['ok']} ok, {c['warn']} warnings,"
        f" {c['fail']} failing, {c['skip']} skipped"
    )
    table.data = report
    return table


@click.command("health")
@deployment_options
@click.option("--watch", is_flag=True, help="Probe every --interval until interrupted.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    help="Seconds between rounds (default: [health] interval, 60).",
)
@click.option(
    "--failures",
    type=click.IntRange(min=1),
    help="Consecutive failures before an alert (default: [health], 3).",
)
@click.option(
    "--cooldown",
    type=click.FloatRange(min=0),
    help="Seconds before re-alerting a probe that recovered (default 900).",
)
@click.option(
    "--max-rounds", type=click.IntRange(min=1), hidden=False, help="Stop --watch after N rounds."
)
@click.option("--probe", "probes", multiple=True, metavar="NAME", help="Run only these probes.")
@click.option(
    "--metrics-textfile",
    type=click.Path(dir_okay=False),
    help="Write Prometheus metrics to FILE (node_exporter textfile collector).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve Prometheus /metrics on this port (with --watch).",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_app
def command(
    app: App,
    watch: bool,
    interval: float | None,
    failures: int | None,
    cooldown: float | None,
    max_rounds: int | None,
    probes: tuple[str, ...],
    metrics_textfile: str | None,
    metrics_port: int | None,
    metrics_host: str,
    fmt: str,
) -> int:
    """Probe the deployment: process, database, disk, memory, /web/health, login
    page, websocket, Redis, cron lag, services, latency.

    One-shot: prints the results; exit 0 when nothing fails, 1 otherwise. With
    --watch: alerts through the [notifications] apprise URLs after N
    consecutive failures (once), then a recovery message; a notification that
    cannot be delivered is logged and never stops the watcher.
    """
    from odoo_ops.health import AlertPolicy, ProbeContext, Watcher, append_history, run_probes
    from odoo_ops.health import watch as watch_loop
    from odoo_ops.health.metrics import HealthMetrics
    from odoo_ops.health.probes import PROBES
    from odoo_ops.notify import notify

    target = app.target()
    config = target.project.config
    known = {name for name, _ in PROBES} | {f"service:{s.name}" for s in config.services}
    for name in probes:
        if name not in known:
            raise click.BadParameter(
                f"unknown probe {name!r} (probes: {', '.join(sorted(known))})", param_hint="--probe"
            )
    ctx = ProbeContext(target)
    only = set(probes) or None
    textfile = metrics_textfile or config.health.metrics_textfile
    metrics = HealthMetrics() if (textfile or metrics_port) else None
    history = target.state_dir / "health" / "history.jsonl"
    textfile_path = target.project.path(textfile) if textfile else None
    if textfile_path is not None:
        from odoo_ops.fileutil import check_output_path

        check_output_path(textfile_path)  # its directory must exist: never created here

    def one_round() -> HealthReport:
        report = run_probes(ctx, only=only)
        if metrics:
            metrics.update(report)
            if textfile_path is not None:
                try:
                    metrics.write_textfile(textfile_path)
                except OpsError as exc:
                    if not watch:
                        raise
                    app.warn(exc.message)  # a full disk must not stop the watcher
        try:
            append_history(history, report)
        except OSError as exc:
            app.warn(f"cannot record health history in {history}: {exc.strerror}")
        return report

    if not watch:
        report = one_round()
        app.render(_table(report), fmt)
        return 0 if report.healthy else 1

    if metrics and metrics_port:
        metrics.serve(metrics_port, metrics_host)
        app.info(f"metrics on http://{metrics_host}:{metrics_port}/metrics")
    policy = AlertPolicy(
        failures_before_alert=failures or config.health.failures_before_alert,
        cooldown=config.health.cooldown if cooldown is None else cooldown,
    )
    urls = list(config.notifications.urls)
    if not urls:
        app.warn("no [notifications] urls: failures are shown here but nobody is paged")

    def send(title: str, body: str, level: str) -> list[Delivery]:
        return notify(urls, title, body, level=level)

    def on_round(report: HealthReport, events: list[Event], deliveries: list[Delivery]) -> None:
        failing = [p.name for p in report.probes if p.status == "fail"]
        state = "healthy" if report.healthy else "FAILING: " + ", ".join(failing)
        if fmt == "json":
            from odoo_ops.report import render_json

            app.out(render_json(report).replace("\n", "") + "\n")
        else:
            app.out(f"{report.checked_at} {report.deployment}: {state}")
        for event in events:
            app.info(f"{event.kind}: {event.probe}: {event.message}")
        for d in deliveries:
            if not d.ok:
                app.warn(f"notification to {d.channel} not delivered: {d.error}")

    try:
        watch_loop(
            one_round,
            Watcher(policy),
            send,
            interval=interval or config.health.interval,
            max_rounds=max_rounds,
            on_round=on_round,
        )
    except KeyboardInterrupt:
        app.info("stopped")
    return 0
