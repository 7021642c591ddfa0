"""Children of odoo-ops die with it: SIGKILL (death signal), SIGTERM/SIGINT (handler)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from odoo_ops import childproc
from odoo_ops.backup.streams import ProcessChain

SRC = str(Path(__file__).resolve().parents[2] / "src")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux prctl")


def _gone(pid: int, limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def _parent(body: str) -> subprocess.Popen[str]:
    """A Python process running ``body``; it prints the child pids, one line each."""
    code = f"import sys; sys.path.insert(0, {SRC!r})\n" + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def _pids(proc: subprocess.Popen[str], count: int) -> list[int]:
    assert proc.stdout is not None
    return [int(proc.stdout.readline()) for _ in range(count)]


@pytest.mark.parametrize(
    ("how", "body", "count"),
    [
        ("popen", """
            from odoo_ops.childproc import ChildPopen
            p = ChildPopen(["sleep", "300"]); print(p.pid, flush=True)
        """, 1),
        ("chain", """
            from odoo_ops.backup.streams import ProcessChain
            c = ProcessChain([["sleep", "300"], ["cat"], ["zstd", "-q", "-c"]])
            for p in c.procs: print(p.pid, flush=True)
        """, 3),
        ("runner", """
            import threading
            from odoo_ops.adapters.runner import run_process
            threading.Thread(target=run_process, args=(["sleep", "300"],), daemon=True).start()
            import psutil, time
            me = psutil.Process()
            while not me.children(): time.sleep(0.01)
            print(me.children()[0].pid, flush=True)
        """, 1),
    ],
)
def test_sigkill_of_odoo_ops_kills_its_children(how: str, body: str, count: int) -> None:
    parent = _parent(textwrap.dedent(body) + "\nimport time; time.sleep(300)\n")
    pids = _pids(parent, count)
    parent.kill()
    parent.wait()
    assert all(_gone(pid) for pid in pids), how


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_kill_the_groups_then_unwind(tmp_path: Path, sig: int) -> None:
    marker = tmp_path / "cleaned"
    parent = _parent(f"""
        from odoo_ops.childproc import ChildPopen, Terminated, install_signal_handlers
        install_signal_handlers()
        try:
            p = ChildPopen(["sh", "-c", "sleep 300 & echo $!; wait"], stdout=-1, text=True)
            print(p.pid, flush=True); print(p.stdout.readline().strip(), flush=True)
            p.wait()
        except Terminated as exc:
            open({str(marker)!r}, "w").write(str(exc))
            sys.exit(128 + exc.signum)
    """)
    child, grandchild = _pids(parent, 2)
    parent.send_signal(sig)
    assert parent.wait(timeout=10) == 128 + sig
    assert marker.read_text() == signal.Signals(sig).name  # the clean-up ran
    assert _gone(child) and _gone(grandchild)  # the whole group, grandchild included


def test_deferred_signals_finish_the_step_first(tmp_path: Path) -> None:
    log = tmp_path / "log"
    parent = _parent(f"""
        import time
        from odoo_ops.childproc import Terminated, deferred_signals, install_signal_handlers
        install_signal_handlers()
        out = open({str(log)!r}, "w", buffering=1)
        try:
            with deferred_signals():
                print(0, flush=True)
                time.sleep(0.5)
                out.write("step done\\n")
            out.write("after\\n")
        except Terminated:
            out.write("terminated\\n")
    """)
    _pids(parent, 1)
    parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=10)
    assert log.read_text() == "step done\nterminated\n"


def test_run_and_kill_all_in_process() -> None:
    done = childproc.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True)
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")
    with pytest.raises(subprocess.TimeoutExpired):
        childproc.run(["sleep", "30"], timeout=0.2)
    chain = ProcessChain([["sleep", "300"]])
    (proc,) = chain.procs
    assert os.getpgid(proc.pid) == proc.pid  # its own group
    assert proc in childproc.live_children()
    assert childproc.kill_all() >= 1
    proc.wait(timeout=5)
    assert proc not in childproc.live_children()


def test_a_signal_during_the_at_fork_hooks_still_stops_the_run(tmp_path: Path) -> None:
    """A SIGTERM that lands while Popen runs the at-fork hooks (CI saw it in logging's
    lock release) raises inside a hook, where Python prints the exception and goes on.
    The child forked meanwhile is stopped and Terminated raised again right after."""
    log = tmp_path / "log"
    parent = _parent(f"""
        import os, signal
        from odoo_ops.childproc import ChildPopen, Terminated, install_signal_handlers
        install_signal_handlers()
        fired = []
        def hook():
            if not fired:  # once: the signal is handled inside this hook
                fired.append(1)
                os.kill(os.getpid(), signal.SIGTERM)
                sum(range(1000))  # a few bytecodes: the handler runs here
        os.register_at_fork(after_in_parent=hook)
        out = open({str(log)!r}, "w", buffering=1)
        try:
            p = ChildPopen(["sleep", "300"])
            out.write(f"went on with child {{p.pid}}\\n")
        except Terminated as exc:
            out.write(f"terminated {{exc}}\\n")
            sys.exit(3)
    """)
    assert parent.wait(timeout=20) == 3, log.read_text() if log.exists() else ""
    assert log.read_text() == "terminated SIGTERM\n"
    sleepers = [
        p for p in psutil.process_iter(["cmdline", "ppid"])
        if p.info["cmdline"] == ["sleep", "300"] and p.info["ppid"] in (parent.pid, 1)
    ]
    assert sleepers == []


def test_a_signal_after_the_fork_stops_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal raised while Popen waits for the exec (after the fork) leaves a child that
    is in no list: ChildPopen stops and reaps it before the exception goes on."""
    forked: list[int] = []
    original = subprocess.Popen._execute_child  # type: ignore[attr-defined]

    def execute_then_interrupted(self: subprocess.Popen[bytes], *args: object) -> None:
        original(self, *args)
        forked.append(self.pid)
        raise childproc.Terminated(signal.SIGTERM)

    monkeypatch.setattr(subprocess.Popen, "_execute_child", execute_then_interrupted)
    with pytest.raises(childproc.Terminated):
        childproc.ChildPopen(["sleep", "300"])
    assert forked
    assert not psutil.pid_exists(forked[0])  # killed and reaped: not even a zombie


