#!/usr/bin/env bash
# Leak tracing: three clerks serve customers through `custodian serve` (case,
# the customer's code, reveal); then a leaked file in messy formats holding
# the customers one clerk revealed (and a canary, a customer nobody revealed,
# junk) is traced: that clerk ranks first, the canary is called out first,
# the JSON carries inclusion proofs that an independent verifier accepts,
# the trace is audited and prints nothing personal.
. "$(dirname "$0")/lib.bash"
TLOG="$BUILD/tests/tools/tlogcheck"
py() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

"$CUSTODIAN" gen customers 12 --seed 61 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null
always_open
cu import "$TMP/c.jsonl" >/dev/null
cu canary add 1 --json >"$TMP/canary.json"
canary_id=$(py "$TMP/canary.json" 'd["canaries"][0]["customer_id"]')
canary_phone=$(py "$TMP/canary.json" 'd["canaries"][0]["phones"][0]')

serve_start
alice=$(staff_login alice clerk SZ-014)
bob=$(staff_login bob clerk SZ-014)
carol=$(staff_login carol clerk SZ-014)

code_of() { cu outbox | grep -A1 "case $1\$" | tail -1 | grep -o '[0-9]\{6\}' | head -1; }
# serve TOKEN CUSTOMER_ID: the clerk's flow, ending in a reveal of name and phone.
serve() {
    local case_id otp
    http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$2\"}" "$1"
    case_id=$(jget case_id)
    otp=$(code_of "$case_id")
    http POST "/v1/cases/$case_id/verify" "{\"code\":\"$otp\"}" "$1"
    http POST "/v1/cases/$case_id/reveal" '{"fields":["name","phone"]}' "$1"
    [ "$code" = 200 ]
}
served=1
for c in 1 2 3 4; do serve "$alice" "C0000000$c" || served=0; done
for c in 4 5; do serve "$bob" "C0000000$c" || served=0; done
serve "$carol" C00000006 || served=0
check "seven reveals by three clerks through the server" test "$served" = 1
kill "$SERVER"
wait "$SERVER" 2>/dev/null

# --- the leaked file, as found --------------------------------------------------
p1=$(jphone "$TMP/c.jsonl" 1)
p2=$(jphone "$TMP/c.jsonl" 2)
e3=$(jfield "$TMP/c.jsonl" 3 email)
i4=$(jfield "$TMP/c.jsonl" 4 imei)
p5=$(jphone "$TMP/c.jsonl" 5)
p6=$(jphone "$TMP/c.jsonl" 6)
p10=$(jphone "$TMP/c.jsonl" 10)
n1=$(jfield "$TMP/c.jsonl" 1 name)
n5=$(jfield "$TMP/c.jsonl" 5 name)
upper3=$(printf '%s' "$e3" | tr 'a-z' 'A-Z')
{
    printf 'name,phone,note\n'
    printf '"%s","%s %s-%s-%s",VIP\n' "$n1" "${p1:0:3}" "${p1:3:3}" "${p1:6:4}" "${p1:10:4}"
    printf 'call (0)%s %s %s after 6pm\n' "${p2:3:3}" "${p2:6:4}" "${p2:10:4}"
    printf 'mail: <%s>; paid 180 RMB on 2017-05-03\n' "$upper3"
    printf 'IMEI %s-%s-%s-%s\n' "${i4:0:2}" "${i4:2:6}" "${i4:8:6}" "${i4:14:1}"
    printf '{"name": "%s", "mobile": "%s"}\n' "$n5" "${p5:3}"
    printf 'lot 7 | %s %s %s\n' "${p6:3:3}" "${p6:6:4}" "${p6:10:4}"
    printf 'unknown origin: 0086 %s\n' "${p10:3}"
    printf 'test entry %s\n' "$canary_phone"
    printf '\n12345, hello, 2019-03-14, 3.14\n'
} >"$TMP/leak.csv"

# --- text ---------------------------------------------------------------------------
run cu trace "$TMP/leak.csv"
check "trace: exit 0" test "$status" = 0
contains "lines read" "$out" "11 lines read (a CSV header)"
contains "customers matched: six served, one nobody served, the canary" "$out" \
    "customers: 8 matched; 6 revealed by staff before"
contains "the canary is called out" "$out" "CANARY customers in the leak: 1"
contains "by its customer id, revealed by nobody" "$out" "$canary_id  revealed by no staff member"
canary_line=$(printf '%s\n' "$out" | grep -n CANARY | cut -d: -f1)
suspects_line=$(printf '%s\n' "$out" | grep -n '^suspects' | cut -d: -f1)
check "the canary comes before the suspects" test "$canary_line" -lt "$suspects_line"
ranked() { printf '%s\n' "$out" | awk -v n="$1" '$1 == "rank" { s = 1; next } s && $1 == n { print $2 }'; }
rank1=$(ranked 1)
rank2=$(ranked 2)
rank3=$(ranked 3)
check "alice, who revealed four of the leaked customers, ranks first" test "$rank1" = alice
check "then bob (one shared with alice, one alone), then carol" test "$rank2-$rank3" = bob-carol
contains "alice's probability: 1 - 0.2^3 x 0.6" "$out" "alice            0.995200"
contains "bob's: 1 - 0.6 x 0.2" "$out" "bob              0.880000"
for v in "$n1" "$n5" "$p1" "${p1:3}" "$e3" "$i4" "$p6" "$canary_phone"; do
    lacks "nothing personal in the output" "$out$err" "$v"
