"""``pitr.restore._InThread``: work done beside the copy hands back its value or its error."""

from __future__ import annotations

import threading

import pytest

from odoo_ops.errors import OpsError
from odoo_ops.pitr.restore import _InThread


def test_the_value_comes_back_from_another_thread() -> None:
    main = threading.get_ident()
    job = _InThread(lambda: ["ab/cdef", threading.get_ident() != main])
    assert job.result() == ["ab/cdef", True]


def test_the_error_is_raised_where_the_result_is_asked_for() -> None:
    def fail() -> list[str]:
        raise OpsError("reading ir_attachment off the scratch server: gone")

    job = _InThread(fail)
    job.join()  # the failure does not escape the thread on its own
    with pytest.raises(OpsError, match="off the scratch server: gone"):
        job.result()
