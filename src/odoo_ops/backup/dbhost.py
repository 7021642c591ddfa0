"""The database host's CPUs and free memory: how many restore jobs, how much memory per job.

``pg_restore -j N`` and the index builds run on the database server, so N and
``maintenance_work_mem`` are sized to *its* CPUs and free memory, not this
machine's:

- a server on this machine (a unix socket, ``localhost``, a loopback address —
  also a compose service published on 127.0.0.1): this machine's CPUs
  (``os.sched_getaffinity``) and ``MemAvailable``;
- a server elsewhere: asked through the database, ``pg_read_file`` of
  ``/proc/cpuinfo``, the cgroup's ``cpu.max`` and ``/proc/meminfo`` (needs a
  superuser or ``pg_read_server_files``, as the usual odoo-ops role of a
  compose database is);
- otherwise (not allowed, not Linux, unreachable): :data:`FALLBACK_CPUS` CPUs
  and :data:`FALLBACK_MWM`, and the result says so.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

FALLBACK_CPUS = 2
MAX_JOBS = 16
MIB = 1 << 20
#: maintenance_work_mem bounds: at most 1 GiB a session, at least 64 MiB.
MWM_MAX = 1 << 30
MWM_MIN = 64 * MIB
FALLBACK_MWM = 256 * MIB
#: the share of the free memory that the index builds of one restore may take
MWM_SHARE = 0.25


@dataclass(frozen=True)
class DbHost:
    cpus: int
    available: int | None  # bytes of free memory (MemAvailable), None when unknown
    source: str  # "local" | "server" | "fallback"

    @property
    def jobs(self) -> int:
        """Parallel pg_dump / pg_restore jobs: one per CPU of the database host."""
        return max(1, min(self.cpus, MAX_JOBS))

    def maintenance_work_mem(self, jobs: int) -> int:
        """Bytes per session: ``min(1 GiB, 25% of free / jobs)``, at least 64 MiB.

        Each of the ``jobs`` sessions may build an index at the same time, each
        with its own ``maintenance_work_mem``: the share is divided between them.
        """
        if self.available is None:
            return FALLBACK_MWM
        share = int(self.available * MWM_SHARE) // max(1, jobs)
        return max(MWM_MIN, min(MWM_MAX, share))


def restore_pgoptions(mwm_bytes: int) -> str:
    """``PGOPTIONS`` of a restore's sessions."""
    return f"-c maintenance_work_mem={mwm_bytes // MIB}MB -c synchronous_commit=off"


def is_local_host(host: str | None) -> bool:
    """A libpq ``host`` that reaches a server on this machine."""
    if not host:
        return True  # libpq's default: the local unix socket
    first = host.split(",")[0].strip()
    if first.startswith("/") or first.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(first).is_loopback
    except ValueError:
        return False


def local_cpus() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or FALLBACK_CPUS
    quota = _cgroup_cpus(_read_text("/sys/fs/cgroup/cpu.max"))
    return max(1, min(count, quota) if quota else count)


def local_available() -> int | None:
    return _mem_available(_read_text("/proc/meminfo"))


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read(1 << 20)
    except OSError:
        return None


def _cgroup_cpus(text: str | None) -> int | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` (``"max 100000"``: no limit)."""
    if not text:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return max(1, -(-quota // period)) if period > 0 else None


def _cpuinfo_count(text: str | None) -> int | None:
    if not text:
        return None
    count = len(re.findall(r"^processor\s*:", text, re.MULTILINE))
    return count or None


def _mem_available(text: str | None) -> int | None:
    if not text:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def probe_server(conn: Any) -> DbHost | None:
    """CPUs and free memory read by the server itself; None when it may not read them."""
    texts: dict[str, str | None] = {}
    for path in ("/proc/cpuinfo", "/sys/fs/cgroup/cpu.max", "/proc/meminfo"):
        try:
            row = conn.execute("SELECT pg_read_file(%s, 0, %s, true)", (path, 1 << 20)).fetchone()
        except Exception:  # no privilege, not Linux...: the fallback
            try:
                conn.rollback()
            except Exception:
                pass
            return None
        texts[path] = str(row[0]) if row and row[0] is not None else None
    cpus = _cpuinfo_count(texts["/proc/cpuinfo"])
    if cpus is None:
        return None
    quota = _cgroup_cpus(texts["/sys/fs/cgroup/cpu.max"])
    if quota:
        cpus = min(cpus, quota)
    return DbHost(cpus, _mem_available(texts["/proc/meminfo"]), "server")


def probe(target: Target, conn: Any | None = None) -> DbHost:
    """The database host of ``target`` (``conn``: an open connection to it, if any)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        host = conninfo_to_dict(target.dsn()).get("host")
    except Exception:
        host = None
    if is_local_host(str(host) if host else os.environ.get("PGHOST")):
        return DbHost(local_cpus(), local_available(), "local")
    owned = conn is None
    try:
        if conn is None:
            from odoo_ops.adapters.pgadmin import admin_connection

            conn = admin_connection(target)
        found = probe_server(conn)
    except Exception:
        found = None
    finally:
        if owned and conn is not None:
            conn.close()
    return found or DbHost(FALLBACK_CPUS, None, "fallback")
