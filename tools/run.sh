#!/usr/bin/env bash
# `make run`: authd on $DATA_DIR/authd.sqlite, and beside it auth-mailer writing
# every email as a .eml file to $DATA_DIR/mail-out. Ctrl-C stops both (SIGTERM:
# each finishes what it is doing first).
set -euo pipefail
cd "$(dirname "$0")/.."

data=${DATA_DIR:-var}
host=${HOST:-127.0.0.1}
port=${PORT:-7400}
bin=.build/debug
mkdir -p "$data"

"$bin/authd" --host "$host" --port "$port" --database "$data/authd.sqlite" > >(tee "$data/authd.out") &
authd=$!
mailer=""
cleanup() {
    [ -n "$mailer" ] && kill "$mailer" 2>/dev/null || true
    kill "$authd" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

for _ in $(seq 100); do
    grep -q "authd listening" "$data/authd.out" 2>/dev/null && break
    kill -0 "$authd" 2>/dev/null || exit 1
    sleep 0.1
done

# A mailer key for the development mailer, made once with the first admin key.
if [ ! -s "$data/mailer.key" ] && [ -s "$data/authd.sqlite.admin-key" ]; then
    if created=$("$bin/authctl" keys create "make run mailer" --scope mailer --json \
            --address "$host:$port" --key-file "$data/authd.sqlite.admin-key"); then
        (umask 077 && python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])' <<< "$created" > "$data/mailer.key")
    else
        echo "could not create a mailer key: $created"
    fi
fi
# Invitations are links to the app, so authd sends none until app_base_url is set; a
# development server gets a development value once (change it with authctl settings set).
if [ -s "$data/authd.sqlite.admin-key" ] && settings=$("$bin/authctl" settings get --json \
        --address "$host:$port" --key-file "$data/authd.sqlite.admin-key") \
        && python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["settings"]["app_base_url"] == "" else 1)' <<< "$settings"; then
    "$bin/authctl" settings set --app-base-url "${APP_BASE_URL:-http://localhost:3000}" \
        --address "$host:$port" --key-file "$data/authd.sqlite.admin-key" > /dev/null
    echo "app_base_url set to ${APP_BASE_URL:-http://localhost:3000} for development: invitation links point there"
    echo "  (change it: authctl settings set --app-base-url https://your.app)"
fi
if [ -s "$data/mailer.key" ]; then
    "$bin/auth-mailer" --address "$host:$port" --key-file "$data/mailer.key" \
        --transport file --out-dir "$data/mail-out" --poll-interval 500ms &
    mailer=$!
    echo "auth-mailer writes emails to $data/mail-out/"
else
    echo "no mailer key ($data/mailer.key) and no first admin key to make one: auth-mailer not started"
fi
wait "$authd"
