# pgBackRest with the sftp repository type (pgBackRest 2.46+ built with libssh2)
# for tests/integration/pitr/test_sftp_repository.py: Debian 12's pgbackrest 2.45
# (40-pgbackrest.sh) has none. Made once per machine into
#   $ODOO_OPS_CI_CACHE/pgbackrest-<version>-<first 12 of the SHA-256 of its input>/bin/pgbackrest
# and exported as ODOO_OPS_TEST_PGBACKREST_SFTP (without it that test fails on CI).
#
# Where it comes from, each step checked by SHA-256 before it is used:
# 1. the pinned source tarball of Debian trixie (below), built with meson + ninja;
# 2. that file gone (a trixie point release): the tarball trixie's Sources.xz
#    names, trusted only through InRelease (gpgv with Debian's archive keyring)
#    -> the Sources.xz hash InRelease lists -> the tarball hash Sources lists;
# 3. no source tarball served at all (some mirrors and proxies serve binary
#    packages only): trixie's binary package, through the same chain with
#    Packages.xz, unpacked; it runs on Debian 12 (glibc >= 2.34, the same
#    library sonames), which is checked with every symbol bound (LD_BIND_NOW).
# Whatever the way, the result must say "* sftp" in `help backup repo-type`.
# The work happens in a temporary directory of the cache, renamed into place at
# the end (a killed run leaves no half entry); a failed build keeps its log in
# $ODOO_OPS_CI_CACHE/pgbackrest-sftp-build.log.
_pgbr_version=2.55.1
_pgbr_sha256=5f050ad751feb5b506cf3c58a5cf1674a7b502328abcb50b37756175f80990e9
_pgbr_mirror=http://deb.debian.org/debian
_pgbr_keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# _pgbr_fetch URL FILE [SHA256]: download URL to FILE (and check its SHA-256).
_pgbr_fetch() {
  curl -fsSL --retry 2 --connect-timeout 20 --max-time 600 -o "$2" "$1" 2>/dev/null || return 1
  if [ -n "${3:-}" ] && ! echo "$3  $2" | sha256sum -c --status; then
    echo "ci: warning: $1 does not have the SHA-256 expected ($3)"
    return 1
  fi
}

# _pgbr_release WORKDIR: trixie's InRelease, signature checked, its signed text to
# WORKDIR/Release (gpgv's output: only what the signature covers).
_pgbr_release() {
  _pgbr_fetch "$_pgbr_mirror/dists/trixie/InRelease" "$1/InRelease" || {
    echo "ci: warning: cannot download trixie's InRelease"; return 1; }
  gpgv --keyring "$_pgbr_keyring" --output "$1/Release" "$1/InRelease" >/dev/null 2>&1 || {
    echo "ci: warning: trixie's InRelease fails its signature check ($_pgbr_keyring)"
    return 1; }
}

# _pgbr_index WORKDIR PATH: the index PATH (e.g. main/source/Sources.xz) of the
# verified Release, hash checked, uncompressed to stdout.
_pgbr_index() {
  local sha
  sha="$(awk -v p="$2" '/^SHA256:/ {in_sha=1; next} /^[^ ]/ {in_sha=0}
                        in_sha && $3 == p {print $1; exit}' "$1/Release")"
  [ -n "$sha" ] || { echo "ci: warning: trixie's Release lists no $2" >&2; return 1; }
  _pgbr_fetch "$_pgbr_mirror/dists/trixie/$2" "$1/index.xz" "$sha" >&2 || {
    echo "ci: warning: cannot download trixie's $2 with the hash Release gives" >&2; return 1; }
  xz -dc "$1/index.xz"
}

# _pgbr_stanza: the first "Package: pgbackrest" paragraph of a Sources/Packages on
# stdin (read to its end: an early exit would fail the pipe under pipefail).
_pgbr_stanza() {
  awk 'BEGIN {RS = ""; FS = "\n"} $1 == "Package: pgbackrest" && !done {print; done = 1}'
}

