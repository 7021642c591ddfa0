# PostgreSQL: start the local cluster when it is down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "ci: starting PostgreSQL"
  version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "${version:-15}" main start || true
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && break
    sleep 1
  done
fi

# On CI only: this cluster holds nothing but throw-away test databases, so let
# it skip fsync for the run (dropping a database forces a checkpoint; without
# fsync that costs milliseconds instead of seconds). Restored on exit.
if [ "${CI:-}" = "true" ] && psql -h 127.0.0.1 -U postgres -d postgres -Atqc "SELECT 1" >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc "ALTER SYSTEM SET fsync = off" \
       -c "ALTER SYSTEM SET full_page_writes = off" -c "SELECT pg_reload_conf()" >/dev/null || true
  ci_on_exit 'psql -h 127.0.0.1 -U postgres -d postgres -qc "ALTER SYSTEM RESET fsync" -c "ALTER SYSTEM RESET full_page_writes" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true'
fi
