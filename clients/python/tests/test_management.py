"""The management port, graceful shutdown on SIGTERM, and what the logs may hold:
real authd (and auth-mailer) processes, real sockets, real signals.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import sqlite3
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from auth.v1 import admin_pb2, auth_pb2, common_pb2
from authd import RpcError
from conftest import AuthdServer
from test_mailer import admin_key, mailer_binary, mailer_key, start_mailer, wait_until  # noqa: F401 - fixtures

MANAGEMENT = re.compile(r"authd management listening on (\S+):(\d+)")


def management_address(server: AuthdServer) -> Tuple[str, int]:
    def found():
        for line in server.stdout_lines:
            match = MANAGEMENT.search(line)
            if match:
                return match.group(1), int(match.group(2))
        return None
    return wait_until(found, 30, "the 'authd management listening' line")


def get(server: AuthdServer, path: str) -> Tuple[int, str]:
    host, port = management_address(server)
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metric(server: AuthdServer, series: str) -> float:
    status, body = get(server, "/metrics")
    assert status == 200, body
    for line in body.splitlines():
        if line.startswith(series + " "):
            return float(line[len(series) + 1:])
    return 0.0


# ---------------------------------------------------------------- endpoints

def test_management_port_is_off_by_default(start_authd):
    server = start_authd()
    with server.client() as client:
        client.health.check(service="")
    assert not any(MANAGEMENT.search(line) for line in server.stdout_lines)


def test_healthz_readyz_and_metrics_from_outside(start_authd):
    server = start_authd("--management-port", "0")
    assert get(server, "/healthz")[0] == 200
    status, body = get(server, "/readyz")
    assert status == 200 and json.loads(body) == {
        "status": "ready", "failed": [], "checks": {"serving": "ok", "database": "ok"}}
    address = f"metrics-{uuid.uuid4().hex[:8]}@example.com"
    with server.client() as client:
        client.auth.sign_up(auth_pb2.SignUpRequest(email=address, password="correct horse"))
        token = client.auth.login(auth_pb2.LoginRequest(email=address, password="correct horse")).session.token
        for _ in range(5):
            client.auth.get_me(auth_pb2.GetMeRequest(token=token))
        with pytest.raises(RpcError):
            client.auth.login(auth_pb2.LoginRequest(email=address, password="wrong horse"))
    assert metric(server, 'authd_rpc_calls_total{method="/auth.v1.Auth/GetMe",code="OK"}') == 5
    assert metric(server, 'authd_rpc_call_duration_seconds_count{method="/auth.v1.Auth/GetMe"}') == 5
    assert metric(server, 'authd_logins_total{outcome="ok"}') == 1
    assert metric(server, 'authd_logins_total{outcome="wrong"}') == 1
    assert metric(server, 'authd_token_checks_total{outcome="ok"}') == 5
    _, body = get(server, "/metrics")
    assert "# TYPE authd_rpc_call_duration_seconds histogram" in body


# ---------------------------------------------------------------- SIGTERM

def test_sigterm_with_100_calls_in_flight_answers_all_then_exits_0(start_authd):
    """The 100 calls are writes held behind a write lock the test takes on the database
    file, so they are surely in flight when SIGTERM arrives; the test lets them go once
    it has seen /readyz say 503. (SQLite makes the first of them wait at most 5 s for
    the lock: the steps in between take milliseconds.)"""
    server = start_authd("--management-port", "0", "--shutdown-grace-period", "60s")
    key = admin_key(server)
    clients = [server.client(api_key=key, default_timeout=60) for _ in range(4)]
    for client in clients:
        client.admin.list_roles(common_pb2.Empty())
    assert metric(server, "authd_rpc_connections_open") == 4

    lock = sqlite3.connect(str(server.database), timeout=30, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    results: Dict[int, object] = {}

    def create(index: int) -> None:
        try:
            results[index] = clients[index % 4].admin.create_role(admin_pb2.RoleRequest(name=f"role-{index}")).name
        except Exception as error:  # noqa: BLE001 - recorded and asserted below
            results[index] = error

    threads = [threading.Thread(target=create, args=(i,)) for i in range(100)]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: metric(server, "authd_rpc_calls_in_flight") == 100, 30, "100 calls in flight")
        server.terminate()
        # 503 may come first for the database alone (the test holds its write lock, and
        # the probe gives up after its timeout); wait for the drain to show.
        status, body = wait_until(
            lambda: (lambda r: r if r[0] == 503 and "serving" in json.loads(r[1])["failed"] else None)(get(server, "/readyz")),
            30, "/readyz to answer 503 for the drain")
        assert json.loads(body)["failed"] == ["serving", "database"]
        assert "draining" in json.loads(body)["checks"]["serving"]
        # No new connection is taken while draining.
        with pytest.raises(RpcError, match="Connection refused"):
            server.client(connect_timeout=5).health.check(service="")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    for thread in threads:
        thread.join(60)
    assert server.wait(60) == 0, server.output_tail()
    assert sorted(results) == list(range(100))
    assert [results[i] for i in range(100)] == [f"role-{i}" for i in range(100)]
    for client in clients:
        client.close()
    with sqlite3.connect(str(server.database)) as connection:
        assert connection.execute("SELECT count(*) FROM roles WHERE name LIKE 'role-%'").fetchone()[0] == 100
    stderr = (server.workdir / "stderr.log").read_text()
    assert "database closed" in stderr


# ---------------------------------------------------------------- logs

def json_lines(text: str) -> List[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    for entry in parsed:
        assert set(entry) == {"time", "level", "label", "message", "metadata"}, entry
    return parsed


def test_no_secret_in_either_log_at_trace(start_authd, start_mailer, tmp_path: Path):
    """A full scenario with both processes at trace level: every password, token, code and
    key secret it used is then looked for in both logs; none may be there. Full addresses
    may appear on debug and trace lines only."""
    server = start_authd("--log-level", "trace", "--log-format", "json", "--management-port", "0")
    admin = admin_key(server)
    mailer_secret = mailer_key(server)
    out = tmp_path / "mail-out"
    mailer = start_mailer(server, mailer_secret, "--transport", "file", "--out-dir", str(out),
                          "--log-level", "trace", "--log-format", "json")
    address = f"secret-{uuid.uuid4().hex[:8]}@example.com"
    invited = f"invited-{uuid.uuid4().hex[:8]}@example.com"
    secrets: List[str] = [admin, mailer_secret, "first horse battery", "second horse battery",
                          "third horse battery", "invited horse battery"]

    def mail_to(recipient: str) -> str:
        def body():
            for path in out.glob("*.eml") if out.exists() else []:
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if message["To"] == recipient:
                    return message.get_body(("plain",)).get_content()
            return None
        return wait_until(body, 30, f"a mail to {recipient}")

    with server.client(api_key=admin) as operator, server.client(metadata={"x-request-id": "scenario-1"}) as client:
        created = operator.admin.create_api_key(admin_pb2.CreateApiKeyRequest(name="ops", scope=admin_pb2.KEY_SCOPE_ADMIN))
        secrets.append(created.secret)
        client.auth.sign_up(auth_pb2.SignUpRequest(email=address, password="first horse battery"))
        token = client.auth.login(auth_pb2.LoginRequest(email=address, password="first horse battery")).session.token
        secrets.append(token)
        client.auth.get_me(auth_pb2.GetMeRequest(token=token))
        client.auth.change_password(auth_pb2.ChangePasswordRequest(
            token=token, old_password="first horse battery", new_password="second horse battery"))
        with pytest.raises(RpcError):
            client.auth.login(auth_pb2.LoginRequest(email=address, password="first horse battery"))
        client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=address))
        code = re.search(r"\b(\d{8})\b", mail_to(address)).group(1)
        secrets.append(code)
        client.auth.confirm_password(auth_pb2.ConfirmPasswordRequest(
            email=address, code=code, new_password="third horse battery"))
        second = client.auth.login(auth_pb2.LoginRequest(email=address, password="third horse battery")).session.token
        secrets.append(second)
        client.auth.logout(auth_pb2.LogoutRequest(token=second))

        operator.admin.update_settings(admin_pb2.UpdateSettingsRequest(
            app_base_url=common_pb2.StringValue(value="https://app.example")))
        operator.admin.create_user(admin_pb2.CreateUserRequest(email=invited, send_invitation=True))
        invitation = re.search(r"invitation code: (\S+)", mail_to(invited)).group(1)
        secrets.append(invitation)
        accepted = client.auth.accept_invite(auth_pb2.AcceptInviteRequest(code=invitation, password="invited horse battery"))
        secrets.append(accepted.session.token)
        operator.admin.create_role(admin_pb2.RoleRequest(name="editors"))
        user = operator.admin.get_user(admin_pb2.GetUserRequest(email=address)).user
        operator.admin.block_user(admin_pb2.UserIdRequest(id=user.id))
        operator.admin.revoke_api_key(admin_pb2.RevokeApiKeyRequest(id=created.key.id))
    wait_until(lambda: re.search(r'"message":"sent"', mailer.text()) and len(re.findall(r'"message":"sent"', mailer.text())) >= 2,
               30, "both mails reported sent")
    assert mailer.stop() == 0
    assert server.stop() == 0

    authd_log = (server.workdir / "stderr.log").read_text()
    mailer_log = mailer.text()
    secrets = [s for s in secrets if s]
    assert len(secrets) >= 12
    for name, log in (("authd", authd_log), ("auth-mailer", mailer_log)):
        for secret in secrets:
            assert secret not in log, f"{name}'s log holds a secret: {secret[:4]}…"
        entries = json_lines(log)
        assert any(entry["level"] == "trace" or entry["level"] == "debug" for entry in entries) or name == "authd"
        for entry in entries:
            if entry["level"] not in ("trace", "debug"):
                line = json.dumps(entry)
                assert address not in line and invited not in line, f"a full address at {entry['level']}: {line}"

    entries = json_lines(authd_log)
    # Every line written inside a call names it; the caller's id is kept.
    scenario = [e for e in entries if e["metadata"].get("request-id") == "scenario-1"]
    assert {"signed up", "login ok", "password changed"} <= {e["message"] for e in scenario}
    # Security events at info, naming who did it: the key's id.
    by_message = {e["message"]: e for e in entries if e["level"] == "info"}
    first_admin_id = by_message["API key created"]["metadata"]["by-key"]
    assert by_message["API key created"]["metadata"]["key"] == created.key.id
    for event in ("API key revoked", "user blocked", "role created", "settings changed", "user created by an operator"):
        assert by_message[event]["metadata"]["by-key"] == first_admin_id, event
    assert by_message["login failed: wrong password"]["metadata"]["user"] == user.id
    masked = address[0] + "***" + address[address.index("@"):]
    assert any(e["metadata"].get("to") == masked for e in json_lines(mailer_log) if e["message"] == "sent")
