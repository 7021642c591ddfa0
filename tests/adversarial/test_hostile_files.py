"""Hostile files where odoo-ops reads user and third-party files (issue 19, findings 6 and 9).

Every file odoo-ops did not write (addon manifests, odoo-ops.toml, odoo.conf, the
.env file, compose files, a git-aggregator repos file) is replaced by what an
attacker or an accident puts there: a FIFO, a link to /dev/zero or /dev/urandom, a
directory, a 10 MB file, an 8 GiB sparse file, random bytes, invalid UTF-8 and
100,000 levels of nesting. The real CLI runs in a subprocess with a timeout and an
address-space limit, so a regression (a read that blocks, a read without end)
fails the test instead of hanging it or eating the machine. Each run must end
with a one-line ``error:`` or a finding: never a traceback, never exit 3.

Devices are only ever opened in those guarded subprocesses. The in-process
property tests (hypothesis) feed random bytes and nesting to the same readers.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo_ops.adapters.compose import load_compose
from odoo_ops.adapters.odoo_conf import read_odoo_conf
from odoo_ops.addons.manifest import read_manifest
from odoo_ops.addons.scan import scan_addons_path
from odoo_ops.config.envfile import read_env_file
from odoo_ops.config.loader import load_config
from odoo_ops.errors import ConfigError, ManifestError, OpsError
from odoo_ops.inputs import (
    MANIFEST_LIMIT,
    check_input_path,
    feed_regular_file,
    read_input_bytes,
    read_input_text,
)
from odoo_ops.oca.sources import from_repos_yaml

#: What a guarded run may use: far more than odoo-ops needs, far less than the machine.
MEMORY_GUARD = 2 * 1024**3
TIMEOUT = 30.0
DEPTH = 100_000

#: Inputs tried, by class (printed at the end of the module: run with -s to see them).
COUNTS: Counter[str] = Counter()

VARIANTS = (
    "fifo", "dev-zero", "dev-urandom", "directory", "huge-10mb", "sparse-8gib", "binary",
    "bad-utf8", "nested",
)  # fmt: skip
#: The variants that hang or exhaust memory when read naively: each goes through the CLI
#: for every kind of file. The others (content) go through the CLI where the report
#: found them and through the readers in-process for every kind (fast, no device).
SPECIAL = ("fifo", "dev-zero", "dev-urandom", "directory", "sparse-8gib")
CONTENT = ("huge-10mb", "binary", "bad-utf8", "nested")


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    total = sum(v for k, v in COUNTS.items() if not k.startswith("outcome"))
    print(f"\nhostile files: {total} inputs tried: {dict(sorted(COUNTS.items()))}")


# ---------------------------------------------------------------------------
# planting hostile files, running the CLI under a guard
# ---------------------------------------------------------------------------


def nested_text(kind: str) -> str:
    """100,000 levels of nesting in the syntax of ``kind``."""
    if kind == "toml":
        return "a = " + "[" * DEPTH + "]" * DEPTH + "\n"
    if kind == "manifest":
        return "{'a': " + "[" * DEPTH + "]" * DEPTH + "}\n"
    if kind == "json":
        return "[" * DEPTH + "]" * DEPTH
    return "[" * DEPTH  # yaml: flow sequences


def plant(path: Path, variant: str, syntax: str) -> None:
    """Put the ``variant`` of a hostile file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.is_file():
        path.unlink()
    rng = random.Random(f"{variant}:{path.name}")
    if variant == "fifo":
        os.mkfifo(path)
    elif variant == "dev-zero":
        path.symlink_to("/dev/zero")
    elif variant == "dev-urandom":
        path.symlink_to("/dev/urandom")
    elif variant == "directory":
        path.mkdir()
    elif variant == "huge-10mb":
        path.write_bytes(b"# padding\n" * 1_000_000)
    elif variant == "sparse-8gib":
        with path.open("wb") as fh:
            fh.truncate(8 * 1024**3)
    elif variant == "binary":
        path.write_bytes(rng.randbytes(4096))
    elif variant == "bad-utf8":
        path.write_bytes(b"# caf\xe9 \xff\xfe\n" + rng.randbytes(64))
    elif variant == "nested":
        if syntax in ("env", "ini"):  # no nesting there: a 200,000-character line
            path.write_text("A" * DEPTH + "=" + "[" * DEPTH + "\n")
        else:
            path.write_text(nested_text(syntax))
    else:  # pragma: no cover - a typo in VARIANTS
        raise AssertionError(variant)
    COUNTS[f"file:{variant}"] += 1


