# A real Odoo 18 for tests/real: the trimmed server of ../shared/odoo unpacked with
# a venv of its requirements.txt under $ODOO_OPS_CI_CACHE/odoo18-<key>, where key
# hashes the tarball and its requirements.txt (built once per machine, ~20-30 s;
# reused while both are unchanged). Sourced by .ci/run; the export reaches pytest.
_odoo18_tarball="$(cd .. && pwd)/shared/odoo/odoo-18.0-ce-trimmed.tar.zst"
if [ -f "$_odoo18_tarball" ]; then
  command -v python3.11 >/dev/null 2>&1 || ci_apt_install python3.11 python3.11-venv
  echo "ci: real Odoo 18 (tests/real)"
  ODOO_OPS_REAL_ODOO18="$(python3.11 tests/real/odoo18_env.py --cache "$ODOO_OPS_CI_CACHE" \
                           --tarball "$_odoo18_tarball")"
  export ODOO_OPS_REAL_ODOO18
  echo "ci: ODOO_OPS_REAL_ODOO18=$ODOO_OPS_REAL_ODOO18"
else
  # tests/real fails (does not skip) on CI without it; say why up front
  echo "ci: warning: $_odoo18_tarball is missing: tests/real will fail"
fi
unset _odoo18_tarball
