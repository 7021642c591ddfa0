"""SIGKILL odoo-ops at random points of backup restore --force, create and test-restore.

Real PostgreSQL, real pg_dump/pg_restore/zstd, a real SIGKILL of the ``odoo-ops``
process. After every kill:

- no process odoo-ops started survives it (pg_restore, pg_dump, zstd: their pids are
  recorded with psutil while the command runs; any process naming the test database
  in its command line is looked for too);
- the next odoo-ops command of any kind (``backup list``) finds the swap journal a
  killed restore left, finishes or undoes the swap, and says so in one line;
- afterwards the live database and the live filestore belong together: a marker row
  and a marker file say ``good`` (the backup) in both, or the live round's value in
  both; no temporary database or directory is left.

Kills are spread with a seeded random over the command's run, plus kills timed at each
step of the swap (read from the journal as the command writes it). Counts are printed.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.integration.backup.conftest import BackupSite, write_config
from tests.support import pg

pytestmark = pytest.mark.pg

SEED = 1910
RANDOM_RESTORE_KILLS = 6
# (step seen in the journal, then seconds): around the commit of the database swap
STEP_KILLS = (("swapping", 0.0), ("swapping", 0.004), ("swapping", 0.012),
              ("swapping", 0.03), ("db-swapped", 0.0))
CREATE_KILLS = 3
TEST_RESTORE_KILLS = 3
MARKER_FILE = "kill-marker.txt"


@dataclass
class Tally:
    trials: int = 0
    children_seen: int = 0
    leftover_children: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)
    journals_settled: int = 0
    journals_left: list[str] = field(default_factory=list)


def _make_site(odoo_db: Callable[..., pg.OdooTestDb], tmp_path: Path, *, big: bool) -> BackupSite:
    db = odoo_db(18)
    root = tmp_path / "site"
    root.mkdir()
    data_dir = root / "data"
    db.write_filestore(data_dir)
    config = write_config(root, db)
    made = BackupSite(root, db, data_dir, root / "backups", config)
    with made.connect() as conn:
        if big:  # a restore then takes a second or more
            conn.execute(
                "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || repeat('k', 300) AS v"
                " FROM generate_series(1, 300000) g"
            )
        conn.execute("CREATE TABLE kill_marker (v text)")
        conn.execute("INSERT INTO kill_marker VALUES ('good')")
    if big:
        made.add_files(250, size=24000, prefix="bulk")
    (made.filestore() / MARKER_FILE).write_text("good")
    return made


@pytest.fixture
def site(odoo_db: Callable[..., pg.OdooTestDb], tmp_path: Path) -> Iterator[BackupSite]:
    """A site whose backup takes a second or more to restore."""
    yield _make_site(odoo_db, tmp_path, big=True)


@pytest.fixture
def small_site(odoo_db: Callable[..., pg.OdooTestDb], tmp_path: Path) -> Iterator[BackupSite]:
    yield _make_site(odoo_db, tmp_path, big=False)


def _cli(site: BackupSite, *args: str) -> list[str]:
    exe = shutil.which("odoo-ops")
    assert exe, "odoo-ops is not installed"
    return [exe, *args, "--config", str(site.config), "-C", str(site.root)]


def _journals(site: BackupSite) -> list[Path]:
    state = site.root / ".odoo-ops"
    return sorted(state.glob("*/swap-journal-*.json")) + sorted(
        state.glob("*/restore-journal-*.json")
    )


def _journal_step(site: BackupSite) -> str | None:
    for path in _journals(site):
        try:
            return str(json.loads(path.read_text()).get("step"))
        except (OSError, ValueError):
            continue
    return None


def _run_and_kill(
    site: BackupSite, args: list[str], should_kill: Callable[[float], bool], tally: Tally,
    what: str, limit: float = 60.0,
) -> bool:
    """Run ``odoo-ops ARGS``; SIGKILL it when ``should_kill(elapsed)``; True if it was killed.

    Every descendant seen while it runs is recorded; after the kill none may survive.
    """
    proc = subprocess.Popen(
        _cli(site, "-q", *args), cwd=site.root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    seen: dict[int, tuple[float, str]] = {}
    start = time.monotonic()
    scanned = -1.0
    killed = False
    try:
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            elapsed = time.monotonic() - start
            if should_kill(elapsed):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            if elapsed - scanned < 0.015:
                time.sleep(0.0005)
                continue
            scanned = elapsed
            try:
                for child in parent.children(recursive=True):
                    if child.pid not in seen:
                        try:
                            seen[child.pid] = (child.create_time(), child.name())
                        except psutil.Error:
                            pass
            except psutil.Error:
                pass
            if elapsed > limit:
                raise AssertionError(f"{what}: never ended")
    finally:
        proc.wait()
    tally.children_seen += len(seen)
    if killed:
        deadline = time.monotonic() + 3.0
        alive = _survivors(seen, site)
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = _survivors(seen, site)
        for desc in alive:
            tally.leftover_children.append(f"{what}: {desc}")
            pid = int(desc.split(":", 1)[0])
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass
    return killed


def _survivors(seen: dict[int, tuple[float, str]], site: BackupSite) -> list[str]:
    out: list[str] = []
    for pid, (created, name) in seen.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{pid}: {name}")
        except psutil.Error:
            continue
    # anything else still naming the database (PostgreSQL's own backends excepted)
    for proc in psutil.process_iter(["pid", "name", "cmdline", "status"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if (
                site.db.name in cmd
                and proc.info["name"] not in ("postgres", "postmaster")
                and not cmd.startswith("postgres:")
                and proc.info["status"] != psutil.STATUS_ZOMBIE
                and proc.pid not in seen
                and "pytest" not in cmd
            ):
                out.append(f"{proc.pid}: {cmd[:80]}")
        except psutil.Error:
            continue
    return out


def _after(delay: float) -> Callable[[float], bool]:
    return lambda elapsed: elapsed >= delay


def _at_step(site: BackupSite, step: str, later: float) -> Callable[[float], bool]:
    seen: list[float] = []

    def trigger(elapsed: float) -> bool:
        if not seen and _journal_step(site) == step:
            seen.append(elapsed)
        return bool(seen) and elapsed >= seen[0] + later

    return trigger


def _set_live(site: BackupSite, value: str) -> None:
    with site.connect() as conn:
        conn.execute("UPDATE kill_marker SET v = %s", (value,))
    (site.filestore() / MARKER_FILE).write_text(value)


def _live_state(site: BackupSite) -> tuple[str | None, str | None]:
    try:
        with site.connect() as conn:
            row = conn.execute("SELECT v FROM kill_marker").fetchone()
            db_value = str(row[0]) if row else None
    except Exception:
        db_value = None
    marker = site.filestore() / MARKER_FILE
    return db_value, marker.read_text() if marker.is_file() else None


def _databases(site: BackupSite, part: str) -> list[str]:
    with site.connect("postgres") as conn:
        return [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)"
            " AND strpos(datname, %s) > 0", (site.db.name, part))]


def _settle_with_next_command(site: BackupSite, tally: Tally, what: str) -> str:
    """``backup list``: any interrupted swap is settled and reported; returns its stderr."""
    time.sleep(0.2)  # the killed run's PostgreSQL sessions end (their locks go with them)
    had = _journals(site)
    done = subprocess.run(
        _cli(site, "backup", "list"), cwd=site.root, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0, (what, done.stderr)
    assert "Traceback" not in done.stderr
    if had:
        tally.journals_settled += 1
        assert "found an interrupted" in done.stderr, (what, done.stderr)
    left = _journals(site)
    if left:
        tally.journals_left.append(f"{what}: {[p.name for p in left]} ({done.stderr.strip()})")
    return done.stderr


def test_killed_restores_are_reaped_and_settled(site: BackupSite) -> None:
    rng = random.Random(SEED)
    tally = Tally()
    made = subprocess.run(
        _cli(site, "-q", "backup", "create", "--name", "good", "--compress", "zstd",
             "--dump-format", "custom"),
        cwd=site.root, capture_output=True, text=True,
    )
    assert made.returncode == 0, made.stderr
    manifest = json.loads((site.backup_dir / "good" / "manifest.json").read_text())
    assert "zstd" in json.dumps(manifest["dump"])  # the restore runs zstd | pg_restore

    # one full restore gives the duration the random kills spread over
    _set_live(site, "live-probe")
    start = time.monotonic()
    full = subprocess.run(_cli(site, "-q", "backup", "restore", "good", "--force"),
                          cwd=site.root, capture_output=True, text=True)
    duration = time.monotonic() - start
    assert full.returncode == 0, full.stderr
    assert _live_state(site) == ("good", "good")
    assert duration > 1.0, f"the restore takes only {duration:.2f}s: grow the site"

    plans: list[tuple[str, Callable[[float], bool]]] = []
    for i in range(RANDOM_RESTORE_KILLS):
        delay = rng.uniform(0.05, duration * 1.05)
        plans.append((f"restore random {i} at {delay:.2f}s", _after(delay)))
    for step, later in STEP_KILLS:
        plans.append((f"restore at step {step} +{later}s", _at_step(site, step, later)))

    outcomes: dict[str, int] = {"kept the old": 0, "restored": 0, "completed": 0}
    for index, (what, trigger) in enumerate(plans):
        live = f"live-{index}"
        _set_live(site, live)
        tally.trials += 1
        killed = _run_and_kill(site, ["backup", "restore", "good", "--force"], trigger,
                               tally, what)
        _settle_with_next_command(site, tally, what)
        state = _live_state(site)
        if state == (live, live):
            outcomes["kept the old"] += 1
        elif state == ("good", "good"):
            outcomes["restored" if killed else "completed"] += 1
        else:
            tally.inconsistent.append(f"{what}: database says {state[0]!r}, "
                                      f"filestore says {state[1]!r}")
        assert _databases(site, "__restoring_") == [], what
        assert not list((site.data_dir / "filestore").glob(".*restoring*")), what

    print(f"\nrestore kills: {tally.trials} trials, {tally.children_seen} children seen, "
          f"{len(tally.leftover_children)} left running, {tally.journals_settled} journals "
          f"settled by the next command, {len(tally.inconsistent)} inconsistent; {outcomes}")
    assert tally.leftover_children == []
    assert tally.inconsistent == []
    assert tally.journals_left == []
    assert tally.children_seen > 0
    assert outcomes["kept the old"] + outcomes["restored"] >= len(plans) // 2


def test_killed_creates_and_test_restores_leave_nothing_running(site: BackupSite) -> None:
    rng = random.Random(SEED + 1)
    tally = Tally()
    good = subprocess.run(
        _cli(site, "-q", "backup", "create", "--name", "good", "--compress", "zstd",
             "--dump-format", "custom"),
        cwd=site.root, capture_output=True, text=True,
    )
    assert good.returncode == 0, good.stderr
    start = time.monotonic()
    probe = subprocess.run(_cli(site, "-q", "backup", "test-restore", "good"),
                           cwd=site.root, capture_output=True, text=True)
    test_duration = time.monotonic() - start
    assert probe.returncode == 0, probe.stderr

    for i in range(CREATE_KILLS):
        delay = rng.uniform(0.3, 2.0)
        what = f"create {i} at {delay:.2f}s"
        tally.trials += 1
        _run_and_kill(site, ["backup", "create", "--name", f"k{i}", "--compress", "zstd"],
                      _after(delay), tally, what)
        _settle_with_next_command(site, tally, what)
        listed = subprocess.run(_cli(site, "backup", "list", "--format", "json"),
                                cwd=site.root, capture_output=True, text=True)
        assert listed.returncode == 0, listed.stderr
        assert ".partial" not in listed.stdout
    for i in range(TEST_RESTORE_KILLS):
        delay = rng.uniform(0.05, test_duration * 1.05)
        what = f"test-restore {i} at {delay:.2f}s"
        tally.trials += 1
        _run_and_kill(site, ["backup", "test-restore", "good"], _after(delay), tally, what)
        _settle_with_next_command(site, tally, what)
        assert _databases(site, "__testrestore_") == [], what
        assert not list(site.backup_dir.glob(".scratch-*")), what
    assert _live_state(site) == ("good", "good")  # nothing here touches the live copy

    print(f"\ncreate/test-restore kills: {tally.trials} trials, {tally.children_seen} "
          f"children seen, {len(tally.leftover_children)} left running, "
          f"{tally.journals_settled} journals settled")
    assert tally.leftover_children == []
    assert tally.journals_left == []
    assert tally.children_seen > 0


def test_sigterm_mid_restore_kills_children_and_undoes(site: BackupSite) -> None:
    """SIGTERM: odoo-ops kills its children's groups itself, undoes, exits 143."""
    made = subprocess.run(
        _cli(site, "-q", "backup", "create", "--name", "good", "--compress", "zstd",
             "--dump-format", "custom"),
        cwd=site.root, capture_output=True, text=True,
    )
    assert made.returncode == 0, made.stderr
    _set_live(site, "live-term")
    proc = subprocess.Popen(_cli(site, "-q", "backup", "restore", "good", "--force"),
                            cwd=site.root, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    children: list[psutil.Process] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        "pg_restore" in c.name() for c in children
    ):
        try:
            children = parent.children(recursive=True)
        except psutil.Error:
            break
        time.sleep(0.005)
    assert children, "pg_restore never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted by SIGTERM" in err and "Traceback" not in err
    _, alive = psutil.wait_procs(children, timeout=3)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    # undone at once, as for an error: nothing for the next command to settle
    assert _journals(site) == []
    assert _databases(site, "__restoring_") == []
    assert _live_state(site) == ("live-term", "live-term")


