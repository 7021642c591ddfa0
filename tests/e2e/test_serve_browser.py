"""``odoo-ops serve`` in a real browser: Debian's headless Chromium driven by Selenium.

The project's records are made by real commands (two ``odoo-ops backup
create`` against real PostgreSQL, a ``backup verify``) and by odoo-ops' own
record writers (health rounds, deploy journal lines with a rollback, saved
check reports). ``serve`` runs as a user runs it, on a free port. Every page
must load with no console error, show the numbers of the records, draw the
expected points, ask for the token off-loopback, and never show the canary
secret (which is in the .env, the DSN, a deploy error and a check message).
Screenshots go to ``$ODOO_OPS_TEST_ARTIFACTS/serve`` (default: the test's
temporary directory).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.status_records import (
    deploy_record,
    write_check_report,
    write_diff,
    write_health,
    write_journal,
)

pytestmark = [pytest.mark.pg, pytest.mark.slow]
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

CANARY = "cAnAry7Q3x 9zK'pW2v"
NEEDLES = (CANARY, quote(CANARY, safe=""), "cAnAry7Q3x", "9zK'pW2v", "9zK&#39;pW2v", "pW2v")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PAGES = ("health", "deploys", "backups", "checks", "golive")
UTC = dt.UTC


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def odoo_ops_argv() -> list[str]:
    exe = shutil.which("odoo-ops")
    return [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*odoo_ops_argv(), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=180)  # fmt: skip


@dataclass
class Served:
    root: Path
    url: str
    now: dt.datetime
    proc: subprocess.Popen[str]
    rounds: list[tuple[dt.datetime, bool, float]]


def start_serve(root: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    bind = next((a for a in args if ":" in a), f"127.0.0.1:{port}")
    rest = [a for a in args if a != bind]
    proc = subprocess.Popen([*odoo_ops_argv(), "serve", "--bind", bind, *rest], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
    port_text = bind.rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{port_text}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", int(port_text)), timeout=0.5):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not listen within 60 s")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


@pytest.fixture(scope="module")
def served(pg_databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = pg_databases.odoo_db(18)
    root = tmp_path_factory.mktemp("serve") / "proj"
    root.mkdir()
    db.write_filestore(root / "data")
    (root / ".env").write_text(f"POSTGRES_PASSWORD={json.dumps(CANARY)}\n")
    (root / ".env").chmod(0o600)
    secret = "'" + CANARY.replace("'", "\\'") + "'"
    info = db.conninfo
    dsn = (f"host={info['host']} port={info['port']} user={info['user']} dbname={db.name}"
           f" password={secret}")  # fmt: skip
    staging = f"host=127.0.0.1 port=1 dbname=x user=postgres password={secret}"
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n[deployments.prod]\n'
        f"dsn = {json.dumps(dsn)}\n"
        'data_dir = "data"\nbackup_dir = "backups"\nenv_file = ".env"\n'
        f"[deployments.staging]\ndsn = {json.dumps(staging)}\nenv_file = \".env\"\n"
    )
    for name in ("first", "second"):
        made = run("backup", "create", "--name", name, cwd=root)
        assert made.returncode == 0, made.stderr
    assert run("backup", "verify", "second", cwd=root).returncode == 0
    now = dt.datetime.now(UTC).replace(microsecond=0)
    rounds = [(now - dt.timedelta(minutes=15 * i), i not in (3, 4), 80.0 + i * 2)
              for i in range(40, -1, -1)]  # fmt: skip
    rounds.append((now - dt.timedelta(days=20), True, 70.0))  # outside the 7-day range
    rounds.sort()
    write_health(root, "prod", rounds)
    write_journal(root, "prod", [
        deploy_record("20260101T010000-0001", now - dt.timedelta(days=3),
                      [1.0, 0.2, 2.0, 5.0, 3.0, 8.0, 30.0, 6.0, 4.0, 5.0, 0.5]),
        deploy_record("20260102T010000-0002", now - dt.timedelta(days=2),
                      [1.0, 0.2, 2.0, 5.0, 3.5],
                      "rolled-back", failed_phase="code",
                      error=f"git fetch: password {CANARY} rejected"),
        deploy_record("20260103T010000-0003", now - dt.timedelta(days=1),
                      [1.0, 0.2, 2.0, 5.0, 3.0, 8.0, 25.0, 6.0, 4.0, 5.0, 0.5]),
    ])  # fmt: skip
    write_diff(root, "prod", "20260103T010000-0003", [
        {"area": "modules", "change": "upgraded", "item": "sale"},
        {"area": "menus", "change": "added", "item": "Sales/Extra"},
    ])  # fmt: skip
    write_check_report(root, "prod", now - dt.timedelta(hours=5),
                       [("conf-a", "conf", "pass"), ("db-b", "database", "pass"),
                        ("db-c", "database", "warn")])  # fmt: skip
    latest = write_check_report(root, "prod", now - dt.timedelta(hours=1),
                                [("conf-a", "conf", "pass"), ("db-b", "database", "fail"),
                                 ("web-d", "web", "pass")])  # fmt: skip
    doc = json.loads(latest.read_text())
    doc["results"][1]["message"] = f"the password {CANARY} is weak"
    latest.write_text(json.dumps(doc))
    os.utime(latest, ((now - dt.timedelta(hours=1)).timestamp(),) * 2)
    proc, url = start_serve(root)
    try:
        yield Served(root, url, now, proc, rounds)
    finally:
        stop(proc)
        pg_databases.drop(db.name)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium and chromium-driver are needed (apt-get install chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--disable-extensions", "--no-first-run"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("ODOO_OPS_TEST_ARTIFACTS")
    path = Path(base) / "serve" if base else tmp_path_factory.mktemp("serve-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def visit(driver: Any, url: str, artifacts: Path, shot: str) -> None:
    """Load ``url``; no console message of level SEVERE or WARNING; a screenshot."""
    driver.get(url)
    logs = [e for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "WARNING")]
    assert logs == [], f"{url}: console errors {logs}"
    assert "odoo-ops" in driver.title
    driver.save_screenshot(str(artifacts / f"{shot}.png"))
    source = driver.page_source
    for needle in NEEDLES:
        assert needle not in source, f"{url} shows the secret"


def by_css(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def test_every_page_loads_and_shows_the_records(
    served: Served, browser: Any, artifacts: Path
) -> None:
    root, url = served.root, served.url
    visit(browser, url + "/", artifacts, "overview")
    card = by_css(browser, "#card-prod")[0]
    assert "NEEDS ATTENTION" in card.text
    assert "deploys (3)" in card.text and "backups (2)" in card.text
    rows = {r.get_attribute("data-part"): r.text for r in by_css(browser, "#card-prod tr")}
    assert "rolled-back" not in rows["last deploy"] and "deployed" in rows["last deploy"]
    assert "second" in rows["newest backup"] and "verified: pass" in rows["newest backup"]
    assert rows["health"].startswith("health healthy")
    assert "db-b" in rows["last check"]
    assert len(by_css(browser, ".card")) == 2  # prod and staging
    assert "UNKNOWN" in by_css(browser, "#card-staging .verdict")[0].text  # no health record

    visit(browser, url + "/d/prod/health", artifacts, "health")
    week = [r for r in served.rounds if r[0] >= served.now - dt.timedelta(days=7)]
    assert by_css(browser, "#rounds")[0].text == str(len(week))
    assert by_css(browser, "#failed-rounds")[0].text == str(sum(1 for r in week if not r[1]))
    latency = by_css(browser, "#latency circle.point")
    assert [float(c.get_attribute("data-value")) for c in latency] == [r[2] for r in week]
    failures = by_css(browser, "#failures circle.point")
    assert [float(c.get_attribute("data-value")) for c in failures] == [
        0.0 if ok else 2.0 for _, ok, _ in week]  # fmt: skip
    visit(browser, url + "/d/prod/health?days=30", artifacts, "health-30d")
    assert len(by_css(browser, "#latency circle.point")) == len(served.rounds)

    visit(browser, url + "/d/prod/deploys", artifacts, "deploys")
    rows_ = by_css(browser, "#deploys tr.deploy")
    assert [r.get_attribute("data-id")[-4:] for r in rows_] == ["0003", "0002", "0001"]
    assert [r.get_attribute("data-result") for r in rows_] == [
        "deployed", "rolled-back", "deployed"]  # fmt: skip
    assert "marked" in rows_[1].get_attribute("class")
    bars = [by_css(browser, f"tr[data-id='{r.get_attribute('data-id')}'] rect.phase")
            for r in rows_]  # fmt: skip
    assert [len(b) for b in bars] == [11, 5, 11]
    assert [float(b.get_attribute("data-value")) for b in bars[1]] == [1.0, 0.2, 2.0, 5.0, 3.5]
    assert ["phase-failed" in b.get_attribute("class") for b in bars[1]] == [False] * 4 + [True]
    assert "modules.upgraded 1" in rows_[0].text and "menus.added 1" in rows_[0].text

    visit(browser, url + "/d/prod/backups", artifacts, "backups")
    listed = by_css(browser, "#backups tr.backup")
    assert [r.get_attribute("data-name") for r in listed] == ["second", "first"]
    for row in listed:
        manifest = json.loads((root / "backups" / row.get_attribute("data-name")
                               / "manifest.json").read_text())  # fmt: skip
        assert int(row.get_attribute("data-size")) == sum(
            f["size"] for f in manifest["files"].values())
    assert "pass" in listed[0].text and "never" in listed[1].text
    assert len(by_css(browser, "#size rect.bar")) == 2
    assert len(by_css(browser, "#duration rect.bar")) == 2

    visit(browser, url + "/d/prod/checks", artifacts, "checks")
    assert [r.get_attribute("data-id") for r in by_css(browser, "#checks tr.check")] == [
        "conf-a", "db-b", "web-d"]  # fmt: skip
    changes = {r.get_attribute("data-id"): r.text for r in by_css(browser, "#changes tr.change")}
    assert set(changes) == {"db-b", "db-c", "web-d"}
    assert "(new)" in changes["web-d"] and "(gone)" in changes["db-c"]
    visit(browser, url + "/d/prod/checks?area=database&status=fail", artifacts, "checks-filtered")
    assert [r.get_attribute("data-id") for r in by_css(browser, "#checks tr.check")] == ["db-b"]

    visit(browser, url + "/d/prod/golive", artifacts, "golive")
    assert by_css(browser, "#verdict")[0].text in ("GO", "NO-GO")
    assert len(by_css(browser, "tr.item")) > 10
    visit(browser, url + "/d/staging/health", artifacts, "staging-health")
    assert "no data" in by_css(browser, "#latency")[0].text


def test_answers_are_read_only_and_never_show_the_secret(served: Served) -> None:
    urls = ["/", "/api/status", "/metrics", "/static/style.css", "/nope",
            *(f"/d/{d}/{p}" for d in ("prod", "staging") for p in PAGES)]  # fmt: skip
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for path in urls:
            response = client.get(path)
            assert response.status_code == (404 if path == "/nope" else 200), path
            for needle in NEEDLES:
                assert needle not in response.text, f"{path} shows the secret"
            assert response.headers["x-content-type-options"] == "nosniff"
        assert client.post("/").status_code == 405
        status = client.get("/api/status").json()
        prod = status["deployments"][0]
        assert prod["deploys"] == 3 and prod["backups"] == 2
        assert prod["last_check"]["failures"] == ["db-b: the password *** is weak"]
        metrics = client.get("/metrics").text
        assert 'odoo_ops_backups{deployment="prod"} 2.0' in metrics
        assert 'odoo_ops_healthy{deployment="prod"} 1.0' in metrics
        assert 'odoo_ops_last_check_failures{deployment="prod"} 1.0' in metrics
        assert "text/plain" in client.get("/metrics").headers["content-type"]
        deploys = client.get("/d/prod/deploys").text
        assert "git fetch: password *** rejected" in deploys


def test_off_loopback_needs_a_token(served: Served, browser: Any, artifacts: Path) -> None:
    root = served.root
    refused = run("serve", "--bind", f"0.0.0.0:{free_port()}", cwd=root)
    assert refused.returncode == 2 and "requires --token-file" in refused.stderr
    assert "Traceback" not in refused.stderr
    token_file = root / "serve.token"
    token_file.write_text("short\n")
    token_file.chmod(0o600)
    weak = run("serve", "--bind", f"0.0.0.0:{free_port()}", "--token-file", str(token_file),
               cwd=root)  # fmt: skip
    assert weak.returncode == 2 and "at least 16" in weak.stderr
    token = "t0ken-" + "x" * 30
    token_file.write_text(token + "\n")
    token_file.chmod(0o644)
    loose = run("serve", "--bind", f"0.0.0.0:{free_port()}", "--token-file", str(token_file),
                cwd=root)  # fmt: skip
    assert loose.returncode == 2 and "chmod 600" in loose.stderr
    token_file.chmod(0o600)
    proc, url = start_serve(root, f"0.0.0.0:{free_port()}", "--token-file", str(token_file))
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            for path in ("/", "/api/status", "/metrics", "/d/prod/health", "/static/style.css"):
                assert client.get(path).status_code == 401, path
            assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.get("/?token=wrong").status_code == 401
            ok = client.get("/api/status", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and token not in ok.text
        browser.delete_all_cookies()
        browser.get(url + "/")
        assert "token is required" in browser.page_source
        browser.get("about:blank")  # let the refused page's requests (page, favicon) finish
        expected = browser.get_log("browser")  # the 401s of that refused page, and only them
        assert all("401" in e["message"] for e in expected), expected
        visit(browser, f"{url}/?token={token}", artifacts, "token-overview")
        visit(browser, url + "/d/prod/backups", artifacts, "token-backups")  # by the cookie
        assert len(by_css(browser, "#backups tr.backup")) == 2
    finally:
        stop(proc)
