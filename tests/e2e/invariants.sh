#!/usr/bin/env bash
# DESIGN.md invariants 1 and 2, attacked:
#  1. no personal value in any file of the data folder, in any encoding the
#     scanner knows (raw, UTF-16/32, hex, base64, JSON escapes, BCD, ...);
#     a ciphertext moved to another customer or field fails to open;
#  2. look-ups go through blind indexes only (the store has no plaintext
#     column to search).
. "$(dirname "$0")/lib.bash"
SCAN="$BUILD/tests/tools/scan-plaintext"

N=2000
"$CUSTODIAN" gen customers $N --seed 5 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null
expect "import known customers" 0 cu import "$TMP/c.jsonl"
cu lookup --customer-id C00000001 >/dev/null # reads leave nothing either

# Every personal value of every customer, one per line.
grep -o -E '"(name|email|account|address|imei|serial)":"[^"]*"' "$TMP/c.jsonl" |
    sed 's/^"[^"]*":"//; s/"$//' >"$TMP/values"
grep -o -E '"phone":(\[[^]]*\]|"[^"]*")' "$TMP/c.jsonl" | grep -o '+[0-9]*' >>"$TMP/values"
sort -u -o "$TMP/values" "$TMP/values"
nvalues=$(wc -l <"$TMP/values")
check "collected the personal values ($nvalues)" test "$nvalues" -gt $((N * 5))

# The scanner must find a planted value, or its silence means nothing.
mkdir -p "$TMP/plant"
head -c 100000 /dev/urandom >"$TMP/plant/blob"
sed -n 10p "$TMP/values" | iconv -f UTF-8 -t UTF-16LE >>"$TMP/plant/blob"
expect "the scanner finds a planted UTF-16 value" 1 "$SCAN" "$TMP/values" "$TMP/plant"

ls -la "$DATA" "$DATA/keys" | sed 's/^/# /'
# (PostgreSQL: and in the files of the store's database and the WAL)
# shellcheck disable=SC2046
expect "no personal value in any file of the data folder, in any encoding" 0 \
    "$SCAN" "$TMP/values" "$DATA" $(store_pg_paths)
[ "$status" -ne 0 ] && printf '%s\n' "$out" | head -20 | sed 's/^/# /'
printf '%s\n' "$err" | tail -1 | sed 's/^/# /'

# The write-ahead log too: kill an import mid-way so that a WAL full of
# fresh pages stays behind, and scan again.
"$CUSTODIAN" gen customers 100000 --seed 6 --format jsonl >"$TMP/big.jsonl"
grep -o -E '"(name|email|imei)":"[^"]*"' "$TMP/big.jsonl" | head -30000 |
    sed 's/^"[^"]*":"//; s/"$//' | sort -u >"$TMP/values-big"
"$CUSTODIAN" --data "$DATA" import "$TMP/big.jsonl" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    [ -s "$DATA/custodian.db-wal" ] && break
    sleep 0.05
done
sleep 0.5
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -z "$PG" ]; then
    check "a WAL was left behind by the killed import" test -s "$DATA/custodian.db-wal"
fi
# shellcheck disable=SC2046
expect "no personal value in the database and WAL of a killed import" 0 \
    "$SCAN" "$TMP/values-big" "$DATA" $(store_pg_paths)
printf '%s\n' "$err" | tail -1 | sed 's/^/# /'
rm -f "$TMP/big.jsonl"

# The database has no column a plaintext search could use.
if [ -n "$PG" ]; then
    schema=$(pg_dump --schema-only "$(store_url)" | tr 'a-z' 'A-Z')
else
    schema=$(sqlite3 "$DATA/custodian.db" .schema | tr 'a-z' 'A-Z')
fi
lacks "no plaintext imei column" "$schema" "IMEI TEXT"
contains "blind index table exists" "$schema" \
    "CREATE TABLE $([ -n "$PG" ] && echo PUBLIC.)BLIND"

