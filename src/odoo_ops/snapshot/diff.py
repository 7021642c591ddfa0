"""``snapshot diff A B``: what changed between two snapshots.

Modules installed, removed, upgraded (``latest_version``) or changed state;
menus added, removed, newly broken or repaired; models added or removed; crons
added, removed or changed; HTTP statuses that changed. Reads only the data
files, so snapshots of different machines compare as well.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.errors import OpsError
from odoo_ops.inputs import MiB, parse_guard, read_input_text

#: A snapshot's data files are odoo-ops' own output, but snapshots are copied
#: between machines: each is read bounded, as any file from elsewhere.
SNAPSHOT_FILE_LIMIT = 64 * MiB


@dataclass
class Change:
    area: str  # modules | menus | models | crons | http
    change: str  # installed | removed | upgraded | state | added | broken | repaired | changed
    item: str
    before: str | None = None
    after: str | None = None


@dataclass
class SnapshotDiff:
    a: str
    b: str
    changes: list[Change] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            key = f"{c.area}.{c.change}"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))


def _read(path: Path) -> str:
    return read_input_text(path, kind="snapshot file", limit=SNAPSHOT_FILE_LIMIT)


def _read_json(path: Path) -> Any:
    text = _read(path)
    with parse_guard(str(path), "snapshot file"):
        return json.loads(text)


def _read_csv(path: Path) -> list[dict[str, str]]:
    import io

    return list(csv.DictReader(io.StringIO(_read(path), newline="")))


def _check(directory: Path) -> None:
    if not (directory / "snapshot.json").is_file():
        raise OpsError(f"{directory} is not an odoo-ops snapshot (no snapshot.json)")


def _menus(path: Path) -> dict[int, tuple[str, str | None, tuple[str, ...]]]:
    out: dict[int, tuple[str, str | None, tuple[str, ...]]] = {}

    def walk(nodes: list[dict[str, Any]], prefix: str) -> None:
        for n in nodes:
            label = f"{prefix}{n.get('name') or '?'}"
            out[int(n["id"])] = (label, n.get("action"), tuple(n.get("broken") or ()))
            walk(n.get("children") or [], label + " / ")

    walk(_read_json(path), "")
    return out


def diff_snapshots(a: Path, b: Path) -> SnapshotDiff:
    a, b = Path(a), Path(b)
    _check(a)
    _check(b)
    result = SnapshotDiff(str(a), str(b))
    try:
        _diff(a, b, result)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, csv.Error) as exc:
        # ValueError covers bad JSON and numbers; the others a file of another shape
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise OpsError(
            f"snapshot {a} or {b} is damaged or not an odoo-ops snapshot: {what[:200]}",
            hint="compare two directories written by `odoo-ops snapshot create`",
        ) from None
    return result


def _diff(a: Path, b: Path, result: SnapshotDiff) -> None:
    add = result.changes.append

    def both(name: str) -> bool:
        ok = (a / name).is_file() and (b / name).is_file()
        if not ok:
            result.missing.append(name)
        return ok

    if both("modules.csv"):
        ma = {r["name"]: r for r in _read_csv(a / "modules.csv")}
        mb = {r["name"]: r for r in _read_csv(b / "modules.csv")}
        inst = ("installed", "to upgrade", "to remove")
        for name in sorted(set(ma) | set(mb)):
            ra, rb = ma.get(name), mb.get(name)
            sa = ra["state"] if ra else None
            sb = rb["state"] if rb else None
            if sa not in inst and sb in inst:
                add(Change("modules", "installed", name, sa, rb["latest_version"] if rb else None))
            elif sa in inst and sb not in inst:
                add(Change("modules", "removed", name, ra["latest_version"] if ra else None, sb))
            elif ra and rb and sa in inst and ra["latest_version"] != rb["latest_version"]:
                add(Change("modules", "upgraded", name, ra["latest_version"],
                           rb["latest_version"]))
            elif sa != sb:
                add(Change("modules", "state", name, sa, sb))
    if both("menus.json"):
        na, nb = _menus(a / "menus.json"), _menus(b / "menus.json")
        for mid in sorted(set(na) | set(nb)):
            va, vb = na.get(mid), nb.get(mid)
            if va is None and vb is not None:
                add(Change("menus", "added", f"{mid} {vb[0]}", None, vb[1]))
                if vb[2]:
                    add(Change("menus", "broken", f"{mid} {vb[0]}", None, ", ".join(vb[2])))
            elif vb is None and va is not None:
                add(Change("menus", "removed", f"{mid} {va[0]}", va[1], None))
            elif va is not None and vb is not None:
                if vb[2] and not va[2]:
                    add(Change("menus", "broken", f"{mid} {vb[0]}", None, ", ".join(vb[2])))
                elif va[2] and not vb[2]:
                    add(Change("menus", "repaired", f"{mid} {vb[0]}", ", ".join(va[2]), None))
                if va[0] != vb[0] or va[1] != vb[1]:
                    add(Change("menus", "changed", str(mid), f"{va[0]} -> {va[1]}",
                               f"{vb[0]} -> {vb[1]}"))
    if both("models.csv"):
        oa = {r["model"] for r in _read_csv(a / "models.csv")}
        ob = {r["model"] for r in _read_csv(b / "models.csv")}
        for m in sorted(ob - oa):
            add(Change("models", "added", m))
        for m in sorted(oa - ob):
            add(Change("models", "removed", m))
    if both("crons.csv"):
        ca = {r["name"]: r for r in _read_csv(a / "crons.csv")}
        cb = {r["name"]: r for r in _read_csv(b / "crons.csv")}
        for name in sorted(set(ca) | set(cb)):
            ra, rb = ca.get(name), cb.get(name)
            if ra is None:
                add(Change("crons", "added", name))
            elif rb is None:
                add(Change("crons", "removed", name))
            else:
                fa = {k: ra[k] for k in ("model", "active", "interval", "module", "status")}
                fb = {k: rb[k] for k in fa}
                if fa != fb:
                    diff = sorted(k for k in fa if fa[k] != fb[k])
                    add(Change("crons", "changed", name, ", ".join(f"{k}={fa[k]}" for k in diff),
                               ", ".join(f"{k}={fb[k]}" for k in diff)))
    if (a / "http.json").is_file() and (b / "http.json").is_file():
        pa = {(p["method"], p["path"]): p for p in _read_json(a / "http.json")["pages"]}
        pb = {(p["method"], p["path"]): p for p in _read_json(b / "http.json")["pages"]}
        for key in sorted(set(pa) & set(pb)):
            sa, sb = pa[key]["status"], pb[key]["status"]
            if sa != sb or pa[key].get("location") != pb[key].get("location"):
                add(Change("http", "changed", f"{key[0]} {key[1]}",
                           f"{sa} {pa[key].get('location') or ''}".strip(),
                           f"{sb} {pb[key].get('location') or ''}".strip()))
        for key in sorted(set(pb) - set(pa)):
            add(Change("http", "added", f"{key[0]} {key[1]}", None, str(pb[key]["status"])))
        for key in sorted(set(pa) - set(pb)):
            add(Change("http", "removed", f"{key[0]} {key[1]}", str(pa[key]["status"]), None))
