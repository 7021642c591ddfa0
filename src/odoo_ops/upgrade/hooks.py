"""Hooks around the OpenUpgrade run: SQL files and target ``odoo shell`` scripts.

``[upgrade] before_sql`` run on the database (the rehearsal's copy, or the live
one in ``upgrade run``) before OpenUpgrade, ``after_sql`` and then
``after_shell`` after a successful migration (the shell is the **target**
Odoo's, with the run's odoo.conf; a script keeps its changes with
``env.cr.commit()``). Each SQL file runs in one transaction. A failing hook
fails the rehearsal (or rolls the run back) and is named in the report.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from pathlib import Path

    from odoo_ops.adapters import Database, Target
    from odoo_ops.adapters.runner import Runner
    from odoo_ops.config.schema import Upgrade

HOOK_LIMIT = 16 << 20
SHELL_TIMEOUT = 1800.0
SQL_TIMEOUT = 3600.0  # statement_timeout of a SQL hook (the deployment's is for queries)


class HookFailed(OpsError):
    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"hook {file}: {message}")
        self.file = file
        self.detail = message


def _read(target: Target, rel: str, kind: str) -> str:
    from odoo_ops.inputs import read_input_text

    return read_input_text(target.project.path(rel), kind=kind, limit=HOOK_LIMIT)


def run_sql(target: Target, db: Database, files: list[str], say: object = None) -> None:
    import psycopg

    from odoo_ops.adapters.pgadmin import first_line

    for rel in files:
        text = _read(target, rel, "SQL hook")
        if callable(say):
            say(f"SQL hook {rel}")
        try:
            with db.writable(timeout=SQL_TIMEOUT) as cur:
                cur.execute(text.encode())
        except psycopg.Error as exc:
            raise HookFailed(rel, first_line(exc)) from None
        except OpsError as exc:  # the adapter's own wrapping of a driver error
            raise HookFailed(rel, exc.message) from None


def odoo_shell(cfg: Upgrade, conf: str, database: str, text: str,
               runner: Runner | None = None) -> tuple[int, str]:
    """Run ``text`` in the target's ``odoo shell`` on ``database``: here, or through
    the deployment's runner (``docker compose run --rm``, ssh) when ``runner`` is
    given. (exit code, output); TimeoutExpired after :data:`SHELL_TIMEOUT`."""
    from odoo_ops.childproc import run

    argv = [*cfg.target_odoo_command, "shell", *(["-c", conf] if conf else []),
            "-d", database, "--no-http"]
    if runner is not None:
        result = runner.run(argv, input=text, timeout=SHELL_TIMEOUT, use_run=True)
        if result.timed_out:
            raise subprocess.TimeoutExpired(argv, SHELL_TIMEOUT)
        return result.returncode, result.output
    proc = run([*argv, "--logfile="], input=text, capture_output=True, text=True,
               timeout=SHELL_TIMEOUT)
    return proc.returncode, (proc.stdout or "") + (proc.stderr or "")


def run_shell(target: Target, cfg: Upgrade, conf: Path | str, database: str, files: list[str],
              log_dir: Path, say: object = None, runner: Runner | None = None) -> None:
    for n, rel in enumerate(files, 1):
        text = _read(target, rel, "odoo shell hook")
        if callable(say):
            say(f"odoo shell hook {rel}")
        try:
            code, output = odoo_shell(cfg, str(conf), database, text, runner)
        except subprocess.TimeoutExpired:
            raise HookFailed(rel, f"no end within {SHELL_TIMEOUT:.0f} s") from None
        (log_dir / f"hook-shell-{n}.log").write_text(output)
        if code != 0 or "Traceback (most recent call last)" in output:
            last = [ln for ln in output.strip().splitlines() if ln.strip()][-1:] or [""]
            raise HookFailed(rel, f"exit {code}: {last[0][:300]}")


_MODULES_SCRIPT = """\
import json
todo = json.loads({payload!r})
Module = env['ir.module.module']
gone = Module.search([('name', 'in', todo['uninstall']),
                      ('state', 'in', ['installed', 'to upgrade'])])
if gone:
    gone.button_immediate_uninstall()
if todo['install']:
    Module.update_list()
    found = Module.search([('name', 'in', todo['install'])])
    missing = sorted(set(todo['install']) - set(found.mapped('name')))
    if missing:
        raise ValueError('not on the addons path: ' + ', '.join(missing))
    new = found.filtered(lambda m: m.state == 'uninstalled')
    if new:
        new.button_immediate_install()
env.cr.commit()
"""


def apply_modules(cfg: Upgrade, conf: Path | str, database: str, uninstall: list[str],
                  install: list[str], log_dir: Path, label: str, say: object = None,
                  runner: Runner | None = None) -> None:
    """Uninstall, then install modules with the target Odoo (its ``odoo shell`` and
    ``button_immediate_uninstall/install``: Odoo removes the data and tables itself)."""
    import json

    if not uninstall and not install:
        return
    what = f"modules after {label}"
    if callable(say):
        say(f"{what}: uninstall {', '.join(uninstall) or '-'}; "
            f"install {', '.join(install) or '-'}")
    script = _MODULES_SCRIPT.format(payload=json.dumps({"uninstall": list(uninstall),
                                                        "install": list(install)}))
    try:
        code, output = odoo_shell(cfg, str(conf), database, script, runner)
    except subprocess.TimeoutExpired:
        raise HookFailed(what, f"no end within {SHELL_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise HookFailed(what, f"cannot run {cfg.target_odoo_command[0]}: {exc.strerror}",
                         ) from None
    (log_dir / f"modules-{label.split()[-1]}.log").write_text(output)
    if code != 0 or "Traceback (most recent call last)" in output:
        last = [ln for ln in output.strip().splitlines() if ln.strip()][-1:] or [""]
        raise HookFailed(what, f"exit {code}: {last[0][:300]}")
