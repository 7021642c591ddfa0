"""Sizing per Odoo's deployment guide: the formula and its invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odoo_ops.generate.sizing import GIB, MIB, compute_sizing


def test_cpu_bound_host() -> None:
    s = compute_sizing(2, 24 * GIB, 25)
    assert s.cpu_cap == 5
    assert s.user_need == 6  # ceil(25/6) + 1
    assert s.workers == 5
    assert s.limit_memory_hard == 2560 * MIB
    assert s.limit_memory_soft == 2048 * MIB
    assert s.max_cron_threads == 2


def test_user_bound_host() -> None:
    s = compute_sizing(16, 64 * GIB, 30)
    assert s.workers == 6  # ceil(30/6) + 1, far below 2*16+1
    assert s.user_need == 6


def test_ram_bound_host_lowers_the_memory_limit() -> None:
    s = compute_sizing(16, 16 * GIB, 1000)
    assert s.limit_memory_hard == 1024 * MIB
    assert s.workers == s.ram_cap == 10
    assert any("lowered" in r for r in s.reasons)


def test_smallest_host() -> None:
    s = compute_sizing(1, 2 * GIB, 5)
    assert s.workers == 1
    assert s.max_cron_threads == 1
    assert (s.workers + s.max_cron_threads) * s.limit_memory_hard <= 2 * GIB


@pytest.mark.parametrize(("cpus", "ram", "users"), [(0, 4 * GIB, 5), (2, GIB, 5), (2, 4 * GIB, 0)])
def test_bad_input(cpus: int, ram: int, users: int) -> None:
    with pytest.raises(ValueError):
        compute_sizing(cpus, ram, users)


def test_reasons_show_the_formula() -> None:
    s = compute_sizing(4, 8 * GIB, 50)
    text = "\n".join(s.reasons)
    assert "2×4+1 = 9" in text
    assert "ceil(50/6)+1 = 10" in text
    assert f"= {s.workers}" in text


@given(
    cpus=st.integers(1, 64),
    ram_gib=st.integers(2, 512),
    users=st.integers(1, 5000),
)
def test_invariants(cpus: int, ram_gib: int, users: int) -> None:
    s = compute_sizing(cpus, ram_gib * GIB, users)
    assert 1 <= s.workers <= 2 * cpus + 1
    assert s.workers <= s.user_need
    assert s.limit_memory_soft < s.limit_memory_hard
    assert (s.workers + s.max_cron_threads) * s.limit_memory_hard <= ram_gib * GIB
    assert s.limit_time_real > s.limit_time_cpu
    assert 1 <= s.max_cron_threads <= 2
    processes = s.workers + s.max_cron_threads
    assert (
        processes + 1
    ) * s.db_maxconn + 20 <= s.pg_max_connections or s.pg_max_connections == 100
    if processes * 4 <= 97:
        assert processes * s.db_maxconn <= 97  # within PostgreSQL's default 100 - 3 reserved