# _pgbr_install_from_source TARBALL DEST LOG: build TARBALL, put bin/pgbackrest in DEST.
_pgbr_install_from_source() {
  local tarball=$1 dest=$2 log=$3 work pkgs=() p
  for p in gcc meson ninja-build pkgconf python3 libbz2-dev liblz4-dev libpq-dev libssh2-1-dev \
           libssl-dev libyaml-dev libxml2-dev libzstd-dev zlib1g-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
  done
  ci_apt_install "${pkgs[@]}"
  work="$(mktemp -d "$ODOO_OPS_CI_CACHE/.pgbackrest-build.XXXXXX")"
  mkdir -p "$work/src" "$work/out/bin"
  local start=$SECONDS
  echo "ci: building pgBackRest from $(basename "$tarball") (log: $log)"
  if tar -xzf "$tarball" -C "$work/src" --strip-components=1 >"$log" 2>&1 &&
     meson setup --buildtype=release -Dlibssh2=enabled "$work/build" "$work/src" >>"$log" 2>&1 &&
     ninja -C "$work/build" >>"$log" 2>&1 &&
     cp "$work/build/src/pgbackrest" "$work/out/bin/pgbackrest" &&
     _pgbr_has_sftp "$work/out/bin/pgbackrest" >>"$log" 2>&1; then
    echo "ci: pgBackRest built in $((SECONDS - start)) s"
    _pgbr_place "$work/out" "$dest" || { rm -rf "$work"; return 1; }
    rm -rf "$work" "$log"
    return 0
  fi
  [ -f "$work/build/meson-logs/meson-log.txt" ] &&
    tail -n 100 "$work/build/meson-logs/meson-log.txt" >>"$log"
  echo "ci: warning: building pgBackRest failed after $((SECONDS - start)) s; its log: $log"
  rm -rf "$work"
  return 1
}

# _pgbr_install_from_deb DEB DEST LOG: unpack DEB, put its bin/pgbackrest in DEST.
_pgbr_install_from_deb() {
  local deb=$1 dest=$2 log=$3 work
  work="$(mktemp -d "$ODOO_OPS_CI_CACHE/.pgbackrest-build.XXXXXX")"
  mkdir -p "$work/out/bin"
  if dpkg-deb -x "$deb" "$work/pkg" >"$log" 2>&1 &&
     cp "$work/pkg/usr/bin/pgbackrest" "$work/out/bin/pgbackrest" &&
     _pgbr_has_sftp "$work/out/bin/pgbackrest" >>"$log" 2>&1; then
    _pgbr_place "$work/out" "$dest" || { rm -rf "$work"; return 1; }
    rm -rf "$work" "$log"
    return 0
  fi
  echo "ci: warning: trixie's pgbackrest package does not run here; its log: $log"
  rm -rf "$work"
  return 1
}

# _pgbr_has_sftp EXE: EXE runs here (every symbol bound) and offers repo-type sftp.
_pgbr_has_sftp() {
  LD_BIND_NOW=1 "$1" version && "$1" help backup repo-type | grep '^\* sftp' >/dev/null
}

# _pgbr_place OUT DEST: rename OUT to DEST (one rename: DEST is whole or absent).
_pgbr_place() {
  chmod 755 "$1" "$1/bin" "$1/bin/pgbackrest"
  mv -T "$1" "$2" 2>/dev/null || [ -x "$2/bin/pgbackrest" ] ||  # else a concurrent run was first
    { echo "ci: warning: cannot move pgBackRest into $2"; return 1; }
}

# _pgbr_sftp: the path of a pgBackRest with sftp on stdout (messages on stderr).
_pgbr_sftp() {
  local cache=$ODOO_OPS_CI_CACHE found work rc=0
  if [ -x "$cache/pgbackrest-$_pgbr_version-${_pgbr_sha256:0:12}/bin/pgbackrest" ]; then
    echo "$cache/pgbackrest-$_pgbr_version-${_pgbr_sha256:0:12}/bin/pgbackrest"
    return 0
  fi
  # an entry made earlier another way (entries are complete or absent: _pgbr_place)
  found="$(ls -d "$cache"/pgbackrest-2.*-*/bin/pgbackrest 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$found" ] && _pgbr_has_sftp "$found" >/dev/null 2>&1; then
    echo "$found"
    return 0
  fi
  # what a killed run left (older than two hours: not a concurrent run's)
  find "$cache" -maxdepth 1 -name '.pgbackrest-build.*' -mmin +120 -exec rm -rf {} + || true
  local tools=()
  command -v curl >/dev/null 2>&1 || tools+=(curl)
  command -v gpgv >/dev/null 2>&1 || tools+=(gpgv)
  command -v xz >/dev/null 2>&1 || tools+=(xz-utils)
  [ -f "$_pgbr_keyring" ] || tools+=(debian-archive-keyring)
  ci_apt_install "${tools[@]}" >&2
  work="$(mktemp -d)"
  _pgbr_get "$work" || rc=$?
  rm -rf "$work"
  return "$rc"
}

