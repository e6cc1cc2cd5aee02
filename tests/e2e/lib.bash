# Shared helpers for the end-to-end tests (bash, TAP output).
# Each test script: `. "$(dirname "$0")/lib.bash"`, calls check/ok/not_ok,
# ends with `done_testing`.  $CUSTODIAN is the binary under test.
set -u
: "${CUSTODIAN:?CUSTODIAN must name the custodian binary}"
: "${BUILD:=$(dirname "$CUSTODIAN")}"
TESTS=0
TMP=$(mktemp -d /tmp/custodian-e2e.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
DATA="$TMP/data"

ok() {
    TESTS=$((TESTS + 1))
    echo "ok $TESTS - $1"
}

not_ok() {
    TESTS=$((TESTS + 1))
    echo "not ok $TESTS - $1"
    shift
    local line
    for line in "$@"; do echo "# $line"; done
}

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

# run COMMAND...: runs it, sets $status, $out (stdout) and $err (stderr).
run() {
    "$@" >"$TMP/.out" 2>"$TMP/.err"
    status=$?
    out=$(cat "$TMP/.out")
    err=$(cat "$TMP/.err")
    cat "$TMP/.err" >>"$TMP/.all-stderr" # for leak_check
}

# expect DESCRIPTION STATUS COMMAND...: ok if COMMAND exits with STATUS.
expect() {
    local desc=$1 want=$2
    shift 2
    run "$@"
    if [ "$status" -eq "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc" "exit $status, expected $want: $*" "stderr: ${err:0:300}"
    fi
}

# contains DESCRIPTION HAYSTACK NEEDLE
contains() {
    case "$2" in
    *"$3"*) ok "$1" ;;
    *) not_ok "$1" "expected to find: $3" "in: ${2:0:400}" ;;
    esac
}

lacks() {
    case "$2" in
    *"$3"*) not_ok "$1" "did not expect: $3" ;;
    *) ok "$1" ;;
    esac
}

cu() { "$CUSTODIAN" --data "$DATA" "$@"; }

# csv_field FILE CUSTOMER_ID COLUMN: a column of the customer's first row in
# a generated CSV (no quoted commas in generated data but addresses, which
# we never ask for this way).
csv_field() {
    awk -F, -v id="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $1 == id { print $(c[col]); exit }' "$1"
}

# leak_check [DIR]: no personal value of this test's customers (the files
# `custodian gen` wrote into $TMP) and no staff secret (the credentials
# `staff add --json` printed) appears in any server log, error message
# (stderr of `run`), problem+json body or the server's /metrics.
leak_check() {
    local dir=${1:-$TMP}
    [ -n "${SERVER:-}" ] && kill -0 "$SERVER" 2>/dev/null && [ -n "${URL:-}" ] &&
        curl -s -k "$URL/metrics" >"$dir/.metrics" 2>/dev/null
    python3 - "$dir" <<'PY'
import csv, glob, json, os, sys
tmp = sys.argv[1]
values = set()
keys = ("name", "phone", "email", "address", "imei", "serial", "account")
def add(v):
    for part in str(v).split(";"):
        part = part.strip()
        if len(part) >= 8:
            values.add(part)
for path in glob.glob(os.path.join(tmp, "*.csv")) + glob.glob(os.path.join(tmp, "*.jsonl")):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            if path.endswith(".csv"):
                for row in csv.DictReader(f):
                    for k in keys:
                        if row.get(k):
                            add(row[k])
            else:
                for line in f:
                    try:
                        d = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(d, dict):
                        continue
                    for k in keys:
                        v = d.get(k)
                        for x in v if isinstance(v, list) else [v]:
                            if isinstance(x, dict):
                                for y in x.values():
                                    if isinstance(y, str):
                                        add(y)
                            elif isinstance(x, str):
                                add(x)
    except OSError:
        pass
for path in glob.glob(os.path.join(tmp, "*.json")):
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        continue
    if isinstance(d, dict):
        for k in ("password", "totp_secret"):
            if isinstance(d.get(k), str):
                add(d[k])
sinks = glob.glob(os.path.join(tmp, "*.log")) + [os.path.join(tmp, n) for n in (".all-stderr", ".problems", ".metrics")]
found = []
for s in sinks:
    try:
        text = open(s, encoding="utf-8", errors="replace").read()
    except OSError:
        continue
    for v in values:
        if v in text:
            found.append((os.path.basename(s), v))
if found:
    for s, v in found[:5]:
        print(f"# {s} holds a personal value or secret ({len(v)} characters, starting {v[:2]!r})")
    sys.exit(1)
PY
}

done_testing() {
    if leak_check; then
        ok "no personal value or secret in logs, errors, problems or metrics"
    else
        not_ok "no personal value or secret in logs, errors, problems or metrics"
    fi
    echo "1..$TESTS"
}

# jfield FILE N KEY: the first string value of KEY on line N of a JSON
# Lines file (as written by `custodian gen --format jsonl`).
jfield() {
    sed -n "${2}p" "$1" | grep -o "\"$3\":\"[^\"]*\"" | head -1 | sed 's/^"[^"]*":"//; s/"$//'
}

