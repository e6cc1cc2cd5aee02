#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (issue 8).
#
#   eval "$(tests/pg.sh start)"    starts one; prints the shell lines that
#                                  export CUSTODIAN_PG_DIR (its folder) and
#                                  CUSTODIAN_PG_URL (a postgres:// URL of
#                                  its maintenance database)
#   tests/pg.sh start --durable [--preload LIBS]
#                                  the same, configured as a benchmark needs
#                                  it (below), with shared_preload_libraries
#                                  = LIBS (e.g. pgaudit)
#   tests/pg.sh stop DIR           stops it and deletes DIR
#
# The cluster lives in a new temporary folder: initdb there, a free
# loopback port, trust authentication on loopback only, and no fsync (the
# tests never need the data after a power cut).  With --durable (bench/):
# PostgreSQL's defaults for durability (fsync, synchronous commit, full
# page writes) and 256 MB of shared buffers, so that a commit costs what it
# costs in production.  PostgreSQL refuses to run
# as root: as root, everything runs as the "postgres" user that Debian's
# package creates, and the folder belongs to it.
set -eu

bindir() {
    local d
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
        return
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
    echo "pg.sh: no PostgreSQL server found (install postgresql)" >&2
    exit 1
}

# as_owner CMD...: runs CMD as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local bin dir port durable="" preload="" tuning
    while [ $# -gt 0 ]; do
        case "$1" in
        --durable) durable=1; shift ;;
        --preload) [ $# -ge 2 ] || usage; preload=$2; shift 2 ;;
        *) usage ;;
        esac
    done
    if [ -n "$durable" ]; then
        tuning="shared_buffers = 256MB
max_wal_size = 1GB"
    else
        tuning="fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_wal_size = 64MB
min_wal_size = 32MB"
    fi
    [ -n "$preload" ] && tuning="$tuning
shared_preload_libraries = '$preload'"
    bin=$(bindir)
    dir=$(mktemp -d /tmp/custodian-pg.XXXXXX)
    chmod 700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    if ! as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2
        cat "$dir/initdb.log" >&2
        rm -rf "$dir"
        exit 1
    fi
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        cat >>"$dir/data/postgresql.conf" <<EOF
# tests/pg.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
$tuning
log_min_messages = warning
EOF
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
            >/dev/null 2>&1; then
            echo "export CUSTODIAN_PG_DIR='$dir'"
            echo "export CUSTODIAN_PG_URL='postgres://postgres@127.0.0.1:$port/postgres'"
            return
        fi
        # the port was taken meanwhile: try another
        sed -i '/^# tests\/pg.sh$/,$d' "$dir/data/postgresql.conf"
    done
    echo "pg.sh: the server did not start:" >&2
    cat "$dir/server.log" >&2 || true
    rm -rf "$dir"
    exit 1
}

stop() {
    local dir=${1:?usage: tests/pg.sh stop DIR} bin
    case "$dir" in /tmp/custodian-pg.*) ;; *)
        echo "pg.sh: not a cluster of pg.sh: $dir" >&2
        exit 1
        ;;
    esac
    bin=$(bindir)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop \
        >/dev/null 2>&1 || true
    rm -rf "$dir"
}

usage() {
    echo "usage: tests/pg.sh start [--durable] [--preload LIBS] | stop DIR" >&2
    exit 2
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) stop "${2:-}" ;;
*) usage ;;
esac
