#!/usr/bin/env bash
# The customer portal against a real server: a customer signs in with a
# one-time code sent to the phone on file, sees exactly the accesses made to
# their record (none of another customer's), every inclusion proof and the
# checkpoint's signature verified by an independent verifier, consistency
# between two checkpoints verified the same way; a full reveal queues
# exactly one access notice (none for a look-up), or none yet for a
# customer who chose the daily digest; sign-in throttling; who may call
# the portal and the public audit routes.
. "$(dirname "$0")/lib.bash"

VERIFY="$(cd "$(dirname "$0")/../tools" && pwd)/verify_proofs.py"
# py FILE EXPR: prints a Python expression over the JSON document `d` of FILE.
py() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# outbox_of CUSTOMER: that customer's messages, one body a line (newlines as |).
outbox_of() {
    cu outbox --json | python3 -c 'import json, sys
for m in json.load(sys.stdin)["messages"]:
    if m["customer_id"] == sys.argv[1]:
        print(m["body"].replace("\n", "|"))' "$1"
}
# notices_of CUSTOMER: how many access notices that customer has.
notices_of() { outbox_of "$1" | grep -c 'viewed in full' || true; }
# wait_notices CUSTOMER N: waits (up to 5 s) for N notices.
wait_notices() {
    local i
    for i in $(seq 1 50); do
        [ "$(notices_of "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
sign_in_code() { outbox_of "$1" | grep 'who accessed' | tail -1 | grep -o '[0-9]\{6\}' | head -1; }

"$CUSTODIAN" gen customers 20 --seed 73 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null
always_open
cu import "$TMP/c.jsonl" >/dev/null
serve_start

alice=$(staff_login alice clerk SZ-014)
bob=$(staff_login bob clerk SZ-020)
sec=$(staff_login sam security HQ)
code_of() { cu outbox | grep -A1 "case $1\$" | tail -1 | grep -o '[0-9]\{6\}' | head -1; }

imei_a=$(jfield "$TMP/c.jsonl" 2 imei)
imei_b=$(jfield "$TMP/c.jsonl" 4 imei)
account_a=$(jfield "$TMP/c.jsonl" 2 account)
account_b=$(jfield "$TMP/c.jsonl" 4 account)
name_a=$(jfield "$TMP/c.jsonl" 2 name)

# --- alice serves A; bob looks B up -------------------------------------------------
http GET "/v1/devices/$imei_a" "" "$alice"
check "alice looks A up: 200" test "$code" = 200
A=$(jget customer_id)
http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$A\"}" "$alice"
case_a=$(jget case_id)
http POST "/v1/cases/$case_a/verify" "{\"code\":\"$(code_of "$case_a")\"}" "$alice"
check "the case is verified: 200" test "$code" = 200
check "no access notice for a look-up and a case" test "$(notices_of "$A")" = 0
http POST "/v1/cases/$case_a/reveal" '{"fields":["name","phone"]}' "$alice"
check "alice reveals A's name and phone: 200" test "$code" = 200
check "the reveal queues an access notice" wait_notices "$A" 1
sleep 1.5
check "exactly one" test "$(notices_of "$A")" = 1
notice=$(outbox_of "$A" | grep 'viewed in full')
contains "the notice names the fields" "$notice" "name, phone"
contains "the store" "$notice" "SZ-014"
contains "and the case" "$notice" "$case_a"
lacks "but not the values" "$notice" "$name_a"
http GET "/v1/devices/$imei_b" "" "$bob"
B=$(jget customer_id)
check "A and B are two customers" test -n "$B" -a "$A" != "$B"

# --- sign-in --------------------------------------------------------------------------
http POST /v1/subject/code "{\"account\":\"$account_a\"}"
check "A asks for a sign-in code: 202" test "$code" = 202
known=$out
code_a=$(sign_in_code "$A")
check "a 6-digit code went to A's phone" test "${#code_a}" = 6
check "by SMS" test "$(cu outbox --json | py /dev/stdin \
    "[m['channel'] for m in d['messages'] if m['customer_id'] == '$A'][-1]")" = sms
http POST /v1/subject/code '{"account":"no-such-account-000"}'
check "an unknown account gets the same answer: 202" test "$code" = 202
check "word for word" test "$out" = "$known"
http POST /v1/subject/code '{}'
check "no account: 400" test "$code" = 400
wrong=$(printf '%06d' $(((10#$code_a + 1) % 1000000)))
http POST /v1/subject/login "{\"account\":\"$account_a\",\"code\":\"$wrong\"}"
check "a wrong code: 401" test "$code" = 401
contains "as unauthorized" "$out" unauthorized
http POST /v1/subject/login "{\"account\":\"$account_b\",\"code\":\"$code_a\"}"
check "A's code for B's account: 401" test "$code" = 401
http POST /v1/subject/login "{\"account\":\"$account_a\",\"code\":\"$code_a\"}"
check "A signs in with the code: 200" test "$code" = 200
tok_a=$(jget token)
check "and gets a token" test -n "$tok_a"
http POST /v1/subject/login "{\"account\":\"$account_a\",\"code\":\"$code_a\"}"
check "the code does not sign in twice: 401" test "$code" = 401

# --- the access log -----------------------------------------------------------------------
http GET /v1/subject/access-log "" "$tok_a"
check "A reads their access log: 200" test "$code" = 200
printf '%s' "$out" >"$TMP/log.json"
acts=$(py "$TMP/log.json" "','.join(e['action'] for e in d['entries'])")
check "exactly the accesses to A's record ($acts)" test "$acts" = "lookup,case_open,case_verify,reveal"
check "the reveal's fields" test "$(py "$TMP/log.json" "d['entries'][3]['fields']")" = "['name', 'phone']"
check "staff as a reference, not a name" test "$(py "$TMP/log.json" "d['entries'][3]['staff_ref'][:2]")" = S-
lacks "no staff name outside the leaves" "$(py "$TMP/log.json" \
    "json.dumps([{k: v for k, v in e.items() if k != 'leaf_input'} for e in d['entries']])")" alice
lacks "nothing of B's" "$(cat "$TMP/log.json")" "$B"
vkey=$(cu audit key)
expect "every inclusion proof and the checkpoint signature verify independently" 0 \
    python3 "$VERIFY" "$TMP/log.json" "$vkey"
python3 - "$TMP/log.json" "$TMP/tampered.json" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1]))
p = bytearray(base64.b64decode(d["entries"][3]["audit_path"][0]))
p[0] ^= 1
d["entries"][3]["audit_path"][0] = base64.b64encode(bytes(p)).decode()
json.dump(d, open(sys.argv[2], "w"))
EOF
expect "a tampered proof does not" 1 python3 "$VERIFY" "$TMP/tampered.json" "$vkey"

# --- checkpoints and proofs: who may ask --------------------------------------------------
http GET /v1/audit/checkpoint
check "the checkpoint is public: 200" test "$code" = 200
cp "$TMP/.body" "$TMP/cp1" # exactly as sent (the note ends with a newline)
size1=$(sed -n 2p "$TMP/cp1")
http POST "/v1/cases/$case_a/reveal" '{"fields":["name"]}' "$alice"
check "another reveal" test "$code" = 200
http GET /v1/audit/checkpoint
cp "$TMP/.body" "$TMP/cp2"
size2=$(sed -n 2p "$TMP/cp2")
check "the log grew ($size1 -> $size2)" test "$size2" -gt "$size1"
http GET "/v1/audit/proof/consistency?first=$size1&second=$size2"
check "a consistency proof is public: 200" test "$code" = 200
printf '%s' "$out" >"$TMP/cons.json"
expect "it proves the old checkpoint's tree is a prefix of the new one's" 0 \
    python3 "$VERIFY" --consistency "$TMP/cp1" "$TMP/cp2" "$TMP/cons.json" "$vkey"
expect "and not the other way round" 1 \
    python3 "$VERIFY" --consistency "$TMP/cp2" "$TMP/cp1" "$TMP/cons.json" "$vkey"
http GET "/v1/audit/proof/consistency?first=$size1"
check "a missing size: 400" test "$code" = 400

reveal_leaf=$(py "$TMP/log.json" "d['entries'][3]['leaf_index']")
http GET "/v1/audit/proof/inclusion?index=$reveal_leaf&tree_size=$size2" "" "$tok_a"
check "A may prove an entry about them: 200" test "$code" = 200
b_leaf=$(cu audit show --customer-id "$B" --json | py /dev/stdin "d['entries'][0]['index']")
http GET "/v1/audit/proof/inclusion?index=$b_leaf&tree_size=$size2" "" "$tok_a"
check "not an entry about B: 403" test "$code" = 403
http GET "/v1/audit/proof/inclusion?index=$b_leaf&tree_size=$size2" "" "$sec"
check "security may prove any entry: 200" test "$code" = 200
http GET "/v1/audit/proof/inclusion?index=$b_leaf&tree_size=$size2" "" "$alice"
check "a clerk may not: 403" test "$code" = 403
http GET "/v1/audit/entries?start=0&end=5" "" "$sec"
check "security reads entries: 200" test "$code" = 200
http GET "/v1/audit/entries?start=0&end=5" "" "$tok_a"
check "a customer may not: 401" test "$code" = 401
http GET /v1/subject/access-log "" "$alice"
check "a staff token is no customer session: 401" test "$code" = 401
http GET /v1/me "" "$tok_a"
check "a customer token is no staff session: 401" test "$code" = 401
http GET /v1/subject/access-log
check "no token: 401" test "$code" = 401

# --- the daily digest ------------------------------------------------------------------------
check "the second reveal's notice" wait_notices "$A" 2
http GET /v1/subject/notices "" "$tok_a"
contains "notices are sent one by one by default" "$out" '"digest":"each"'
http POST /v1/subject/notices '{"digest":"weekly"}' "$tok_a"
check "an unknown setting: 400" test "$code" = 400
http POST /v1/subject/notices '{"digest":"daily"}' "$tok_a"
check "A chooses the daily digest: 200" test "$code" = 200
http POST "/v1/cases/$case_a/reveal" '{"fields":["phone"]}' "$alice"
check "a third reveal" test "$code" = 200
sleep 2
check "no notice before the day is out" test "$(notices_of "$A")" = 2

# --- export, log-out ---------------------------------------------------------------------------
http GET /v1/subject/export "" "$tok_a"
check "A exports their data: 200" test "$code" = 200
check "with their name" test "$(printf '%s' "$out" | py /dev/stdin "d['customer']['name']")" = "$name_a"
http POST /v1/subject/logout "" "$tok_a"
check "A signs out" test "$code" = 204
http GET /v1/subject/access-log "" "$tok_a"
check "the token is dead: 401" test "$code" = 401

# --- throttling ---------------------------------------------------------------------------------
sleep 1
http POST /v1/subject/code "{\"account\":\"$account_b\"}"
for i in 1 2 3 4 5; do
    http POST /v1/subject/login "{\"account\":\"$account_b\",\"code\":\"000000\"}"
done
check "five wrong codes: 401 each" test "$code" = 401
code_b=$(sign_in_code "$B")
http POST /v1/subject/login "{\"account\":\"$account_b\",\"code\":\"$code_b\"}"
check "then even the right code is refused: 429" test "$code" = 429
check "every attempt is in the audit log" test "$(cu audit show --customer-id "$B" --json |
    py /dev/stdin "sum(e['action'] == 'subject_login' and e['decision'] == 'deny' for e in d['entries'])")" -ge 6

# --- a customer's erasure request, decided by an admin ------------------------------------
C=$(jfield "$TMP/c.jsonl" 6 customer_id)
account_c=$(jfield "$TMP/c.jsonl" 6 account)
imei_c=$(jfield "$TMP/c.jsonl" 6 imei)
adm=$(staff_login ada admin HQ)
http POST /v1/subject/code "{\"account\":\"$account_c\"}"
http POST /v1/subject/login "{\"account\":\"$account_c\",\"code\":\"$(sign_in_code "$C")\"}"
tok_c=$(jget token)
check "C signs in" test "$code" = 200 -a -n "$tok_c"
http POST /v1/subject/erasure "" "$tok_c"
check "C asks to be erased: 202" test "$code" = 202
req=$(jget request_id)
check "a pending request" test "$(jget status)" = pending -a "${req:0:2}" = E-
http POST /v1/subject/erasure "" "$tok_c"
check "once at a time: 409" test "$code" = 409
http GET "/v1/erasures?status=pending" "" "$adm"
contains_req() { [ "$code" = 200 ] && case "$out" in *"$req"*) true ;; *) false ;; esac; }
check "the admin sees it pending" contains_req
http POST "/v1/erasures/$req/approve" "" "$alice"
check "a clerk may not decide: 403" test "$code" = 403
http GET "/v1/devices/$imei_c" "" "$alice"
check "C is still there before the decision: 200" test "$code" = 200
http POST "/v1/erasures/$req/approve" "" "$adm"
check "the admin approves: 200" test "$code" = 200
check "the request is done" test "$(jget status)" = erased
http POST "/v1/erasures/$req/refuse" "" "$adm"
check "and cannot be decided again: 409" test "$code" = 409
http GET "/v1/devices/$imei_c" "" "$alice"
check "C's device finds nobody now: 404" test "$code" = 404
http GET /v1/subject/access-log "" "$tok_c"
check "C's session ended with the erasure: 401" test "$code" = 401
check "the erasure is in the audit log, by the admin" test "$(cu audit show --customer-id "$C" --json |
    py /dev/stdin "sum(e['action'] == 'erase' and e['actor'] == 'ada' for e in d['entries'])")" = 1

# Retention: 31 days later (outbox_days defaults to 30) the courier deletes
# every message, all sent.
kept=$(store_sql "SELECT count(*) FROM outbox")
store_sql "UPDATE outbox SET created_at = created_at - 31 * 86400" >/dev/null
outbox_empty() {
    local i
    for i in $(seq 1 50); do
        [ "$(store_sql "SELECT count(*) FROM outbox")" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}
check "the courier deletes messages past their retention ($kept)" \
    test "$kept" -gt 0 -a "$(outbox_empty && echo gone)" = gone

kill "$SERVER" && wait "$SERVER"
expect "audit verify passes" 0 cu audit verify
done_testing
