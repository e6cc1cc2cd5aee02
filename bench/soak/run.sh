#!/usr/bin/env bash
# Soak: `custodian serve` under mixed staff traffic (masked look-ups,
# reveals, GET /v1/me, spread over many clerks) at about 80% of the capacity
# measured at the start, for a long time (default 10 minutes).  Samples the
# server's resident memory and open descriptors every 10 s; fails on any
# answer other than 2xx (the benchmark policy refuses nothing), any socket
# error, a failed audit check, or memory or descriptors that keep growing
# (the last minute's mean more than 10% above that of the middle minute,
# once SQLite's page caches have filled to their bound).  Not part of
# `make check`; results go to BENCHMARKS.md.
#
#   bench/soak/run.sh BUILD_DIR [--minutes M] [--customers N] [--clerks K]
set -eu

usage() {
    echo "usage: bench/soak/run.sh BUILD_DIR [--minutes M] [--customers N] [--clerks K]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
build=$1
shift
minutes=10
customers=100000
clerks=64
while [ $# -gt 0 ]; do
    case "$1" in
    --minutes) [ $# -ge 2 ] || usage; minutes=$2; shift 2 ;;
    --customers) [ $# -ge 2 ] || usage; customers=$2; shift 2 ;;
    --clerks) [ $# -ge 2 ] || usage; clerks=$2; shift 2 ;;
    *) usage ;;
    esac
done
case "$minutes$customers$clerks" in *[!0-9]*) usage ;; esac
[ "$minutes" -ge 2 ] && [ "$customers" -ge 100 ] && [ "$clerks" -ge 1 ] || usage

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cu="$build/custodian"
say() { printf 'bench/soak: %s\n' "$*"; }
die() {
    printf 'bench/soak: error: %s\n' "$*" >&2
    exit 1
}
[ -x "$cu" ] || die "no '$cu' (build first: ninja -C $build)"

work=$(mktemp -d "${TMPDIR:-/tmp}/custodian-bench-soak.XXXXXX")
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"
data="$work/data"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then stop "$server_pid" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make_vault "$customers"
start_custodian
say "custodian serve on $url; $clerks clerks with verified cases"
: >"$work/clerks.txt"
for i in $(seq 1 "$clerks"); do
    token=$(new_clerk "soak-$i")
    cid=$(awk -F, -v n="$i" 'NR > 1 && $1 != last { last = $1; if (++k == n) { print $1; exit } }' \
        "$work/customers.csv")
    printf '%s %s\n' "$token" "$(verified_case "$token" "$cid")" >>"$work/clerks.txt"
done

# load PAUSE_MS SECONDS: one wrk run of the mixed traffic, each connection
# pausing PAUSE_MS between requests; sets the RESULT fields.
load() {
    wrk_run "$url" "$here/mixed.lua" 64 "$2" "$work/wrk.out" "$1" "$work/clerks.txt" "$work/imeis.txt"
    wrk_result "$work/wrk.out" "mixed traffic"
}

# Capacity: unpaced for 15 s.
load 0 15
capacity=${rps%.*}
target=$((capacity * 8 / 10))
say "capacity ${capacity}/s (mixed traffic, 64 connections); soaking at ${target}/s for $minutes minutes"
audit_before=$(plain custodian_audit_log_size)

# The soak, in 20-second slices with a sampler beside it.  wrk cannot hold
# a rate, so each slice sets the pause from the last one's rate: a
# connection's cycle is its latency plus the pause, and 64 connections at
# cycle C send 64/C requests a second.
: >"$work/samples"
(
    t=0
    while kill -0 "$server_pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0)
        fds=$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        echo "$t $rss $fds" >>"$work/samples"
        sleep 10
        t=$((t + 10))
    done
) &
sampler=$!
pause=$(awk -v c="$capacity" -v t="$target" 'BEGIN { printf "%d", 1000 * 64 / t - 1000 * 64 / c }')
: >"$work/slices"
slices=$((minutes * 3))
for i in $(seq 1 "$slices"); do
    load "$pause" 20
    echo "$rps $requests $p50_ms $p99_ms $pause" >>"$work/slices"
    pause=$(awk -v r="$rps" -v t="$target" -v p="$pause" 'BEGIN {
        lat = 1000 * 64 / r - p; if (lat < 0) lat = 0
        q = 1000 * 64 / t - lat; if (q < 0) q = 0
        printf "%d", q }')
