"""Discovery on an addons path: globs, shadowing, invalid manifests, cache, parallel parsing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from odoo_ops.addons import scan as scan_module
from odoo_ops.addons import scan_addons_path, split_addons_path
from odoo_ops.addons.cache import FILE_NAME, ManifestCache
from tests.unit.addons.helpers import addon, raw_addon


def test_split_addons_path() -> None:
    assert split_addons_path(" a, b ,,c") == ["a", "b", "c"]
    assert split_addons_path(["a,b", Path("c")]) == ["a", "b", "c"]


def test_globs_relative_paths_and_home(tmp_path: Path) -> None:
    addon(tmp_path / "oca" / "repo_b", "b_one")
    addon(tmp_path / "oca" / "repo_a", "a_one")
    addon(tmp_path / "oca" / "repo_a", "a_two")
    addon(tmp_path / "custom", "mine")
    home = Path(os.environ["HOME"])  # a temporary directory (tests/conftest.py)
    addon(home / "extra", "from_home")
    scan = scan_addons_path(["custom", "oca/*", "~/extra"], base_dir=tmp_path)
    assert list(scan.addons) == ["mine", "a_one", "a_two", "b_one", "from_home"]
    assert [(e.raw, e.path.name, e.addon_count, e.status) for e in scan.entries] == [
        ("custom", "custom", 1, "ok"),
        ("oca/*", "repo_a", 2, "ok"),
        ("oca/*", "repo_b", 1, "ok"),
        ("~/extra", "extra", 1, "ok"),
    ]
    assert scan.addons["mine"].path == tmp_path / "custom" / "mine"
    assert not scan.invalid and not scan.shadowed


def test_comma_separated_string(tmp_path: Path) -> None:
    addon(tmp_path / "a", "x")
    addon(tmp_path / "b", "y")
    scan = scan_addons_path(f"{tmp_path / 'a'},{tmp_path / 'b'}")
    assert sorted(scan.addons) == ["x", "y"]


def test_hidden_and_non_addon_directories_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "addons"
    addon(root, "real")
    addon(root, ".hidden")
    (root / "not_an_addon" / "static").mkdir(parents=True)
    (root / "README.md").write_text("hello")
    (root / "__pycache__").mkdir()
    scan = scan_addons_path([root])
    assert list(scan.addons) == ["real"]
    assert scan.entries[0].addon_count == 1


def test_first_on_the_path_wins(tmp_path: Path) -> None:
    addon(tmp_path / "first", "dup", version="18.0.2.0.0")
    addon(tmp_path / "second", "dup", version="18.0.1.0.0")
    addon(tmp_path / "third", "dup", version="18.0.3.0.0")
    scan = scan_addons_path(["first", "second", "third"], base_dir=tmp_path)
    assert scan.addons["dup"].version == "18.0.2.0.0"
    assert [(s.name, s.winner_path, s.shadowed_path) for s in scan.shadowed] == [
        ("dup", tmp_path / "first" / "dup", tmp_path / "second" / "dup"),
        ("dup", tmp_path / "first" / "dup", tmp_path / "third" / "dup"),
    ]


def test_invalid_manifests_are_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "custom"
    addon(root, "a_good")
    raw_addon(root, "b_syntax", "{\n 'name': 'x',\n 'depends': ['base'\n")
    raw_addon(root, "c_list", "['not', 'a', 'dict']")
    raw_addon(root, "d_types", "{\n 'name': 'x',\n 'depends': 'base',\n}")
    raw_addon(root, "e_old", "{'name': 'x'}", manifest_name="__openerp__.py")
    addon(root, "f_good")
    scan = scan_addons_path(["custom"], base_dir=tmp_path)
    assert list(scan.addons) == ["a_good", "f_good"]
    errors = {i.name: i.error for i in scan.invalid}
    assert errors["b_syntax"].startswith("custom/b_syntax/__manifest__.py:3: ")
    assert (
        errors["c_list"] == "custom/c_list/__manifest__.py:1: the manifest must be a dict, not list"
    )
    assert errors["d_types"].startswith("custom/d_types/__manifest__.py:3: 'depends' must be")
    assert errors["e_old"].startswith("custom/e_old/__openerp__.py: __openerp__.py is not read")
    assert {i.name: i.hint for i in scan.invalid}["e_old"] == "rename it to __manifest__.py"
    assert scan.invalid_names == {"b_syntax", "c_list", "d_types", "e_old"}
    assert scan.entries[0].addon_count == 6


def test_an_invalid_winner_still_shadows(tmp_path: Path) -> None:
    raw_addon(tmp_path / "first", "dup", "{broken")
    addon(tmp_path / "second", "dup")
    scan = scan_addons_path(["first", "second"], base_dir=tmp_path)
    assert "dup" not in scan.addons
    assert scan.invalid_names == {"dup"}
    assert scan.shadowed[0].winner_path == tmp_path / "first" / "dup"


def test_entry_statuses(tmp_path: Path) -> None:
    addon(tmp_path / "good", "x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    addon(tmp_path, "is_addon")
    entries = ["good", "missing", "file.txt", "is_addon", "empty", "good", "nomatch/*"]
    scan = scan_addons_path(entries, base_dir=tmp_path)
    assert [(e.raw, e.status, e.exists) for e in scan.entries] == [
        ("good", "ok", True),
        ("missing", "missing", False),
        ("file.txt", "not-a-directory", True),
        ("is_addon", "is-an-addon", True),
        ("empty", "empty", True),
        ("good", "duplicate", True),
        ("nomatch/*", "missing", False),
    ]
    assert list(scan.addons) == ["x"]


def _tree(root: Path, count: int) -> None:
    for i in range(count):
        addon(root, f"addon_{i:04d}", depends=["base"] + ([f"addon_{i - 1:04d}"] if i else []))
    raw_addon(root, "zz_broken", "{'depends': 'x'}")


def test_cache_gives_the_same_result_and_is_used(tmp_path: Path) -> None:
    _tree(tmp_path / "addons", 20)
    cache_dir = tmp_path / "cache"
    cold = scan_addons_path(["addons"], base_dir=tmp_path)
    first = scan_addons_path(["addons"], base_dir=tmp_path, cache_dir=cache_dir)
    assert (cache_dir / FILE_NAME).is_file()
    cache = ManifestCache(cache_dir)
    assert len(cache.entries) == 21
    warm = scan_addons_path(["addons"], base_dir=tmp_path, cache_dir=cache_dir)
    assert cold.addons == first.addons == warm.addons
    assert cold.invalid == first.invalid == warm.invalid

    calls: list[int] = []
    real = scan_module.parse_record
    monkey = pytest.MonkeyPatch()
    monkey.setattr(scan_module, "parse_record", lambda d: calls.append(1) or real(d))
    try:
        again = scan_addons_path(["addons"], base_dir=tmp_path, cache_dir=cache_dir)
    finally:
        monkey.undo()
    assert calls == []  # nothing parsed on a warm run
    assert again.addons == cold.addons


def test_cache_invalidation_even_with_same_size_and_mtime(tmp_path: Path) -> None:
    root = tmp_path / "addons"
    path = raw_addon(root, "x", "{'version': '18.0.1.0.0', 'depends': ['aaaa']}")
    cache_dir = tmp_path / "cache"
    assert scan_addons_path([root], cache_dir=cache_dir).addons["x"].depends == ("aaaa",)
    manifest = path / "__manifest__.py"
    st = manifest.stat()
    manifest.write_text("{'version': '18.0.1.0.0', 'depends': ['bbbb']}")
    os.utime(manifest, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    assert manifest.stat().st_size == st.st_size
    assert scan_addons_path([root], cache_dir=cache_dir).addons["x"].depends == ("bbbb",)
    # a valid manifest that becomes invalid, and back
    manifest.write_text("{'depends': 'x'}")
    scan = scan_addons_path([root], cache_dir=cache_dir)
    assert "x" not in scan.addons and scan.invalid_names == {"x"}
    manifest.write_text("{'depends': ['cccc']}")
    assert scan_addons_path([root], cache_dir=cache_dir).addons["x"].depends == ("cccc",)


def test_cache_names_the_file_of_this_scan(tmp_path: Path) -> None:
    raw_addon(tmp_path / "one" / "addons", "bad", "{'depends': 'x'}")
    cache_dir = tmp_path / "cache"
    a = scan_addons_path(["addons"], base_dir=tmp_path / "one", cache_dir=cache_dir)
    b = scan_addons_path(["one/addons"], base_dir=tmp_path, cache_dir=cache_dir)
    assert a.invalid[0].error.startswith("addons/bad/__manifest__.py:1:")
    assert b.invalid[0].error.startswith("one/addons/bad/__manifest__.py:1:")


@pytest.mark.parametrize("content", ["not json", '{"stamp": "0:0", "entries": {}}', "[]",
                                     '{"stamp": null, "entries": []}'])  # fmt: skip
def test_broken_or_stale_cache_is_ignored(tmp_path: Path, content: str) -> None:
    root = tmp_path / "addons"
    addon(root, "x", depends=["y"])
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / FILE_NAME).write_text(content)
    assert scan_addons_path([root], cache_dir=cache_dir).addons["x"].depends == ("y",)
    data = json.loads((cache_dir / FILE_NAME).read_text())
    assert str(root / "x" / "__manifest__.py") in data["entries"]


def test_tampered_cache_entry_is_a_miss(tmp_path: Path) -> None:
    root = tmp_path / "addons"
    addon(root, "x", depends=["y"])
    cache_dir = tmp_path / "cache"
    scan_addons_path([root], cache_dir=cache_dir)
    data = json.loads((cache_dir / FILE_NAME).read_text())
    for entry in data["entries"].values():
        entry[0][0] += 1  # size no longer matches
    (cache_dir / FILE_NAME).write_text(json.dumps(data))
    assert scan_addons_path([root], cache_dir=cache_dir).addons["x"].depends == ("y",)


def test_unwritable_cache_directory_is_not_an_error(tmp_path: Path) -> None:
    root = tmp_path / "addons"
    addon(root, "x")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the directory should be")
    assert "x" in scan_addons_path([root], cache_dir=blocker).addons


def test_parallel_parsing_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path / "addons", 40)
    monkeypatch.setattr(scan_module, "PARALLEL_MIN_PER_JOB", 5)
    serial = scan_addons_path(["addons"], base_dir=tmp_path, jobs=1)
    parallel = scan_addons_path(["addons"], base_dir=tmp_path, jobs=3)
    auto = scan_addons_path(["addons"], base_dir=tmp_path, jobs=0)
    assert list(serial.addons.items()) == list(parallel.addons.items()) == list(auto.addons.items())
    assert serial.invalid == parallel.invalid == auto.invalid


def test_parallel_parsing_falls_back_when_a_child_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path / "addons", 30)
    monkeypatch.setattr(scan_module, "PARALLEL_MIN_PER_JOB", 5)

    def no_fork(datas: list[bytes]) -> tuple[int, int]:
        raise OSError("fork refused")

    monkeypatch.setattr(scan_module, "_parse_in_child", no_fork)
    serial = scan_addons_path(["addons"], base_dir=tmp_path, jobs=1)
    assert scan_addons_path(["addons"], base_dir=tmp_path, jobs=2).addons == serial.addons

    monkeypatch.undo()
    monkeypatch.setattr(scan_module, "PARALLEL_MIN_PER_JOB", 5)
    monkeypatch.setattr(scan_module, "parse_record", _explode_in_child(os.getpid()))
    assert scan_addons_path(["addons"], base_dir=tmp_path, jobs=2).addons == serial.addons


def _explode_in_child(parent: int):  # type: ignore[no-untyped-def]
    real = scan_module.parse_record

    def parse(data: bytes) -> dict:  # type: ignore[type-arg]
        if os.getpid() != parent:
            raise RuntimeError("child dies")
        return real(data)

    return parse


def test_a_shadowed_copy_is_not_read(tmp_path: Path) -> None:
    addon(tmp_path / "first", "dup")
    raw_addon(tmp_path / "second", "dup", "{ broken")
    raw_addon(tmp_path / "third", "dup", "{'name': 'old'}", manifest_name="__openerp__.py")
    scan = scan_addons_path(["first", "second", "third"], base_dir=tmp_path)
    assert scan.invalid == [] and "dup" in scan.addons
    assert [s.shadowed_path.parent.name for s in scan.shadowed] == ["second", "third"]
    assert [e.addon_count for e in scan.entries] == [1, 1, 1]
