#!/usr/bin/env bash
# Audit log benchmark: durable appends/s with group commit at 1, 16, 64
# and 256 concurrent writers (each waits for its own entry to be durable),
# and with 16 to 1024 entries in flight from one thread (audit_log_submit),
# full `audit verify` entries/s over the resulting log (1,000,000+ entries),
# and proof times.
#
#   bench/audit/run.sh [BUILD_DIR]
set -eu
build=${1:-build}
work=${BENCH_DIR:-/tmp/custodian-bench}/audit
rm -rf "$work" && mkdir -p "$work"
"$build/custodian" --data "$work/data" init >/dev/null
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
for t in 1 16 64 256; do
    n=$((t < 16 ? 5000 : t * 2000))
    printf 'appends, %3d writers: ' "$t"
    "$build/bench/bench-audit" "$work/data" "$t" "$n" 2>&1
done
# The event-driven form (audit_log_submit): one thread, K entries in flight.
for k in 16 64 256 1024; do
    printf 'appends, %4d in flight: ' "$k"
    "$build/bench/bench-audit" "$work/data" --in-flight "$k" 200000 2>&1
done
# Fill up to a million entries, then verify and prove.
"$build/bench/bench-audit" "$work/data" 256 1000000 2>/dev/null
printf 'verify: '
"$build/custodian" --data "$work/data" audit verify
printf 'verify again (warm cache): '
"$build/custodian" --data "$work/data" audit verify
printf 'proofs: '
"$build/bench/bench-audit" "$work/data" --proofs 10000 2>&1