done

# --- JSON -----------------------------------------------------------------------------
expect "trace --json: exit 0" 0 cu trace "$TMP/leak.csv" --json
printf '%s' "$out" >"$TMP/t.json"
check "JSON: counts" test "$(py "$TMP/t.json" '(d["lines"]["read"], d["customers"]["matched"], d["customers"]["canaries"])')" = "(11, 8, 1)"
check "JSON: identifiers by kind" test "$(py "$TMP/t.json" '[d["identifiers"]["by_kind"][k]["matched"] for k in ("phone", "email", "imei")]')" = "[6, 1, 1]"
check "JSON: the canary first, with no one revealing it" test "$(py "$TMP/t.json" '(list(d).index("canaries") < list(d).index("suspects"), d["canaries"][0]["customer_id"], d["canaries"][0]["revealed_by"])')" = "(True, '$canary_id', [])"
check "JSON: suspects ranked alice, bob, carol" test "$(py "$TMP/t.json" '[s["staff"] for s in d["suspects"]]')" = "['alice', 'bob', 'carol']"
check "JSON: alice revealed 4 leaked records, 3 alone, under 4 cases" test "$(py "$TMP/t.json" '(d["suspects"][0]["records"], d["suspects"][0]["sole_records"], d["suspects"][0]["cases"]["count"])')" = "(4, 3, 4)"
check "JSON: the model's value for alice" test "$(py "$TMP/t.json" 'abs(d["suspects"][0]["probability"] - (1 - 0.2 ** 3 * 0.6)) < 1e-12')" = True
check "JSON: her examples, sole reveals first" test "$(py "$TMP/t.json" '[e["revealed_by"] for e in d["suspects"][0]["examples"]]')" = "[1, 1, 1]"

# Every example's inclusion proof, against the signed checkpoint, by an
# independent verifier.
cu audit key >"$TMP/vkey"
py "$TMP/t.json" 'd["audit"]["checkpoint"]' | sed '$d' >"$TMP/cp.txt"
root=$("$TLOG" note "$(cat "$TMP/vkey")" "$TMP/cp.txt" | sed -n 's/.*root=\([0-9a-f]*\).*/\1/p')
size=$(py "$TMP/t.json" 'd["audit"]["tree_size"]')
check "the checkpoint verifies" test -n "$root"
proofs_ok=1
nproofs=0
for idx in $(py "$TMP/t.json" '" ".join(str(e["leaf_index"]) for s in d["suspects"] for e in s["examples"])'); do
    py "$TMP/t.json" "json.dumps([e['proof'] for s in d['suspects'] for e in s['examples'] if e['leaf_index'] == $idx][0])" >"$TMP/p.json"
    leaf=$(cu audit entries --start "$idx" --end $((idx + 1)) | sed -n 's/.*"leaf_input": "\([^"]*\)".*/\1/p')
    "$TLOG" inclusion "$root" "$size" "$idx" "$leaf" "$TMP/p.json" >/dev/null 2>&1 || proofs_ok=0
    run cu audit entries --start "$idx" --end $((idx + 1))
    case "$out" in *'"action": "reveal"'*) ;; *) proofs_ok=0 ;; esac
    nproofs=$((nproofs + 1))
done
check "all $nproofs example entries are reveals whose proofs verify" test "$proofs_ok-$nproofs" = 1-6

# The trace itself is in the audit log, by the operator, naming no customer.
ti=$(py "$TMP/t.json" 'd["audit"]["trace_leaf_index"]')
run cu audit entries --start "$ti" --end $((ti + 1))
contains "the trace is audited" "$out" '"detail": "leak trace: 11 lines'
contains "as an export by the operator" "$out" '"action": "export"'
lacks "with no subject" "$out" '"subject"'

# --- the same trace through the API (security only) -------------------------------------
serve_start
sam=$(staff_login sam security HQ)

# Regression: POST /v1/trace takes up to 64 MiB, and the server read and
# parsed the whole body before the handler checked the session, so anyone
# could make it hold 64 MiB per connection (4 x 60 MiB without a token took
# it from 14 to 354 MB).  The headers decide now: 401 or 403 before a byte
# of the body is read.  Measured on a server that has hashed no password
# (a log-in's Argon2id takes 64 MiB): the sessions outlive a restart.
python3 -c 'import sys; sys.stdout.write("{\"data\":\"" + "7" * (20 << 20) + "\"}")' \
    >"$TMP/big.json"
