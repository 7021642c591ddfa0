"""``snapshot create``: a directory of artifacts two runs can diff line by line.

Every data file is sorted and stable, holds no timestamp of the snapshot
itself, and has its secrets masked (``***``): ``database.secret``, passwords,
tokens, DSN passwords, odoo.conf ``admin_passwd``/``db_password``. The files:

=====================  ================================================================
``snapshot.json``      format, odoo-ops version, deployment, database, series, schema
``git.txt``            HEAD, branch and ``git status --porcelain`` of the project
``addons-path.txt``    each addons-path entry, its status, and the addons in it
``modules.csv``        every module: name, state, latest_version, author, license
``menus.json``         the menu tree: names, actions, active, broken flags
``models.csv``         models: model, name, transient
``actions.json``       window, client, server, report and URL actions
``crons.csv``          crons: name, model, active, interval, module, status
``config.json``        deployment settings, odoo.conf options, ir_config_parameter
``http.json``          crawl: path, method, status, redirect, content type, depth
``http-timings.csv``   crawl: seconds per path (the only volatile file)
``MANIFEST.md``        every file above with its size and sha256
=====================  ================================================================

The directory is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.audit.base import audit_session
from odoo_ops.audit.findings import run, stream
from odoo_ops.errors import OpsError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.secrets import MASK, is_secret_name, redact_mapping, redact_url

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.addons import AddonsScan
    from odoo_ops.snapshot.crawler import CrawlResult

FORMAT = 1
#: ir_config_parameter keys whose value is a secret even though the name does not say so.
SECRET_PARAMS = frozenset({"database.secret", "database.uuid", "database.enterprise_code"})


@dataclass
class CrawlOptions:
    enabled: bool = True
    max_depth: int = 2
    max_pages: int = 50
    time_limit: float = 30.0


@dataclass
class SnapshotResult:
    directory: Path
    files: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (size, sha256)
    notes: list[str] = field(default_factory=list)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def mask_urls(value: Any) -> Any:
    """Mask the secrets of every URL/DSN inside ``value`` (``redis://:pw@host``,
    ``host=db password='x'``)."""
    if isinstance(value, dict):
        return {k: mask_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_urls(v) for v in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


def param_value(key: str, value: str) -> str:
    if key in SECRET_PARAMS or is_secret_name(key):
        return MASK
    return str(mask_urls(value))


def git_state(root: Path) -> str:
    from odoo_ops.adapters import run_process

    def git(*args: str) -> tuple[int, str]:
        res = run_process(["git", "-C", str(root), *args], timeout=30)
        return res.returncode, res.output.strip()

    try:
        code, head = git("rev-parse", "HEAD")
    except OpsError as exc:
        return f"git not available: {exc.message}\n"
    if code != 0:
        return "not a git repository\n"
    _, branch = git("rev-parse", "--abbrev-ref", "HEAD")
    _, status = git("status", "--porcelain", "--untracked-files=normal")
    lines = sorted(line for line in status.splitlines() if line.strip())
    out = [f"head: {head}", f"branch: {branch}", f"changes: {len(lines)}"]
    out += [f"  {line}" for line in lines]
    return "\n".join(out) + "\n"


def addons_listing(scan: AddonsScan | None) -> str:
    if scan is None:
        return "no addons path\n"
    out: list[str] = []
    by_dir: dict[str, list[str]] = {}
    for name, addon in scan.addons.items():
        by_dir.setdefault(str(Path(addon.path).parent), []).append(
            f"  {name} {addon.version or '-'}")
    for sh in scan.shadowed:
        by_dir.setdefault(str(Path(sh.shadowed_path).parent), []).append(
            f"  {sh.name} (shadowed by {sh.winner_path})")
    for inv in scan.invalid:
        by_dir.setdefault(str(Path(inv.path).parent), []).append(f"  {inv.name} (invalid)")
    for entry in scan.entries:
        out.append(f"{entry.raw} -> {entry.path} [{entry.status}, {entry.addon_count} addons]")
        out.extend(sorted(by_dir.get(str(entry.path), [])))
    return "\n".join(out) + "\n"


def _menus(s: Any, broken: dict[int, list[str]]) -> list[dict[str, Any]]:
    name = s.schema.text("ir_ui_menu", "name", "m")
    nodes: dict[int, dict[str, Any]] = {}
    order: list[tuple[int, int | None, int]] = []
    for mid, parent, seq, mname, action, active in stream(
        s.cur, f"SELECT m.id, m.parent_id, m.sequence, {name}, m.action, m.active"
        " FROM ir_ui_menu m ORDER BY m.id",
    ):  # fmt: skip
        nodes[mid] = {"id": mid, "name": mname, "action": action or None,
                      "active": bool(active), "broken": sorted(broken.get(mid, [])),
                      "children": []}  # fmt: skip
        order.append((mid, parent, seq or 0))
    roots: list[dict[str, Any]] = []
    for mid, parent, _seq in order:
        if parent is not None and parent in nodes:
            nodes[parent]["children"].append(nodes[mid])
        else:
            if parent is not None:
                nodes[mid]["broken"] = sorted({*nodes[mid]["broken"], "missing-parent"})
            roots.append(nodes[mid])
    seqs = {mid: seq for mid, _p, seq in order}

    def sort(items: list[dict[str, Any]]) -> None:
        items.sort(key=lambda n: (seqs[n["id"]], n["id"]))
        for n in items:
            sort(n["children"])

    sort(roots)
    return roots


def _actions(s: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    specs = {
        "window": ("ir_act_window", ["res_model", "view_mode", "target"]),
        "client": ("ir_act_client", ["tag", "target"]),
        "server": ("ir_act_server", ["model_name", "state", "usage"]),
        "report": ("ir_act_report_xml", ["model", "report_name", "report_type"]),
        "url": ("ir_act_url", ["url", "target"]),
    }
    for kind, (table, cols) in specs.items():
        if not s.schema.has(table):
            continue
        name = s.schema.text(table, "name", "a")
        present = [c for c in cols if s.schema.has(table, c)]
        sel = ", ".join(f"a.{c}" for c in present)
        rows = []
        for row in stream(s.cur, f"SELECT a.id, {name}, {sel} FROM {table} a ORDER BY a.id"):
            rows.append({"id": row[0], "name": row[1], **dict(zip(present, row[2:], strict=True))})
        out[kind] = rows
    return out


def create_snapshot(
    target: Target, out_dir: Path, *, scan: AddonsScan | None, crawl: CrawlOptions,
    on_step: Callable[[str], None] | None = None, create_parents: bool = True,
) -> SnapshotResult:
    """Write the snapshot of ``target`` to ``out_dir`` (which must not exist or be empty).

    A link, file, FIFO or device at ``out_dir`` is refused; so is a missing
    parent directory when not ``create_parents`` (a directory the user named).
    """
    from odoo_ops import __version__
    from odoo_ops.audit.broken import audit_broken
    from odoo_ops.audit.crons import audit_crons
    from odoo_ops.fileutil import check_output_path, show_path

    step = on_step or (lambda _msg: None)
    out_dir, existing = check_output_path(out_dir, create_parents=create_parents, directory=True)
    shown = show_path(out_dir)
    try:
        if existing is not None and any(out_dir.iterdir()):
            raise OpsError(f"{shown} already exists and is not empty",
                           hint="choose another --out directory")  # fmt: skip
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name[:32]}.", dir=out_dir.parent))
    except OSError as exc:
        raise OpsError(f"cannot write {shown}: {exc.strerror}; nothing written") from None
    redact = target.redactor
    files: dict[str, str] = {}
    notes: list[str] = []
    try:
        db = target.database()
        step("auditing the database")
        broken = audit_broken(db, scan, series=target.series)
        crons = audit_crons(db, series=target.series)
        flags: dict[int, list[str]] = {}
        for f in broken.findings:
            if f.kind in ("menu-missing-action", "menu-missing-parent"):
                flags.setdefault(f.record["menu_id"], []).append(f.kind.removeprefix("menu-"))
            for mid in f.record.get("menus", []) if isinstance(f.record, dict) else []:
                flags.setdefault(mid, []).append(f.kind)
        step("reading modules, menus, models, actions, parameters")
        with audit_session(db, series=target.series) as s:
            meta = {"format": FORMAT, "odoo_ops": __version__, "deployment": target.name,
                    "database": s.database, "series": s.series,
                    "schema_version": s.schema.version}  # fmt: skip
            files["snapshot.json"] = _json(meta)
            files["modules.csv"] = _csv(
                ["name", "state", "latest_version", "author", "license"],
                [list(r) for r in stream(s.cur, "SELECT name, state, latest_version, author,"
                                         " license FROM ir_module_module ORDER BY name")],
            )  # fmt: skip
            files["menus.json"] = _json(_menus(s, flags))
            mname = s.schema.text("ir_model", "name", "m")
            files["models.csv"] = _csv(
                ["model", "name", "transient"],
                [[m, n, bool(t)] for m, n, t in stream(
                    s.cur, f"SELECT m.model, {mname}, m.transient FROM ir_model m"
                    " ORDER BY m.model")],
            )  # fmt: skip
            files["actions.json"] = _json(_actions(s))
            params = {}
            if s.schema.has("ir_config_parameter"):
                params = {str(k): param_value(str(k), str(v)) for k, v in run(
                    s.cur, "SELECT key, value FROM ir_config_parameter ORDER BY key")}
        files["crons.csv"] = _csv(
            ["id", "name", "model", "active", "interval", "module", "status"],
            [[r.id, r.name, r.model, r.active, r.interval, r.module,
              "ok" if r.status == "overdue" else r.status] for r in crons.rows],
        )  # fmt: skip
        try:
            conf = target.conf if target.odoo_conf_path else None
        except OpsError as exc:
            conf = None
            notes.append(f"odoo.conf not read: {exc.message}")
        config = {
            "deployment": redact_mapping(target.deployment.model_dump()),
            "odoo_conf": redact_mapping(dict(sorted(conf.raw.items()))) if conf else None,
            "parameters": params,
        }
        files["config.json"] = _json(mask_urls(config))
        step("reading the project")
        files["git.txt"] = git_state(target.root)
        files["addons-path.txt"] = addons_listing(scan)
        if crawl.enabled and target.deployment.base_url:
            step(f"crawling {target.deployment.base_url}")
            result = _crawl(target, crawl, extra_paths=_menu_action_paths(files))
            files["http.json"] = _json({
                "base_url": redact_url(result.base_url), "stopped": result.stopped,
                "pages": sorted(
                    ({"path": p.path, "method": p.method, "status": p.status,
                      "location": p.location, "content_type": p.content_type,
                      "depth": p.depth, "error": p.error} for p in result.pages),
                    key=lambda p: (p["path"], p["method"])),
            })  # fmt: skip
            files["http-timings.csv"] = _csv(
                ["path", "seconds"],
                sorted([p.path, f"{p.seconds:.3f}"] for p in result.pages))
            if result.stopped:
                notes.append(f"crawl stopped early: {result.stopped}")
        elif crawl.enabled:
            notes.append("no base_url configured: no HTTP sitemap")
        written: dict[str, tuple[int, str]] = {}
        for name in sorted(files):
            data = redact(files[name]).encode("utf-8")
            atomic_write_text(work / name, data.decode("utf-8"))
            written[name] = (len(data), hashlib.sha256(data).hexdigest())
        manifest = ["# odoo-ops snapshot", "", "| file | size | sha256 |", "|---|---|---|"]
        manifest += [f"| {n} | {size} | {digest} |" for n, (size, digest) in written.items()]
        atomic_write_text(work / "MANIFEST.md", "\n".join(manifest) + "\n")
        os.chmod(work, 0o755)
        _, existing = check_output_path(out_dir, directory=True)  # still what it was?
        try:
            if existing is not None:
                out_dir.rmdir()  # empty, or this fails
            os.replace(work, out_dir)
        except OSError as exc:
            raise OpsError(f"cannot write {shown}: {exc.strerror}; nothing written") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return SnapshotResult(out_dir, written, notes)


def _menu_action_paths(files: dict[str, str]) -> list[str]:
    """``/odoo/action-<id>`` for the window/client actions the menus lead to (18+)."""
    meta = json.loads(files["snapshot.json"])
    if str(meta.get("schema_version")) not in ("18", "19"):
        return []
    out: set[str] = set()

    def walk(nodes: list[dict[str, Any]]) -> None:
        for n in nodes:
            action = n.get("action") or ""
            model, _, rid = action.partition(",")
            if n["active"] and rid.isdigit() and model in ("ir.actions.act_window",
                                                           "ir.actions.client"):
                out.add(f"/odoo/action-{rid}")
            walk(n["children"])

    walk(json.loads(files["menus.json"]))
    return sorted(out)


def _crawl(target: Target, opts: CrawlOptions, extra_paths: list[str]) -> CrawlResult:
    from odoo_ops.snapshot.crawler import DEFAULT_START, crawl

    base = target.deployment.base_url
    assert base
    return crawl(base, [*DEFAULT_START, *extra_paths], max_depth=opts.max_depth,
                 max_pages=opts.max_pages, time_limit=opts.time_limit,
                 timeout=target.deployment.http_timeout)  # fmt: skip
