#!/usr/bin/env bash
# Insider detection inline: the request that would pass a quota or the
# statutory meter gets no data (429 limit-reached), and the ones after it
# neither; the block is in the audit log and raises an alert the security
# team sees; the counters survive a restart of the server.
. "$(dirname "$0")/lib.bash"

"$CUSTODIAN" gen customers 40 --seed 47 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null
always_open
cu import "$TMP/c.jsonl" >/dev/null
# Small limits: a clerk may reveal 3 times an hour and look up 8 times;
# the statutory threshold of "other" information (name, phone ...) is 10
# pieces, 5 for staff: the meter blocks at 0.8 (4 pieces), alerts at 0.5.
sed -i '0,/"reveals_per_hour": 20,/s//"reveals_per_hour": 3,/;
        0,/"lookups_per_hour": 60,/s//"lookups_per_hour": 8,/;
        0,/"other": 5000/s//"other": 10/' "$DATA/policy.json"
# Store NIGHT-1 (UTC) opens in two hours: closed now.
h=$((10#$(date -u +%H)))
open_at=$(printf '%02d:00' $(((h + 2) % 24)))
close_at=$(printf '%02d:00' $(((h + 3) % 24)))
[ "$close_at" = 00:00 ] && close_at=24:00
sed -i "s|\"stores\": {}|\"stores\": {\"NIGHT-1\": {\"timezone\": \"UTC\", \"open\": \"$open_at\", \"close\": \"$close_at\"}}|" \
    "$DATA/policy.json"
grep -q NIGHT-1 "$DATA/policy.json" || echo "Bail out! policy edit failed"
grep -q '"reveals_per_hour": 3,' "$DATA/policy.json" || echo "Bail out! policy edit failed"
grep -q '"other": 10' "$DATA/policy.json" || echo "Bail out! policy edit failed"
serve_start
P=https://custodian.invalid/problems

alice=$(staff_login alice clerk SZ-014)
sam=$(staff_login sam security HQ)
code_of() { cu outbox | grep -A1 "case $1\$" | tail -1 | grep -o '[0-9]\{6\}' | head -1; }
name=$(jfield "$TMP/c.jsonl" 5 name)

http POST /v1/cases '{"purpose":"customer_support","customer_id":"C00000005"}' "$alice"
case1=$(jget case_id)
http POST "/v1/cases/$case1/verify" "{\"code\":\"$(code_of "$case1")\"}" "$alice"
check "the case is verified" test "$code" = 200

# (devices: "transaction" information, far from its statutory threshold)
for i in 1 2; do
    http POST "/v1/cases/$case1/reveal" '{"fields":["devices"]}' "$alice"
    check "reveal $i of 3 within the quota: 200" test "$code" = 200
done
# the 3rd reaches step_up_fraction (0.8) of the quota: a supervisor co-signs
http POST "/v1/cases/$case1/reveal" '{"fields":["devices"]}' "$alice"
check "the 3rd reveal, near the quota, needs a co-sign: 403" test "$code" = 403
contains "as step-up-required" "$out" "\"type\":\"$P/step-up-required\""
sue=$(staff_login sue supervisor SZ-014)
http POST "/v1/cases/$case1/cosign" "" "$alice"
check "the owner cannot co-sign her own case: 403" test "$code" = 403
http POST "/v1/cases/$case1/cosign" "" "$sue"
check "a supervisor co-signs: 200" test "$code" = 200
contains "for a while" "$out" '"cosigned_by":"sue"'
http POST "/v1/cases/$case1/reveal" '{"fields":["devices"]}' "$alice"
check "reveal 3 of 3 with the co-sign: 200" test "$code" = 200
http POST "/v1/cases/$case1/reveal" '{"fields":["devices"]}' "$alice"
check "the 4th reveal this hour: 429" test "$code" = 429
contains "as limit-reached" "$out" "\"type\":\"$P/limit-reached\""
contains "naming the rule" "$out" "quota-reveals-hour"
lacks "with no data" "$out" "$(jfield "$TMP/c.jsonl" 5 imei)"
http POST "/v1/cases/$case1/reveal" '{"fields":["name"]}' "$alice"
check "and the 5th too" test "$code" = 429

run cu audit show --staff alice
contains "the blocked reveal is in the audit log" "$out" '"decision": "block"'
contains "so is the refused step-up" "$out" '"decision": "step_up"'
contains "with the rule as its reason" "$out" '"quota-reveals-hour"'
run cu alerts
contains "an alert for the security team" "$out" "quota-reveals-hour"
run cu outbox
contains "sent to the security team through the notifier" "$out" "alert security  [sent]"
contains "naming the staff member" "$out" "alice"
http GET "/v1/alerts?status=open" "" "$sam"
check "security reads alerts over HTTP: 200" test "$code" = 200
contains "with the rule and the evidence" "$out" '"rule":"quota-reveals-hour"'
contains "and the counts" "$out" 'reveals this hour: 3 done, limit 3'
contains "and the audit entries involved" "$out" '"audit_indexes":['
alert_id=$(printf '%s' "$out" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
http GET "/v1/alerts" "" "$alice"
check "a clerk may not read alerts: 403" test "$code" = 403

# look-ups: 8 an hour
imei=$(jfield "$TMP/c.jsonl" 9 imei)
for i in 1 2 3 4 5 6 7 8; do
    http GET "/v1/devices/$imei" "" "$alice"
    check "look-up $i of 8 within the quota: 200" test "$code" = 200
done
http GET "/v1/devices/$imei" "" "$alice"
check "the 9th look-up this hour: 429" test "$code" = 429
lacks "and shows no customer" "$out" '"customer_id"'

# the statutory meter (an agent, whose quotas are far off)
bob=$(staff_login bob agent CC-01)
http POST /v1/cases '{"purpose":"customer_support","customer_id":"C00000011"}' "$bob"
case2=$(jget case_id)
http POST "/v1/cases/$case2/verify" "{\"code\":\"$(code_of "$case2")\"}" "$bob"
http POST "/v1/cases/$case2/reveal" '{"fields":["name","phone"]}' "$bob"
check "2 pieces (meter 0.4): 200" test "$code" = 200
http POST "/v1/cases/$case2/reveal" '{"fields":["name","phone"]}' "$bob"
check "2 more would make the meter 0.8: 429" test "$code" = 429
contains "by the statutory meter" "$out" "statutory-meter"
http POST "/v1/cases/$case2/reveal" '{"fields":["name"]}' "$bob"
check "1 more (meter 0.6) passes: 200" test "$code" = 200
run cu alerts
check "one statutory alert for bob: no repeat within the hour" \
    test "$(printf '%s\n' "$out" | grep -c 'statutory-meter    bob')" = 1
http POST "/v1/cases/$case2/reveal" '{"fields":["name"]}' "$bob"
check "and the next (meter 0.8) is blocked: 429" test "$code" = 429

# approvals: a supervisor who approves every investigation of one agent
sid=$(staff_login sid supervisor SZ-014)
for i in 1 2 3 4 5; do
    http POST /v1/cases "{\"purpose\":\"fraud_investigation\",\"customer_id\":\"C0000001$i\",\"reason\":\"chargeback ring, ticket 90$i\"}" "$bob"
    http POST "/v1/cases/$(jget case_id)/approve" "" "$sid"
done
check "the approvals go through (an alert, not a block)" test "$code" = 200
run cu alerts
contains "the 5th approval for the same agent alerts" "$out" "approvals-one-requester sid"

# enumeration: IMEIs of one TAC with serial numbers a step apart
dave=$(staff_login dave clerk SZ-014)
for i in 1 2 3 4; do
    http GET "/v1/devices/$(luhn "3569380300$((1200 + i))")" "" "$dave"
    check "neighbouring look-up $i of 4 is answered (404: no such device)" test "$code" = 404
done
http GET "/v1/devices/$(luhn "35693803001205")" "" "$dave"
check "the 5th neighbouring look-up is blocked: 429" test "$code" = 429
contains "by the enumeration rule" "$out" "enumeration"
http GET "/v1/devices/$(luhn "35693803009999")" "" "$dave"
check "a look-up far from them is not" test "$code" = 404
run cu alerts
contains "the enumeration alert (at the 3rd) names dave" "$out" "enumeration        dave         3 look-ups"
run store_grep "3569380300120"
check "the store keeps no walked IMEI, only keyed buckets" test "$out" = 0

# cases never verified: alert at 5 open ones today, block at 10 (this
# policy's clerk quota is 3 reveals an hour, so the minimums apply)
fay=$(staff_login fay clerk SZ-014)
for i in 1 2 3 4 5 6 7 8 9 10; do
    http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"C0000002$((i % 10))\"}" "$fay"
    [ "$code" = 201 ] || break
done
check "10 cases opened and left unverified: all 201" test "$code" = 201
http POST /v1/cases '{"purpose":"customer_support","customer_id":"C00000031"}' "$fay"
check "the 11th is blocked: 429" test "$code" = 429
contains "by the unverified-cases rule" "$out" "unverified-cases"
run cu alerts
contains "which alerted at the 5th" "$out" "unverified-cases   fay          5 cases opened today are not verified"

# wrong codes: 10 in an hour (two cases' tries), then no more verification
gus=$(staff_login gus clerk SZ-014)
cases=""
for c in 32 33 34; do
    http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"C000000$c\"}" "$gus"
    cases="$cases $(jget case_id)"
done
set -- $cases
good=$(code_of "$3")
if [ "$good" = 000000 ]; then bad=111111; else bad=000000; fi
for c in "$1" "$1" "$1" "$1" "$1" "$2" "$2" "$2" "$2" "$2"; do
    http POST "/v1/cases/$c/verify" "{\"code\":\"$bad\"}" "$gus"
done
check "ten wrong codes over two cases: the last is still judged (403)" test "$code" = 403
http POST "/v1/cases/$3/verify" "{\"code\":\"$good\"}" "$gus"
check "then even the right code on a third case is blocked: 429" test "$code" = 429
contains "by the wrong-codes rule" "$out" "wrong-codes"

# store hours: a reveal while one's store is closed needs a co-sign
nina=$(staff_login nina clerk NIGHT-1)
http POST /v1/cases '{"purpose":"customer_support","customer_id":"C00000013"}' "$nina"
case3=$(jget case_id)
http POST "/v1/cases/$case3/verify" "{\"code\":\"$(code_of "$case3")\"}" "$nina"
http POST "/v1/cases/$case3/reveal" '{"fields":["name"]}' "$nina"
check "a reveal while the store is closed: 403" test "$code" = 403
contains "step-up-required, naming the store hours" "$out" "a reveal while the store is closed"
run cu alerts
contains "and an alert" "$out" "store-hours        nina"
http POST "/v1/cases/$case3/cosign" "" "$sue"
http POST "/v1/cases/$case3/reveal" '{"fields":["name"]}' "$nina"
check "with a supervisor's co-sign it goes: 200" test "$code" = 200

# canaries: a look-up of one suspends the account within the request
run cu canary add 2 --json
check "canary add plants customers" test "$status" = 0
canary_imei=$(printf '%s\n' "$out" | grep -A1 '"imeis"' | sed -n 's/.*"\([0-9]\{15\}\)".*/\1/p' | head -1)
canary_id=$(printf '%s\n' "$out" | sed -n 's/.*"customer_id": "\(C[0-9]*\)".*/\1/p' | head -1)
check "with an IMEI to watch" test -n "$canary_imei"
run store_sql "SELECT count(*) FROM canaries"
check "the store keeps two canary tags" test "$out" = 2
carol=$(staff_login carol clerk SZ-014)
http GET "/v1/devices/$canary_imei" "" "$carol"
check "the canary look-up is answered like any other (no tip-off)" test "$code" = 200
http GET "/v1/me" "" "$carol"
check "but the session ends at once: 401" test "$code" = 401
http POST /v1/login "$(login_body carol long-password-of-carol "$(oathtool --totp -b "$(field "$TMP/carol.json" totp_secret)" --now="$(date -u -d '+30 sec' '+%Y-%m-%d %H:%M:%S UTC')")")"
check "and log-in says the account is suspended: 423" test "$code" = 423
run cu alerts
contains "a critical canary alert" "$out" "critical canary"
contains "naming carol" "$out" "carol"
run cu staff list
contains "carol is suspended" "$(printf '%s\n' "$out" | grep carol)" "suspended"
run cu audit show --staff detector
contains "the suspension is audited as the detector" "$out" '"action": "staff_suspend"'
# so does opening a case on one: the case is opened (no tip-off), the
# account suspended
hal=$(staff_login hal agent SZ-014)
http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$canary_id\"}" "$hal"
check "a case on a canary is opened like any other: 201" test "$code" = 201
http GET "/v1/me" "" "$hal"
check "but the session ends at once: 401" test "$code" = 401
run cu alerts
contains "with a critical canary alert naming hal" "$out" "canary             hal"

# what security sees, and does
http GET /v1/staff/alice/activity "" "$sam"
check "security reads a staff member's activity: 200" test "$code" = 200
contains "with the reveals against the limit" "$out" '"reveals_last_hour":3'
contains "the limits" "$out" '"reveals_per_hour":3'
contains "and the recent audit entries" "$out" '"decision":"block"'
http GET /v1/staff/alice/activity "" "$alice"
check "a clerk may not: 403" test "$code" = 403
http POST /v1/staff/carol/resume "" "$sam"
check "security resumes the suspended account: 204" test "$code" = 204
run cu staff list
check "carol is active again" not grep -q "carol.*suspended" <<<"$out"
http GET /v1/me "" "$alice"
contains "/v1/me shows use against the limits" "$out" '"lookups_per_hour":8'
contains "and the statutory meter" "$out" '"statutory":{"meter":'

# counters survive a restart
kill -TERM $SERVER
wait $SERVER
serve_start
http POST /v1/login "$(login_body alice long-password-of-alice "$(oathtool --totp -b "$(field "$TMP/alice.json" totp_secret)" --now="$(date -u -d '+30 sec' '+%Y-%m-%d %H:%M:%S UTC')")")"
alice=$(jget token)
check "alice logs in again after the restart" test -n "$alice"
http POST "/v1/cases/$case1/reveal" '{"fields":["name"]}' "$alice"
check "after a restart the quota still blocks: 429" test "$code" = 429
http GET "/v1/devices/$imei" "" "$alice"
check "and the look-up quota too" test "$code" = 429
http POST /v1/login "$(login_body dave long-password-of-dave "$(oathtool --totp -b "$(field "$TMP/dave.json" totp_secret)" --now="$(date -u -d '+30 sec' '+%Y-%m-%d %H:%M:%S UTC')")")"
dave=$(jget token)
http GET "/v1/devices/$(luhn "35693803001206")" "" "$dave"
check "and the enumeration count: the next neighbour is still blocked" test "$code" = 429

http POST "/v1/alerts/$alert_id/ack" "" "$sam"
check "security acknowledges the alert: 204" test "$code" = 204
run cu alerts
lacks "it is no longer open" "$out" "#$alert_id "
run cu alerts list --all
contains "but listed with --all" "$out" "[acked]"
expect "the audit log verifies" 0 cu audit verify
done_testing
