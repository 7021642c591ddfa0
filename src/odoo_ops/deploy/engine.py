"""``odoo-ops deploy``: the phases, the rollback point, the automatic rollback.

Phases (each timed, logged and recorded in the journal):

 1. ``preflight``   — ``check --quick`` must pass (or ``force``); the git
                      work tree is clean and can fast-forward to the ref.
                      Nothing has changed when this fails.
 2. ``lock``        — the deployment's advisory lock, held to the end.
 3. ``maintenance`` — maintenance mode on, crons paused (what was already
                      on/paused before stays so afterwards).
 4. ``rollback-point`` — git commit, a verified backup (database +
                      filestore), and an instant copy when the server allows
                      it (``CREATE DATABASE … TEMPLATE``, hard-link filestore).
 5. ``code``        — ``git fetch`` + fast-forward only; ``docker compose
                      pull``/``build`` when asked.
 6. ``addons``      — required modules and sets on the addons path,
                      manifests valid, dependencies resolvable.
 7. ``modules``     — update what changed (selective) and install what is new.
 8. ``restart``     — restart Odoo through the runner, wait until healthy.
 9. ``verify``      — /web/health and /web/login answer, no module broken or
                      pending, required modules installed, no new broken
                      menus or client actions, Odoo log errors within
                      ``thresholds.max_log_errors``.
10. ``snapshot``    — database-truth snapshot and its diff with the rollback
                      point's.
11. ``finish``      — crons resumed, maintenance off, notification.

Maintenance comes before the rollback point, not after it: users
cannot write between the backup and the change, so a rollback loses nothing,
and the instant copy needs the Odoo sessions gone anyway.

A failure from phase 5 on rolls back (a deploy is all or nothing): code to
the recorded commit, database and filestore to the rollback point, restart,
crons and maintenance as they were. A failure in phases 3–4 only undoes
maintenance mode and the cron pause: nothing else has changed yet. A deploy
killed half-way leaves a ``running`` journal record; ``odoo-ops rollback``
finishes it and the next deploy refuses to start until then.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.adapters import Target
from odoo_ops.deploy.git import GitRepo
from odoo_ops.deploy.instant import InstantCopy, create_copy, drop_copy, restore_copy
from odoo_ops.deploy.journal import DeployRecord, Journal, PhaseRecord, new_id, now_iso, who
from odoo_ops.errors import OpsError, UsageError

PHASES = (
    "preflight",
    "lock",
    "maintenance",
    "rollback-point",
    "code",
    "addons",
    "modules",
    "restart",
    "verify",
    "snapshot",
    "finish",
)
# a failure from the code phase on puts everything back: a deploy is all or nothing
ROLLBACK_PHASES = {"code", "addons", "modules", "restart", "verify", "snapshot", "finish"}
#: The phases that run under the deployment lock, in order, and the method of
#: :class:`Deployer` that carries out each (``preflight`` and ``lock`` come first).
LOCKED_PHASES = PHASES[PHASES.index("maintenance") :]
PHASE_METHODS = {
    "maintenance": "enter_maintenance",
    "rollback-point": "rollback_point",
    "code": "code",
    "addons": "addons",
    "modules": "modules",
    "restart": "restart",
    "verify": "verify",
    "snapshot": "snapshot",
    "finish": "finish",
}


class PhaseFailed(OpsError):
    def __init__(self, phase: str, message: str, evidence: list[str] | None = None) -> None:
        super().__init__(f"{phase}: {message}")
        self.phase = phase
        self.evidence = evidence or []


class InjectedFault(OpsError):
    """A failure planted by ``--inject-fault`` (tests of the rollback)."""


@dataclass
class DeployOptions:
    ref: str | None = None
    modules: list[str] = field(default_factory=list)
    changed: bool = True
    rollback: bool = True
    force: bool = False
    pull: bool = False
    build: bool = False
    fetch: bool = True
    wait: float = 0.0
    restart_timeout: float = 120.0
    instant: bool = True
    dry_run: bool = False
    fault: tuple[str, str] | None = None  # (phase, "fail" | "kill")


@dataclass
class DeployResult:
    record: DeployRecord
    verifications_failed: int = 0
    rollback_error: str | None = None
    notes: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)


Say = Callable[[str], None]


def journal_of(target: Target) -> Journal:
    return Journal(target.state_dir / "deploy")


def interrupted(target: Target, exclude: str | None = None) -> DeployRecord | None:
    """The latest deploy whose process died half-way, or whose automatic rollback
    failed, if any (call under the lock)."""
    records = [
        r
        for r in journal_of(target).records()
        if r.result in ("running", "rollback-failed") and r.kind == "deploy" and r.id != exclude
    ]
    return max(records, key=lambda r: r.started_at) if records else None


class Deployer:
    def __init__(self, target: Target, options: DeployOptions, say: Say | None = None) -> None:
        self.target = target
        self.options = options
        self.say = say or (lambda _m: None)
        self.journal = journal_of(target)
        self.repo = GitRepo.find(target.root)
        self.record = DeployRecord(
            id=new_id(), kind="deploy", who=who(), started_at=now_iso(), requested_ref=options.ref
        )
        self.copy: InstantCopy | None = None
        self.target_commit: str | None = None
        self.broken_before: set[tuple[str, str]] = set()
        self.snapshot_before: Path | None = None
        self.started = time.time()
        self.logs: list[Path] = []

    # -- phase machinery ---------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.say(f"[{name}] …")
        start = time.monotonic()
        try:
            self._fault(name)
            yield
        except PhaseFailed as exc:
            self.record.phases.append(
                PhaseRecord(name, "failed", time.monotonic() - start, exc.message)
            )
            raise
        except OpsError as exc:
            self.record.phases.append(
                PhaseRecord(name, "failed", time.monotonic() - start, exc.message)
            )
            raise PhaseFailed(name, exc.message) from None
        else:
            seconds = time.monotonic() - start
            self.record.phases.append(PhaseRecord(name, "ok", seconds))
            self.say(f"[{name}] ok ({seconds:.1f}s)")
        finally:
            if self.record.phases and self.record.result == "running":
                self._save()

    def _fault(self, phase: str) -> None:
        if self.options.fault and self.options.fault[0] == phase:
            mode = self.options.fault[1]
            if mode == "kill":
                import os
                import signal

                self._save()
                os.kill(os.getpid(), signal.SIGKILL)
            raise InjectedFault(f"fault injected in phase {phase}")

    def _save(self) -> None:
        if not self.options.dry_run:
            self.journal.write(self.record)

    # -- the deploy ----------------------------------------------------------------
    def run(self) -> DeployResult:
        from odoo_ops.adapters.locking import deployment_lock

        result = DeployResult(self.record)
        if self.options.dry_run:
            result.plan = self.plan()
            return result
        lock = deployment_lock(self.target, wait=self.options.wait)
        try:
            with self.phase("preflight"):
                self.preflight()
            with self.phase("lock"):
                lock.__enter__()
        except PhaseFailed as exc:
            # nothing has changed: record why the deploy did not start
            self.record.result = "failed"
            self.record.failed_phase = exc.phase
            self.record.error = exc.message
            self.record.finished_at = now_iso()
            self._save()
            raise
        try:
            pending = interrupted(self.target, exclude=self.record.id)
            if pending is not None:
                self.record.result = "failed"
                self.record.error = f"deploy {pending.id} was interrupted"
                self.record.finished_at = now_iso()
                self._save()
                how = (
                    "was interrupted and not rolled back"
                    if pending.result == "running"
                    else "failed and its rollback did not finish"
                )
                raise OpsError(
                    f"deploy {pending.id} {how}",
                    hint=f"run `odoo-ops rollback {pending.id}` first",
                )
            return self._locked(result)
        finally:
            lock.__exit__(None, None, None)

    def _locked(self, result: DeployResult) -> DeployResult:
        try:
            for name in LOCKED_PHASES:
                with self.phase(name):
                    getattr(self, PHASE_METHODS[name])()
        except PhaseFailed as exc:
            self.record.failed_phase = exc.phase
            self.record.error = exc.message
            self.record.result = "failed"
            if exc.phase in ROLLBACK_PHASES and self.options.rollback:
                self.say(f"deploy failed in {exc.phase}: rolling back")
                try:
                    self.roll_back()
                    self.record.result = "rolled-back"
                    # verify again: is the old version up and serving?
                    self.record.after_rollback = self._verify_rollback()
                    if self.record.after_rollback:
                        result.notes.append(
                            "after the rollback Odoo still fails: "
                            + "; ".join(self.record.after_rollback)
                        )
                except OpsError as rb:
                    # not "failed": `odoo-ops rollback ID` must still accept it, and the
                    # next deploy must not start over it
                    self.record.result = "rollback-failed"
                    result.rollback_error = rb.message
            elif exc.phase in ("maintenance", "rollback-point"):
                # nothing changed yet but maintenance, crons and maybe the copy
                try:
                    if self.copy is not None:
                        drop_copy(self.target.database(), self.copy)
                    self.leave_maintenance()
                except OpsError as rb:
                    result.rollback_error = rb.message
            self.record.finished_at = now_iso()
            self.record.failed_verifications = max(1, self.record.failed_verifications)
            self._save()
            self.notify(result)
            result.verifications_failed = self.record.failed_verifications
            return result
        self.record.result = "deployed"
        self.record.finished_at = now_iso()
        self._save()
        self.notify(result)
        return result

    def finish(self) -> None:
        self.leave_maintenance()
        if self.copy is not None:
            drop_copy(self.target.database(), self.copy)
            self.copy = None

    # -- phases ------------------------------------------------------------------
    def preflight(self) -> None:
        if self.options.pull or self.options.build:
            from odoo_ops.adapters.hostcmd import compose_runner

            if compose_runner(self.target) is None:
                raise UsageError('--pull/--build need a compose deployment (runner = "compose")')
        if not self.options.force:
            from odoo_ops.checks import all_checks
            from odoo_ops.checks.context import CheckContext
            from odoo_ops.checks.run import run_checks, select_checks

            report = run_checks(CheckContext(self.target), select_checks(all_checks()))
            failed = [r for r in report.results if r.status.value == "fail"]
            if failed:
                raise PhaseFailed(
                    "preflight",
                    f"{len(failed)} check(s) fail: " + ", ".join(r.id for r in failed[:8]),
                    [f"{r.id}: {r.message}" for r in failed],
                )
        if self.repo is not None:
            current, wanted = self.repo.preflight(self.options.ref, fetch=self.options.fetch)
            self.record.ref_before, self.target_commit = current, wanted
        elif self.options.ref:
            raise UsageError("--ref needs the project to be a git repository")

    def enter_maintenance(self) -> None:
        from odoo_ops.modules import crons as cronx
        from odoo_ops.modules import maintenance as mx

        status = mx.maintenance_status(self.target)
        self.record.maintenance_before = status.state == mx.ON
        if not self.record.maintenance_before:
            mx.maintenance_on(self.target, reason=f"deploy {self.record.id}", note=self.say)
        crons = cronx.crons_status(self.target)
        if not crons.paused:
            cronx.pause_crons(self.target)
            self.record.paused_crons = True
        self._save()

    def leave_maintenance(self) -> None:
        from odoo_ops.modules import crons as cronx
        from odoo_ops.modules import maintenance as mx

        if self.record.paused_crons:
            cronx.resume_crons(self.target)
        if not self.record.maintenance_before:
            mx.maintenance_off(self.target, note=self.say)
            return
        # maintenance was on before, with the workers stopped: the restart phase
        # started them to verify the deploy; stop them again, as they were
        from odoo_ops.adapters.hostcmd import run_on_host

        workers = mx.workers_of(self.target)
        if workers.configured:
            result = run_on_host(self.target, workers.stop, timeout=300)
            if result.returncode != 0:
                tail = (result.output.strip().splitlines() or [""])[-1]
                self.say(f"stopping the Odoo workers again failed: {tail}")

    def rollback_point(self) -> None:
        from odoo_ops.backup.create import CreateOptions, create_backup
        from odoo_ops.backup.integrity import verify_entry
        from odoo_ops.backup.layout import find_backup

        if self.repo is not None and self.record.ref_before is None:
            self.record.ref_before = self.repo.head()
        if self.target.backup_dir is None:
            raise OpsError("a deploy needs a rollback point: set backup_dir in odoo-ops.toml")
        backup = create_backup(
            self.target, CreateOptions(tags=["pre-deploy", self.record.id], take_lock=False)
        )
        self.record.backup = backup.name
        self._save()
        verified = verify_entry(find_backup(self.target.backup_dir, backup.name))
        if not verified.ok:
            problems = "; ".join(str(p) for p in verified.problems[:3])
            raise OpsError(f"the rollback backup {backup.name} does not verify: {problems}")
        self.say(f"backup {backup.name} verified")
        self.broken_before = self._broken_keys()
        try:
            self.snapshot_before = self._take_snapshot("before")
        except OpsError as exc:
            self.say(f"no snapshot at the rollback point ({exc.message}); no diff after")
        if self.options.instant:
            db = self.target.database_name or ""
            copy_name = f"{db}_odoo_ops_rb"[:63]
            try:
                self.copy = create_copy(
                    self.target.database(), db, copy_name, self.target.filestore_dir()
                )
            except OpsError as exc:
                self.say(
                    f"no instant rollback copy ({exc.message}); rollback will restore the backup"
                )
            else:
                self.record.instant_copy = self.copy.copy_name
                self.record.filestore_copy = (
                    str(self.copy.filestore_copy) if self.copy.filestore_copy else None
                )
                self._save()

    def code(self) -> None:
        if self.repo is not None and self.target_commit:
            if self.target_commit != self.record.ref_before:
                self.repo.fast_forward(self.target_commit)
            self.record.ref_after = self.repo.head()
        if self.options.pull or self.options.build:
            from odoo_ops.adapters.hostcmd import compose_runner, run_on_host

            compose = compose_runner(self.target)
            if compose is None:
                raise OpsError("--pull/--build need a compose deployment")
            self._keep_images()
            for verb in (["pull"] if self.options.pull else []) + (
                ["build"] if self.options.build else []
            ):
                result = run_on_host(
                    self.target,
                    compose.compose_argv(verb, *self.target.odoo_services),
                    timeout=1800,
                )
                if result.returncode != 0:
                    raise OpsError(
                        f"docker compose {verb} failed: "
                        + (result.output.strip().splitlines() or [""])[-1]
                    )

    def _keep_images(self) -> None:
        """Record and tag the image each Odoo service runs before --pull/--build, so
        a rollback brings the image back with the code and the database."""
        from odoo_ops.adapters.hostcmd import run_on_host
        from odoo_ops.adapters.topology import container_image_ids, rollback_tag

        names = service_images(self.target)
        for service, current in container_image_ids(self.target, self.target.odoo_services).items():
            if current is None:
                self.say(f"service {service} has no container: its image cannot be kept")
                continue
            tag = rollback_tag(names[service], self.record.id)
            tagged = run_on_host(self.target, ["docker", "tag", current, tag], timeout=60)
            if tagged.returncode != 0:
                raise OpsError(
                    f"tagging the image of {service} for the rollback failed: "
                    + (tagged.output.strip().splitlines() or [""])[-1]
                )
            self.record.images[service] = {"image": names[service], "id": current, "tag": tag}
            self.say(f"{service}: image {current[:19]} kept as {tag}")
        self._save()

    def _required_modules(self) -> list[str]:
        config = self.target.project.config
        names = list(config.verify.modules)
        for set_name in config.verify.sets:
            names += config.module_sets[set_name].modules
        return list(dict.fromkeys(names + list(self.options.modules)))

    def addons(self) -> None:
        from odoo_ops.addons import plan_install
        from odoo_ops.modules.db import states

        if not self.target.addons_paths:
            raise OpsError("no addons directory on this host to check")
        scan = self.target.addons_scan(refresh=True)  # the code has just changed
        if scan.invalid:
            raise PhaseFailed(
                "addons",
                f"{len(scan.invalid)} invalid manifest(s)",
                [f"{bad.path}: {bad.error}" for bad in scan.invalid],
            )
        required = self._required_modules()
        if not required:
            return
        installed = {n for n, r in states(self.target.database()).items() if r.state == "installed"}
        plan = plan_install(scan, required, self.target.series or "18.0", installed=installed)
        if not plan.ok:
            evidence = [f.message for f in plan.errors]
            raise PhaseFailed(
                "addons",
                "required modules cannot be installed from this"
                f" addons path: {evidence[0] if evidence else 'see the plan'}",
                evidence,
            )

    def modules(self) -> None:
        from odoo_ops.modules.install import install_modules
        from odoo_ops.modules.update import update_modules

        if self.options.changed:
            updated = update_modules(self.target, changed=True)
            self.logs.extend(_log_files(updated))
            if not getattr(updated, "ok", True):
                raise OpsError(getattr(updated, "error", None) or "module update failed")
        elif self.options.modules:
            updated = update_modules(self.target, self.options.modules)
            self.logs.extend(_log_files(updated))
            if not getattr(updated, "ok", True):
                raise OpsError(getattr(updated, "error", None) or "module update failed")
        from odoo_ops.modules.db import states

        installed = {n for n, r in states(self.target.database()).items() if r.state == "installed"}
        new = [m for m in self._required_modules() if m not in installed]
        if new:
            result = install_modules(self.target, new)
            self.logs.extend(_log_files(result))
            if not getattr(result, "ok", True):
                raise OpsError(getattr(result, "error", None) or "module install failed")

    def restart(self) -> None:
        from odoo_ops.adapters.hostcmd import run_on_host
        from odoo_ops.modules import maintenance as mx

        workers = mx.workers_of(self.target)
        start = workers.start if workers.configured else []
        if self.options.pull or self.options.build:
            from odoo_ops.adapters.hostcmd import compose_runner

            compose = compose_runner(self.target)
            if compose is not None:
                # `start` would run the old container again: only a recreated
                # container runs the pulled/built image
                start = compose.compose_argv("up", "-d", "--no-deps", *self.target.odoo_services)
        if start:
            result = run_on_host(self.target, start, timeout=300)
            if result.returncode != 0:
                raise OpsError(
                    "starting Odoo failed: " + (result.output.strip().splitlines() or [""])[-1]
                )
        self._wait_healthy(self.options.restart_timeout)

    def _internal_http(self) -> Any:
        from odoo_ops.adapters import Http, Unavailable

        dep = self.target.deployment
        url = getattr(dep, "internal_url", None) or dep.base_url
        if not url:
            raise Unavailable("no base_url/internal_url to verify Odoo over HTTP")
        return Http(url, timeout=dep.http_timeout)

    def _service_https(self) -> list[tuple[str, Any]]:
        """(label, Http) of each Odoo service that has its own internal URL; the one
        deployment URL when none has (one service, or several behind one URL)."""
        from odoo_ops.adapters import Http

        dep = self.target.deployment
        out = []
        for service in self.target.odoo_services:
            url = dep.internal_urls.get(service)
            if url:
                out.append((f"{service}: ", Http(url, timeout=dep.http_timeout)))
        if out:
            return out
        return [("", self._internal_http())]

    def _wait_healthy(self, timeout: float) -> None:
        import httpx

        from odoo_ops.adapters import Unavailable

        try:
            https = self._service_https()
        except Unavailable as exc:
            self.say(f"not waiting for Odoo: {exc.message}")
            return
        deadline = time.monotonic() + timeout
        for label, http in https:
            last = "no answer"
            while True:
                try:
                    with http.client() as client:
                        response = client.get("/web/health")
                    if response.status_code == 200:
                        break
                    last = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last = str(exc) or type(exc).__name__
                if time.monotonic() >= deadline:
                    raise OpsError(f"{label}Odoo not healthy within {timeout:g}s ({last})")
                time.sleep(min(1.0, max(0.05, timeout / 50)))

    def verify(self) -> None:
        failures = self._verifications()
        self.record.failed_verifications = len(failures)
        if failures:
            raise PhaseFailed(
                "verify",
                f"{len(failures)} verification(s) failed: " + "; ".join(failures[:3]),
                failures,
            )

    def _verify_rollback(self) -> list[str]:
        """/web/health and /web/login after a rollback (Odoo runs again unless
        maintenance was on before the deploy)."""
        if self.record.maintenance_before:
            return []
        try:
            self._wait_healthy(self.options.restart_timeout)
        except OpsError as exc:
            return [exc.message]
        return self._http_failures()

    def _verifications(self) -> list[str]:
        from odoo_ops.modules.db import states

        failures = self._http_failures()
        modules = states(self.target.database())
        stuck = sorted(
            n for n, r in modules.items() if r.state in ("to upgrade", "to install", "to remove")
        )
        if stuck:
            failures.append("modules pending: " + ", ".join(stuck))
        missing = [
            m
            for m in self._required_modules()
            if modules.get(m) is None or modules[m].state != "installed"
        ]
        if missing:
            failures.append("required modules not installed: " + ", ".join(missing))
        new_broken = sorted(self._broken_keys() - self.broken_before)
        if new_broken:
            failures.append(
                "new broken records: " + ", ".join(f"{k}: {s}" for k, s in new_broken[:5])
            )
        errors = self._log_errors()
        limit = self.target.project.config.thresholds.max_log_errors
        if len(errors) > limit:
            failures.append(
                f"{len(errors)} ERROR/CRITICAL line(s) in the Odoo log"
                f" (limit {limit}): {errors[0][:160]}"
            )
        return failures

    def _http_failures(self) -> list[str]:
        import httpx

        from odoo_ops.adapters import Unavailable

        failures: list[str] = []
        try:
            for label, http in self._service_https():
                with http.client() as client:
                    for path, expect in (("/web/health", "pass"), ("/web/login", "password")):
                        try:
                            response = client.get(path)
                        except httpx.HTTPError as exc:
                            failures.append(f"{label}{path}: {exc or type(exc).__name__}")
                            continue
                        if response.status_code != 200 or expect not in response.text.lower():
                            failures.append(f"{label}{path}: HTTP {response.status_code}")
        except Unavailable as exc:
            self.say(f"HTTP verification skipped: {exc.message}")
        return failures

    def _broken_keys(self) -> set[tuple[str, str]]:
        from odoo_ops.audit.broken import audit_broken

        try:
            report = audit_broken(self.target.database(), series=self.target.series)
        except OpsError as exc:
            self.say(f"audit broken not available: {exc.message}")
            return set()
        return {(f.kind, f.subject) for f in report.findings if not f.kind.startswith("module-")}

    def _log_errors(self) -> list[str]:
        import re

        pattern = re.compile(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ")
        lines: list[str] = []
        sources = list(self.logs)
        log_file = self.target.deployment.odoo_log_file
        if log_file:
            sources.append(self.target.project.path(log_file))
        for path in sources:
            try:
                if path.stat().st_mtime < self.started - 1:
                    continue
                with open(path, encoding="utf-8", errors="replace") as fh:
                    lines += [line.rstrip() for line in fh if pattern.match(line)]
            except OSError:
                continue
        lines += self._service_log_errors(pattern)
        return lines

    def _service_log_errors(self, pattern: Any) -> list[str]:
        """ERROR/CRITICAL lines each Odoo service logged since the deploy started
        (compose: ``docker compose logs --since``)."""
        import datetime as dt

        from odoo_ops.adapters.hostcmd import compose_runner, run_on_host

        compose = compose_runner(self.target)
        if compose is None or self.target.deployment.odoo_log_file:
            return []
        since = dt.datetime.fromtimestamp(self.started - 1, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines: list[str] = []
        for service in self.target.odoo_services:
            argv = compose.compose_argv(
                "logs", "--no-color", "--no-log-prefix", "--since", since, service
            )
            try:
                result = run_on_host(self.target, argv, timeout=120)
            except OpsError as exc:
                self.say(f"logs of {service} not read: {exc.message}")
                continue
            if result.returncode != 0:
                self.say(f"logs of {service} not read (exit {result.returncode})")
                continue
            found = [line for line in result.output.splitlines() if pattern.match(line)]
            lines += [f"{service}: {line}" for line in found]
        return lines

    def _take_snapshot(self, label: str) -> Path | None:
        """A database-truth snapshot (no HTTP crawl: the proxy is in maintenance)."""
        from odoo_ops.snapshot import CrawlOptions, create_snapshot

        out = self.target.state_dir / "deploy" / self.record.id / f"snapshot-{label}"
        create_snapshot(self.target, out, scan=None, crawl=CrawlOptions(enabled=False))
        return out

    def snapshot(self) -> None:
        from odoo_ops.jsondata import render_json
        from odoo_ops.snapshot import diff_snapshots

        if self.snapshot_before is None:
            return
        after = self._take_snapshot("after")
        if after is None:
            return
        diff = diff_snapshots(self.snapshot_before, after)
        (after.parent / "diff.json").write_text(render_json(diff) + "\n", encoding="utf-8")
        counts = diff.counts()
        if counts:
            self.say("snapshot diff: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

    # -- rollback ------------------------------------------------------------------
    def roll_back(self) -> None:
        roll_back_record(self.target, self.record, self.copy, say=self.say)

    def notify(self, result: DeployResult) -> None:
        from odoo_ops.notify import notify

        urls = self.target.project.config.notifications.urls
        if not urls:
            return
        r = self.record
        title = f"[odoo-ops] {self.target.name}: deploy {r.result}"
        body = f"deploy {r.id} by {r.who}: {r.result}"
        if r.failed_phase:
            body += f" (failed in {r.failed_phase}: {r.error})"
        if r.after_rollback:
            body += "; after the rollback Odoo still fails: " + "; ".join(r.after_rollback)
        for d in notify(
            urls, title, body, level="success" if r.result == "deployed" else "failure"
        ):
            if not d.ok:
                result.notes.append(f"notification to {d.channel} not delivered: {d.error}")

    def plan(self) -> list[str]:
        steps = [f"{i}. {p}" for i, p in enumerate(PHASES, 1)]
        if self.repo is None:
            steps.append("(no git repository: the code phase only pulls/builds images)")
        return steps


def service_images(target: Target) -> dict[str, str]:
    """The image name compose gives each Odoo service (``image:``, or the name it
    builds: ``<project>-<service>``)."""
    import re

    compose = target.compose_or_none()
    project = target.deployment.compose_project or re.sub(
        r"[^a-z0-9_-]", "", target.root.name.lower()
    )
    out = {}
    for service in target.odoo_services:
        svc = compose.services.get(service) if compose else None
        out[service] = (svc.image if svc and svc.image else None) or f"{project}-{service}"
    return out


def restore_images(target: Target, record: DeployRecord, say: Say) -> None:
    """Point each service's image name back at the image it ran before the deploy
    (kept under its rollback tag) and recreate the containers on it."""
    from odoo_ops.adapters.hostcmd import compose_runner, run_on_host

    compose = compose_runner(target)
    if not record.images or compose is None:
        return
    for service, kept in record.images.items():
        result = run_on_host(target, ["docker", "tag", kept["id"], kept["image"]], timeout=60)
        if result.returncode != 0:
            raise OpsError(
                f"{service}: image {kept['id'][:19]} cannot be tagged back as {kept['image']}: "
                + (result.output.strip().splitlines() or [""])[-1]
            )
    services = list(record.images)
    up = compose.compose_argv("up", "-d", "--no-deps", "--no-build", "--force-recreate", *services)
    result = run_on_host(target, up, timeout=600)
    if result.returncode != 0:
        raise OpsError(
            "recreating the Odoo services on their previous images failed: "
            + (result.output.strip().splitlines() or [""])[-1]
        )
    say("images back: " + ", ".join(f"{s} {k['id'][:19]}" for s, k in record.images.items()))


def _log_files(result: Any) -> list[Path]:
    out: list[Path] = []
    for step in getattr(result, "steps", []) or []:
        log = getattr(step, "log_file", None)
        if log:
            out.append(Path(log))
    return out


def roll_back_record(
    target: Target, record: DeployRecord, copy: InstantCopy | None = None, *, say: Say | None = None
) -> None:
    """Put code, database, filestore, crons and maintenance back as they were."""
    from odoo_ops.modules import crons as cronx
    from odoo_ops.modules import maintenance as mx

    say = say or (lambda _m: None)
    from odoo_ops.adapters.hostcmd import run_on_host

    workers = mx.workers_of(target)
    if workers.configured:
        # an Odoo started in the restart phase runs the new code: stop it before the
        # database is swapped; maintenance_off below starts it on the old code
        stopped = run_on_host(target, workers.stop, timeout=300)
        if stopped.returncode != 0:
            tail = (stopped.output.strip().splitlines() or [""])[-1]
            say(f"stopping the Odoo workers failed (exit {stopped.returncode}): {tail}")
    repo = GitRepo.find(target.root)
    if repo is not None and record.ref_before and repo.head() != record.ref_before:
        repo.reset_to(record.ref_before)
        say(f"code back at {record.ref_before[:12]}")
    db_name = target.database_name or ""
    if copy is None and record.instant_copy:
        from odoo_ops.deploy.instant import database_exists

        if database_exists(target.database(), record.instant_copy):
            fs = target.filestore_dir()
            copy = InstantCopy(
                db_name,
                record.instant_copy,
                fs if record.filestore_copy else None,
                Path(record.filestore_copy) if record.filestore_copy else None,
            )
    if copy is not None:
        restore_copy(target.database(), copy)
        say("database and filestore back from the instant copy")
    elif record.backup:
        from odoo_ops.backup.restore import RestoreOptions, restore_backup

        restore_backup(target, record.backup, RestoreOptions(force=True))
        say(f"database and filestore restored from backup {record.backup}")
    else:
        say("nothing to restore: the deploy had not changed the database yet")
    restore_images(target, record, say)
    if record.images and workers.configured:
        # the recreated containers start at once: stopped again (maintenance_off below
        # starts them, or they stay stopped when maintenance was on before)
        run_on_host(target, workers.stop, timeout=300)
    # the restored database holds the maintenance marker and the cron pause
    # record of the rollback point: leave both as they were before the deploy
    if record.paused_crons:
        with contextlib.suppress(OpsError):
            cronx.resume_crons(target)
    if not record.maintenance_before:
        mx.maintenance_off(target, note=say)
    # maintenance was on before the deploy: the workers stay stopped, as they were
