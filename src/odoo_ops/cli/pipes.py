"""Standard output closed by the reader (``odoo-ops backup list | head -1``).

Python ignores SIGPIPE, so a write to a pipe whose reader has gone raises
``BrokenPipeError``; click would turn that into a silent exit 1, and the final
flush at exit would print "Exception ignored ... BrokenPipeError". odoo-ops
instead behaves like the Unix tools it is piped with: it stops writing,
prints nothing and exits with status 141 (128 + SIGPIPE), the status a shell
reports for ``yes | head -1``. It exits with that status rather than dying of
the signal so that ``finally`` blocks and exit handlers still run (locks
released, temporary files removed); the work itself is done by then, because
commands print their result after it.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from odoo_ops.errors import OpsError

EXIT_STDOUT_CLOSED = 128 + signal.SIGPIPE
"""141: what a shell shows for a process that wrote to a closed pipe."""


class StdoutClosed(Exception):
    """The reader of standard output (or standard error) went away."""


def _closed(fd: int) -> bool:
    """Is ``fd`` a pipe whose reader has gone? (``poll`` reports POLLERR for it.)"""
    try:
        poller = select.poll()
        poller.register(fd, 0)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError):
        return False


def output_closed() -> bool:
    return _closed(1) or _closed(2)


@contextmanager
def watch_output() -> Iterator[None]:
    """Turn a broken pipe on stdout/stderr into :class:`StdoutClosed` (click would hide it).

    A broken pipe to something else (a helper process that exited early) is an
    error and says so.
    """
    try:
        yield
    except BrokenPipeError as exc:
        if output_closed():
            raise StdoutClosed() from exc
        raise OpsError(
            "a pipe to a helper process broke (it exited before reading everything)"
        ) from exc


def exit_quietly() -> NoReturn:
    """Exit with 141 and nothing printed; later flushes of stdout/stderr go to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        if _closed(fd):
            os.dup2(devnull, fd)
    os.close(devnull)
    sys.exit(EXIT_STDOUT_CLOSED)
