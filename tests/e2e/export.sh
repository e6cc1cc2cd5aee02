#!/usr/bin/env bash
# A customer's export: their data in full and their access log, exactly the
# accesses made to their record (and none of another customer's), every
# inclusion proof and the checkpoint's signature verified by an independent
# verifier (tests/tools/verify_proofs.py), tampering caught, the export
# itself audited, and nothing exported when the audit log cannot be written.
. "$(dirname "$0")/lib.bash"

VERIFY="$(cd "$(dirname "$0")/../tools" && pwd)/verify_proofs.py"
# py FILE EXPR: prints a Python expression over the JSON document `d` of FILE.
py() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

"$CUSTODIAN" gen customers 20 --seed 61 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null
always_open
cu import "$TMP/c.jsonl" >/dev/null
serve_start

alice=$(staff_login alice clerk SZ-014)
bob=$(staff_login bob clerk SZ-020)
code_of() { cu outbox | grep -A1 "case $1\$" | tail -1 | grep -o '[0-9]\{6\}' | head -1; }

imei_a=$(jfield "$TMP/c.jsonl" 3 imei)
imei_b=$(jfield "$TMP/c.jsonl" 5 imei)
name_a=$(jfield "$TMP/c.jsonl" 3 name)
name_b=$(jfield "$TMP/c.jsonl" 5 name)
phone_b=$(jphone "$TMP/c.jsonl" 5)

# --- alice serves customer A: look-up, case, code, verify, reveal ----------------
http GET "/v1/devices/$imei_a" "" "$alice"
check "alice looks A up by device: 200" test "$code" = 200
A=$(jget customer_id)
http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$A\"}" "$alice"
check "alice opens a support case: 201" test "$code" = 201
case_a=$(jget case_id)
http POST "/v1/cases/$case_a/verify" "{\"code\":\"$(code_of "$case_a")\"}" "$alice"
check "the customer's code verifies it: 200" test "$code" = 200
http POST "/v1/cases/$case_a/reveal" '{"fields":["name","phone"]}' "$alice"
check "alice reveals A's name and phone: 200" test "$code" = 200
reveal_leaf=$(printf '%s' "$out" | grep -o '"leaf_index":[0-9]*' | cut -d: -f2)

# --- bob looks customer B up ------------------------------------------------------------
http GET "/v1/devices/$imei_b" "" "$bob"
check "bob looks B up by device: 200" test "$code" = 200
B=$(jget customer_id)
check "A and B are two customers" test -n "$A" -a -n "$B" -a "$A" != "$B"

# --- the export ---------------------------------------------------------------------------
expect "export --help" 0 cu export --help
contains "says what it does" "$out" "--customer-id ID"
expect "export without a customer: usage" 2 cu export
expect "export of an unknown customer fails" 1 cu export --customer-id C09999999
contains "naming it" "$err" "no customer 'C09999999'"
expect "export of a malformed id fails" 1 cu export --customer-id 'C1;drop'
contains "saying so" "$err" "not a customer id"

expect "export A to stdout" 0 cu export --customer-id "$A"
printf '%s\n' "$out" >"$TMP/a-stdout.json"
check "prints JSON" test "$(py "$TMP/a-stdout.json" "d['customer_id']")" = "$A"
expect "export A to a file" 0 cu export --customer-id "$A" --output "$TMP/a.json"
contains "says where it went" "$out" "$TMP/a.json"
check "the file has mode 0600" test "$(stat -c %a "$TMP/a.json")" = 600
F="$TMP/a.json"

# The customer's fields equal the imported values.
for key in name account email address birth_date; do
    want=$(jfield "$TMP/c.jsonl" 3 "$key")
    got=$(py "$F" "d['customer'][\"$key\"]")
    check "the export's $key is the imported one" test "$got" = "$want"
done
check "the export's phone is the imported one" \
    test "$(py "$F" "d['customer']['phone'][0]")" = "$(jphone "$TMP/c.jsonl" 3)"
check "the export's device IMEI is the imported one" \
    test "$(py "$F" "[x['imei'] for x in d['customer']['devices']].count('$imei_a')")" = 1

