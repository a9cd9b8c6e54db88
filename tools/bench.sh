#!/usr/bin/env bash
# The load benchmarks of docs/benchmarks.md: starts a release authd on a scratch
# database, runs authbench against it, stops it. Not part of `make test`.
#   tools/bench.sh                      health, getme and login at the default settings
#   WORKLOADS="health" tools/bench.sh   just one
#   BIN=/path/to/release tools/bench.sh another build's authd and authbench
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BIN:-.build/release}
workdir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$workdir"' EXIT

port=${PORT:-7499}
connections=${CONNECTIONS:-4}
concurrency=${CONCURRENCY:-16}
duration=${DURATION:-10}
scrypt=(${SCRYPT:---scrypt-log-n 17 --scrypt-r 8 --scrypt-p 1})

source tools/bench-authd.sh
start_bench_authd "${scrypt[@]}"

echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, scrypt: ${scrypt[*]}"
for workload in ${WORKLOADS:-health getme login}; do
    echo
    "$bin/authbench" --port "$port" --workload "$workload" \
        --connections "$connections" --concurrency "$concurrency" --duration "$duration"
done
