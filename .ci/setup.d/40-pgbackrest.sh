# pgBackRest: the engine of `odoo-ops pitr` (point-in-time recovery). The
# tests in tests/integration/pitr/ run the real pgbackrest against their own
# PostgreSQL 15 clusters (initdb from the installed server binaries).
command -v pgbackrest >/dev/null 2>&1 || ci_apt_install pgbackrest
