#!/usr/bin/env bash
# HTTP server benchmark: `custodian serve` driven by wrk (Lua scripts) at 1,
# 16 and 64 connections: masked device look-ups/s and reveals/s (each one a
# durable audit entry) with p50/p99 latency, beside the ceiling of the same
# HTTP stack (bench-serve-ceiling: libmicrohttpd with the server's options
# answering a fixed JSON body), measured in the same run.
#
#   bench/serve/run.sh BUILD_DIR [--customers N] [--duration S] [--connections LIST]
#
# N customers are generated and imported (default 100,000); each point runs
# S seconds (default 10); LIST is the connection counts, "1,16,64" (the
# default) or "1 16 64".  The staff are clerks under a benchmark policy whose
# quotas, statutory meter, enumeration limits and store hours cannot block
# (written out below); every check still runs.  Any answer other than 2xx,
# any socket error or a failed audit check makes the script fail.  Prints a
# markdown table, the machine and the commit.  Needs wrk, jq, oathtool and
# curl; the missing ones are installed with apt-get (as root or with sudo).
set -eu

usage() {
    echo "usage: bench/serve/run.sh BUILD_DIR [--customers N] [--duration S] [--connections LIST]" >&2
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
ceiling_bin="$build/bench/bench-serve-ceiling"

say() { printf 'bench/serve: %s\n' "$*"; }
die() {
    printf 'bench/serve: error: %s\n' "$*" >&2
    exit 1
}

[ -x "$cu" ] || die "no '$cu' (build first: ninja -C $build)"
[ -x "$ceiling_bin" ] || die "no '$ceiling_bin' (build first: ninja -C $build)"

work=$(mktemp -d "${TMPDIR:-/tmp}/custodian-bench-serve.XXXXXX")
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"
data="$work/data"
server_pid=""
ceiling_pid=""

cleanup() {
    if [ -n "$server_pid" ]; then stop "$server_pid" || true; fi
    if [ -n "$ceiling_pid" ]; then stop "$ceiling_pid" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- data folder -------------------------------------------------------------

make_vault "$customers"

# ---- set-up through the API -------------------------------------------------

start_custodian
say "custodian serve on $url"
# Each reveal point has a team of its own: TEAM clerks, each on a verified
# customer_support case of a customer of its own, taken in turn (reveals.lua).
# One clerk revealing at full speed for the whole point would be a burst (a
# quarter of the hourly quota within 10 minutes) even under the benchmark
# policy, and a counter need not be the only thing a team shares.
TEAM=4
# reveal_team NAME K: TEAM new clerks NAME-1.., on the K-th to (K+TEAM-1)-th
# customers of the generated file; "TOKEN CASE_ID" lines in $work/team-NAME.
reveal_team() {
    local name=$1 k=$2 j cid token

    : >"$work/team-$name"
    for j in $(seq 0 $((TEAM - 1))); do
        cid=$(awk -F, -v n=$((k + j)) 'NR > 1 && $1 != last { last = $1; if (++m == n) { print $1; exit } }' \
            "$work/customers.csv")
        token=$(new_clerk "$name-$((j + 1))")
        printf '%s %s\n' "$token" "$(verified_case "$token" "$cid")" >>"$work/team-$name"
    done
}
declare -A lookup_token
i=0
for c in $connections; do
    lookup_token[$c]=$(new_clerk "bench-lookup-$c")
    reveal_team "bench-reveal-$c" $((i * TEAM + 1))
    i=$((i + 1))
done
say "clerks logged in; $TEAM verified cases for each reveal point"

# Sample answers, checked before any timed run (with the first point's clerks).
first=${connections%% *}
imei=$(head -1 "$work/imeis.txt")
api GET "/v1/devices/$imei" "" "${lookup_token[$first]}"
expect 200 "sample look-up"
[ "$(printf '%s' "$out" | jq -r .device.imei)" = "***********${imei:11}" ] ||
    die "sample look-up: the IMEI should be masked to its last four digits: $out"
printf '%s' "$out" | jq -e '.customer_id and .owner.name and .owner.phone' >/dev/null ||
    die "sample look-up: customer_id and the masked owner expected: $out"
case "$out" in *"$imei"*) die "sample look-up: the full IMEI is in the answer" ;; esac

cid1=$(awk -F, 'NR == 2 { print $1 }' "$work/customers.csv")
name1=$(awk -F, 'NR == 2 { print $3 }' "$work/customers.csv")
read -r token case_id <"$work/team-bench-reveal-$first"
api POST "/v1/cases/$case_id/reveal" '{"fields":["name","phone"]}' "$token"
expect 200 "sample reveal"
printf '%s' "$out" | jq -e --arg c "$cid1" --arg n "$name1" \
    '.customer_id == $c and .fields.name == $n and .fields.phone != null and
     (.audit.leaf_index | type) == "number"' >/dev/null ||
    die "sample reveal: customer $cid1's full name, phone and an audit leaf index expected: $out"
say "sample answers checked (masked look-up; reveal with full values and its audit leaf index)"

# Restart so that the audit log is flushed and checkpointed: its size before
# the timed runs is then exact.
stop_custodian
audit_before=$("$cu" --data "$data" audit checkpoint | sed -n 2p)
start_custodian

"$ceiling_bin" --listen 127.0.0.1:0 >"$work/ceiling.log" 2>&1 &
ceiling_pid=$!
ceiling_url=""
for _ in $(seq 1 100); do
    p=$(sed -n 's/.*(port \([0-9]*\),.*/\1/p' "$work/ceiling.log")
    [ -n "$p" ] && ceiling_url="http://127.0.0.1:$p" && break
    sleep 0.1
done
[ -n "$ceiling_url" ] || die "bench-serve-ceiling did not start: $(cat "$work/ceiling.log")"

# ---- timed runs ----------------------------------------------------------------

# bench KIND CONNECTIONS [TEAM]: one timed wrk run (reveals by the team
# named, default the point's); appends a row to $work/rows.
answered_total=0
bench() {
    local kind=$1 c=$2 target pid script route t0 t1
    local ok0 ok1 bad0 bad1 sum0 sum1 cnt0 cnt1 ent0 ent1 bat0 bat1 server_ms batch
    case "$kind" in
    ceiling) target=$ceiling_url pid=$ceiling_pid script=lookup.lua
        set -- "${lookup_token[$c]}" "$work/imeis.txt" ;;
    look-ups) target=$url pid=$server_pid script=lookup.lua route="/v1/devices/{id}"
        set -- "${lookup_token[$c]}" "$work/imeis.txt" ;;
    reveals) target=$url pid=$server_pid script=reveals.lua route="/v1/cases/{id}/reveal"
        set -- "$work/team-${3:-bench-reveal-$c}" ;;
    esac
    if [ "$kind" != ceiling ]; then
        ok0=$(metric http_requests_total "$route" '^2')
        bad0=$(metric http_requests_total "$route" '^[^2]')
        sum0=$(metric http_request_duration_seconds_sum "$route" '')
        cnt0=$(metric http_request_duration_seconds_count "$route" '')
        ent0=$(plain custodian_audit_entries_total)
        bat0=$(plain custodian_audit_batches_total)
    fi
    t0=$(cpu_ticks "$pid")
    # bash's time: wrk's own CPU seconds (it shares the cores with the server).
    {
        TIMEFORMAT='%U %S'
        time wrk_run "$target" "$script" "$c" "$duration" "$work/wrk.out" "$@"
    } 2>"$work/wrk.time"
    t1=$(cpu_ticks "$pid")
    wrk_result "$work/wrk.out" "$kind at $c connections"
    server_ms="-" batch="-"
    if [ "$kind" != ceiling ]; then
        ok1=$(metric http_requests_total "$route" '^2')
        bad1=$(metric http_requests_total "$route" '^[^2]')
        sum1=$(metric http_request_duration_seconds_sum "$route" '')
        cnt1=$(metric http_request_duration_seconds_count "$route" '')
        ent1=$(plain custodian_audit_entries_total)
        bat1=$(plain custodian_audit_batches_total)
        batch=$(awk -v e0="$ent0" -v e1="$ent1" -v b0="$bat0" -v b1="$bat1" \
            'BEGIN { printf "%.1f", (b1 > b0 ? (e1 - e0) / (b1 - b0) : 0) }')
        awk -v a="$bad0" -v b="$bad1" 'BEGIN { exit !(b - a == 0) }' ||
            die "$kind at $c connections: the server answered $(awk -v a="$bad0" -v b="$bad1" 'BEGIN { print b - a }') requests with a status other than 2xx"
        # shellcheck disable=SC2154
        awk -v a="$ok0" -v b="$ok1" -v n="$requests" 'BEGIN { exit !(b - a >= n) }' ||
            die "$kind at $c connections: wrk counted $requests answers, the server's metrics fewer 2xx"
        answered_total=$(awk -v t="$answered_total" -v n="$requests" 'BEGIN { printf "%d", t + n }')
        server_ms=$(awk -v s0="$sum0" -v s1="$sum1" -v c0="$cnt0" -v c1="$cnt1" \
            'BEGIN { printf "%.3f", (c1 > c0 ? 1000 * (s1 - s0) / (c1 - c0) : 0) }')
    fi
    # shellcheck disable=SC2154
    printf '%s %s %s %s %s %s %s %s %s %s\n' "$c" "$kind" "$rps" "$p50_ms" "$p99_ms" "$server_ms" \
        "$(awk -v t=$((t1 - t0)) -v k="$clk" -v d="$duration" 'BEGIN { printf "%.0f", 100 * t / k / d }')" \
        "$(awk -v t=$((t1 - t0)) -v k="$clk" -v n="$requests" 'BEGIN { printf "%.0f", n ? 1e6 * t / k / n : 0 }')" \
        "$(awk -v d="$duration" '{ printf "%.0f", 100 * ($1 + $2) / d }' "$work/wrk.time")" \
        "$batch" >>"$work/rows"
    say "$(printf '%-8s %2d connections: %9.0f req/s, p50 %6.3f ms, p99 %6.3f ms' \
        "$kind" "$c" "$rps" "$p50_ms" "$p99_ms")"
}

