"""Hostile names and backup manifests (issue 19, findings 4, 5, 8 and the loose ends of 9/10).

Names (database, backup, deployment, tag) come from the command line, the
config and manifests: random ones — ``..``, ``/``, NUL, unicode, 100,000
characters — are either refused with a one-line error or accepted, and then
every path built from them stays under its root.

Manifests are mutated at random (types, missing keys, paths outside the
backup, unknown format versions, other names, garbage bytes): ``backup list``
still lists every backup and shows the damaged one as DAMAGED with why (table
and JSON), ``backup verify`` fails with a reason, a command taking the
damaged backup by name gives a clean error — never a traceback, never exit 3.

No database is needed: the backups here are real directories with real
checksums, built the way ``backup create`` lays them out.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo_ops.backup import layout
from odoo_ops.backup.integrity import verify_entry
from odoo_ops.cli.main import main
from odoo_ops.errors import UsageError
from odoo_ops.names import (
    InvalidName,
    check_backup_name,
    check_database_name,
    check_deployment_name,
    check_relative,
    check_supported_series,
    check_tag,
    path_under,
)

CHECKS = {
    "database": check_database_name,
    "backup": check_backup_name,
    "deployment": check_deployment_name,
    "tag": check_tag,
}

hostile_text = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from([*"aZ09._-/\\\0 \n:@+$~é€", "..", "../"]), max_size=20).map("".join),
    st.sampled_from(
        [
            "..", ".", "/", "", "-rf", ".hidden", "a/../../b", "db/../../../x", "/etc/passwd",
            "x" * 64, "x" * 100_000, "a\0b", "ok.partial", "a..b", "ünïcode", "a b", "\u202e",
            "db\n", "~root", "${HOME}", "C:\\x", "a" * 63,
        ]
    ),
)

fast = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- names ---------------------------------------------------------------------------


@fast
@given(kind=st.sampled_from(sorted(CHECKS)), value=hostile_text)
def test_names_are_refused_or_stay_under_their_root(
    kind: str, value: str, tmp_path: Path
) -> None:
    try:
        accepted = CHECKS[kind](value)
    except InvalidName as exc:
        assert isinstance(exc, UsageError) and exc.exit_code == 2
        assert "\n" not in exc.message and len(exc.message) < 300
        return
    assert accepted == value
    assert "/" not in value and "\0" not in value and value not in (".", "..")
    assert not value.startswith(("-", "."))
    if kind == "database":
        assert len(value.encode()) <= 63
    root = tmp_path / "root"
    built = path_under(root, value)
    assert built.parent == root
    resolved = Path(os.path.realpath(built))
    assert Path(os.path.realpath(root)) in resolved.parents


@fast
@given(parts=st.lists(hostile_text, min_size=1, max_size=3))
def test_path_under_never_leaves_its_root(parts: list[str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    try:
        built = path_under(root, *parts)
    except InvalidName as exc:
        assert exc.exit_code == 2 and exc.message
        return
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(built))
    assert real == real_root or real_root in real.parents


def test_path_under_refuses_a_link_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "out").symlink_to("/etc")
    with pytest.raises(InvalidName, match="leads outside"):
        path_under(root, "out", "passwd")
    assert path_under(root, "in", "x") == root / "in" / "x"


@pytest.mark.parametrize(
    "name", ["odoo", "prod-2024", "my_db.v2", "A", "x" * 63, "db1", "Odoo_18-staging"]
)
def test_real_database_names_pass(name: str) -> None:
    assert check_database_name(name) == name


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../x", "a/b", "-U", "a\0b", "x" * 64, "é", "a b", ".hidden"]
)
def test_bad_database_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        check_database_name(name)


@pytest.mark.parametrize(
    ("value", "expected"), [("16.0", "16.0"), ("17", "17.0"), (18.0, "18.0"), ("19.0", "19.0")]
)
def test_supported_series(value: object, expected: str) -> None:
    assert check_supported_series(value) == expected


@pytest.mark.parametrize("value", ["99.0", "15.0", "20.0", "18.1", "eighteen", "", "1e3"])
def test_unsupported_series_are_refused(value: str) -> None:
    with pytest.raises(InvalidName):
        check_supported_series(value)


@pytest.mark.parametrize(
    "rel", ["/etc/passwd", "../other/db.dump", "a/../b", "./a", "a//b", "a/", "", "a\0b", "a\\b"]
)
def test_manifest_paths_must_be_plain_relative(rel: str) -> None:
    with pytest.raises(InvalidName):
        check_relative(rel)


# -- a real backup directory, laid out as `backup create` writes it --------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def good_manifest(name: str, files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "format": layout.FORMAT,
        "format_version": layout.FORMAT_VERSION,
        "name": name,
        "deployment": "prod",
        "database": "odoo_prod",
        "series": "18.0",
        "created_at": "2025-01-02T03:04:05Z",
        "finished_at": "2025-01-02T03:04:06Z",
        "tags": ["nightly"],
        "dump": {"path": "db.dump", "format": "custom", "outer_compression": None},
        "filestore": {"path": "filestore.tar.zst", "files": 1, "bytes": 5, "directories": 1},
        "encryption": None,
        "row_counts": {"res_users": 2},
        "modules": {"base": "18.0.1.3"},
        "files": {rel: {"size": len(data), "sha256": _sha(data)} for rel, data in files.items()},
    }


def write_backup(
    backup_dir: Path, name: str, manifest: dict[str, Any] | None = None, raw: bytes | None = None
) -> Path:
    """A backup directory with real files, manifest and SHA256SUMS (resealed over ``manifest``)."""
    path = backup_dir / name
    path.mkdir(parents=True)
    files = {"db.dump": b"PGDMP" + os.urandom(200), "filestore.tar.zst": os.urandom(120)}
    for rel, data in files.items():
        (path / rel).write_bytes(data)
    data = manifest if manifest is not None else good_manifest(name, files)
    body = raw if raw is not None else layout.manifest_bytes(data)
    (path / layout.MANIFEST).write_bytes(body)
    sums = {rel: {"sha256": _sha(d)} for rel, d in files.items()}
    sums[layout.MANIFEST] = {"sha256": _sha(body)}
    (path / layout.SUMS).write_bytes(layout.sums_bytes(sums))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "odoo-ops.toml").write_text(
        '[deployments.prod]\ndatabase = "odoo_prod"\ndata_dir = "data"\nbackup_dir = "backups"\n'
        'dsn = "host=127.0.0.1 port=1 dbname=odoo_prod connect_timeout=1"\n'
    )
    yield root


def run(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(["-q", *args, "-C", str(root)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_good_fake_backup_verifies(project: Path) -> None:
    path = write_backup(project / "backups", "good")
    result = verify_entry(layout.find_backup(project / "backups", "good"), record=False)
    assert result.ok, result.problems
    assert path.is_dir()


# -- manifest mutations -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
)
KEYS = [
    "format", "format_version", "name", "database", "deployment", "created_at", "tags",
    "files", "dump", "filestore", "row_counts", "modules", "encryption",
    "dump.path", "dump.outer_compression", "filestore.path", "filestore.files",
    "files.db.dump", "files.db.dump.size", "files.db.dump.sha256",
]

NAMED: dict[str, Any] = {
    "files-is-a-string": ("files", "x"),
    "files-is-a-list": ("files", ["db.dump"]),
    "dump-path-absolute": ("dump.path", "/etc/passwd"),
    "dump-path-dotdot": ("dump.path", "../other/db.dump"),
    "filestore-path-absolute": ("filestore.path", "/etc/shadow"),
    "files-lists-outside": ("files", {"../x": {"size": 1, "sha256": "0" * 64}}),
    "format-version-2": ("format_version", 2),
    "format-version-string": ("format_version", "1"),
    "other-name": ("name", "someone-else"),
    "database-traversal": ("database", "../../etc"),
    "size-negative": ("files.db.dump.size", -1),
    "sha-short": ("files.db.dump.sha256", "abc"),
    "row-counts-strings": ("row_counts", {"res_users": "many"}),
    "tags-dict": ("tags", {"a": 1}),
}


def mutate(manifest: dict[str, Any], key: str, value: Any, delete: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(manifest)
    if key.startswith("files.db.dump"):
        holder, leaf = out["files"], "db.dump"
        rest = key[len("files.db.dump") :].lstrip(".")
        if rest:
            holder, leaf = holder["db.dump"], rest
    elif "." in key:
        head, leaf = key.split(".", 1)
        holder = out[head]
    else:
        holder, leaf = out, key
    if delete:
        holder.pop(leaf, None)
    else:
        holder[leaf] = value
    return out


def _check_outcome(project: Path, capsys: pytest.CaptureFixture[str], name: str) -> bool:
    """list/verify/restore on a possibly damaged backup; True when it was listed as DAMAGED."""
    backup_dir = project / "backups"
    code, out, err = run(project, capsys, "backup", "list", "--format", "json")
    assert code == 0, (out, err)
    listed = {b["name"]: b for b in json.loads(out)["backups"]}
    assert set(listed) == {"good", name}  # one bad manifest never hides the others
    assert listed["good"]["error"] is None
    damaged = listed[name]["error"]
    code, table, err = run(project, capsys, "backup", "list", "--format", "csv")
    assert code == 0, err
    if damaged:
        assert "DAMAGED" in table and "\n" not in damaged
    entry = layout.find_backup(backup_dir, name)
    if entry.manifest is not None:
        # accepted: every path it names is inside the backup
        for rel in [entry.manifest.dump["path"], *entry.manifest.files]:
            real = Path(os.path.realpath(layout.member_path(entry, rel)))
            assert Path(os.path.realpath(entry.path)) in real.parents
    code, out, err = run(project, capsys, "backup", "verify", name)
    assert code in (0, 1), (code, out, err)
    assert "Traceback" not in out + err and "unexpected error" not in err
    if damaged:
        assert code == 1 and "FAILED" in out
    if damaged:
        for command in (["restore", name, "--to", "scratch_db", "--no-verify"],
                        ["test-restore", name], ["export-odoo", name, str(project / "o.zip")]):
            code, out, err = run(project, capsys, "backup", *command)
            assert code in (1, 2), (command, code, out, err)
            assert err.startswith("error: ") and "Traceback" not in err, err
            assert "damaged" in err or "fails verification" in err, err
    return bool(damaged)


@pytest.mark.parametrize("case", sorted(NAMED))
def test_named_manifest_damage(
    case: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_dir = project / "backups"
    write_backup(backup_dir, "good")
    files = {"db.dump": b"x", "filestore.tar.zst": b"y"}
    key, value = NAMED[case]
    bad = mutate(good_manifest("bad", files), key, value)
    write_backup(backup_dir, "bad", bad)
    assert _check_outcome(project, capsys, "bad"), f"{case} was not reported as damaged"


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b"null", b"\xff\xfe", b"", b"[" * 100_000, b'"just a string"'],
    ids=["not-json", "list", "null", "binary", "empty", "deep", "string"],
)
def test_unparsable_manifests(
    raw: bytes, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_backup(project / "backups", "good")
    write_backup(project / "backups", "bad", raw=raw)
    assert _check_outcome(project, capsys, "bad")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.sampled_from(KEYS), value=json_values, delete=st.booleans())
def test_random_manifest_mutations(
    key: str, value: Any, delete: bool, tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path_factory.mktemp("mut")
    (root / "odoo-ops.toml").write_text(
        '[deployments.prod]\ndatabase = "odoo_prod"\ndata_dir = "data"\nbackup_dir = "backups"\n'
    )
    write_backup(root / "backups", "good")
    files = {"db.dump": b"x", "filestore.tar.zst": b"y"}
    write_backup(root / "backups", "bad", mutate(good_manifest("bad", files), key, value, delete))
    _check_outcome(root, capsys, "bad")


def test_verify_refuses_extra_directories_and_links(project: Path) -> None:
    backup_dir = project / "backups"
    path = write_backup(backup_dir, "good")
    (path / "empty").mkdir()
    (path / "db.dump.link").symlink_to("/etc/passwd")
    result = verify_entry(layout.find_backup(backup_dir, "good"), record=False)
    named = {p.file: p.message for p in result.problems}
    assert not result.ok
    assert "unexpected directory" in named["empty"]
    assert "unexpected file" in named["db.dump.link"]


def test_sums_listing_a_path_outside_is_refused(project: Path) -> None:
    backup_dir = project / "backups"
    path = write_backup(backup_dir, "good")
    (path / layout.MANIFEST).unlink()
    (path / layout.SUMS).write_text(f"{'0' * 64}  ../../etc/passwd\n")
    result = verify_entry(layout.find_backup(backup_dir, "good"), record=False)
    assert not result.ok
    assert any("not a plain relative path" in p.message for p in result.problems), result.problems


def test_fifo_manifest_is_damaged_not_a_hang(project: Path) -> None:
    backup_dir = project / "backups"
    path = write_backup(backup_dir, "good")
    (path / layout.MANIFEST).unlink()
    os.mkfifo(path / layout.MANIFEST)
    (entry,) = layout.list_backups(backup_dir)
    assert entry.manifest is None and "cannot be read" in (entry.error or "")
    assert not verify_entry(entry, record=False).ok


def test_a_symlinked_backup_directory_is_damaged(project: Path, tmp_path: Path) -> None:
    elsewhere = write_backup(tmp_path / "elsewhere", "good")
    (project / "backups").mkdir()
    (project / "backups" / "good").symlink_to(elsewhere)
    (entry,) = layout.list_backups(project / "backups")
    assert entry.manifest is None and "symbolic link" in (entry.error or "")
    assert not verify_entry(entry, record=False).ok


@fast
@given(name=hostile_text, to=hostile_text)
def test_restore_names_from_the_command_line(
    name: str, to: str, tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if name.startswith("-") or to.startswith("-") or "\0" in name + to:
        return  # an option to click, or a value no argv can hold
    root = tmp_path_factory.mktemp("names")
    (root / "odoo-ops.toml").write_text(
        '[deployments.prod]\ndatabase = "odoo_prod"\ndata_dir = "data"\nbackup_dir = "backups"\n'
    )
    (root / "backups").mkdir()
    code, out, err = run(root, capsys, "backup", "restore", name, "--to", to, "--dry-run")
    assert code in (1, 2), (code, out, err)
    assert err.startswith("error: ") or err.startswith("Error: "), err
    assert len(err.splitlines()[0]) < 400
    assert sorted(p.name for p in root.iterdir()) == ["backups", "odoo-ops.toml"]


# -- names in odoo-ops.toml and deployment options ---------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[deployments.prod]\nseries = "99.0"\n', "Odoo series 99.0 is not supported"),
        ('[deployments.prod]\nseries = 15\n', "Odoo series 15.0 is not supported"),
        ('[deployments."../x"]\ndatabase = "a"\n', "invalid deployment name"),
        ('[deployments."a b"]\n', "invalid deployment name"),
        ('[deployments.prod]\ndatabase = "../../etc"\n', "invalid database name"),
        ('[deployments.prod]\ndatabase = "x/y"\n', "invalid database name"),
    ],
)
def test_config_names_and_series(
    toml: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from odoo_ops.config.loader import load_config
    from odoo_ops.errors import ConfigError

    (tmp_path / "odoo-ops.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "odoo-ops.toml", environ={})
    code, out, err = run(tmp_path, capsys, "config", "show")
    assert code == 2 and err.startswith("error: ") and message in err, (code, out, err)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("-d", "../../x", "invalid database name"),
        ("-d", "x" * 100_000, "database name too long"),
        ("-D", "../x", "invalid deployment name"),
        ("-D", "x" * 100_000, "deployment name too long"),
    ],
)
def test_deployment_options_are_checked(
    option: str, value: str, message: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(project, capsys, "backup", "list", option, value)
    assert code == 2 and err.startswith(f"error: {message}"), (code, err[:300])
    assert len(err) < 400
