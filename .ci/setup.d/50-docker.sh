# The real-Docker tier (tests marked `docker`, e.g. tests/integration/topology/
# test_topology_docker.py): a Docker Engine 20.10 + Compose v2 from
# ../shared/docker/setup-engine.sh (~60-85 s on a fresh machine, ~1 s when the
# engine is there), then the tier's images (PostgreSQL 15, Odoo 18, and the
# stand-in for the official postgres:15 that init --pitr's db/Dockerfile builds
# FROM, tagged postgres:15: no registry here), tagged by a hash of their build
# inputs: kept by the engine between runs, else loaded from
# $ODOO_OPS_CI_CACHE/docker-images (zstd of `docker save`, ~17 s), else built
# (~2.5 min; the stand-in ~20 s) and saved there. Leftovers of a killed run
# (compose projects odoo-ops-t*, their tags, dangling test images) are removed first.
# When the engine cannot start, the tier skips with the reason
# ($ODOO_OPS_DOCKER_UNAVAILABLE reaches the tests); the rest of CI runs on.
# The dockerd started here is stopped when .ci/run ends (by its pid).
_docker_dir="$(cd .. && pwd)/shared/docker"
if [ ! -f "$_docker_dir/setup-engine.sh" ]; then
  echo "ci: $_docker_dir is absent: the tests marked docker skip (no engine)"
  export ODOO_OPS_DOCKER_UNAVAILABLE="$_docker_dir is absent (setup-engine.sh)"
else
  echo "ci: Docker Engine + Compose v2 (tests marked docker)"
  _docker_t0=$SECONDS
  export DOCKERD_PID="${DOCKERD_PID:-/tmp/odoo-ops-ci-dockerd.pid}"
  _docker_was_up=""
  docker info >/dev/null 2>&1 && _docker_was_up=1
  _docker_log="$ODOO_OPS_CI_CACHE/docker-setup.log"
  if timeout 900 bash "$_docker_dir/setup-engine.sh" >"$_docker_log" 2>&1 \
     && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    if [ -z "$_docker_was_up" ] && [ -s "$DOCKERD_PID" ]; then
      ci_on_exit 'kill "$(cat "$DOCKERD_PID")" 2>/dev/null || true'
    fi
    echo "ci: engine up in $((SECONDS - _docker_t0)) s ($(docker compose version 2>/dev/null))"
    _docker_t1=$SECONDS
    if python3 tests/support/docker_images.py --cache "$ODOO_OPS_CI_CACHE" --clean; then
      echo "ci: docker test images ready in $((SECONDS - _docker_t1)) s"
    else
      # the tests build what is missing themselves (and say why if they cannot)
      echo "ci: warning: the docker test images are not ready; the tests will try to build them"
    fi
  else
    _docker_why="$(tail -n 3 "$_docker_log" 2>/dev/null | tr '\n' ' ')"
    echo "ci: warning: the Docker engine did not start: the tests marked docker skip ($_docker_why)"
    export ODOO_OPS_DOCKER_UNAVAILABLE="the Docker engine did not start on CI: ${_docker_why:-see $_docker_log}"
    if [ -z "$_docker_was_up" ] && [ -s "$DOCKERD_PID" ]; then
      kill "$(cat "$DOCKERD_PID")" 2>/dev/null || true
    fi
  fi
  unset _docker_t0 _docker_t1 _docker_was_up _docker_log _docker_why
fi
unset _docker_dir
