#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (docs/fuzzing.md).
#
#   fuzz/run.sh [--tap] BUILD SECONDS [NAME...]
#
# Each target (BUILD/fuzz/fuzz_NAME; every one built when no NAME is given)
# first runs its committed seeds (fuzz/corpus/NAME), then fuzzes for
# SECONDS with its dictionary (fuzz/dict/NAME.dict) if there is one.  New
# inputs go to BUILD/fuzz-corpus/NAME (kept between runs, never to the
# committed corpus); a crash, leak, sanitizer report, timeout (over 10 s on
# one input) or broken invariant stops the target, leaves the input in
# BUILD/fuzz-artifacts/ and fails the run.  Logs: BUILD/fuzz-logs/NAME.log.
# FUZZ_JOBS=N runs N targets at once (default 1).
#
# With --tap the output is TAP, one test per target (tests/run counts it).
set -u
cd "$(dirname "$0")/.."
tap=0
if [ "${1:-}" = "--tap" ]; then
    tap=1
    shift
fi
build=${1:?usage: fuzz/run.sh [--tap] BUILD SECONDS [NAME...]}
seconds=${2:?usage: fuzz/run.sh [--tap] BUILD SECONDS [NAME...]}
shift 2
jobs=${FUZZ_JOBS:-1}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for t in "$build"/fuzz/fuzz_*; do
        [ -x "$t" ] && [ -f "$t" ] && names+=("$(basename "$t" | sed 's/^fuzz_//')")
    done
fi
if [ ${#names[@]} -eq 0 ]; then
    echo "fuzz/run.sh: no fuzz targets in $build/fuzz (make fuzz-build)" >&2
    [ "$tap" -eq 1 ] && echo "1..1" && echo "not ok 1 - no fuzz targets in $build/fuzz"
    exit 1
fi
mkdir -p "$build/fuzz-logs" "$build/fuzz-artifacts"

# run_one NAME: fuzzes one target; exit status 0 when it found nothing.
run_one() {
    local name=$1 exe="$build/fuzz/fuzz_$1" work="$build/fuzz-corpus/$1"
    local log="$build/fuzz-logs/$1.log" dict=()

    mkdir -p "$work"
    [ -f "fuzz/dict/$name.dict" ] && dict=("-dict=fuzz/dict/$name.dict")
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=0 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=16384 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$name-" "${dict[@]}" \
        "$work" "fuzz/corpus/$name" >"$log" 2>&1
}

# summary NAME RC: one line on what a run did.
summary() {
    local log="$build/fuzz-logs/$1.log" runs cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    if [ "$2" -eq 0 ]; then
        echo "fuzz_$1: ${runs:-?} runs in ${seconds}s, coverage ${cov:-?} edges"
    else
        echo "fuzz_$1: FAILED (exit $2), see $log"
    fi
}

if [ "$tap" -eq 1 ]; then
    echo "1..${#names[@]}"
fi
failed=0
i=0
pids=()
for name in "${names[@]}"; do
    i=$((i + 1))
    if [ ! -x "$build/fuzz/fuzz_$name" ]; then
        [ "$tap" -eq 1 ] && echo "not ok $i - fuzz_$name: not built" || echo "fuzz_$name: not built"
        failed=$((failed + 1))
        continue
    fi
    if [ "$jobs" -gt 1 ] && [ "$tap" -eq 0 ]; then
        (run_one "$name"; rc=$?; summary "$name" $rc; exit $rc) &
        pids+=($!)
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        continue
    fi
    run_one "$name"
    rc=$?
    if [ "$tap" -eq 1 ]; then
        if [ $rc -eq 0 ]; then
            echo "ok $i - $(summary "$name" 0)"
        else
            echo "not ok $i - $(summary "$name" $rc)"
            grep -E 'ERROR|SUMMARY|invariant broken|Test unit written|runtime error' \
                "$build/fuzz-logs/$name.log" | head -8 | sed 's/^/# /'
        fi
    else
        summary "$name" $rc
    fi
    [ $rc -ne 0 ] && failed=$((failed + 1))
done
for pid in "${pids[@]}"; do
    wait "$pid" || failed=$((failed + 1))
done
[ "$failed" -eq 0 ]
