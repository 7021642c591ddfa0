# The 17.0 -> 18.0 upgrade tests (tests/real/test_upgrade.py): the trimmed Odoo 17.0
# unpacked under $ODOO_OPS_CI_CACHE/odoo17-<key> (key: tarball + requirements.txt; the
# tests read its addons, they never run it, so no venv is built: ~3 s), openupgradelib
# in the Odoo 18 venv of 30-real-odoo.sh, and the OpenUpgrade 18.0 wheels (shared .440 +
# framework, .554 from PyPI) in $ODOO_OPS_CI_CACHE/openupgrade-wheels-18.0.
_odoo17_tarball="$(cd .. && pwd)/shared/odoo/odoo-17.0-ce-trimmed.tar.zst"
if [ -f "$_odoo17_tarball" ] && [ -n "${ODOO_OPS_REAL_ODOO18:-}" ]; then
  echo "ci: Odoo 17 tree and OpenUpgrade (tests/real/test_upgrade.py)"
  ODOO_OPS_REAL_ODOO17="$(python3.11 tests/real/odoo17_env.py --cache "$ODOO_OPS_CI_CACHE" \
                           --tarball "$_odoo17_tarball")"
  export ODOO_OPS_REAL_ODOO17
  ODOO_OPS_OPENUPGRADE_WHEELS="$(python3.11 tests/real/openupgrade_env.py \
                                  --odoo18 "$ODOO_OPS_REAL_ODOO18" --cache "$ODOO_OPS_CI_CACHE")"
  export ODOO_OPS_OPENUPGRADE_WHEELS
  echo "ci: ODOO_OPS_REAL_ODOO17=$ODOO_OPS_REAL_ODOO17"
  echo "ci: ODOO_OPS_OPENUPGRADE_WHEELS=$ODOO_OPS_OPENUPGRADE_WHEELS"
else
  echo "ci: warning: $_odoo17_tarball or the real Odoo 18 is missing: tests/real/test_upgrade.py will fail"
fi
unset _odoo17_tarball
