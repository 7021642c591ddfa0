"""Renderers: result objects -> table (rich), JSON, CSV, Markdown, JUnit XML.

Actions return dataclasses; commands turn them into a :class:`Table` (or a
plain JSON-able ``dict``) and call :func:`render`. Nothing here reads the
environment or exits.
"""

from odoo_ops.report.table import FORMATS, Table, render, render_json, to_jsonable

__all__ = ["FORMATS", "Table", "render", "render_json", "to_jsonable"]
