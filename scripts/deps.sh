#!/bin/sh
# Installs the Debian packages Custodian needs to build and test, if any is
# missing.  Works on a fresh Debian 12 as root (or with sudo).
set -eu

PACKAGES="gcc make meson ninja-build pkg-config
libsodium-dev libsqlite3-dev libjansson-dev libcsv-dev libcmocka-dev
liboath-dev libqrencode-dev libmicrohttpd-dev libcurl4-openssl-dev libgnutls28-dev
sqlite3 clang-format curl oathtool openssl"

# The PostgreSQL back end (issue 8): libpq to build it, and the server for
# the throwaway cluster that `make check` runs the store tests and the
# end-to-end suite on (tests/pg.sh; Debian's package also creates the
# "postgres" user that the cluster runs as when the tests run as root).
PACKAGES="$PACKAGES libpq-dev postgresql postgresql-client"

# The browser tests of the web console (tests/browser): Debian's chromium, a
# CJK font for the Chinese UI, and Node.js with npm unless the machine has
# them already (from another source, e.g. a newer Node.js).
PACKAGES="$PACKAGES chromium fonts-wqy-microhei"
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

# The libFuzzer targets (fuzz/, docs/fuzzing.md): Debian's default clang and
# its compiler runtime (libFuzzer, ASan, UBSan); the unversioned packages
# follow the default clang's version (14 on Debian 12).
PACKAGES="$PACKAGES clang libclang-rt-dev"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "deps: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
