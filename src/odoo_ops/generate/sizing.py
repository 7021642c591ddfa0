"""Sizing an Odoo server from its CPUs, RAM and expected concurrent users.

The formula follows Odoo's deployment guide ("Builtin server > Worker number
calculation" and "Memory size calculation"):

- CPU ceiling: ``2 × CPU + 1`` workers — more processes than that only
  queue on the cores;
- users: one worker serves about 6 concurrent users, so
  ``ceil(users / 6) + 1`` workers (the extra one absorbs a slow report or
  import without making everybody wait);
- RAM ceiling: every worker and every cron worker may grow up to
  ``limit_memory_hard`` before it is recycled, so
  ``(RAM − reserve) // limit_memory_hard − max_cron_threads`` workers fit,
  where the reserve (max(1 GiB, 25 % of RAM)) is left to PostgreSQL, the
  operating system and the page cache.

``workers = max(1, min(cpu_cap, user_need, ram_cap))``. When RAM is the
binding limit the memory limits are lowered so that more workers
fit before the RAM ceiling is applied: first down to what the wanted workers
need (not below 1 GiB), then, on a host that cannot fit two workers, down to
what two workers need (not below 512 MiB). ``limit_memory_soft`` is 80 % of the
hard limit; ``limit_time_real`` is twice ``limit_time_cpu``; ``db_maxconn``
keeps every process's pool inside PostgreSQL's ``max_connections``, which the
generated compose file sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIB = 1024 * 1024
GIB = 1024 * MIB

USERS_PER_WORKER = 6
DEFAULT_HARD = 2560 * MIB
LOWERED_HARD = 1024 * MIB
MIN_HARD = 512 * MIB
MIN_RAM = 2 * GIB
PG_DEFAULT_MAX_CONNECTIONS = 100


@dataclass
class Sizing:
    """The numbers that go into odoo.conf, and why."""

    cpus: int
    ram_bytes: int
    users: int
    workers: int
    max_cron_threads: int
    limit_memory_soft: int
    limit_memory_hard: int
    limit_time_cpu: int = 600
    limit_time_real: int = 1200
    limit_time_real_cron: int = 1800
    limit_request: int = 8192
    db_maxconn: int = 16
    pg_max_connections: int = 100
    cpu_cap: int = 0
    user_need: int = 0
    ram_cap: int = 0
    reasons: list[str] = field(default_factory=list)


def detect_host() -> tuple[int, int]:
    """(CPU count, RAM in bytes) of this machine, read with psutil."""
    import psutil

    cpus = psutil.cpu_count(logical=True) or 1
    ram = int(psutil.virtual_memory().total)
    return cpus, ram


def _round_down(value: int, unit: int) -> int:
    return max(unit, value - value % unit)


def compute_sizing(cpus: int, ram_bytes: int, users: int) -> Sizing:
    """Workers, memory and time limits per Odoo's deployment guide (see module doc)."""
    if cpus < 1:
        raise ValueError("cpus must be at least 1")
    if ram_bytes < MIN_RAM:
        raise ValueError("Odoo in production needs at least 2 GiB of RAM")
    if users < 1:
        raise ValueError("users must be at least 1")
    reserve = max(GIB, ram_bytes // 4)
    usable = max(ram_bytes - reserve, ram_bytes // 2)
    cpu_cap = 2 * cpus + 1
    user_need = math.ceil(users / USERS_PER_WORKER) + 1
    wanted = min(cpu_cap, user_need)
    cron = 1 if wanted <= 4 else 2
    hard = DEFAULT_HARD
    reasons: list[str] = []
    if usable // hard < wanted + cron:
        hard = max(LOWERED_HARD, _round_down(usable // (wanted + cron), 64 * MIB))
        if usable // hard < 2 + cron:
            hard = max(MIN_HARD, _round_down(usable // (2 + cron), 64 * MIB))
        reasons.append(
            f"limit_memory_hard lowered to {hard // MIB} MiB so that more workers"
            f" fit in {usable // MIB} MiB"
        )
    soft = _round_down(hard * 4 // 5, MIB)
    ram_cap = usable // hard - cron
    workers = max(1, min(cpu_cap, user_need, ram_cap))
    if workers <= 2:
        cron = 1
    # Each process (HTTP worker, cron worker) keeps its own pool of up to
    # db_maxconn connections; their sum must stay within PostgreSQL's
    # max_connections less the superuser reserve (97 of the default 100).
    processes = workers + cron
    db_maxconn = max(4, min(16, (PG_DEFAULT_MAX_CONNECTIONS - 3) // processes))
    # + the gevent (websocket) process and room for odoo-ops, backups, psql
    pg_max = max(PG_DEFAULT_MAX_CONNECTIONS, (processes + 1) * db_maxconn + 20)
    reasons[:0] = [
        f"CPU ceiling 2×{cpus}+1 = {cpu_cap}",
        f"users: ceil({users}/{USERS_PER_WORKER})+1 = {user_need}",
        f"RAM ceiling ({ram_bytes // MIB} MiB − {reserve // MIB} MiB reserve) //"
        f" {hard // MIB} MiB − {cron} cron = {ram_cap}",
        f"workers = min({cpu_cap}, {user_need}, {ram_cap}) = {workers}",
    ]
    return Sizing(
        cpus=cpus,
        ram_bytes=ram_bytes,
        users=users,
        workers=workers,
        max_cron_threads=cron,
        limit_memory_soft=soft,
        limit_memory_hard=hard,
        db_maxconn=db_maxconn,
        pg_max_connections=pg_max,
        cpu_cap=cpu_cap,
        user_need=user_need,
        ram_cap=ram_cap,
        reasons=reasons,
    )
