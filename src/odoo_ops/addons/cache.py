"""A stat-keyed cache of parsed manifests.

Parsing is most of the cost of scanning a large addons path. The cache maps the
absolute path of a ``__manifest__.py`` to what parsing it gave (the addon's
facts, or the problem), keyed by the file's size, ``mtime_ns``, inode and
``ctime_ns``: any write to the file (even one that restores the size and the
modification time) changes ``ctime`` and so misses the cache.

The cache is best effort: a cache file that cannot be read or written is
ignored, never an error. It is one JSON file, written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import odoo_ops

#: Bump when what a record holds, or how manifests are checked, changes.
SCHEMA = 1
FILE_NAME = "manifests.json"
MAX_ENTRIES = 100_000

Record = dict[str, Any]


def user_cache_dir() -> Path:
    """Where the parse cache lives: ``$XDG_CACHE_HOME/odoo-ops`` (``~/.cache``).
    One cache for every command and deployment: records are keyed on each
    manifest's path and stat, so sharing them is safe."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "odoo-ops"


def stat_key(st: os.stat_result) -> list[int]:
    """What must not change for a cached record to stay valid."""
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


class ManifestCache:
    """Records of parsed manifests, loaded from and saved to ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self.entries: dict[str, list[Any]] = {}
        self.hits = 0
        self.misses = 0
        self._dirty = False
        self._load()

    def _stamp(self) -> str:
        return f"{SCHEMA}:{odoo_ops.__version__}"

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("stamp") == self._stamp():
            entries = data.get("entries")
            if isinstance(entries, dict):
                self.entries = entries

    def get(self, file: str, st: os.stat_result) -> Record | None:
        """The record for ``file`` if its stat still matches, else ``None``."""
        entry = self.entries.get(file)
        if (
            isinstance(entry, list)
            and len(entry) == 2
            and entry[0] == stat_key(st)
            and isinstance(entry[1], dict)
        ):
            self.hits += 1
            return entry[1]
        self.misses += 1
        return None

    def put(self, file: str, st: os.stat_result, record: Record) -> None:
        self.entries[file] = [stat_key(st), record]
        self._dirty = True

    def save(self) -> None:
        """Write the cache if anything changed (atomically; errors are ignored)."""
        if not self._dirty:
            return
        if len(self.entries) > MAX_ENTRIES:
            keep = list(self.entries.items())[-MAX_ENTRIES:]
            self.entries = dict(keep)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".manifests-", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"stamp": self._stamp(), "entries": self.entries}, fh)
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            return
        self._dirty = False
