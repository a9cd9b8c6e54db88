#!/usr/bin/env bash
# The CSV import benchmark of docs/benchmarks.md: generates a CSV of ROWS users
# (default 100 000: email, name, city, roles), starts a release authd on a scratch
# database and times `authctl users import` of it, once without passwords and
# once with a password on every row (hashed at SCRYPT, default the test
# parameters --scrypt-log-n 10), each into a fresh database. Then times
# `authctl users export` of the result. Not part of `make test`.
#   tools/bench-import.sh
#   ROWS=1000000 CHUNK=2000 tools/bench-import.sh
#   BIN=.build-import/release tools/bench-import.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BIN:-.build/release}
rows=${ROWS:-100000}
chunk=${CHUNK:-1000}
port=${PORT:-7498}
scrypt=(${SCRYPT:---scrypt-log-n 10 --scrypt-r 8 --scrypt-p 1})
workdir=$(mktemp -d)
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap 'stop; rm -rf "$workdir"' EXIT

# Two files: the same users, without and with a password column.
awk -v n="$rows" 'BEGIN {
    print "email,name,city,roles" > "'"$workdir"'/plain.csv"
    print "email,name,city,roles,password" > "'"$workdir"'/passwords.csv"
    for (i = 0; i < n; i++) {
        role = (i % 3 == 0) ? "Premium" : ((i % 3 == 1) ? "Premium;Admin" : "")
        line = sprintf("user%07d@example.com,\"User %d, the %dth\",City %d,%s", i, i, i, i % 100, role)
        print line > "'"$workdir"'/plain.csv"
        print line ",pass-" i "-word" > "'"$workdir"'/passwords.csv"
    }
}'

run() {
    local name=$1 file=$2
    rm -f "$workdir"/bench.sqlite*
    "$bin/authd" --port "$port" --database "$workdir/bench.sqlite" --log-level warning "${scrypt[@]}" > "$workdir/authd.out" &
    pid=$!
    for _ in $(seq 100); do grep -q "listening" "$workdir/authd.out" 2>/dev/null && break; sleep 0.1; done
    export AUTHD_ADDRESS="127.0.0.1:$port" AUTHD_ADMIN_KEY_FILE="$workdir/bench.sqlite.admin-key"
    "$bin/authctl" roles add Premium > /dev/null
    "$bin/authctl" roles add Admin > /dev/null
    local start end
    start=$(date +%s.%N)
    "$bin/authctl" users import "$file" --chunk-rows "$chunk" --timeout 600 | tail -1
    end=$(date +%s.%N)
    echo "$name: $(echo "$end - $start" | bc) s for $rows rows ($(echo "$rows / ($end - $start)" | bc) rows/s), chunks of $chunk"
    start=$(date +%s.%N)
    "$bin/authctl" users export --output "$workdir/export.csv" --timeout 600
    end=$(date +%s.%N)
    echo "export: $(echo "$end - $start" | bc) s, $(($(wc -l < "$workdir/export.csv") - 1)) lines, $(du -h "$workdir/export.csv" | cut -f1)"
    stop
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $rows rows ($(du -h "$workdir/plain.csv" | cut -f1)), scrypt: ${scrypt[*]}"
run "without passwords" "$workdir/plain.csv"
run "with passwords" "$workdir/passwords.csv"
