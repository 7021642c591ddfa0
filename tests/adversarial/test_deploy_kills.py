"""A deploy killed (SIGKILL) at random moments: no child of odoo-ops survives
it, the next deploy refuses to start over it, and `odoo-ops rollback` puts the
deployment back exactly — or the deploy had finished and stays deployed.

The moments are drawn from a seeded random generator over the whole length of
a deploy (measured first), so the kills land in every phase over the trials;
the odoo double sleeps inside the module update to give the update, with its
child process, a real window to be killed in.
"""

from __future__ import annotations

import random
import signal
import time
from typing import Any

import psutil
import pytest

from tests.integration.deploy.conftest import DeployWorld, deploy_world  # noqa: F401

pytestmark = pytest.mark.pg

TRIALS = 3
COUNTS = {"trials": 0, "children_seen": 0, "children_left": 0, "inconsistent": 0}


def _descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _kill_deploy_after(w: DeployWorld, delay: float) -> tuple[int, set[int]]:
    """Start `deploy --force`, SIGKILL odoo-ops itself (not its group) after
    ``delay`` seconds; the pids of every child seen while it ran."""
    proc = w.popen("deploy", "--force")
    parent = psutil.Process(proc.pid)
    seen: set[int] = set()
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        seen.update(child.pid for child in _descendants(parent))
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode, seen


def _alive(pids: set[int]) -> list[int]:
    left = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.NoSuchProcess:
            continue
    return left


def test_deploy_killed_at_random_moments(deploy_world: DeployWorld) -> None:  # noqa: F811
    w = deploy_world
    rng = random.Random(19)
    before: dict[str, Any] = w.state()
    # how long a whole deploy takes here (with the double sleeping in the update)
    w.release("18.0.1.1.0", extra=', "odoo_double": {"sleep": 1}')
    start = time.monotonic()
    first = w.cli("deploy", "--force")
    full = time.monotonic() - start
    assert first.returncode == 0, first.stdout + first.stderr
    assert w.cli("rollback").returncode == 0
    assert w.state() == before
    for trial in range(TRIALS):
        COUNTS["trials"] += 1
        version = f"18.0.1.{trial + 2}.0"
        w.release(version, extra=', "odoo_double": {"sleep": 1}')
        delay = rng.uniform(0.1, full * 0.95)
        records = len(w.journal())
        code, seen = _kill_deploy_after(w, delay)
        COUNTS["children_seen"] += len(seen)
        time.sleep(0.3)  # PR_SET_PDEATHSIG is delivered at once; give the kernel a beat
        left = _alive(seen)
        COUNTS["children_left"] += len(left)
        assert not left, f"trial {trial} (kill at {delay:.2f}s): children alive {left}"
        journal = w.journal()
        last = journal[-1] if len(journal) > records else None  # None: killed before it began
        if last is not None and last["result"] == "deployed":
            assert code in (0, -9)  # finished just before the kill
            assert ("shop", "installed", version) in w.state()["modules"]
            assert w.cli("rollback").returncode == 0
        elif last is not None and last["result"] in ("running", "rollback-failed"):
            again = w.cli("deploy", "--force")
            assert again.returncode == 1 and "interrupted" in again.stderr, again.stderr
            rolled = w.cli("rollback")
            assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        state = w.state()
        if state != before:
            COUNTS["inconsistent"] += 1
        assert state == before, f"trial {trial} (kill at {delay:.2f}s)"
    print(f"deploy kills: {COUNTS}")
