"""The deployment advisory lock: re-entrant within a thread, exclusive otherwise."""

from __future__ import annotations

import subprocess
import sys
import threading

from odoo_ops.adapters import Database
from odoo_ops.errors import LockError


def test_nested_in_one_thread_exclusive_across_threads_and_processes(pg_admin_dsn: str) -> None:
    db = Database(pg_admin_dsn)
    name = "tests:advisory-lock"
    outcome: list[str] = []

    def other_thread() -> None:
        try:
            with Database(pg_admin_dsn).lock(name):
                outcome.append("entered")
        except LockError as exc:
            outcome.append(str(exc))

    with db.lock(name), Database(pg_admin_dsn).lock(name):  # nested: re-entered
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        code = (
            "import sys\nfrom odoo_ops.adapters import Database\n"
            "from odoo_ops.errors import LockError\n"
            f"try:\n    Database({pg_admin_dsn!r}).lock({name!r}).__enter__()\n"
            "except LockError as e:\n    print(e); sys.exit(7)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert len(outcome) == 1 and "another odoo-ops run" in outcome[0]
    assert proc.returncode == 7 and "held by PostgreSQL backend" in proc.stdout
    # released: the next taker gets it at once
    with Database(pg_admin_dsn).lock(name):
        pass


def test_wait_gives_up_with_a_lock_error(pg_admin_dsn: str) -> None:
    import time

    name = "tests:advisory-wait"
    with Database(pg_admin_dsn).lock(name):
        start = time.monotonic()
        result: list[BaseException] = []

        def waiter() -> None:
            try:
                with Database(pg_admin_dsn).lock(name, wait=0.6):
                    pass
            except LockError as exc:
                result.append(exc)

        t = threading.Thread(target=waiter)
        t.start()
        t.join()
        assert result and time.monotonic() - start >= 0.5
    with Database(pg_admin_dsn).lock(name, wait=0.1):  # free again
        pass
