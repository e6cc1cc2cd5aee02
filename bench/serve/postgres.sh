#!/usr/bin/env bash
# The PostgreSQL column of bench/serve (issue 8, docs/postgres.md):
# `custodian serve` on a PostgreSQL store, one server and then two servers
# on the one database, beside the peer a team would otherwise build on the
# same database: PostgreSQL with pgcrypto (the fields encrypted with
# pgp_sym_encrypt, the look-up's name and phone decrypted with
# pgp_sym_decrypt, the IMEI found through an HMAC) and pgaudit logging every
# read, driven by pgbench.  All of it in one run, on one throwaway cluster.
#
#   bench/serve/postgres.sh BUILD_DIR [--customers N] [--duration S] [--connections LIST]
#
# N customers are generated (default 100,000) and loaded into both: imported
# into custodian, copied into the peer's tables.  Each point runs S seconds
# (default 10); LIST is the connection counts, "1,16,64" (the default) or
# "1 16 64".  The cluster is durable (tests/pg.sh start --durable:
# fsync, synchronous commit and full page writes on, as PostgreSQL ships)
# with pgaudit preloaded; it listens on loopback and is deleted at the end.
# The traffic comes from 8 clerks (fewer with fewer connections), each
# reveal clerk with a verified case, as many staff at many counters would
# send it: the detector judges one staff member's requests one at a time.
# With two servers, each one is driven by its own wrk with half the
# connections and half the clerks, and the table shows the sum of their
# rates and the slower server's latencies.  Any answer other than 2xx, a socket error, a failed
# pgbench transaction, a pgaudit log short of the transactions or a failed
# audit check makes the script fail.  Needs wrk, jq, oathtool, curl,
# PostgreSQL with pgbench and pgaudit; the missing ones are installed with
# apt-get (as root or with sudo).
set -eu

usage() {
    echo "usage: bench/serve/postgres.sh BUILD_DIR [--customers N] [--duration S] [--connections LIST]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
build=$1
shift
customers=100000
duration=10
connections="1 16 64"
while [ $# -gt 0 ]; do
    case "$1" in
    --customers) [ $# -ge 2 ] || usage; customers=$2; shift 2 ;;
    --duration) [ $# -ge 2 ] || usage; duration=$2; shift 2 ;;
    --connections) [ $# -ge 2 ] || usage; connections=$(printf '%s' "$2" | tr , ' '); shift 2 ;;
    *) usage ;;
    esac
done
case "$customers$duration" in *[!0-9]*) usage ;; esac
case "$connections" in "" | *[!0-9\ ]*) usage ;; esac
if [ "$customers" -lt 1 ] || [ "$duration" -lt 1 ]; then usage; fi

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cu="$build/custodian"

say() { printf 'bench/serve/postgres: %s\n' "$*"; }
die() {
    printf 'bench/serve/postgres: error: %s\n' "$*" >&2
    exit 1
}
[ -x "$cu" ] || die "no '$cu' (build first: ninja -C $build)"

