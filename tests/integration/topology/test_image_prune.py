"""Rollback image tags pruned along with backup retention (fake ``docker``: the tags
and a refusal to untag an image in use; real PostgreSQL for the deployment lock)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.backup.layout import FORMAT, FORMAT_VERSION, update_status
from odoo_ops.backup.prune import prune
from odoo_ops.deploy.journal import DeployRecord, Journal
from tests.support.fakebin import FakeBin

pytestmark = pytest.mark.pg
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
REPO = "local/odoo"


def backup(backup_dir: Path, name: str, db: str, created: dt.datetime, keep: bool = False) -> None:
    d = backup_dir / name
    d.mkdir(parents=True)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "deployment": "prod",
        "database": db, "created_at": created.isoformat(), "tags": [],
        "dump": {"path": "db.dump", "format": "custom"}, "filestore": {},
        "files": {"db.dump": {"size": 0, "sha256": "0" * 64}},
    }  # fmt: skip
    (d / "manifest.json").write_text(json.dumps(manifest))
    if keep:
        update_status(d, keep=True)


def deploy(journal: Journal, deploy_id: str, started: dt.datetime, backup_name: str | None,
           image_id: str) -> str:  # fmt: skip
    tag = f"{REPO}:odoo-ops-rollback-{deploy_id}"
    journal.write(DeployRecord(
        id=deploy_id, kind="deploy", who="t", started_at=started.isoformat(), backup=backup_name,
        result="deployed",
        images={s: {"image": f"{REPO}:18", "id": image_id, "tag": tag} for s in ("core", "web")},
    ))  # fmt: skip
    return tag


@pytest.fixture
def world(tmp_path: Path, fake_bin: FakeBin, odoo_db: Any,
          monkeypatch: pytest.MonkeyPatch) -> tuple[Target, Path, dict[str, str]]:  # fmt: skip
    db = odoo_db(18)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "docker-compose.yml").write_text(
        f"services:\n  core:\n    image: {REPO}:18\n  web:\n    image: {REPO}:18\n"
        "  db:\n    image: postgres:15\n"
    )
    (root / "odoo-ops.toml").write_text(
        f'[deployments.prod]\nrunner = "compose"\nseries = "18.0"\ndsn = "{db.dsn}"\n'
        'odoo_services = ["core", "web"]\nbackup_dir = "backups"\n'
        '[backup]\nkeep_within = "2d"\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0\n'
        "keep_yearly = 0\n"
    )
    target = Target(resolve_project(root, deployment="prod"))
    backups = root / "backups"
    backup(backups, "ancient", db.name, NOW - dt.timedelta(days=10))
    backup(backups, "pinned", db.name, NOW - dt.timedelta(days=8), keep=True)
    backup(backups, "recent", db.name, NOW - dt.timedelta(days=1))
    journal = Journal(target.state_dir / "deploy")
    days = dt.timedelta(days=1)
    plan = {  # name: (deploy id, started, its backup, image id letter)
        "old": ("20260101-old", NOW - 10 * days, "ancient", "a"),
        "pinned": ("20260102-pin", NOW - 8 * days, "pinned", "b"),
        "instant": ("20260103-ins", NOW - 5 * days, None, "c"),
        "recent": ("20260104-rec", NOW - days / 2, None, "d"),
        "newest": ("20260105-new", NOW - days / 12, "recent", "e"),
    }
    tags = {name: deploy(journal, i, started, b, "sha256:" + c * 64)
            for name, (i, started, b, c) in plan.items()}  # fmt: skip
    known = {tags[name]: "sha256:" + plan[name][3] * 64 for name in plan}
    images = tmp_path / "images.json"
    images.write_text(json.dumps({**known, f"{REPO}:18": "sha256:" + "f" * 64}))
    monkeypatch.setenv("FAKE_DOCKER_IMAGES", str(images))
    return target, images, tags


def test_prune_removes_tags_of_deploys_older_than_retention(
    world: tuple[Target, Path, dict[str, str]], fake_bin: FakeBin
) -> None:
    target, images, tags = world
    planned = prune(target, dry_run=True)
    assert {d.name: d.keep for d in planned.decisions} == {
        "ancient": False, "pinned": True, "recent": True}
    why = {d.tag: (d.keep, d.why) for d in planned.images}
    assert why == {
        tags["newest"]: (True, "newest deploy with kept images"),
        tags["recent"]: (True, "within backup retention"),
        tags["instant"]: (True, "within backup retention"),  # after the pinned backup
        tags["pinned"]: (True, "its backup pinned is kept"),
        tags["old"]: (False, "older than backup retention"),
    }
    assert not [c for c in fake_bin.docker_calls() if " rm " in c]  # dry run: nothing removed

    # the pinned backup loses its mark: the retention horizon moves to "recent"
    update_status(target.backup_dir / "pinned", keep=False)
    result = prune(target)
    assert sorted(result.deleted) == ["ancient", "pinned"]
    removed = {d.tag for d in result.images if d.removed}
    assert removed == {tags["old"], tags["pinned"], tags["instant"]}
    left = json.loads(images.read_text())
    assert set(left) == {tags["recent"], tags["newest"], f"{REPO}:18"}
    rm_calls = [c for c in fake_bin.docker_calls() if "image rm" in c]
    assert len(rm_calls) == 3  # one per tag (two services share each tag)


def test_a_tag_docker_refuses_to_remove_is_reported_and_kept(
    world: tuple[Target, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    target, images, tags = world
    monkeypatch.setenv("FAKE_DOCKER_IN_USE", "sha256:" + "a" * 64)  # a container runs it
    result = prune(target)
    old = next(d for d in result.images if d.tag == tags["old"])
    assert not old.removed and old.error and "container is using its referenced image" in old.error
    assert tags["old"] in json.loads(images.read_text())
    assert result.deleted == ["ancient"]  # the backups are pruned all the same


def test_prune_table_names_the_tags_it_removes(
    world: tuple[Target, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shutil
    import subprocess

    target, images, tags = world
    exe = shutil.which("odoo-ops")
    assert exe

    def cli(*args: str) -> str:
        proc = subprocess.run(
            [exe, "backup", "prune", *args], cwd=target.root, capture_output=True, text=True,
            env={**os.environ, "COLUMNS": "300"}, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return " ".join(proc.stdout.split())  # the table may wrap the note

    planned = cli("--dry-run")
    assert f"rollback image tag(s) that would be removed: {tags['old']}" in planned
    assert tags["old"] in json.loads(images.read_text())  # a dry run removes nothing
    monkeypatch.setenv("FAKE_DOCKER_IN_USE", "sha256:" + "a" * 64)  # docker refuses "old"
    update_status(target.backup_dir / "pinned", keep=False)
    done = cli()
    # newest deploy first, as the journal lists them
    assert f"rollback image tag(s) removed: {tags['instant']}, {tags['pinned']}" in done, done
    assert f"rollback image tag(s) left: {tags['old']} (" in done, done