def _guard() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_GUARD, MEMORY_GUARD))


def odoo_ops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real CLI with a timeout and an address-space limit; check it ended cleanly."""
    exe = shutil.which("odoo-ops")
    argv = [*([exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]), *args]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, errors="replace",
            timeout=TIMEOUT, preexec_fn=_guard, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        COUNTS["outcome:hang"] += 1
        pytest.fail(f"odoo-ops {' '.join(args)[:200]} did not finish in {TIMEOUT:.0f} s")
    COUNTS["cli runs"] += 1
    output = proc.stdout + proc.stderr
    if "Traceback" in output or "unexpected error" in output:
        COUNTS["outcome:traceback"] += 1
    if proc.returncode == 3 or proc.returncode < 0:
        COUNTS["outcome:crash"] += 1
    assert "Traceback" not in output, output[-3000:]
    assert "unexpected error" not in output, output[-3000:]
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}: {output[-2000:]}"
    assert proc.returncode != 3, output[-3000:]
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Refused with ``error: ...`` (one line, plus an optional hint) naming the file.

    click's own refusal of an option value (``Usage: ...`` then ``Error: ...``,
    exit 2) counts too: it is the same one-line error in click's words.
    """
    assert proc.returncode not in (0, 3), proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("warning: ")]
    if proc.returncode == 2 and lines and lines[0].startswith("Usage: "):
        lines = [line for line in lines if line.startswith("Error: ")]
        assert len(lines) == 1, proc.stderr[-2000:]
    assert lines and lines[0].lower().startswith("error: "), proc.stderr[-2000:]
    assert all(line.startswith("hint: ") for line in lines[1:]), proc.stderr[-2000:]
    assert len(lines[0]) < 400, lines[0][:400]
    for needle in needles:
        assert needle in lines[0], lines[0]


# ---------------------------------------------------------------------------
# addon manifests: a finding for the addon, every command finishes
# ---------------------------------------------------------------------------


