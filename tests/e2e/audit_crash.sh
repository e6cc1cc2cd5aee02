#!/usr/bin/env bash
# Crash safety of the audit writer: under concurrent load, kill -9 at random
# moments, many times; after each restart `audit verify` passes and every
# entry whose caller was answered is in the log.
. "$(dirname "$0")/lib.bash"
LOAD="$BUILD/bench/bench-audit"

cu init >/dev/null
RUNS=${AUDIT_CRASH_RUNS:-15}
lost=0
verified=0
answered_total=0
for run in $(seq 1 "$RUNS"); do
    "$LOAD" "$DATA" 8 10000000 --print >"$TMP/answered" 2>/dev/null &
    pid=$!
    # a random moment between 0.05 and 0.8 s
    sleep "0.$(printf '%02d' $((5 + RANDOM % 75)))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    size=$(cu audit entries --start 0 --end 0 >/dev/null 2>&1
        store_sql "SELECT count(*) FROM audit_entries")
    max=$(sort -n "$TMP/answered" | tail -1)
    n=$(wc -l <"$TMP/answered")
    answered_total=$((answered_total + n))
    dups=$(sort "$TMP/answered" | uniq -d | wc -l)
    if [ -n "$max" ] && { [ "$max" -ge "$size" ] || [ "$dups" -ne 0 ]; }; then
        lost=$((lost + 1))
        echo "# run $run: answered index $max but the log has $size entries ($dups duplicates)"
    fi
    if cu audit verify >/dev/null 2>"$TMP/verify.err"; then
        verified=$((verified + 1))
    else
        echo "# run $run: $(cat "$TMP/verify.err")"
    fi
done
echo "# $RUNS kills, $answered_total answered appends, log size $size"
check "no answered entry lost in $RUNS kills under load" test "$lost" -eq 0
check "audit verify passes after every kill" test "$verified" -eq "$RUNS"
check "the load was real (entries were answered)" test "$answered_total" -gt 1000

# Two processes appending at once (a server and a CLI command, or two
# servers on one database): each catches up with the other's entries inside
# its write transaction, so both succeed and the log stays one valid tree.
"$LOAD" "$DATA" 8 4000 2>/dev/null &
p1=$!
"$LOAD" "$DATA" 8 4000 2>/dev/null &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
check "two processes appending concurrently both succeed" test $r1 -eq 0 -a $r2 -eq 0
expect "and the log verifies" 0 cu audit verify
size2=$(store_sql "SELECT count(*) FROM audit_entries")
check "with every entry of both" test "$size2" -ge $((size + 8000))

done_testing
