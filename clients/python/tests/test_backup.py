"""`authd backup`: a consistent online copy, restored as docs/operations.md says.

The backup is taken while sign-ups run in parallel threads against the server. Each
sign-up notes, under one lock, the backup phase when it was sent and when it was
answered: before the backup began, while `authd backup` ran, after it exited. The
restored database must then pass `PRAGMA integrity_check`, hold every sign-up answered
before the backup began, hold none sent after `authd backup` exited, hold each user
whole (a sign-up writes the user, its attributes and its session in one transaction),
and serve: the old passwords, sessions and admin key work, and the roles, groups, page
rules, settings, templates and outbox are what they were.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from auth.v1 import admin_pb2, auth_pb2, common_pb2
from authd import RpcError
from conftest import AuthdServer

PASSWORD = "correct horse battery"
LOAD_THREADS = 4
# Sign-ups answered before the backup starts, and sent after it ends, at the least.
BEFORE = 40
AFTER = 8
# Tables the sign-ups write; every other table holds only what the set-up wrote.
LOADED_TABLES = {"users", "user_attributes", "sessions", "throttles"}

BEFORE_BACKUP, DURING_BACKUP, AFTER_BACKUP = 0, 1, 2


def first_admin_key(server: AuthdServer) -> str:
    return Path(f"{server.database}.admin-key").read_text().strip()


def run_backup(authd_binary: Path, database: Path, output: Path, umask: int = 0o022) -> subprocess.CompletedProcess:
    """`authd backup` as an operator runs it (a permissive umask: the mode must not depend on it)."""
    return subprocess.run(
        [str(authd_binary), "backup", "--database", str(database), "--output", str(output)],
        capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.umask(umask))


def set_up_everything_but_users(admin) -> str:
    """Something in every table a sign-up does not write; returns the invited email."""
    admin.admin.create_role(admin_pb2.RoleRequest(name="Admin"))
    admin.admin.create_role(admin_pb2.RoleRequest(name="Premium"))
    admin.admin.create_group(admin_pb2.CreateGroupRequest(name="Admin Premium", roles=["Admin", "Premium"]))
    admin.admin.set_page_rule(admin_pb2.SetPageRuleRequest(rule=admin_pb2.PageRule(
        pattern="/admin/*", access=admin_pb2.PAGE_ACCESS_GROUPS, groups=["Admin Premium"])))
    admin.admin.update_settings(admin_pb2.UpdateSettingsRequest(
        sign_in_redirect=common_pb2.StringValue(value="/login"),
        app_base_url=common_pb2.StringValue(value="https://cars.example")))
    admin.admin.set_template(admin_pb2.SetTemplateRequest(template=admin_pb2.EmailTemplate(
        kind=admin_pb2.TEMPLATE_KIND_VERIFICATION_CODE, subject="Your code",
        text_body="Your code is {{code}}.", html_body="<p>Your code is {{code}}.</p>")))
    admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(name="mailer-1", scope=admin_pb2.KEY_SCOPE_MAILER))
    invited = "invited@example.com"
    admin.admin.create_user(admin_pb2.CreateUserRequest(email=invited, roles=["Admin"], send_invitation=True))
    return invited


class SignUpLoad:
    """Threads signing up users until told to stop, each sign-up noted with the backup
    phase when it was sent and when it was answered."""

    def __init__(self, server: AuthdServer):
        self.server = server
        self.lock = threading.Condition()
        self.phase = BEFORE_BACKUP
        self.sent: Dict[str, int] = {}
        self.answered: Dict[str, Tuple[int, str]] = {}  # email -> (phase, session token)
        self.failures: List[BaseException] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(LOAD_THREADS)]

    def _run(self, thread: int) -> None:
        try:
            with self.server.client() as client:
                n = 0
                while not self.stopping.is_set():
                    email = f"load-{thread}-{n}@example.com"
                    n += 1
                    with self.lock:
                        self.sent[email] = self.phase
                    response = client.auth.sign_up(auth_pb2.SignUpRequest(
                        email=email, password=PASSWORD, attributes={"thread": str(thread), "n": str(n)}))
                    with self.lock:
                        self.answered[email] = (self.phase, response.session.token)
                        self.lock.notify_all()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            with self.lock:
                self.failures.append(error)
                self.lock.notify_all()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wait_until(self, predicate) -> None:
        with self.lock:
            ok = self.lock.wait_for(lambda: predicate() or self.failures, timeout=600)
        assert ok and not self.failures, self.failures or "the sign-up load made no progress"

    def enter(self, phase: int) -> None:
        with self.lock:
            self.phase = phase

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not self.failures, self.failures

    def emails(self, sent=None, answered=None) -> Set[str]:
        with self.lock:
            if sent is not None:
                return {e for e, phase in self.sent.items() if phase == sent}
            return {e for e, (phase, _) in self.answered.items() if phase == answered}


def table_rows(database: Path, table: str) -> List[tuple]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)


def tables(database: Path) -> List[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return [name for (name,) in db.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def test_backup_under_write_load_restores_every_acknowledged_write(authd_binary: Path, tmp_path: Path):
    source_dir, restore_dir = tmp_path / "source", tmp_path / "restored"
    source_dir.mkdir()
    restore_dir.mkdir()
    server = AuthdServer(authd_binary, source_dir, ["--scrypt-log-n", "10"]).start()
    backup = tmp_path / "backups" / "authd-backup.sqlite"
    backup.parent.mkdir()
    load = SignUpLoad(server)
    try:
        key = first_admin_key(server)
        with server.client(api_key=key) as admin:
            invited = set_up_everything_but_users(admin)

        load.start()
        load.wait_until(lambda: len(load.answered) >= BEFORE)
        load.enter(DURING_BACKUP)
        result = run_backup(authd_binary, server.database, backup)
        load.enter(AFTER_BACKUP)
        assert result.returncode == 0, result
        load.wait_until(lambda: sum(1 for p in load.sent.values() if p == AFTER_BACKUP) >= AFTER)
        load.stop()
    finally:
        load.stopping.set()
        status = server.stop()
    assert status == 0, server.output_tail()

    answered_before = load.emails(answered=BEFORE_BACKUP)
    sent_after = load.emails(sent=AFTER_BACKUP)
    assert len(answered_before) >= BEFORE and len(sent_after) >= AFTER
    print(f"sign-ups: {len(answered_before)} answered before the backup, "
          f"{len(load.emails(answered=DURING_BACKUP))} answered while it ran, {len(sent_after)} sent after it")

    # What authd backup printed: the file, and the rows of every table of the copy.
    assert str(backup) in result.stdout and "integrity_check ok" in result.stdout, result.stdout
    assert os.stat(backup).st_mode & 0o777 == 0o600
    assert not list(backup.parent.glob("*.partial-*")), "the temporary file was left behind"
    printed = dict(line.split() for line in result.stdout.splitlines() if line.startswith("    "))
    assert set(printed) == set(tables(backup))
    for table in tables(backup):
        assert int(printed[table]) == len(table_rows(backup, table)), table

    # Restore as docs/operations.md says: the copy becomes the database of a new directory.
    restored = restore_dir / "authd.sqlite"
    shutil.move(str(backup), str(restored))
    server2 = AuthdServer(authd_binary, restore_dir, ["--scrypt-log-n", "10"]).start()
    try:
        assert not any("first admin key" in line for line in server2.stdout_lines), \
            "the restored database has its admin keys: no new first key"
        with server2.client(api_key=key) as admin:
            roles = {r.name for r in admin.admin.list_roles(common_pb2.Empty()).roles}
            assert roles == {"Admin", "Premium"}
            rules = admin.admin.list_page_rules(common_pb2.Empty()).rules
            assert [(r.pattern, list(r.groups)) for r in rules] == [("/admin/*", ["Admin Premium"])]
            assert admin.admin.get_settings(common_pb2.Empty()).settings.app_base_url == "https://cars.example"
            template = admin.admin.get_template(admin_pb2.TemplateRequest(kind=admin_pb2.TEMPLATE_KIND_VERIFICATION_CODE)).template
            assert template.subject == "Your code" and not template.is_default
            user = admin.admin.get_user(admin_pb2.GetUserRequest(email=invited)).user
            assert list(user.roles) == ["Admin"]
        with server2.client() as client:
            # Sessions and password hashes came along.
            for email in sorted(answered_before)[:3]:
                token = load.answered[email][1]
                assert client.auth.get_me(auth_pb2.GetMeRequest(token=token)).user.email == email
                client.auth.login(auth_pb2.LoginRequest(email=email, password=PASSWORD))
            for email in sorted(sent_after)[:3]:
                with pytest.raises(RpcError) as refused:
                    client.auth.login(auth_pb2.LoginRequest(email=email, password=PASSWORD))
                assert refused.value.code_name == "UNAUTHENTICATED"
    finally:
        status = server2.stop()
    assert status == 0, server2.output_tail()

    with sqlite3.connect(restored) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        emails = {email for (email,) in db.execute("SELECT email FROM users")}
        missing = answered_before - emails
        assert not missing, f"{len(missing)} sign-ups answered before the backup are not in it: {sorted(missing)[:5]}"
        assert not (sent_after & emails), "sign-ups sent after the backup ended are in it"
        # Each user whole: a sign-up's user, attributes and session are one transaction.
        torn = db.execute("""
            SELECT email FROM users u WHERE email LIKE 'load-%' AND (
                (SELECT COUNT(*) FROM user_attributes a WHERE a.user_id = u.id) != 2
                OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id))
            """).fetchall()
        assert torn == []
        assert db.execute("SELECT COUNT(*) FROM outbox WHERE recipient = ?", (invited,)).fetchone() == (1,)

    # Every table the sign-ups do not write is exactly what the source had. (The restored
    # server wrote sessions for the logins above, and its admin calls stamped the key.)
    source = source_dir / "authd.sqlite"
    for table in set(tables(source)) - LOADED_TABLES - {"api_keys"}:
        assert table_rows(restored, table) == table_rows(source, table), table
    key_columns = "id, name, scope, secret_hash, created_at, revoked_at"
    with sqlite3.connect(restored) as a, sqlite3.connect(source) as b:
        query = f"SELECT {key_columns} FROM api_keys ORDER BY id"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        assert len(a.execute(query).fetchall()) == 2


def test_backup_refuses_to_overwrite_and_needs_a_database(authd_binary: Path, tmp_path: Path):
    server = AuthdServer(authd_binary, tmp_path).start()
    try:
        existing = tmp_path / "existing.sqlite"
        existing.write_text("precious")
        result = run_backup(authd_binary, server.database, existing)
        assert result.returncode == 1, result
        assert "exists" in result.stderr and result.stdout == "", result
        assert existing.read_text() == "precious"

        missing = tmp_path / "no-such.sqlite"
        result = run_backup(authd_binary, missing, tmp_path / "copy.sqlite")
        assert result.returncode == 1 and "no database" in result.stderr, result
        assert not missing.exists() and not (tmp_path / "copy.sqlite").exists()

        result = run_backup(authd_binary, server.database, tmp_path / "no-such-dir" / "copy.sqlite")
        assert result.returncode == 1 and "cannot create" in result.stderr, result
    finally:
        assert server.stop() == 0


def test_restore_over_a_crashed_server(authd_binary: Path, tmp_path: Path):
    """The restore steps of docs/operations.md where they matter most: authd was killed,
    so its WAL is still beside the database. Moved aside with it, the copy starts clean;
    a WAL left beside the copy would be replayed into it."""
    server = AuthdServer(authd_binary, tmp_path, ["--scrypt-log-n", "10"]).start()
    with server.client() as client:
        client.auth.sign_up(auth_pb2.SignUpRequest(email="kept@example.com", password=PASSWORD))
    backup = tmp_path / "backup.sqlite"
    assert run_backup(authd_binary, server.database, backup).returncode == 0
    with server.client() as client:
        client.auth.sign_up(auth_pb2.SignUpRequest(email="after@example.com", password=PASSWORD))
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.stop()
    database = server.database
    assert Path(f"{database}-wal").exists(), "a killed authd leaves its WAL"

    # The trap: the killed server's WAL beside the copy is replayed into it, bringing back
    # what the backup did not have. (SQLite does not tie a WAL to its database file.)
    trap = tmp_path / "trap"
    trap.mkdir()
    shutil.copy(backup, trap / "authd.sqlite")
    shutil.copy(f"{database}-wal", trap / "authd.sqlite-wal")
    with sqlite3.connect(trap / "authd.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM users WHERE email = 'after@example.com'").fetchone() == (1,)

    aside = tmp_path / "before-restore"
    aside.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{database}{suffix}").exists():
            shutil.move(f"{database}{suffix}", aside)
    shutil.move(str(backup), str(database))

    restarted = AuthdServer(authd_binary, tmp_path, ["--scrypt-log-n", "10"]).start()
    try:
        with restarted.client() as client:
            client.auth.login(auth_pb2.LoginRequest(email="kept@example.com", password=PASSWORD))
            with pytest.raises(RpcError):
                client.auth.login(auth_pb2.LoginRequest(email="after@example.com", password=PASSWORD))
    finally:
        assert restarted.stop() == 0
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_a_database_from_a_newer_authd_is_refused(authd_binary: Path, tmp_path: Path):
    """A downgrade: the database has a migration this build does not know. GRDB's migrator
    would skip it silently; authd refuses to start, and says what to do."""
    server = AuthdServer(authd_binary, tmp_path).start()
    with server.client() as client:
        client.auth.sign_up(auth_pb2.SignUpRequest(email="ada@example.com", password=PASSWORD))
    server.stop()
    with sqlite3.connect(server.database) as db:
        db.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v999-from-the-future')")
    result = subprocess.run(
        [str(authd_binary), "--host", "127.0.0.1", "--port", "0", "--database", str(server.database)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result
    assert "authd listening" not in result.stdout
    assert "newer authd" in result.stderr and "v999-from-the-future" in result.stderr, result.stderr
    # A backup of it still works: the backup copies pages and never migrates.
    backup = run_backup(authd_binary, server.database, tmp_path / "copy.sqlite")
    assert backup.returncode == 0 and "v999-from-the-future" in backup.stdout, backup