# Exactly A's accesses: alice's look-up, case, verify, reveal, then the two exports.
acts=$(py "$F" "','.join(e['action'] for e in d['access_log']['entries'])")
check "the access log is exactly A's accesses in order ($acts)" \
    test "$acts" = "lookup,case_open,case_verify,reveal,export,export"
check "all allowed" test "$(py "$F" "sorted(set(e['decision'] for e in d['access_log']['entries']))")" = "['allow']"
rev="[e for e in d['access_log']['entries'] if e['action'] == 'reveal'][0]"
check "the reveal's fields are name and phone" test "$(py "$F" "$rev['fields']")" = "['name', 'phone']"
check "the reveal is the leaf the API reported" test "$(py "$F" "$rev['leaf_index']")" = "$reveal_leaf"
check "the reveal's purpose is customer_support" test "$(py "$F" "$rev['purpose']")" = customer_support
check "the reveal names the case" test "$(py "$F" "$rev['case_id']")" = "$case_a"
check "the reveal names alice's store" test "$(py "$F" "$rev['store']")" = SZ-014
check "the case entries all carry its purpose" test "$(py "$F" \
    "sorted(set(e['purpose'] for e in d['access_log']['entries'] if e['case_id']))")" = "['customer_support']"
ref=$(py "$F" "$rev['staff_ref']")
check "alice appears as a staff reference ($ref)" test "${ref:0:2}" = S- -a "${#ref}" = 10
check "one reference for all of alice's entries" test "$(py "$F" \
    "len(set(e['staff_ref'] for e in d['access_log']['entries'][:4]))")" = 1
check "the operator's export has another reference" test "$(py "$F" \
    "d['access_log']['entries'][4]['staff_ref'] != '$ref'")" = True
lacks "no staff name outside the leaf_input" "$(py "$F" \
    "json.dumps([{k: v for k, v in e.items() if k != 'leaf_input'} for e in d['access_log']['entries']])")" alice
lacks "no personal value in the access log" "$(py "$F" "json.dumps(d['access_log'], ensure_ascii=False)")" "$name_a"
lacks "nothing of B: not B's id" "$(cat "$F")" "$B"
lacks "not B's name" "$(cat "$F")" "$name_b"
lacks "not B's phone" "$(cat "$F")" "$phone_b"
check "no entry of bob's (leaves decoded)" test "$(py "$F" \
    "sum(b'bob' in __import__('base64').b64decode(e['leaf_input']) for e in d['access_log']['entries'])")" = 0

# B's own export has bob's look-up only (plus its own export).
cu export --customer-id "$B" --output "$TMP/b.json" >/dev/null
check "B's access log is bob's look-up and the export" \
    test "$(py "$TMP/b.json" "','.join(e['action'] for e in d['access_log']['entries'])")" = lookup,export
check "with another staff reference than alice's" \
    test "$(py "$TMP/b.json" "d['access_log']['entries'][0]['staff_ref'] != '$ref'")" = True
check "the staff reference is stable across processes" test "$(py "$TMP/a-stdout.json" \
    "d['access_log']['entries'][0]['staff_ref']")" = "$ref"

# --- independent verification -----------------------------------------------------------
vkey=$(cu audit key)
expect "every inclusion proof and the checkpoint's signature verify independently" 0 \
    python3 "$VERIFY" "$F" "$vkey"
contains "all six entries" "$out" "ok: 6 entries"
expect "B's export verifies too" 0 python3 "$VERIFY" "$TMP/b.json" "$vkey"
check "the checkpoint covers the export itself" test "$(py "$F" \
    "d['access_log']['tree_size'] > d['audit']['leaf_index']")" = True

# tamper NAME WHY PYTHON-STATEMENT: a copy of the export with one change
# must fail verification, for the reason WHY.
tamper() {
    python3 -c 'import json, sys, base64
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(d, open(sys.argv[3], "w"))' "$F" "$3" "$TMP/t.json"
    expect "$1: the verifier fails" 1 python3 "$VERIFY" "$TMP/t.json" "$vkey"
    contains "$1: because $2" "$err" "$2"
}
flip='def flip(s, i):
    b = bytearray(base64.b64decode(s)); b[i] ^= 1; return base64.b64encode(bytes(b)).decode()