def test_a_signal_inside_a_finalizer_is_not_lost(tmp_path: Path) -> None:
    """A SIGTERM handled while a ``__del__`` (or a weak set's removal callback) runs would
    raise where Python prints the exception and drops it (CI saw a health watcher go on
    after SIGINT, every later signal ignored): it is sent again once out of there."""
    log = tmp_path / "log"
    parent = _parent(f"""
        import os, signal, time
        from odoo_ops.childproc import Terminated, install_signal_handlers
        install_signal_handlers()
        class Finalized:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGTERM)
                sum(range(1000))  # a few bytecodes: the handler runs here
        out = open({str(log)!r}, "w", buffering=1)
        try:
            thing = Finalized()
            del thing
            time.sleep(5)
            out.write("went on\\n")
        except Terminated as exc:
            out.write(f"terminated {{exc}}\\n")
            sys.exit(3)
    """)
    assert parent.wait(timeout=20) == 3, log.read_text() if log.exists() else ""
    assert log.read_text() == "terminated SIGTERM\n"


def test_a_chain_gives_each_stage_its_environment_and_can_name_the_consumer_first() -> None:
    from odoo_ops.backup.streams import ProcessChain, StreamError

    chain = ProcessChain([["sh", "-c", "echo $SIDE"], ["sh", "-c", "cat; echo $SIDE"]],
                         envs=[{"SIDE": "reader"}, {"SIDE": "writer"}])  # fmt: skip
    assert chain.stdout is not None
    assert chain.stdout.read() == b"reader\nwriter\n"
    chain.wait()
    assert chain.finished()
    failing = ProcessChain([["sh", "-c", "echo producer broke >&2; exit 2"],
                            ["sh", "-c", "cat >/dev/null; echo consumer refused >&2; exit 3"]],
                           stdout=subprocess.DEVNULL)  # fmt: skip
    with pytest.raises(StreamError, match="consumer refused"):
        failing.wait(last_first=True)
    with pytest.raises(StreamError, match="producer broke"):
        failing.wait()
