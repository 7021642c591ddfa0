"""``odoo-ops addons``: what addons there are, and in what order they go in.

``list``, ``tree NAME``, ``plan NAMES`` and ``why NAME`` read the addons path
of the deployment (odoo-ops.toml, or discovery) or the one given with
``--addons-path``; explicit options win. With ``--addons-path`` and
``--series`` and no odoo-ops.toml, nothing else is read: the command needs no
configuration, no odoo.conf and no database.

Start-up matters here (``addons plan`` runs in deploy scripts): heavy modules
(rich, psycopg, pydantic, httpx) are imported only when a code path needs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from odoo_ops.cli.common import App, deployment_options, format_option, pass_app, split_names
from odoo_ops.errors import OpsError, UsageError
from odoo_ops.jsondata import render_json_lines

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.addons import Finding, InstallPlan, TreeNode
    from odoo_ops.addons.source import AddonsSource
    from odoo_ops.report.table import Table

F = TypeVar("F", bound=Callable[..., Any])

#: File names of an odoo-ops configuration in a project directory.
_CONFIG_NAMES = ("odoo-ops.toml", ".odoo-ops.toml")
#: Deployment options (``App.options`` keys) that ask for the deployment to be resolved.
_DEPLOYMENT_KEYS = ("deployment", "config_file", "project_dir", "odoo_conf", "database")
_BAD_ENTRIES = {
    "missing": "no such directory",
    "not-a-directory": "not a directory",
    "is-an-addon": "is an addon itself; list the directory that contains it",
}


def _source_options(func: F) -> F:
    """--addons-path, --series, --no-cache plus the deployment options."""
    options = [
        click.option(
            "--addons-path",
            "addons_path",
            multiple=True,
            metavar="DIR[,DIR]",
            help="Addons directories, in Odoo's order (globs and ~ allowed; repeatable). "
            "Default: the deployment's.",
        ),
        click.option(
            "--series",
            metavar="SERIES",
            help="Odoo series (e.g. 18.0). Default: the deployment's, else guessed from versions.",
        ),
        click.option(
            "--no-cache",
            is_flag=True,
            help="Parse every manifest; do not use or update the manifest cache.",
        ),
        format_option(),
    ]
    for option in reversed(options):
        func = option(func)
    return deployment_options(func)


class _AddonsGroup(click.Group):
    """Builds a subcommand only when it is used: defining them all costs start-up time."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            make = _SUBCOMMANDS.get(cmd_name)
            if make is None:
                return None
            self.commands[cmd_name] = make()
        return self.commands[cmd_name]


@click.group("addons", cls=_AddonsGroup)
def command() -> None:
    """Addons on the addons path: list, dependency tree, install plan, why.

    Works on the deployment (odoo-ops.toml or the discovered project), or on
    any directories with --addons-path DIR[,DIR] --series 18.0.
    """


# ---------------------------------------------------------------------------
# resolving what to work on
# ---------------------------------------------------------------------------


def _wants_deployment(app: App) -> bool:
    if any(app.options.get(k) for k in _DEPLOYMENT_KEYS):
        return True
    if os.environ.get("ODOO_OPS_CONFIG"):
        return True
    root = Path.cwd()
    return any((root / name).is_file() for name in _CONFIG_NAMES)


def _load(
    app: App,
    addons_path: Sequence[str],
    series: str | None,
    no_cache: bool,
) -> AddonsSource:
    """The addons to work on (:func:`odoo_ops.addons.source.load_source`); the
    deployment is read unless everything needed was given."""
    from odoo_ops.addons.source import load_source

    notes: list[str] = []
    target: Target | None = None
    explicit = bool(addons_path and series)
    if not explicit or _wants_deployment(app):
        try:
            target = app.target()
        except OpsError as exc:
            if not explicit:
                raise
            # everything needed was given: a broken configuration only costs the database
            notes.append(f"deployment not read: {exc}")
    source = load_source(list(addons_path), series, target, use_cache=not no_cache, notes=notes)
    for entry in source.scan.entries:
        if entry.status in _BAD_ENTRIES:
            app.warn(f"addons path entry {entry.raw}: {_BAD_ENTRIES[entry.status]}")
    return source


