"""The steps of a major upgrade: one per major version (OpenUpgrade migrates N-1 to N).

Without ``[[upgrade.steps]]`` there is one step, to the next series, described by
the keys of ``[upgrade]`` itself (as before steps existed). With them, a database
at 16.0 upgraded ``--to 18.0`` takes the steps ``to = "17.0"`` then ``to = "18.0"``;
every major version in between needs its step. The highest configured step takes
the keys it leaves out from ``[upgrade]`` (so a one-step configuration becomes a
two-step one by adding the earlier step); the shared keys (``openupgrade_wheels``,
``timeout``, ``key_tables``, login, registry) are ``[upgrade]``'s for every step.

Each step is handed on as a full :class:`~odoo_ops.config.schema.Upgrade` (no
``steps`` of its own), so the code that runs one step reads its settings as it
always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from odoo_ops.errors import UsageError

if TYPE_CHECKING:
    from odoo_ops.config.schema import Upgrade

#: The keys a step sets for itself (the others are [upgrade]'s).
STEP_KEYS = ("target_odoo_command", "target_addons_paths", "openupgrade",
             "openupgrade_framework", "before_sql", "after_sql", "after_shell", "install",
             "uninstall", "target_service", "target_odoo_conf", "openupgrade_path")


@dataclass(frozen=True)
class Step:
    source: str  # the series the database is at before the step
    to: str
    cfg: Upgrade  # this step's settings

    @property
    def label(self) -> str:
        return f"{self.source} -> {self.to}"


def major(series: str, what: str = "--to") -> int:
    try:
        head, _, minor = series.partition(".")
        if minor not in ("0", "") or not head.isdigit():
            raise ValueError(series)
        return int(head)
    except ValueError:
        raise UsageError(f"{what} {series!r}: not an Odoo series", hint="e.g. --to 18.0") from None


def resolve_steps(cfg: Upgrade, source: str, to: str | None) -> list[Step]:
    """The steps from ``source`` to ``to`` (default: the highest configured step, else
    the next series). UsageError when a major version in between has no step."""
    src = major(source, "the database's series")
    if not cfg.steps:
        target = to or f"{src + 1}.0"
        dst = major(target)
        _check_upgrade(source, target, src, dst)
        if dst != src + 1:
            raise UsageError(
                f"{source} -> {target} is {dst - src} major versions: OpenUpgrade migrates "
                "one at a time",
                hint=f"plan and rehearse {source} -> {src + 1}.0 first, or describe each "
                     "step in [[upgrade.steps]] (docs/upgrade.md)")
        return [Step(source, f"{dst}.0", cfg.model_copy(update={"steps": []}))]
    by_major = {major(s.to, "[[upgrade.steps]] to"): s for s in cfg.steps}
    highest = max(by_major)
    dst = (highest if highest > src else src + 1) if to is None else major(to)
    _check_upgrade(source, f"{dst}.0", src, dst)
    out: list[Step] = []
    for m in range(src + 1, dst + 1):
        step = by_major.get(m)
        if step is None:
            raise UsageError(
                f"{source} -> {dst}.0: no [[upgrade.steps]] with to = \"{m}.0\"",
                hint="describe every major version in between (target Odoo, addons, "
                     "OpenUpgrade pin)")
        update: dict[str, object] = {"steps": []}
        for key in STEP_KEYS:
            value = getattr(step, key)
            if m == highest and value in (None, []):
                continue  # the highest step falls back to [upgrade]'s own keys
            update[key] = value
        out.append(Step(f"{m - 1}.0", f"{m}.0", cfg.model_copy(update=update)))
    return out


def _check_upgrade(source: str, target: str, src: int, dst: int) -> None:
    if dst <= src:
        raise UsageError(f"the database is at {source}: --to {target} is not an upgrade")
