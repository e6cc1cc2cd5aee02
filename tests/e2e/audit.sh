#!/usr/bin/env bash
# The audit log through the CLI: look-ups and reveals are recorded (and
# hold no personal value), reveals fail closed, checkpoints and proofs verify
# with an independent verifier, and tampering in the database is caught by
# `audit verify` at the right index.
. "$(dirname "$0")/lib.bash"
TLOG="$BUILD/tests/tools/tlogcheck"

"$CUSTODIAN" gen customers 300 --seed 31 --format jsonl >"$TMP/c.jsonl"
cu init >/dev/null
cu import "$TMP/c.jsonl" >/dev/null

size() { cu audit entries --start 0 --end 100000 | grep -c '"index"'; }
check "the import is the first entry" test "$(size)" -eq 1
run cu audit entries --start 0 --end 1
contains "an import entry" "$out" '"action": "import"'
contains "with counts only" "$out" "300 new"

imei=$(jfield "$TMP/c.jsonl" 4 imei)
name=$(jfield "$TMP/c.jsonl" 4 name)
phone=$(jphone "$TMP/c.jsonl" 4)
email=$(jfield "$TMP/c.jsonl" 4 email)
expect "a masked look-up" 0 cu lookup --imei "$imei"
check "writes one entry" test "$(size)" -eq 2
run cu audit entries --start 1 --end 2
contains "a lookup entry" "$out" '"action": "lookup"'
contains "by the operator" "$out" "\"actor\": \"operator:$(id -un)\""
contains "with the customer's pseudonym" "$out" '"subject": "'

expect "a reveal with a reason" 0 cu lookup --customer-id C00000004 --reveal name,phone \
    --reason "support call, case 17"
contains "shows the full name" "$out" "$name"
contains "shows the full phone" "$out" "$phone"
lacks "but not a field it was not asked for" "$out" "$email"
check "a reveal writes exactly one entry" test "$(size)" -eq 3
run cu audit entries --start 2 --end 3
contains "a reveal entry" "$out" '"action": "reveal"'
contains "naming the fields" "$out" '"name",'
contains "with the reason" "$out" "support call, case 17"

export_all=$(cu audit export --format jsonl)
lacks "no revealed name in the log" "$export_all" "$name"
lacks "no revealed phone in the log" "$export_all" "$phone"
lacks "no phone digits in the log" "$export_all" "${phone:3}"
lacks "no IMEI in the log" "$export_all" "$imei"
lacks "no customer id in the log (pseudonyms only)" "$export_all" "C00000004"
check "export: one JSON object a line" test "$(printf '%s\n' "$export_all" | wc -l)" -eq 3

expect "a reason holding the customer's name is refused" 1 \
    cu lookup --customer-id C00000004 --reveal phone --reason "called by $name"
check "and writes no entry" test "$(size)" -eq 3
expect "--reveal without --reason is a usage error" 2 cu lookup --customer-id C00000004 --reveal name
expect "an unknown field is refused" 1 cu lookup --customer-id C00000004 --reveal salary \
    --reason "support call"

run cu audit show --customer-id C00000004
check "audit show --customer-id finds both entries" test \
    "$(printf '%s' "$out" | grep -c '"index"')" -eq 2
run cu audit show --staff "operator:$(id -un)" --limit 1
contains "audit show --staff, newest first" "$out" '"action": "reveal"'

# More entries, then checkpoints and proofs.
for k in $(seq 10 40); do cu lookup --customer-id "$(printf 'C%08d' $k)" >/dev/null; done
expect "audit verify passes" 0 cu audit verify
N=$(size)
contains "and says how much it checked" "$out" "$N entries"

run cu audit key
vkey=$out
check "audit key is a C2SP vkey" bash -c "[[ '$vkey' =~ ^[^+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$ ]]"
cu audit checkpoint >"$TMP/cp.txt"
run cat "$TMP/cp.txt"
check "checkpoint: origin, size, root, blank line, signature" \
    test "$(sed -n 2p "$TMP/cp.txt")" = "$N" -a -z "$(sed -n 4p "$TMP/cp.txt")"
contains "signature line starts with an em dash" "$(sed -n 5p "$TMP/cp.txt")" "— "
expect "the checkpoint verifies with the vkey (independent verifier)" 0 \
    "$TLOG" note "$vkey" "$TMP/cp.txt"
root=$(printf '%s' "$out" | sed -n 's/.*root=\([0-9a-f]*\).*/\1/p')
sed "s/^$N\$/$((N + 1))/" "$TMP/cp.txt" >"$TMP/cp-bad.txt"
expect "an altered checkpoint does not verify" 1 "$TLOG" note "$vkey" "$TMP/cp-bad.txt"

cu audit export | sed 's/.*"leaf_input": *"\([^"]*\)".*/\1/' >"$TMP/leaves"
run "$TLOG" root "$TMP/leaves"
check "the checkpoint root is the RFC 9162 root of the exported entries" test "$out" = "$root"

ok_proofs=1
for i in 0 1 7 16 31 $((N - 1)); do
    leaf=$(sed -n "$((i + 1))p" "$TMP/leaves")
    cu audit proof --index $i --size $N >"$TMP/p.json"
    "$TLOG" inclusion "$root" $N $i "$leaf" "$TMP/p.json" || ok_proofs=0
done
check "inclusion proofs verify independently" test $ok_proofs -eq 1

