#!/usr/bin/env bash
# Cases over HTTP: a clerk's customer-support flow (device look-up, case,
# the customer's code from the outbox, verify, reveal), investigations
# with a supervisor's approval, and every refusal the issue names, each
# with its problem type and an audit entry.
. "$(dirname "$0")/lib.bash"

"$CUSTODIAN" gen customers 50 --seed 43 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null
always_open
cu import "$TMP/c.jsonl" >/dev/null
serve_start
P=https://custodian.invalid/problems

alice=$(staff_login alice clerk SZ-014)
bob=$(staff_login bob clerk SZ-014)
adam=$(staff_login adam agent CC-01)
sue=$(staff_login sue supervisor SZ-014)
sid=$(staff_login sid supervisor HQ)
sam=$(staff_login sam security HQ)
ada=$(staff_login ada admin HQ)

# code_of CASE: the one-time code the outbox sent for the case.
code_of() { cu outbox | grep -A1 "case $1\$" | tail -1 | grep -o '[0-9]\{6\}' | head -1; }
# refused DESC STATUS SLUG: the last answer was that problem.
refused() {
    check "$1: $2" test "$code" = "$2"
    contains "$1: type $3" "$out" "\"type\":\"$P/$3\""
}

imei=$(jfield "$TMP/c.jsonl" 7 imei)
name=$(jfield "$TMP/c.jsonl" 7 name)
phone=$(jphone "$TMP/c.jsonl" 7)

# --- the clerk's flow ---------------------------------------------------------
http GET "/v1/devices/$imei" "" "$alice"
check "device look-up: 200" test "$code" = 200
cid=$(jget customer_id)
check "finds the customer" test "$cid" = C00000007

http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$cid\"}" "$alice"
check "open a customer_support case: 201" test "$code" = 201
contains "awaiting verification" "$out" '"status":"awaiting_verification"'
contains "the code went to the masked phone on file" "$out" "\"code_sent_to\":\"${phone:0:3} ${phone:3:3}****${phone: -4}\""
case1=$(jget case_id)

http POST "/v1/cases/$case1/reveal" '{"fields":["name"]}' "$alice"
refused "reveal before verification" 403 case-not-verified
lacks "and no name" "$out" "$name"

run cu outbox
contains "the outbox shows the code message" "$out" "case $case1"
contains "sent to the customer's phone" "$out" "$phone"
code=$(code_of "$case1")
check "a 6-digit code" test "${#code}" = 6
good=$code
if [ "$good" = 000000 ]; then bad=111111; else bad=000000; fi

http POST "/v1/cases/$case1/verify" "{\"code\":\"$bad\"}" "$alice"
refused "a wrong code" 403 code-incorrect
http POST "/v1/cases/$case1/verify" "{\"code\":\"$good\"}" "$bob"
refused "another clerk verifying alice's case" 403 not-case-owner
http POST "/v1/cases/$case1/verify" "{\"code\":\"$good\"}" "$alice"
check "the right code: 200" test "$code" = 200
contains "verified" "$out" '"status":"verified"'
http POST "/v1/cases/$case1/verify" "{\"code\":\"$good\"}" "$alice"
refused "the same code again" 409 case-state

http POST "/v1/cases/$case1/reveal" '{"fields":["name","phone"]}' "$alice"
check "reveal of name and phone: 200" test "$code" = 200
contains "the right name" "$out" "\"name\":\"$name\""
contains "the right phone" "$out" "\"$phone\""
contains "with the audit leaf index" "$out" '"leaf_index":'
leaf=$(printf '%s' "$out" | grep -o '"leaf_index":[0-9]*' | cut -d: -f2)
run cu audit entries --start "$leaf" --end "$((leaf + 1))"
contains "that leaf is alice's reveal" "$out" '"action": "reveal"'
contains "of name and phone" "$out" '"fields": ['
contains "under the case" "$out" "\"case_id\": \"$case1\""

