"""The swap journal's decisions: at each step of a restore's swap, finish or undo."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odoo_ops.backup import swapjournal
from odoo_ops.backup.swapjournal import (
    DB_SWAPPED,
    FS_ASIDE,
    LOADING,
    STEPS,
    SWAPPING,
    Facts,
    SwapJournal,
    decide,
)
from odoo_ops.errors import OpsError


def _journal(step: str, *, kind: str = "restore", fs: bool = True) -> SwapJournal:
    return SwapJournal(
        kind=kind,
        database="prod",
        tmp_db="prod__restoring_abc",
        lock_database="prod",
        before_db="prod_before_restore_20260101000000",
        fs_tmp="/data/filestore/.prod.restoring-abc" if fs else None,
        fs_dest="/data/filestore/prod" if fs else None,
        fs_before="/data/filestore/prod_before_restore_20260101000000" if fs else None,
        step=step,
    )


def _facts(tmp_db: bool, database: bool, fs_tmp: bool, fs_dest: bool, fs_before: bool) -> Facts:
    return Facts(tmp_db, database, fs_tmp, fs_dest, fs_before)


# What the world looks like when a kill lands at each point of a restore --force of a
# live database with a live filestore: (step recorded, facts, expected action, renames).
J = _journal(LOADING)
TMP, DEST, BEFORE = J.fs_tmp, J.fs_dest, J.fs_before
POINTS = [
    # killed while loading (the temporary database may not even exist yet)
    (LOADING, _facts(False, True, False, True, False), "undo", []),
    (LOADING, _facts(True, True, True, True, False), "undo", []),
    # journal says "swapping": the transaction did not commit / committed
    (SWAPPING, _facts(True, True, True, True, False), "undo", []),
    (SWAPPING, _facts(False, True, True, True, False), "finish",
     [("rename", DEST, BEFORE), ("rename", TMP, DEST)]),
    # committed and recorded
    (DB_SWAPPED, _facts(False, True, True, True, False), "finish",
     [("rename", DEST, BEFORE), ("rename", TMP, DEST)]),
    # the live filestore moved aside, before or after the record of it
    (DB_SWAPPED, _facts(False, True, True, False, True), "finish", [("rename", TMP, DEST)]),
    (FS_ASIDE, _facts(False, True, True, False, True), "finish", [("rename", TMP, DEST)]),
    # everything renamed, only the journal's removal missing
    (FS_ASIDE, _facts(False, True, False, True, True), "finish", []),
]


@pytest.mark.parametrize(("step", "facts", "action", "renames"), POINTS)
def test_each_point_of_the_swap(
    step: str, facts: Facts, action: str, renames: list[tuple[str, ...]]
) -> None:
    decision = decide(_journal(step), facts)
    assert decision.action == action
    assert [op for op in decision.ops if op[0] == "rename"] == renames
    if action == "undo":
        # the copies go, nothing live is touched
        assert ("drop", "prod") not in decision.ops
        assert all(op[0] != "rmtree" or op[1] == TMP for op in decision.ops)
        assert (("drop", J.tmp_db) in decision.ops) == facts.tmp_db
        assert (("rmtree", TMP) in decision.ops) == facts.fs_tmp
    else:
        assert not any(op[0] in ("drop", "rmtree") for op in decision.ops)


def test_undo_puts_a_moved_filestore_back() -> None:
    decision = decide(_journal(SWAPPING), _facts(True, True, True, False, True))
    assert decision.action == "undo"
    assert ("rename", BEFORE, DEST) in decision.ops


def test_loading_is_never_finished_even_when_the_copy_is_missing() -> None:
    # killed between the journal and CREATE DATABASE: the live database exists, the copy not
    decision = decide(_journal(LOADING), _facts(False, True, False, True, False))
    assert decision.action == "undo" and decision.ops == []


def test_stuck_states_are_not_guessed() -> None:
    lost = decide(_journal(DB_SWAPPED), _facts(False, True, False, False, True))
    assert lost.action == "stuck" and lost.ops == []
    taken = decide(_journal(DB_SWAPPED), _facts(False, True, True, True, True))
    assert taken.action == "stuck" and taken.ops == []


def test_without_filestore_a_committed_swap_is_done() -> None:
    decision = decide(_journal(SWAPPING, fs=False), _facts(False, True, False, False, False))
    assert decision.action == "finish" and decision.ops == []


def test_test_restore_scratch_is_always_dropped() -> None:
    j = _journal(LOADING, kind="test-restore")
    decision = decide(j, _facts(True, True, True, False, False))
    assert decision.action == "undo"
    assert decision.ops == [("drop", j.tmp_db), ("rmtree", j.fs_tmp)]


@settings(max_examples=300, deadline=None)
@given(step=st.sampled_from(STEPS), bits=st.tuples(*[st.booleans()] * 5))
def test_every_state_decides_safely(step: str, bits: tuple[bool, ...]) -> None:
    """Whatever exists: never drops the live name, never deletes the live filestore,
    finishes only when the copy was renamed in, keeps the old filestore when it moves."""
    facts = Facts(*bits)
    decision = decide(_journal(step), facts)
    assert decision.action in ("finish", "undo", "stuck")
    assert ("drop", "prod") not in decision.ops
    assert ("rmtree", DEST) not in decision.ops and ("rmtree", BEFORE) not in decision.ops
    if decision.action == "finish":
        assert step != LOADING and not facts.tmp_db and facts.database
    renames = [op for op in decision.ops if op[0] == "rename"]
    for _, _source, destination in renames:
        # a rename never lands on something that exists (and is not moved first)
        moved_first = any(r[1] == destination for r in renames)
        exists = {DEST: facts.fs_dest, BEFORE: facts.fs_before, TMP: facts.fs_tmp}[destination]
        assert not exists or moved_first


def test_save_load_roundtrip_is_private(tmp_path: Path) -> None:
    j = _journal(LOADING)
    j.path = SwapJournal.new_path(tmp_path / "state")
    j.save(DB_SWAPPED)
    assert stat.S_IMODE(j.path.stat().st_mode) == 0o600
    back = SwapJournal.load(j.path)
    assert back == j and back.step == DB_SWAPPED
    j.remove()
    assert not j.path.exists()
    j.remove()  # twice is fine


def test_legacy_journal_means_the_swap_had_begun(tmp_path: Path) -> None:
    path = tmp_path / "restore-journal-prod.json"
    path.write_text(json.dumps({"database": "prod", "tmp_db": "prod__restoring_x"}))
    j = SwapJournal.load(path)
    assert (j.kind, j.step, j.lock_database) == ("restore", SWAPPING, "prod")
    assert list(swapjournal.journals(tmp_path)) == [path]


@pytest.mark.parametrize(
    "content",
    ["", "[]", "{", '{"database": "prod"}', '{"database": 1, "tmp_db": "x"}',
     '{"database": "p", "tmp_db": "x", "step": "nonsense"}',
     '{"database": "p", "tmp_db": "x", "kind": "drop-everything"}'],
)
def test_damaged_journals_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "swap-journal-x.json"
    path.write_text(content)
    with pytest.raises(OpsError):
        SwapJournal.load(path)


def test_describe_says_what_was_found_and_done() -> None:
    j = _journal(DB_SWAPPED)
    line = swapjournal.describe(j, decide(j, _facts(False, True, True, True, False)))
    assert line == (
        "found an interrupted restore of prod after the database swap: "
        "finished the filestore swap"
    )
    dry = swapjournal.describe(j, decide(j, _facts(False, True, True, True, False)),
                               dry_run=True)
    assert "would finish it" in dry