done
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
# (POSIX awk: the medians from sorted copies)
read -r soak_rps soak_requests soak_p50 soak_p99max <<<"$(sort -n -k3 "$work/slices" | awk '
    { r += $1; n += $2; p50[NR] = $3; if ($4 > m) m = $4 }
    END { printf "%d %d %s %s\n", r / NR, n, p50[int((NR + 1) / 2)], m }')"
soak_p99=$(sort -n -k4 "$work/slices" | awk '{ v[NR] = $4 } END { print v[int((NR + 1) / 2)] }')

# Memory and descriptors: the last minute against minute `ref` (the middle
# of the soak, minute 2 at the earliest).  Before it, SQLite's page caches
# fill up to their bound (custodian serve: 16 MiB a connection); growth
# after it is a leak.
ref=$((minutes / 2 > 2 ? minutes / 2 : 2))
read -r rss2 fds2 rssN fdsN rssmax <<<"$(awk -v ref="$ref" '
    { t[NR] = $1; r[NR] = $2; f[NR] = $3; if ($2 > m) m = $2 }
    END {
        for (i = 1; i <= NR; i++) {
            if (t[i] >= 60 * (ref - 1) && t[i] < 60 * ref) { a += r[i]; b += f[i]; n1++ }
            if (t[i] >= t[NR] - 60) { c += r[i]; d += f[i]; n2++ }
        }
        printf "%d %d %d %d %d\n", a / n1, b / n1, c / n2, d / n2, m
    }' "$work/samples")"
audit_after=$(plain custodian_audit_log_size)
stop_custodian
run_verify=$("$cu" --data "$data" audit verify 2>&1) || die "audit verify failed: $run_verify"
rss_ok=$(awk -v a="$rss2" -v b="$rssN" 'BEGIN { print (b <= a * 1.10) ? "flat" : "GROWING" }')
fds_ok=$(awk -v a="$fds2" -v b="$fdsN" 'BEGIN { print (b <= a * 1.10 + 2) ? "flat" : "GROWING" }')

cat <<REPORT

## Soak: $minutes minutes of mixed traffic at 80% of capacity (bench/soak)

$(date -u +%Y-%m-%d), commit $commit, $(nproc) cores ($cpu_model); \`bench/soak/run.sh BUILD --minutes $minutes --customers $customers --clerks $clerks\`.
Traffic: 45% masked look-ups, 45% reveals (name, phone), 10% GET /v1/me, over $clerks clerks
with verified cases, 64 connections, paced slice by slice to the target rate.

| what | value |
| --- | ---: |
| capacity (unpaced, 15 s) | ${capacity}/s |
| soak rate (target ${target}/s), mean of $slices slices of 20 s | ${soak_rps}/s |
| requests answered | $soak_requests, every one 2xx, no socket error |
| latency p50 / p99 (median slice), worst slice's p99 | $soak_p50 ms / $soak_p99 ms, $soak_p99max ms |
| resident memory, minute $ref → last minute (max) | $((rss2 / 1024)) MiB → $((rssN / 1024)) MiB ($((rssmax / 1024)) MiB): $rss_ok |
| open descriptors, minute $ref → last minute | $fds2 → $fdsN: $fds_ok |
| audit log | $audit_before → $audit_after entries; audit verify: ok |
REPORT
[ "$rss_ok" = flat ] && [ "$fds_ok" = flat ] || die "memory or descriptors kept growing (see above)"