# _pgbr_get WORKDIR: download, check and build or unpack (see the top of this file).
_pgbr_get() {
  local work=$1 cache=$ODOO_OPS_CI_CACHE log=$ODOO_OPS_CI_CACHE/pgbackrest-sftp-build.log
  local pinned="$cache/pgbackrest-$_pgbr_version-${_pgbr_sha256:0:12}"
  local pool="$_pgbr_mirror/pool/main/p/pgbackrest"
  if _pgbr_fetch "$pool/pgbackrest_$_pgbr_version.orig.tar.gz" "$work/src.tar.gz" \
       "$_pgbr_sha256" >&2; then
    _pgbr_install_from_source "$work/src.tar.gz" "$pinned" "$log" >&2 || return 1
    echo "$pinned/bin/pgbackrest"
    return 0
  fi
  echo "ci: pgbackrest_$_pgbr_version.orig.tar.gz is not on $_pgbr_mirror: asking trixie's" \
       "Sources.xz" >&2
  _pgbr_release "$work" >&2 || return 1
  local stanza line sha name version dir
  stanza="$(_pgbr_index "$work" main/source/Sources.xz | _pgbr_stanza)" || return 1
  line="$(printf '%s\n' "$stanza" | awk '/^Checksums-Sha256:/ {on=1; next} /^[^ ]/ {on=0}
                                          on && $3 ~ /\.orig\.tar\.gz$/ && !n++ {print $1, $3}')"
  dir="$(printf '%s\n' "$stanza" | sed -n 's/^Directory: //p')"
  sha="${line%% *}" name="${line#* }"
  version="${name#pgbackrest_}" version="${version%.orig.tar.gz}"
  if [ -z "$line" ] || [ -z "$dir" ] || ! [[ "$version" =~ ^[0-9][0-9.]*$ ]]; then
    echo "ci: warning: trixie's Sources.xz has no usable pgbackrest source package" >&2
    return 1
  fi
  local dest="$cache/pgbackrest-$version-${sha:0:12}"
  if [ -x "$dest/bin/pgbackrest" ]; then echo "$dest/bin/pgbackrest"; return 0; fi
  if _pgbr_fetch "$_pgbr_mirror/$dir/$name" "$work/src.tar.gz" "$sha" >&2; then
    _pgbr_install_from_source "$work/src.tar.gz" "$dest" "$log" >&2 || return 1
    echo "$dest/bin/pgbackrest"
    return 0
  fi
  echo "ci: $name (trixie's, per Sources.xz) is not on $_pgbr_mirror either: using trixie's" \
       "binary package" >&2
  local arch
  arch="$(dpkg --print-architecture)"
  stanza="$(_pgbr_index "$work" "main/binary-$arch/Packages.xz" | _pgbr_stanza)" || return 1
  name="$(printf '%s\n' "$stanza" | sed -n 's/^Filename: //p')"
  sha="$(printf '%s\n' "$stanza" | sed -n 's/^SHA256: //p')"
  version="$(printf '%s\n' "$stanza" | sed -n 's/^Version: //p')"
  version="${version#*:}" version="${version%-*}"
  if [ -z "$name" ] || [ -z "$sha" ] || ! [[ "$version" =~ ^[0-9][0-9.]*$ ]]; then
    echo "ci: warning: trixie's Packages.xz has no usable pgbackrest package" >&2
    return 1
  fi
  dest="$cache/pgbackrest-$version-deb-${sha:0:12}"
  if [ -x "$dest/bin/pgbackrest" ]; then echo "$dest/bin/pgbackrest"; return 0; fi
  _pgbr_fetch "$_pgbr_mirror/$name" "$work/pgbackrest.deb" "$sha" >&2 || {
    echo "ci: warning: cannot download $name with the hash Packages.xz gives" >&2; return 1; }
  _pgbr_install_from_deb "$work/pgbackrest.deb" "$dest" "$log" >&2 || return 1
  echo "$dest/bin/pgbackrest"
}

_pgbr_start=$SECONDS
if _pgbr_path="$(_pgbr_sftp)" && [ -n "$_pgbr_path" ]; then
  export ODOO_OPS_TEST_PGBACKREST_SFTP="$_pgbr_path"
  echo "ci: ODOO_OPS_TEST_PGBACKREST_SFTP=$ODOO_OPS_TEST_PGBACKREST_SFTP" \
       "($("$_pgbr_path" version), $((SECONDS - _pgbr_start)) s)"
else
  echo "ci: warning: no pgBackRest with the sftp repository type:" \
       "tests/integration/pitr/test_sftp_repository.py will fail"
fi
unset _pgbr_version _pgbr_sha256 _pgbr_mirror _pgbr_keyring _pgbr_start _pgbr_path
unset -f _pgbr_fetch _pgbr_release _pgbr_index _pgbr_stanza _pgbr_install_from_source \
  _pgbr_install_from_deb _pgbr_has_sftp _pgbr_place _pgbr_sftp _pgbr_get