: >"$work/rows"
say "timed runs: ${duration} s each, wrk -t min(2,c) -c c --latency"
for c in $connections; do
    bench ceiling "$c"
    bench look-ups "$c"
    bench reveals "$c"
done

failures=$(plain custodian_audit_failures_total)
[ "$failures" = 0 ] || die "the audit writer reported $failures failed commits"

# The inline checks' cost: reveals at the largest connection count, back to
# back, with the insider detector on (as above) and off (config.json
# "detector": false, which exists for this measurement only).
# Each run has a team of its own, as every point above.
last=${connections##* }
cp "$work/rows" "$work/rows.main"
: >"$work/rows"
reveal_team bench-cost-on $((i * TEAM + 1))
reveal_team bench-cost-off $(((i + 1) * TEAM + 1))
bench reveals "$last" bench-cost-on
stop_custodian
cp "$data/config.json" "$work/config.json"
jq '. + {detector: false}' "$work/config.json" >"$data/config.json"
start_custodian
bench reveals "$last" bench-cost-off
stop_custodian
cp "$work/config.json" "$data/config.json"
start_custodian
mv "$work/rows" "$work/rows.detector"
mv "$work/rows.main" "$work/rows"
stop_custodian
stop "$ceiling_pid" || die "bench-serve-ceiling exited with status $?"
ceiling_pid=""

# ---- the audit log really grew -------------------------------------------------

"$cu" --data "$data" audit verify >"$work/verify.out" 2>&1 ||
    die "audit verify failed: $(cat "$work/verify.out")"
audit_after=$("$cu" --data "$data" audit checkpoint | sed -n 2p)
grown=$((audit_after - audit_before))
[ "$grown" -ge "$answered_total" ] ||
    die "the audit log grew by $grown entries, fewer than the $answered_total answered look-ups and reveals"

# ---- report ----------------------------------------------------------------------

echo
echo "machine: $(nproc) cores, $cpu_model; commit $commit; $(date -u +%Y-%m-%d)"
echo "custodian serve (binary built $(date -u -r "$cu" '+%Y-%m-%d %H:%M UTC')) with $customers customers;" \
    "wrk -t min(2,c) -c c -d ${duration}s --latency"
echo
echo "| connections | what | req/s | p50 ms | p99 ms | of ceiling | server ms/req | audit entries/commit | server CPU | server CPU µs/req | wrk CPU |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
awk '{
    if ($2 == "ceiling") ceil[$1] = $3
    printf "| %d | %s | %s | %.2f | %.2f | %.0f%% | %s | %s | %d%% | %d | %d%% |\n", $1, $2,
        commas($3), $4, $5, 100 * $3 / ceil[$1], $6, $10, $7, $8, $9
}
function commas(x,    s, r) {
    s = sprintf("%.0f", x); r = ""
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    return s r
}' "$work/rows"
echo
echo "server ms/req: mean time from the request's headers parsed to its answer queued (the server's"
echo "http_request_duration_seconds); server and wrk CPU: per cent of one core over the run"
echo "($(nproc) cores: $(($(nproc) * 100))% is all of them); server CPU µs/req: server CPU time per answer;"
echo "audit entries/commit: the mean group-commit batch (custodian_audit_entries_total / _batches_total)."
echo "look-ups and reveals: every answer 2xx (wrk and the server's /metrics agree), no socket errors"
echo "audit: tree size $audit_before -> $audit_after (+$grown) for $answered_total answered look-ups and reveals; audit verify: ok"
awk 'NR == 1 { on = $3 } NR == 2 { off = $3 }
    END { printf "inline checks: reveals at %d connections %.0f/s with the insider detector, %.0f/s without: %.1f%% of throughput (< 10%%: %s)\n",
        '"$last"', on, off, 100 * (off - on) / off, ((off - on) / off < 0.10 ? "met" : "NOT met") }' "$work/rows.detector"
awk -v last="${connections##* }" '$1 == last { v[$2] = $3; p99[$2] = $5 }
    END {
        printf "targets at %d connections: reveals %.0f/s (>= 20,000: %s), p99 %.2f ms (< 5 ms: %s), %.0f%% of the ceiling (>= 50%%: %s)\n",
            last, v["reveals"], (v["reveals"] >= 20000 ? "met" : "NOT met"),
            p99["reveals"], (p99["reveals"] < 5 ? "met" : "NOT met"),
            100 * v["reveals"] / v["ceiling"], (v["reveals"] >= v["ceiling"] / 2 ? "met" : "NOT met")
    }' "$work/rows"