# Swapped ciphertexts fail to open, with a clear integrity error.
db="$DATA/custodian.db"
if [ -n "$PG" ]; then
    store_sql "CREATE TABLE orig_customers AS SELECT * FROM customers;
               CREATE TABLE orig_blind AS SELECT * FROM blind"
else
    cp "$db" "$TMP/orig.db"
fi
store_sql "UPDATE customers SET name = (SELECT name FROM customers WHERE customer_id='C00000002')
               WHERE customer_id='C00000001'"
expect "a name copied from another customer fails to open" 1 cu lookup --customer-id C00000001
contains "with an integrity error naming field and customer" "$err" \
    "integrity check failed for field 'name' of customer 'C00000001'"
lacks "the error holds no personal value" "$err" "$(jfield "$TMP/c.jsonl" 2 name)"
run cu lookup --customer-id C00000002
contains "the source customer still opens" "$out" "customer C00000002"

store_sql "UPDATE customers SET name = email WHERE customer_id='C00000003'"
expect "an e-mail ciphertext moved into the name field fails" 1 cu lookup --customer-id C00000003
contains "naming the field" "$err" "field 'name'"

store_sql "UPDATE customers SET dek = (SELECT dek FROM customers WHERE customer_id='C00000005')
               WHERE customer_id='C00000004'"
expect "a data key copied from another customer fails" 1 cu lookup --customer-id C00000004
contains "with an integrity error" "$err" "integrity"

store_sql "UPDATE customers SET dek_version = dek_version + 1 WHERE customer_id='C00000006'"
expect "a changed key version fails" 1 cu lookup --customer-id C00000006

if [ -n "$PG" ]; then
    store_sql "UPDATE customers SET phone = set_byte(phone, 30, 0) WHERE customer_id='C00000007'"
else
    sqlite3 "$db" "UPDATE customers SET phone = substr(phone, 1, 30) || x'00' || substr(phone, 32)
               WHERE customer_id='C00000007'"
fi
expect "a flipped ciphertext byte fails" 1 cu lookup --customer-id C00000007

# A blind-index entry pointed at another customer does not leak them: the
# look-up confirms the identifier after decryption.
imei8=$(jfield "$TMP/c.jsonl" 8 imei)
store_sql "UPDATE blind SET customer = (SELECT id FROM customers WHERE customer_id='C00000009')
               WHERE customer = (SELECT id FROM customers WHERE customer_id='C00000008')
                 AND kind = 1"
run cu lookup --imei "$imei8" --json
lacks "a redirected blind index does not return the wrong customer" "$out" "C00000009"
if [ -n "$PG" ]; then
    store_sql "TRUNCATE customers, blind; INSERT INTO customers SELECT * FROM orig_customers;
               INSERT INTO blind SELECT * FROM orig_blind"
else
    cp "$TMP/orig.db" "$db"
    rm -f "$db-wal" "$db-shm"
fi

# Another master key cannot open anything.
mv "$DATA/keys/master.key" "$TMP/good.key"
head -c 32 /dev/urandom >"$DATA/keys/master.key"
chmod 600 "$DATA/keys/master.key"
expect "a different master key opens nothing" 1 cu lookup --customer-id C00000010
contains "and says which key" "$err" "key-encryption key"
mv "$TMP/good.key" "$DATA/keys/master.key"
expect "the right key opens again" 0 cu lookup --customer-id C00000010

# The leak check that ends every end-to-end script (lib.bash) can fail: a
# customer's e-mail in a log line is caught.
mkdir "$TMP/lc" && cp "$TMP/c.jsonl" "$TMP/lc/"
leaked=$(jfield "$TMP/c.jsonl" 1 email)
printf 'serving... %s\n' "$leaked" >"$TMP/lc/serve.log"
check "the leak check catches a personal value in a server log" not leak_check "$TMP/lc"
rm -rf "$TMP/lc"

done_testing
