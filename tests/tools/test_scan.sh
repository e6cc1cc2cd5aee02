#!/usr/bin/env bash
# Self-test of scan-plaintext (TAP): plants each encoding of a few sample
# values inside random bytes and checks the scanner finds every one, naming
# the encoding and the offset; random bytes alone must give exit 0.  The
# planted encodings are made here with standard tools (printf, iconv, od,
# base64, awk), independently of the C code.
#
#   tests/tools/test_scan.sh PATH-TO-scan-plaintext
set -u
SCAN=${1:?usage: test_scan.sh PATH-TO-scan-plaintext}
TMP=$(mktemp -d /tmp/scan-plaintext-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
TESTS=0
PAD=1000 # random bytes before (and after) each planted needle

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

# --- encoders: stdin to stdout, bytes in, bytes out -------------------------

tohex() { od -An -v -tx1 | tr -d ' \n'; }
# fromhex HEX: writes the bytes HEX spells.
fromhex() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
reverse() { fromhex "$(od -An -v -tx1 | tr -s ' \n' '\n\n' | grep . | tac | tr -d '\n')"; }
# JSON \uXXXX escapes of non-ASCII characters (surrogate pairs above the
# BMP), ASCII as is; $1 is the printf format of the four hex digits.
json_escape() {
    iconv -f UTF-8 -t UTF-32BE | od -An -v -tu1 | tr -s ' \n' '\n\n' | grep . |
        awk -v fmt="$1" '{ c = c * 256 + $1; if (++n % 4) next
            if (c < 128) printf "%c", c
            else if (c < 65536) printf "\\u" fmt, c
            else { c -= 65536; printf "\\u" fmt "\\u" fmt, 55296 + int(c / 1024), 56320 + c % 1024 }
            c = 0 }'
}
# Percent-encoding of every byte but A-Z a-z 0-9 - . _ ~; form: space as +.
url_encode() {
    od -An -v -tu1 | tr -s ' \n' '\n\n' | grep . | awk -v form="${1:-}" '{
        if (($1 >= 65 && $1 <= 90) || ($1 >= 97 && $1 <= 122) || ($1 >= 48 && $1 <= 57) ||
            $1 == 45 || $1 == 46 || $1 == 95 || $1 == 126) printf "%c", $1
        else if (form && $1 == 32) printf "+"
        else printf "%%%02X", $1 }'
}
# bcd DIGITS: packed BCD, a leading 0 nibble for an odd count.
bcd() {
    local d=$1
    [ $((${#d} % 2)) -eq 1 ] && d="0$d"
    fromhex "$d"
}
# tbcd DIGITS: nibble-swapped BCD with an F filler, as in GSM.
tbcd() {
    local d=$1 h="" i
    [ $((${#d} % 2)) -eq 1 ] && d="${d}F"
    for ((i = 0; i < ${#d}; i += 2)); do h+="${d:i+1:1}${d:i:1}"; done
    fromhex "$h"
}
# int64 DIGITS le|be: the number as a 64-bit integer.
int64() {
    local h
    h=$(printf '%016x' "$((10#$1))")
    if [ "$2" = be ]; then
        fromhex "$h"
    else
        fromhex "$(printf '%s' "$h" | sed 's/../&\n/g' | grep . | tac | tr -d '\n')"
    fi
}

# --- the values -----------------------------------------------------------

NAME='张三丰'
PHONE='+8613812345678'
EMAIL='jane.doe@example.com'
IMEI='356938035643809'
MIXED='Zoë Müller'
printf '%s\n' "$NAME" "" "$PHONE" "$EMAIL" "   " "$IMEI" "$MIXED" >"$TMP/values"
line_of() { grep -n -x -F -- "$1" "$TMP/values" | cut -d: -f1; }

# plant LABEL VALUE [SKIP] < <(ENCODER): reads an encoding of VALUE on stdin, plants it
# between random bytes, and checks the scanner reports it at offset PAD+SKIP
# as LABEL.
N=0
plant() {
    local label=$1 value=$2 skip=${3:-0} dir line want
    N=$((N + 1))
    dir="$TMP/plant$N"
    mkdir -p "$dir/sub"
    # A NUL on each side, so that no random byte can extend the needle (a
    # '+' before a phone's digits, say) into another encoding.
    {
        head -c $((PAD - 1)) /dev/urandom
        printf '\0'
        cat
        printf '\0'
        head -c $((PAD - 1)) /dev/urandom
    } >"$dir/sub/blob"
    line=$(line_of "$value")
    want="$dir/sub/blob: offset $((PAD + skip)): value #$line (line $line of $TMP/values) as $label"
    run "$SCAN" "$TMP/values" "$dir"
    if [ "$status" -eq 1 ] && printf '%s\n' "$out" | grep -q -x -F -- "$want"; then
        ok "finds line $line as $label"
    else
        not_ok "finds line $line as $label" "exit $status, expected 1" "want: $want" \
            "got: ${out:0:600}" "stderr: ${err:0:300}"
    fi
}

for v in "$NAME" "$PHONE" "$EMAIL" "$IMEI" "$MIXED"; do
    plant "raw" "$v" < <(printf '%s' "$v")
    plant "utf-16le" "$v" < <(printf '%s' "$v" | iconv -f UTF-8 -t UTF-16LE)
    plant "utf-16be" "$v" < <(printf '%s' "$v" | iconv -f UTF-8 -t UTF-16BE)
    plant "utf-32le" "$v" < <(printf '%s' "$v" | iconv -f UTF-8 -t UTF-32LE)
    plant "hex" "$v" < <(printf '%s' "$v" | tohex)
    if [ "$(printf '%s' "$v" | tohex | tr -d 0-9)" ]; then # has a letter to differ
        plant "hex (upper)" "$v" < <(printf '%s' "$v" | tohex | tr a-f A-F)
    fi
    plant "reversed" "$v" < <(printf '%s' "$v" | reverse)
    # base64 after k filler bytes: the first ceil(8k/6) characters depend
    # on the filler, so the value's characters start that much later.
    for k in 0 1 2; do
        pre=$(head -c $k /dev/zero | tr '\0' 'Q')
        skip=$(((8 * k + 5) / 6))
        std=$(printf '%s%s' "$pre" "$v" | base64 -w0)
        url=$(printf '%s' "$std" | tr '+/' '-_')
        plant "base64 (offset $k)" "$v" "$skip" < <(printf '%s' "$std")
        if [ "$url" != "$std" ]; then
            plant "base64url (offset $k)" "$v" "$skip" < <(printf '%s' "$url")
        fi
    done
    if printf '%s' "$v" | LC_ALL=C grep -q '[^ -~]'; then
        plant "json-escaped" "$v" < <(printf '%s' "$v" | json_escape '%04x')
        plant "json-escaped (upper)" "$v" < <(printf '%s' "$v" | json_escape '%04X')
    fi
    case "$v" in
    *[!\ -~]* | *@* | *+*) plant "url-encoded" "$v" < <(printf '%s' "$v" | url_encode) ;;
    esac
    case "$v" in
    *' '*) plant "form-encoded" "$v" < <(printf '%s' "$v" | url_encode form) ;;
    esac
done

# Case variants.
plant "upper-case" "$EMAIL" < <(printf '%s' "$EMAIL" | tr a-z A-Z)
plant "lower-case" "$MIXED" < <(printf '%s' "$MIXED" | tr A-Z a-z)
plant "hex of lower-case" "$MIXED" < <(printf '%s' "$MIXED" | tr A-Z a-z | tohex)
plant "base64 (offset 0) of lower-case" "$MIXED" < <(printf '%s' "$MIXED" | tr A-Z a-z | base64 -w0)

# The phone: digits, national part, BCD and integers.
digits=$(printf '%s' "$PHONE" | tr -cd 0-9)
national=${digits#86}
plant "digits only" "$PHONE" < <(printf '%s' "$digits")
plant "national (without 86)" "$PHONE" < <(printf '%s' "$national")
plant "bcd of digits only" "$PHONE" < <(bcd "$digits")
plant "tbcd of digits only" "$PHONE" < <(tbcd "$digits")
plant "bcd of national (without 86)" "$PHONE" < <(bcd "$national")
plant "tbcd of national (without 86)" "$PHONE" < <(tbcd "$national")
plant "int64 le of digits only" "$PHONE" < <(int64 "$digits" le)
plant "int64 be of digits only" "$PHONE" < <(int64 "$digits" be)
plant "int64 le of national (without 86)" "$PHONE" < <(int64 "$national" le)

# The IMEI: BCD, TBCD (also the 3GPP layout, a type nibble first), integers.
plant "bcd" "$IMEI" < <(bcd "$IMEI")
plant "tbcd" "$IMEI" < <(tbcd "$IMEI")
plant "tbcd (half-byte shifted)" "$IMEI" 1 < <(tbcd "A$IMEI")
plant "int64 le" "$IMEI" < <(int64 "$IMEI" le)
plant "int64 be" "$IMEI" < <(int64 "$IMEI" be)

# --- nothing to find ---------------------------------------------------------

R="$TMP/random"
mkdir -p "$R/a/b" "$R/c"
for f in a/1 a/b/2 c/3 4; do head -c 1000000 /dev/urandom >"$R/$f"; done
: >"$R/empty"
ln -s "$TMP/plant1/sub/blob" "$R/link-to-planted" # never followed
ln -s "$TMP/plant1" "$R/c/dirlink"
run "$SCAN" "$TMP/values" "$R"
if [ "$status" -eq 0 ] && [ -z "$out" ]; then
    ok "random bytes, an empty file and symbolic links to plants give exit 0"
else
    not_ok "random bytes, an empty file and symbolic links to plants give exit 0" \
        "exit $status" "${out:0:400}"
fi
if printf '%s\n' "$err" | grep -q -x -E \
    'scanned 5 files, 4000000 bytes, 5 values, [0-9]+ needles: 0 hits'; then
    ok "summary counts files, bytes, values"
else
    not_ok "summary counts files, bytes, values" "${err:0:400}"
fi

# --- options and errors -------------------------------------------------------

printf '%s' "$NAME" | iconv -f UTF-8 -t UTF-16LE >"$TMP/u16" # 6 bytes
run "$SCAN" --min 7 "$TMP/values" "$TMP/u16"
if [ "$status" -eq 0 ] && printf '%s' "$err" | grep -q 'skipped [0-9]* needles shorter than 7'; then
    ok "--min 7 skips a 6-byte needle and says so"
else
    not_ok "--min 7 skips a 6-byte needle and says so" "exit $status" "${err:0:300}"
fi
run "$SCAN" --min=6 "$TMP/values" "$TMP/u16"
if [ "$status" -eq 1 ]; then ok "--min=6 finds it"; else not_ok "--min=6 finds it" "exit $status"; fi

mkdir -p "$TMP/many"
for i in $(seq 1 60); do printf 'xx%syy' "$EMAIL" >"$TMP/many/f$i"; done
run "$SCAN" "$TMP/values" "$TMP/many"
shown=$(printf '%s\n' "$out" | grep -c ': offset ')
if [ "$status" -eq 1 ] && [ "$shown" -eq 50 ] && printf '%s\n' "$out" | grep -q -x '60 hits' &&
    printf '%s\n' "$err" | grep -q ': 60 hits$'; then
    ok "shows 50 hit lines of 60, then the count"
else
    not_ok "shows 50 hit lines of 60, then the count" "exit $status, $shown shown" "${err:0:300}"
fi
leak=0
for v in "$NAME" "$PHONE" "$EMAIL" "$IMEI" "$MIXED" "$digits" "$national"; do
    case "$out$err" in *"$v"*) leak=1 ;; esac
done
if [ "$leak" -eq 0 ]; then ok "never prints a value"; else not_ok "never prints a value"; fi

expect2() {
    local desc=$1
    shift
    run "$@"
    if [ "$status" -eq 2 ]; then ok "$desc"; else not_ok "$desc" "exit $status, expected 2"; fi
}
expect2 "no arguments is a usage error" "$SCAN"
expect2 "no PATH is a usage error" "$SCAN" "$TMP/values"
expect2 "an unknown option is a usage error" "$SCAN" --bogus "$TMP/values" "$R"
expect2 "--min 0 is a usage error" "$SCAN" --min 0 "$TMP/values" "$R"
expect2 "a missing values file is an error" "$SCAN" "$TMP/nonexistent" "$R"
printf '\n  \n' >"$TMP/novalues"
expect2 "a values file without values is an error" "$SCAN" "$TMP/novalues" "$R"
expect2 "a missing PATH is an error" "$SCAN" "$TMP/values" "$R" "$TMP/nonexistent"
if [ "$(id -u)" -ne 0 ]; then
    head -c 100 /dev/urandom >"$TMP/unreadable" && chmod 000 "$TMP/unreadable"
    expect2 "an unreadable file is an error" "$SCAN" "$TMP/values" "$TMP/unreadable"
fi

# --- speed: 5,000 values over 50 MB -------------------------------------------

awk 'BEGIN { srand(7); for (i = 0; i < 1250; i++) {
        printf "Customer%05d Surname%04d\n", i, int(rand() * 10000)
        printf "+86138%08d\n", int(rand() * 100000000)
        printf "user%05d.%d@example.com\n", i, int(rand() * 1000)
        printf "35%06d%07d\n", int(rand() * 1000000), int(rand() * 10000000) } }' >"$TMP/v5000"
mkdir -p "$TMP/big"
for i in 1 2 3 4 5; do head -c 10000000 /dev/urandom >"$TMP/big/$i"; done
start=$(date +%s%N)
run "$SCAN" "$TMP/v5000" "$TMP/big"
ms=$((($(date +%s%N) - start) / 1000000))
echo "# 5,000 values over 50 MB: ${ms} ms; ${err//$'\n'/; }"
if [ "$status" -eq 0 ] && [ "$ms" -lt 30000 ]; then
    ok "5,000 values over 50 MB of random bytes: no hit, in ${ms} ms"
else
    not_ok "5,000 values over 50 MB of random bytes: no hit, in ${ms} ms" "exit $status" \
        "${out:0:400}"
fi

echo "1..$TESTS"
