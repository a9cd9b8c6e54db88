"""`authd migrate-store`: SQLite to PostgreSQL and back, on a populated database.

A SQLite authd is filled with something in every table (users with attributes and
password hashes, sessions, a blocked user, roles, a group, a page rule, settings, a
template, a mailer key, an invitation and a password code with their queued mail, the
decoy rows of a ForgotPassword for an unknown email), with enough imported users that
the users and their attributes (a two-column key) take several pages; then it is
stopped. The copy to a new PostgreSQL database prints the rows of every table; copied
back to a new SQLite file, every table holds exactly the rows of the original. An authd
started on the PostgreSQL copy serves it: the old passwords, session tokens and admin key
work, the blocked user stays blocked, and the directory and the queued mail are there;
while it runs, copying from that database is refused. A destination that holds rows, a
source that does not exist or is not at this build's schema, and a bad or unreachable
store are refused, and no password is ever printed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from auth.v1 import admin_pb2, auth_pb2, common_pb2, mail_pb2
from authd import RpcError
from conftest import AuthdServer
from postgres_db import Database, superuser_url
from test_backup import set_up_everything_but_users, table_rows, tables

PASSWORD = "correct horse battery"
USERS = 25
# Imported users: more than one page (1000 rows) of users, two of attributes each.
IMPORTED = 1200
CHEAP = ["--scrypt-log-n", "10"]
# The test server trusts every login, so a password in the URL is accepted and ignored:
# what the test looks for in the output.
SECRET = "s3cret-pw"


def migrate(authd_binary: Path, source: str, destination: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(authd_binary), "migrate-store", "--from", source, "--to", destination],
                            capture_output=True, text=True, timeout=300, env=None if env is None else {**os.environ, **env})
    assert SECRET not in result.stdout + result.stderr, "a password was printed"
    return result


def with_password(url: str) -> str:
    """`url` with SECRET as the password of its user."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{SECRET}@{host}"


def printed_rows(result: subprocess.CompletedProcess) -> Dict[str, int]:
    """The per-table counts migrate-store prints, indented under its first line."""
    return {name: int(rows) for name, rows in
            (line.split() for line in result.stdout.splitlines() if line.startswith("  "))}


def populate(server: AuthdServer) -> Dict[str, object]:
    """Something in every table; returns what the checks need."""
    key = (server.workdir / "authd.sqlite.admin-key").read_text().strip()
    tokens: Dict[str, str] = {}
    with server.client(api_key=key) as admin:
        invited = set_up_everything_but_users(admin)
        with server.client() as client:
            for n in range(USERS):
                email = f"user{n:02d}@example.com"
                response = client.auth.sign_up(auth_pb2.SignUpRequest(
                    email=email, password=PASSWORD, attributes={"name": f"User {n}", "city": "Lyon"}))
                tokens[email] = response.session.token
            client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email="user01@example.com"))
            client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email="nobody@example.com"))  # the decoy tables
            with pytest.raises(RpcError):
                client.auth.login(auth_pb2.LoginRequest(email="user02@example.com", password="wrong password"))
        blocked = admin.admin.get_user(admin_pb2.GetUserRequest(email="user03@example.com")).user
        admin.admin.block_user(admin_pb2.UserIdRequest(id=blocked.id))
        premium = admin.admin.get_user(admin_pb2.GetUserRequest(email="user04@example.com")).user
        admin.admin.update_user(admin_pb2.UpdateUserRequest(id=premium.id, roles=common_pb2.StringList(values=["Admin", "Premium"])))
        mailer = admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(
            name="mailer-2", scope=admin_pb2.KEY_SCOPE_MAILER)).secret
        rows = "".join(f"imported{n:05d}@example.com,Imported {n},Zürich {n % 7}\n" for n in range(IMPORTED))
        imported = admin.admin.import_users(admin_pb2.ImportUsersRequest(
            header="email,name,city", rows=rows.encode(), first_line=2))
        assert imported.created == IMPORTED, imported.errors
    return {"key": key, "mailer": mailer, "tokens": tokens, "invited": invited}


