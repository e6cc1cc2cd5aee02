#!/usr/bin/env bash
# Import and masked look-up through the CLI: every identifier finds the right
# customer and only that one; bad files import nothing and name line and
# field; --skip-invalid; re-import updates; a killed import completes.
. "$(dirname "$0")/lib.bash"

N=3000
"$CUSTODIAN" gen customers $N --seed 11 >"$TMP/c.csv"
"$CUSTODIAN" gen customers $N --seed 11 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null

expect "import of $N generated customers" 0 cu import "$TMP/c.csv"
contains "reports the count" "$out" "imported 3,000 customers"

count() { "$CUSTODIAN" --data "${1:-$DATA}" keys list --json | grep -o '"customers": [0-9]*' |
    awk '{ s += $2 } END { print s + 0 }'; }
check "the store holds $N customers" test "$(count)" -eq $N

for k in 1 2 777 2999 3000; do
    id=$(printf 'C%08d' "$k")
    imei=$(jfield "$TMP/c.jsonl" "$k" imei)
    serial=$(jfield "$TMP/c.jsonl" "$k" serial)
    email=$(jfield "$TMP/c.jsonl" "$k" email)
    account=$(jfield "$TMP/c.jsonl" "$k" account)
    phone=$(jphone "$TMP/c.jsonl" "$k")
    name=$(jfield "$TMP/c.jsonl" "$k" name)
    for pair in "imei $imei" "serial $serial" "phone $phone" "email $email" \
        "account $account" "customer-id $id"; do
        set -- $pair
        run cu lookup --"$1" "$2" --json
        hits=$(printf '%s' "$out" | grep -c '"customer_id"')
        if [ "$status" -eq 0 ] && [ "$hits" -ge 1 ] && printf '%s' "$out" | grep -q "\"$id\""; then
            # Shared values (an account that is also another's e-mail) may
            # match several; device identifiers and ids match one only.
            case $1 in
            imei | serial | customer-id)
                if [ "$hits" -eq 1 ]; then ok "lookup --$1 finds $id only"; else
                    not_ok "lookup --$1 finds $id only" "$hits customers"
                fi ;;
            *) ok "lookup --$1 finds $id" ;;
            esac
        else
            not_ok "lookup --$1 finds $id" "exit $status" "${err:0:200}"
        fi
        lacks "lookup --$1 for $id shows no full IMEI" "$out" "$imei"
        lacks "lookup --$1 for $id shows no full phone" "$out" "${phone:4}"
        lacks "lookup --$1 for $id shows no full name" "$out" "\"$name\""
    done
done

# A +86 number typed the way a clerk would.
phone=$(jphone "$TMP/c.jsonl" 1)
case $phone in
+86*)
    national="${phone:3:3} ${phone:6:4} ${phone:10:4}"
    run cu lookup --phone "$national"
    contains "a national-format phone finds the customer" "$out" "C00000001"
    ;;
*) ok "customer 1 is not +86 (skipped)" ;;
esac
run cu lookup --imei 490154203237518
contains "an unknown valid IMEI finds nobody" "$out" "no customer found"
expect "a wrong IMEI check digit is refused" 1 cu lookup --imei 490154203237519
contains "naming the field" "$err" "imei: check digit"
expect "a malformed phone is refused" 1 cu lookup --phone "12ab"
expect "a malformed e-mail is refused" 1 cu lookup --email "nobody"

# Masked view shape.
run cu lookup --customer-id C00000001
contains "text view shows the customer id in clear" "$out" "customer C00000001"
contains "text view marks devices" "$out" "IMEI ***********"

# Re-import: updates, no duplicates.
expect "re-import of the same file" 0 cu import "$TMP/c.csv"
contains "re-import updates every customer" "$out" "0 new, 3000 updated"
check "still $N customers" test "$(count)" -eq $N
sed -n 5p "$TMP/c.jsonl" | sed 's/"name":"[^"]*"/"name":"Zed Zulu"/' >"$TMP/one.jsonl"
expect "import of a changed record" 0 cu import "$TMP/one.jsonl"
run cu lookup --customer-id C00000005 --json
contains "the change shows (masked)" "$out" "Z** Z***"
check "still $N customers after update" test "$(count)" -eq $N

# JSON Lines import gives the same masked views as CSV.
"$CUSTODIAN" --data "$TMP/j" init >/dev/null
expect "JSON Lines import" 0 "$CUSTODIAN" --data "$TMP/j" import "$TMP/c.jsonl"
a=$(cu lookup --customer-id C00000777 --json)
b=$("$CUSTODIAN" --data "$TMP/j" lookup --customer-id C00000777 --json)
check "CSV and JSON Lines imports agree" test "$a" = "$b"

