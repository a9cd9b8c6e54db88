#!/usr/bin/env bash
# authbench's figures for two builds, side by side on the same machine at the same time:
# rounds alternate A / B so that drift (another build starting, the machine warming up)
# hits both. A build is a release folder holding authd and authbench from one commit. Each
# run starts that authd on a fresh scratch database (as tools/bench.sh does) and runs that
# authbench; it also reports the CPU seconds authbench and authd each used over the run
# (warm-up included), from GNU time and /proc/PID/stat: on 2 cores, what the client takes
# the server does not get. Not part of `make test`.
#   tools/bench-compare.sh BIN_A BIN_B     e.g. /work/wt-old/.build/release .build/release
#   ROUNDS=3 WORKLOADS="health getme" CONNECTIONS=4 CONCURRENCY=16 DURATION=10 tools/bench-compare.sh A B
#   ARGS_B="--management-port 0" tools/bench-compare.sh .build/release .build/release   # one build, two flag sets
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?usage: tools/bench-compare.sh BIN_A BIN_B}
b=${2:?usage: tools/bench-compare.sh BIN_A BIN_B}
rounds=${ROUNDS:-3}
workloads=${WORKLOADS:-health getme}
connections=${CONNECTIONS:-4}
concurrency=${CONCURRENCY:-16}
duration=${DURATION:-10}
port=${PORT:-7498}
ticks=$(getconf CLK_TCK)
workdir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$workdir"' EXIT

cpu_seconds() { awk -v t="$ticks" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12] + f[13]) / t }' "/proc/$1/stat"; }

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# A = $a"
echo "# B = $b"
[ -n "${ARGS_A:-}${ARGS_B:-}" ] && echo "# authd flags: A ${ARGS_A:-(none)}; B ${ARGS_B:-(none)}"
echo "# $rounds rounds, $connections x $concurrency in flight, $duration s after authbench's 2 s warm-up"
printf '%-5s %-4s %-8s %10s %8s %8s %9s %9s  %s\n' round bin workload "calls/s" "p50 ms" "p99 ms" "authd s" "client s" "load"
for round in $(seq "$rounds"); do
    for side in A B; do
        bin=$a; args=${ARGS_A:-}; [ "$side" = B ] && bin=$b && args=${ARGS_B:-}
        for workload in $workloads; do
            rm -f "$workdir"/bench.sqlite*
            "$bin/authd" --port "$port" --database "$workdir/bench.sqlite" --log-level warning \
                --scrypt-log-n 10 --scrypt-r 8 --scrypt-p 1 $args > "$workdir/authd.out" &
            pid=$!
            for _ in $(seq 100); do grep -q "listening" "$workdir/authd.out" 2>/dev/null && break; sleep 0.1; done
            before=$(cpu_seconds "$pid")
            out=$( { /usr/bin/time -f 'TIME %U %S' "$bin/authbench" --port "$port" --workload "$workload" \
                --connections "$connections" --concurrency "$concurrency" --duration "$duration"; } 2>&1 )
            after=$(cpu_seconds "$pid")
            kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
            rate=$(awk '/^throughput/ {print $2}' <<<"$out")
            p50=$(awk '/^latency/ {print $4}' <<<"$out")
            p99=$(awk '/^latency/ {print $8}' <<<"$out")
            client=$(awk '/^TIME/ {printf "%.2f", $2 + $3}' <<<"$out")
            printf '%-5s %-4s %-8s %10s %8s %8s %9s %9s  %s\n' "$round" "$side" "$workload" "$rate" "$p50" "$p99" \
                "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" "$client" "$(cut -d' ' -f1-3 /proc/loadavg)"
        done
    done
done