# jphone FILE N: the first phone of line N.
jphone() {
    sed -n "${2}p" "$1" | grep -o '"phone":\(\[\)\?"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/'
}

# not COMMAND...: succeeds when COMMAND fails (for use with check).
not() { ! "$@"; }

# always_open: the data folder's stores are open round the clock, so that
# tests that reveal do not depend on the hour they run at (a reveal outside
# store hours needs a supervisor's co-sign).
always_open() {
    sed -i '0,/"open": "09:00",/s//"open": "00:00",/; 0,/"close": "22:00"/s//"close": "24:00"/' \
        "$DATA/policy.json"
}

# --- a live server ---------------------------------------------------------

# serve_start: starts `custodian serve` on a free loopback port (port 0:
# the kernel picks one, the server prints it) in the background, stopped at
# exit; sets $URL and $SERVER.
serve_start() {
    : >"$TMP/serve.log"
    "$CUSTODIAN" --data "$DATA" serve --listen 127.0.0.1:0 >"$TMP/serve.log" 2>&1 &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null; pg_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
    URL=""
    for _ in $(seq 1 100); do
        URL=$(sed -n 's/^custodian: serving on \(http:[^ ]*\).*/\1/p' "$TMP/serve.log")
        [ -n "$URL" ] && break
        sleep 0.05
    done
    [ -n "$URL" ] || echo "Bail out! custodian serve did not start: $(cat "$TMP/serve.log")"
    PORT=${URL##*:}
}

# http METHOD PATH [BODY] [TOKEN]: sets $code and $out.
http() {
    local args=(-s -o "$TMP/.body" -w '%{http_code}' -X "$1" "$URL$2")
    [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' -d "$3")
    [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
    code=$(curl "${args[@]}")
    out=$(cat "$TMP/.body")
    case "$code" in 2*) ;; *) cat "$TMP/.body" >>"$TMP/.problems" ;; esac # for leak_check
}

# http_file METHOD PATH FILE [TOKEN]: as http, the body read from FILE (for
# bodies too large for a command-line argument); sets $code and $out.
http_file() {
    local args=(-s -o "$TMP/.body" -w '%{http_code}' -X "$1" "$URL$2"
        -H 'Content-Type: application/json' --data-binary "@$3")
    [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
    code=$(curl "${args[@]}")
    out=$(cat "$TMP/.body")
    case "$code" in 2*) ;; *) cat "$TMP/.body" >>"$TMP/.problems" ;; esac # for leak_check
}

# server_hwm_kb: the live server's peak resident memory so far, in kB (VmHWM
# of /proc/$SERVER/status; readable although the server is not dumpable).
server_hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$SERVER/status"; }

# field FILE KEY: a string value of a pretty-printed JSON file.
field() { sed -n "s/.*\"$2\": \"\\([^\"]*\\)\".*/\\1/p" "$1"; }
# jget KEY: a string value in $out (compact JSON).
jget() { printf '%s' "$out" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
login_body() { printf '{"username":"%s","password":"%s","totp":"%s"}' "$1" "$2" "$3"; }

# staff_login USER ROLE STORE: adds the account, logs in, changes the
# one-time password; prints the session token.
staff_login() {
    local pw secret token
    cu staff add "$1" --role "$2" --store "$3" --json >"$TMP/$1.json"
    pw=$(field "$TMP/$1.json" password)
    secret=$(field "$TMP/$1.json" totp_secret)
    http POST /v1/login "$(login_body "$1" "$pw" "$(oathtool --totp -b "$secret")")"
    token=$(jget token)
    http POST /v1/password "{\"old\":\"$pw\",\"new\":\"long-password-of-$1\"}" "$token"
    printf '%s' "$token"
}

# --- PostgreSQL (issue 8) ---------------------------------------------------
# With CUSTODIAN_STORE=postgres://USER@HOST:PORT/DB (tests/run sets it from
# tests/pg.sh), the script runs on PostgreSQL: every `custodian init` (cu
# init, or "$CUSTODIAN" --data DIR init) gets a new database of its own on
# that server, through a wrapper that $CUSTODIAN now names (it adds
# --store; the databases are dropped at exit).  CUSTODIAN_STORE itself is
# not passed on: each data folder's config.json names its store.  $PG is
# non-empty on PostgreSQL; checks of SQLite's files are skipped there
# (pg_skipped says which).
PG=""
if [ -n "${CUSTODIAN_STORE:-}" ]; then
    case "$CUSTODIAN_STORE" in
    postgres://* | postgresql://*) PG=$CUSTODIAN_STORE ;;
    esac
fi
unset CUSTODIAN_STORE
if [ -n "$PG" ]; then
    PG_DBS="$TMP/pg-databases"
    : >"$PG_DBS"
    mkdir -p "$TMP/pgbin"
    cat >"$TMP/pgbin/custodian" <<WRAPPER
#!/usr/bin/env bash
# custodian, with a new PostgreSQL database for each data folder's init
cmd=""
skip=0
for a in "\$@"; do
    if [ \$skip -eq 1 ]; then skip=0; continue; fi
    case "\$a" in
    --data) skip=1 ;;
    -*) ;;
    *) cmd=\$a; break ;;
    esac
