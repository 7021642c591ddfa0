"""What odoo-ops reads from pgBackRest and from the user: info JSON, restore times."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from odoo_ops.errors import OpsError, UsageError
from odoo_ops.pitr.pgbackrest import error_line, parse_info
from odoo_ops.pitr.window import Window, parse_time

INFO = [{
    "name": "prod", "status": {"code": 0, "message": "ok"},
    "archive": [{"database": {"id": 1}, "id": "15-1", "min": "000000010000000000000002",
                 "max": "000000010000000000000009"}],
    "backup": [
        {"label": "20261207-100000F_20261207-110000I", "type": "incr",
         "timestamp": {"start": 1796637600, "stop": 1796637660},
         "archive": {"start": "000000010000000000000008", "stop": "000000010000000000000008"},
         "info": {"size": 100, "repository": {"size": 10}}},
        {"label": "20261207-100000F", "type": "full",
         "timestamp": {"start": 1796634000, "stop": 1796634060},
         "archive": {"start": "000000010000000000000003", "stop": "000000010000000000000003"},
         "info": {"size": 1000, "repository": {"size": 100}}},
    ],
}]  # fmt: skip


def test_info_is_read_oldest_first_with_the_wal_range() -> None:
    info = parse_info(json.dumps(INFO), "prod")
    assert [b.type for b in info.backups] == ["full", "incr"]
    assert info.oldest is not None and info.oldest.stop == datetime.fromtimestamp(1796634060, UTC)
    assert info.newest("full") is info.oldest
    assert (info.wal_min, info.wal_max) == ("000000010000000000000002", "000000010000000000000009")
    assert parse_info(json.dumps(INFO), "other").status == "missing stanza path"


@pytest.mark.parametrize("text", ["not json", "{}", json.dumps([{"name": "prod", "backup": [
    {"type": "full", "timestamp": {"start": "x", "stop": None}}]}])])  # fmt: skip
def test_bad_info_is_one_clear_error(text: str) -> None:
    with pytest.raises(OpsError, match="pgbackrest info"):
        parse_info(text, "prod")


def test_error_line_picks_pgbackrest_error() -> None:
    out = "2026 P00 INFO: start\n2026 P00 ERROR: [055]: unable to load info file\nmore"
    assert error_line(out) == "ERROR: [055]: unable to load info file"


def test_times_need_an_offset_and_windows_say_their_bounds() -> None:
    assert parse_time("2026-12-07 10:00:00+00") == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert parse_time("2026-12-07T11:00:00+01:00") == datetime(2026, 12, 7, 10, tzinfo=UTC)
    for bad in ("2026-12-07 10:00:00", "tomorrow", ""):
        with pytest.raises(UsageError):
            parse_time(bad)
    w = Window(datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 7, 11, tzinfo=UTC))
    assert w.contains(datetime(2026, 12, 7, 10, tzinfo=UTC))
    assert not w.contains(datetime(2026, 12, 7, 12, tzinfo=UTC))
    assert w.describe() == "2026-12-07 09:00:00+00 → 2026-12-07 11:00:00+00"
    assert "no backup yet" in Window(None, None).describe()


def test_configuration_doc_names_every_pitr_key() -> None:
    """docs/configuration.md documents every key of [pitr] the schema accepts."""
    from pathlib import Path

    from odoo_ops.config.schema import Pitr

    doc = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text()
    section = doc.split("## `[pitr]`", 1)[1].split("\n## ", 1)[0]
    documented = {
        cell.strip().strip("`")
        for line in section.splitlines() if line.startswith("| `")
        for cell in line.split("|")[1].split(",")
    }  # fmt: skip
    assert set(Pitr.model_fields) == documented
