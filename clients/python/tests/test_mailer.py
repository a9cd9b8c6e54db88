"""auth-mailer end to end: a real authd, the real auth-mailer binary and a real
SMTP server (aiosmtpd) started by each test.

The binary is $AUTH_MAILER_BIN, or <repo>/.build/debug/auth-mailer.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from auth.v1 import admin_pb2, auth_pb2, mail_pb2
from conftest import REPO_ROOT, AuthdServer
from smtp_server import PASSWORD, USER, Mailbox, SMTPServer, free_port


def mailer_binary_path() -> Path:
    return Path(os.environ.get("AUTH_MAILER_BIN", str(REPO_ROOT / ".build" / "debug" / "auth-mailer")))


@pytest.fixture(scope="session")
def mailer_binary() -> Path:
    path = mailer_binary_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no auth-mailer executable at {path}: build it or set AUTH_MAILER_BIN", pytrace=False)
    return path


# ---------------------------------------------------------------- helpers

def admin_key(server: AuthdServer) -> str:
    return Path(f"{server.database}.admin-key").read_text().strip()


def mailer_key(server: AuthdServer) -> str:
    with server.client(api_key=admin_key(server)) as admin:
        created = admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(
            name=f"mailer-{uuid.uuid4().hex[:6]}", scope=admin_pb2.KEY_SCOPE_MAILER))
    return created.secret


def db(server: AuthdServer) -> sqlite3.Connection:
    connection = sqlite3.connect(str(server.database), timeout=30)
    connection.execute("PRAGMA busy_timeout = 30000")
    return connection


def now_ms() -> int:
    return int(time.time() * 1000)


def insert_messages(server: AuthdServer, recipients: List[str], subject: str = "Queued by the test") -> List[str]:
    """Rows straight into the outbox (the documented schema); returns their Message-IDs."""
    created = now_ms()
    rows = []
    for index, recipient in enumerate(recipients):
        rows.append((f"<{uuid.uuid4().hex}@authd>", "verification_code", "authd <no-reply@example.com>", recipient,
                     f"{subject} {index}", f"Text body {index}\n", f"<p>HTML body {index}</p>", "{}",
                     created, "queued", 0, created))
    with db(server) as connection:
        connection.executemany(
            "INSERT INTO outbox (message_id, kind, sender, recipient, subject, text_body, html_body, headers,"
            " created_at, state, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return [row[0] for row in rows]


def outbox_states(server: AuthdServer) -> Dict[str, int]:
    with db(server) as connection:
        return dict(connection.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


# The server's first retry waits 15-30 s by default; these servers retry after
# 50-100 ms, doubling (`authd --mail-retry-base-delay`).
FAST_RETRIES = ("--mail-retry-base-delay", "100ms")


def queue_stats(server: AuthdServer, key: str) -> mail_pb2.QueueStatsResponse:
    with server.client(api_key=key) as client:
        return client.mail.queue_stats(mail_pb2.QueueStatsRequest())


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Mailer:
    """One auth-mailer process; its stderr (the log) goes to a file."""

    def __init__(self, binary: Path, server: AuthdServer, key: str, workdir: Path, args: List[str]):
        self.log_path = workdir / f"mailer-{uuid.uuid4().hex[:6]}.log"
        self.log = open(self.log_path, "wb")
        env = dict(os.environ, AUTHD_MAILER_KEY=key)
        self.args = [str(binary), "--address", f"{server.host}:{server.port}", "--poll-interval", "50ms", *args]
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=env, start_new_session=True)

    def text(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def wait_log(self, pattern: str, timeout: float = 30) -> None:
        wait_until(lambda: re.search(pattern, self.text(), re.M), timeout, f"log line /{pattern}/\n{self.text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def start_mailer(mailer_binary: Path, tmp_path: Path) -> Iterator:
    started: List[Mailer] = []

    def start(server: AuthdServer, key: str, *args: str) -> Mailer:
        mailer = Mailer(mailer_binary, server, key, tmp_path, list(args))
        started.append(mailer)
        return mailer

    yield start
    for mailer in started:
        mailer.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator:
    servers: List[SMTPServer] = []

    def start(mode: str = "plain", **kwargs) -> SMTPServer:
        server = SMTPServer(tmp_path, mode, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


PLAIN = ["--smtp-starttls", "off", "--smtp-timeout", "5s", "--lease", "30s"]


def fresh_email() -> str:
    return f"mail-{uuid.uuid4().hex[:12]}@example.com"


def outbox_row(server: AuthdServer, recipient: str) -> dict:
    with db(server) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute("SELECT * FROM outbox WHERE recipient = ? ORDER BY id DESC LIMIT 1",
                                 (recipient,)).fetchone()
    assert row is not None, f"no outbox row for {recipient}"
    return dict(row)


def lf(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


# ---------------------------------------------------------------- (1) ForgotPassword → mailbox

def test_forgot_password_code_arrives_by_smtp(start_authd, start_mailer, smtp):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    mail = smtp()
    email = fresh_email()
    with server.client() as client:
        client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="correct horse"))
        client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=email))
    row = outbox_row(server, email)

    mailer = start_mailer(server, key, "--smtp-url", mail.url, *PLAIN)
    mail.mailbox.wait_for(lambda m: m.to(email), 30, f"the code email to {email}")
    delivery = mail.mailbox.to(email)[0]
    message = delivery.message
    assert delivery.mail_from == re.search(r"<([^>]+)>", row["sender"]).group(1)
    assert delivery.rcpt_tos == [email]
    assert message["Message-ID"] == row["message_id"]
    assert message["Subject"] == row["subject"]
    assert message["To"] == email
    assert message["Date"] is not None and message["MIME-Version"] == "1.0"
    for name, value in json.loads(row["headers"]).items():
        assert message[name] == value
    assert lf(message.get_body(("plain",)).get_content()) == lf(row["text_body"])
    assert lf(message.get_body(("html",)).get_content()) == lf(row["html_body"])
    code = re.search(r"\b(\d{8})\b", row["text_body"]).group(1)
    assert code in message.get_body(("plain",)).get_content()
    # Every line ends in CRLF on the wire.
    assert b"\n" not in delivery.content.replace(b"\r\n", b"")

    # At info the log names the recipient masked (g***@example.com), never whole.
    masked = re.escape(email[0] + "***" + email[email.index("@"):])
    mailer.wait_log(masked + r".*\] sent$")
    assert email not in mailer.text()
    wait_until(lambda: outbox_states(server).get("sent") == 1, 10, "the row to be acknowledged")
    # The code works.
    with server.client() as client:
        client.auth.confirm_password(auth_pb2.ConfirmPasswordRequest(email=email, code=code, new_password="new horse!"))


def test_starttls_with_auth_login_and_plain(start_authd, start_mailer, smtp, tmp_path: Path):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    password_file = tmp_path / "smtp-password"
    password_file.write_text(PASSWORD + "\n")
    for mechanism in ("LOGIN", "PLAIN"):
        mail = smtp("starttls", mechanisms=[mechanism])
        [message_id] = insert_messages(server, [fresh_email()])
        mailer = start_mailer(server, key, "--smtp-url", mail.url, "--smtp-starttls", "required",
                              "--smtp-ca-file", str(mail.cert), "--smtp-user", USER,
                              "--smtp-password-file", str(password_file))
        mail.mailbox.wait_for(lambda m: m.message_ids() == [message_id], 30, f"delivery over STARTTLS + AUTH {mechanism}")
        delivery = mail.mailbox.all()[0]
        assert delivery.tls and delivery.authenticated
        assert mailer.stop() == 0


def test_implicit_tls(start_authd, start_mailer, smtp):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    mail = smtp("tls")
    [message_id] = insert_messages(server, [fresh_email()])
    start_mailer(server, key, "--smtp-url", mail.url, "--smtp-insecure",
                 "--smtp-user", USER, "--smtp-password", PASSWORD)
    mail.mailbox.wait_for(lambda m: m.message_ids() == [message_id], 30, "delivery over smtps://")
    assert mail.mailbox.all()[0].tls


def test_starttls_required_refuses_a_server_without_tls(start_authd, start_mailer, smtp):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    mail = smtp()
    insert_messages(server, [fresh_email()])
    mailer = start_mailer(server, key, "--smtp-url", mail.url, "--smtp-starttls", "required")
    mailer.wait_log(r"will retry")  # transient: a configuration fault must not kill the message
    assert mail.mailbox.all() == []
    assert outbox_states(server).get("dead", 0) == 0


# ---------------------------------------------------------------- (2) 4xx and 5xx

def test_4xx_is_retried_and_5xx_is_dead_then_requeued(start_authd, start_mailer, smtp):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    mail = smtp()
    busy, rejected, fine = fresh_email(), fresh_email(), fresh_email()
    mail.mailbox.refuse = {busy: "451 4.3.0 mailbox busy, try later", rejected: "550 5.1.1 no such user"}
    ids = dict(zip((busy, rejected, fine), insert_messages(server, [busy, rejected, fine])))

    mailer = start_mailer(server, key, "--smtp-url", mail.url, *PLAIN)
    mail.mailbox.wait_for(lambda m: m.to(fine), 30, "the good message")
    mailer.wait_log(r"will retry.*451|451.*will retry")
    mailer.wait_log(r"dead")

    with server.client(api_key=admin_key(server)) as admin:
        dead = admin.admin.list_dead_messages(admin_pb2.ListDeadMessagesRequest()).messages
        assert [d.recipient for d in dead] == [rejected]
        assert "550" in dead[0].last_error
        stats = queue_stats(server, key)
        assert stats.dead == 1 and stats.sent == 1
        # The busy message retries every ~100 ms: between attempts it is queued (and counted
        # as retrying), during one it is leased. Either way it is neither sent nor dead.
        assert stats.retrying + stats.leased == 1, stats

        # The server recovers: the retry delivers.
        mail.mailbox.refuse = {}
        mail.mailbox.wait_for(lambda m: m.to(busy), 30, "the retried message")
        assert mail.mailbox.to(busy)[0].message_id == ids[busy]

        # Requeue the dead one: delivered too, with its Message-ID unchanged.
        requeued = admin.admin.requeue_messages(admin_pb2.RequeueMessagesRequest(ids=[dead[0].id]))
        assert requeued.requeued == 1
        mail.mailbox.wait_for(lambda m: m.to(rejected), 30, "the requeued message")
        assert mail.mailbox.to(rejected)[0].message_id == ids[rejected]
    wait_until(lambda: outbox_states(server) == {"sent": 3}, 10, "all three sent")


# ---------------------------------------------------------------- (3) unreachable, slow

def test_unreachable_smtp_is_retried_until_it_starts(start_authd, start_mailer, tmp_path: Path):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    port = free_port()
    [message_id] = insert_messages(server, [fresh_email()])
    mailer = start_mailer(server, key, "--smtp-url", f"smtp://127.0.0.1:{port}", *PLAIN)
    mailer.wait_log(r"will retry")
    stats = queue_stats(server, key)
    assert stats.retrying + stats.leased == 1 and stats.sent == 0, stats  # between attempts, or in one

    mail = SMTPServer(tmp_path, "plain", port=port).start()
    try:
        mail.mailbox.wait_for(lambda m: m.message_ids() == [message_id], 30, "delivery after the server started")
    finally:
        mail.stop()


def test_slow_smtp_times_out_and_is_retried(start_authd, start_mailer, smtp):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    mail = smtp()
    mail.mailbox.rcpt_delay = 4.0
    [message_id] = insert_messages(server, [fresh_email()])
    mailer = start_mailer(server, key, "--smtp-url", mail.url, "--smtp-starttls", "off",
                          "--smtp-timeout", "1s", "--lease", "10s")
    mailer.wait_log(r"timed out.*will retry", timeout=30)
    assert mail.mailbox.all() == []
    mail.mailbox.rcpt_delay = 0
    mail.mailbox.wait_for(lambda m: m.message_ids() == [message_id], 30, "delivery once the server is fast")


# ---------------------------------------------------------------- (4) SIGKILL mid-batch

def test_sigkill_mid_batch_every_message_still_delivered(start_authd, start_mailer, smtp):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    mail = smtp()
    mail.mailbox.data_delay = 0.1
    ids = insert_messages(server, [fresh_email() for _ in range(40)])
    first = start_mailer(server, key, "--smtp-url", mail.url, "--smtp-starttls", "off", "--smtp-timeout", "1s",
                         "--lease", "3s", "--batch-size", "40")
    mail.mailbox.wait_for(lambda m: len(m.all()) >= 5, 30, "a few deliveries")
    first.stop(signal.SIGKILL)
    assert first.proc.returncode == -signal.SIGKILL
    assert len(set(mail.mailbox.message_ids())) < 40
    assert outbox_states(server).get("leased", 0) > 0

    mail.mailbox.data_delay = 0
    start_mailer(server, key, "--smtp-url", mail.url, "--smtp-starttls", "off", "--smtp-timeout", "1s",
                 "--lease", "3s")
    mail.mailbox.wait_for(lambda m: set(ids) <= set(m.message_ids()), 60, "every message after the lease lapsed")
    wait_until(lambda: outbox_states(server) == {"sent": 40}, 15, "every row acknowledged")


# ---------------------------------------------------------------- (5) two workers, 10 000 messages

def test_two_workers_drain_10000_messages_none_twice(start_authd, start_mailer, smtp):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    mail = smtp()
    count = 10_000
    ids = insert_messages(server, [f"bulk{i}@example.com" for i in range(count)])
    started = time.monotonic()
    workers = [start_mailer(server, key, "--smtp-url", mail.url, *PLAIN, "--batch-size", "200",
                            "--worker-id", f"w{n}", "--log-level", "warning") for n in range(2)]
    mail.mailbox.wait_for(lambda m: len(m.all()) >= count, 300, f"{count} deliveries")
    elapsed = time.monotonic() - started
    wait_until(lambda: outbox_states(server) == {"sent": count}, 30, "every row acknowledged")
    for worker in workers:
        assert worker.stop() == 0
    seen = Counter(mail.mailbox.message_ids())
    assert set(seen) == set(ids)
    assert [mid for mid, n in seen.items() if n > 1] == []
    print(f"\n{count} messages through 2 workers in {elapsed:.1f} s ({count / elapsed:.0f} msg/s)")


# ---------------------------------------------------------------- (6) SIGTERM

def test_sigterm_finishes_acknowledges_releases_and_exits_0(start_authd, start_mailer, smtp):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    mail = smtp()
    mail.mailbox.data_delay = 0.3
    insert_messages(server, [fresh_email() for _ in range(20)])
    mailer = start_mailer(server, key, "--smtp-url", mail.url, *PLAIN, "--batch-size", "20")
    mail.mailbox.wait_for(lambda m: len(m.all()) >= 2, 30, "two deliveries")
    assert mailer.stop(signal.SIGTERM, timeout=15) == 0
    delivered = len(set(mail.mailbox.message_ids()))
    states = outbox_states(server)
    assert states.get("leased", 0) == 0, states
    assert states.get("sent") == delivered, (states, delivered)
    assert states.get("queued") == 20 - delivered
    with db(server) as connection:
        attempts = connection.execute("SELECT max(attempts) FROM outbox WHERE state = 'queued'").fetchone()[0]
    assert attempts == 0, "a released message must not count as an attempt"
    assert "released unsent messages" in mailer.text()


# ---------------------------------------------------------------- (7) file transport

def test_file_transport_writes_one_eml_per_message(start_authd, start_mailer, tmp_path: Path):
    server = start_authd(*FAST_RETRIES)
    key = mailer_key(server)
    out = tmp_path / "outbox"
    address = fresh_email()
    with server.client() as client:
        client.auth.sign_up(auth_pb2.SignUpRequest(email=address, password="correct horse"))
        client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=address))
    row = outbox_row(server, address)
    mailer = start_mailer(server, key, "--transport", "file", "--out-dir", str(out))
    expected = out / (row["message_id"].strip("<>") + ".eml")
    wait_until(expected.exists, 30, f"{expected}")
    message = email.message_from_bytes(expected.read_bytes(), policy=email.policy.default)
    assert message["Message-ID"] == row["message_id"] and message["To"] == address
    assert lf(message.get_body(("plain",)).get_content()) == lf(row["text_body"])
    wait_until(lambda: outbox_states(server) == {"sent": 1}, 10, "acknowledged")

    # A resend (the row due again) overwrites the file rather than adding one.
    with db(server) as connection:
        connection.execute("UPDATE outbox SET state = 'queued', next_attempt_at = 0, lease_token = NULL")
    wait_until(lambda: len(re.findall(r"\] sent$", mailer.text(), re.M)) == 2, 10, "sent again")
    wait_until(lambda: outbox_states(server) == {"sent": 1}, 10, "acknowledged again")
    assert sorted(p.name for p in out.iterdir()) == [expected.name]
