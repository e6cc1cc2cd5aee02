#!/usr/bin/env bash
# Insider-detection evaluation (bench-insider-sim): simulated days of
# legitimate support work mixed with attackers, through the real service
# on a simulated clock.  Prints a markdown table for BENCHMARKS.md.
#
#   bench/insider-sim/run.sh [BUILD_DIR] [DAYS] [STAFF]
set -eu
build=${1:-build}
days=${2:-14}
staff=${3:-60}
customers=20000
seed=7
work=${BENCH_DIR:-/tmp/custodian-bench}/insider-sim
rm -rf "$work" && mkdir -p "$work"
"$build/custodian" --data "$work/data" init >/dev/null
"$build/custodian" gen customers "$customers" --seed "$seed" >"$work/c.csv"
"$build/custodian" --data "$work/data" import "$work/c.csv" >/dev/null
rm -f "$work/c.csv"
echo "machine: $(nproc) cores; commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
echo "$customers customers, $staff legitimate staff, $days simulated days, the default policy"
"$build/bench/bench-insider-sim" "$work/data" "$customers" "$seed" --days "$days" --staff "$staff"
"$build/custodian" --data "$work/data" audit verify