def manifest_project(root: Path, dsn: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    addons = root / "addons"
    (addons / "good").mkdir(parents=True)
    (addons / "good" / "__manifest__.py").write_text(
        "{'name': 'Good', 'version': '18.0.1.0.0', 'depends': ['base'], 'license': 'LGPL-3'}\n"
    )
    lines = ['[deployments.prod]', 'series = "18.0"', 'addons_paths = ["addons"]']
    if dsn:
        lines.append(f"dsn = {json.dumps(dsn)}")
    (root / "odoo-ops.toml").write_text("\n".join(lines) + "\n")
    return root


def test_hostile_manifests_are_findings_of_addons_list(tmp_path: Path) -> None:
    """One addon per variant on one addons path: each is reported, the good one listed."""
    root = manifest_project(tmp_path / "project")
    evil = {f"evil_{v.replace('-', '_')}": v for v in VARIANTS}
    for name, variant in evil.items():
        plant(root / "addons" / name / "__manifest__.py", variant, "manifest")
    proc = odoo_ops("addons", "list", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "good" in json.dumps(data["addons"])
    bad = {f["addon"]: f for f in data["findings"] if f.get("addon") in evil}
    assert set(bad) == set(evil), data["findings"]
    for finding in bad.values():
        assert finding["code"].endswith("invalid-manifest")
        assert "__manifest__.py" in finding["message"] and "\n" not in finding["message"]
    assert "FIFO" in bad["evil_fifo"]["message"]
    assert "character device" in bad["evil_dev_zero"]["message"]
    assert "larger than 1 MiB" in bad["evil_sparse_8gib"]["message"]
    assert "larger than 1 MiB" in bad["evil_huge_10mb"]["message"]
    assert "not valid UTF-8" in bad["evil_bad_utf8"]["message"]


@pytest.mark.pg
def test_hostile_manifests_with_a_database(odoo_db: Callable[..., Any], tmp_path: Path) -> None:
    """The commands of the report that hung or grew without end: check, modules plan,
    audit modules (each reads every manifest of the addons path)."""
    from tests.support import odoo_schema

    db = odoo_db(18, seed=True)
    evil = [f"evil_{v.replace('-', '_')}" for v in ("fifo", "dev-zero", "dev-urandom")]
    root = manifest_project(tmp_path / "project", db.dsn)
    with db.connect() as conn:  # installed: an unreadable manifest is critical
        for name, variant in zip(evil, ("fifo", "dev-zero", "dev-urandom"), strict=True):
            odoo_schema.add_module(conn, name, state="installed", latest_version="18.0.1.0",
                                   author="tests")  # fmt: skip
            plant(root / "addons" / name / "__manifest__.py", variant, "manifest")
    audit = odoo_ops("audit", "modules", "--format", "json", cwd=root)
    rows = {m["name"]: m for m in json.loads(audit.stdout)["modules"]}
    assert all(rows[name]["verdict"] == "invalid" for name in evil), rows
    plan = odoo_ops("modules", "plan", "good", cwd=root)
    assert plan.returncode in (0, 1), plan.stderr
    check = odoo_ops("check", "--format", "json", cwd=root)
    assert all(name in check.stdout for name in evil), check.stdout[-2000:]
    assert "__manifest__.py" in check.stdout


# ---------------------------------------------------------------------------
# configuration files: one clean error naming the file and its kind
# ---------------------------------------------------------------------------


def toml(root: Path, **settings: str) -> None:
    body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    (root / "odoo-ops.toml").write_text(f'[deployments.prod]\nseries = "18.0"\n{body}')


@pytest.mark.parametrize("variant", [*SPECIAL, "binary", "nested"])
def test_hostile_odoo_ops_toml(tmp_path: Path, variant: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    plant(root / "odoo-ops.toml", variant, "toml")
    proc = odoo_ops("config", "validate", cwd=root)
    assert_one_line_error(proc, "odoo-ops.toml")


@pytest.mark.parametrize("variant", SPECIAL)
def test_hostile_env_file(tmp_path: Path, variant: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    toml(root, env_file=".env")
    plant(root / ".env", variant, "env")
    assert_one_line_error(odoo_ops("config", "validate", cwd=root), ".env")


@pytest.mark.parametrize("variant", SPECIAL)
def test_hostile_odoo_conf(tmp_path: Path, variant: str) -> None:
    """config validate warns; check reports it (conf checks skipped with the reason)."""
    root = tmp_path / "project"
    root.mkdir()
    toml(root, odoo_conf="odoo.conf")
    plant(root / "odoo.conf", variant, "ini")
    command = ("check", "--format", "json") if variant == "fifo" else ("config", "validate")
    proc = odoo_ops(*command, cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    what = {"fifo": "is a FIFO", "directory": "is a directory", "sparse-8gib": "is larger than"}
    expected = what.get(variant, "is a character device")
    assert f"odoo.conf: odoo.conf {expected}" in proc.stdout + proc.stderr


@pytest.mark.parametrize("variant", [*SPECIAL, "nested"])
def test_hostile_compose_file(tmp_path: Path, variant: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    plant(root / "compose.yaml", variant, "yaml")
    proc = odoo_ops("config", "show", cwd=root)
    assert_one_line_error(proc, "compose")


@pytest.mark.parametrize("variant", [*SPECIAL, "binary", "nested"])
def test_hostile_repos_file(tmp_path: Path, variant: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    plant(root / "repos.yaml", variant, "yaml")
    proc = odoo_ops("oca", "sync", "--repos-file", "repos.yaml", cwd=root)
    assert_one_line_error(proc, "repos")


# ---------------------------------------------------------------------------
# finding 9: 100,000-character arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("check", "x" * DEPTH),
        ("-C", "x" * DEPTH, "check"),
        ("-C", "/tmp/" + "x" * DEPTH, "addons", "list"),
        ("--config", "x" * DEPTH, "config", "validate"),
        ("-c", "x" * DEPTH, "check"),
        ("oca", "sync", "--repos-file", "x" * DEPTH),
    ],
    ids=["check-PROJECT", "-C", "-C-abs", "--config", "-c", "repos-file"],
)
def test_long_path_arguments_are_one_line_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    root = tmp_path / "project"
    root.mkdir()
    proc = odoo_ops(*args, cwd=root)
    assert_one_line_error(proc)
    assert "too long" in proc.stderr
    assert len(proc.stderr) < 1000  # the argument is cut, not echoed whole


def test_long_path_settings_are_one_line_errors(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    for setting in ("odoo_conf", "backup_dir"):
        toml(root, **{setting: "y" * DEPTH})
        proc = odoo_ops("check", cwd=root)
        assert_one_line_error(proc)
        assert "too long" in proc.stderr


@pytest.mark.parametrize("variant", CONTENT)
@pytest.mark.parametrize("kind", ["toml", "env", "ini", "yaml", "repos", "manifest"])
def test_content_variants_in_process(tmp_path: Path, variant: str, kind: str) -> None:
    """Regular files with hostile content, for every kind: a one-line error (or data)."""
    path = tmp_path / {"toml": "odoo-ops.toml", "env": ".env", "ini": "odoo.conf",
                       "yaml": "compose.yaml", "repos": "repos.yaml",
                       "manifest": "addon/__manifest__.py"}[kind]  # fmt: skip
    plant(path, variant, "yaml" if kind == "repos" else kind)
    readers: dict[str, Callable[[], object]] = {
        "toml": lambda: load_config(path, environ={}),
        "env": lambda: read_env_file(path),
        "ini": lambda: read_odoo_conf(path, {}),
        "yaml": lambda: load_compose(path),
        "repos": lambda: from_repos_yaml(path, {}),
        "manifest": lambda: read_manifest(path.parent),
    }
    try:
        readers[kind]()
    except OpsError as exc:
        assert "\n" not in exc.message and len(exc.message) < 400, exc.message[:400]
        assert path.name in exc.message
        if variant == "huge-10mb":
            assert "larger than" in exc.message
    else:  # only absurd but valid text is read: a long .env / odoo.conf line
        assert variant == "nested" and kind in ("env", "ini")


# ---------------------------------------------------------------------------
# the reader itself (no device is ever opened in this process)
# ---------------------------------------------------------------------------


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"pipe: odoo\.conf is a FIFO \(named pipe\)"):
        read_input_bytes(fifo, kind="odoo.conf", limit=100, error=ConfigError)
    assert feed_regular_file(fifo, lambda chunk: None) is False
    COUNTS["reader"] += 2


def test_symlink_to_a_regular_file_is_followed_a_directory_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text("{'name': 'x'}")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert read_input_text(link, kind="addon manifest", limit=MANIFEST_LIMIT) == "{'name': 'x'}"
    with pytest.raises(OpsError, match="is a directory, not a regular file"):
        read_input_bytes(tmp_path, kind="thing", limit=10)
    COUNTS["reader"] += 2


def test_size_limit_holds_when_the_size_lies(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * 101)
    with pytest.raises(OpsError, match="larger than 100 bytes"):
        read_input_bytes(big, kind="thing", limit=100)
    assert read_input_bytes(big, kind="thing", limit=101) == b"a" * 101
    # /proc files say they are empty: the limit is enforced on what is read
    with pytest.raises(OpsError, match="larger than 10 bytes"):
        read_input_bytes("/proc/self/status", kind="thing", limit=10)
    COUNTS["reader"] += 3


def test_invalid_utf8_names_the_file_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=caf\xe9\n")
    with pytest.raises(ConfigError, match=r"\.env: \.env file is not valid UTF-8 .* at byte 5"):
        read_env_file(path)
    COUNTS["reader"] += 1


def test_missing_and_unsafe_paths(tmp_path: Path) -> None:
    assert read_input_bytes(tmp_path / "none", kind="x", limit=1, missing_ok=True) is None
    with pytest.raises(OpsError, match="none: x not found"):
        read_input_bytes(tmp_path / "none", kind="x", limit=1)
    with pytest.raises(OpsError, match="path is too long"):
        read_input_bytes("z" * DEPTH, kind="x", limit=1)
    with pytest.raises(ConfigError, match="contains a NUL byte"):
        check_input_path("a\0b", what="odoo_conf", error=ConfigError)
    COUNTS["reader"] += 4


def test_scan_reports_fifo_and_directory_manifests_and_keeps_the_rest(tmp_path: Path) -> None:
    addons = tmp_path / "addons"
    for name in ("ok", "pipe", "dir"):
        (addons / name).mkdir(parents=True)
    (addons / "ok" / "__manifest__.py").write_text("{'name': 'ok'}")
    os.mkfifo(addons / "pipe" / "__manifest__.py")
    (addons / "dir" / "__manifest__.py").mkdir()
    for cache_dir in (None, tmp_path / "cache"):
        scan = scan_addons_path([addons], cache_dir=cache_dir)
        assert set(scan.addons) == {"ok"}
        errors = {bad.name: bad.error for bad in scan.invalid}
        assert set(errors) == {"pipe", "dir"}
        assert "is a FIFO" in errors["pipe"] and "is a directory" in errors["dir"]
    COUNTS["reader"] += 4


# ---------------------------------------------------------------------------
# properties: random bytes and nesting through the real parsers
# ---------------------------------------------------------------------------

_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_OPENERS = {"manifest": "[({", "toml": "[{", "yaml": "[{", "json": "[{"}


def _nested(rng_seed: int, depth: int, openers: str) -> str:
    rng = random.Random(rng_seed)
    return "".join(rng.choice(openers) for _ in range(depth))


@_SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_manifest_bytes(tmp_path: Path, data: bytes) -> None:
    addon = tmp_path / "addon"
    addon.mkdir(exist_ok=True)
    (addon / "__manifest__.py").write_bytes(data)
    COUNTS["hypothesis:manifest bytes"] += 1
    try:
        assert isinstance(read_manifest(addon), dict)
    except ManifestError as exc:
        assert "__manifest__.py" in exc.message and "\n" not in exc.message


@_SETTINGS
@given(depth=st.integers(1, 200_000), seed=st.integers(0, 2**16))
def test_random_manifest_nesting(tmp_path: Path, depth: int, seed: int) -> None:
    addon = tmp_path / "addon"
    addon.mkdir(exist_ok=True)
    (addon / "__manifest__.py").write_text("{'a': " + _nested(seed, depth, "[({") + "}")
    COUNTS["hypothesis:manifest nesting"] += 1
    with pytest.raises(ManifestError):
        read_manifest(addon)


@_SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_toml_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "odoo-ops.toml"
    path.write_bytes(data)
    COUNTS["hypothesis:toml bytes"] += 1
    try:
        load_config(path, environ={})
    except ConfigError as exc:
        assert "\n" not in exc.message


@settings(  # a YAML parse that hits the recursion limit takes ~1 s: fewer examples
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    depth=st.integers(1, 200_000),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["toml", "yaml", "repos"]),
)
def test_random_config_nesting(tmp_path: Path, depth: int, seed: int, kind: str) -> None:
    """Absurd nesting in odoo-ops.toml, a compose file, a repos file: a ConfigError."""
    COUNTS[f"hypothesis:{kind} nesting"] += 1
    text = _nested(seed, depth, _OPENERS["toml" if kind == "toml" else "yaml"])
    if kind == "toml":
        path = tmp_path / "odoo-ops.toml"
        path.write_text("a = " + text)
        with pytest.raises(ConfigError):
            load_config(path, environ={})
    elif kind == "yaml":
        path = tmp_path / "compose.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError):
            load_compose(path)
    else:
        path = tmp_path / "repos.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError):
            from_repos_yaml(path, {})


@_SETTINGS
@given(data=st.binary(max_size=4096), kind=st.sampled_from(["env", "odoo.conf", "compose"]))
def test_random_config_bytes(tmp_path: Path, data: bytes, kind: str) -> None:
    COUNTS[f"hypothesis:{kind} bytes"] += 1
    path = tmp_path / kind
    path.write_bytes(data)
    try:
        if kind == "env":
            read_env_file(path)
        elif kind == "odoo.conf":
            read_odoo_conf(path, {})
        else:
            load_compose(path)
    except ConfigError as exc:
        assert "\n" not in exc.message.strip()
