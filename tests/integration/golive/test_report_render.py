"""`golive report`: Markdown and a self-contained HTML page that renders in
headless Chromium with the verdict and the sign-off table visible."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from odoo_ops.golive import build_board, sign, to_html, to_markdown, write_report
from tests.integration.golive.conftest import target_of

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                 shutil.which("google-chrome")) if p),
    None,
)  # fmt: skip
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`; CI installs it)"
)
NO_GO_RGB = (0xB3, 0x26, 0x1E)  # .verdict.NO-GO background in the report's CSS
NOW = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)


def chromium(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars", *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def png_rows(path: Path, max_rows: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first ``max_rows`` unfiltered rows of an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = ctype = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and ctype in (2, 6)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows)):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(x for j, x in enumerate(line) if bpp == 3 or j % 4 != 3))
        prev = line
    return width, height, rows


@pytest.fixture
def signed_project(golive_project: Path) -> Path:
    path = golive_project / "golive.signoff.toml"
    sign(path, "uat-signed", "Alice <Key User>", "UAT report #12 & annex", NOW)
    sign(path, "scope-frozen", "Bob", None, NOW)
    return golive_project


def test_markdown_and_html_are_written(signed_project: Path) -> None:
    target = target_of(signed_project)
    board = build_board(target)
    written = write_report(board, signed_project / "out")
    md = written.markdown.read_text()
    assert "**Verdict: NO-GO**" in md
    assert "| `uat-signed` User acceptance tests signed by the key users | Alice <Key User> |" in md
    for phase in board.phases:
        assert f"### {phase}" in md
    html = written.html.read_text()
    # self-contained: inline CSS, nothing fetched from elsewhere
    assert "<style>" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html
    # escaped user text
    assert "Alice &lt;Key User&gt;" in html and "#12 &amp; annex" in html
    assert 'id="verdict" class="verdict NO-GO"' in html


def test_go_verdict_renders_green(golive_project: Path) -> None:
    target = target_of(golive_project)
    board = build_board(target)
    board.verdict, board.reasons = "GO", []
    assert 'class="verdict GO">GO<' in to_html(board)
    assert "**Verdict: GO**" in to_markdown(board)


@needs_chromium
def test_report_renders_in_headless_chromium(signed_project: Path, tmp_path: Path) -> None:
    target = target_of(signed_project)
    written = write_report(build_board(target), signed_project / "out")
    url = written.html.resolve().as_uri()
    profile = tmp_path / "chromium-profile"
    dom = chromium(f"--user-data-dir={profile}", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    assert re.search(r'<div id="verdict" class="verdict NO-GO">NO-GO</div>', text)
    signoff = text[
        text.index('<table id="signoff">') : text.index(
            "</table>", text.index('<table id="signoff">')
        )
    ]
    assert "Alice &lt;Key User&gt;" in signoff and "Bob" in signoff and "not signed" in signoff
    shot = tmp_path / "report.png"
    result = chromium(f"--user-data-dir={profile}", f"--screenshot={shot}",
                      "--window-size=1000,700", url)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 10_000
    width, height, rows = png_rows(shot, 140)
    assert (width, height) == (1000, 700)
    # the red NO-GO badge is painted near the top of the page
    red = sum(
        1
        for row in rows
        for i in range(0, len(row) - 2, 3)
        if abs(row[i] - NO_GO_RGB[0]) < 8 and abs(row[i + 1] - NO_GO_RGB[1]) < 8
        and abs(row[i + 2] - NO_GO_RGB[2]) < 8
    )  # fmt: skip
    assert red > 1500, red
    if os.environ.get("GOLIVE_KEEP_SCREENSHOT"):  # to look at it by hand
        shutil.copy(shot, os.environ["GOLIVE_KEEP_SCREENSHOT"])


def test_golive_cli(signed_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from odoo_ops.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([*args, "-C", str(signed_project)])
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return int(code or 0), out.out, out.err

    code, out, err = run("golive", "sign", "go-decision", "--by", "CFO", "--note", "go")
    assert code == 0, err
    assert "go-decision: signed by CFO" in out
    code, out, err = run("golive", "status", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "NO-GO"
    by_id = {s["item"]["id"]: s for s in doc["items"]}
    assert by_id["go-decision"]["signoff"]["by"] == "CFO"
    assert by_id["restore-tested"]["evidence"]["summary"].startswith("no evidence yet")
    assert run("golive", "status", "--gate")[0] == 1
    code, out, err = run("golive", "status", "--format", "csv")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split(",")[:3] == ["phase", "status", "item"]
    assert any("go-decision" in row for row in rows)
    code, out, err = run("golive", "sign", "no-such-item", "--by", "x")
    assert code == 2 and "no go-live item 'no-such-item'" in err
    code, out, err = run("golive", "report")
    assert code == 0, err
    written = signed_project / ".odoo-ops/production/golive"
    assert (written / "golive-report.md").is_file() and (written / "golive-report.html").is_file()
    assert "verdict: NO-GO" in out
