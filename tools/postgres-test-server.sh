#!/usr/bin/env bash
# A private, throwaway PostgreSQL server for the test suite.
#
#   tools/postgres-test-server.sh start   start a fresh server; print its URL,
#                                         postgres://authd@127.0.0.1:PORT/postgres
#   tools/postgres-test-server.sh stop    stop it and delete its data (nothing running: exit 0)
#   tools/postgres-test-server.sh url     print the running server's URL (exit 1 when none)
#
# The URL is the only line `start` writes to stdout; everything else goes to stderr.
#
# `start` installs Debian's `postgresql` package when no initdb is found under
# /usr/lib/postgresql/*/bin (apt-get, with sudo when not root, as `make apt-deps`
# does), then stops the cluster the package creates and starts (15/main on port
# 5432) and sets it to start manually, so it takes no port and no CPU. It then
# runs the newest initdb into a fresh data directory (superuser `authd`, trust
# authentication, UTF8, locale C) and starts that cluster with pg_ctl on the first
# port from 25432 upward that nothing listens on: 127.0.0.1 only, TCP only (no Unix
# socket), fsync, synchronous_commit and full_page_writes off (kept on with
# DURABLE=1, for benchmarks), max_connections 300. It returns once pg_isready
# answers (up to about 30 s).
#
# A `start` while a server from an earlier `start` of this checkout still runs
# stops that server and deletes its data first: every `start` gives an empty
# cluster. A state file whose server is gone is cleaned up the same way.
#
# Where things live, for the checkout this script belongs to (whatever the
# current directory):
#   .build/postgres-test/state        port, data directory, postmaster pid
#   .build/postgres-test/server.log   the server's log (stdout and stderr)
#   .build/postgres-test/initdb.log   initdb's output
#   the data directory                .build/postgres-test/data when the server's
#                                     user can reach it, else a fresh
#                                     /tmp/authd-postgres-test.XXXXXX
# PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as Debian's
# `postgres` system user (runuser), who cannot traverse a checkout inside a
# mode-0700 directory (mktemp -d) -- hence the /tmp fallback. When not root, they
# run as the current user. The log is opened by this script and inherited by the
# server, so it can stay under the checkout either way.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# POSTGRES_TEST_STATE_DIR gives a second server its own state (tools/bench-stores.sh).
STATE_DIR=${POSTGRES_TEST_STATE_DIR:-$ROOT/.build/postgres-test}
STATE_FILE=$STATE_DIR/state
LOG_FILE=$STATE_DIR/server.log
INITDB_LOG=$STATE_DIR/initdb.log
FIRST_PORT=25432
LAST_PORT=25531
TMP_PREFIX=/tmp/authd-postgres-test.

log() { printf 'postgres-test-server: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if [ "$(id -u)" = 0 ]; then
    IS_ROOT=1 SUDO="" SERVER_USER=postgres
else
    IS_ROOT="" SUDO=sudo SERVER_USER=$(id -un)
fi

usage() {
    echo "usage: tools/postgres-test-server.sh start|stop|url" >&2
    exit 2
}

# Run a PostgreSQL program as the server's user, from / (the caller's directory
# may be one that user cannot enter), with no descriptor but 0, 1 and 2: a
# postmaster inheriting one would keep it for its whole life (the lock's, or a
# pipe the caller waits to see closed).
as_server() {
    (
        cd /
        local fd
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
        done
        if [ -n "$IS_ROOT" ]; then
            exec runuser -u "$SERVER_USER" -- "$@"
        else
            exec "$@"
        fi
    )
}

# Serialise start and stop of this checkout's server.
take_lock() {
    mkdir -p "$STATE_DIR"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$STATE_DIR/lock"
        flock 9
    fi
}

# The newest /usr/lib/postgresql/*/bin with initdb and pg_ctl; empty when none.
find_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/pg_isready" ]; then
            printf '%s\n' "$d"
        fi
    done | sort -V | tail -n 1
}

install_postgresql() {
    log "no initdb under /usr/lib/postgresql/*/bin: installing Debian's postgresql package"
    $SUDO apt-get update -qq >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    quiet_package_clusters
}

