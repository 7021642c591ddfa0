"""Snapshots: a directory of sorted, stable artifacts of a deployment, and their diff.

- :func:`create_snapshot` -- modules, menus, models, actions, crons, configuration
  (secrets masked), git state, addons path, an HTTP sitemap, ``MANIFEST.md``;
- :func:`diff_snapshots` -- what changed between two snapshots;
- :func:`crawl` -- the bounded same-origin crawler behind the HTTP sitemap.
"""

from odoo_ops.snapshot.crawler import CrawlResult, Page, crawl
from odoo_ops.snapshot.create import CrawlOptions, SnapshotResult, create_snapshot
from odoo_ops.snapshot.diff import Change, SnapshotDiff, diff_snapshots

__all__ = [
    "Change",
    "CrawlOptions",
    "CrawlResult",
    "Page",
    "SnapshotDiff",
    "SnapshotResult",
    "crawl",
    "create_snapshot",
    "diff_snapshots",
]
