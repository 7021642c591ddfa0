"""Output helpers of the backup commands (sizes, ages, progress), shared by
:mod:`odoo_ops.cli.commands.backup` and :mod:`odoo_ops.cli.backup_remote`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from odoo_ops.cli.common import App


def size_text(n: int | float | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def age_text(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


class _Counter:
    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0
        self.phases: set[str] = set()


@contextmanager
def progress(app: App, title: str) -> Iterator[Callable[[str, int, int], None]]:
    """Adapt the actions' ``progress(phase, bytes, files)`` to a bar (or log lines)."""
    count = _Counter()
    with app.progress(title) as bar:

        def report(phase: str, nbytes: int, nfiles: int) -> None:
            count.files += nfiles
            count.bytes += nbytes
            if phase not in count.phases:
                count.phases.add(phase)
                bar.log(f"{title}: {phase.replace('-', ' ')}")
            bar.advance(0, f"{title}: filestore {count.files} files, {size_text(count.bytes)}")

        yield report
