#!/usr/bin/env bash
# GetMe and Login on each store, in one run (docs/benchmarks.md, "The stores side by
# side"): SQLite; PostgreSQL with one authd; PostgreSQL with two authd instances, the
# client's connections spread over both. Everything shares this machine's cores: the
# client, authd and PostgreSQL. PostgreSQL is a private cluster started for the run
# (tools/postgres-test-server.sh with DURABLE=1: fsync and synchronous commits on, as
# SQLite's commits are synced), stopped at the end. Rounds alternate the setups so that
# drift hits each. Not part of `make test`.
#   tools/bench-stores.sh                              after: swift build -c release
#   ROUNDS=3 DURATION=10 CONNECTIONS=4 CONCURRENCY=16 WORKLOADS="getme getme-uncached login" tools/bench-stores.sh
# Workloads: getme (the session cache on, as shipped), getme-uncached (the cache off:
# every check reads the store), login (scrypt ln=14, r=8, p=1; each call in flight logs in
# to an account of its own; the hashing queue is widened, as authbench sends no end-user
# address and the default queue takes 4 per address). Columns: answered calls/s, errors, p50 and
# p99 in ms, then CPU µs per call of authd (both instances summed) and of PostgreSQL (every
# process of the cluster), from /proc/PID/stat over the run and its warm-up, divided by
# the calls of both (throughput x (duration + 2 s)).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BIN:-.build/release}
rounds=${ROUNDS:-3}
duration=${DURATION:-10}
connections=${CONNECTIONS:-4}
concurrency=${CONCURRENCY:-16}
workloads=${WORKLOADS:-getme getme-uncached login}
setups=${SETUPS:-sqlite postgres postgres-2}
first_port=${PORT:-7480}
ticks=$(getconf CLK_TCK)
workdir=$(mktemp -d)
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    POSTGRES_TEST_STATE_DIR=$PWD/.build/postgres-bench tools/postgres-test-server.sh stop >/dev/null 2>&1 || true
    rm -rf "$workdir"
}
trap cleanup EXIT

for tool in authd authbench; do
    [ -x "$bin/$tool" ] || { echo "no $bin/$tool: swift build -c release first" >&2; exit 1; }
done

# A server of its own (not the tests'), so that a test run cannot stop it mid-benchmark.
export POSTGRES_TEST_STATE_DIR=$PWD/.build/postgres-bench
server_url=$(DURABLE=1 tools/postgres-test-server.sh start)
psql=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql
postmaster=$(awk -F= '$1 == "pid" { print $2 }' "$POSTGRES_TEST_STATE_DIR/state")

# "pid ticks" lines (user + system) of the given pids; a pid that is gone has none.
ticks_by_pid() {
    local pid
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] && awk -v p="$pid" '{ sub(/.*\) /, ""); split($0, f, " "); print p, f[12] + f[13] }' "/proc/$pid/stat"
    done
    return 0
}
# user + system ticks of the given pids, summed.
ticks_of() { ticks_by_pid "$@" | awk '{ t += $2 } END { print t + 0 }'; }
# Ticks the cluster spent between two ticks_by_pid snapshots: for a process in both, the
# difference; one started meanwhile counts from zero; one that ended meanwhile took its
# ticks with it (so the pool keeps its connections: idle timeout 60 s).
ticks_between() { awk 'NR == FNR { before[$1] = $2; next } { t += $2 - ($1 in before ? before[$1] : 0) } END { print t + 0 }' "$1" "$2"; }
# The cluster's processes now: the postmaster and its children.
cluster_pids() { echo "$postmaster" $(pgrep -P "$postmaster" || true); }

start_authd() {  # port, then authd's store arguments
    local port=$1
    shift
    "$bin/authd" --port "$port" --log-level warning --scrypt-log-n 14 --scrypt-r 8 --scrypt-p 1 \
        --hashing-max-waiting 4096 --hashing-max-per-source 4096 \
        --admin-key-file "$workdir/admin-key-$port" "$@" >"$workdir/authd-$port.out" 2>&1 &
    pids+=($!)
    local i
    for i in $(seq 200); do
        grep -q "listening" "$workdir/authd-$port.out" 2>/dev/null && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    cat "$workdir/authd-$port.out" >&2
    echo "authd on port $port did not start" >&2
    exit 1
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores shared by client, authd and PostgreSQL, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $bin, $rounds rounds, $connections x $concurrency in flight, $duration s after authbench's 2 s warm-up"
echo "# PostgreSQL $("$psql" -X -At -d "$server_url" -c 'SHOW server_version'), fsync $("$psql" -X -At -d "$server_url" -c 'SHOW fsync'), synchronous_commit $("$psql" -X -At -d "$server_url" -c 'SHOW synchronous_commit')"
printf '%-5s %-11s %-15s %10s %7s %8s %8s %12s %12s\n' round store workload "calls/s" errors "p50 ms" "p99 ms" "authd µs/call" "pg µs/call"
run=0
for round in $(seq "$rounds"); do
    for setup in $setups; do
        for workload in $workloads; do
            run=$((run + 1))
            extra=()
            [ "$workload" = getme-uncached ] && extra=(--session-cache-max-entries 0)
            pids=()
            ports=()
            case $setup in
                sqlite)
                    start_authd "$first_port" --database "$workdir/bench-$run.sqlite" "${extra[@]}"
                    ports=("$first_port")
                    ;;
                postgres | postgres-2)
                    "$psql" -X -q -d "$server_url" -c "CREATE DATABASE bench_$run"
                    store="${server_url%/*}/bench_$run?sslmode=disable"
                    start_authd "$first_port" --store "$store" "${extra[@]}"
                    ports=("$first_port")
                    if [ "$setup" = postgres-2 ]; then
                        start_authd $((first_port + 1)) --store "$store" "${extra[@]}"
                        ports+=($((first_port + 1)))
                    fi
                    ;;
            esac
            port_args=()
            for port in "${ports[@]}"; do port_args+=(--port "$port"); done
            authd_before=$(ticks_of "${pids[@]}")
            ticks_by_pid $(cluster_pids) >"$workdir/pg-before"
            out=$("$bin/authbench" "${port_args[@]}" --workload "${workload%-uncached}" \
                --connections "$connections" --concurrency "$concurrency" --duration "$duration")
            authd_after=$(ticks_of "${pids[@]}")
            ticks_by_pid $(cluster_pids) >"$workdir/pg-after"
            for pid in "${pids[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
            pids=()
            rate=$(awk '/^throughput/ { print $2 }' <<<"$out")
            # The CPU counted covers the warm-up too: so do the calls.
            calls=$(awk -v r="$rate" -v d="$duration" 'BEGIN { print r * (d + 2) }')
            per_call() { awk -v t="$1" -v k="$ticks" -v c="$calls" 'BEGIN { if (c > 0) printf "%.1f", t / k * 1e6 / c; else print "-" }'; }
            errors=$(awk '/^calls/ { gsub(/\(/, "", $3); print $3 }' <<<"$out")
            printf '%-5s %-11s %-15s %10s %7s %8s %8s %12s %12s\n' "$round" "$setup" "$workload" "$rate" "$errors" \
                "$(awk '/^latency/ { print $4 }' <<<"$out")" "$(awk '/^latency/ { print $8 }' <<<"$out")" \
                "$(per_call $((authd_after - authd_before)))" "$(per_call "$(ticks_between "$workdir/pg-before" "$workdir/pg-after")")"
        done
    done
done
