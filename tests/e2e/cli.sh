#!/usr/bin/env bash
# The command line: help, usage errors, exit codes, init.
. "$(dirname "$0")/lib.bash"

expect "custodian --help exits 0" 0 "$CUSTODIAN" --help
contains "--help lists the commands" "$out" "import"
expect "no command is a usage error" 2 "$CUSTODIAN"
expect "unknown command is a usage error" 2 "$CUSTODIAN" frobnicate
for c in init gen import lookup keys demo audit staff serve; do
    expect "custodian $c --help exits 0" 0 "$CUSTODIAN" "$c" --help
    contains "custodian $c --help prints usage" "$out" "usage: custodian $c"
done
expect "unknown option is a usage error" 2 "$CUSTODIAN" lookup --bogus x
expect "lookup without an identifier is a usage error" 2 cu lookup
expect "lookup with two identifiers is a usage error" 2 cu lookup --imei 1 --phone 2
expect "gen with a bad count is a usage error" 2 "$CUSTODIAN" gen customers many
expect "--rejects without --skip-invalid is a usage error" 2 cu import x.csv --rejects r.csv

expect "lookup before init fails" 1 cu lookup --customer-id C1
contains "and says to run init" "$err" "custodian init"

expect "init creates the data folder" 0 cu init
check "master key exists with mode 0600" test "$(stat -c %a "$DATA/keys/master.key")" = 600
check "data folder is private (0700)" test "$(stat -c %a "$DATA")" = 700
expect "init twice fails" 1 cu init
contains "and says it is initialised" "$err" "already initialised"

chmod 644 "$DATA/keys/master.key"
expect "a world-readable master key is refused" 1 cu keys list
contains "naming the mode" "$err" "0600"
chmod 600 "$DATA/keys/master.key"

export CUSTODIAN_DATA="$DATA"
expect "CUSTODIAN_DATA selects the data folder" 0 "$CUSTODIAN" keys list
unset CUSTODIAN_DATA

# A master key kept outside the data folder.
export CUSTODIAN_MASTER_KEY_FILE="$TMP/outside.key"
expect "init with CUSTODIAN_MASTER_KEY_FILE" 0 "$CUSTODIAN" --data "$TMP/d2" init
check "the key is where the variable says" test -s "$TMP/outside.key"
check "and not in the data folder" test ! -e "$TMP/d2/keys/master.key"
expect "the folder opens with that key" 0 "$CUSTODIAN" --data "$TMP/d2" keys list
unset CUSTODIAN_MASTER_KEY_FILE
expect "and not without it" 1 "$CUSTODIAN" --data "$TMP/d2" keys list

"$CUSTODIAN" gen customers 50 --seed 7 >"$TMP/a.csv"
"$CUSTODIAN" gen customers 50 --seed 7 >"$TMP/b.csv"
"$CUSTODIAN" gen customers 50 --seed 8 >"$TMP/c.csv"
check "gen: same seed, same output" cmp -s "$TMP/a.csv" "$TMP/b.csv"
check "gen: another seed, other output" not cmp -s "$TMP/a.csv" "$TMP/c.csv"
check "gen: CSV header" test "$(head -1 "$TMP/a.csv" | tr -d '\r')" = \
    "customer_id,account,name,phone,email,address,birth_date,imei,serial,model,purchase_date,store"
"$CUSTODIAN" gen customers 50 --seed 7 --format jsonl >"$TMP/a.jsonl"
check "gen: JSON Lines, one customer a line" test "$(wc -l <"$TMP/a.jsonl")" -eq 50

done_testing