# The package creates a cluster (15/main, port 5432) and starts it where it can:
# the tests never use it. Stop it, and keep it from starting with the machine.
quiet_package_clusters() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    local ver name port status rest
    while read -r ver name port status rest; do
        [ -n "$name" ] || continue
        if [ -f "/etc/postgresql/$ver/$name/start.conf" ]; then
            echo manual | $SUDO tee "/etc/postgresql/$ver/$name/start.conf" >/dev/null
        fi
        case $status in
            online*)
                log "stopping the package's cluster $ver/$name (port $port)"
                $SUDO pg_ctlcluster "$ver" "$name" stop >&2 ||
                    $SUDO service postgresql stop >&2 || true
                ;;
        esac
    done < <(pg_lsclusters -h 2>/dev/null || true)
    if pg_lsclusters -h 2>/dev/null | awk '$4 ~ /^online/ { found = 1 } END { exit !found }'; then
        $SUDO service postgresql stop >&2 || true
    fi
}

port_is_free() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        [ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
    else
        python3 -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' \
            "$port" 2>/dev/null
    fi
}

read_state() {
    port="" data_dir="" pid="" bindir=""
    [ -f "$STATE_FILE" ] || return 1
    local key value
    while IFS='=' read -r key value; do
        case $key in
            port) port=$value ;;
            data_dir) data_dir=$value ;;
            pid) pid=$value ;;
            bindir) bindir=$value ;;
        esac
    done <"$STATE_FILE"
    return 0
}

# Only ever delete a directory this script makes.
removable() {
    case $1 in
        "$STATE_DIR/data" | "$TMP_PREFIX"??????) return 0 ;;
        *) return 1 ;;
    esac
}

# Is PID the postmaster of DATA_DIR (not a process that reused the pid)?
is_postmaster_of() {
    local pid=$1 dir=$2
    [ -n "$pid" ] && [ -n "$dir" ] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$dir"
}

# Stop the server of DIR if one runs (PID: its postmaster, or empty to read
# DIR/postmaster.pid), then delete DIR.
stop_and_remove() {
    local dir=$1 pid=${2:-} bin=${3:-}
    [ -n "$dir" ] || return 0
    if [ -z "$pid" ] && [ -f "$dir/postmaster.pid" ]; then
        pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null || true)
    fi
    [ -n "$bin" ] || bin=$(find_bindir)
    if is_postmaster_of "$pid" "$dir"; then
        log "stopping the server of $dir (pid $pid)"
        if ! as_server "$bin/pg_ctl" stop -D "$dir" -m fast -w -t 30 </dev/null >>"$LOG_FILE" 2>&1; then
            log "pg_ctl stop -m fast failed; trying -m immediate"
            as_server "$bin/pg_ctl" stop -D "$dir" -m immediate -w -t 30 </dev/null >>"$LOG_FILE" 2>&1 || true
        fi
        local i
        for i in $(seq 100); do
            is_postmaster_of "$pid" "$dir" || break
            sleep 0.1
        done
        if is_postmaster_of "$pid" "$dir"; then
            die "the server of $dir (pid $pid) does not stop; see $LOG_FILE"
        fi
        # The postmaster's parent is init (pg_ctl has exited), which may take a
        # moment to reap it: give it up to 2 s, so that no <defunct> postgres is
        # left in `ps` when stop returns.
        for i in $(seq 20); do
            [ -e "/proc/$pid" ] || break
            sleep 0.1
        done
    fi
    if [ -e "$dir" ]; then
        if removable "$dir"; then
            rm -rf -- "$dir"
        else
            log "not deleting $dir: not a directory this script makes"
        fi
    fi
}

# Stop what an earlier `start` left, running or not, and forget it.
stop_recorded() {
    if read_state; then
        stop_and_remove "$data_dir" "$pid" "$bindir"
        rm -f -- "$STATE_FILE"
    fi
    # A start that died before writing the state file may leave this behind.
    if [ -e "$STATE_DIR/data" ]; then
        stop_and_remove "$STATE_DIR/data"
    fi
}

url_of() { printf 'postgres://authd@127.0.0.1:%s/postgres\n' "$1"; }