http POST "/v1/cases/$case1/reveal" '{"fields":["address"]}' "$alice"
refused "a field the clerk may not see" 403 field-not-allowed
http POST "/v1/cases/$case1/reveal" '{"fields":["name"],"customer_id":"C00000008"}' "$alice"
refused "another customer through the case" 403 wrong-customer
lacks "and nothing of them" "$out" "$(jfield "$TMP/c.jsonl" 8 name)"
http POST "/v1/cases/$case1/reveal" '{"fields":["name"]}' "$bob"
refused "another clerk's reveal on alice's case" 403 not-case-owner
http POST "/v1/cases/$case1/reveal" '{"fields":["name"]}' "$sam"
refused "security trying to reveal" 403 role-not-allowed
http POST "/v1/cases/$case1/reveal" '{"fields":["name"]}' "$ada"
refused "admin trying to reveal" 403 role-not-allowed
http POST "/v1/cases" "{\"purpose\":\"customer_support\",\"customer_id\":\"$cid\"}" "$sam"
refused "security opening a case" 403 role-not-allowed
http POST "/v1/cases/$case1/reveal" '{"fields":["nickname"]}' "$alice"
check "an unknown field: 400" test "$code" = 400
http POST "/v1/cases/K-nope/reveal" '{"fields":["name"]}' "$alice"
check "an unknown case: 404" test "$code" = 404

# --- fail closed: no durable audit entry, no data --------------------------------
store_fail_audit on
http POST "/v1/cases/$case1/reveal" '{"fields":["name","phone"]}' "$alice"
refused "a reveal whose audit entry cannot be written" 503 audit-unavailable
lacks "shows no name" "$out" "$name"
lacks "and no phone" "$out" "$phone"
http GET "/v1/devices/$imei" "" "$alice"
refused "a look-up whose audit entry cannot be written" 503 audit-unavailable
lacks "shows no customer" "$out" "$cid"
store_fail_audit off
http POST "/v1/cases/$case1/reveal" '{"fields":["name"]}' "$alice"
check "once the log can be written again, the reveal works" test "$code" = 200

# --- an expired case ----------------------------------------------------------
store_sql "UPDATE cases SET expires_at = 1 WHERE id = '$case1'"
http POST "/v1/cases/$case1/reveal" '{"fields":["name"]}' "$alice"
refused "an expired case" 409 case-expired
lacks "and no name" "$out" "$name"

# --- six wrong codes ------------------------------------------------------------
http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$cid\"}" "$alice"
case2=$(jget case_id)
good=$(code_of "$case2")
if [ "$good" = 000000 ]; then bad=111111; else bad=000000; fi
for i in 1 2 3 4 5; do http POST "/v1/cases/$case2/verify" "{\"code\":\"$bad\"}" "$alice"; done
refused "the fifth wrong code" 403 code-incorrect
contains "saying no tries are left" "$out" "0 of 5 tries left"
http POST "/v1/cases/$case2/verify" "{\"code\":\"$bad\"}" "$alice"
refused "a wrong code the sixth time" 429 too-many-attempts
http POST "/v1/cases/$case2/verify" "{\"code\":\"$good\"}" "$alice"
refused "even the right code after that" 429 too-many-attempts

# --- closing --------------------------------------------------------------------
http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$cid\",\"send_to\":\"email\"}" "$alice"
case3=$(jget case_id)
contains "a code by e-mail when asked" "$out" '"code_sent_to":"'
http POST "/v1/cases/$case3/verify" "{\"code\":\"$(code_of "$case3")\"}" "$alice"
check "verified by the e-mailed code" test "$code" = 200
http POST "/v1/cases/$case3/close" "" "$alice"
check "the owner closes the case: 200" test "$code" = 200
http POST "/v1/cases/$case3/reveal" '{"fields":["name"]}' "$alice"
refused "reveal on a closed case" 409 case-closed

# --- investigations -------------------------------------------------------------
http POST /v1/cases "{\"purpose\":\"fraud_investigation\",\"customer_id\":\"$cid\"}" "$adam"
check "an investigation without a reason: 400" test "$code" = 400
http POST /v1/cases "{\"purpose\":\"fraud_investigation\",\"customer_id\":\"$cid\",\"reason\":\"chargeback ring, ticket 4411\"}" "$alice"
refused "a clerk opening an investigation" 403 purpose-not-allowed
http POST /v1/cases "{\"purpose\":\"fraud_investigation\",\"customer_id\":\"$cid\",\"reason\":\"about $name\"}" "$adam"
check "a reason holding the customer's name: 400" test "$code" = 400
http POST /v1/cases "{\"purpose\":\"fraud_investigation\",\"customer_id\":\"$cid\",\"reason\":\"chargeback ring, ticket 4411\"}" "$adam"
check "an agent opens an investigation: 201" test "$code" = 201
contains "pending approval" "$out" '"status":"pending_approval"'
inv=$(jget case_id)
http POST "/v1/cases/$inv/reveal" '{"fields":["address"]}' "$adam"
refused "reveal before approval" 403 case-not-approved
http POST "/v1/cases/$inv/approve" "" "$adam"
refused "the requester approving" 403 self-approval
http POST "/v1/cases/$inv/approve" "" "$bob"
refused "a clerk approving" 403 role-may-not-approve
http GET "/v1/cases?status=pending_approval" "" "$sue"
check "the supervisor's queue: 200" test "$code" = 200
contains "holds the investigation" "$out" "\"case_id\":\"$inv\""
contains "with its reason" "$out" '"reason":"chargeback ring, ticket 4411"'
http GET "/v1/cases?status=pending_approval" "" "$adam"
refused "an agent reading the approval queue" 403 role-not-allowed
http POST "/v1/cases/$inv/approve" "" "$sue"
check "a supervisor approves: 200" test "$code" = 200
contains "approved" "$out" '"status":"approved"'
http POST "/v1/cases/$inv/reveal" '{"fields":["name","address","birth_date"]}' "$adam"
check "the agent reveals under the approved investigation: 200" test "$code" = 200
contains "the address" "$out" "\"address\":"

