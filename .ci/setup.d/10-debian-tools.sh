# Debian tools the tests use for real: nginx -t, caddy validate, age, zstd,
# pg_dump/pg_restore (PostgreSQL client), git, openssl, chromium (HTML report).
# Sourced by .ci/run (bash, set -euo pipefail); add a package to need_pkgs here.
need_pkgs=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_pkgs+=(nginx)
command -v caddy >/dev/null 2>&1 || need_pkgs+=(caddy)
command -v age >/dev/null 2>&1 || need_pkgs+=(age)
command -v zstd >/dev/null 2>&1 || need_pkgs+=(zstd)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v pg_dump >/dev/null 2>&1 || need_pkgs+=(postgresql-client)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
ci_apt_install "${need_pkgs[@]}"