cu lookup --customer-id C00000050 >/dev/null
cu audit checkpoint >"$TMP/cp2.txt"
root2=$("$TLOG" note "$vkey" "$TMP/cp2.txt" | sed -n 's/.*root=\([0-9a-f]*\).*/\1/p')
cu audit proof --first $N --second $((N + 1)) >"$TMP/c.json"
expect "consistency proof N -> N+1 verifies independently" 0 \
    "$TLOG" consistency "$root" $N "$root2" $((N + 1)) "$TMP/c.json"
expect "and not against a wrong old root" 1 \
    "$TLOG" consistency "$root2" $N "$root2" $((N + 1)) "$TMP/c.json"

# Fail closed: the audit write fails, the reveal shows nothing.
db="$DATA/custodian.db"
store_fail_audit on
expect "a reveal whose audit write fails exits 1" 1 \
    cu lookup --customer-id C00000004 --reveal name --reason "support call"
check "and prints nothing on stdout" test -z "$out"
lacks "nor the value on stderr" "$err" "$name"
expect "a masked look-up whose audit write fails exits 1 too" 1 cu lookup --imei "$imei"
check "and prints nothing" test -z "$out"
store_fail_audit off
expect "the log still verifies" 0 cu audit verify

# Tampering, each on a copy of the database (PostgreSQL: of the log's
# tables, kept in tables of their own).
n=$(size)
if [ -n "$PG" ]; then
    store_sql "CREATE TABLE clean_e AS SELECT * FROM audit_entries;
               CREATE TABLE clean_t AS SELECT * FROM audit_tiles;
               CREATE TABLE clean_c AS SELECT * FROM audit_checkpoints"
else
    cp "$db" "$TMP/clean.db"
fi
restore_clean() {
    if [ -n "$PG" ]; then
        store_sql "TRUNCATE audit_entries, audit_tiles, audit_checkpoints;
                   INSERT INTO audit_entries SELECT * FROM clean_e;
                   INSERT INTO audit_tiles SELECT * FROM clean_t;
                   INSERT INTO audit_checkpoints SELECT * FROM clean_c"
    else
        cp "$TMP/clean.db" "$db"
        rm -f "$db-wal" "$db-shm"
    fi
}
# pg_replace COLUMN OLD NEW: PostgreSQL's replace() of the first OLD in a
# bytea (SQLite's replace() works on blobs).
pg_replace() {
    echo "CASE WHEN position('$2'::bytea in $1) > 0 THEN overlay($1 placing '$3'::bytea
          from position('$2'::bytea in $1) for ${#2}) ELSE $1 END"
}
tamper() { # tamper DESCRIPTION INDEX SQL [POSTGRESQL_SQL]
    restore_clean
    if [ -n "$PG" ]; then store_sql "${4:-$3}"; else sqlite3 "$db" "$3"; fi
    run cu audit verify
    if [ "$status" -eq 1 ] && printf '%s' "$err" | grep -q "at index $2:"; then
        ok "$1 is caught at index $2"
    else
        not_ok "$1 is caught at index $2" "exit $status" "${err:0:300}"
    fi
}
tamper "a modified entry" 5 \
    "UPDATE audit_entries SET leaf = replace(leaf, 'operator', 'operatoX') WHERE idx = 5" \
    "UPDATE audit_entries SET leaf = $(pg_replace leaf operator operatoX) WHERE idx = 5"
tamper "a deleted entry" 7 "DELETE FROM audit_entries WHERE idx = 7"
tamper "two swapped entries" 3 \
    "UPDATE audit_entries SET leaf = (SELECT leaf FROM audit_entries WHERE idx = 9) WHERE idx = 3;
     UPDATE audit_entries SET leaf = (SELECT leaf FROM audit_entries WHERE idx = 3) WHERE idx = 9"
tamper "a truncated log" $((n - 4)) "DELETE FROM audit_entries WHERE idx >= $((n - 4))"
# The columns that look-ups by customer and by staff select on (audit show,
# the customer's access log), changed while the leaf is left alone.
tamper "an entry's subject cleared (hidden from the customer)" 5 \
    "UPDATE audit_entries SET subject = NULL WHERE idx = 5"
tamper "an entry's actor changed (hidden from audit show --staff)" 6 \
    "UPDATE audit_entries SET actor = 'someone-else' WHERE idx = 6"
tamper "an entry moved to another customer" 8 \
    "UPDATE audit_entries SET subject = (SELECT subject FROM audit_entries WHERE idx = 2)
     WHERE idx = 8"
tamper "an entry changed together with its stored hash" 0 \
    "UPDATE audit_entries SET leaf = replace(leaf, 'lookup', 'lookuP') WHERE idx = 12;
     DELETE FROM audit_tiles" \
    "UPDATE audit_entries SET leaf = $(pg_replace leaf lookup lookuP) WHERE idx = 12;
     DELETE FROM audit_tiles"
restore_clean
if [ -n "$PG" ]; then
    store_sql "UPDATE audit_checkpoints SET note = replace(note, chr(10) || '$N' || chr(10),
               chr(10) || '$((N - 1))' || chr(10)) WHERE size = $N"
else
    sqlite3 "$db" "UPDATE audit_checkpoints SET note = replace(note, char(10) || '$N' || char(10),
               char(10) || '$((N - 1))' || char(10)) WHERE size = $N"
fi
expect "an altered stored checkpoint is caught" 1 cu audit verify
contains "as a bad signature or mismatch" "$err" "checkpoint"
restore_clean
expect "the clean copy verifies" 0 cu audit verify

done_testing
