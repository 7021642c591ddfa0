"""``modules update``: ``odoo -u`` of named modules, of all, or of what changed.

``--changed`` compares a checksum of each installed addon's files with the
checksums stored in the database (:mod:`odoo_ops.modules.checksums`, the
layout of click-odoo-update) and updates only the addons that differ. The new
checksums are stored only after the update succeeded (exit 0 and no module
left ``to upgrade``), so an interrupted or failed update is retried next time.
Without stored checksums the first run updates everything once (``-u all``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.addons import normalize_version
from odoo_ops.errors import OpsError, UsageError
from odoo_ops.modules import checksums as cks
from odoo_ops.modules import db as dbx
from odoo_ops.modules.context import ModulesContext, load_context
from odoo_ops.modules.steps import EventHandler, OdooSteps
from odoo_ops.modules.window import ActionResult, change_window, diff_states

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

UPDATABLE_STATES = ("installed", "to upgrade")


@dataclass
class UpdateResult(ActionResult):
    mode: str = "names"  # names | changed | all
    targets: list[str] = field(default_factory=list)
    changed_set: cks.ChangedSet | None = None
    list_only: bool = False
    checksums_stored: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = self.base_dict()
        data.update(
            mode=self.mode,
            targets=self.targets,
            list_only=self.list_only,
            checksums_stored=self.checksums_stored,
            changed=self.changed_set.as_dict() if self.changed_set else None,
        )
        return data


def hash_rules(ctx: ModulesContext) -> tuple[cks.HashRules, dict[str, str | bool] | None]:
    """The exclusion rules (parameter or default, active languages) and stored checksums."""
    with ctx.db.read_only() as cur:
        patterns = dbx.get_param(cur, cks.PARAM_EXCLUDE_PATTERNS)
        langs = dbx.active_languages(cur)
        stored = cks.load_stored(dbx.get_param(cur, cks.PARAM_INSTALLED_CHECKSUMS))
    return cks.HashRules.make(cks.parse_patterns(patterns), langs), stored


def not_installable(ctx: ModulesContext) -> set[str]:
    out = {n for n in ctx.host_addons if not ctx.scan.addons[n].installable}
    return out | set(ctx.scan.invalid_names)


DIGEST_CACHE = "addon-digests.json"


def digest_cache(ctx: ModulesContext) -> cks.DigestCache:
    """This host's stat-keyed memo of addon digests (``<state_dir>/addon-digests.json``)."""
    return cks.DigestCache(ctx.target.state_dir / DIGEST_CACHE)


def compute_changed(
    ctx: ModulesContext, *, jobs: int | None = None, use_cache: bool = True
) -> cks.ChangedSet:
    """Which installed addons changed on disk since the last stored checksums."""
    rules, stored = hash_rules(ctx)
    installed = [n for n, r in ctx.modules.items() if r.state in UPDATABLE_STATES]
    dirs = {n: str(p) for n, p in ctx.host_addons.items()}
    cache = digest_cache(ctx) if use_cache else None
    found = cks.changed_modules(
        installed,
        dirs,
        stored,
        rules,
        not_installable=not_installable(ctx),
        jobs=jobs,
        cache=cache,
    )
    if cache is not None:
        try:
            cache.save()
        except OpsError:
            pass  # only a shortcut: a read-only state directory must not stop the update
    return found


def _write_checksums(ctx: ModulesContext, value: dict[str, str | bool]) -> None:
    with ctx.db.writable() as cur:
        dbx.set_param(cur, cks.PARAM_INSTALLED_CHECKSUMS, cks.dump_stored(value))


def store_checksums_of(
    ctx: ModulesContext, names: Iterable[str], *, only_if_present: bool = False
) -> int:
    """Store the checksums of ``names`` (on this host), keeping the others.

    With ``only_if_present`` nothing is written when no checksums are stored yet
    (the first ``--changed`` run must still update everything once).
    """
    wanted = [n for n in names if n in ctx.host_addons]
    rules, stored = hash_rules(ctx)
    if stored is None and only_if_present:
        return 0
    if not wanted and stored is not None:
        return 0
    computed = cks.compute_checksums({n: str(ctx.host_addons[n]) for n in wanted}, rules)
    installed = [n for n, r in ctx.modules.items() if r.state == "installed"]
    _write_checksums(ctx, cks.merged_checksums(stored, computed, installed, only=wanted))
    return len(wanted)


def drop_checksums_of(ctx: ModulesContext, names: Iterable[str]) -> None:
    """Forget the checksums of uninstalled modules (no-op without stored checksums)."""
    _rules, stored = hash_rules(ctx)
    if stored is None:
        return
    gone = set(names)
    _write_checksums(ctx, {k: v for k, v in stored.items() if k not in gone})