kill "$SERVER" && wait "$SERVER"
serve_start
http GET /v1/me "" "$sam" # the server's threads are up
http GET /v1/me "" "$alice"
hwm0=$(server_hwm_kb)
denied0=$(cu audit show --staff alice | grep -c '"action": "access_denied"')
http_file POST /v1/trace "$TMP/big.json"
check "a 20 MB upload without a session: 401" test "$code" = 401
contains "as unauthorized" "$out" '/problems/unauthorized"'
http_file POST /v1/trace "$TMP/big.json" "$alice"
check "a 20 MB upload by a clerk: 403" test "$code" = 403
contains "as role-not-allowed" "$out" '/problems/role-not-allowed"'
hwm1=$(server_hwm_kb)
check "neither was read: the server's peak memory grew by $((hwm1 - hwm0)) kB, under 8 MB" \
    test $((hwm1 - hwm0)) -lt 8192
denied1=$(cu audit show --staff alice | grep -c '"action": "access_denied"')
check "the clerk's attempt is audited once" test "$((denied1 - denied0))" = 1
body=$(python3 -c 'import json, sys; print(json.dumps({"data": open(sys.argv[1]).read()}))' "$TMP/leak.csv")
http POST /v1/trace "$body" "$sam"
check "security uploads the leak to POST /v1/trace: 200" test "$code" = 200
printf '%s' "$out" >"$TMP/api.json"
check "the API ranks as the CLI does" test "$(py "$TMP/api.json" '[s["staff"] for s in d["suspects"]]')" = "['alice', 'bob', 'carol']"
check "and calls out the canary" test "$(py "$TMP/api.json" 'd["canaries"][0]["customer_id"]')" = "$canary_id"
check "with inclusion proofs" test "$(py "$TMP/api.json" '"proof" in d["suspects"][0]["examples"][0]')" = True
python3 -c 'import json, sys; sys.stdout.write(json.dumps({"data": open(sys.argv[1]).read()}) + " " * (20 << 20))' \
    "$TMP/leak.csv" >"$TMP/big-leak.json"
http_file POST /v1/trace "$TMP/big-leak.json" "$sam"
check "security's upload of 20 MB (the leak and white space) is read: 200" test "$code" = 200
printf '%s' "$out" >"$TMP/api-big.json"
check "and ranks the same" test "$(py "$TMP/api-big.json" '[s["staff"] for s in d["suspects"]]')" = "['alice', 'bob', 'carol']"
http POST /v1/trace "$body" "$alice"
check "a clerk may not trace: 403" test "$code" = 403
http POST /v1/trace '{"data":""}' "$sam"
check "an empty upload: 400" test "$code" = 400
kill "$SERVER" && wait "$SERVER"

# --- as of, ties, bad input -------------------------------------------------------------
run cu trace "$TMP/leak.csv" --as-of 2020-01-01
contains "before any reveal: nobody to suspect" "$out" "none: no staff member revealed a leaked customer"
printf '%s\n%s\n' "$p5" "$p6" >"$TMP/leak2.txt"
run cu trace "$TMP/leak2.txt" --json
printf '%s' "$out" >"$TMP/t2.json"
check "a tie (one sole record each) goes by name: bob, carol" test "$(py "$TMP/t2.json" '[s["staff"] for s in d["suspects"]]')" = "['bob', 'carol']"
run cu trace "$TMP/leak.csv" --p 0.5 --json
printf '%s' "$out" >"$TMP/t3.json"
check "--p changes the model: alice 1 - 0.5^3 x 0.75" test "$(py "$TMP/t3.json" 'abs(d["suspects"][0]["probability"] - (1 - 0.5 ** 3 * 0.75)) < 1e-12')" = True

expect "a missing file: exit 1" 1 cu trace "$TMP/nope.csv"
contains "naming it" "$err" "cannot open '$TMP/nope.csv'"
gzip -c "$TMP/leak.csv" >"$TMP/leak.csv.gz"
expect "a compressed file: exit 1" 1 cu trace "$TMP/leak.csv.gz"
contains "saying so" "$err" "looks like a binary file"
: >"$TMP/empty.csv"
expect "an empty file: exit 1" 1 cu trace "$TMP/empty.csv"
contains "saying so" "$err" "is empty"
expect "no file: usage, exit 2" 2 cu trace
expect "--p out of range: exit 2" 2 cu trace "$TMP/leak.csv" --p 1.5
expect "--as-of not a time: exit 2" 2 cu trace "$TMP/leak.csv" --as-of yesterday
expect "--help: exit 0" 0 cu trace --help
contains "--help explains the model" "$out" "Papadimitriou and Garcia-Molina"
run "$CUSTODIAN" --help
contains "trace is in the command list" "$out" "trace    rank the staff whose reveals could have produced a leaked data set"
# An operator's export releases every field: it counts as a reveal.
expect "the operator exports customer 10" 0 cu export --customer-id C00000010 --output "$TMP/x10.json"
printf 'leaked: %s\n' "$p10" >"$TMP/leak10.txt"
run cu trace "$TMP/leak10.txt" --json
check "a leak of what only the export released names the operator" \
    test "$(py /dev/stdin '[s["staff"][:9] for s in d["suspects"]]' <<<"$out")" = "['operator:']"

verify() { cu audit verify >/dev/null; }
check "audit verify still passes" verify

done_testing