http POST /v1/cases "{\"purpose\":\"legal_request\",\"customer_id\":\"$cid\",\"reason\":\"court order 2026-117\"}" "$sue"
inv2=$(jget case_id)
http POST "/v1/cases/$inv2/approve" "" "$sue"
refused "a supervisor approving their own request" 403 self-approval
http POST "/v1/cases/$inv2/approve" "" "$sid"
check "another supervisor approves it: 200" test "$code" = 200
http GET "/v1/cases?status=pending_approval" "" "$sue"
lacks "approved cases leave the queue" "$out" "$inv2"

http POST /v1/cases "{\"purpose\":\"fraud_investigation\",\"customer_id\":\"$cid\",\"reason\":\"a hunch, no ticket\"}" "$adam"
inv3=$(jget case_id)
http POST "/v1/cases/$inv3/refuse" "" "$adam"
refused "the requester refusing their own request" 403 self-approval
http POST "/v1/cases/$inv3/refuse" "" "$sue"
check "a supervisor refuses an investigation: 200" test "$code" = 200
contains "which closes it" "$out" '"status":"closed"'
http POST "/v1/cases/$inv3/reveal" '{"fields":["name"]}' "$adam"
refused "no reveal under a refused investigation" 409 case-closed
http POST "/v1/cases/$inv3/approve" "" "$sid"
refused "nor a later approval" 409 case-closed
run cu audit export
contains "the refusal is audited" "$out" '"approval-refused"' 

# --- the audit log holds every refusal ------------------------------------------------
run cu audit export
for reason in case-not-verified code-incorrect not-case-owner field-not-allowed wrong-customer \
    case-expired too-many-attempts case-closed purpose-not-allowed case-not-approved \
    self-approval role-may-not-approve; do
    contains "the audit log records the refusal $reason" "$out" "\"$reason\""
done
contains "and security's refused reveal" "$out" '"actor":"sam","role":"security","store":"HQ"'
lacks "the audit log holds no name" "$out" "$name"
lacks "nor the phone" "$out" "${phone:3}"
lacks "nor any code" "$out" "code is"
expect "the audit log verifies" 0 cu audit verify

# --- suspension ends a live session at once ---------------------------------------
cu staff suspend alice >/dev/null
http POST "/v1/cases/$case2/verify" "{\"code\":\"$good\"}" "$alice"
check "a suspended clerk's session: 423 or 401" test "$code" = 423 -o "$code" = 401

run curl -s "$URL/metrics"
contains "metrics count denials by reason" "$out" 'custodian_denials_total{reason="case-not-verified"}'
contains "metrics count reveals" "$out" 'custodian_reveals_total'
batches=$(printf '%s\n' "$out" | sed -n 's/^custodian_audit_batches_total \([0-9]*\).*/\1/p')
entries=$(printf '%s\n' "$out" | sed -n 's/^custodian_audit_entries_total \([0-9]*\).*/\1/p')
check "metrics count audit group commits ($entries entries in $batches batches)" \
    test "${batches:-0}" -gt 0 -a "${entries:-0}" -ge "${batches:-0}"

# --- the data folder holds no code and no phone in clear --------------------------
kill -TERM $SERVER
wait $SERVER
run grep -rl --binary-files=text "$good" "$DATA"
check "no one-time code in the data folder" test -z "$out"
run grep -rl --binary-files=text "${phone:3}" "$DATA"
check "no phone number in the data folder" test -z "$out"

done_testing
