"""``odoo-ops oca sync``: fetch addon repositories, pinned by a lock file."""

from __future__ import annotations

import os
from pathlib import Path

import click

from odoo_ops.cli.common import App, deployment_options, dry_run_option, format_option, pass_app


@click.group("oca")
def command() -> None:
    """OCA (and other git) addon repositories."""


@command.command("sync")
@click.argument("repos", nargs=-1)
@click.option("--update", is_flag=True, help="Move the pins to the branches' current heads.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Repositories fetched in parallel.",
)
@click.option(
    "--repos-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A git-aggregator repos.yaml (default: [oca] repos_file or [[oca.repos]]).",
)
@click.option(
    "--series",
    metavar="X.0",
    help="Odoo series (default branch; default: the deployment's series).",
)
@click.option("--force", is_flag=True, help="Also reset checkouts that have local changes.")
@dry_run_option(help="Print the git commands; change nothing.")
@deployment_options
@format_option("table", "json")
@pass_app
def sync_cmd(
    app: App,
    repos: tuple[str, ...],
    update: bool,
    jobs: int,
    repos_file: Path | None,
    series: str | None,
    force: bool,
    dry_run: bool,
    fmt: str,
) -> int:
    """Clone/fetch the repositories (shallow, in parallel) and write the lock file.

    Without --update the lock file is reproduced exactly: every repository is
    checked out at its locked commit. REPOS limits the sync to those names.
    Exit code 1 when a repository failed.
    """
    from odoo_ops.errors import OpsError
    from odoo_ops.oca import load_specs, sync_oca
    from odoo_ops.report.table import Table, render_json

    project = app.project()
    config = project.config.oca
    chosen_series = series or project.deployment.series
    specs = load_specs(config, project.root, chosen_series, dict(os.environ), repos_file)
    lock_file = project.root / config.lock_file
    own = {s.path.resolve() for s in specs}
    extra = [Path(p) for p in (project.deployment.addons_paths or [])]
    extra_paths = [project.path(p) for p in extra]
    extra_paths = [p for p in extra_paths if p.resolve() not in own and p.is_dir()]

    def on_repo(repo: object) -> None:
        from odoo_ops.oca.sync import RepoResult

        assert isinstance(repo, RepoResult)
        if not dry_run:
            state = repo.action if repo.ok else f"FAILED: {repo.error}"
            app.info(f"{repo.name}: {state}" + (f" at {repo.head[:12]}" if repo.head else ""))

    result = sync_oca(
        specs, root=project.root, lock_file=lock_file, series=chosen_series, update=update,
        force=force, dry_run=dry_run, jobs=jobs, only=list(repos), extra_paths=extra_paths,
        on_repo=on_repo,
    )  # fmt: skip
    if fmt == "json":
        app.out(render_json(result.as_dict()))
    elif dry_run:
        for repo in result.repos:
            app.out(f"# {repo.name} -> {repo.path}")
            for line in repo.commands:
                app.out(line)
    else:
        table = Table(
            ["repository", "path", "action", "commit", "notes"],
            title=f"oca sync ({'update' if update else 'from lock'})",
        )
        for repo in result.repos:
            table.add(
                repo.name,
                repo.path,
                repo.action if repo.ok else "failed",
                (repo.head or "")[:12],
                "; ".join([*repo.notes, *([repo.error] if repo.error else [])]),
            )
        for c in result.collisions:
            table.notes.append(
                f"addon {c.addon} is in several repositories: {', '.join(c.repos)}"
                " (the first on the addons path wins)"
            )
        for m in result.missing:
            table.notes.append(
                f"dependency {m.dependency} is provided by no synced repository"
                f" (needed by {', '.join(m.needed_by)})"
            )
        if result.dropped:
            table.notes.append(
                "dropped from the lock (no longer configured): " + ", ".join(result.dropped)
            )
        table.notes.append(f"{result.addons} addon(s); lock file: {result.lock_file}")
        app.render(table, "table")
    if not result.ok:
        failed = [r.name for r in result.repos if not r.ok]
        raise OpsError(
            f"{len(failed)} repository(ies) failed: {', '.join(failed)}",
            hint="the lock file keeps their previous pins",
        )
    return 0
