"""``upgrade plan`` asks a package index whether ``odoo-addon-NAME`` wheels exist for
OCA modules missing from the target path: a real HTTP server on 127.0.0.1, started
here, serves a PyPI-style JSON API and a simple index (PEP 503 HTML, PEP 691 JSON);
a slow project, a broken one and a closed port give "unknown", never a failed plan."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from odoo_ops.upgrade.registry import NO, UNKNOWN, YES, Registry, project_name
from tests.integration.upgrade.conftest import OCA, Project
from tests.support.addons import write_addon

#: project -> its wheel versions on the index
PROJECTS = {
    "odoo-addon-web-ribbon": ["17.0.1.0.0", "18.0.1.0.0", "18.0.1.0.3"],
    "odoo-addon-queue-job": ["17.0.1.2.0"],  # no 18.0 release yet
    "odoo16-addon-legacy-tool": ["16.0.2.0.0"],
}
SLOW = "odoo-addon-slow-module"
BROKEN = "odoo-addon-broken-module"


class Index:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                index.requests.append(self.path)
                parts = [p for p in self.path.split("/") if p]
                if len(parts) < 2 or parts[0] not in ("pypi", "simple"):
                    return self._send(404, b"not found", "text/plain")
                project = parts[1]
                if project == SLOW:
                    time.sleep(3)
                if project == BROKEN:
                    return self._send(503, b"maintenance", "text/plain")
                versions = PROJECTS.get(project)
                if versions is None:
                    return self._send(404, b"not found", "text/plain")
                stem = project.replace("-", "_")
                files = [f"{stem}-{v}-py3-none-any.whl" for v in versions]
                if parts[0] == "pypi":
                    body = {"info": {"name": project},
                            "releases": {v: [{"filename": f}] for v, f in zip(
                                versions, files, strict=True)}}
                    return self._send(200, json.dumps(body).encode(), "application/json")
                if "vnd.pypi.simple.v1+json" in (self.headers.get("Accept") or "") \
                        and project != "odoo-addon-queue-job":
                    body = {"meta": {"api-version": "1.0"}, "name": project,
                            "files": [{"filename": f, "url": f"../../files/{f}"}
                                      for f in files]}
                    return self._send(200, json.dumps(body).encode(),
                                      "application/vnd.pypi.simple.v1+json")
                links = "".join(f'<a href="../../files/{f}#sha256=00">{f}</a><br/>'
                                for f in files)
                html = f"<!DOCTYPE html><html><body>{links}</body></html>"
                return self._send(200, html.encode(), "text/html")

        return Handler


@pytest.fixture
def index() -> Iterator[Index]:
    idx = Index()
    idx.thread.start()
    try:
        yield idx
    finally:
        idx.server.shutdown()
        idx.server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_project_names_follow_oca_packaging() -> None:
    assert project_name("web_ribbon", "18.0") == "odoo-addon-web-ribbon"
    assert project_name("legacy_tool", "16.0") == "odoo16-addon-legacy-tool"


@pytest.mark.parametrize("kind", ["pypi", "simple"])
def test_lookup_answers_yes_no_unknown(index: Index, tmp_path: Path, kind: str) -> None:
    reg = Registry(f"{index.url}/{kind}", timeout=1.0, cache_dir=tmp_path)
    started = time.monotonic()
    got = reg.lookup(["web_ribbon", "queue_job", "no_such_module", "slow_module",
                      "broken_module"], "18.0")
    assert time.monotonic() - started < 2.9  # asked at once, each bounded by the timeout
    assert (got["web_ribbon"].status, got["web_ribbon"].version) == (YES, "18.0.1.0.3")
    assert got["queue_job"].status == NO and "no 18.0 release" in got["queue_job"].detail
    assert got["no_such_module"].status == NO
    assert got["slow_module"].status == UNKNOWN and "Timeout" in got["slow_module"].detail
    assert got["broken_module"].status == UNKNOWN and "503" in got["broken_module"].detail
    assert reg.lookup(["legacy_tool"], "16.0")["legacy_tool"].status == YES

    # yes/no answers are cached per index URL; unknown ones are asked again
    before = len(index.requests)
    again = Registry(f"{index.url}/{kind}", timeout=1.0, cache_dir=tmp_path).lookup(
        ["web_ribbon", "queue_job", "broken_module"], "18.0")
    assert again["web_ribbon"].detail == "cached" and again["web_ribbon"].version == "18.0.1.0.3"
    assert again["queue_job"].status == NO
    assert index.requests[before:] == [
        f"/{kind}/{BROKEN}/" if kind == "simple" else f"/pypi/{BROKEN}/json"]


def test_lookup_offline_is_unknown(tmp_path: Path) -> None:
    reg = Registry(f"http://127.0.0.1:{_closed_port()}/pypi", timeout=1.0, cache_dir=tmp_path)
    got = reg.lookup(["web_ribbon"], "18.0")["web_ribbon"]
    assert got.status == UNKNOWN and "ConnectError" in got.detail
    assert not (tmp_path / "registry").exists() or "web_ribbon" not in "".join(
        p.read_text() for p in (tmp_path / "registry").iterdir())


def _oca_only_on_the_index(project: Project, tmp_path: Path, url: str) -> None:
    """queue_job and web_ribbon (OCA) installed, neither on the 17.0 target path."""
    import shutil

    from tests.support import odoo_schema

    write_addon(tmp_path / "oca16", "queue_job", version="16.0.1.0.0", author=OCA)
    shutil.rmtree(tmp_path / "oca17" / "web_ribbon")
    with project.db.connect() as conn:
        odoo_schema.add_module(conn, "queue_job", state="installed",
                               latest_version="16.0.1.0.0", author=OCA)
    toml = project.root / "odoo-ops.toml"
    toml.write_text(toml.read_text().replace(
        "[upgrade]\n", f"[upgrade]\nregistry_url = {json.dumps(url)}\nregistry_timeout = 2\n"))


def test_plan_asks_the_index_for_oca_modules_off_the_path(
        project: Project, tmp_path: Path, index: Index) -> None:
    PROJECTS["odoo-addon-queue-job"] = ["17.0.1.2.0", "17.0.1.3.1"]
    try:
        _oca_only_on_the_index(project, tmp_path, f"{index.url}/simple")
        proc = project.cli("upgrade", "plan", "--to", "17.0", "--format", "json",
                           env={"ODOO_OPS_OFFLINE": ""})
    finally:
        PROJECTS["odoo-addon-queue-job"] = ["17.0.1.2.0"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fates = {m["name"]: m for m in json.loads(proc.stdout)["modules"]}
    assert fates["queue_job"]["fate"] == "available"
    assert fates["queue_job"]["wheel"] == "odoo-addon-queue-job==17.0.1.3.1"
    assert fates["web_ribbon"]["wheel"] == "odoo-addon-web-ribbon==17.0.1.0.0"
    assert "pip install" in fates["queue_job"]["detail"]
    assert sorted(index.requests) == [
        "/simple/odoo-addon-queue-job/", "/simple/odoo-addon-web-ribbon/"]


def test_plan_offline_index_is_unknown_not_a_failure(project: Project, tmp_path: Path) -> None:
    _oca_only_on_the_index(project, tmp_path, f"http://127.0.0.1:{_closed_port()}/pypi")
    proc = project.cli("upgrade", "plan", "--to", "17.0", "--format", "json",
                       env={"ODOO_OPS_OFFLINE": ""})
    assert proc.returncode == 1, proc.stderr  # blocked (as without an index), no error
    assert "Traceback" not in proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["blocked"] == ["queue_job", "web_ribbon"]
    detail = {m["name"]: m["detail"] for m in plan["modules"]}["queue_job"]
    assert "package index: unknown (ConnectError" in detail
