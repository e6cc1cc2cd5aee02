#!/usr/bin/env bash
# Import benchmark: 1,000,000 generated customers into a fresh data folder,
# end to end through the CLI (parse, validate, seal, index, commit), then
# masked look-ups by IMEI through the library path.
#
#   bench/import/run.sh [BUILD_DIR] [CUSTOMERS]
#
# Prints customers/s, rows/s and peak RSS (VmHWM, sampled from /proc).
set -eu
build=${1:-build}
n=${2:-1000000}
cu="$build/custodian"
work=${BENCH_DIR:-/tmp/custodian-bench}
mkdir -p "$work"
csv="$work/customers-$n.csv"
if [ ! -s "$csv" ]; then
    echo "generating $n customers into $csv"
    "$cu" gen customers "$n" --seed 1 >"$csv"
fi
rm -rf "$work/data"
"$cu" --data "$work/data" init >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "file: $(du -h "$csv" | cut -f1), $(($(wc -l <"$csv") - 1)) rows"

"$cu" --data "$work/data" import "$csv" --json >"$work/import.json" &
pid=$!
peak=0
while kill -0 $pid 2>/dev/null; do
    hwm=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status 2>/dev/null || true)
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
    sleep 0.2
done
wait $pid
secs=$(grep -o '"seconds": [0-9.]*' "$work/import.json" | awk '{ print $2 }')
rows=$(grep -o '"rows": [0-9]*' "$work/import.json" | awk '{ print $2 }')
custs=$(grep -o '"customers": [0-9]*' "$work/import.json" | awk '{ print $2 }')
awk -v s="$secs" -v r="$rows" -v c="$custs" -v p="$peak" 'BEGIN {
    printf "import: %d customers (%d rows) in %.1f s: %.0f customers/s, %.0f rows/s, peak RSS %.0f MiB\n",
        c, r, s, c / s, r / s, p / 1024 }'
echo "data folder: $(du -sh "$work/data" | cut -f1)"
echo "lookup (masked, by IMEI, library path, one thread):"
"$build/bench/bench-lookup" "$work/data" 1 "$n" 200000