done
if [ "\$cmd" = init ]; then
    db="cu_e2e_$$_\$(( \$(wc -l <"$PG_DBS") + 1 ))"
    psql -XAtq "$PG" -c "CREATE DATABASE \$db" >/dev/null || exit 1
    echo "\$db" >>"$PG_DBS"
    exec "$CUSTODIAN" "\$@" --store "${PG%/*}/\$db"
fi
exec "$CUSTODIAN" "\$@"
WRAPPER
    chmod +x "$TMP/pgbin/custodian"
    CUSTODIAN="$TMP/pgbin/custodian"
    trap 'pg_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
fi

# pg_cleanup: drops the script's databases (not with KEEP).
pg_cleanup() {
    local db
    [ -n "$PG" ] && [ -z "${KEEP:-}" ] && [ -f "$PG_DBS" ] || return 0
    while read -r db; do
        psql -XAtq "$PG" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done <"$PG_DBS"
}

# data_copy SRC DST: a copy of the data folder SRC at DST (cp -a), and on
# PostgreSQL of its database too (CREATE DATABASE ... TEMPLATE, which needs
# every connection to SRC's database closed), DST's config naming the copy;
# a later copy to the same DST replaces that database.
data_copy() {
    local url db
    cp -a "$1" "$2" || return 1
    [ -n "$PG" ] || return 0
    url=$(sed -n 's/^ *"store": "\(.*\)",*$/\1/p' "$1/config.json")
    db="cu_e2e_$$_$(printf '%s' "$2" | md5sum | cut -c1-10)"
    psql -XAtq "$PG" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
        -c "CREATE DATABASE $db TEMPLATE ${url##*/}" >/dev/null || return 1
    grep -qx "$db" "$PG_DBS" || echo "$db" >>"$PG_DBS"
    sed -i "s|/${url##*/}\"|/$db\"|" "$2/config.json"
}

# pg_skipped WHAT: notes a check that runs on SQLite only.
pg_skipped() { echo "# skipped on postgresql: $*"; }

# store_url: the store URL of $DATA (from its config.json).
store_url() { sed -n 's/^ *"store": "\(.*\)",*$/\1/p' "$DATA/config.json"; }

# store_sql SQL: runs SQL on $DATA's store, prints rows as sqlite3 does
# ("|" between columns).
store_sql() {
    if [ -n "$PG" ]; then
        psql -XAtq "$(store_url)" -c "$1"
    else
        sqlite3 "$DATA/custodian.db" "$1"
    fi
}

# store_pg_paths: on PostgreSQL, the folders that hold $DATA's store on
# disk (its database's data files and the cluster's write-ahead log), after
# a checkpoint has written them; nothing on SQLite (the store is in $DATA).
store_pg_paths() {
    local dir oid
    [ -n "$PG" ] || return 0
    dir=$(psql -XAtq "$PG" -c "CHECKPOINT" -c "SHOW data_directory")
    oid=$(store_sql "SELECT oid FROM pg_database WHERE datname = current_database()")
    echo "$dir/base/$oid"
    echo "$dir/pg_wal"
}

# store_grep TEXT: SQLite: how many lines of the database file hold TEXT;
# PostgreSQL: how many of the files that hold the store do.
store_grep() {
    if [ -z "$PG" ]; then
        grep -c --binary-files=text -F "$1" "$DATA/custodian.db"
        return 0
    fi
    # shellcheck disable=SC2046
    grep -rl --binary-files=text -F "$1" $(store_pg_paths) | wc -l
}

# store_fail_audit on|off: every audit write fails (a trigger) or works.
store_fail_audit() {
    if [ -n "$PG" ] && [ "$1" = on ]; then
        store_sql "CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS
                   \$\$BEGIN RAISE EXCEPTION 'injected audit failure'; END\$\$;
                   CREATE TRIGGER fail_audit BEFORE INSERT ON audit_entries
                   FOR EACH ROW EXECUTE FUNCTION fail_audit()" >/dev/null
    elif [ -n "$PG" ]; then
        store_sql "DROP TRIGGER fail_audit ON audit_entries; DROP FUNCTION fail_audit()" \
            >/dev/null
    elif [ "$1" = on ]; then
        store_sql "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_entries
                   BEGIN SELECT RAISE(FAIL, 'injected audit failure'); END"
    else
        store_sql "DROP TRIGGER fail_audit"
    fi
}
# --- end of PostgreSQL

# luhn 14DIGITS: the 15-digit IMEI with its check digit.
luhn() { # 14 digits -> the 15-digit IMEI
    local d=$1 sum=0 i x
    for ((i = 0; i < 14; i++)); do
        x=${d:i:1}
        if ((i % 2 == 1)); then x=$((x * 2)); ((x > 9)) && x=$((x - 9)); fi
        sum=$((sum + x))
    done
    echo "$d$(((10 - sum % 10) % 10))"
}
