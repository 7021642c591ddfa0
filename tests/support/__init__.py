"""Shared test harness of odoo-ops.

Import it as ``tests.support`` (``tests/conftest.py`` puts the repository root on
``sys.path``):

- :mod:`tests.support.odoo_schema` -- an Odoo-shaped schema (16..19), a healthy
  seed and small builders that return ids;
- :mod:`tests.support.pg` -- databases on the real local PostgreSQL server;
- :mod:`tests.support.addons` -- addons written on disk for the ``odoo`` double;
- :mod:`tests.support.odoo_log` -- parsing Odoo-format log lines;
- :mod:`tests.support.fakebin` -- the process-boundary doubles in ``bin/``
  (``odoo``, ``docker``, ``ssh``) and their logs;
- :mod:`tests.support.web` / :mod:`tests.support.webhook` -- HTTP stand-ins.

The pytest fixtures built on these live in ``tests/conftest.py``.
"""
