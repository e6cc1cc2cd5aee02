#!/usr/bin/env bash
# Key rotation: every customer opens after it, the old version can be
# retired, and a killed rotation resumes.
. "$(dirname "$0")/lib.bash"

N=3000
"$CUSTODIAN" gen customers $N --seed 21 >"$TMP/c.csv"
cu init >/dev/null
cu import "$TMP/c.csv" >/dev/null

snapshot() { for k in 1 500 1500 3000; do cu lookup --customer-id "$(printf 'C%08d' $k)" --json; done; }
before=$(snapshot)

expect "keys rotate" 0 cu keys rotate
contains "re-wraps every customer key" "$out" "re-wrapped 3,000 customer keys"
run cu keys list --json
contains "version 2 is active" "$out" '"state": "active"'
after=$(snapshot)
check "every customer opens the same after rotation" test "$before" = "$after"

expect "the active version cannot be retired" 1 cu keys retire 2
expect "version 1 (unused now) can be retired" 0 cu keys retire 1
run cu keys list
contains "version 1 shows retired" "$out" "retired"
check "customers still open after retirement" test "$before" = "$(snapshot)"
check "the retired key is deleted from the store" test \
    "$(store_sql "SELECT length(wrapped) FROM keks WHERE version = 1")" = ""

# The key-encryption keys live in keys/keyring, never in the store.
check "the keyring is private" test "$(stat -c %a "$DATA/keys/keyring")" = 600
check "the keyring holds the active version 2" grep -q '^2 ' "$DATA/keys/keyring"
check "... and no longer the retired version 1" not grep -q '^1 ' "$DATA/keys/keyring"
check "the store holds no wrapped key-encryption key" \
    test "$(store_sql "SELECT count(*) FROM keks WHERE wrapped IS NOT NULL")" = 0
keyring=$(cat "$DATA/keys/keyring")
expect "without its keyring the folder does not open" 1 \
    sh -c "mv '$DATA/keys/keyring' '$TMP/ring' && '$CUSTODIAN' --data '$DATA' keys list"
contains "and says which version is missing where" "$err" "version 2 is not in the keyring"
mv "$TMP/ring" "$DATA/keys/keyring"

# A data folder from before the keyring (its wrapped keys in the store):
# the first open moves them to keys/keyring and wipes them from the store.
wrapped=$(sed -n 's/^2 //p' "$DATA/keys/keyring" | base64 -d | od -An -v -tx1 | tr -d ' \n')
if [ -n "$PG" ]; then
    store_sql "UPDATE keks SET wrapped = decode('$wrapped', 'hex') WHERE version = 2"
else
    sqlite3 "$DATA/custodian.db" "UPDATE keks SET wrapped = x'$wrapped' WHERE version = 2"
fi
rm "$DATA/keys/keyring"
expect "an old data folder opens" 0 cu keys list
contains "and says it moved the key" "$err" "moved 1 key-encryption keys from the store to the keyring"
check "the keyring is back, the same" test "$(cat "$DATA/keys/keyring")" = "$keyring"
check "the store's copy is wiped" \
    test "$(store_sql "SELECT count(*) FROM keks WHERE wrapped IS NOT NULL")" = 0
if [ -z "$PG" ]; then
    check "and not left in the store's files" \
        not grep -q "$wrapped" <(od -An -v -tx1 "$DATA/custodian.db" | tr -d ' \n')
else
    pg_skipped "the wiped key is not in the store's files (PostgreSQL's WAL keeps it:" \
        "docs/postgres.md)"
fi
check "customers open the same after the move" test "$before" = "$(snapshot)"

# Data imported after rotation uses the new version.
"$CUSTODIAN" gen customers 10 --seed 22 --start 5000 >"$TMP/more.csv"
cu import "$TMP/more.csv" >/dev/null
run cu keys list --json
contains "new customers are wrapped by version 2" "$out" '"customers": 3010'

# A draining version is refused retirement while in use.
BIG=150000
"$CUSTODIAN" gen customers $BIG --seed 23 >"$TMP/big.csv"
"$CUSTODIAN" --data "$TMP/k" init >/dev/null
"$CUSTODIAN" --data "$TMP/k" import "$TMP/big.csv" >/dev/null
resumed=0
for delay in 0.3 0.15 0.6; do
    "$CUSTODIAN" --data "$TMP/k" keys rotate >/dev/null 2>&1 &
    pid=$!
    sleep $delay
    kill -9 $pid 2>/dev/null && resumed=1
    wait $pid 2>/dev/null
    [ $resumed -eq 1 ] && break
done
list=$("$CUSTODIAN" --data "$TMP/k" keys list)
echo "# after kill: $(echo $list)"
if [ $resumed -eq 1 ]; then
    run "$CUSTODIAN" --data "$TMP/k" keys retire 1
    if printf '%s' "$list" | grep -q 'draining'; then
        check "a draining version in use cannot be retired" test "$status" -eq 1
    else
        ok "rotation had finished before the kill (nothing to refuse)"
    fi
    run "$CUSTODIAN" --data "$TMP/k" lookup --customer-id C00000001
    contains "customers open mid-rotation" "$out" "customer C00000001"
fi
expect "rotate again resumes and finishes" 0 "$CUSTODIAN" --data "$TMP/k" keys rotate
run "$CUSTODIAN" --data "$TMP/k" keys list --json
total=$(printf '%s' "$out" | grep -o '"customers": [0-9]*' | awk '{ s += $2 } END { print s }')
check "all $BIG customers accounted for" test "$total" -eq $BIG
active=$(printf '%s' "$out" | tr -d ' \n' | grep -o '"version":[0-9]*,"state":"active","customers":[0-9]*')
contains "every customer key is on the active version" "$active" "\"customers\":$BIG"
run "$CUSTODIAN" --data "$TMP/k" lookup --customer-id C00150000
contains "the last customer opens" "$out" "customer C00150000"

done_testing
