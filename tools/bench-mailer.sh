#!/usr/bin/env bash
# Outbox throughput: messages/s leased, sent and acknowledged by auth-mailer, through a
# local aiosmtpd server and through the file transport.
#
#   tools/bench-mailer.sh [MESSAGES] [WORKERS]     (defaults 10000 and 1)
#
# Binaries: $AUTHD_BIN and $AUTH_MAILER_BIN, else .build/release/{authd,auth-mailer}
# (build them with `swift build -c release`). Python: .venv/bin/python with
# clients/python/requirements.txt installed. The rows are inserted straight into the
# outbox table so that only the drain is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
export AUTHD_BIN="${AUTHD_BIN:-$PWD/.build/release/authd}"
export AUTH_MAILER_BIN="${AUTH_MAILER_BIN:-$PWD/.build/release/auth-mailer}"
export BENCH_MESSAGES="${1:-10000}" BENCH_WORKERS="${2:-1}"
exec .venv/bin/python - <<'EOF'
import os, sqlite3, subprocess, sys, tempfile, time, uuid
from pathlib import Path
sys.path[:0] = ["clients/python", "clients/python/tests"]
from conftest import AuthdServer
from smtp_server import SMTPServer
from auth.v1 import admin_pb2

count, workers = int(os.environ["BENCH_MESSAGES"]), int(os.environ["BENCH_WORKERS"])

def run(transport_args, label, work):
    server = AuthdServer(Path(os.environ["AUTHD_BIN"]), work).start()
    try:
        key = Path(f"{server.database}.admin-key").read_text().strip()
        with server.client(api_key=key) as admin:
            secret = admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(
                name="bench", scope=admin_pb2.KEY_SCOPE_MAILER)).secret
        now = int(time.time() * 1000)
        with sqlite3.connect(str(server.database), timeout=30) as db:
            db.executemany(
                "INSERT INTO outbox (message_id, kind, sender, recipient, subject, text_body, html_body, headers,"
                " created_at, state, attempts, next_attempt_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(f"<{uuid.uuid4().hex}@authd>", "verification_code", "authd <no-reply@example.com>", f"u{i}@example.com",
                  "Your verification code", f"Your code is {i:08d}.\n", f"<p>Your code is <b>{i:08d}</b>.</p>",
                  '{"Auto-Submitted":"auto-generated"}', now, "queued", 0, now) for i in range(count)])
        start = time.monotonic()
        procs = [subprocess.Popen(
            [os.environ["AUTH_MAILER_BIN"], "--address", f"{server.host}:{server.port}", "--key", secret,
             "--batch-size", "500", "--poll-interval", "20ms", "--log-level", "warning", "--worker-id", f"b{n}",
             *transport_args], stderr=open(work / f"mailer{n}.log", "wb")) for n in range(workers)]
        while True:
            with sqlite3.connect(str(server.database), timeout=30) as db:
                sent = db.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
            if sent >= count:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        for p in procs:
            p.terminate(); p.wait()
        print(f"{label}: {count} messages, {workers} worker(s), {elapsed:.2f} s, {count / elapsed:.0f} msg/s", flush=True)
    finally:
        server.stop()

with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    (tmp / "smtp").mkdir(); (tmp / "a").mkdir(); (tmp / "b").mkdir()
    smtp = SMTPServer(tmp / "smtp").start()
    try:
        run(["--smtp-url", smtp.url, "--smtp-starttls", "off"], "smtp (aiosmtpd, plain)", tmp / "a")
        assert len(smtp.mailbox.all()) >= count
    finally:
        smtp.stop()
    run(["--transport", "file", "--out-dir", str(tmp / "eml")], "file transport", tmp / "b")
EOF
