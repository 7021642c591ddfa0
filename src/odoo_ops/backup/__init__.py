"""Backups that are proven: create, verify, test-restore, restore, prune, Odoo zips.

- :func:`~odoo_ops.backup.create.create_backup` – dump + filestore, checksummed, atomic;
- :func:`~odoo_ops.backup.integrity.verify_entry` – sizes/sha256 of every file, ``deep`` reads all;
- :func:`~odoo_ops.backup.restore.restore_backup` – temporary copy, then one-step swap;
- :func:`~odoo_ops.backup.testrestore.run_test_restore` – scratch restore checked against the
  manifest;
- :func:`~odoo_ops.backup.prune.prune` – retention (borg-style) with reasons;
- :func:`~odoo_ops.backup.odoo_zip.export_odoo` / :func:`~odoo_ops.backup.odoo_zip.import_odoo`;
- :mod:`~odoo_ops.backup.layout` – the on-disk format and listing.
"""

from odoo_ops.backup.layout import BackupEntry, Manifest, find_backup, list_backups

__all__ = ["BackupEntry", "Manifest", "find_backup", "list_backups"]
