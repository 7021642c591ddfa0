"""The deploy journal: one JSON record per deploy or rollback.

Stored as JSON lines in ``.odoo-ops/<deployment>/deploy/journal.jsonl``; a
record is appended when a deploy starts (``result = "running"``) and written
again when it ends, so a killed deploy stays visible as ``running`` (then
``interrupted`` once its lock is free).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.fileutil import atomic_write_text


@dataclass
class PhaseRecord:
    name: str
    status: str  # ok | failed | skipped
    seconds: float
    detail: str = ""


@dataclass
class DeployRecord:
    id: str
    kind: str  # deploy | rollback
    who: str
    started_at: str
    ref_before: str | None = None
    ref_after: str | None = None
    requested_ref: str | None = None
    backup: str | None = None
    instant_copy: str | None = None
    filestore_copy: str | None = None
    maintenance_before: bool = False
    paused_crons: bool = False
    phases: list[PhaseRecord] = field(default_factory=list)
    result: str = "running"  # running | deployed | rolled-back | failed | interrupted
    failed_phase: str | None = None
    error: str | None = None
    finished_at: str | None = None
    failed_verifications: int = 0
    # what still failed when Odoo was verified again after an automatic rollback
    after_rollback: list[str] = field(default_factory=list)
    # --pull/--build: per Odoo service, the image it ran before the change
    # ({"image": name, "id": sha256:…, "tag": <repo>:odoo-ops-rollback-<id>})
    images: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeployRecord:
        data = dict(data)
        data["phases"] = [PhaseRecord(**p) for p in data.get("phases", [])]
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def who() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def new_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid() % 10000:04d}"


class Journal:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "journal.jsonl"

    def records(self) -> list[DeployRecord]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        latest: dict[str, DeployRecord] = {}
        for line in lines:
            if not line.strip():
                continue
            try:
                record = DeployRecord.from_dict(json.loads(line))
            except (ValueError, TypeError):
                continue
            latest[record.id] = record  # a later line for the same id wins
        return list(latest.values())

    def get(self, record_id: str) -> DeployRecord | None:
        for record in self.records():
            if record.id == record_id:
                return record
        return None

    def write(self, record: DeployRecord) -> None:
        """Append the record's current state (atomic: rewrite the compacted file)."""
        records = {r.id: r for r in self.records()}
        records[record.id] = record
        text = "".join(
            json.dumps(asdict(r), sort_keys=True) + "\n"
            for r in sorted(records.values(), key=lambda r: r.started_at)
        )
        atomic_write_text(self.path, text, mode=0o600)
