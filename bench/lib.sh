# Shared by the HTTP benchmarks (bench/serve, bench/soak): tools, the data
# folder under a benchmark policy, starting and stopping `custodian serve`,
# clerks with verified cases, reading /metrics.  The sourcing script sets
# $cu (the binary), $repo, $work (a scratch folder), $data, and say/die,
# and keeps $server_pid in its cleanup.

# install_packages PACKAGE...: installs the Debian packages not installed yet, as
# scripts/deps.sh does (apt-get, as root or with sudo).
install_packages() {
    local missing="" p SUDO=""

    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    say "installing:$missing"
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install:$missing"
        SUDO=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
install_packages wrk jq oathtool curl

# Stops a process started here (SIGTERM) and waits for it; the exit status
# of the process is returned.
stop() {
    local pid=$1 st=0

    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || st=$?
    return $st
}
# The machine and the commit, for the report.
cpu_model=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git -C "$repo" diff-index --quiet HEAD -- 2>/dev/null; then
    commit="$commit (working tree differs from it)"
fi

# make_vault N [STORE]: a data folder with N generated customers (gen
# --seed 1) and the benchmark policy, its store at STORE (init --store;
# default: SQLite in the folder); $work/customers.csv and $work/imeis.txt
# (4,096 IMEIs of imported devices) for the load scripts.
make_vault() {
    local customers=$1 rows step

    say "data folder $data: $customers customers (gen --seed 1, import)"
    "$cu" --data "$data" init ${2:+--store "$2"} >/dev/null
    "$cu" gen customers "$customers" --seed 1 >"$work/customers.csv"
    "$cu" --data "$data" import "$work/customers.csv" >/dev/null

    # The benchmark policy: one clerk role whose limits cannot block a benchmark
    # (quotas at the policy's maximum, 1,000,000 an hour; each point uses its own
    # clerk), the statutory meter and enumeration limits out of reach, store open
    # all day.  Quota, meter, enumeration and hours checks still run on every
    # request.
    cat >"$data/policy.json" <<'EOF'
{
  "_comment": "bench/serve, bench/soak: limits out of a benchmark's reach; every check still runs",
  "version": 1,
  "roles": {
    "clerk": {
      "lookup": true,
      "open": ["customer_support"],
      "approve": false,
      "customer_support": {
        "account": "full", "name": "full", "phone": "full", "email": "full",
        "address": "masked", "birth_date": "masked", "devices": "full"
      },
      "quotas": {
        "lookups_per_hour": 1000000, "lookups_per_day": 1000000,
        "reveals_per_hour": 1000000, "reveals_per_day": 1000000,
        "step_up_fraction": 1
      }
    }
  },
  "statutory": {
    "window_days": 1,
    "thresholds": {
      "whereabouts": 10000000, "communication_content": 10000000, "credit": 10000000,
      "property": 10000000, "accommodation": 10000000, "communication_records": 10000000,
      "health": 10000000, "transaction": 10000000, "other": 10000000
    },
    "duty_factor": 1,
    "alert_fraction": 1,
    "block_fraction": 1,
    "fields": {
      "account": "other", "name": "other", "phone": "other", "email": "other",
      "address": "accommodation", "birth_date": "other", "devices": "transaction"
    }
  },
  "enumeration": {
    "window_hours": 1,
    "imei_serial_distance": 1,
    "phone_distance": 1,
    "alert_after": 1000000,
    "block_after": 1000000
  },
  "store_hours": {
    "default": { "timezone": "Asia/Shanghai", "open": "00:00", "close": "24:00" },
    "stores": {}
  }
}
EOF

    # 4,096 IMEIs of imported devices, spread over the file; the IMEI is the
    # only field of 15 bare digits in a generated row.
    rows=$(($(wc -l <"$work/customers.csv") - 1))
    step=$((rows / 4096 > 0 ? rows / 4096 : 1))
    awk -v s="$step" 'NR > 1 && (NR - 2) % s == 0' "$work/customers.csv" |
        grep -oE '(^|,)[0-9]{15}(,|$)' | tr -d , | head -4096 >"$work/imeis.txt"
    [ -s "$work/imeis.txt" ] || die "no IMEIs found in the generated file"
    say "$(wc -l <"$work/imeis.txt") IMEIs to look up"
}

# ---- servers -------------------------------------------------------------------

# start_custodian [DIR]: starts `custodian serve` on the data folder DIR
# (default $data) on a free port, its log in DIR.log; sets server_pid, url.
start_custodian() {
    local dir=${1:-$data} port=""

    "$cu" --data "$dir" serve --listen 127.0.0.1:0 >"$dir.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        # "serving on http://HOST:PORT", or "... (port PORT)" when asked for port 0
        port=$(sed -n -e 's/.*serving on .*(port \([0-9][0-9]*\)).*/\1/p' \
            -e 's|.*serving on http://[^ ]*:\([1-9][0-9]*\)$|\1|p' "$dir.log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || die "custodian serve did not start: $(cat "$dir.log")"
    url="http://127.0.0.1:$port"
}

# stop_custodian [DIR]: SIGTERM to server_pid (started on DIR, default
# $data); the server must exit 0.
stop_custodian() {
    local pid=$server_pid

    server_pid=""
    stop "$pid" || die "custodian serve exited with status $?: $(tail -3 "${1:-$data}.log")"
}

# api METHOD PATH [BODY] [TOKEN]: sets $code and $out.
api() {
    local args=(-sS -o "$work/body" -w '%{http_code}' -X "$1" "$url$2")

    [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' -d "$3")
    [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
    code=$(curl "${args[@]}") || die "curl $1 $2 failed"
    out=$(cat "$work/body")
}
expect() {
    [ "$code" = "$1" ] || die "$2: expected $1, got $code: $out"
}

# new_clerk USER: adds the clerk, logs in once (password and the current TOTP
# code; each account logs in once, so no TOTP code is used twice), changes
# the one-time password (the session goes on) and prints the bearer token.
new_clerk() {
    local user=$1 json pw secret token

    json=$("$cu" --data "$data" staff add "$user" --role clerk --store S001 --json)
    pw=$(printf '%s' "$json" | jq -r .password)
    secret=$(printf '%s' "$json" | jq -r .totp_secret)
    api POST /v1/login "$(jq -cn --arg u "$user" --arg p "$pw" --arg t "$(oathtool --totp -b "$secret")" \
        '{username: $u, password: $p, totp: $t}')"
    expect 200 "log-in of $user"
    token=$(printf '%s' "$out" | jq -r .token)
    api POST /v1/password "$(jq -cn --arg o "$pw" --arg n "bench-$user-password" '{old: $o, new: $n}')" \
        "$token"
    case "$code" in 200 | 204) ;; *) expect 204 "password change of $user" ;; esac
    printf '%s' "$token"
}

# verified_case TOKEN CUSTOMER_ID: opens a customer_support case, reads the
# one-time code from the outbox, verifies; prints the case id.
verified_case() {
    local token=$1 cid=$2 case_id otp

    api POST /v1/cases "{\"purpose\":\"customer_support\",\"customer_id\":\"$cid\"}" "$token"
    expect 201 "opening a case for $cid"
    case_id=$(printf '%s' "$out" | jq -r .case_id)
    [ "$(printf '%s' "$out" | jq -r .status)" = awaiting_verification ] ||
        die "a new customer_support case should await verification: $out"
    otp=$("$cu" --data "$data" outbox --json |
        jq -r --arg id "$case_id" '[.messages[] | select(.case_id == $id)][-1].body' |
        grep -oE '(^|[^0-9])[0-9]{6}([^0-9]|$)' | tr -dc 0-9 | head -c 6)
    [ ${#otp} = 6 ] || die "no one-time code in the outbox for case $case_id"
    api POST "/v1/cases/$case_id/verify" "{\"code\":\"$otp\"}" "$token"
    expect 200 "verifying case $case_id"
    [ "$(printf '%s' "$out" | jq -r .status)" = verified ] || die "case not verified: $out"
    printf '%s' "$case_id"
}

# wrk_run URL SCRIPT CONNECTIONS SECONDS OUT [ARGS...]: one wrk run of the
# Lua script bench/serve/SCRIPT (or a path) with min(2, CONNECTIONS)
# threads, ARGS passed to the script; wrk's output in OUT.
wrk_run() {
    local target=$1 script=$2 c=$3 seconds=$4 out=$5

    shift 5
    case "$script" in */*) ;; *) script="$repo/bench/serve/$script" ;; esac
    wrk -t $((c < 2 ? c : 2)) -c "$c" -d "${seconds}s" --latency -s "$script" "$target" -- "$@" \
        >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
}

# wrk_result OUT WHAT: the RESULT line of the bench Lua scripts in wrk's
# output OUT, as variables (requests rps p50_ms p99_ms non2xx connect read
# write timeout); dies, naming WHAT, on an answer other than 2xx or a
# socket error.
wrk_result() {
    local res
    res=$(grep '^RESULT ' "$1") || die "$2: wrk printed no result: $(cat "$1")"
    eval "$(printf '%s' "$res" | sed 's/^RESULT //')"
    # shellcheck disable=SC2154
    [ "$non2xx" = 0 ] || die "$2: $non2xx answers were not 2xx"
    # shellcheck disable=SC2154
    [ "$connect$read$write$timeout" = 0000 ] ||
        die "$2: socket errors: connect $connect, read $read, write $write, timeout $timeout"
}

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# metric NAME ROUTE STATUS_REGEX: the sum of the series of custodian's
# /metrics with that route whose status label matches.
metric() {
    curl -sS "$url/metrics" | awk -v name="$1" -v route="route=\"$2\"" -v re="$3" '
        index($0, name "{") == 1 && index($0, route) {
            st = ""
            if (match($0, /status="[0-9]+"/)) st = substr($0, RSTART + 8, RLENGTH - 9)
            if (re == "" || st ~ re) sum += $NF
        }
        END { printf "%.9g\n", sum + 0 }'
}

# plain NAME: the value of custodian's unlabelled series NAME (0 when absent).
plain() {
    curl -sS "$url/metrics" | awk -v name="$1" '$1 == name { v = $2 } END { printf "%.9g\n", v + 0 }'
}

