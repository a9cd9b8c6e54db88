# Sourced by tools/bench.sh and tools/bench-login.sh: the one way they start the authd they
# measure. Uses their $bin, $port and $workdir; sets $pid.
#   start_bench_authd --scrypt-log-n 14 --scrypt-r 8 --scrypt-p 1

# A release authd on a scratch database in $workdir, with the extra flags given; returns
# once it listens, fails with its output if it exits or does not listen within 10 s.
# authbench sends no end-user address: the hashing queue takes all its calls, not 4 at a time.
start_bench_authd() {
    "$bin/authd" --port "$port" --database "$workdir/bench.sqlite" --log-level warning \
        --hashing-max-waiting 4096 --hashing-max-per-source 4096 "$@" > "$workdir/authd.out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        grep -q "listening" "$workdir/authd.out" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "authd did not start listening on port $port:" >&2
    cat "$workdir/authd.out" >&2
    return 1
}
