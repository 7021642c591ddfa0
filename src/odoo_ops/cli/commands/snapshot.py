"""``odoo-ops snapshot``: record what a deployment holds, and compare two records."""

from __future__ import annotations

import click

from odoo_ops.cli.common import App, deployment_options, format_option, pass_app


@click.group("snapshot")
def command() -> None:
    """Snapshots of a deployment (modules, menus, models, actions, crons, config, HTTP)."""


@command.command("create")
@deployment_options
@click.option("--out", "out", type=click.Path(file_okay=False), metavar="DIR",
              help="New or empty directory to write, in an existing one"
                   " (default: snapshots/<deployment>-<UTC time>, created).")
@click.option("--no-crawl", is_flag=True, help="Skip the HTTP sitemap.")
@click.option("--max-depth", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Crawler: link depth from the start pages.")
@click.option("--max-pages", type=click.IntRange(1, 10000), default=50, show_default=True,
              help="Crawler: pages at most.")
@click.option("--time-limit", type=click.FloatRange(0.1, 3600), default=30.0,
              show_default=True, help="Crawler: seconds at most.")
@pass_app
def create_cmd(app: App, out: str | None, no_crawl: bool, max_depth: int, max_pages: int,
               time_limit: float) -> int:
    """Write a snapshot directory that two runs can diff line by line.

    Data files are sorted, carry no timestamp and have secrets masked;
    MANIFEST.md lists every file with its size and sha256.
    """
    import datetime as dt
    from pathlib import Path

    from odoo_ops.cli.commands.audit import scan_for
    from odoo_ops.snapshot import CrawlOptions, create_snapshot

    target = app.target()
    if out:
        directory = Path(out)
    else:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        directory = target.root / "snapshots" / f"{target.name}-{stamp}"
    result = create_snapshot(
        target, directory, scan=scan_for(target),
        crawl=CrawlOptions(not no_crawl, max_depth, max_pages, time_limit),
        on_step=app.info, create_parents=out is None,
    )  # fmt: skip
    for note in result.notes:
        app.info(note)
    app.out(f"snapshot written to {result.directory} ({len(result.files) + 1} files)")
    return 0


@command.command("diff")
@click.argument("a", type=click.Path(exists=True, file_okay=False))
@click.argument("b", type=click.Path(exists=True, file_okay=False))
@format_option()
@click.option("--ci", is_flag=True, help="Exit 1 when anything changed.")
@pass_app
def diff_cmd(app: App, a: str, b: str, fmt: str, ci: bool) -> int:
    """What changed from snapshot A to snapshot B."""
    from pathlib import Path

    from odoo_ops.report.table import Table, to_jsonable
    from odoo_ops.snapshot import diff_snapshots

    result = diff_snapshots(Path(a), Path(b))
    table = Table(["area", "change", "item", "before", "after"], title=f"{a} -> {b}")
    for c in result.changes:
        table.add(c.area, c.change, c.item, c.before, c.after)
    if fmt != "csv":
        if result.missing:
            table.notes.append("not compared (missing in one snapshot): "
                               + ", ".join(result.missing))  # fmt: skip
        table.notes.append(f"{len(result.changes)} change(s)" if result.changes
                           else "no changes")  # fmt: skip
    table.data = {"a": result.a, "b": result.b, "counts": result.counts(),
                  "changes": [to_jsonable(c) for c in result.changes],
                  "missing": result.missing}  # fmt: skip
    app.render(table, fmt)
    return 1 if ci and result.changes else 0
