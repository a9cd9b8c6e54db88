#!/usr/bin/env bash
# Login against the hashing bound, in alternating rounds so that the machine's drift (a
# noisy neighbour can move one hash by 20 % within minutes) hits the bound and Login
# alike. Each round measures, one after the other:
#   one thread   authbench --workload scrypt: one hash at a time; bound = 2 cores / one hash
#   both cores   two of the same at once (what the two cores hash together: memory
#                bandwidth makes each a little slower than alone)
#   Login        tools/bench.sh's Login at CONNECTIONS x CONCURRENCY
# and prints Login as a share of each. Not part of `make test`.
#   tools/bench-login.sh                         ln=14, 3 rounds, 1 x 4 in flight
#   LOG_N=17 DURATION=30 tools/bench-login.sh    the default parameters
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-.build/release}
rounds=${ROUNDS:-3}
log_n=${LOG_N:-14}
connections=${CONNECTIONS:-1}
concurrency=${CONCURRENCY:-4}
duration=${DURATION:-20}
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# hashes/s of one `authbench --workload scrypt` output
rate() { awk '/^hashes/ { printf "%.1f", $2 / ($4 / 1000) }' "$1"; }
hash() { "$bin/authbench" --workload scrypt --scrypt-log-n "$log_n" --duration 10 > "$1"; }

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, scrypt ln=$log_n r=8 p=1, Login at $connections x $concurrency, $rounds rounds"
printf '%-5s %12s %10s %12s %10s %9s %9s\n' round "one hash ms" "bound/s" "both cores/s" "Login/s" "of bound" "of both"
for round in $(seq "$rounds"); do
    hash "$workdir/one"
    one_ms=$(awk '/^hashes/ { print $6 }' "$workdir/one")
    bound=$(awk -v ms="$one_ms" 'BEGIN { printf "%.1f", 2000 / ms }')
    hash "$workdir/a" & first=$!
    hash "$workdir/b"
    wait "$first"
    both=$(awk -v a="$(rate "$workdir/a")" -v b="$(rate "$workdir/b")" 'BEGIN { printf "%.1f", a + b }')
    login=$(WORKLOADS=login CONNECTIONS=$connections CONCURRENCY=$concurrency DURATION=$duration BIN=$bin \
        SCRYPT="--scrypt-log-n $log_n --scrypt-r 8 --scrypt-p 1" tools/bench.sh | awk '/^throughput/ { print $2 }')
    printf '%-5s %12s %10s %12s %10s %8.0f%% %8.0f%%\n' "$round" "$one_ms" "$bound" "$both" "$login" \
        "$(awk -v l="$login" -v b="$bound" 'BEGIN { print 100 * l / b }')" \
        "$(awk -v l="$login" -v b="$both" 'BEGIN { print 100 * l / b }')"
done
