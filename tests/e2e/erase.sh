#!/usr/bin/env bash
# Erasure (DESIGN.md invariant 8): `custodian erase` crypto-shreds a
# customer.  Afterwards no look-up by any identifier finds them, nothing
# opens, the audit log still verifies and records the erase, and a copy of
# the data folder holds no byte of their wrapped data key or ciphertexts.
# An older copy of the store stays readable only while the keyring still
# holds the key version it needs: once `keys rotate` + `keys retire OLD`,
# the same old store next to the current keys/ folder opens nothing.
. "$(dirname "$0")/lib.bash"

N=300
ID=C00000042
"$CUSTODIAN" gen customers $N --seed 31 >"$TMP/c.csv"
cu init >/dev/null
cu import "$TMP/c.csv" >/dev/null
always_open

email=$(csv_field "$TMP/c.csv" $ID email)
account=$(csv_field "$TMP/c.csv" $ID account)
phone=$(csv_field "$TMP/c.csv" $ID phone)
phone=${phone%%;*}
imei=$(csv_field "$TMP/c.csv" $ID imei)
serial=$(csv_field "$TMP/c.csv" $ID serial)
check "the test customer has every identifier" test -n "$email" -a -n "$account" -a -n "$phone" \
    -a -n "$imei" -a -n "$serial"

