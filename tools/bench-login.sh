#!/usr/bin/env bash
# Login against the hashing bound, in short alternating segments so that the machine's
# drift (a noisy neighbour can move one hash by 20 % within a minute) hits the bound and
# Login alike. One authd runs for the whole benchmark; each round measures, one right
# after the other:
#   one thread   authbench --workload scrypt: one hash at a time, before and after Login;
#                bound = 2 cores / the mean of the two
#   both cores   two of the same at once (what the two cores hash together: memory
#                bandwidth makes each a little slower than alone)
#   Login        authbench --workload login at CONNECTIONS x CONCURRENCY
# and prints Login as a share of each, per round and the median of the rounds. Not part
# of `make test`.
#   tools/bench-login.sh                         ln=14, 5 rounds, 1 x 4 in flight
#   LOG_N=17 DURATION=30 tools/bench-login.sh    the default parameters
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-.build/release}
rounds=${ROUNDS:-5}
log_n=${LOG_N:-14}
connections=${CONNECTIONS:-1}
concurrency=${CONCURRENCY:-4}
duration=${DURATION:-10}
hash_seconds=${HASH_SECONDS:-5}
port=${PORT:-7499}
workdir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$workdir"' EXIT

source tools/bench-authd.sh
start_bench_authd --scrypt-log-n "$log_n" --scrypt-r 8 --scrypt-p 1

# ms of one hash, and hashes/s, of one `authbench --workload scrypt` output
one_ms() { awk '/^hashes/ { print $6 }' "$1"; }
rate() { awk '/^hashes/ { printf "%.1f", $2 / ($4 / 1000) }' "$1"; }
hash() { "$bin/authbench" --workload scrypt --scrypt-log-n "$log_n" --duration "$hash_seconds" > "$1"; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, scrypt ln=$log_n r=8 p=1, Login at $connections x $concurrency" \
    "for $duration s, hashes for $hash_seconds s, $rounds rounds"
printf '%-5s %12s %10s %12s %10s %9s %9s\n' round "one hash ms" "bound/s" "both cores/s" "Login/s" "of bound" "of both"
: > "$workdir/of-bound"
: > "$workdir/of-both"
for round in $(seq "$rounds"); do
    hash "$workdir/before"
    hash "$workdir/a" & first=$!
    hash "$workdir/b"
    wait "$first"
    both=$(awk -v a="$(rate "$workdir/a")" -v b="$(rate "$workdir/b")" 'BEGIN { printf "%.1f", a + b }')
    login=$("$bin/authbench" --port "$port" --workload login --warmup 1 \
        --connections "$connections" --concurrency "$concurrency" --duration "$duration" | awk '/^throughput/ { print $2 }')
    hash "$workdir/after"
    ms=$(awk -v a="$(one_ms "$workdir/before")" -v b="$(one_ms "$workdir/after")" 'BEGIN { printf "%.2f", (a + b) / 2 }')
    bound=$(awk -v ms="$ms" 'BEGIN { printf "%.1f", 2000 / ms }')
    of_bound=$(percent "$login" "$bound")
    of_both=$(percent "$login" "$both")
    echo "$of_bound" >> "$workdir/of-bound"
    echo "$of_both" >> "$workdir/of-both"
    printf '%-5s %12s %10s %12s %10s %8s%% %8s%%\n' "$round" "$ms" "$bound" "$both" "$login" "$of_bound" "$of_both"
done
printf '%-5s %12s %10s %12s %10s %8s%% %8s%%\n' median "" "" "" "" \
    "$(median < "$workdir/of-bound")" "$(median < "$workdir/of-both")"