def test_sqlite_to_postgres_and_back_copies_every_row(authd_binary: Path, tmp_path: Path):
    source_dir = tmp_path / "source"
    source_dir.mkdir()
    server = AuthdServer(authd_binary, source_dir, CHEAP).start()
    try:
        state = populate(server)
    finally:
        assert server.stop() == 0, server.output_tail()
    source = source_dir / "authd.sqlite"
    source_tables = [t for t in tables(source) if t != "grdb_migrations"]
    empty = [t for t in source_tables if not table_rows(source, t)]
    assert empty == [], f"tables the set-up left empty: {empty}"
    assert len(table_rows(source, "user_attributes")) > 2000  # three pages of a two-column key

    database = Database(superuser_url())
    try:
        url = with_password(database.store_url())
        # From the environment: the URL with its password stays off the command line.
        to_postgres = migrate(authd_binary, f"sqlite:{source}", "env:AUTHD_STORE", env={"AUTHD_STORE": url})
        assert to_postgres.returncode == 0, to_postgres.stderr
        counts = printed_rows(to_postgres)
        assert counts == {t: len(table_rows(source, t)) for t in source_tables}, to_postgres.stdout

        # Back to a new SQLite file: every table exactly as it was.
        back = tmp_path / "back.sqlite"
        to_sqlite = migrate(authd_binary, url, f"sqlite:{back}")
        assert to_sqlite.returncode == 0, to_sqlite.stderr
        assert printed_rows(to_sqlite) == counts
        for table in source_tables:
            assert table_rows(back, table) == table_rows(source, table), table

        # A second copy into either destination is refused: neither is empty any more.
        again = migrate(authd_binary, f"sqlite:{source}", url)
        assert again.returncode == 1 and "is not empty" in again.stderr, again
        again = migrate(authd_binary, url, f"sqlite:{back}")
        assert again.returncode == 1 and "is not empty" in again.stderr, again

        # authd on the PostgreSQL copy serves what the SQLite one did.
        served_dir = tmp_path / "served"
        served_dir.mkdir()
        served = AuthdServer(authd_binary, served_dir, [*CHEAP, "--store", url]).start()
        try:
            assert not any("first admin key" in line for line in served.stdout_lines), \
                "the copy has its admin keys: no new first key"
            with served.client() as client:
                for email, token in list(state["tokens"].items())[:5]:
                    if email == "user03@example.com":
                        continue
                    assert client.auth.get_me(auth_pb2.GetMeRequest(token=token)).user.email == email
                    client.auth.login(auth_pb2.LoginRequest(email=email, password=PASSWORD))
                me = client.auth.get_me(auth_pb2.GetMeRequest(token=state["tokens"]["user04@example.com"])).user
                assert sorted(me.roles) == ["Admin", "Premium"] and me.attributes["city"] == "Lyon"
                for call in (lambda: client.auth.login(auth_pb2.LoginRequest(email="user03@example.com", password=PASSWORD)),
                             lambda: client.auth.get_me(auth_pb2.GetMeRequest(token=state["tokens"]["user03@example.com"]))):
                    with pytest.raises(RpcError) as refused:
                        call()
                    assert refused.value.code_name in ("UNAUTHENTICATED", "PERMISSION_DENIED")
                page = client.auth.authorize_page(auth_pb2.AuthorizePageRequest(
                    token=state["tokens"]["user04@example.com"], path="/admin/cars"))
                assert page.allowed
            with served.client(api_key=state["key"]) as admin:
                assert {r.name for r in admin.admin.list_roles(common_pb2.Empty()).roles} == {"Admin", "Premium"}
                rules = admin.admin.list_page_rules(common_pb2.Empty()).rules
                assert [(r.pattern, list(r.groups)) for r in rules] == [("/admin/*", ["Admin Premium"])]
                assert admin.admin.get_settings(common_pb2.Empty()).settings.app_base_url == "https://cars.example"
                template = admin.admin.get_template(admin_pb2.TemplateRequest(
                    kind=admin_pb2.TEMPLATE_KIND_VERIFICATION_CODE)).template
                assert template.subject == "Your code" and not template.is_default
                assert len(admin.admin.list_api_keys(common_pb2.Empty()).keys) == 3
                # New rows continue after the copied ids.
                admin.admin.create_role(admin_pb2.RoleRequest(name="Fleet"))
            with served.client(api_key=state["mailer"]) as mail:
                stats = mail.mail.queue_stats(mail_pb2.QueueStatsRequest())
                assert stats.queued == counts["outbox"] == 2  # the invitation and the reset code
            with served.client() as client:
                client.auth.sign_up(auth_pb2.SignUpRequest(email="after@example.com", password=PASSWORD))
            # While an authd serves the database, copying from it is refused.
            busy = migrate(authd_binary, url, f"sqlite:{tmp_path / 'while-served.sqlite'}")
            assert busy.returncode == 1 and "other session(s) are connected" in busy.stderr, busy
        finally:
            assert served.stop() == 0, served.output_tail()
    finally:
        database.drop()


def test_a_source_at_another_schema_is_refused_and_left_as_it_was(authd_binary: Path, tmp_path: Path):
    """A source is only read: one that this build would migrate (here a database that is
    not authd's at all) is refused, not upgraded."""
    database = Database(superuser_url())
    try:
        database.sql("CREATE TABLE unrelated (id INTEGER)")
        refused = migrate(authd_binary, with_password(database.store_url()), f"sqlite:{tmp_path / 'to.sqlite'}")
        assert refused.returncode == 1 and "schema is not this authd's" in refused.stderr, refused
        tables_after = database.sql("SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")
        assert tables_after == "unrelated", "the source was changed"
    finally:
        database.drop()


def test_a_missing_source_or_a_bad_store_is_refused(authd_binary: Path, tmp_path: Path):
    missing = migrate(authd_binary, f"sqlite:{tmp_path / 'nothing.sqlite'}", f"sqlite:{tmp_path / 'to.sqlite'}")
    assert missing.returncode == 1 and "no database at" in missing.stderr, missing
    assert not (tmp_path / "to.sqlite").exists()
    bad = migrate(authd_binary, f"mysql://root:{SECRET}@db/authd", f"sqlite:{tmp_path / 'to.sqlite'}")
    assert bad.returncode == 1 and "sqlite:PATH or a postgres:// URL" in bad.stderr, bad
    unreachable = migrate(authd_binary, f"postgres://authd:{SECRET}@127.0.0.1:1/authd", f"sqlite:{tmp_path / 'to.sqlite'}")
    assert unreachable.returncode == 1, unreachable
    assert "cannot use the database at postgres://authd@127.0.0.1:1/authd" in unreachable.stderr, unreachable.stderr
    unset = migrate(authd_binary, "env:AUTHD_NO_SUCH_VARIABLE", f"sqlite:{tmp_path / 'to.sqlite'}")
    assert unset.returncode == 1 and "AUTHD_NO_SUCH_VARIABLE is not set" in unset.stderr, unset
    assert not (tmp_path / "to.sqlite").exists()
