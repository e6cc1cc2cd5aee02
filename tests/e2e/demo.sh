#!/usr/bin/env bash
# custodian demo: makes the vault and one account per role, serves, and the
# walk-through it prints works as printed.
. "$(dirname "$0")/lib.bash"

# demo takes a port as given: pick one below Linux's ephemeral range
# (32768 up, where any client socket may hold it), and another if taken.
trap 'kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in 1 2 3; do
    PORT=$((20000 + RANDOM % 12000))
    rm -rf "$DATA"
    "$CUSTODIAN" --data "$DATA" demo --customers 300 --listen "127.0.0.1:$PORT" \
        >"$TMP/demo.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do
        grep -q -e "stop with Ctrl-C" -e "cannot listen" "$TMP/demo.log" && break
        sleep 0.1
    done
    grep -q "cannot listen" "$TMP/demo.log" || break
    wait $SERVER
done
URL="http://127.0.0.1:$PORT"
out=$(cat "$TMP/demo.log")
contains "demo says where it serves" "$out" "serving on $URL"
for role in clerk agent supervisor security admin; do
    contains "a demo log-in for the $role role" "$out" "demo-$role"
done
run cu staff list
contains "the accounts exist" "$out" "demo-supervisor"

# Run the printed walk-through, step by step, as a user would paste it.
step() { grep -F "$1" "$TMP/demo.log" | head -1 | sed 's/^  //'; }
T=$(eval "$(step 'T=$(curl')"; echo "$T")
check "the printed log-in gives a token" test -n "$T"
run bash -c "T=$T; $(step '/v1/password')"
check "the printed password change works" test "$status" = 0
run bash -c "T=$T; $(step '/v1/devices/')"
contains "the printed device look-up finds the customer" "$out" '"customer_id":"C00000001"'
run bash -c "T=$T; $(step '/v1/cases -H')"
contains "the printed case opens" "$out" '"status":"awaiting_verification"'
case_id=$(printf '%s' "$out" | sed -n 's/.*"case_id":"\([^"]*\)".*/\1/p')
run bash -c "$(step ' outbox ' | sed 's/#.*//')"
code=$(printf '%s\n' "$out" | grep -A1 "case $case_id" | tail -1 | grep -o '[0-9]\{6\}')
check "the printed outbox command shows the code" test -n "$code"
run bash -c "T=$T; $(step '/verify' | sed "s/CASE/$case_id/; s/CODE/$code/")"
contains "the printed verify works" "$out" '"status":"verified"'
run bash -c "T=$T; $(step '/reveal' | sed "s/CASE/$case_id/")"
contains "the printed reveal shows the name" "$out" '"name":"'
contains "and the audit leaf" "$out" '"leaf_index"'

kill -INT $SERVER
wait $SERVER
check "Ctrl-C stops the demo cleanly" test $? -eq 0
expect "the audit log verifies" 0 cu audit verify
done_testing
