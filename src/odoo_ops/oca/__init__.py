"""OCA (and other git-hosted) addon repositories: ``odoo-ops oca sync``.

Sources from ``[oca]`` in odoo-ops.toml or a git-aggregator ``repos.yaml``;
shallow, parallel fetches pinned by a lock file.
"""

from odoo_ops.oca.sources import Merge, RepoSpec, from_config, from_repos_yaml, load_specs
from odoo_ops.oca.sync import (
    LockEntry,
    OcaSyncResult,
    RepoResult,
    analyse_repos,
    read_lock,
    sync_oca,
    write_lock,
)

__all__ = [
    "LockEntry",
    "Merge",
    "OcaSyncResult",
    "RepoResult",
    "RepoSpec",
    "analyse_repos",
    "from_config",
    "from_repos_yaml",
    "load_specs",
    "read_lock",
    "sync_oca",
    "write_lock",
]