def _version_notes(ctx: ModulesContext, names: Iterable[str]) -> list[str]:
    notes = []
    for name in sorted(names):
        addon = ctx.scan.addons.get(name)
        row = ctx.modules.get(name)
        if addon is None or name not in ctx.host_addons or row is None or not addon.version:
            continue
        expected = normalize_version(addon.version, ctx.series)
        if row.latest_version and row.latest_version != expected:
            notes.append(
                f"{name}: database version {row.latest_version} differs from the manifest's"
                f" {expected}"
            )
    return notes


def update_modules(
    target: Target,
    names: Sequence[str] = (),
    *,
    changed: bool = False,
    all_modules: bool = False,
    list_only: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
    maintenance: bool = False,
    timeout: float | None = None,
    on_event: EventHandler | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
) -> UpdateResult:
    """Update named modules, every module (``-u all``) or the changed ones."""
    chosen = sum([bool(names), changed, all_modules])
    if chosen != 1:
        raise UsageError("give module names, --changed or --all (exactly one)")
    if list_only and not changed:
        raise UsageError("--list-only goes with --changed")
    ctx = load_context(target)
    mode = "changed" if changed else "all" if all_modules else "names"
    result = UpdateResult("update", ctx.db.name, dry_run, mode=mode, list_only=list_only)
    computed: dict[str, str] = {}
    if changed:
        if not ctx.host_addons:
            raise OpsError(
                "--changed needs the addons on this host: no addons path is readable here",
                hint="set addons_paths in odoo-ops.toml (host paths of the addons directories)",
            )
        cs = compute_changed(ctx, jobs=jobs, use_cache=use_cache)
        result.changed_set = cs
        computed = cs.computed
        if cs.unchecked:
            result.notes.append(
                f"{len(cs.unchecked)} installed module(s) are not on this host's addons path"
                " and are not checked (Odoo's own addons, usually): "
                + ", ".join(cs.unchecked[:10])
                + (" ..." if len(cs.unchecked) > 10 else "")
            )
        if cs.first_run:
            result.targets = ["all"]
            result.notes.append(
                "no checksums stored yet (module_auto_update.installed_checksums):"
                " updating every module once (-u all); later runs update only what changed"
            )
        else:
            result.targets = cs.to_update
    elif all_modules:
        result.targets = ["all"]
    else:
        unknown = [n for n in names if n not in ctx.modules]
        if unknown:
            raise UsageError(f"unknown module(s): {', '.join(unknown)}")
        not_installed = [n for n in names if ctx.modules[n].state not in UPDATABLE_STATES]
        if not_installed:
            states = ", ".join(f"{n} ({ctx.modules[n].state})" for n in not_installed)
            raise UsageError(
                f"not installed: {states}", hint="install them with `odoo-ops modules install`"
            )
        result.targets = list(dict.fromkeys(names))
    if list_only:
        result.message = (
            "every module (no stored checksums)"
            if result.targets == ["all"]
            else f"{len(result.targets)} changed module(s)"
        )
        return result
    if not result.targets:
        result.message = "nothing changed: no module to update"
        return result
    steps = OdooSteps(target, "update", dry_run=dry_run, on_event=on_event, timeout=timeout)
    steps.total = 1
    before = dict(ctx.modules)
    with change_window(target, steps, result, wait=wait, maintenance=maintenance):
        step = steps.run("update", steps.odoo.update(result.targets))
        result.steps.append(step)
        if dry_run:
            result.message = "dry run"
            return result
        after = ctx.refresh()
        result.changes = diff_states(before, after)
        stuck = sorted(n for n, r in after.items() if r.state == "to upgrade")
        explicit = [t for t in result.targets if t != "all"]
        not_back = sorted(n for n in explicit if n in after and after[n].state != "installed")
        if not step.ok or stuck or not_back:
            why = f"odoo exited with {step.returncode}" if not step.ok else "modules not updated"
            if step.timed_out:
                why = f"timed out after {step.duration:.0f}s"
            if stuck or not_back:
                why += "; left " + ", ".join(sorted({*stuck, *not_back})) + " not installed"
            result.fail(f"update failed: {why}; stored checksums left unchanged", step)
            return result
        # success: store the checksums
        if mode in ("changed", "all"):
            rules, stored = hash_rules(ctx)
            installed = [n for n, r in after.items() if r.state == "installed"]
            missing = {
                n: str(ctx.host_addons[n])
                for n in installed
                if n in ctx.host_addons and n not in computed
            }
            computed = {**computed, **cks.compute_checksums(missing, rules)}
            _write_checksums(ctx, cks.merged_checksums(stored, computed, installed))
            result.checksums_stored = True
        else:
            result.checksums_stored = store_checksums_of(ctx, explicit, only_if_present=True) > 0
        result.notes.extend(
            _version_notes(
                ctx, [n for n in after if n in ctx.host_addons and after[n].state == "installed"]
            )
        )
        what = "every module" if result.targets == ["all"] else f"{len(result.targets)} module(s)"
        result.message = f"{what} updated" + (
            "; checksums stored" if result.checksums_stored else ""
        )
    return result
