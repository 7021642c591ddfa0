"""Addon checksums: the click-odoo-update rules, written out here as the spec."""

from __future__ import annotations

import hashlib
import json
import os
from fnmatch import fnmatch
from pathlib import Path

import pytest

from odoo_ops.modules import checksums as cks


def reference_hash(top: Path, patterns: list[str], langs: list[str]) -> str:
    """click-odoo-update's documented algorithm, as plainly as possible (os.walk)."""
    keep = {lang.split("_")[0] for lang in langs}
    digest = hashlib.sha1()
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        reldir = os.path.relpath(dirpath, top)
        reldir = "" if reldir == "." else reldir
        for name in sorted(filenames):
            rel = os.path.join(reldir, name)
            if any(fnmatch(rel, p) for p in patterns):
                continue
            if keep and reldir in {"i18n", "i18n_extra"}:
                base, ext = os.path.splitext(name)
                if ext == ".po" and base.split("_")[0] not in keep:
                    continue
            digest.update(rel.encode())
            digest.update((top / rel).read_bytes())
    return digest.hexdigest()


@pytest.fixture
def addon(tmp_path: Path) -> Path:
    root = tmp_path / "my_addon"
    files = {
        "__manifest__.py": "{'name': 'x', 'version': '18.0.1.0.0'}",
        "__init__.py": "from . import models\n",
        "models/__init__.py": "",
        "models/a.py": "x = 1\n",
        "models/__pycache__/a.cpython-311.pyc": "compiled",
        "models/b.pyo": "compiled",
        "views/a.xml": "<odoo/>",
        "static/src/js/a.js": "console.log(1)",
        "static/description/icon.png": "png",
        "tests/test_a.py": "def test(): pass",
        "sub/tests/keep.py": "kept: only top-level tests/ is excluded",
        "i18n/my_addon.pot": "template",
        "i18n/fr.po": "fr",
        "i18n/fr_BE.po": "fr_BE",
        "i18n/de.po": "de",
        "i18n_extra/de_CH.po": "de_CH",
        "i18n_extra/x.pot": "pot",
        "data/empty.csv": "",
        "Zeta.txt": "upper case sorts before lower",
        "alpha/b.txt": "b",
        "alpha.txt": "a",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_matches_the_reference_algorithm(addon: Path) -> None:
    patterns = cks.parse_patterns(None)
    for langs in ([], ["fr_FR"], ["fr_BE", "en_US"], ["de_DE"]):
        rules = cks.HashRules.make(patterns, langs)
        assert cks.addon_checksum(addon, rules) == reference_hash(addon, patterns, langs), langs


def test_custom_patterns_match_the_reference(addon: Path) -> None:
    patterns = ["*.pyc", "views/*"]
    rules = cks.HashRules.make(patterns)
    assert cks.addon_checksum(addon, rules) == reference_hash(addon, patterns, [])
    # static/ is hashed when the patterns do not exclude it
    assert any(f.startswith("static/") for f in cks.addon_files(addon, rules))


def test_excluded_files_do_not_change_the_checksum(addon: Path) -> None:
    rules = cks.HashRules.make(None, ["fr_FR"])
    before = cks.addon_checksum(addon, rules)
    (addon / "static/src/js/a.js").write_text("changed")
    (addon / "tests/test_a.py").write_text("changed")
    (addon / "i18n/my_addon.pot").write_text("changed")
    (addon / "models/__pycache__/a.cpython-311.pyc").write_text("changed")
    (addon / "i18n/de.po").write_text("changed: de is not an active language")
    assert cks.addon_checksum(addon, rules) == before


@pytest.mark.parametrize(
    "change",
    [
        lambda a: (a / "models/a.py").write_text("x = 2\n"),
        lambda a: (a / "views/new.xml").write_text(""),  # an empty new file counts (its name)
        lambda a: (a / "data/empty.csv").rename(a / "data/renamed.csv"),
        lambda a: (a / "i18n/fr.po").write_text("changed"),
        lambda a: (a / "sub/tests/keep.py").write_text("changed"),
        lambda a: (a / "__manifest__.py").write_text("{'name': 'x', 'version': '18.0.1.0.1'}"),
    ],
)
def test_relevant_changes_change_the_checksum(addon: Path, change) -> None:  # type: ignore[no-untyped-def]
    rules = cks.HashRules.make(None, ["fr_FR"])
    before = cks.addon_checksum(addon, rules)
    change(addon)
    assert cks.addon_checksum(addon, rules) != before


def test_symlinked_directories_are_not_descended(addon: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "big.py").write_text("outside")
    (addon / "linked").symlink_to(other, target_is_directory=True)
    rules = cks.HashRules()
    assert not any(f.startswith("linked") for f in cks.addon_files(addon, rules))
    expected = reference_hash(addon, list(rules.exclude_patterns), [])
    assert cks.addon_checksum(addon, rules) == expected


def test_pruned_dirs_only_for_literal_prefixes() -> None:
    rules = cks.HashRules.make(["static/*", "tests/*", "*.pyc", "i18n/*.pot", "[ab]/*"])
    assert rules.pruned_dirs() == {"static", "tests"}


def test_changed_modules_classifies(tmp_path: Path) -> None:
    dirs = {}
    for name in ("a", "b", "c"):
        d = tmp_path / name
        d.mkdir()
        (d / "__manifest__.py").write_text(name)
        dirs[name] = str(d)
    rules = cks.HashRules()
    digests = cks.compute_checksums(dirs, rules)
    stored: dict[str, str | bool] = {"a": digests["a"], "b": "0" * 40, "gone": "x", "c": False}
    found = cks.changed_modules(
        ["a", "b", "c", "base", "broken"], {**dirs, "broken": str(tmp_path)}, stored, rules,
        not_installable=["broken"],
    )
    assert found.unchanged == ["a"]
    assert found.changed == ["b"]
    assert found.new == ["c"]
    assert found.unchecked == ["base"]
    assert found.not_installable == ["broken"]
    assert found.to_update == ["b", "c"]
    assert not found.first_run
    assert cks.changed_modules(["a"], dirs, None, rules).first_run


def test_threads_give_the_same_digests(tmp_path: Path) -> None:
    dirs = {}
    for i in range(20):
        d = tmp_path / f"m{i}"
        (d / "models").mkdir(parents=True)
        (d / "models" / "x.py").write_text("x" * (i * 1000))
        dirs[f"m{i}"] = str(d)
    serial = cks.compute_checksums(dirs, jobs=1)
    threaded = cks.compute_checksums(dirs, jobs=4)
    assert serial == threaded
    assert len(set(serial.values())) == 20


def test_merged_checksums() -> None:
    stored: dict[str, str | bool] = {"a": "1", "b": "2", "old": "3", "core": "9"}
    computed = {"a": "10", "b": "20", "new": "30"}
    installed = ["a", "b", "new", "core"]
    assert cks.merged_checksums(stored, computed, installed) == {
        "a": "10", "b": "20", "new": "30", "core": "9"
    }
    assert cks.merged_checksums(stored, computed, installed, only=["a"]) == {
        "a": "10", "b": "2", "core": "9"
    }
    assert cks.merged_checksums(None, computed, ["a"]) == {"a": "10"}


def test_stored_json_round_trip() -> None:
    text = cks.dump_stored({"b": "2", "a": False})
    assert json.loads(text) == {"a": False, "b": "2"}
    assert cks.load_stored(text) == {"a": False, "b": "2"}
    assert cks.load_stored(None) is None
    assert cks.load_stored("not json") is None
    assert cks.load_stored("[1, 2]") is None


def test_special_files_in_an_addon_are_hashed_by_name_without_blocking(
    addon: Path, tmp_path: Path
) -> None:
    """A FIFO (or a link to a device) in an addon neither hangs nor feeds the digest."""
    rules = cks.HashRules.make(None, ["fr_FR"])
    (addon / "empty.txt").write_bytes(b"")
    with_empty = cks.addon_checksum(addon, rules)
    (addon / "empty.txt").unlink()
    os.mkfifo(addon / "empty.txt")
    assert cks.addon_checksum(addon, rules) == with_empty


def test_digest_cache_reuses_and_invalidates(
    addon: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cks, "RACY_SECONDS", 0.0)
    rules = cks.HashRules.make(None, ["fr_FR"])
    expected = cks.addon_checksum(addon, rules)
    cache = cks.DigestCache(tmp_path / "digests.json")
    assert cks.addon_checksum(addon, rules, cache) == expected
    cache.save()
    reloaded = cks.DigestCache(tmp_path / "digests.json")
    opened: list[str] = []
    real_feed = cks.feed_regular_file

    def counting_feed(path, update):  # type: ignore[no-untyped-def]
        opened.append(str(path))
        return real_feed(path, update)

    monkeypatch.setattr(cks, "feed_regular_file", counting_feed)
    assert cks.addon_checksum(addon, rules, reloaded) == expected
    assert opened == []  # a hit reads no file
    (addon / "models" / "a.py").write_text("x = 3\n")  # same size, new content
    changed = cks.addon_checksum(addon, rules, reloaded)
    assert changed == cks.addon_checksum(addon, rules) != expected
    assert opened  # the addon was read again
    other_rules = cks.HashRules.make(["*.pyc"], [])
    assert cks.addon_checksum(addon, other_rules, reloaded) == cks.addon_checksum(
        addon, other_rules
    )


def test_digest_cache_skips_files_modified_just_now(addon: Path) -> None:
    cache = cks.DigestCache(None)
    cks.addon_checksum(addon, cks.HashRules(), cache)
    assert cache.entries == {}  # the fixture's files are seconds old: racy, not cached
