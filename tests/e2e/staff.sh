#!/usr/bin/env bash
# Staff accounts through the CLI: credentials shown once and never stored
# in clear, duplicates and bad roles refused, suspension, reset, and every
# change in the audit log.
. "$(dirname "$0")/lib.bash"
SCAN="$BUILD/tests/tools/scan-plaintext"
cu init >/dev/null

expect "staff add --json" 0 cu staff add alice --role clerk --store SZ-014 --json
json=$out
pw=$(printf '%s' "$json" | sed -n 's/.*"password": "\([^"]*\)".*/\1/p')
secret=$(printf '%s' "$json" | sed -n 's/.*"totp_secret": "\([^"]*\)".*/\1/p')
check "a 16-character one-time password" test "${#pw}" -eq 16
check "a base32 TOTP secret of 160 bits" bash -c "[[ '$secret' =~ ^[A-Z2-7]{32}$ ]]"
contains "an otpauth URI with the secret" "$json" "otpauth://totp/Custodian:alice?secret=$secret"
contains "and the username" "$json" '"username": "alice"'

printf '%s\n%s\n' "$pw" "$secret" >"$TMP/secrets"
expect "neither the password nor the TOTP secret is stored in clear" 0 \
    "$SCAN" --min 6 "$TMP/secrets" "$DATA"

expect "a second account with the same name is refused" 1 \
    cu staff add alice --role agent --store SZ-001
contains "saying it exists" "$err" "exists already"
expect "an unknown role is refused" 1 cu staff add bob --role boss --store SZ-001
contains "naming the roles" "$err" "clerk, agent, supervisor, security or admin"
expect "operator is not a staff role" 1 cu staff add bob --role operator --store SZ-001
expect "a bad username is refused" 1 cu staff add "Bob Smith" --role clerk --store SZ-001
expect "add without --role is a usage error" 2 cu staff add bob --store SZ-001

expect "a second account" 0 cu staff add bob --role supervisor --store BJ-003
run cu staff list --json
contains "list shows alice" "$out" '"username": "alice"'
contains "with role and store" "$out" '"role": "supervisor"'
contains "first log-in pending" "$out" '"must_change_password": true'

expect "suspend" 0 cu staff suspend alice
run cu staff list
contains "alice shows suspended" "$out" "suspended"
expect "resume" 0 cu staff resume alice
expect "suspending nobody is refused" 1 cu staff suspend nobody

expect "reset" 0 cu staff reset alice --json
pw2=$(printf '%s' "$out" | sed -n 's/.*"password": "\([^"]*\)".*/\1/p')
secret2=$(printf '%s' "$out" | sed -n 's/.*"totp_secret": "\([^"]*\)".*/\1/p')
check "reset gives a new password" test -n "$pw2" -a "$pw2" != "$pw"
check "and a new TOTP secret" test -n "$secret2" -a "$secret2" != "$secret"

run cu audit export
for a in staff_add staff_suspend staff_resume staff_reset; do
    contains "audited: $a" "$out" "\"action\":\"$a\""
done
contains "the refused duplicate is audited as denied" "$out" '"decision":"deny"'
lacks "no password in the audit log" "$out" "$pw"
lacks "no TOTP secret in the audit log" "$out" "$secret"

# --- re-enrolling the authenticator: a secret only the staff member sees -----------
serve_start
tok=$(staff_login erin agent SZ-014)
old=$(field "$TMP/erin.json" totp_secret)
http POST /v1/totp/enrol "" "$tok"
check "erin starts a re-enrolment: 200" test "$code" = 200
new=$(jget totp_secret)
enrol=$(jget enrolment)
check "with a new secret" test -n "$new" -a "$new" != "$old"
contains "and its QR code as SVG" "$out" '<svg'
contains "and otpauth URI" "$out" 'otpauth://totp/Custodian:erin'
http POST /v1/totp/confirm "{\"enrolment\":\"$enrol\",\"code\":\"$(oathtool --totp -b "$old")\"}" "$tok"
check "a code from the old secret does not confirm it: 401" test "$code" = 401
tampered="${enrol%?}A"
[ "$tampered" = "$enrol" ] && tampered="${enrol%?}B"
http POST /v1/totp/confirm "{\"enrolment\":\"$tampered\",\"code\":\"$(oathtool --totp -b "$new")\"}" "$tok"
check "a tampered enrolment is refused: 400" test "$code" = 400
other=$(staff_login fred agent SZ-014)
http POST /v1/totp/confirm "{\"enrolment\":\"$enrol\",\"code\":\"$(oathtool --totp -b "$new")\"}" "$other"
check "another account cannot use erin's enrolment: 400" test "$code" = 400
http POST /v1/totp/confirm "{\"enrolment\":\"$enrol\",\"code\":\"$(oathtool --totp -b "$new")\"}" "$tok"
check "a code from the new secret confirms it" test "$code" = 204
sleep 31
http POST /v1/login "$(login_body erin long-password-of-erin "$(oathtool --totp -b "$old")")"
check "the old secret no longer logs in: 401" test "$code" = 401
http POST /v1/login "$(login_body erin long-password-of-erin "$(oathtool --totp -b "$new")")"
check "the new one does: 200" test "$code" = 200
run cu audit export
contains "the re-enrolment is audited" "$out" "authenticator re-enrolled"
lacks "without the secret" "$out" "$new"

done_testing
