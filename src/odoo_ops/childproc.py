"""Child processes that die with odoo-ops.

Every process odoo-ops starts (pg_dump, pg_restore, zstd, age, git, odoo...)
goes through :class:`ChildPopen` (or :func:`run`), which

- asks the kernel to SIGKILL the child when odoo-ops dies, whatever killed
  it, SIGKILL included (Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, set in
  the child between fork and exec; a parent that died before that point is
  noticed and the child kills itself);
- puts the child in a process group of its own (``process_group=0``, or the
  new session asked with ``start_new_session``), so odoo-ops can kill it
  with everything it started, and a Ctrl-C on the terminal reaches odoo-ops
  alone, which then kills its children and undoes its partial work;
- remembers it, so :func:`kill_all` can kill every live child's group.

The kernel sends the death signal when the *thread* that started the child
ends, not the process: a thread that starts a child must wait for it before
it ends (every spawning thread of odoo-ops does: the pipelines run by
backup create/restore threads are waited for or killed inside the thread).

:func:`install_signal_handlers` (called by the CLI's ``main``) turns SIGTERM,
SIGINT and SIGHUP into: kill every child's process group, then raise
:class:`Terminated` (a ``KeyboardInterrupt``) in the main thread, so the
``except``/``finally`` blocks that undo partial work on errors run for a
signal too. Inside :func:`deferred_signals` (a step that must not stop half
way, such as a restore's swap) the signal waits until the block ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
        prctl.restype = ctypes.c_int
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                          ctypes.c_ulong]
        func: Callable[..., int] = prctl
        return func
    except (OSError, AttributeError):
        return None


# looked up once in the parent: the child must not load libraries between fork and exec
_PRCTL: Callable[..., int] | None = None
_PRCTL_LOADED = False


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, loaded on the first spawn (in the parent: never in a child
    between fork and exec), so that start-up does not pay for ctypes."""
    global _PRCTL, _PRCTL_LOADED
    if not _PRCTL_LOADED:
        _PRCTL, _PRCTL_LOADED = _load_prctl(), True
    return _PRCTL


def _die_with_parent_hook() -> Callable[[], None] | None:
    """The ``preexec_fn`` for this process (bound to its pid), or None off Linux."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the prctl: follow it now
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


_LIVE: weakref.WeakSet[subprocess.Popen[Any]] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class ChildPopen(subprocess.Popen[Any]):
    """``subprocess.Popen`` whose child dies with odoo-ops and has its own process group."""

    def __init__(self, args: Any, **kwargs: Any) -> None:
        if kwargs.get("preexec_fn") is None:
            kwargs["preexec_fn"] = _die_with_parent_hook()
        if not kwargs.get("start_new_session") and kwargs.get("process_group") is None:
            kwargs["process_group"] = 0
        raised_before = _state["raised_count"]
        try:
            super().__init__(args, **kwargs)
        except BaseException:
            # A signal raised after the fork, while Popen waited to hear that the
            # exec went well, leaves a running child that nobody knows of: stop it.
            if getattr(self, "_child_created", False) and self.returncode is None:
                self.kill_group()
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, 0)
            raise
        with _LIVE_LOCK:
            _LIVE.add(self)
        if _state["raised_count"] != raised_before:
            # The signal arrived while Popen ran the interpreter's at-fork hooks (a
            # preexec_fn makes it run them), where Python prints a raised exception
            # and goes on: the Terminated never reached us, and this child, forked
            # after kill_all() ran, would outlive the stop. Stop it and raise again.
            self.kill_group()
            raise Terminated(_state["last"])

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the child's process group (the child alone when that fails)."""
        if self.returncode is not None:
            return  # reaped: its pid (and group id) may belong to someone else now
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def live_children() -> list[ChildPopen]:
    """The children started through this module that have not been reaped."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    return [p for p in procs if isinstance(p, ChildPopen) and p.returncode is None]


def kill_all(sig: int = signal.SIGKILL) -> int:
    """Send ``sig`` to the process group of every live child; how many were signalled.

    Safe in a signal handler: takes no lock another thread could hold for long
    and never waits for a child.
    """
    procs = list(_LIVE)  # a snapshot; WeakSet iteration tolerates concurrent adds
    count = 0
    for proc in procs:
        if isinstance(proc, ChildPopen) and proc.returncode is None:
            proc.kill_group(sig)
            count += 1
    return count


def run(
    argv: Sequence[str],
    *,
    input: bytes | str | None = None,
    capture_output: bool = False,
    timeout: float | None = None,
    check: bool = False,
    **kwargs: Any,
) -> subprocess.CompletedProcess[Any]:
    """:func:`subprocess.run` for a :class:`ChildPopen`; a timeout kills the child's group."""
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    if capture_output:
        kwargs["stdout"] = subprocess.PIPE
        kwargs["stderr"] = subprocess.PIPE
    with ChildPopen(list(argv), **kwargs) as proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill_group()
            proc.communicate()
            raise
        except BaseException:
            proc.kill_group()
            proc.wait()
            raise
    retcode = proc.poll() or 0
    if check and retcode:
        raise subprocess.CalledProcessError(retcode, proc.args, output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(proc.args, retcode, stdout, stderr)


# -- signals ---------------------------------------------------------------------------


class Terminated(KeyboardInterrupt):
    """odoo-ops received SIGTERM/SIGHUP (or SIGINT): stop, undoing partial work."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_state: dict[str, Any] = {
    "deferred": 0, "pending": None, "raised": False, "raised_count": 0, "last": None,
}  # fmt: skip


def _swallowed_there(frame: FrameType | None) -> bool:
    """Whether an exception raised at ``frame`` would be printed and dropped by Python
    ("Exception ignored in ..."): inside a ``__del__`` or a weak set's or weak
    dictionary's removal callback (run whenever such an object is collected)."""
    depth = 0
    while frame is not None and depth < 64:
        code = frame.f_code
        if code.co_name == "__del__" or (
            code.co_name in ("_remove", "remove")
            and code.co_filename.endswith(("_weakrefset.py", "weakref.py"))
        ):
            return True
        frame = frame.f_back
        depth += 1
    return False


def _redeliver(signum: int) -> None:
    """Send ``signum`` to this process again in a moment (from a thread)."""
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
    timer.daemon = True
    timer.start()


def _handler(signum: int, frame: FrameType | None) -> None:
    kill_all()
    if _state["raised"]:
        return  # already stopping: let the clean-up finish
    if _swallowed_there(frame):
        # A Terminated raised here would be dropped, and the run would go on with
        # every later signal ignored: the signal comes again once out of there.
        _redeliver(signum)
        return
    if _state["deferred"]:
        _state["pending"] = signum
        return
    _state["raised"] = True
    _state["raised_count"] += 1
    _state["last"] = signum
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """SIGTERM, SIGINT, SIGHUP: kill the children's groups, then raise :class:`Terminated`.

    Only from the main thread (Python runs signal handlers there); a no-op elsewhere.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # e.g. nohup: keep ignoring it
            signal.signal(sig, _handler)
        except (ValueError, OSError):
            pass


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGTERM/SIGINT/SIGHUP (as handled here) until the block ends.

    For a few steps that must not stop half way; SIGKILL cannot be held, so such
    steps also keep a journal.
    """
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1
        pending = _state["pending"]
        if not _state["deferred"] and pending is not None and not _state["raised"]:
            _state["pending"] = None
            _state["raised"] = True
            raise Terminated(pending)
