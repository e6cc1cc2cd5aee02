#!/usr/bin/env bash
# The browser tests of the web console (TAP on stdout): installs
# playwright-core from package-lock.json (npm ci, again only when the lock
# file changes), then drives Debian's chromium against a real
# `custodian serve` (run.mjs).  Screenshots go to $BUILD/browser-artifacts/.
#
#   CUSTODIAN=build/custodian BUILD=build tests/browser/run.sh [SCENARIO...]
set -u
: "${CUSTODIAN:?CUSTODIAN must name the custodian binary}"
CUSTODIAN=$(realpath "$CUSTODIAN")
BUILD=$(realpath "${BUILD:-$(dirname "$CUSTODIAN")}")
export CUSTODIAN BUILD
cd "$(dirname "$0")"
for cmd in node npm; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "Bail out! $cmd is missing (scripts/deps.sh installs it)"; exit 1; }
done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
    { echo "Bail out! ${CHROMIUM:-/usr/bin/chromium} is missing (scripts/deps.sh installs it)"; exit 1; }
stamp=node_modules/.lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "# npm ci (playwright-core, pinned by package-lock.json)"
    if ! npm ci --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1; then
        echo "Bail out! npm ci failed: $(tail -3 npm-ci.log | tr '\n' ' ')"
        exit 1
    fi
    rm -f npm-ci.log
    echo "$want" >"$stamp"
fi
exec node run.mjs "$@"
