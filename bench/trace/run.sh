#!/usr/bin/env bash
# Leak tracing benchmark (issue 6).
#
#   bench/trace/run.sh [BUILD_DIR] [CUSTOMERS] [REVEALS]
#
# 1. A vault of CUSTOMERS (default 1,000,000) generated customers, imported
#    through the CLI (the CSV is shared with bench/import).
# 2. REVEALS (default 1,000,000) realistic reveals by 200 staff over 90 days
#    written into its audit log (bench-trace history: real entries, the
#    customer's pseudonym as subject, look-ups and refusals around them),
#    with one clerk harvesting extra customers; and a leaked file of 100,000
#    lines in mixed formats built from that clerk's customers, other staff's,
#    anyone's, identifiers of nobody in the vault, and junk.
# 3. `custodian trace` on that file, timed end to end (twice: the first
#    run reads the files from disk, the second from the page cache), with
#    its own breakdown and peak RSS.
# 4. The audit log read both ways for the leak's customers: one sequential
#    pass against one index query per customer (bench-trace compare).
# 5. The accuracy experiment on small vaults (bench-trace accuracy).
set -eu
build=${1:-build}
n=${2:-1000000}
reveals=${3:-1000000}
cu="$build/custodian"
bt="$build/bench/bench-trace"
work=${BENCH_DIR:-/tmp/custodian-bench}
dir="$work/trace"
data="$dir/data"
mkdir -p "$work"
rm -rf "$dir" && mkdir -p "$dir"
csv="$work/customers-$n.csv"
if [ ! -s "$csv" ]; then
    echo "generating $n customers into $csv"
    "$cu" gen customers "$n" --seed 1 >"$csv"
fi
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "commit: $(git -C "$(dirname "$0")" rev-parse --short HEAD)"

"$cu" --data "$data" init >/dev/null
t0=$(date +%s.%N)
"$cu" --data "$data" import "$csv" >/dev/null
echo "import: $n customers in $(echo "$(date +%s.%N) - $t0" | bc) s"

# The history is in the past: the insider detector's counters are not what
# is measured, so it is off while the history is written, on again after.
cp "$data/config.json" "$dir/config.json"
jq '. + {detector: false}' "$dir/config.json" >"$data/config.json"
printf 'history: '
"$bt" history "$data" --customers "$n" --reveals "$reveals" --staff 200 \
    --leak "$dir/leak.txt" --lines 100000 --ids "$dir/ids.txt" 2>&1 | grep '^{'
cp "$dir/config.json" "$data/config.json"
echo "audit log: $("$cu" --data "$data" audit checkpoint | sed -n 2p) entries; data folder $(du -sh "$data" | cut -f1)"
echo "leak: $(wc -l <"$dir/leak.txt") lines, $(du -h "$dir/leak.txt" | cut -f1); formats:"
head -12 "$dir/leak.txt" | sed 's/^/    /'

# trace RUN: times `custodian trace`, samples its peak RSS.
trace() {
    local t0 t1 pid peak=0 hwm
    sync
    if [ "$1" = cold ] && ! (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
        echo "(cannot drop the page cache here: the first run is not a cold one)"
    fi
    t0=$(date +%s.%N)
    "$cu" --data "$data" trace "$dir/leak.txt" --json >"$dir/trace-$1.json" &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
        hwm=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status 2>/dev/null || true)
        [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
        sleep 0.1
    done
    wait $pid
    t1=$(date +%s.%N)
    jq -r --arg wall "$(echo "$t1 - $t0" | bc)" --arg rss "$((peak / 1024))" --arg run "$1" '
        "trace (\($run)): \($wall | tonumber | . * 10 | round / 10) s wall, peak RSS \($rss) MiB; " +
        "read \(.seconds.read * 10 | round / 10) s, match \(.seconds.match * 10 | round / 10) s, " +
        "scan \(.seconds.scan * 10 | round / 10) s, rank \(.seconds.rank * 100 | round / 100) s\n" +
        "  lines \(.lines.read) (\(.lines.matched) matched, \(.lines.unmatched) not); identifiers " +
        "\(.identifiers.found) found, \(.identifiers.matched) matched; customers \(.customers.matched) " +
        "(\(.customers.revealed) revealed by staff); audit entries scanned \(.audit.entries_scanned), " +
        "reveals of leaked customers \(.audit.reveals_matched)\n" +
        "  suspects: " + ([.suspects[:4][] | "\(.rank). \(.staff) p=\(.probability) " +
        "log10(1-p)=\(.log10_innocence // "-inf" | if type == "number" then (. * 10 | round / 10) else . end) " +
        "records=\(.records) sole=\(.sole_records)"] | join("; "))' "$dir/trace-$1.json"
}
trace cold
trace warm

printf 'audit log read both ways: '
"$bt" compare "$data" "$dir/ids.txt" 2>&1 | grep '^{'

# As many reveals as customers, as above; then three times as many (staff
# of a store share far more of their customers: harder for colluders).
echo "accuracy:"
"$bt" accuracy "$dir/accuracy" --vaults 5 --runs 40 --reveals 20000 2>/dev/null
rm -rf "$dir/accuracy"
echo
echo "accuracy, three reveals per customer:"
"$bt" accuracy "$dir/accuracy" --vaults 5 --runs 40 --reveals 60000 2>/dev/null
rm -rf "$dir/accuracy"