def _database_modules(
    app: App, source: AddonsSource
) -> tuple[frozenset[str], frozenset[str]] | None:
    """(installed, known) module names from the deployment's database, or None (+ a note)."""
    if source.target is None:
        source.notes.append("no database configured: installed addons not checked")
        return None
    from odoo_ops.adapters import Unavailable

    try:
        database = source.target.database()
    except Unavailable as exc:
        source.notes.append(f"installed addons not checked: {exc}")
        return None
    from odoo_ops.modules.db import installed_and_known

    try:
        installed, known = installed_and_known(database)
    except OpsError as exc:
        source.notes.append(f"installed addons not checked: {exc}")
        return None
    if not known:
        source.notes.append("the database is not initialised by Odoo: nothing installed")
    return installed, known


# ---------------------------------------------------------------------------
# output helpers
# ---------------------------------------------------------------------------


def _finding_dict(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {"code": f.code, "severity": f.severity, "message": f.message}
    if f.addon:
        out["addon"] = f.addon
    if f.path:
        out["path"] = f.path
    if f.hint:
        out["hint"] = f.hint
    if f.data:
        out["data"] = dict(f.data)
    return out


def _findings_table(findings: Sequence[Finding]) -> Table:
    from odoo_ops.report.table import Table

    table = Table(["severity", "code", "addon", "message"], title="findings")
    for f in findings:
        table.add(f.severity, f.code, f.addon or "", f.message)
    return table


def _emit(
    app: App,
    fmt: str,
    data: dict[str, Any],
    tables: Sequence[Table] | Callable[[], Sequence[Table]],
    notes: Sequence[str],
) -> None:
    """JSON: ``data``; csv: the first table; table/markdown: every non-empty table.

    ``tables`` may be a function, called only when tables are rendered (JSON
    output then never imports the table renderers).
    """
    if fmt == "json":
        app.out(render_json_lines({**data, "notes": list(notes)}))
        return
    built = list(tables() if callable(tables) else tables)
    if fmt == "csv":
        app.render(built[0], "csv")
        for note in notes:
            app.info(f"note: {note}")
        return
    shown = [t for i, t in enumerate(built) if i == 0 or t.rows]
    if shown:
        shown[-1].notes.extend(notes)
    for i, table in enumerate(shown):
        if i and fmt == "markdown":
            app.out("\n")
        app.render(table, fmt)


def _scan_findings(source: AddonsSource) -> list[Finding]:
    """Invalid manifests and bad path entries: reported by every subcommand."""
    from odoo_ops.addons import scan_findings

    keep = ("addons-invalid-manifest", "addons-path-entry")
    return [f for f in scan_findings(source.scan) if f.code in keep]


# ---------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------


def _make_list() -> click.Command:
    """Build ``addons list`` (on first use)."""

    @click.command("list")
    @_source_options
    @click.option(
        "--origin",
        "origins",
        multiple=True,
        type=click.Choice(["core", "oca", "custom"]),
        help="Only addons of this origin (repeatable).",
    )
    @click.option(
        "--check-external",
        is_flag=True,
        help="Check Python dependencies (in --python) and programs (on this host's PATH).",
    )
    @click.option(
        "--python",
        "python_cmd",
        metavar="CMD",
        help="Interpreter that runs Odoo, for --check-external (e.g. "
        "'docker compose exec -T odoo python3'). Default: python3.",
    )
    @pass_app
    def list_addons(
        app: App,
        addons_path: tuple[str, ...],
        series: str | None,
        no_cache: bool,
        fmt: str,
        origins: tuple[str, ...],
        check_external: bool,
        python_cmd: str | None,
    ) -> int:
        """List the addons on the addons path, with every problem found.

        Problems: invalid manifests, missing dependencies, cycles, installable
        False, versions of another series, shadowed addons, bad path entries and,
        with --check-external, missing Python packages and programs. Exit 0 even
        when problems are found (use `odoo-ops check` to gate a deploy).
        """
        import shlex

        from odoo_ops.addons import analyse
        from odoo_ops.report.table import Table

        source = _load(app, addons_path, series, no_cache)
        report = analyse(
            source.scan,
            source.series,
            python_cmd=shlex.split(python_cmd) if python_cmd else None,
            check_python=check_external,
            check_bin=check_external,
        )
        problems: dict[str, list[str]] = {}
        for f in report.findings:
            code = f.code.removeprefix("addons-")
            if f.addon:
                problems.setdefault(f.addon, []).append(code)
            for user in f.data.get("needed_by", ()):
                problems.setdefault(user, []).append(code)
        table = Table(
            ["name", "version", "origin", "installable", "depends", "path", "problems"],
            title=f"addons ({source.series})",
        )
        rows: list[dict[str, Any]] = []
        for name, addon in sorted(source.scan.addons.items()):
            addon_origin = report.origins.get(name, "custom")
            if origins and addon_origin not in origins:
                continue
            codes = sorted(set(problems.get(name, [])))
            table.add(
                name,
                addon.version or "",
                addon_origin,
                addon.installable,
                len(addon.depends),
                str(addon.path.parent),
                codes,
            )
            rows.append(
                {
                    "name": name,
                    "version": addon.version,
                    "origin": addon_origin,
                    "installable": addon.installable,
                    "application": addon.application,
                    "auto_install": addon.auto_install,
                    "depends": list(addon.depends),
                    "path": str(addon.path),
                    "license": addon.license,
                    "author": addon.author,
                    "summary": addon.summary,
                    "external_dependencies": {
                        k: list(v) for k, v in addon.external_dependencies.items()
                    },
                    "problems": codes,
                }
            )
        if not origins:
            for bad in source.scan.invalid:
                table.add(bad.name, "", "", "", "", str(bad.path.parent), ["invalid-manifest"])
        notes = [*source.notes, *report.notes]
        counts = (
            f"{len(source.scan.addons)} addons, {len(source.scan.invalid)} invalid, "
            f"{len(source.scan.shadowed)} shadowed; {len(report.errors)} error(s), "
            f"{len(report.warnings)} warning(s)"
        )
        notes.insert(0, counts)
        data = {
            "series": source.series,
            "entries": [
                {
                    "entry": e.raw,
                    "path": str(e.path),
                    "exists": e.exists,
                    "status": e.status,
                    "addons": e.addon_count,
                }
                for e in source.scan.entries
            ],
            "addons": rows,
            "invalid": [
                {"name": i.name, "path": str(i.path), "error": i.error, "hint": i.hint}
                for i in source.scan.invalid
            ],
            "shadowed": [
                {"name": s.name, "winner": str(s.winner_path), "shadowed": str(s.shadowed_path)}
                for s in source.scan.shadowed
            ],
            "findings": [_finding_dict(f) for f in report.findings],
            "ok": report.ok,
        }
        _emit(app, fmt, data, [table, _findings_table(report.findings)], notes)
        return 0

    return list_addons


# ---------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------


def _make_plan() -> click.Command:
    """Build ``addons plan`` (on first use)."""

    @click.command("plan")
    @click.argument("names", nargs=-1, required=True)
    @_source_options
    @click.option(
        "--installed",
        "installed_opt",
        multiple=True,
        metavar="NAME[,NAME]",
        help="Addons to treat as installed (instead of asking the database).",
    )
    @click.option("--no-db", is_flag=True, help="Do not ask the database what is installed.")
    @pass_app
    def plan(
        app: App,
        names: tuple[str, ...],
        addons_path: tuple[str, ...],
        series: str | None,
        no_cache: bool,
        fmt: str,
        installed_opt: tuple[str, ...],
        no_db: bool,
    ) -> int:
        """Plan the installation of NAMES (separate or comma-separated): waves of `-i`.

        Each wave can be installed with one `odoo -i a,b,c` call; addons already
        installed (when the database is reachable) are skipped; addons Odoo will
        auto-install are listed with the wave that triggers them. Exit 0 when the
        plan can be carried out, 1 when it cannot (unknown addon, missing
        dependency, cycle, not installable).
        """
        from odoo_ops.addons import plan_install

        requested = split_names(names)
        if not requested:
            raise UsageError("no addon named: give NAMES (separate or comma-separated)")
        source = _load(app, addons_path, series, no_cache)
        installed: frozenset[str] = frozenset(split_names(installed_opt))
        known_to_db: frozenset[str] | None = None
        if not installed_opt and not no_db:
            state = _database_modules(app, source)
            if state is not None:
                installed, known_to_db = state
        result = plan_install(
            source.scan, requested, source.series, installed=installed, available_in_db=known_to_db
        )
        unknown = [f.addon for f in result.findings if f.code == "addons-unknown" and f.addon]
        if unknown:
            raise OpsError(
                f"unknown addon{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: not on the "
                f"addons path and not an Odoo {source.series} core addon",
                hint="check the name and --addons-path",
            )
        in_plan = set(result.addons)
        extra = [f for f in _scan_findings(source) if f.addon not in in_plan]
        from odoo_ops.addons import WARNING, Finding

        findings = result.findings + [
            Finding(f.code, WARNING, f.message, f.addon, f.path, f.hint, f.data) for f in extra
        ]
        _emit(app, fmt, _plan_data(result, findings), lambda: _plan_tables(result, findings, fmt),
              _plan_notes(result, source))  # fmt: skip
        return 0 if result.ok else 1

    return plan


def _plan_notes(result: InstallPlan, source: AddonsSource) -> list[str]:
    notes = list(source.notes)
    total = len(result.order)
    notes.insert(
        0,
        f"{total} addon{'s' if total != 1 else ''} to install in {len(result.waves)} "
        f"wave{'s' if len(result.waves) != 1 else ''}"
        + (f", {len(result.installed)} already installed" if result.installed else "")
        + (f", {len(result.auto_installed)} auto-installed" if result.auto_installed else ""),
    )
    return notes


def _plan_data(result: InstallPlan, findings: Sequence[Finding]) -> dict[str, Any]:
    return {
        "series": result.series,
        "requested": list(result.requested),
        "ok": result.ok,
        "waves": [{"wave": w.index, "addons": list(w.addons)} for w in result.waves],
        "installed": list(result.installed),
        "auto_installed": [
            {
                "name": a.name,
                "wave": a.wave,
                "triggers": list(a.triggers),
                "also_installs": list(a.also_installs),
            }
            for a in result.auto_installed
        ],
        "missing": result.missing,
        "core": result.core,
        "addons": [
            {
                "name": a.name,
                "status": a.status,
                "wave": a.wave,
                "core": a.core,
                "origin": a.origin,
                "requested": a.requested,
                "version": a.version,
                "path": str(a.path) if a.path else None,
                "depends": list(a.depends),
                "needed_by": list(a.needed_by),
                "in_database": a.in_database,
            }
            for a in result.addons.values()
        ],
        "findings": [_finding_dict(f) for f in findings],
    }


def _plan_tables(result: InstallPlan, findings: Sequence[Finding], fmt: str) -> list[Table]:
    from odoo_ops.report.table import Table

    if fmt == "csv":
        table = Table(["wave", "addon", "status", "origin", "requested", "needed_by"])
        order = {n: i for i, n in enumerate(result.order)}
        for a in sorted(
            result.addons.values(), key=lambda a: (order.get(a.name, len(order)), a.name)
        ):
            table.add(
                "" if a.wave is None else a.wave, a.name, a.status, a.origin, a.requested,
                list(a.needed_by),
            )  # fmt: skip
        for auto in result.auto_installed:
            table.add(auto.wave, auto.name, "auto-install", "", False, list(auto.triggers))
        return [table]
    waves = Table(["wave", "count", "odoo -i"], title=f"install plan ({result.series})")
    for wave in result.waves:
        waves.add(wave.index, len(wave.addons), ",".join(wave.addons))
    skipped = Table(["addon", "status", "needed by"], title="not installed by the plan")
    for a in result.addons.values():
        if a.status != "planned":
            skipped.add(a.name, a.status, list(a.needed_by) or "requested")
    autos = Table(
        ["wave", "addon", "triggered by", "also installs"], title="auto-installed by Odoo"
    )
    for item in result.auto_installed:
        autos.add(item.wave, item.name, list(item.triggers), list(item.also_installs))
    return [waves, skipped, autos, _findings_table(findings)]


# ---------------------------------------------------------------------------
# tree
# ---------------------------------------------------------------------------


def _require_known(source: AddonsSource, name: str) -> None:
    from odoo_ops.addons import core_addons

    if name in source.scan.addons or name in source.scan.invalid_names:
        return
    if name in core_addons(source.series):
        return
    raise OpsError(
        f"unknown addon {name}: not on the addons path and not an Odoo {source.series} core addon",
        hint="check the name and --addons-path",
    )


def _tree_lines(root: TreeNode) -> list[tuple[str, TreeNode]]:
    """(prefix, node) in display order, with box-drawing prefixes."""
    out: list[tuple[str, TreeNode]] = [("", root)]
    stack: list[tuple[TreeNode, str, bool]] = [
        (c, "", i == len(root.children) - 1) for i, c in enumerate(root.children)
    ][::-1]
    while stack:
        node, indent, last = stack.pop()
        out.append((indent + ("└── " if last else "├── "), node))
        child_indent = indent + ("    " if last else "│   ")
        kids = node.children
        stack.extend(
            (c, child_indent, i == len(kids) - 1) for i, c in reversed(list(enumerate(kids)))
        )
    return out


def _node_label(node: TreeNode) -> str:
    marks = [m for m in (node.status,) if m]
    if node.repeated:
        marks.append("see above")
    if node.cycle:
        marks.append("CYCLE")
    return node.name + (f" ({', '.join(marks)})" if marks else "")


def _make_tree() -> click.Command:
    """Build ``addons tree`` (on first use)."""

    @click.command("tree")
    @click.argument("name")
    @_source_options
    @pass_app
    def tree(
        app: App,
        name: str,
        addons_path: tuple[str, ...],
        series: str | None,
        no_cache: bool,
        fmt: str,
    ) -> int:
        """Show the dependencies of NAME as a tree (each addon expanded once)."""
        from odoo_ops.addons import addon_tree
        from odoo_ops.report.table import Table

        source = _load(app, addons_path, series, no_cache)
        _require_known(source, name)
        root = addon_tree(source.scan, name, source.series)
        findings = _scan_findings(source)
        if fmt == "json":
            data = {
                "series": source.series,
                "tree": root.to_dict(),
                "findings": [_finding_dict(f) for f in findings],
            }
            _emit(app, "json", data, [], source.notes)
            return 0
        if fmt == "table":
            for prefix, node in _tree_lines(root):
                app.out(prefix + _node_label(node))
            for f in findings:
                app.warn(f.message)
            for note in source.notes:
                app.info(f"note: {note}")
            return 0
        table = Table(
            ["depth", "addon", "status", "repeated", "cycle"], title=f"dependencies of {name}"
        )
        if fmt == "markdown":
            lines = [f"## dependencies of {name}", ""]
            for depth, node in root.walk():
                lines.append("  " * depth + f"- {_node_label(node)}")
            app.out("\n".join([*lines, "", *(f"- {n}" for n in source.notes)]).rstrip() + "\n")
            return 0
        for depth, node in root.walk():
            table.add(depth, node.name, node.status, node.repeated, node.cycle)
        _emit(app, "csv", {}, [table], source.notes)
        return 0

    return tree


# ---------------------------------------------------------------------------
# why
# ---------------------------------------------------------------------------


def _make_why() -> click.Command:
    """Build ``addons why`` (on first use)."""

    @click.command("why")
    @click.argument("name")
    @_source_options
    @click.option(
        "--root",
        "roots",
        multiple=True,
        metavar="NAME[,NAME]",
        help="Start the chains at these addons (default: the addons nothing depends on).",
    )
    @pass_app
    def why_cmd(
        app: App,
        name: str,
        addons_path: tuple[str, ...],
        series: str | None,
        no_cache: bool,
        fmt: str,
        roots: tuple[str, ...],
    ) -> int:
        """Explain why NAME is needed: the chains of addons that depend on it."""
        from odoo_ops.addons import why
        from odoo_ops.report.table import Table

        source = _load(app, addons_path, series, no_cache)
        _require_known(source, name)
        root_names = split_names(roots) or None
        answer = why(source.scan, name, root_names)
        table = Table(["root", "length", "chain"], title=f"why {name}")
        for chain in answer.chains:
            table.add(chain[0], len(chain) - 1, " -> ".join(chain))
        notes = list(source.notes)
        if not answer.dependents:
            notes.insert(0, f"no addon on the addons path depends on {name}")
        else:
            notes.insert(
                0,
                f"{len(answer.direct)} addon(s) depend on {name} directly, "
                f"{len(answer.dependents)} in all",
            )
        data = {
            "name": answer.name,
            "series": source.series,
            "direct": list(answer.direct),
            "dependents": list(answer.dependents),
            "chains": [list(c) for c in answer.chains],
        }
        _emit(app, fmt, data, [table], notes)
        return 0

    return why_cmd


_SUBCOMMANDS: dict[str, Callable[[], click.Command]] = {
    "list": _make_list,
    "plan": _make_plan,
    "tree": _make_tree,
    "why": _make_why,
}
