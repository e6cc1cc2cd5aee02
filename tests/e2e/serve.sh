#!/usr/bin/env bash
# custodian serve: staff log-in with password and TOTP, sessions, masked
# device look-up over HTTP, problem+json errors, suspension, lock-out,
# graceful stop.
. "$(dirname "$0")/lib.bash"

"$CUSTODIAN" gen customers 50 --seed 41 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null
cu import "$TMP/c.jsonl" >/dev/null
cu staff add alice --role clerk --store SZ-014 --json >"$TMP/alice.json"
cu staff add sam --role security --store HQ --json >"$TMP/sam.json"
serve_start
run curl -s "$URL/healthz"
contains "serve answers /healthz" "$out" '"status":"ok"'

pw=$(field "$TMP/alice.json" password)
secret=$(field "$TMP/alice.json" totp_secret)
code_now=$(oathtool --totp -b "$secret")

if [ "$code_now" = 000000 ]; then code_bad=111111; else code_bad=000000; fi
http POST /v1/login "$(login_body alice "$pw" "$code_bad")"
check "a wrong TOTP code: 401" test "$code" = 401
contains "as problem+json with the stable type" "$out" '"type":"https://custodian.invalid/problems/unauthorized"'
lacks "without echoing the password" "$out" "$pw"

http POST /v1/login "$(login_body alice "$pw" "$code_now")"
check "password and TOTP: 200" test "$code" = 200
token=$(printf '%s' "$out" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
contains "the first log-in must change the password" "$out" '"must_change_password":true'
http POST /v1/login "$(login_body alice "$pw" "$code_now")"
check "the same TOTP code a second time: 401" test "$code" = 401

http GET /v1/me "" "$token"
check "GET /v1/me with the token: 200" test "$code" = 200
contains "says who I am" "$out" '"username":"alice","role":"clerk","store":"SZ-014"'
contains "and my usage" "$out" '"lookups_today":0'
http GET /v1/me
check "without a token: 401" test "$code" = 401

imei=$(jfield "$TMP/c.jsonl" 3 imei)
http GET "/v1/devices/$imei" "" "$token"
check "before the password change, look-ups are refused (403)" test "$code" = 403
http POST /v1/password '{"old":"nope","new":"a-long-new-password"}' "$token"
check "a wrong old password: 401" test "$code" = 401
http POST /v1/password "{\"old\":\"$pw\",\"new\":\"short\"}" "$token"
check "a short new password: 400" test "$code" = 400
http POST /v1/password "{\"old\":\"$pw\",\"new\":\"a-long-new-password\"}" "$token"
check "the password change: 204" test "$code" = 204

http GET "/v1/devices/$imei" "" "$token"
check "device look-up: 200" test "$code" = 200
contains "finds the owner" "$out" '"customer_id":"C00000003"'
contains "with the IMEI masked" "$out" "\"imei\":\"***********${imei:11}\""
lacks "never the full IMEI" "$out" "$imei"
lacks "never the full name" "$out" "$(jfield "$TMP/c.jsonl" 3 name)"
http GET "/v1/devices/490154203237518" "" "$token"
check "an unknown device: 404" test "$code" = 404
http GET /v1/me "" "$token"
contains "usage counts the look-ups" "$out" '"lookups_today":2'
run cu audit show --staff alice
contains "each look-up is in the audit log as alice" "$out" '"action": "lookup"'

# security staff never look customers up
spw=$(field "$TMP/sam.json" password)
http POST /v1/login "$(login_body sam "$spw" "$(oathtool --totp -b "$(field "$TMP/sam.json" totp_secret)")")"
stoken=$(printf '%s' "$out" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
http POST /v1/password "{\"old\":\"$spw\",\"new\":\"another-long-password\"}" "$stoken"
http GET "/v1/devices/$imei" "" "$stoken"
check "security may not look customers up: 403" test "$code" = 403

# a suspended account's live session stops working at once
cu staff suspend alice >/dev/null
http GET /v1/me "" "$token"
check "after suspension the live session gets 401" test "$code" = 401
cu staff resume alice >/dev/null

# lock-out after repeated failures
for i in 1 2 3 4 5; do http POST /v1/login "$(login_body alice wrong-password 123456)"; done
http POST /v1/login "$(login_body alice a-long-new-password "$(oathtool --totp -b "$secret")")"
check "after 5 failures the account is locked (429)" test "$code" = 429
contains "with the limit-reached type" "$out" "limit-reached"

http DELETE /v1/me "" "$token"
check "a wrong method: 405" test "$code" = 405
http GET /v1/nothing
check "an unknown path: 404 problem" test "$code" = 404

run curl -s "$URL/metrics"
contains "metrics count requests by route and status" "$out" 'route="/v1/devices/{id}",status="200"'

kill -TERM $SERVER
wait $SERVER
check "SIGTERM stops the server cleanly" test $? -eq 0
expect "the audit log verifies after the stop" 0 cu audit verify

done_testing
