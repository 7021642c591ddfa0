"""Which addons a command works on: the directories given, else the deployment's.

The policy of ``odoo-ops addons list|tree|plan|why``: ``--addons-path`` wins;
without it the deployment's addons path (as seen from this host: entries that
exist only inside a container are named, not read); the series given, else the
deployment's, else guessed from the addons' versions. The scan goes through the
user's parse cache unless told not to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.addons.cache import user_cache_dir
from odoo_ops.addons.scan import AddonsScan, scan_addons_path, split_addons_path
from odoo_ops.addons.versions import check_series, detect_series
from odoo_ops.errors import UsageError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class AddonsSource:
    """The scanned addons, the series they are read for, and where they came from."""

    scan: AddonsScan
    series: str
    target: Target | None
    notes: list[str] = field(default_factory=list)


def load_source(
    addons_path: list[str],
    series: str | None,
    target: Target | None,
    *,
    use_cache: bool = True,
    notes: list[str] | None = None,
) -> AddonsSource:
    """Scan the addons given (``addons_path``, comma-separated entries allowed)
    or, without any, the deployment's; raise :class:`UsageError` when there is
    no addons path or no way to tell the series."""
    notes = list(notes or [])
    paths = split_addons_path(addons_path)
    base_dir = Path.cwd()
    if target is not None:
        if not paths:
            paths = [str(p) for p in target.addons_paths]
            base_dir = target.root
            unmapped = target.unmapped_addons_paths()
            if unmapped:
                notes.append(
                    "addons path entries only inside the container (not read): "
                    + ", ".join(unmapped)
                )
        series = series or target.series
    if not paths:
        raise UsageError(
            "no addons path",
            hint="pass --addons-path DIR[,DIR] or run in a project directory with addons",
        )
    scan = scan_addons_path(
        paths, base_dir=base_dir, cache_dir=user_cache_dir() if use_cache else None, jobs=0
    )
    if not series:
        series = detect_series(a.version for a in scan.addons.values())
        if series is None:
            raise UsageError("cannot tell the Odoo series", hint="pass --series 18.0")
        notes.append(f"series {series} guessed from the addons' versions (use --series)")
    return AddonsSource(scan, check_series(series), target, notes)