# hex DIR: every file of DIR as one lower-case hex string per file.
hex_of_files() { find "$1" -type f -exec sh -c 'od -An -v -tx1 "$1" | tr -d " \n"; echo' _ {} \;; }
# What must vanish: the wrapped data key and two ciphertexts, as hex.
sql() { store_sql "$1" | tr 'A-F' 'a-f'; }
hex() { if [ -n "$PG" ]; then echo "encode($1, 'hex')"; else echo "hex($1)"; fi; }
dek=$(sql "SELECT $(hex dek) FROM customers WHERE customer_id = '$ID'")
sealed_name=$(sql "SELECT $(hex name) FROM customers WHERE customer_id = '$ID'")
sealed_devices=$(sql "SELECT $(hex devices) FROM customers WHERE customer_id = '$ID'")
check "the wrapped data key is 72 bytes" test ${#dek} -eq 144
kek=$(sql "SELECT kek_version FROM customers WHERE customer_id = '$ID'")

for kind in email account phone imei serial; do
    run cu lookup --$kind "${!kind}"
    contains "before: found by $kind" "$out" "customer $ID"
done
expect "before: a reveal by id works" 0 cu lookup --customer-id $ID --reveal name --reason "support"

# A backup of the store (database and WAL, as a file-level backup copies
# them), taken before the erase.
# (SQLite's files; on PostgreSQL, backups are the database's: see
# docs/postgres.md)
if [ -z "$PG" ]; then
    mkdir -p "$TMP/old-store"
    cp "$DATA"/custodian.db* "$TMP/old-store/"
    rm -f "$TMP/old-store/custodian.db-shm"
    hex_of_files "$TMP/old-store" >"$TMP/old.hex"
    check "the old copy holds the wrapped data key (the search works)" grep -q "$dek" "$TMP/old.hex"
    check "... and a ciphertext" grep -q "$sealed_name" "$TMP/old.hex"
else
    pg_skipped "file copies of the store before and after the erase"
fi

# Usage errors and refusals.
expect "--help" 0 cu erase --help
contains "--help explains crypto-shredding" "$out" "crypto-shredding"
expect "no customer id: usage error" 2 cu erase
expect "a stray argument: usage error" 2 cu erase --customer-id $ID extra
expect "a malformed id is refused" 1 cu erase --customer-id "C 1;drop"
contains "naming the field" "$err" "customer id"
expect "an unknown customer is refused" 1 cu erase --customer-id C09999999
contains "clearly" "$err" "no customer 'C09999999'"
expect "a reason naming the customer is refused" 1 cu erase --customer-id $ID --reason "for $email"
contains "as personal data" "$err" "personal data"
lacks "without repeating it" "$err" "$email"

# The erase, while a server holds the store open (so that its write-ahead
# log is not simply deleted when the command exits, as it is when the last
# connection closes), and a copy of the data folder taken as soon as it
# returns.
serve_start
run cu lookup --email "$email"
[ -z "$PG" ] && check "the server holds the store open: its WAL stays" test -e "$DATA/custodian.db-wal"
expect "erase" 0 cu erase --customer-id $ID --reason "customer request 2024-17"
contains "says what went" "$out" "erased customer $ID"
contains "names the key version older backups depend on" "$out" "key version $kek"
lacks "the log was truncated (no warning)" "$err" "warning"
cp -a "$DATA" "$TMP/after"
[ -z "$PG" ] && check "the WAL is truncated" test ! -s "$TMP/after/custodian.db-wal"

for kind in email account phone imei serial; do
    run cu lookup --$kind "${!kind}"
    contains "after: no look-up by $kind finds them" "$out" "no customer found"
done
expect "after: a look-up by id fails" 1 cu lookup --customer-id $ID
contains "saying the customer was erased" "$err" "customer '$ID' was erased"
expect "after: a reveal by id fails" 1 cu lookup --customer-id $ID --reveal name --reason "support"
contains "with the same clear error" "$err" "customer '$ID' was erased"
run cu lookup --customer-id C00000043
contains "a neighbour is untouched" "$out" "customer C00000043"

expect "audit verify still passes" 0 cu audit verify
run cu audit show --customer-id $ID --json
contains "the audit log has the erase entry" "$out" '"action": "erase"'
contains "with its reason" "$out" "customer request 2024-17"
lacks "and no personal value" "$out" "$email"

expect "a second erase is refused" 1 cu erase --customer-id $ID
contains "as already erased" "$err" "already erased"
run cu erase --customer-id $ID --json
contains "also with --json" "$err" "already erased"

# The copy of the data folder taken then holds nothing of them.
if [ -z "$PG" ]; then
    hex_of_files "$TMP/after" >"$TMP/after.hex"
    check "no byte of the wrapped data key in any file of the copy" not grep -q "$dek" "$TMP/after.hex"
    check "no ciphertext of the name in any file of the copy" \
        not grep -q "$sealed_name" "$TMP/after.hex"
    check "no ciphertext of the devices in any file of the copy" \
        not grep -q "$sealed_devices" "$TMP/after.hex"
fi
check "no e-mail or phone in clear either" not grep -rqa -e "$email" -e "${phone#+}" "$TMP/after"
check "the store still has no wrapped key-encryption key" \
    test "$(store_sql "SELECT count(*) FROM keks WHERE wrapped IS NOT NULL")" = 0

# restore NAME [KEYS]: a copy of the data folder with the old store swapped
# in (and, when KEYS is given, that keys folder instead of the current one).
restore() {
    rm -rf "$TMP/$1"
    cp -a "$DATA" "$TMP/$1"
    rm -f "$TMP/$1"/custodian.db* "$TMP/$1"/custodian-index.db*
    cp "$TMP/old-store"/custodian.db* "$TMP/$1/"
    if [ -n "${2:-}" ]; then
        rm -rf "$TMP/$1/keys"
        cp -a "$2" "$TMP/$1/keys"
    fi
}

# Before retirement, the old store is readable with the current keyring:
# this is the window docs/erasure.md documents.  (The copies are SQLite
# files; on PostgreSQL only the rotation and retirement run.)
if [ -z "$PG" ]; then
    restore r1
    run "$CUSTODIAN" --data "$TMP/r1" lookup --customer-id $ID
    contains "an old store copy still opens with the current keyring before retirement" \
        "$out" "customer $ID"
    cp -a "$DATA/keys" "$TMP/keys-before-retire"
fi

expect "keys rotate" 0 cu keys rotate
if [ -z "$PG" ]; then
    restore r2
    run "$CUSTODIAN" --data "$TMP/r2" lookup --customer-id $ID
    contains "... and after a rotation, until the old version is retired" "$out" "customer $ID"
fi
expect "keys retire $kek" 0 cu keys retire $kek
check "the retired version is gone from the keyring" \
    not grep -q "^$kek " "$DATA/keys/keyring"

if [ -n "$PG" ]; then
    pg_skipped "old copies of the store's files after the retirement"
else
restore r3
expect "after retirement the old store copy opens nothing" 1 \
    "$CUSTODIAN" --data "$TMP/r3" lookup --customer-id $ID
contains "for want of the retired key" "$err" "version $kek is not in the keyring"
# Not just a refusal: mark the old version retired in the old copy so
# that it opens, and the data key still cannot be unwrapped.
sqlite3 "$TMP/r3/custodian.db" "UPDATE keks SET state = 3 WHERE version = $kek;
    INSERT INTO keks(version, state, wrapped, created_at) VALUES($((kek + 1)), 1, NULL, 0)"
expect "a doctored old copy still cannot open the erased customer" 1 \
    "$CUSTODIAN" --data "$TMP/r3" lookup --customer-id $ID
contains "whose data key needs the retired version" "$err" "version $kek"
run "$CUSTODIAN" --data "$TMP/r3" lookup --imei "$imei"
lacks "nor does a look-up show them" "$out" "customer $ID"

# Why copies of keys/ must expire too: the old keyring opens the old store.
restore r4 "$TMP/keys-before-retire"
run "$CUSTODIAN" --data "$TMP/r4" lookup --customer-id $ID
contains "a keys/ copy from before the retirement still opens it (hence its retention)" \
    "$out" "customer $ID"
fi

# The current data folder is unaffected by all this.
run cu lookup --customer-id C00000043
contains "the live folder still opens the others" "$out" "customer C00000043"
# An erased id stays erased: the same file imported again does not bring
# the customer back, and every path says "erased", not "not found".
expect "re-importing the original file is refused as a whole" 1 cu import "$TMP/c.csv"
contains "naming the erased customer" "$err" "erased"
expect "with --skip-invalid the others are imported again" 0 \
    cu import --skip-invalid --rejects "$TMP/rejects.csv" "$TMP/c.csv"
contains "and the erased customer is the one rejected" "$(cat "$TMP/rejects.csv")" \
    "an erased id is never imported again"
run cu lookup --email "$email"
lacks "so the erased customer is still nowhere" "$out" "customer $ID"
kill "$SERVER" && wait "$SERVER" # the first server (it was left running)
serve_start
clerk=$(staff_login eve clerk SZ-014)
http POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$ID\"}" "$clerk"
check "a case for the erased customer: 404" test "$code" = 404
contains "of type customer-erased" "$out" "/customer-erased"
kill "$SERVER" && wait "$SERVER"

expect "audit verify passes at the end" 0 cu audit verify

done_testing