def _journal_file(site: BackupSite, record: dict[str, object]) -> Path:
    path = site.root / ".odoo-ops" / "test" / f"swap-journal-{record['step']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


@pytest.mark.parametrize(
    ("step", "copy_db", "aside", "expect", "outcome"),
    [
        ("loading", True, False, "live", "dropped the restored copy"),
        ("swapping", True, False, "live", "dropped the restored copy"),
        ("swapping", False, False, "new", "finished the filestore swap"),
        ("fs-aside", False, True, "new", "finished the filestore swap"),
    ],
)
def test_the_next_command_settles_each_step(
    small_site: BackupSite, step: str, copy_db: bool, aside: bool, expect: str, outcome: str
) -> None:
    """The state a kill leaves at each step, made for real; a ``--dry-run`` command only
    reports it, the next other command (here ``backup list``) settles it."""
    site = small_site
    name = site.db.name
    tmp_db = f"{name}__restoring_t{step[:3]}"
    fs = site.filestore()
    fs_tmp = fs.parent / f".{name}.restoring-t"
    fs_before = fs.parent / f"{name}_before_restore_20260101000000"
    _set_live(site, "live")
    shutil.copytree(fs, fs_tmp)
    (fs_tmp / MARKER_FILE).write_text("new")
    if copy_db:  # the copy is still under its temporary name: the swap did not commit
        with site.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{tmp_db}" TEMPLATE template0')
    if aside:
        fs.rename(fs_before)
    journal = _journal_file(site, {
        "kind": "restore", "database": name, "tmp_db": tmp_db, "lock_database": name,
        "before_db": f"{name}_before_restore_20260101000000", "fs_tmp": str(fs_tmp),
        "fs_dest": str(fs), "fs_before": str(fs_before), "step": step,
    })
    dry = subprocess.run(_cli(site, "backup", "prune", "--dry-run"), cwd=site.root,
                         capture_output=True, text=True)
    assert f"found an interrupted restore of {name}" in dry.stderr
    assert "would " in dry.stderr and journal.exists()  # reported, not acted on
    done = subprocess.run(_cli(site, "backup", "list"), cwd=site.root,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "found an interrupted" in line]
    assert len(lines) == 1 and outcome in lines[0], done.stderr
    assert not journal.exists() and not fs_tmp.exists()
    assert _databases(site, "__restoring_") == []
    assert (fs / MARKER_FILE).read_text() == expect
    if expect == "new":
        assert (fs_before / MARKER_FILE).read_text() == "live"  # the old one is kept aside
    again = subprocess.run(_cli(site, "backup", "list"), cwd=site.root,
                           capture_output=True, text=True)
    assert "found an interrupted" not in again.stderr  # said once
