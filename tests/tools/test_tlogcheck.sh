#!/usr/bin/env bash
# Self-test of tlogcheck (TAP), independent of its C code: trees, proofs and
# hashes are built here from the definitions of RFC 9162 section 2.1 with
# printf, sha256sum, base64 and od; notes are signed with tlogcheck's
# sign-test-note (a fixed, public test key) and then mangled here.  Known
# answers from elsewhere: the Certificate Transparency reference trees (the
# RFC 6962 test vectors), two checkpoints signed by sum.golang.org and the
# signed note of golang.org/x/mod/sumdb/note's documentation.
#
#   tests/tools/test_tlogcheck.sh PATH-TO-tlogcheck
set -u
TC=${1:?usage: test_tlogcheck.sh PATH-TO-tlogcheck}
TMP=$(mktemp -d /tmp/tlogcheck-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
TESTS=0

ok() {
    TESTS=$((TESTS + 1))
    echo "ok $TESTS - $1"
}

not_ok() {
    TESTS=$((TESTS + 1))
    echo "not ok $TESTS - $1"
    shift
    local line
    for line in "$@"; do echo "# $line"; done
}

# run COMMAND...: sets $status, $out (stdout) and $err (stderr).
run() {
    "$@" >"$TMP/.out" 2>"$TMP/.err"
    status=$?
    out=$(cat "$TMP/.out")
    err=$(cat "$TMP/.err")
}

# expect STATUS DESCRIPTION COMMAND...: runs COMMAND, passes if it exits with
# STATUS.  For exit 1 the reason must be one line on stderr.
expect() {
    local want=$1 desc=$2
    shift 2
    run "$@"
    if [ "$status" -eq "$want" ] &&
        { [ "$want" -ne 1 ] || [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ]; }; then
        ok "$desc"
    else
        not_ok "$desc" "exit $status, expected $want" "stdout: ${out:0:300}" \
            "stderr: ${err:0:300}"
    fi
}

# expect_fail DESCRIPTION PATTERN COMMAND...: exit 1 and a reason matching PATTERN.
expect_fail() {
    local desc=$1 pattern=$2
    shift 2
    run "$@"
    if [ "$status" -eq 1 ] && printf '%s\n' "$err" | grep -q -E -- "$pattern"; then
        ok "$desc"
    else
        not_ok "$desc" "exit $status, expected 1 with /$pattern/" "stdout: ${out:0:300}" \
            "stderr: ${err:0:300}"
    fi
}

# --- bytes and hashes ---------------------------------------------------------

tohex() { od -An -v -tx1 | tr -d ' \n'; }
# fromhex HEX: writes the bytes HEX spells.
fromhex() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
sha() { sha256sum | cut -c1-64; }
# leafhash_hex HEX: SHA-256(0x00 || leaf_input), the leaf input given in hex.
leafhash_hex() { { printf '\0'; fromhex "$1"; } | sha; }
# nodehash LEFT RIGHT: SHA-256(0x01 || left || right).
nodehash() { { printf '\1'; fromhex "$1"; fromhex "$2"; } | sha; }
b64hex() { fromhex "$1" | base64 -w0; }
hexb64() { printf '%s' "$1" | base64 -d | tohex; }
# flip HEX I: HEX with byte I xor 0x01.
flip() { printf '%s%02x%s' "${1:0:$(($2 * 2))}" $((0x${1:$(($2 * 2)):2} ^ 1)) "${1:$(($2 * 2 + 2))}"; }
EMPTY=$(printf '' | sha)

# --- trees from the definitions (RFC 9162 2.1.1, 2.1.3.1, 2.1.4.1) ------------
# The leaf hashes are in LEAF[]; results go to globals (H: a hash, P: a list
# of hashes separated by spaces) so that the recursion needs no subshell.

# split N: sets K to the largest power of two smaller than N (N > 1).
split() {
    K=1
    while [ $((K * 2)) -lt "$1" ]; do K=$((K * 2)); done
}

# mth LO HI: H = MTH(D[LO:HI]), HI > LO.
mth() {
    local lo=$1 hi=$2 k left
    if [ $((hi - lo)) -eq 1 ]; then
        H=${LEAF[lo]}
        return
    fi
    split $((hi - lo))
    k=$K
    mth "$lo" $((lo + k))
    left=$H
    mth $((lo + k)) "$hi"
    H=$(nodehash "$left" "$H")
}

# path M LO HI: P = PATH(M, D[LO:HI]).
path() {
    local m=$1 lo=$2 hi=$3 k sub
    if [ $((hi - lo)) -eq 1 ]; then
        P=""
        return
    fi
    split $((hi - lo))
    k=$K
    if [ "$m" -lt "$k" ]; then
        path "$m" "$lo" $((lo + k))
        sub=$P
        mth $((lo + k)) "$hi"
    else
        path $((m - k)) $((lo + k)) "$hi"
        sub=$P
        mth "$lo" $((lo + k))
    fi
    P="${sub:+$sub }$H"
}

# subproof M LO HI B: P = SUBPROOF(M, D[LO:HI], B); PROOF(M, D[N]) is
# subproof M 0 N true.
subproof() {
    local m=$1 lo=$2 hi=$3 b=$4 k sub
    if [ "$m" -eq $((hi - lo)) ]; then
        if [ "$b" = true ]; then
            P=""
        else
            mth "$lo" "$hi"
            P=$H
        fi
        return
    fi
    split $((hi - lo))
    k=$K
    if [ "$m" -le "$k" ]; then
        subproof "$m" "$lo" $((lo + k)) "$b"
        sub=$P
        mth $((lo + k)) "$hi"
    else
        subproof $((m - k)) $((lo + k)) "$hi" false
        sub=$P
        mth "$lo" $((lo + k))
    fi
    P="${sub:+$sub }$H"
}

# b64list "HEX HEX ...": the JSON array members "base64","base64",...
b64list() {
    local h sep=""
    for h in $1; do
        printf '%s"%s"' "$sep" "$(b64hex "$h")"
        sep=,
    done
}
# incl_json FILE INDEX SIZE "HEX ...": an inclusion proof as the API gives it.
incl_json() { printf '{"leaf_index":%s,"tree_size":%s,"audit_path":[%s]}\n' "$2" "$3" "$(b64list "$4")" >"$1"; }
cons_json() { printf '{"consistency":[%s]}\n' "$(b64list "$2")" >"$1"; }
# flip_list "HEX ..." J: the list with byte 0 of element J (mod count) flipped.
flip_list() {
    local -a a
    read -r -a a <<<"$1"
    local j=$(($2 % ${#a[@]}))
    a[j]=$(flip "${a[j]}" $((j % 32)))
    printf '%s' "${a[*]}"
}

# --- known answers: the Certificate Transparency reference tree ---------------

CT_LEAVES=("" 00 10 2021 3031 40414243 5051525354555657 606162636465666768696a6b6c6d6e6f)
CT_ROOTS=(
    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
    fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125
    aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77
    d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
    4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4
    76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef
    ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c
    5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328
)
for n in 0 1 2 3 4 5 6 7 8; do
    : >"$TMP/ct$n"
    for ((i = 0; i < n; i++)); do b64hex "${CT_LEAVES[i]}" >>"$TMP/ct$n"; echo >>"$TMP/ct$n"; done
    run "$TC" root "$TMP/ct$n"
    if [ "$status" -eq 0 ] && [ "$out" = "${CT_ROOTS[n]}" ]; then
        ok "root of the CT reference tree of size $n"
    else
        not_ok "root of the CT reference tree of size $n" "exit $status" "got:  $out" \
            "want: ${CT_ROOTS[n]}" "${err:0:300}"
    fi
done
printf '%s' "$(cat "$TMP/ct3")" >"$TMP/ct3-no-final-newline"
run "$TC" root "$TMP/ct3-no-final-newline"
if [ "$status" -eq 0 ] && [ "$out" = "${CT_ROOTS[3]}" ]; then
    ok "root: the last line may lack its newline"
else
    not_ok "root: the last line may lack its newline" "exit $status, $out"
fi

incl_json "$TMP/ct-i0" 0 8 "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
    5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
    6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
expect 0 "CT reference inclusion proof of leaf 0 in 8" \
    "$TC" inclusion "${CT_ROOTS[8]}" 8 0 "" "$TMP/ct-i0"
incl_json "$TMP/ct-i5" 5 8 "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
    ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0
    d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
expect 0 "CT reference inclusion proof of leaf 5 in 8" \
    "$TC" inclusion "${CT_ROOTS[8]}" 8 5 "$(b64hex "${CT_LEAVES[5]}")" "$TMP/ct-i5"
cons_json "$TMP/ct-c2" "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
    6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
expect 0 "CT reference consistency proof from 2 to 8" \
    "$TC" consistency "${CT_ROOTS[2]}" 2 "${CT_ROOTS[8]}" 8 "$TMP/ct-c2"
cons_json "$TMP/ct-c6" "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a
    ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0
    d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
expect 0 "CT reference consistency proof from 6 to 8" \
    "$TC" consistency "${CT_ROOTS[6]}" 6 "${CT_ROOTS[8]}" 8 "$TMP/ct-c6"

# --- trees of 1 to 7 leaves "0", "1", ... built here ------------------------------

LEAF=()
for i in 0 1 2 3 4 5 6; do LEAF[i]=$(leafhash_hex "$(printf '%s' "$i" | tohex)"); done
ROOT=("$EMPTY")
: >"$TMP/leaves"
for n in 1 2 3 4 5 6 7; do
    mth 0 "$n"
    ROOT[n]=$H
    printf '%s' "$((n - 1))" | base64 -w0 >>"$TMP/leaves"
    echo >>"$TMP/leaves"
    run "$TC" root "$TMP/leaves"
    if [ "$status" -eq 0 ] && [ "$out" = "${ROOT[n]}" ]; then
        ok "root of \"0\"..\"$((n - 1))\" equals the shell's MTH"
    else
        not_ok "root of \"0\"..\"$((n - 1))\" equals the shell's MTH" "exit $status" \
            "got:  $out" "want: ${ROOT[n]}"
    fi
done

# Inclusion: every leaf of every size verifies; a flipped byte (in the path,
# or in the root when the path is empty) and a wrong index fail.
for n in 1 2 3 4 5 6 7; do
    for ((m = 0; m < n; m++)); do
        leaf=$(printf '%s' "$m" | base64 -w0)
        path "$m" 0 "$n"
        incl_json "$TMP/incl" "$m" "$n" "$P"
        expect 0 "inclusion of leaf $m in $n verifies" \
            "$TC" inclusion "${ROOT[n]}" "$n" "$m" "$leaf" "$TMP/incl"
        if [ -n "$P" ]; then
            incl_json "$TMP/bad" "$m" "$n" "$(flip_list "$P" "$m")"
            expect_fail "inclusion of leaf $m in $n fails with a flipped byte in the path" \
                'does not lead to the root' \
                "$TC" inclusion "${ROOT[n]}" "$n" "$m" "$leaf" "$TMP/bad"
        else
            expect_fail "inclusion of leaf $m in $n fails with a flipped byte in the root" \
                'does not lead to the root' \
                "$TC" inclusion "$(flip "${ROOT[n]}" 31)" "$n" "$m" "$leaf" "$TMP/incl"
        fi
        w=$(((m + 1) % n))
        if [ "$n" -gt 1 ]; then
            incl_json "$TMP/bad" "$w" "$n" "$P"
            expect_fail "inclusion of leaf $m in $n fails as index $w" 'inclusion: ' \
                "$TC" inclusion "${ROOT[n]}" "$n" "$w" "$leaf" "$TMP/bad"
        else
            incl_json "$TMP/bad" 1 1 "$P"
            expect_fail "inclusion of leaf 0 in 1 fails as index 1" 'not below tree size' \
                "$TC" inclusion "${ROOT[n]}" 1 1 "$leaf" "$TMP/bad"
        fi
    done
done

path 3 0 7
incl_json "$TMP/incl" 3 7 "$P"
leaf3=$(printf 3 | base64 -w0)
expect 0 "inclusion of leaf 3 in 7 (again)" "$TC" inclusion "${ROOT[7]}" 7 3 "$leaf3" "$TMP/incl"
expect_fail "inclusion fails for another leaf input" 'does not lead to the root' \
    "$TC" inclusion "${ROOT[7]}" 7 3 "$(printf 4 | base64 -w0)" "$TMP/incl"
expect_fail "inclusion fails against another tree's root" 'does not lead to the root' \
    "$TC" inclusion "${ROOT[6]}" 7 3 "$leaf3" "$TMP/incl"
incl_json "$TMP/bad" 3 7 "$P ${ROOT[1]}"
expect_fail "inclusion fails with a hash appended to the path" 'too long' \
    "$TC" inclusion "${ROOT[7]}" 7 3 "$leaf3" "$TMP/bad"
incl_json "$TMP/bad" 3 7 "${P% *}"
expect_fail "inclusion fails with the path's last hash dropped" 'too short' \
    "$TC" inclusion "${ROOT[7]}" 7 3 "$leaf3" "$TMP/bad"
read -r -a pa <<<"$P"
incl_json "$TMP/bad" 3 7 "${pa[1]} ${pa[0]} ${pa[2]}"
expect_fail "inclusion fails with two path hashes swapped" 'does not lead' \
    "$TC" inclusion "${ROOT[7]}" 7 3 "$leaf3" "$TMP/bad"
expect_fail "inclusion fails when the JSON's leaf_index is not INDEX" 'for leaf 3, not 2' \
    "$TC" inclusion "${ROOT[7]}" 7 2 "$leaf3" "$TMP/incl"
expect_fail "inclusion fails when the JSON's tree_size is not SIZE" 'for tree size 7, not 6' \
    "$TC" inclusion "${ROOT[6]}" 6 3 "$leaf3" "$TMP/incl"
printf '{"leaf_index":"3","tree_size":7,"audit_path":[]}' >"$TMP/bad"
expect_fail "inclusion fails when leaf_index is a string" '"leaf_index"' \
    "$TC" inclusion "${ROOT[7]}" 7 3 "$leaf3" "$TMP/bad"
printf '{"leaf_index":3,"tree_size":7,"audit_path":["AAAA"]}' >"$TMP/bad"
expect_fail "inclusion fails when a path hash is not 32 bytes" 'not base64 of 32 bytes' \
    "$TC" inclusion "${ROOT[7]}" 7 3 "$leaf3" "$TMP/bad"
printf '{"leaf_index":3,"tree_size":7,' >"$TMP/bad"
expect_fail "inclusion fails when the proof is not JSON" 'not JSON' \
    "$TC" inclusion "${ROOT[7]}" 7 3 "$leaf3" "$TMP/bad"

# Consistency: every pair 0 < M < N <= 7 verifies; a flipped byte and a
# wrong size fail.
for n in 2 3 4 5 6 7; do
    for ((m = 1; m < n; m++)); do
        subproof "$m" 0 "$n" true
        cons_json "$TMP/cons" "$P"
        expect 0 "consistency from $m to $n verifies" \
            "$TC" consistency "${ROOT[m]}" "$m" "${ROOT[n]}" "$n" "$TMP/cons"
        cons_json "$TMP/bad" "$(flip_list "$P" $((m + n)))"
        expect_fail "consistency from $m to $n fails with a flipped byte" 'consistency: ' \
            "$TC" consistency "${ROOT[m]}" "$m" "${ROOT[n]}" "$n" "$TMP/bad"
        if [ $((m + 1)) -lt "$n" ]; then
            om=$((m + 1)) on=$n
        elif [ "$m" -gt 1 ]; then
            om=$((m - 1)) on=$n
        else
            om=$m on=$((n + 1))
        fi
        expect_fail "consistency from $m to $n fails as from $om to $on" 'consistency: ' \
            "$TC" consistency "${ROOT[om]}" "$om" "${ROOT[on]}" "$on" "$TMP/cons"
        expect_fail "consistency from $m to $n fails with a flipped byte in the old root" \
            'consistency: ' \
            "$TC" consistency "$(flip "${ROOT[m]}" $n)" "$m" "${ROOT[n]}" "$n" "$TMP/cons"
        expect_fail "consistency from $m to $n fails with a flipped byte in the new root" \
            'consistency: ' \
            "$TC" consistency "${ROOT[m]}" "$m" "$(flip "${ROOT[n]}" $m)" "$n" "$TMP/cons"
    done
done

# A proof whose hashes lead to both roots, but for a larger claimed new size
# than the tree they come from: only "sn is 0" at the end tells.  (Not every
# such claim fails: the proof [h2] of 2 to 3 also proves 2 to 4 for a tree of
# 4 whose right half hashes to h2, so its root is the root of 3.  Roots do
# not commit to their size; checkpoints sign both.)
for pair in "1 2 4" "3 4 8" "2 4 8" "1 4 8" "5 6 8"; do
    read -r m n claim <<<"$pair"
    subproof "$m" 0 "$n" true
    cons_json "$TMP/bad" "$P"
    expect_fail "consistency from $m to $n fails when claimed as from $m to $claim (root of $n)" \
        'consistency: ' "$TC" consistency "${ROOT[m]}" "$m" "${ROOT[n]}" "$claim" "$TMP/bad"
done

subproof 3 0 7 true
cons_json "$TMP/cons" "$P"
expect_fail "consistency fails with the old and new roots swapped" 'consistency: ' \
    "$TC" consistency "${ROOT[7]}" 3 "${ROOT[3]}" 7 "$TMP/cons"
cons_json "$TMP/bad" "$P ${ROOT[1]}"
expect_fail "consistency fails with a hash appended" 'too long' \
    "$TC" consistency "${ROOT[3]}" 3 "${ROOT[7]}" 7 "$TMP/bad"
cons_json "$TMP/bad" "${P% *}"
expect_fail "consistency fails with the last hash dropped" 'too short|does not lead' \
    "$TC" consistency "${ROOT[3]}" 3 "${ROOT[7]}" 7 "$TMP/bad"
cons_json "$TMP/bad" ""
expect_fail "consistency from 3 to 7 fails with an empty proof" 'empty' \
    "$TC" consistency "${ROOT[3]}" 3 "${ROOT[7]}" 7 "$TMP/bad"
expect_fail "consistency fails when the old size is above the new" 'above' \
    "$TC" consistency "${ROOT[7]}" 7 "${ROOT[3]}" 3 "$TMP/cons"
printf '{"first":3,"second":7,"consistency":[%s]}' "$(b64list "$P")" >"$TMP/extra"
expect 0 "consistency ignores other members of the JSON object" \
    "$TC" consistency "${ROOT[3]}" 3 "${ROOT[7]}" 7 "$TMP/extra"
printf '{"proof":[]}' >"$TMP/bad"
expect_fail "consistency fails without a \"consistency\" member" '"consistency"' \
    "$TC" consistency "${ROOT[3]}" 3 "${ROOT[7]}" 7 "$TMP/bad"
cons_json "$TMP/empty" ""
all=1
for n in 1 2 3 4 5 6 7; do
    run "$TC" consistency "${ROOT[n]}" "$n" "${ROOT[n]}" "$n" "$TMP/empty"
    [ "$status" -eq 0 ] || all=0
done
if [ "$all" -eq 1 ]; then
    ok "consistency from N to N verifies with an empty proof, N = 1..7"
else
    not_ok "consistency from N to N verifies with an empty proof, N = 1..7"
fi
expect_fail "consistency from 5 to 5 fails with different roots" 'different roots' \
    "$TC" consistency "${ROOT[5]}" 5 "${ROOT[4]}" 5 "$TMP/empty"
expect_fail "consistency from 5 to 5 fails with a non-empty proof" 'empty proof' \
    "$TC" consistency "${ROOT[5]}" 5 "${ROOT[5]}" 5 "$TMP/cons"
expect 0 "consistency from the empty tree verifies with an empty proof" \
    "$TC" consistency "$EMPTY" 0 "${ROOT[7]}" 7 "$TMP/empty"
expect_fail "consistency from size 0 fails with another root" 'empty tree' \
    "$TC" consistency "${ROOT[1]}" 0 "${ROOT[7]}" 7 "$TMP/empty"

# --- signed notes ------------------------------------------------------------------

NAME=test.example/log
# sign NAME ORIGIN SIZE ROOT [SEED] PREFIX: PREFIX.vkey and PREFIX.note.
sign() {
    local prefix=${*: -1}
    "$TC" sign-test-note "${@:1:$#-1}" >"$prefix.all" || echo "# sign-test-note failed" >&2
    head -n 1 "$prefix.all" | tr -d '\n' >"$prefix.vkey"
    tail -n +2 "$prefix.all" >"$prefix.note"
}
sign "$NAME" "$NAME" 7 "${ROOT[7]}" "$TMP/a"
VK=$(cat "$TMP/a.vkey")
SEED2=$(printf 'another key' | sha)
sign "$NAME" "$NAME" 7 "${ROOT[7]}" "$SEED2" "$TMP/b"
VK2=$(cat "$TMP/b.vkey")

run "$TC" note "$VK" "$TMP/a.note"
if [ "$status" -eq 0 ] && [ "$out" = "size=7 root=${ROOT[7]}" ] && [ -z "$err" ]; then
    ok "a checkpoint signed by the key verifies and prints size and root"
else
    not_ok "a checkpoint signed by the key verifies and prints size and root" "exit $status" \
        "out: $out" "err: ${err:0:300}"
fi
# The vkey's parts, checked with standard tools.
IFS=+ read -r vname vid vkey64 <<<"$VK"
vraw=$(hexb64 "$vkey64")
want_id=$({ printf '%s\n' "$vname"; fromhex "$vraw"; } | sha | cut -c1-8)
if [ "$vname" = "$NAME" ] && [ "${vraw:0:2}" = 01 ] && [ ${#vraw} -eq 66 ] &&
    [ "$vid" = "$want_id" ]; then
    ok "the test vkey is name+SHA-256(name, 0x0A, 0x01, key)[0:4]+base64(0x01, key)"
else
    not_ok "the test vkey is name+SHA-256(name, 0x0A, 0x01, key)[0:4]+base64(0x01, key)" "$VK" \
        "want id $want_id"
fi
sig_line=$(tail -n 1 "$TMP/a.note")
sig64=${sig_line##* }
if [ "${sig_line%% *}" = "—" ] && [ "$(hexb64 "$sig64" | cut -c1-8)" = "$vid" ] &&
    [ "$(printf '%s' "$sig64" | base64 -d | wc -c)" -eq 68 ]; then
    ok "the signature line is an em dash, the name and base64(key id || 64 bytes)"
else
    not_ok "the signature line is an em dash, the name and base64(key id || 64 bytes)" \
        "$sig_line"
fi

sign "$NAME" "other.example/log" 0 "$EMPTY" "$TMP/o"
run "$TC" note "$VK" "$TMP/o.note"
if [ "$status" -eq 0 ] && [ "$out" = "size=0 root=$EMPTY" ] &&
    printf '%s' "$err" | grep -q 'warning: origin "other.example/log" differs'; then
    ok "an origin other than the key name verifies with a warning (size 0)"
else
    not_ok "an origin other than the key name verifies with a warning (size 0)" \
        "exit $status" "out: $out" "err: ${err:0:300}"
fi

sed '2s/^7$/8/' "$TMP/a.note" >"$TMP/bad"
expect_fail "fails with the size changed in the body" 'does not verify' \
    "$TC" note "$VK" "$TMP/bad"
sed '1s/^t/T/' "$TMP/a.note" >"$TMP/bad"
expect_fail "fails with one character of the origin changed" 'does not verify' \
    "$TC" note "$VK" "$TMP/bad"
r64=$(sed -n 3p "$TMP/a.note")
c=${r64:10:1}
[ "$c" = A ] && d=B || d=A
{ head -n 2 "$TMP/a.note"; printf '%s\n' "${r64:0:10}$d${r64:11}"; tail -n +4 "$TMP/a.note"; } >"$TMP/bad"
expect_fail "fails with one character of the root changed" 'does not verify' \
    "$TC" note "$VK" "$TMP/bad"
# Character 20 of the signature's base64 is in the signature proper (the key id
# is characters 0 to 5).
c=${sig64:20:1}
[ "$c" = A ] && d=B || d=A
badsig=${sig64:0:20}$d${sig64:21}
{ head -n -1 "$TMP/a.note"; printf '— %s %s\n' "$NAME" "$badsig"; } >"$TMP/bad"
expect_fail "fails with one character of the signature changed" 'does not verify' \
    "$TC" note "$VK" "$TMP/bad"
c=${sig64:1:1}
[ "$c" = A ] && d=B || d=A
{ head -n -1 "$TMP/a.note"; printf '— %s %s\n' "$NAME" "${sig64:0:1}$d${sig64:2}"; } >"$TMP/bad"
expect_fail "fails with one character of the key id changed" 'no signature by key' \
    "$TC" note "$VK" "$TMP/bad"
expect_fail "fails with another key of the same name" 'no signature by key' \
    "$TC" note "$VK2" "$TMP/a.note"
expect_fail "fails with the same key under another name" 'no signature by key' \
    "$TC" note "other.example/log+$({ printf 'other.example/log\n'; fromhex "$vraw"; } | sha | cut -c1-8)+$vkey64" \
    "$TMP/a.note"
# A signature by key A relabelled with key B's id must be checked against B
# and fail.
IFS=+ read -r _ vid2 _ <<<"$VK2"
relabel=$({ fromhex "$vid2"; printf '%s' "$sig64" | base64 -d | tail -c 64; } | base64 -w0)
{ head -n -1 "$TMP/a.note"; printf '— %s %s\n' "$NAME" "$relabel"; } >"$TMP/bad"
expect_fail "fails with key A's signature relabelled with key B's id" 'does not verify' \
    "$TC" note "$VK2" "$TMP/bad"
expect_fail "fails when the vkey's key id does not match its name and key" 'key id' \
    "$TC" note "$vname+$(flip "$vid" 3)+$vkey64" "$TMP/a.note"
expect_fail "fails when the vkey's type byte is not 0x01" 'not Ed25519' \
    "$TC" note "$vname+$vid+$(fromhex "02${vraw:2}" | base64 -w0)" "$TMP/a.note"
expect_fail "fails with a vkey of two parts" 'not of the form' \
    "$TC" note "$vname+$vid" "$TMP/a.note"

# Signatures by unknown keys are ignored, also one with our name and another id.
other=$(head -c 68 /dev/zero | tr '\0' '\7' | base64 -w0)
samename=$({ fromhex "$(flip "$vid" 0)"; head -c 64 /dev/zero; } | base64 -w0)
{
    head -n -1 "$TMP/a.note"
    printf '— witness.example/w1 %s\n' "$other"
    printf '%s\n' "$sig_line"
    printf '— %s %s\n' "$NAME" "$samename"
    printf '— pq.example/log %s\n' "$(head -c 2420 /dev/zero | base64 -w0)"
} >"$TMP/multi"
run "$TC" note "$VK" "$TMP/multi"
if [ "$status" -eq 0 ] && [ "$out" = "size=7 root=${ROOT[7]}" ]; then
    ok "signatures by unknown keys (other names, same name and another id) are ignored"
else
    not_ok "signatures by unknown keys (other names, same name and another id) are ignored" \
        "exit $status" "${err:0:300}"
fi
{ cat "$TMP/a.note"; printf '%s\n' "$sig_line"; } >"$TMP/twice"
expect 0 "two good signatures by the key verify" "$TC" note "$VK" "$TMP/twice"
{ cat "$TMP/a.note"; printf '— %s %s\n' "$NAME" "$badsig"; } >"$TMP/goodbad"
expect_fail "a good and a bad signature by the key fail" 'does not verify' \
    "$TC" note "$VK" "$TMP/goodbad"

# Malformed notes.
head -n 3 "$TMP/a.note" >"$TMP/bad"
tail -n 1 "$TMP/a.note" >>"$TMP/bad"
expect_fail "fails without the blank line" 'no blank line|signature line' \
    "$TC" note "$VK" "$TMP/bad"
head -n 4 "$TMP/a.note" >"$TMP/bad"
expect_fail "fails without signature lines" 'no signature lines' "$TC" note "$VK" "$TMP/bad"
printf '%s' "$(cat "$TMP/a.note")" >"$TMP/bad"
expect_fail "fails without the final newline" 'newline' "$TC" note "$VK" "$TMP/bad"
sed 's/$/\r/' "$TMP/a.note" >"$TMP/bad"
expect_fail "fails with CRLF line ends" 'control character 0x0d' "$TC" note "$VK" "$TMP/bad"
sed '$s/^—/-/' "$TMP/a.note" >"$TMP/bad"
expect_fail "fails with a hyphen instead of the em dash" 'em dash' "$TC" note "$VK" "$TMP/bad"
sed '$s/^— /—/' "$TMP/a.note" >"$TMP/bad"
expect_fail "fails without the space after the em dash" 'em dash' "$TC" note "$VK" "$TMP/bad"
{ printf '\377'; cat "$TMP/a.note"; } >"$TMP/bad"
expect_fail "fails with a byte that is not UTF-8" 'UTF-8' "$TC" note "$VK" "$TMP/bad"
sign "$NAME" "$(printf 'a\tb')" 7 "${ROOT[7]}" "$TMP/tab"
expect_fail "fails with a tab in the body, even signed" 'control character 0x09' \
    "$TC" note "$VK" "$TMP/tab.note"
{ head -n -1 "$TMP/a.note"; printf '— %s %s\n' "$NAME" "${sig64%=}"; } >"$TMP/bad"
expect_fail "fails with a signature that is not canonical base64" 'not base64' \
    "$TC" note "$VK" "$TMP/bad"
: >"$TMP/bad"
expect_fail "fails with an empty note" 'newline' "$TC" note "$VK" "$TMP/bad"
{ cat "$TMP/a.note"; printf '— bad+name %s\n' "$other"; } >"$TMP/bad"
expect_fail "fails with a signature line whose key name holds a plus" 'no valid key name' \
    "$TC" note "$VK" "$TMP/bad"
{ cat "$TMP/a.note"; printf '— bad\xc2\xa0name %s\n' "$other"; } >"$TMP/bad"
expect_fail "fails with a signature line whose key name holds a no-break space" \
    'no valid key name' "$TC" note "$VK" "$TMP/bad"
expect_fail "fails with a vkey whose name is empty" 'key name' "$TC" note "+$vid+$vkey64" \
    "$TMP/a.note"

# Signed, well-formed notes that are not checkpoints.
for s in 007 -1 "" "+7" " 7" "7 " 18446744073709551616 0x7 1e3; do
    sign "$NAME" "$NAME" "$s" "${ROOT[7]}" "$TMP/s"
    expect_fail "fails with the size line \"$s\" (signed)" 'checkpoint: ' \
        "$TC" note "$VK" "$TMP/s.note"
done
sign "$NAME" "$NAME" 18446744073709551615 "${ROOT[7]}" "$TMP/s"
run "$TC" note "$VK" "$TMP/s.note"
if [ "$status" -eq 0 ] && [ "$out" = "size=18446744073709551615 root=${ROOT[7]}" ]; then
    ok "the size 2^64-1 verifies"
else
    not_ok "the size 2^64-1 verifies" "exit $status, $out, ${err:0:200}"
fi
sign "$NAME" "" 7 "${ROOT[7]}" "$TMP/s"
expect_fail "fails with an empty origin line (signed)" 'line 1 is empty' \
    "$TC" note "$VK" "$TMP/s.note"

# Known answers: checkpoints signed by the Go checksum database, whose key
# is published in the Go distribution (their origin line is not the key
# name, hence a warning), and the golang.org/x/mod/sumdb/note example.
SUMDB=sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8
printf '%s\n' 'go.sum database tree' 6476701 mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk= '' \
    '— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=' \
    >"$TMP/sumdb1"
run "$TC" note "$SUMDB" "$TMP/sumdb1"
want="size=6476701 root=$(hexb64 mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=)"
if [ "$status" -eq 0 ] && [ "$out" = "$want" ] && printf '%s' "$err" | grep -q 'warning: origin'; then
    ok "a checkpoint signed by sum.golang.org verifies (with the origin warning)"
else
    not_ok "a checkpoint signed by sum.golang.org verifies (with the origin warning)" \
        "exit $status" "out: $out" "want: $want" "err: ${err:0:300}"
fi
printf '%s\n' 'go.sum database tree' 15067302 gJyioq6dwR9n+NjEWORfYmH+ubeYm3kH42BBQ0bTpYI= '' \
    '— sum.golang.org Az3grp1rvWOs5NKlr/xR4GLN/CDyzzakmt1o61uSxYKpK1SerqOP2ClbX/peKUZjYnyomH5Xz7GZG3TpB7OeKn4E2ww=' \
    '— test.example.com qTGhC/xIPQ0AXKHK6Y+9ypRfuvMZWPjRXM8NiOg5M1WREn07VQXyuIXM3NRNav3ieVFLUqDRK77PWDmL6w8w84UqeAw=' \
    >"$TMP/sumdb2"
expect 0 "a sum.golang.org checkpoint with a witness cosignature verifies" \
    "$TC" note "$SUMDB" "$TMP/sumdb2"
sed '2s/6476701/6476702/' "$TMP/sumdb1" >"$TMP/bad"
expect_fail "the sum.golang.org checkpoint fails with its size changed" 'does not verify' \
    "$TC" note "$SUMDB" "$TMP/bad"
PETER=PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW
printf '%s\n' 'If you think cryptography is the answer to your problem,' \
    "then you don't know what your problem is." '' \
    '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=' \
    >"$TMP/peter"
expect_fail "the Go note example: the signature verifies but it is not a checkpoint" \
    '^tlogcheck: checkpoint: 2 lines' "$TC" note "$PETER" "$TMP/peter"
sed 's/cryptography/cryptographY/' "$TMP/peter" >"$TMP/bad"
expect_fail "the Go note example fails with its text changed" 'does not verify' \
    "$TC" note "$PETER" "$TMP/bad"
# The Go example's signer key is "PRIVATE+KEY+PeterNeumann+c74f20a3+" and
# base64(0x01 || seed): the test signer must derive Go's vkey from that seed.
seed=$(hexb64 AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz)
run "$TC" sign-test-note PeterNeumann x 1 "$EMPTY" "${seed:2}"
if [ "$status" -eq 0 ] && [ "$(printf '%s\n' "$out" | head -n 1)" = "$PETER" ]; then
    ok "sign-test-note derives the Go example's vkey from its seed"
else
    not_ok "sign-test-note derives the Go example's vkey from its seed" "exit $status" \
        "${out:0:200}"
fi

# --- usage and I/O errors: exit 2 ----------------------------------------------------

expect 2 "no arguments is a usage error" "$TC"
expect 2 "an unknown command is a usage error" "$TC" verify
expect 2 "note without its file is a usage error" "$TC" note "$VK"
expect 2 "a missing note file is an error" "$TC" note "$VK" "$TMP/nonexistent"
expect 2 "a ROOT_HEX of 63 digits is a usage error" \
    "$TC" inclusion "${ROOT[7]:1}" 7 3 "$leaf3" "$TMP/incl"
expect 2 "a ROOT_HEX with a non-hex digit is a usage error" \
    "$TC" inclusion "${ROOT[7]:1}g" 7 3 "$leaf3" "$TMP/incl"
expect 2 "a SIZE that is not decimal is a usage error" \
    "$TC" inclusion "${ROOT[7]}" 7x 3 "$leaf3" "$TMP/incl"
expect 2 "a LEAF_INPUT_B64 that is not base64 is a usage error" \
    "$TC" inclusion "${ROOT[7]}" 7 3 'M=' "$TMP/incl"
expect 2 "a missing proof file is an error" \
    "$TC" inclusion "${ROOT[7]}" 7 3 "$leaf3" "$TMP/nonexistent"
expect 2 "consistency with a negative size is a usage error" \
    "$TC" consistency "${ROOT[3]}" -3 "${ROOT[7]}" 7 "$TMP/cons"
expect 2 "a missing leaves file is an error" "$TC" root "$TMP/nonexistent"
printf 'MA==\n!!\n' >"$TMP/bad"
expect 2 "a leaves file with a line that is not base64 is an error" "$TC" root "$TMP/bad"

echo "1..$TESTS"