# A fresh, empty data directory the server's user owns and can reach.
make_data_dir() {
    local dir=$STATE_DIR/data
    mkdir -m 0700 "$dir"
    [ -z "$IS_ROOT" ] || chown "$SERVER_USER:" "$dir"
    if as_server test -w "$dir" && as_server test -x "$dir"; then
        printf '%s\n' "$dir"
        return
    fi
    rmdir "$dir"
    dir=$(mktemp -d "${TMP_PREFIX}XXXXXX")
    [ -z "$IS_ROOT" ] || chown "$SERVER_USER:" "$dir"
    log "$SERVER_USER cannot reach $STATE_DIR: the data directory is $dir"
    printf '%s\n' "$dir"
}

cmd_start() {
    take_lock
    stop_recorded

    local bin
    bin=$(find_bindir)
    if [ -z "$bin" ]; then
        install_postgresql
        bin=$(find_bindir)
        [ -n "$bin" ] || die "still no initdb under /usr/lib/postgresql/*/bin after installing postgresql"
    fi
    if [ -n "$IS_ROOT" ] && ! id -u "$SERVER_USER" >/dev/null 2>&1; then
        die "PostgreSQL does not run as root, and there is no '$SERVER_USER' user to run it as"
    fi

    local dir started="" ok=""
    dir=$(make_data_dir)
    # Whatever goes wrong from here on leaves no server and no data behind.
    trap 'if [ -z "$ok" ]; then stop_and_remove "$dir" "" "$bin"; rm -f -- "$STATE_FILE"; fi' EXIT

    if ! as_server "$bin/initdb" -D "$dir" -U authd --auth=trust --encoding=UTF8 --locale=C \
        --no-sync </dev/null >"$INITDB_LOG" 2>&1; then
        cat "$INITDB_LOG" >&2
        die "initdb failed (output in $INITDB_LOG)"
    fi
    cat >>"$dir/postgresql.conf" <<'EOF'

# tools/postgres-test-server.sh: a throwaway server for the tests (port: pg_ctl -o -p)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
EOF
    # Benchmarks compare with SQLite's synced commits: DURABLE=1 keeps PostgreSQL's.
    if [ -z "${DURABLE:-}" ]; then
        printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' >>"$dir/postgresql.conf"
    fi

    : >"$LOG_FILE"
    local port
    for port in $(seq "$FIRST_PORT" "$LAST_PORT"); do
        port_is_free "$port" || continue
        if as_server "$bin/pg_ctl" start -D "$dir" -w -t 30 -o "-p $port" \
            </dev/null >>"$LOG_FILE" 2>&1; then
            started=1
            break
        fi
        # Someone took the port between the check and the bind: try the next one.
        if tail -n 20 "$LOG_FILE" | grep -qE 'could not (bind|create any TCP/IP sockets)|already in use'; then
            continue
        fi
        tail -n 20 "$LOG_FILE" >&2
        die "the server did not start (log: $LOG_FILE)"
    done
    [ -n "$started" ] || die "no free port in $FIRST_PORT-$LAST_PORT"

    local pid
    pid=$(head -n 1 "$dir/postmaster.pid")
    printf 'port=%s\ndata_dir=%s\npid=%s\nbindir=%s\n' "$port" "$dir" "$pid" "$bin" >"$STATE_FILE.new"
    mv -f -- "$STATE_FILE.new" "$STATE_FILE"

    local i
    for i in $(seq 150); do
        if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U authd -d postgres </dev/null >/dev/null 2>&1; then
            ok=1
            break
        fi
        is_postmaster_of "$pid" "$dir" || break
        sleep 0.2
    done
    if [ -z "$ok" ]; then
        tail -n 20 "$LOG_FILE" >&2
        die "the server on port $port does not accept connections (log: $LOG_FILE)"
    fi
    trap - EXIT
    log "server on 127.0.0.1:$port, pid $pid, data in $dir, log in $LOG_FILE"
    url_of "$port"
}

cmd_stop() {
    [ -e "$STATE_FILE" ] || [ -e "$STATE_DIR/data" ] || return 0
    take_lock
    stop_recorded
}

cmd_url() {
    read_state || die "no server: run tools/postgres-test-server.sh start"
    is_postmaster_of "$pid" "$data_dir" || die "the server of the last start (pid $pid) is gone"
    url_of "$port"
}

[ $# = 1 ] || usage
case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    *) usage ;;
esac