# A bad file imports nothing and names every bad row.
H="customer_id,account,name,phone,email,address,birth_date,imei,serial,model,purchase_date,store"
cat >"$TMP/bad.csv" <<CSV
$H
B1,b1@example.com,Alice Wong,+8613812345678,b1@example.com,"1 Main St, Springfield, USA",1990-01-01,490154203237518,F2LX00000001,iPhone 14,2023-01-01,SZ-001
B2,b2@example.com,Bob Li,+8613812345679,b2@example.com,,,490154203237519,F2LX00000002,iPhone 14,,SZ-001
B3,b3@example.com,Carol Ng,12345,b3@example.com,,,356938035643809,,,,
B4,b4@example.com,Dan Ho,+8613812345670,not-an-email,,,,,,,
B5,b5@example.com,Eve Ma,+8613812345671,b5@example.com,,,356938035643809,,,,
B5,b5@example.com,Eve Ma,+8613812345671,b5@example.com,,,35693803564380,,,,
B6,b6@example.com,Fay Wu,+8613812345672,b6@example.com,,2023-02-29,,,,,
CSV
"$CUSTODIAN" --data "$TMP/bad" init >/dev/null
expect "a file with bad rows is refused" 1 "$CUSTODIAN" --data "$TMP/bad" import "$TMP/bad.csv"
contains "bad IMEI check digit: line and field" "$err" "bad.csv:3: imei: check digit"
contains "malformed phone: line and field" "$err" "bad.csv:4: phone:"
contains "malformed e-mail: line and field" "$err" "bad.csv:5: email:"
contains "bad second device row: its own line" "$err" "bad.csv:7: imei:"
contains "impossible date: line and field" "$err" "bad.csv:8: birth_date:"
contains "says nothing was imported" "$err" "nothing was imported"
lacks "errors do not echo the bad value" "$err" "490154203237519"
check "nothing was imported" test "$(count "$TMP/bad")" -eq 0

expect "--skip-invalid imports the good ones" 0 "$CUSTODIAN" --data "$TMP/bad" import \
    "$TMP/bad.csv" --skip-invalid --rejects "$TMP/rejects.csv"
contains "and counts the rejected" "$out" "5 rejected"
check "one good customer stored" test "$(count "$TMP/bad")" -eq 1
run cat "$TMP/rejects.csv"
contains "rejects file has the header and an error column" "$out" "purchase_date,store,error"
contains "rejects file gives the reason" "$out" "imei: check digit does not match"
check "rejects file holds every bad row (6 + header)" test "$(wc -l <"$TMP/rejects.csv")" -eq 7
expect "a rejects file can be re-imported once fixed (here: it is still bad)" 1 \
    "$CUSTODIAN" --data "$TMP/bad" import "$TMP/rejects.csv"

expect "a missing file is a clear error" 1 cu import "$TMP/nope.csv"
contains "naming it" "$err" "nope.csv"
printf 'customer_id,name,frobs\n' >"$TMP/cols.csv"
expect "an unknown column is refused" 1 cu import "$TMP/cols.csv"
contains "naming the column" "$err" "unknown column 'frobs'"
printf '{"customer_id":"J1","name":"A B","phone":12}\nnot json\n' >"$TMP/bad.jsonl"
expect "bad JSON Lines are refused" 1 cu import "$TMP/bad.jsonl"
contains "phone of the wrong type named" "$err" "bad.jsonl:1: phone"
contains "a line that is not JSON named" "$err" "bad.jsonl:2:"

# Killed half-way, the store is consistent and a re-run completes it.
BIG=200000
"$CUSTODIAN" gen customers $BIG --seed 3 >"$TMP/big.csv"

# A bad row at the very end of a large file: validation runs beside the
# import, and the writer must commit nothing until it has finished.
cp "$TMP/big.csv" "$TMP/big-bad.csv"
printf 'Z9,z@example.com,Zed,+8613812345678,z@example.com,,,490154203237519,,,,\n' \
    >>"$TMP/big-bad.csv"
"$CUSTODIAN" --data "$TMP/bb" init >/dev/null
expect "a large file with one bad row at the end is refused" 1 \
    "$CUSTODIAN" --data "$TMP/bb" import "$TMP/big-bad.csv"
check "the bad row is reported once" test "$(printf '%s\n' "$err" | grep -c 'imei: check digit')" -eq 1
check "and none of the $BIG good customers was committed" test "$(count "$TMP/bb")" -eq 0
"$CUSTODIAN" gen customers $BIG --seed 3 --start $BIG >"$TMP/big2.csv"
tail -n +2 "$TMP/big2.csv" >>"$TMP/big.csv" # 400,000 customers: more than one commit
BIG=$((2 * BIG))
"$CUSTODIAN" --data "$TMP/k" init >/dev/null
"$CUSTODIAN" --data "$TMP/k" import "$TMP/big.csv" >/dev/null 2>&1 &
pid=$!
# kill it once the first transaction is committed, mid-way through the file
# (PostgreSQL imports round trip by round trip: give it 4 times longer)
for _ in $(seq 1 $([ -n "$PG" ] && echo 480 || echo 120)); do
    [ "$(count "$TMP/k")" -gt 0 ] && break
    sleep 0.25
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
partial=$(count "$TMP/k")
echo "# killed with $partial of $BIG customers committed"
check "the kill came mid-way (some, not all, committed)" test "$partial" -gt 0 -a "$partial" -lt $BIG
expect "after kill -9 the store opens and re-import succeeds" 0 \
    "$CUSTODIAN" --data "$TMP/k" import "$TMP/big.csv"
check "and holds every customer once" test "$(count "$TMP/k")" -eq $BIG
run "$CUSTODIAN" --data "$TMP/k" lookup --customer-id C00400000
contains "the last customer is there" "$out" "customer C00400000"

done_testing
