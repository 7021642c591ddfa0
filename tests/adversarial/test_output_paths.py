"""Hostile output paths (issue 19, findings 3, 9 and 10): what a user names is written, or refused.

Every option that writes a file or directory the user names (``check -o``,
``verify --report``, ``health --metrics-textfile``, ``golive report -o``,
``config sample -o``, ``backup export-odoo`` with and without ``--force``,
``snapshot create --out``) is pointed at: a symbolic link to a file, a link to
/dev/null, a FIFO, /dev/null, /dev/full, a directory, a path whose directory
does not exist, /proc/self/x, a 300- and a 100,000-character name. The real
CLI runs in a subprocess with a timeout (a FIFO opened for writing would
hang it). Each run must be refused with a one-line ``error:`` and leave what
was there as it was: no traceback, no exit 3, no device, FIFO or link turned
into a regular file, no directory created.

Then: a closed standard output (``| head -1``) ends the command quietly with
141, and hypothesis throws random names at :func:`odoo_ops.fileutil.write_output`.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo_ops.errors import OpsError
from odoo_ops.fileutil import write_output

TIMEOUT = 60.0

#: Inputs tried and outcomes (printed at the end of the module: run with -s to see them).
COUNTS: Counter[str] = Counter()

HOSTILE = (
    "link-to-file", "link-to-devnull", "fifo", "dev-null", "dev-full", "directory",
    "missing-parent", "proc-self", "name-300", "name-100000",
)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    print(f"\noutput paths: {dict(sorted(COUNTS.items()))}")


def odoo_ops_argv() -> list[str]:
    exe = shutil.which("odoo-ops")
    return [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    try:
        return subprocess.run(
            [*odoo_ops_argv(), *args], cwd=cwd, env=env, capture_output=True, text=True,
            errors="replace", timeout=TIMEOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"odoo-ops {' '.join(a[:60] for a in args)} hung for {TIMEOUT}s")


@dataclass
class Planted:
    """A hostile path and what must still be true of it after the run."""

    path: str
    check: Callable[[], None]


def _same(path: str) -> Callable[[], None]:
    before = os.lstat(path)

    def check() -> None:
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode, before.st_ino, before.st_rdev,
        ), f"{path} was replaced"  # fmt: skip

    return check


def plant(kind: str, base: Path) -> Planted:
    """Put the hostile thing ``kind`` in ``base`` (a fresh directory); returns its path."""
    base.mkdir(parents=True)
    if kind == "link-to-file":
        victim = base / "victim.txt"
        victim.write_text("keep me")
        (base / "out").symlink_to(victim)
        same = _same(str(base / "out"))

        def check_link() -> None:
            same()
            assert victim.read_text() == "keep me"

        return Planted(str(base / "out"), check_link)
    if kind == "link-to-devnull":
        (base / "out").symlink_to("/dev/null")
        return Planted(str(base / "out"), _same(str(base / "out")))
    if kind == "fifo":
        os.mkfifo(base / "out")
        return Planted(str(base / "out"), _same(str(base / "out")))
    if kind in ("dev-null", "dev-full"):
        device = f"/dev/{kind[4:]}"
        return Planted(device, _same(device))
    if kind == "directory":
        (base / "out").mkdir()
        same = _same(str(base / "out"))

        def check_dir() -> None:
            same()
            assert not any((base / "out").iterdir())

        return Planted(str(base / "out"), check_dir)
    if kind == "missing-parent":
        return Planted(str(base / "missing" / "out"), lambda: _absent(base / "missing"))
    if kind == "proc-self":
        return Planted("/proc/self/x", lambda: None)
    length = int(kind.split("-")[1])
    return Planted(str(base / ("n" * length)), lambda: _only(base, set()))


def _absent(path: Path) -> None:
    assert not path.exists(), f"{path} was created"


def _only(base: Path, names: set[str]) -> None:
    assert {p.name for p in base.iterdir()} == names, f"files left in {base}"


def assert_refused(proc: subprocess.CompletedProcess[str], what: str) -> None:
    out = proc.stdout + proc.stderr
    COUNTS["inputs tried"] += 1
    if proc.returncode == 3 or "Traceback" in out or "unexpected error" in out:
        COUNTS["tracebacks"] += 1
    assert proc.returncode not in (0, 3), f"{what}: exit {proc.returncode}\n{out}"
    assert "Traceback" not in out and "unexpected error" not in out, f"{what}:\n{out}"
    # ours ("error: ...") or click's for a usage error ("Error: ... is a directory.")
    errors = [line for line in proc.stderr.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1, f"{what}: expected one error line\n{proc.stderr}"
    assert len(errors[0]) < 400, f"{what}: error line too long"
    COUNTS["refused"] += 1


@dataclass
class Case:
    label: str
    kind: str
    argv: list[str]
    planted: Planted
    needle: str | None


def hostile_cases(
    tmp_path: Path, label: str, argv: Callable[[str], list[str]],
    *, needles: dict[str, str] | None = None, kinds: tuple[str, ...] = HOSTILE,
) -> list[Case]:  # fmt: skip
    """Plant every hostile kind for the option ``label``; ``argv`` builds its command line."""
    cases = []
    for kind in kinds:
        planted = plant(kind, tmp_path / "hostile" / label / kind)
        cases.append(Case(label, kind, argv(planted.path), planted, (needles or {}).get(kind)))
    return cases


def run_cases(cases: list[Case], cwd: Path) -> None:
    """Run the cases (a few at a time: each is a process), then check every one."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        procs = list(pool.map(lambda c: run(*c.argv, cwd=cwd), cases))
    for case, proc in zip(cases, procs, strict=True):
        what = f"{case.label} {case.kind}"
        assert_refused(proc, what)
        case.planted.check()
        if case.needle:
            assert case.needle in proc.stderr, f"{what}: {proc.stderr}"


