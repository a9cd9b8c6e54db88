#!/usr/bin/env bash
# What TLS costs on the RPC port (docs/benchmarks.md, "TLS"): a release authd in
# plaintext and one with a certificate made here by openssl, on scratch databases,
# measured by authbench's GetMe in alternating rounds (so a change in the machine's load
# hits both alike):
#   steady   CONNECTIONS x CONCURRENCY on connections kept open: the cost per call
#   fresh    FRESH_CONCURRENCY calls at once, each on a new connection closed after it:
#            the cost of a connection, and with TLS of its handshake
#   tools/bench-tls.sh                  after `swift build -c release`
#   ROUNDS=5 DURATION=10 tools/bench-tls.sh
# Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BIN:-.build/release}
rounds=${ROUNDS:-3}
duration=${DURATION:-8}
connections=${CONNECTIONS:-4}
concurrency=${CONCURRENCY:-16}
fresh_concurrency=${FRESH_CONCURRENCY:-4}
workdir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$workdir"' EXIT

# A CA and a certificate for 127.0.0.1, as docs/operations.md ("TLS") makes them.
(
    cd "$workdir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
        -days 2 -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2> /dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout authd.key -out authd.csr \
        -subj "/CN=authd" 2> /dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > authd.ext
    openssl x509 -req -in authd.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 2 -extfile authd.ext \
        -out authd.pem 2> /dev/null
)

start() {  # start NAME PORT [authd options]
    local name=$1 port=$2
    shift 2
    "$bin/authd" --port "$port" --database "$workdir/$name.sqlite" --log-level warning "$@" > "$workdir/$name.out" &
    pids+=($!)
    for _ in $(seq 100); do grep -q "listening" "$workdir/$name.out" 2>/dev/null && return; sleep 0.1; done
    echo "authd ($name) did not start" >&2
    exit 1
}
start plain 7497
start tls 7498 --tls-cert-file "$workdir/authd.pem" --tls-key-file "$workdir/authd.key"

rate() {  # rate PORT [authbench options]: calls/s, or exits on a failed call
    local port=$1
    shift
    local out
    out=$("$bin/authbench" --port "$port" --workload getme --duration "$duration" "$@")
    grep -q "(0 failed)" <<< "$out" || { echo "failed calls:"$'\n'"$out" >&2; exit 1; }
    sed -n 's/^throughput *\([0-9.]*\) calls\/s.*/\1/p' <<< "$out"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# GetMe calls/s; steady: $connections x $concurrency in flight; fresh: $fresh_concurrency at once, a connection each"
printf '%-6s %12s %12s %12s %12s\n' round steady-plain steady-tls fresh-plain fresh-tls
tls=(--tls-ca "$workdir/ca.pem")
for round in $(seq "$rounds"); do
    sp=$(rate 7497 --connections "$connections" --concurrency "$concurrency")
    st=$(rate 7498 --connections "$connections" --concurrency "$concurrency" "${tls[@]}")
    fp=$(rate 7497 --connections 1 --concurrency "$fresh_concurrency" --fresh-connections)
    ft=$(rate 7498 --connections 1 --concurrency "$fresh_concurrency" --fresh-connections "${tls[@]}")
    printf '%-6s %12s %12s %12s %12s\n' "$round" "$sp" "$st" "$fp" "$ft"
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg)"
