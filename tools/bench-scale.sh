#!/usr/bin/env bash
# GetMe against a table of USERS users and SESSIONS live sessions (docs/benchmarks.md,
# "GetMe from 10³ to 10⁶ users"): a release authd creates a scratch database, the rows
# are written straight into it (python3's sqlite3, the documented schema: users with one
# attribute, sessions that expire in 30 days), then authbench's GetMe runs with the
# session cache on and off. Not part of `make test`.
#   tools/bench-scale.sh 1000 1000
#   tools/bench-scale.sh 1000000 100000      # about 40 s of set-up
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:?usage: tools/bench-scale.sh USERS SESSIONS}
sessions=${2:?usage: tools/bench-scale.sh USERS SESSIONS}
bin=${BIN:-.build/release}
port=${PORT:-7620}
duration=${DURATION:-10}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

start() {
    "$bin/authd" --port "$port" --database "$dir/scale.sqlite" --log-level warning --scrypt-log-n 10 "$@" >"$dir/authd.out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$dir/authd.out" 2>/dev/null && return; sleep 0.1; done
    cat "$dir/authd.out" >&2
    exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

start
stop
python3 - "$dir/scale.sqlite" "$users" "$sessions" <<'PY'
import os, sqlite3, sys, time, uuid
path, users, sessions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect(path)
now = int(time.time() * 1000)
far = now + 30 * 24 * 3600 * 1000
ids = [str(uuid.uuid4()) for _ in range(users)]
db.executemany("INSERT INTO users (id, email, password_hash, blocked, created_at, updated_at) VALUES (?, ?, NULL, 0, ?, ?)",
               ((i, f"scale{n}@example.com", now, now) for n, i in enumerate(ids)))
db.executemany("INSERT INTO user_attributes (user_id, name, value) VALUES (?, 'name', ?)", ((i, f"User {n}") for n, i in enumerate(ids)))
db.executemany("INSERT INTO sessions (user_id, token_hash, created_at, last_seen_at, idle_expires_at, absolute_expires_at)"
               " VALUES (?, ?, ?, ?, ?, ?)", ((ids[n % users], os.urandom(32), now, now, far, far) for n in range(sessions)))
db.commit()
PY
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $users users, $sessions sessions, 4 x 16 in flight, $duration s"
for cache in on off; do
    extra=()
    [ "$cache" = off ] && extra=(--session-cache-max-entries 0)
    start "${extra[@]}"
    echo "cache $cache: $("$bin/authbench" --port "$port" --workload getme --duration "$duration" | grep -E '^(throughput|latency)' | tr -s ' ' | tr '\n' ' ')"
    stop
done