work=$(mktemp -d "${TMPDIR:-/tmp}/custodian-bench-pg.XXXXXX")
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"
data="$work/data"
pids=()
pg_dir=""
cleanup() {
    local p
    for p in "${pids[@]}"; do stop "$p" || true; done
    [ -n "$pg_dir" ] && "$repo/tests/pg.sh" stop "$pg_dir"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_packages postgresql postgresql-contrib
pgmajor=$(psql --version | sed -n 's/^psql (PostgreSQL) \([0-9]*\).*/\1/p')
install_packages "postgresql-$pgmajor-pgaudit"
pgbin=/usr/lib/postgresql/$pgmajor/bin

eval "$("$repo/tests/pg.sh" start --durable --preload pgaudit)"
pg_dir=$CUSTODIAN_PG_DIR
admin=$CUSTODIAN_PG_URL
psql -XAtq -v ON_ERROR_STOP=1 "$admin" -c 'CREATE DATABASE custodian' -c 'CREATE DATABASE peer' >/dev/null
say "PostgreSQL $pgmajor in $pg_dir (durable; pgaudit preloaded)"

# ---- custodian on PostgreSQL ---------------------------------------------------

make_vault "$customers" "${admin%/*}/custodian"
ndevices=$(wc -l <"$work/imeis.txt")

# ---- the peer: pgcrypto and pgaudit --------------------------------------------

# The key lives in a setting of the database (not in the statements, which
# pgaudit would log); the IMEI is found through its HMAC, as a careful team
# would do; every personal field is encrypted with pgp_sym_encrypt and its
# defaults (AES-128, iterated S2K).  Loaded by two sessions at once.
say "the peer: $customers customers into pgcrypto tables"
peer=${admin%/*}/peer
peer_key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
psql -XAtq -v ON_ERROR_STOP=1 "$peer" >/dev/null <<SQL
CREATE EXTENSION pgcrypto;
CREATE EXTENSION pgaudit;
ALTER DATABASE peer SET peer.key = '$peer_key';
CREATE UNLOGGED TABLE staging (customer_id text, account text, name text, phone text,
    email text, address text, birth_date text, imei text, serial text, model text,
    purchase_date text, store text);
\\copy staging FROM '$work/customers.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE customers (id text PRIMARY KEY, account bytea, name bytea, phone bytea,
    email bytea, address bytea, birth_date bytea);
CREATE TABLE devices (imei_mac bytea PRIMARY KEY, customer_id text NOT NULL,
    serial bytea, model text, purchase_date text, store text);
SQL
for part in 0 1; do
    psql -XAtq -v ON_ERROR_STOP=1 "$peer" >"$work/peer-load$part.log" 2>&1 <<SQL &
INSERT INTO customers
SELECT DISTINCT ON (customer_id) customer_id,
       pgp_sym_encrypt(account, current_setting('peer.key')),
       pgp_sym_encrypt(name, current_setting('peer.key')),
       pgp_sym_encrypt(phone, current_setting('peer.key')),
       pgp_sym_encrypt(email, current_setting('peer.key')),
       pgp_sym_encrypt(address, current_setting('peer.key')),
       pgp_sym_encrypt(birth_date, current_setting('peer.key'))
  FROM staging WHERE abs(hashtext(customer_id)) % 2 = $part
 ORDER BY customer_id;
INSERT INTO devices
SELECT hmac(imei, current_setting('peer.key'), 'sha256'), customer_id,
       pgp_sym_encrypt(serial, current_setting('peer.key')), model, purchase_date, store
  FROM staging WHERE abs(hashtext(customer_id)) % 2 = $part;
SQL
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "loading the peer failed: $(cat "$work"/peer-load*.log)"; done
pids=()
{
    echo "CREATE TABLE bench_imeis (n integer PRIMARY KEY, imei text NOT NULL);"
    echo "COPY bench_imeis FROM STDIN;"
    awk '{ print NR "\t" $1 }' "$work/imeis.txt"
    echo '\.'
    echo "ALTER TABLE devices ADD FOREIGN KEY (customer_id) REFERENCES customers;"
    echo "DROP TABLE staging;"
    echo "VACUUM ANALYZE;"
    # From here on, every read in the peer's database is in the server log.
    echo "ALTER DATABASE peer SET pgaudit.log = 'read';"
} | psql -XAtq -v ON_ERROR_STOP=1 "$peer" >/dev/null

# The peer's look-up: an IMEI's owner, name and phone decrypted.
cat >"$work/peer.sql" <<'SQL'
\set n random(1, :imeis)
SELECT c.id, pgp_sym_decrypt(c.name, current_setting('peer.key')) AS name,
       pgp_sym_decrypt(c.phone, current_setting('peer.key')) AS phone
  FROM bench_imeis b
  JOIN devices d ON d.imei_mac = hmac(b.imei, current_setting('peer.key'), 'sha256')
  JOIN customers c ON c.id = d.customer_id
 WHERE b.n = :n;
SQL

# Its sample answer: the first IMEI's owner, as in the generated file.
imei=$(head -1 "$work/imeis.txt")
want=$(awk -F, -v i="$imei" '$8 == i { print $1 "|" $3 "|" $4; exit }' "$work/customers.csv")
got=$(sed -e '1d' -e 's/:n/1/' "$work/peer.sql" | psql -XAtq "$peer")
[ -n "$want" ] || die "IMEI $imei is not in the generated file"
[ "$got" = "$want" ] ||
    die "the peer's sample look-up of $imei: expected '$want', got '$got'"
pg_log=$pg_dir/server.log
grep -q 'AUDIT: SESSION,.*,READ,SELECT' "$pg_log" ||
    die "pgaudit logged no read (shared_preload_libraries, pgaudit.log)"
say "the peer's sample look-up checked; pgaudit logs its reads"

# ---- servers and their clerks ----------------------------------------------------

# Two data folders naming the one database, as two machines behind a load
# balancer would have (docs/postgres.md): the same config, master key and
# keyring.
cp -a "$data" "$work/data2"
start_custodian "$data"
pids+=("$server_pid")
url1=$url
start_custodian "$work/data2"
pids+=("$server_pid")
url2=$url
url=$url1
say "custodian serve on $url1 and $url2"

# The clerks: look-up clerks, and reveal clerks each with a verified case
# (distinct customers).
CLERKS=8
lookup_tokens=()
: >"$work/reveal-clerks"
for k in $(seq 1 $CLERKS); do
    lookup_tokens+=("$(new_clerk "pg-lookup-$k")")
    token=$(new_clerk "pg-reveal-$k")
    cid=$(awk -F, -v n="$k" 'NR > 1 && $1 != last { last = $1; if (++j == n) { print $1; exit } }' \
        "$work/customers.csv")
    echo "$token $(verified_case "$token" "$cid")" >>"$work/reveal-clerks"
done
say "$CLERKS look-up clerks and $CLERKS reveal clerks with verified cases"

api GET "/v1/devices/$imei" "" "${lookup_tokens[0]}"
expect 200 "sample look-up"
[ "$(printf '%s' "$out" | jq -r .device.imei)" = "***********${imei:11}" ] ||
    die "sample look-up: the IMEI should be masked to its last four digits: $out"
url=$url2
read -r token case_id <"$work/reveal-clerks"
api POST "/v1/cases/$case_id/reveal" '{"fields":["name","phone"]}' "$token"
expect 200 "sample reveal on the second server"
printf '%s' "$out" | jq -e '.fields.name and .fields.phone and (.audit.leaf_index | type) == "number"' \
    >/dev/null || die "sample reveal: full name, phone and an audit leaf index expected: $out"
url=$url1
audit_before=$("$cu" --data "$data" audit checkpoint | sed -n 2p)

# ---- timed runs -------------------------------------------------------------------

# point SERVERS KIND CONNECTIONS: custodian look-ups or reveals through one
# server or both at once; appends a row to $work/rows.
answered=0
point() {
    local servers=$1 kind=$2 c=$3 s each k first target rate=0 p50=0 p99=0 n=0
    local -a wrks
    each=$((c / servers))
    k=$((CLERKS / servers < each ? CLERKS / servers : each)) # clerks per server
    for s in $(seq 1 "$servers"); do
        [ "$s" = 1 ] && target=$url1 || target=$url2
        first=$(((s - 1) * CLERKS / servers))
        if [ "$kind" = look-ups ]; then
            wrk_run "$target" lookup.lua "$each" "$duration" "$work/wrk$s.out" \
                "$(IFS=,; echo "${lookup_tokens[*]:first:k}")" "$work/imeis.txt" &
        else
            sed -n "$((first + 1)),$((first + k))p" "$work/reveal-clerks" >"$work/clerks$s"
            wrk_run "$target" reveals.lua "$each" "$duration" "$work/wrk$s.out" "$work/clerks$s" &
        fi
        wrks[s]=$!
    done
    for s in $(seq 1 "$servers"); do
        wait "${wrks[s]}" || die "$kind at $c connections: wrk failed: $(cat "$work/wrk$s.out")"
        wrk_result "$work/wrk$s.out" "$kind at $c connections, server $s"
        # shellcheck disable=SC2154
        read -r rate p50 p99 n <<<"$(awk -v a="$rate" -v b="$rps" -v p="$p50" -v q="$p50_ms" \
            -v r="$p99" -v t="$p99_ms" -v m="$n" -v k="$requests" \
            'BEGIN { print a + b, (q > p ? q : p), (t > r ? t : r), m + k }')"
    done
    answered=$((answered + n))
    echo "$c custodian-$servers $kind $rate $p50 $p99" >>"$work/rows"
    say "$(printf '%d server(s), %-8s %2d connections: %9.0f req/s, p50 %6.3f ms, p99 %6.3f ms' \
        "$servers" "$kind" "$c" "$rate" "$p50" "$p99")"
}

# peer CONNECTIONS: pgbench on the peer's look-up; appends a row.
peer_point() {
    local c=$1 a0 a1 tps failed
    a0=$(grep -c 'AUDIT: SESSION,.*,READ,SELECT' "$pg_log" || true)
    rm -f "$work"/pgb.*
    (cd "$work" && "$pgbin/pgbench" -n -M prepared -c "$c" -j $((c < 2 ? c : 2)) -T "$duration" \
        -D imeis="$ndevices" -f "$work/peer.sql" --log --log-prefix=pgb "$peer" >"$work/pgbench.out" 2>&1) ||
        die "pgbench at $c connections failed: $(cat "$work/pgbench.out")"
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$work/pgbench.out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench.out")
    [ -n "$tps" ] || die "pgbench printed no rate: $(cat "$work/pgbench.out")"
    [ "${failed:-0}" = 0 ] || die "pgbench at $c connections: $failed failed transactions"
    # Latencies (µs, the third column of pgbench's per-transaction log).
    read -r n p50 p99 <<<"$(cat "$work"/pgb.* | awk '{ print $3 }' | sort -n | awk '
        { v[NR] = $1 } END { printf "%d %.3f %.3f\n", NR, v[int(NR * 0.50) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000 }')"
    a1=$(grep -c 'AUDIT: SESSION,.*,READ,SELECT' "$pg_log" || true)
    [ $((a1 - a0)) -ge "$n" ] ||
        die "pgaudit logged $((a1 - a0)) reads for $n pgbench transactions at $c connections"
    echo "$c peer look-ups $tps $p50 $p99" >>"$work/rows"
    say "$(printf 'peer, pgbench           %2d connections: %9.0f tx/s,  p50 %6.3f ms, p99 %6.3f ms' \
        "$c" "$tps" "$p50" "$p99")"
}

: >"$work/rows"
say "timed runs: ${duration} s each"
for c in $connections; do
    peer_point "$c"
    point 1 look-ups "$c"
    point 1 reveals "$c"
    if [ "$c" -ge 2 ]; then
        point 2 look-ups "$c"
        point 2 reveals "$c"
    fi
done

# ---- the audit log really grew, and verifies -------------------------------------

for u in "$url1" "$url2"; do
    url=$u
    f=$(plain custodian_audit_failures_total)
    [ "$f" = 0 ] || die "the audit writer of $u reported $f failed commits"
done
url=$url1
for p in "${pids[@]}"; do stop "$p" || die "custodian serve exited with status $?"; done
pids=()
"$cu" --data "$data" audit verify >"$work/verify.out" 2>&1 ||
    die "audit verify failed: $(cat "$work/verify.out")"
audit_after=$("$cu" --data "$data" audit checkpoint | sed -n 2p)
grown=$((audit_after - audit_before))
[ "$grown" -ge "$answered" ] ||
    die "the audit log grew by $grown entries, fewer than the $answered answered look-ups and reveals"

# ---- report -------------------------------------------------------------------------

echo
echo "machine: $(nproc) cores, $cpu_model; commit $commit; $(date -u +%Y-%m-%d)"
echo "PostgreSQL $pgmajor (durable defaults, shared_buffers 256MB) with $customers customers," \
    "on the same machine as the servers and the load generators"
echo
echo "| connections | what | req/s | p50 ms | p99 ms | against the peer |"
echo "| ---: | --- | ---: | ---: | ---: | ---: |"
awk '{
    if ($2 == "peer") peer[$1] = $4
    what = ($2 == "peer") ? "peer: pgcrypto + pgaudit, pgbench look-ups" : \
        sprintf("custodian, %s server%s: %s", substr($2, 11), (substr($2, 11) == "1" ? "" : "s"), $3)
    printf "| %d | %s | %s | %.2f | %.2f | %s |\n", $1, what, commas($4), $5, $6,
        ($2 == "peer") ? "1" : sprintf("%.2f", $4 / peer[$1])
}
function commas(x,    s, r) {
    s = sprintf("%.0f", x); r = ""
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    return s r
}' "$work/rows"
echo
echo "look-ups: GET /v1/devices/{imei}, the owner's name and phone decrypted and masked; reveals: POST"
echo "/v1/cases/{id}/reveal of name and phone; each one an audit entry committed before the answer."
echo "The peer: pgbench -M prepared -j min(2,c), an IMEI's owner with name and phone decrypted by"
echo "pgp_sym_decrypt, each read logged by pgaudit to the server log (not signed, not before the answer)."
echo "clerks: min(c, 8), each reveal clerk on a case of their own; two servers: two wrk, c/2"
echo "connections and half the clerks each; req/s summed, latencies of the slower server."
echo "every answer 2xx, no socket errors, no failed pgbench transaction; pgaudit lines >= transactions"
echo "audit: tree size $audit_before -> $audit_after (+$grown) for $answered answered look-ups and reveals; audit verify: ok"
