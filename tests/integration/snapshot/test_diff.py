"""``diff_snapshots`` on hand-written snapshot directories (no database needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from odoo_ops.errors import OpsError
from odoo_ops.snapshot.diff import diff_snapshots


def _snap(root: Path, *, modules: str, menus: list[dict], models: str, crons: str,
          pages: list[dict] | None) -> Path:
    root.mkdir()
    (root / "snapshot.json").write_text("{}")
    (root / "modules.csv").write_text("name,state,latest_version,author,license\n" + modules)
    (root / "menus.json").write_text(json.dumps(menus))
    (root / "models.csv").write_text("model,name,transient\n" + models)
    (root / "crons.csv").write_text("id,name,model,active,interval,module,status\n" + crons)
    if pages is not None:
        (root / "http.json").write_text(json.dumps({"pages": pages}))
    return root


def _menu(mid: int, name: str, action: str | None = None, broken: list[str] | None = None,
          children: list[dict] | None = None) -> dict:
    return {"id": mid, "name": name, "action": action, "active": True,
            "broken": broken or [], "children": children or []}


def test_every_kind_of_change(tmp_path: Path) -> None:
    a = _snap(
        tmp_path / "a",
        modules="base,installed,18.0.1.3,,\nx_a,installed,18.0.1.0,,\nx_b,uninstalled,,,\n"
                "x_c,installed,18.0.1.0,,\nx_d,uninstallable,,,\n",
        menus=[_menu(1, "Root", children=[_menu(2, "Kept", "ir.actions.act_window,5"),
                                          _menu(3, "Fixed", "ir.actions.client,9",
                                                ["client-action-unregistered"]),
                                          _menu(4, "Gone")])],
        models="res.partner,Contact,False\nx_a.old,Old,False\n",
        crons="1,Job,res.partner,True,1 days,base,ok\n2,Old job,x_a.old,True,1 days,x_a,ok\n",
        pages=[{"method": "GET", "path": "/web/login", "status": 200, "location": None},
               {"method": "GET", "path": "/old", "status": 200, "location": None}],
    )
    b = _snap(
        tmp_path / "b",
        modules="base,installed,18.0.1.3,,\nx_a,uninstalled,,,\nx_b,installed,18.0.1.0,,\n"
                "x_c,installed,18.0.1.1,,\nx_d,uninstalled,,,\n",
        menus=[_menu(1, "Root", children=[_menu(2, "Kept", "ir.actions.act_window,5",
                                                ["missing-action"]),
                                          _menu(3, "Fixed", "ir.actions.client,9"),
                                          _menu(5, "New", "ir.actions.act_window,6")])],
        models="res.partner,Contact,False\nx_b.new,New,False\n",
        crons="1,Job,res.partner,False,1 days,base,ok\n3,New job,x_b.new,True,1 hours,x_b,ok\n",
        pages=[{"method": "GET", "path": "/web/login", "status": 503, "location": None},
               {"method": "GET", "path": "/new", "status": 200, "location": None}],
    )
    result = diff_snapshots(a, b)
    got = {(c.area, c.change, c.item) for c in result.changes}
    assert got == {
        ("modules", "removed", "x_a"),
        ("modules", "installed", "x_b"),
        ("modules", "upgraded", "x_c"),
        ("modules", "state", "x_d"),
        ("menus", "broken", "2 Root / Kept"),
        ("menus", "repaired", "3 Root / Fixed"),
        ("menus", "removed", "4 Root / Gone"),
        ("menus", "added", "5 Root / New"),
        ("models", "added", "x_b.new"),
        ("models", "removed", "x_a.old"),
        ("crons", "changed", "Job"),
        ("crons", "removed", "Old job"),
        ("crons", "added", "New job"),
        ("http", "changed", "GET /web/login"),
        ("http", "added", "GET /new"),
        ("http", "removed", "GET /old"),
    }
    upgraded = next(c for c in result.changes if c.change == "upgraded")
    assert (upgraded.before, upgraded.after) == ("18.0.1.0", "18.0.1.1")
    job = next(c for c in result.changes if c.item == "Job")
    assert (job.before, job.after) == ("active=True", "active=False")
    assert result.counts()["menus.broken"] == 1
    assert diff_snapshots(a, a).changes == []


def test_missing_files_and_not_a_snapshot(tmp_path: Path) -> None:
    a = _snap(tmp_path / "a", modules="", menus=[], models="", crons="", pages=None)
    b = _snap(tmp_path / "b", modules="", menus=[], models="", crons="", pages=None)
    (b / "crons.csv").unlink()
    result = diff_snapshots(a, b)
    assert result.changes == [] and result.missing == ["crons.csv"]
    (tmp_path / "c").mkdir()
    with pytest.raises(OpsError, match="not an odoo-ops snapshot"):
        diff_snapshots(a, tmp_path / "c")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("menus.json", '{"not": "a list"}'),
        ("menus.json", '[{"name": "no id"}]'),
        ("menus.json", "[" * 100_000),
        ("menus.json", "not json"),
        ("http.json", '{"pages": [{"method": "GET"}]}'),
        ("http.json", "[]"),
        ("crons.csv", "id,name\n1,x\n"),
        ("modules.csv", "name\nbase\n"),
        ("modules.csv", b"name,state\n\xff\xfe,x\n"),
    ],
)
def test_damaged_snapshot_files_are_one_error(
    tmp_path: Path, name: str, content: str | bytes
) -> None:
    pages = [{"method": "GET", "path": "/", "status": 200}]
    a = _snap(tmp_path / "a", modules="base,installed,18.0.1.3,Odoo,LGPL-3\n", menus=[],
              models="", crons="1,x,res.partner,True,1 days,base,ok\n", pages=pages)  # fmt: skip
    b = _snap(tmp_path / "b", modules="base,installed,18.0.1.3,Odoo,LGPL-3\n", menus=[],
              models="", crons="1,x,res.partner,True,1 days,base,ok\n", pages=pages)  # fmt: skip
    if isinstance(content, bytes):
        (b / name).write_bytes(content)
    else:
        (b / name).write_text(content)
    with pytest.raises(OpsError, match=r"damaged|nested too deep|not valid UTF-8|snapshot file"):
        diff_snapshots(a, b)


def test_a_fifo_in_a_snapshot_does_not_hang(tmp_path: Path) -> None:
    import os

    a = _snap(tmp_path / "a", modules="", menus=[], models="", crons="", pages=None)
    b = _snap(tmp_path / "b", modules="", menus=[], models="", crons="", pages=None)
    (b / "menus.json").unlink()
    os.mkfifo(b / "menus.json")
    assert diff_snapshots(a, b).missing == ["menus.json"]  # not a file: never opened