'
e="d['access_log']['entries']"
cp="d['access_log']['checkpoint']"
leaf() { py "$F" "$e[$1]['leaf_index']"; }
tamper "one leaf_input byte changed" "entry 3 (leaf $(leaf 3)): the inclusion proof does not verify" \
    "${flip}$e[3]['leaf_input'] = flip($e[3]['leaf_input'], 20)"
tamper "one audit_path byte changed" "entry 1 (leaf $(leaf 1)): the inclusion proof" \
    "${flip}$e[1]['audit_path'][0] = flip($e[1]['audit_path'][0], 5)"
tamper "a hash dropped from a path" "entry 0 (leaf $(leaf 0)): the inclusion proof" \
    "$e[0]['audit_path'].pop()"
tamper "another leaf index" "entry 2 (leaf $(($(leaf 2) + 1))): the inclusion proof" \
    "$e[2]['leaf_index'] += 1"
tamper "an entry's leaf swapped for another's" "entry 0 (leaf $(leaf 0)): the inclusion proof" "$e[0]['leaf_input'] = $e[1]['leaf_input']"
tamper "an entry's shown fields differ from its leaf" "entry 3: its fields is not" \
    "$e[3]['fields'] = ['name']"
tamper "the checkpoint's root changed" "signature does not verify" \
    "${flip}l = $cp.split(chr(10)); l[2] = flip(l[2], 0); $cp = chr(10).join(l)"
tamper "the checkpoint's signature changed" "signature does not verify" \
    "${flip}l = $cp.split(chr(10)); s = l[-2].split(' '); s[-1] = flip(s[-1], 10); l[-2] = ' '.join(s); $cp = chr(10).join(l)"
tamper "another tree_size" "tree_size is not the checkpoint's size" \
    "d['access_log']['tree_size'] += 1"
# A well-formed verifier key of another Ed25519 key under the same name.
other=$(python3 -c 'import base64, hashlib, os, sys
name = sys.argv[1].split("+")[0]; raw = b"\x01" + os.urandom(32)
print(name + "+" + hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() + "+" + base64.b64encode(raw).decode())' "$vkey")
expect "the checkpoint against another key fails" 1 python3 "$VERIFY" "$F" "$other"
contains "for want of its signature" "$err" "no signature by the verifier key"

# --- the export is audited ------------------------------------------------------------------
run cu audit show --customer-id "$A"
contains "the audit log shows the export" "$out" '"action": "export"'
run cu audit export
lacks "the audit log holds no name" "$out" "$name_a"

# --- fail closed: no durable audit entry, no export ----------------------------------------
store_fail_audit on
expect "an export whose audit entry cannot be written exits 1" 1 cu export --customer-id "$A"
check "and prints nothing on stdout" test -z "$out"
lacks "nor the name on stderr" "$err" "$name_a"
expect "to a file: exits 1" 1 cu export --customer-id "$A" --output "$TMP/failed.json"
check "and writes no file" test ! -e "$TMP/failed.json"
store_fail_audit off
expect "once the log can be written again, the export works" 0 cu export --customer-id "$A"
expect "and the audit log verifies" 0 cu audit verify

# Not a regular file (a pipe, a device): written to, never chmod'ed or
# removed (an export to /dev/null once deleted the machine's /dev/null)
mkfifo -m 644 "$TMP/pipe"
cat "$TMP/pipe" >"$TMP/from-pipe" &
reader=$!
expect "an export into a pipe: exit 0" 0 cu export --customer-id "$A" --output "$TMP/pipe"
wait $reader
contains "the reader gets the customer" "$(cat "$TMP/from-pipe")" "\"customer_id\": \"$A\""
check "the pipe is still there, its mode kept" test "$(stat -c %a "$TMP/pipe")" = 644

kill -TERM $SERVER
done_testing
