"""The pgBackRest with the sftp repository type the tests use.

Debian 12's pgbackrest (2.45) has no sftp repository type; CI provides one
(2.55.1, .ci/setup.d/41-pgbackrest-sftp.sh) and names it in
``ODOO_OPS_TEST_PGBACKREST_SFTP``. Without it the tests that need it fail on CI
(``CI`` set) and are skipped elsewhere.
"""

from __future__ import annotations

import os

import pytest

ENV = "ODOO_OPS_TEST_PGBACKREST_SFTP"
#: read on import: tests/conftest.py removes ODOO_OPS_* from each test's environment
_CONFIGURED = os.environ.get(ENV, "")


def pgbackrest_with_sftp() -> str:
    """The path of that pgBackRest (fails on CI, skips elsewhere, when there is none)."""
    from odoo_ops.pitr.repository import sftp_supported

    exe = _CONFIGURED
    if not exe:
        why = f"{ENV} is not set: no pgBackRest with the sftp repository type"
        if os.environ.get("CI"):
            pytest.fail(
                f"{why} on CI: .ci/setup.d/41-pgbackrest-sftp.sh provides it"
                " (its `ci: warning` line in the set-up log says why it did not)"
            )
        pytest.skip(f"{why} (source .ci/setup.d/41-pgbackrest-sftp.sh)")
    if not os.access(exe, os.X_OK) or not sftp_supported(exe):
        pytest.fail(f"{ENV}={exe} is not a pgBackRest with the sftp repository type")
    return exe
