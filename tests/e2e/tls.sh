#!/usr/bin/env bash
# TLS: `custodian serve --tls-cert --tls-key` serves HTTPS with HSTS and
# nothing in clear; plain HTTP on a non-loopback address is refused unless
# --insecure-http; `custodian demo --tls` makes a self-signed certificate.
. "$(dirname "$0")/lib.bash"

# tls_start ARGS...: starts serve with ARGS; sets $URL (https) and $SERVER.
tls_start() {
    : >"$TMP/tls.log"
    "$@" >"$TMP/tls.log" 2>&1 &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
    URL=""
    for _ in $(seq 1 200); do
        URL=$(sed -n 's/^custodian: serving on \(https:[^ ]*\).*/\1/p' "$TMP/tls.log")
        [ -n "$URL" ] && break
        sleep 0.05
    done
    PORT=${URL##*:}
}

"$CUSTODIAN" gen customers 30 --seed 5 >"$TMP/c.csv"
cu init >/dev/null
cu import "$TMP/c.csv" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
    -keyout "$TMP/other-key.pem" -out "$TMP/other.pem" 2>/dev/null
check "test certificates made" test -s "$TMP/cert.pem" -a -s "$TMP/other-key.pem"

# --- HTTPS ----------------------------------------------------------------------------
tls_start "$CUSTODIAN" --data "$DATA" serve --listen 127.0.0.1:0 --tls-cert "$TMP/cert.pem" \
    --tls-key "$TMP/key.pem"
check "serve says https" test -n "$URL"
check "the server cannot dump core" grep -Eq '^Max core file size +0 +0' "/proc/$SERVER/limits"
run curl -sS -i --cacert "$TMP/cert.pem" "https://localhost:$PORT/healthz"
contains "HTTPS answers" "$out" "HTTP/1.1 200"
contains "with Strict-Transport-Security" "$out" "Strict-Transport-Security: max-age=31536000"
run curl -sS "http://127.0.0.1:$PORT/healthz"
check "plain HTTP gets nothing" test "$status" -ne 0
run curl -sS "https://localhost:$PORT/healthz"
check "an unknown certificate is not trusted by default" test "$status" -ne 0
export CURL_CA_BUNDLE="$TMP/cert.pem"
URL="https://localhost:$PORT"
tok=$(staff_login alice clerk SZ-014)
check "a staff member logs in over HTTPS" test -n "$tok"
http GET /v1/me "" "$tok"
check "and uses the API: 200" test "$code" = 200
unset CURL_CA_BUNDLE
kill "$SERVER" && wait "$SERVER"
check "and stops cleanly" test $? = 0

# --- refusals ------------------------------------------------------------------------------
expect "plain HTTP on all interfaces is refused" 1 cu serve --listen 0.0.0.0:0
contains "saying why" "$err" "not a loopback address"
expect "--tls-cert alone is a usage error" 2 cu serve --tls-cert "$TMP/cert.pem"
expect "a certificate that is not PEM" 1 cu serve --tls-cert "$TMP/c.csv" --tls-key "$TMP/key.pem"
contains "is named" "$err" "is not PEM"
expect "a missing key file" 1 cu serve --tls-cert "$TMP/cert.pem" --tls-key "$TMP/nope.pem"
contains "is named" "$err" "nope.pem"
expect "a key that is not the certificate's" 1 cu serve --listen 127.0.0.1:0 \
    --tls-cert "$TMP/cert.pem" --tls-key "$TMP/other-key.pem"
contains "fails to start, saying so" "$err" "with TLS"
lacks "without printing the key" "$err$out" "PRIVATE KEY"

"$CUSTODIAN" --data "$DATA" serve --listen 0.0.0.0:0 --insecure-http >"$TMP/insecure.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q 'serving on' "$TMP/insecure.log" && break; sleep 0.05; done
contains "--insecure-http allows it" "$(cat "$TMP/insecure.log")" "serving on http://0.0.0.0:"
kill "$pid" && wait "$pid"

# --- demo --tls -----------------------------------------------------------------------------
tls_start "$CUSTODIAN" --data "$TMP/demo" demo --customers 50 --tls --listen 127.0.0.1:0
check "demo --tls serves https" test -n "$URL"
check "and writes its certificate" test -s "$TMP/demo/demo-tls.crt"
run curl -sS --cacert "$TMP/demo/demo-tls.crt" "https://localhost:$PORT/healthz"
check "which curl trusts for localhost" test "$status" = 0
run openssl x509 -in "$TMP/demo/demo-tls.crt" -noout -ext subjectAltName
contains "for 127.0.0.1 too" "$out" "127.0.0.1"
check "the key is not written to disk" not grep -rlq 'PRIVATE KEY' "$TMP/demo"
kill "$SERVER" && wait "$SERVER"

done_testing
