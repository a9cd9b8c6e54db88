"""Issue 9's operator traps, against the real binaries: file modes whatever the
umask, the last admin key, the offline key command, and what the logs say."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from authd import RpcError
from auth.v1 import admin_pb2, auth_pb2, common_pb2
from conftest import AuthdServer
from test_mailer import admin_key, mailer_binary, mailer_key, start_mailer, wait_until  # noqa: F401 (fixtures)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_wal_shm_and_key_files_are_0600_under_umask_022(authd_binary: Path, tmp_path: Path):
    old = os.umask(0o022)
    try:
        server = AuthdServer(authd_binary, tmp_path).start()
    finally:
        os.umask(old)
    try:
        with server.client() as client:  # a write, so WAL and SHM exist
            client.auth.sign_up(auth_pb2.SignUpRequest(email="modes@example.com", password="correct horse"))
        files = [server.database, Path(f"{server.database}-wal"), Path(f"{server.database}-shm"),
                 Path(f"{server.database}.admin-key")]
        for path in files:
            assert path.exists(), path
            assert mode(path) == 0o600, f"{path.name} is {oct(mode(path))}"
    finally:
        server.stop()


def test_a_database_made_world_readable_is_made_0600_at_start(authd_binary: Path, tmp_path: Path):
    first = AuthdServer(authd_binary, tmp_path).start()
    first.stop()
    os.chmod(first.database, 0o644)
    second = AuthdServer(authd_binary, tmp_path).start()
    try:
        assert mode(second.database) == 0o600
    finally:
        second.stop()


def test_the_last_admin_key_cannot_be_revoked_and_a_lost_one_is_recovered_offline(authd_binary: Path, tmp_path: Path):
    server = AuthdServer(authd_binary, tmp_path).start()
    try:
        with server.client(api_key=admin_key(server)) as admin:
            keys = admin.admin.list_api_keys(common_pb2.Empty()).keys
            first = next(k for k in keys if k.name == "first admin")
            with pytest.raises(RpcError) as refused:
                admin.admin.revoke_api_key(admin_pb2.RevokeApiKeyRequest(id=first.id))
            assert refused.value.code_name == "FAILED_PRECONDITION"
            assert "last unrevoked admin key" in refused.value.message
            # A mailer key does not count as a way in.
            admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(name="m", scope=admin_pb2.KEY_SCOPE_MAILER))
            with pytest.raises(RpcError):
                admin.admin.revoke_api_key(admin_pb2.RevokeApiKeyRequest(id=first.id))

        # The offline command works with the server running, and the new key works at once.
        created = subprocess.run(
            [str(authd_binary), "admin-key", "create", "--database", str(server.database), "--name", "ops laptop"],
            capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        match = re.search(r"its secret is in (\S+)", created.stdout)
        assert match, created.stdout
        key_file = Path(match.group(1))
        if not key_file.is_absolute():
            key_file = Path.cwd() / key_file
        assert mode(key_file) == 0o600
        secret = key_file.read_text().strip()
        assert secret.startswith("authd_ak_") and secret not in created.stdout + created.stderr
        with server.client(api_key=secret) as admin:
            names = [k.name for k in admin.admin.list_api_keys(common_pb2.Empty()).keys]
            assert "ops laptop" in names
            # With a second admin key, the first one can go.
            admin.admin.revoke_api_key(admin_pb2.RevokeApiKeyRequest(id=first.id))

        # It refuses a path that is not a database, and a secret file that exists.
        missing = subprocess.run(
            [str(authd_binary), "admin-key", "create", "--database", str(tmp_path / "typo.sqlite"), "--name", "x"],
            capture_output=True, text=True, timeout=60)
        assert missing.returncode != 0 and "no database" in missing.stderr
        assert not (tmp_path / "typo.sqlite").exists()
        again = subprocess.run(
            [str(authd_binary), "admin-key", "create", "--database", str(server.database), "--name", "ops laptop"],
            capture_output=True, text=True, timeout=60)
        assert again.returncode != 0
        assert key_file.read_text().strip() == secret
    finally:
        server.stop()


def test_a_leftover_key_file_is_adopted_not_lost(authd_binary: Path, tmp_path: Path):
    (tmp_path / "old").mkdir()
    old = AuthdServer(authd_binary, tmp_path / "old").start()
    old.stop()
    leftover = Path(f"{old.database}.admin-key").read_text().strip()
    # A new database beside the old key file: the file's secret becomes the new first key.
    old.database.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{old.database}{suffix}").unlink(missing_ok=True)
    new = AuthdServer(authd_binary, tmp_path / "old").start()
    try:
        with new.client(api_key=leftover) as admin:
            assert [k.name for k in admin.admin.list_api_keys(common_pb2.Empty()).keys] == ["first admin"]
    finally:
        new.stop()


def test_security_events_are_logged_at_info_without_secrets(authd_binary: Path, start_mailer, tmp_path: Path):
    server = AuthdServer(authd_binary, tmp_path).start()
    try:
        email = f"grace-{uuid.uuid4().hex[:6]}@example.com"
        with server.client() as client:
            user_id = client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="correct horse")).user.id
            client.auth.login(auth_pb2.LoginRequest(email=email, password="correct horse"))
            with pytest.raises(RpcError):
                client.auth.login(auth_pb2.LoginRequest(email=email, password="wrong horse"))
            with pytest.raises(RpcError):
                client.auth.login(auth_pb2.LoginRequest(email="nobody@example.com", password="wrong horse"))
        with server.client(api_key=admin_key(server)) as admin:
            made = admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(name="ci", scope=admin_pb2.KEY_SCOPE_SERVICE))
            admin.admin.revoke_api_key(admin_pb2.RevokeApiKeyRequest(id=made.key.id))
            admin.admin.import_users(admin_pb2.ImportUsersRequest(header="email", rows=b"imported@example.com\n"))
            moved = admin.admin.update_user(admin_pb2.UpdateUserRequest(
                id=user_id, email=common_pb2.StringValue(value=f"moved-{email}"))).user
            admin.admin.update_user(admin_pb2.UpdateUserRequest(id=user_id, email=common_pb2.StringValue(value=email)))
        key = mailer_key(server)
        with server.client() as client:
            client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=email))
        mailer = start_mailer(server, key, "--transport", "file", "--out-dir", str(tmp_path / "out"))
        mailer.wait_log(r"\] sent$")
        mailer.stop()
    finally:
        server.stop()
    log = (tmp_path / "stderr.log").read_text()
    assert re.search(rf"user={user_id} .*login ok", log), log[-2000:]
    assert re.search(rf"user={user_id} .*login failed: wrong password", log)
    assert re.search(r"account=n\*\*\*@example\.com .*login failed: no such account", log)
    assert re.search(rf"key={made.key.id} name=ci scope=service .*API key created", log)
    assert re.search(rf"key={made.key.id} .*API key revoked", log)
    assert re.search(r"created=1 errors=0 .*users imported", log)
    assert moved.email == f"moved-{email}"
    assert len(re.findall(rf"user={user_id} .*email changed by an operator", log)) == 2, log[-2000:]
    assert "correct horse" not in log and "wrong horse" not in log
    assert made.secret not in log and email not in log
    mailer_log = mailer.text()
    assert re.search(rf"to={re.escape(email[0])}\*\*\*@example\.com", mailer_log), mailer_log[-2000:]
    assert email not in mailer_log


def test_the_mailer_shows_whole_addresses_at_debug(authd_binary: Path, start_mailer, tmp_path: Path):
    server = AuthdServer(authd_binary, tmp_path).start()
    try:
        email = f"debug-{uuid.uuid4().hex[:6]}@example.com"
        with server.client() as client:
            client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="correct horse"))
            client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=email))
        mailer = start_mailer(server, mailer_key(server), "--transport", "file", "--out-dir", str(tmp_path / "out"),
                              "--log-level", "debug")
        mailer.wait_log(r"\] sent$")
        assert f"to={email}" in mailer.text()
    finally:
        server.stop()