#: What the error says for the kinds that have a fixed answer (a file output).
FILE_NEEDLES = {
    "link-to-file": "it is a symbolic link; nothing written",
    "link-to-devnull": "it is a symbolic link; nothing written",
    "fifo": "it is a FIFO (named pipe); nothing written",
    "dev-null": "refusing to write /dev/null: it is a character device",
    "dev-full": "refusing to write /dev/full: it is a character device",
    "missing-parent": "does not exist; nothing written",
    "proc-self": "cannot write /proc/self/x",
    "name-300": "File name too long",
    "name-100000": "File name too long",
}


# ---------------------------------------------------------------------------
# options that need no deployment
# ---------------------------------------------------------------------------


def test_config_sample_output(tmp_path: Path) -> None:
    def sample(*extra: str) -> Callable[[str], list[str]]:
        return lambda path: ["config", "sample", "-o", path, *extra]

    cases = hostile_cases(tmp_path, "sample", sample(), needles=FILE_NEEDLES)
    cases += hostile_cases(tmp_path, "sample-force", sample("--force"), needles=FILE_NEEDLES)
    run_cases(cases, tmp_path)
    # and the ordinary cases still work: a new file, a replaced one, stdout
    out = tmp_path / "odoo-ops.toml"
    assert run("config", "sample", "-o", str(out), cwd=tmp_path).returncode == 0
    assert run("config", "sample", "-o", str(out), cwd=tmp_path).returncode == 2  # exists
    assert run("config", "sample", "-o", str(out), "--force", cwd=tmp_path).returncode == 0
    printed = run("config", "sample", "-o", "-", cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.startswith("# odoo-ops.toml")
    assert not (tmp_path / "-").exists()


# ---------------------------------------------------------------------------
# options of a deployment (a real database)
# ---------------------------------------------------------------------------


@pytest.fixture
def project(odoo_db: Any, tmp_path: Path) -> Path:
    db = odoo_db(18)
    root = tmp_path / "proj"
    root.mkdir()
    db.write_filestore(root / "data")
    (root / "odoo-ops.toml").write_text(
        f'[deployments.prod]\ndsn = "{db.dsn}"\ndata_dir = "data"\nbackup_dir = "backups"\n'
    )
    return root


@pytest.mark.pg
def test_every_output_option_of_a_deployment(project: Path, tmp_path: Path) -> None:
    made = run("backup", "create", "--name", "base", cwd=project)
    assert made.returncode == 0, made.stderr
    file_options: dict[str, Callable[[str], list[str]]] = {
        "check-o": lambda p: ["check", "--only", "backups-dir", "-o", p],
        "verify-report": lambda p: ["verify", "--report", p],
        "health-textfile": lambda p: ["health", "--probe", "disk", "--metrics-textfile", p],
        "export-odoo": lambda p: ["backup", "export-odoo", "base", p],
        "export-odoo-force": lambda p: ["backup", "export-odoo", "base", p, "--force"],
    }
    cases: list[Case] = []
    for label, argv in file_options.items():
        needles = dict(FILE_NEEDLES)
        if label == "export-odoo":  # without --force an existing file is refused first
            needles.pop("link-to-file"), needles.pop("link-to-devnull")
        cases += hostile_cases(tmp_path, label, argv, needles=needles)
    dir_options: dict[str, Callable[[str], list[str]]] = {
        "golive-report-o": lambda p: ["golive", "report", "-o", p],
        "snapshot-out": lambda p: ["snapshot", "create", "--no-crawl", "--out", p],
    }
    for label, argv in dir_options.items():
        # an existing (empty) directory is what these options take: not hostile here
        kinds = tuple(k for k in HOSTILE if k != "directory")
        cases += hostile_cases(tmp_path, label, argv, kinds=kinds, needles={
            "missing-parent": "does not exist", "proc-self": "/proc/self/x",
            "name-100000": "File name too long",
        })  # fmt: skip
    run_cases(cases, project)
    # a directory given to golive report -o: hostile files in place of the reports
    for kind in ("link-to-file", "fifo", "directory"):
        base = tmp_path / "golive" / kind
        planted = plant(kind, base)
        os.rename(planted.path, base / "golive-report.html")
        proc = run("golive", "report", "-o", str(base), cwd=project)
        assert_refused(proc, f"golive report.html {kind}")
        assert "golive-report.html" in proc.stderr
        assert not (base / "golive-report.md").exists()  # both checked before either is written
    assert "Traceback" not in run("backup", "list", cwd=project).stderr
    assert COUNTS["tracebacks"] == 0


@pytest.mark.pg
def test_the_outputs_still_work_and_dash_is_stdout(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    check = run("check", "--only", "backups-dir", "-o", str(out / "check.txt"), cwd=project)
    assert check.returncode in (0, 1) and (out / "check.txt").is_file(), check.stderr
    to_stdout = run("check", "--only", "backups-dir", "--format", "json", "-o", "-", cwd=project)
    assert '"backups-dir"' in to_stdout.stdout and not (project / "-").exists()
    verify = run("verify", "--report", "-", "--format", "json", cwd=project)
    assert "# " in verify.stdout and not (project / "-").exists(), verify.stderr
    snap = run("snapshot", "create", "--no-crawl", "--out", str(out / "snap"), cwd=project)
    assert snap.returncode == 0 and (out / "snap" / "MANIFEST.md").is_file(), snap.stderr
    default = run("snapshot", "create", "--no-crawl", cwd=project)  # documented: creates it
    assert default.returncode == 0 and (project / "snapshots").is_dir(), default.stderr
    made = run("backup", "create", "--name", "b1", cwd=project)
    assert made.returncode == 0, made.stderr
    zip_path = out / "b1.zip"
    zip_path.write_text("old")
    zip_path.chmod(0o640)
    assert run("backup", "export-odoo", "b1", str(zip_path), cwd=project).returncode == 1
    forced = run("backup", "export-odoo", "b1", str(zip_path), "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert stat.S_IMODE(zip_path.stat().st_mode) == 0o600  # private: never wider than 0600
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------------------
# a closed standard output
# ---------------------------------------------------------------------------


def run_with_stdout_closed(*args: str, cwd: Path) -> tuple[int, str]:
    """Run with stdout a pipe whose reader has already gone (``| head`` that exited)."""
    proc = subprocess.Popen(
        [*odoo_ops_argv(), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    try:
        err = proc.stderr.read().decode(errors="replace")
        return proc.wait(timeout=TIMEOUT), err
    finally:
        proc.kill()
        proc.stderr.close()


def test_help_into_a_closed_pipe_exits_141_quietly(tmp_path: Path) -> None:
    for args in (["--help"], ["backup", "--help"], ["config", "sample"]):
        code, err = run_with_stdout_closed(*args, cwd=tmp_path)
        COUNTS["closed stdout"] += 1
        assert (code, err) == (141, ""), args


@pytest.mark.pg
def test_backup_create_and_list_into_a_closed_pipe(project: Path) -> None:
    code, err = run_with_stdout_closed("backup", "create", "--name", "piped", cwd=project)
    assert code == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err and "error" not in err
    # the work was done before the result line could not be written
    listed = run("backup", "list", "--format", "csv", cwd=project)
    assert "piped" in listed.stdout
    code, err = run_with_stdout_closed("backup", "list", cwd=project)
    assert (code, err) == (141, "")
    COUNTS["closed stdout"] += 2
    shell = subprocess.run(
        f"{' '.join(odoo_ops_argv())} backup list | head -1; echo \"${{PIPESTATUS[0]}}\"",
        shell=True, executable="/bin/bash", cwd=project, capture_output=True, text=True,
        timeout=TIMEOUT,
    )  # fmt: skip
    assert shell.stdout.splitlines()[-1] in ("0", "141") and shell.stderr == ""


# ---------------------------------------------------------------------------
# random names (in-process)
# ---------------------------------------------------------------------------

names = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=400
) | st.sampled_from(["..", ".", "/", "//", "../..", "a/../../b", "-", "~", "\\"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=names)
def test_random_names_are_written_inside_or_refused(tmp_path: Path, name: str) -> None:
    base = tmp_path / "random"
    base.mkdir(exist_ok=True)
    before = {p: os.lstat(p).st_ino for p in (base, tmp_path)}
    COUNTS["random names"] += 1
    try:
        written = write_output(base / name, "x")
    except OpsError as exc:
        assert "\n" not in exc.message
        written = None
    if written is not None:
        real = Path(os.path.realpath(written))
        assert real.is_file() and not real.is_symlink()
        real.unlink()
    for p, ino in before.items():
        assert os.lstat(p).st_ino == ino and stat.S_ISDIR(os.lstat(p).st_mode)
    assert not [p for p in base.rglob("*.tmp")]
