"""authd on PostgreSQL, end to end: real authd processes on one real PostgreSQL
server (the test server of tools/postgres-test-server.sh, its superuser URL in
$AUTHD_TEST_POSTGRES_URL; the tests fail without it), each test on a fresh
database of its own.

- A database that cannot be used at start: authd exits non-zero at once, naming it.
- A database lost while authd serves (a TCP proxy between them is cut): calls that
  need it answer UNAVAILABLE and /readyz 503; once it is back, authd serves again
  without a restart, and forgets what it may have missed meanwhile.
- Two processes starting together on an empty database both serve and create one
  first admin key; so do two on a migrated database that holds no key.
- Two processes on one database are one service: the car-rental directory, unique
  emails, the per-account login throttle, revocation, and the outbox drained by two
  mailers, each attached to another authd.

The in-process counterpart is Tests/AuthServerTests/MultiInstanceTests.swift.
"""

from __future__ import annotations

import json
import stat
import subprocess
import threading
import time
import uuid
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

from auth.v1 import admin_pb2, auth_pb2, common_pb2
from authd import Client, RpcError, StatusCode
from conftest import AuthdServer
from postgres_db import Database, host_of, port_of, psql, superuser_url, with_database
from smtp_server import free_port
from tcp_proxy import TCPProxy
from test_mailer import PLAIN, mailer_binary, smtp, start_mailer, wait_until  # noqa: F401 - fixtures
from test_management import get

# Cheap hashes keep a sign-up in milliseconds (the tests are about the store, not scrypt).
CHEAP = ("--scrypt-log-n", "10")
# What withTwoTestAuthds gives its pair: the tests' parallel calls carry no end-user
# address, so the hashing queue's fair share per source must not refuse them.
WIDE_HASH_QUEUE = ("--hashing-max-per-source", "4096", "--hashing-max-waiting", "4096")
# The default of throttle.loginPerAccount.freeFailures (docs/configuration.md).
FREE_LOGIN_FAILURES = 5
# The stated bound on staleness across instances (docs/decisions.md): a check on B
# made after A's revoking call returned may be answered from B's cache for about a
# millisecond, so B is asked at most this many times, this far apart.
CROSS_INSTANCE_TRIES = 3
CROSS_INSTANCE_INTERVAL_S = 0.02
PASSWORD = "rent a car"
# Long enough for authd to answer UNAVAILABLE itself (it waits up to 5 s for a connection).
SLOW_CALL_TIMEOUT_S = 30.0


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = superuser_url()
    try:
        psql(url, "SELECT 1", timeout=30)
    except (AssertionError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"the test PostgreSQL server at {url} does not answer: {error}", pytrace=False)
    return url


@pytest.fixture(autouse=True)
def _needs_postgres(postgres_url: str) -> None:
    """Every test here fails (never skips) without the test server."""


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[Callable[[], Database]]:
    """A factory of empty databases, each dropped after the test (after its servers stop)."""
    made: List[Database] = []

    def make() -> Database:
        database = Database(postgres_url)
        made.append(database)
        return database

    yield make
    for database in made:
        database.drop()


class PostgresAuthd(AuthdServer):
    """authd with `--store` on a test database; the first admin key, if this process
    writes it, goes to <workdir>/admin.key."""

    def __init__(self, binary: Path, workdir: Path, database: Database, extra_args: Sequence[str] = (),
                 port: Optional[int] = None):
        self.store = database.store_url(port)
        self.key_file = workdir / "admin.key"
        super().__init__(binary, workdir, ["--store", self.store, "--admin-key-file", str(self.key_file),
                                           *CHEAP, *extra_args])
        self.pg = database
        self.stopped = False

    def stop(self) -> Optional[int]:
        self.stopped = True
        return super().stop()

    def admin_key(self) -> str:
        return self.key_file.read_text().strip()

    def log(self) -> str:
        """stdout and stderr (authd logs to stderr) as far as written."""
        stderr = self.workdir / "stderr.log"
        return "\n".join(self.stdout_lines) + "\n" + (stderr.read_text("utf-8", "replace") if stderr.exists() else "")


@pytest.fixture
def pg_authd(authd_binary: Path, tmp_path_factory: pytest.TempPathFactory,
             fresh_database) -> Iterator[Callable[..., PostgresAuthd]]:
    """pg_authd(database, *flags, port=None, start=True): an authd on `database`, through
    `port` instead of the server's when given; every one is stopped after the test and
    must not have died on its own."""
    made: List[PostgresAuthd] = []

    def make(database: Database, *extra_args: str, port: Optional[int] = None, start: bool = True) -> PostgresAuthd:
        server = PostgresAuthd(authd_binary, tmp_path_factory.mktemp("authd-pg"), database, extra_args, port)
        made.append(server)
        return server.start() if start else server

    yield make
    # Servers that served (printed their port) and then exited without being stopped.
    crashed = [server for server in made
               if server.port and not server.stopped and server.proc is not None and server.proc.poll() is not None]
    for server in made:
        server.stop()
    assert not crashed, "authd died during the test:\n" + "\n".join(s.output_tail() for s in crashed)


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TCPProxy]:
    """A cuttable TCP proxy in front of the PostgreSQL server."""
    started = TCPProxy(host_of(postgres_url), port_of(postgres_url)).start()
    yield started
    started.stop()


@pytest.fixture
def pair(fresh_database, pg_authd) -> Tuple[PostgresAuthd, PostgresAuthd]:
    """A and B on one fresh database. A starts first and writes the first admin key; B
    finds the database migrated and the key there."""
    database = fresh_database()
    a = pg_authd(database, *WIDE_HASH_QUEUE)
    b = pg_authd(database, *WIDE_HASH_QUEUE)
    assert a.key_file.exists() and not b.key_file.exists()
    return a, b


# ---------------------------------------------------------------- helpers

def fresh_email(prefix: str = "pg") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def code_of(call: Callable[[], object]) -> int:
    try:
        call()
    except RpcError as error:
        return error.code
    return StatusCode.OK


def refused_within_bound(check: Callable[[], object]) -> int:
    """Runs `check` (a call on the other instance) until it raises UNAUTHENTICATED, at most
    CROSS_INSTANCE_TRIES times CROSS_INSTANCE_INTERVAL_S apart; returns the try that was
    refused, or fails."""
    for attempt in range(1, CROSS_INSTANCE_TRIES + 1):
        try:
            check()
        except RpcError as error:
            if error.code == StatusCode.UNAUTHENTICATED:
                return attempt
            raise
        time.sleep(CROSS_INSTANCE_INTERVAL_S)
    raise AssertionError(f"still accepted after {CROSS_INSTANCE_TRIES} checks "
                         f"{CROSS_INSTANCE_INTERVAL_S * 1000:g} ms apart")


def equal_within_bound(read: Callable[[], object], expected: object) -> object:
    """Reads on the other instance until the answer equals `expected`, within the same bound."""
    value = None
    for _ in range(CROSS_INSTANCE_TRIES):
        value = read()
        if value == expected:
            return value
        time.sleep(CROSS_INSTANCE_INTERVAL_S)
    raise AssertionError(f"after {CROSS_INSTANCE_TRIES} reads {CROSS_INSTANCE_INTERVAL_S * 1000:g} ms apart: "
                         f"{value!r}, expected {expected!r}")


def in_parallel(count: int, call: Callable[[int], object]) -> List[object]:
    """`call(i)` for i in range(count), each on its own thread, released together; the
    result of each, or the RpcError it raised."""
    barrier = threading.Barrier(count)
    results: List[object] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = call(index)
        except RpcError as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def codes(results: List[object]) -> Counter:
    return Counter(StatusCode(r.code).name if isinstance(r, RpcError) else "OK" for r in results)


def readyz(server: AuthdServer) -> Tuple[int, dict]:
    status, body = get(server, "/readyz")
    return status, json.loads(body)


def readyz_answers(server: AuthdServer, status: int) -> Optional[dict]:
    """/readyz's body when it answers `status`, else None (for wait_until)."""
    answer, body = readyz(server)
    return body if answer == status else None


def users_with_email(database: Database, email: str) -> int:
    return int(database.sql(f"SELECT count(*) FROM users WHERE email = '{email}'"))


def outbox_states(database: Database) -> Dict[str, int]:
    return {state: int(n) for state, n in database.rows("SELECT state, count(*) FROM outbox GROUP BY state")}


# ---------------------------------------------------------------- (1) unusable at start

def run_authd_until_exit(authd_binary: Path, workdir: Path, store: str) -> subprocess.CompletedProcess:
    """authd with `store`, which it cannot use: it must exit on its own (the timeout is an
    upper bound for a hung start, far above the few milliseconds it takes)."""
    try:
        return subprocess.run(
            [str(authd_binary), "--host", "127.0.0.1", "--port", "0", "--store", store,
             "--admin-key-file", str(workdir / "admin.key")],
            cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"authd did not exit within 15 s on the unusable store {store}\n"
                    f"stdout: {hung.stdout!r}\nstderr: {hung.stderr!r}")


def test_unreachable_database_at_start_exits_non_zero(authd_binary: Path, tmp_path: Path):
    """A closed port: authd exits non-zero without listening; stderr names the database
    (without its password) and the cause."""
    port = free_port()
    store = f"postgres://authd:hunter2secret@127.0.0.1:{port}/authd_py_nowhere?sslmode=disable"
    result = run_authd_until_exit(authd_binary, tmp_path, store)
    assert result.returncode != 0, result
    assert "authd listening" not in result.stdout
    assert f"cannot use the database at postgres://authd@127.0.0.1:{port}/authd_py_nowhere:" in result.stderr, \
        result.stderr
    assert "Connection refused" in result.stderr, result.stderr
    assert "hunter2secret" not in result.stdout + result.stderr
    assert not (tmp_path / "admin.key").exists()


def test_missing_database_at_start_exits_non_zero(authd_binary: Path, tmp_path: Path, postgres_url: str):
    """A server that answers but has no such database: the same, naming the database."""
    name = f"authd_py_missing_{uuid.uuid4().hex[:8]}"
    result = run_authd_until_exit(authd_binary, tmp_path, with_database(postgres_url, name, "sslmode=disable"))
    assert result.returncode != 0, result
    assert "authd listening" not in result.stdout
    assert f"cannot use the database at postgres://authd@{host_of(postgres_url)}:{port_of(postgres_url)}/{name}" \
        in result.stderr, result.stderr
    assert f'database "{name}" does not exist' in result.stderr, result.stderr
    assert not (tmp_path / "admin.key").exists()


# ---------------------------------------------------------------- (2) lost while serving

def sign_up(server: AuthdServer, email: str) -> auth_pb2.SignUpResponse:
    with server.client(default_timeout=SLOW_CALL_TIMEOUT_S) as client:
        return client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password=PASSWORD))


def signs_up_again(server: AuthdServer) -> bool:
    """One sign-up of a new email: True when it succeeds, False for UNAVAILABLE."""
    try:
        sign_up(server, fresh_email("back"))
        return True
    except RpcError as error:
        if error.code == StatusCode.UNAVAILABLE:
            return False
        raise


def test_database_lost_while_serving_then_back_without_restart(fresh_database, pg_authd, proxy: TCPProxy):
    """With the proxy cut, SignUp and Login answer UNAVAILABLE (authd's own answer, not a
    lost connection) and write nothing; /readyz says 503. After restore, without a
    restart, SignUp succeeds again and /readyz says 200."""
    database = fresh_database()
    server = pg_authd(database, "--management-port", "0", port=proxy.port)
    known = fresh_email("known")
    sign_up(server, known)
    assert readyz(server)[0] == 200
    assert proxy.open_connections() > 0

    proxy.cut()
    lost = fresh_email("lost")
    with server.client(default_timeout=SLOW_CALL_TIMEOUT_S) as client:
        # Both in flight at once: each waits (up to 5 s) for a connection that never comes.
        calls = [client.auth.sign_up.future(auth_pb2.SignUpRequest(email=lost, password=PASSWORD)),
                 client.auth.login.future(auth_pb2.LoginRequest(email=known, password=PASSWORD))]
        gone = wait_until(lambda: readyz_answers(server, 503), 30, "/readyz to answer 503 with the database gone")
        assert gone["failed"] == ["database"], gone
        for call in calls:
            error = call.exception(timeout=SLOW_CALL_TIMEOUT_S + 5)
            assert isinstance(error, RpcError), f"answered {call.result()!r} with the database gone"
            assert error.code == StatusCode.UNAVAILABLE and not error.connection_closed, error
            assert "the database is unavailable" in error.message, error
    assert server.alive()

    proxy.restore()
    wait_until(lambda: signs_up_again(server), 30, "a sign-up to succeed once the database is back")
    back = wait_until(lambda: readyz_answers(server, 200), 30, "/readyz to answer 200 again")
    assert back["failed"] == [] and back["checks"]["database"] == "ok", back
    with server.client() as client:
        client.auth.login(auth_pb2.LoginRequest(email=known, password=PASSWORD))
    assert users_with_email(database, lost) == 0
    assert users_with_email(database, known) == 1
    assert server.alive()


def test_a_change_missed_while_cut_off_is_not_served_afterwards(fresh_database, pg_authd, proxy: TCPProxy):
    """A reaches the database through the proxy, B directly. A caches a session; the proxy
    is cut (A's listening connection with it); B ends the session meanwhile, and A cannot
    hear of it. Once A's database is back, A refuses the session: it forgets what it
    cached when it listens again, not after its (here one hour) cache age."""
    database = fresh_database()
    a = pg_authd(database, "--session-cache-max-age", "1h", port=proxy.port)
    b = pg_authd(database)
    token = sign_up(b, fresh_email("missed")).session.token
    with a.client() as client:
        client.auth.get_me(auth_pb2.GetMeRequest(token=token))
        client.auth.get_me(auth_pb2.GetMeRequest(token=token))  # from A's cache

    proxy.cut()
    with b.client() as client:
        client.auth.logout(auth_pb2.LogoutRequest(token=token))
    proxy.restore()

    def refused_on_a() -> bool:
        with a.client(default_timeout=SLOW_CALL_TIMEOUT_S) as client:
            code = code_of(lambda: client.auth.get_me(auth_pb2.GetMeRequest(token=token)))
        assert code in (StatusCode.UNAUTHENTICATED, StatusCode.UNAVAILABLE, StatusCode.OK), StatusCode(code).name
        return code == StatusCode.UNAUTHENTICATED
    wait_until(refused_on_a, 30, "A to refuse the session B ended while A was cut off")


# ---------------------------------------------------------------- (3) two processes, one service

CAR_RENTAL_GROUPS = {"Admin": ["Admin"], "Premium": ["Premium"], "Admin Premium": ["Admin", "Premium"]}
CAR_RENTAL_USERS = {"plain": [], "premium": ["Premium"], "admin": ["Admin"], "both": ["Admin", "Premium"]}
CAR_RENTAL_RULES = [
    ("/pricing", admin_pb2.PAGE_ACCESS_PUBLIC, []),
    ("/account", admin_pb2.PAGE_ACCESS_SIGNED_IN, []),
    ("/admin/*", admin_pb2.PAGE_ACCESS_GROUPS, ["Admin"]),
    ("/cars/:id", admin_pb2.PAGE_ACCESS_GROUPS, ["Premium", "Admin Premium"]),
]
Reason = auth_pb2.AuthorizePageResponse
# A visitor who is not signed in (None), then the users by kind.
KINDS = [None, *CAR_RENTAL_USERS]
# Each path asked about, and the rule that matches it ("" for none: public by default).
PATH_RULES = {"/about": "", "/pricing": "/pricing", "/account": "/account",
              "/admin/users": "/admin/*", "/cars/42": "/cars/:id"}


def groups_of(roles: List[str]) -> List[str]:
    """Every group whose roles the user holds all of."""
    return sorted(g for g, needs in CAR_RENTAL_GROUPS.items() if set(needs) <= set(roles))


def expected_page(path: str, roles: Optional[List[str]]) -> Tuple[bool, int, str]:
    """(allowed, reason, matched rule) as CAR_RENTAL_RULES say, for a user of `roles`
    (None: not signed in)."""
    rule = PATH_RULES[path]
    access, groups = next(((a, g) for p, a, g in CAR_RENTAL_RULES if p == rule), (admin_pb2.PAGE_ACCESS_PUBLIC, []))
    if access == admin_pb2.PAGE_ACCESS_PUBLIC:
        return True, Reason.PUBLIC, rule
    if roles is None:
        return False, Reason.NOT_SIGNED_IN, rule
    if access == admin_pb2.PAGE_ACCESS_SIGNED_IN:
        return True, Reason.SIGNED_IN, rule
    if set(groups_of(roles)) & set(groups):
        return True, Reason.GROUP_MEMBER, rule
    return False, Reason.NOT_IN_GROUP, rule


def page_answers(server: AuthdServer, tokens: Dict[Optional[str], str]) -> Dict[Tuple[str, Optional[str]], tuple]:
    with server.client() as client:
        answers = {}
        for path in PATH_RULES:
            for kind in KINDS:
                answer = client.auth.authorize_page(auth_pb2.AuthorizePageRequest(token=tokens[kind], path=path))
                answers[(path, kind)] = (answer.allowed, answer.reason, answer.matched_rule, answer.redirect)
        return answers


def test_car_rental_across_two_instances(pair):
    """The admin on A makes roles, groups, page rules and settings; the users sign up on B;
    A gives them roles. GetMe on B shows each user's roles and groups, B lists the groups'
    members, and AuthorizePage answers every (path, user) alike on A and B, as the rules
    say. Then B's admin takes Premium from one user, and A gates /cars/:id for them; B
    makes /pricing signed-in, and A sends a visitor to the sign-in page."""
    a, b = pair
    with a.client(api_key=a.admin_key()) as admin_a:
        for role in ("Admin", "Premium"):
            admin_a.admin.create_role(admin_pb2.RoleRequest(name=role))
        for group, roles in CAR_RENTAL_GROUPS.items():
            admin_a.admin.create_group(admin_pb2.CreateGroupRequest(name=group, roles=roles))
        for pattern, access, groups in CAR_RENTAL_RULES:
            admin_a.admin.set_page_rule(admin_pb2.SetPageRuleRequest(
                rule=admin_pb2.PageRule(pattern=pattern, access=access, groups=groups)))
        admin_a.admin.update_settings(admin_pb2.UpdateSettingsRequest(
            sign_in_redirect=common_pb2.StringValue(value="/login"),
            forbidden_redirect=common_pb2.StringValue(value="/upgrade")))

        tokens: Dict[Optional[str], str] = {None: ""}
        ids: Dict[str, str] = {}
        with b.client() as client_b:
            for kind in CAR_RENTAL_USERS:
                signed_up = client_b.auth.sign_up(
                    auth_pb2.SignUpRequest(email=fresh_email(f"car-{kind}"), password=PASSWORD))
                tokens[kind], ids[kind] = signed_up.session.token, signed_up.user.id
                # B caches the session (with no roles yet).
                assert list(client_b.auth.get_me(auth_pb2.GetMeRequest(token=tokens[kind])).user.roles) == []
        for kind, roles in CAR_RENTAL_USERS.items():
            admin_a.admin.update_user(
                admin_pb2.UpdateUserRequest(id=ids[kind], roles=common_pb2.StringList(values=roles)))

    with b.client() as client_b:
        def roles_and_groups(token: str) -> Tuple[List[str], List[str]]:
            user = client_b.auth.get_me(auth_pb2.GetMeRequest(token=token)).user
            return sorted(user.roles), sorted(user.groups)
        for kind, roles in CAR_RENTAL_USERS.items():
            equal_within_bound(partial(roles_and_groups, tokens[kind]), (sorted(roles), groups_of(roles)))
    with b.client(api_key=a.admin_key()) as admin_b:
        for group in CAR_RENTAL_GROUPS:
            members = admin_b.admin.list_group_members(admin_pb2.ListGroupMembersRequest(name=group)).users
            expected = [ids[k] for k, roles in CAR_RENTAL_USERS.items() if group in groups_of(roles)]
            assert sorted(u.id for u in members) == sorted(expected), group
        listed = admin_b.admin.list_page_rules(common_pb2.Empty()).rules
        rules = {r.pattern: (r.access, sorted(r.groups)) for r in listed}
        assert rules == {p: (access, sorted(groups)) for p, access, groups in CAR_RENTAL_RULES}

    on_a, on_b = page_answers(a, tokens), page_answers(b, tokens)
    assert on_a == on_b
    for (path, kind), (allowed, reason, rule, redirect) in on_a.items():
        assert (allowed, reason, rule) == expected_page(path, None if kind is None else CAR_RENTAL_USERS[kind]), \
            (path, kind, on_a[(path, kind)])
        if reason == Reason.NOT_SIGNED_IN:
            assert redirect.startswith("/login"), redirect
        elif reason == Reason.NOT_IN_GROUP:
            assert redirect.startswith("/upgrade"), redirect
        else:
            assert redirect == ""

    # A change made on B, honoured on A.
    with b.client(api_key=a.admin_key()) as admin_b:
        admin_b.admin.update_user(
            admin_pb2.UpdateUserRequest(id=ids["both"], roles=common_pb2.StringList(values=["Admin"])))
    with a.client() as client_a:
        def reason_on_a(token: str, path: str) -> int:
            return client_a.auth.authorize_page(auth_pb2.AuthorizePageRequest(token=token, path=path)).reason
        equal_within_bound(partial(reason_on_a, tokens["both"], "/cars/42"), Reason.NOT_IN_GROUP)
        assert reason_on_a(tokens["both"], "/admin/users") == Reason.GROUP_MEMBER
        # And a page rule changed on B gates the page on A.
        with b.client(api_key=a.admin_key()) as admin_b:
            admin_b.admin.set_page_rule(admin_pb2.SetPageRuleRequest(
                rule=admin_pb2.PageRule(pattern="/pricing", access=admin_pb2.PAGE_ACCESS_SIGNED_IN)))
        equal_within_bound(partial(reason_on_a, "", "/pricing"), Reason.NOT_SIGNED_IN)


def test_50_concurrent_sign_ups_of_one_email_split_over_both(pair):
    """50 sign-ups of one email at once, 25 on A and 25 on B: exactly one succeeds, 49 are
    ALREADY_EXISTS; the table holds one user of that email, and both find it."""
    a, b = pair
    email = fresh_email("same")
    clients = [a.client(default_timeout=60), b.client(default_timeout=60)]
    try:
        results = in_parallel(50, lambda i: clients[i % 2].auth.sign_up(
            auth_pb2.SignUpRequest(email=email, password=PASSWORD)))
    finally:
        for client in clients:
            client.close()
    assert codes(results) == Counter({"OK": 1, "ALREADY_EXISTS": 49}), codes(results)
    assert users_with_email(a.pg, email) == 1
    [winner] = [r for r in results if not isinstance(r, RpcError)]
    for server in (a, b):
        with server.client(api_key=a.admin_key()) as admin:
            assert admin.admin.get_user(admin_pb2.GetUserRequest(email=email)).user.id == winner.user.id


def test_parallel_wrong_passwords_split_over_both_meet_one_throttle(pair):
    """10 wrong-password logins for one account at once, 5 on A and 5 on B: exactly as many
    are evaluated (UNAUTHENTICATED) as the per-account throttle lets through
    (throttle.loginPerAccount.freeFailures, 5 by default); the rest are
    RESOURCE_EXHAUSTED with a retry hint."""
    a, b = pair
    email = fresh_email("target")
    sign_up(a, email)
    clients = [a.client(default_timeout=60), b.client(default_timeout=60)]
    try:
        results = in_parallel(10, lambda i: clients[i % 2].auth.login(
            auth_pb2.LoginRequest(email=email, password="wrong horse")))
    finally:
        for client in clients:
            client.close()
    assert codes(results) == Counter({"UNAUTHENTICATED": FREE_LOGIN_FAILURES,
                                      "RESOURCE_EXHAUSTED": 10 - FREE_LOGIN_FAILURES}), codes(results)
    for result in results:
        if isinstance(result, RpcError) and result.code == StatusCode.RESOURCE_EXHAUSTED:
            assert result.retry_after_ms > 0, result


def test_revocation_on_one_instance_is_honoured_on_the_other(pair):
    """A session logged out on A is refused on B at its next check (within the stated
    bound), though B had it cached; likewise a user blocked on A, and a user deleted on B
    is refused on A."""
    a, b = pair
    with a.client() as client_a, b.client() as client_b, a.client(api_key=a.admin_key()) as admin_a, \
            b.client(api_key=a.admin_key()) as admin_b:
        def me_on(client: Client, token: str) -> Callable[[], object]:
            return lambda: client.auth.get_me(auth_pb2.GetMeRequest(token=token))

        # Logout on A.
        email = fresh_email("logout")
        token = client_a.auth.sign_up(auth_pb2.SignUpRequest(email=email, password=PASSWORD)).session.token
        for _ in range(2):  # the second answer comes from B's cache
            assert me_on(client_b, token)().user.email == email
        client_a.auth.logout(auth_pb2.LogoutRequest(token=token))
        refused_within_bound(me_on(client_b, token))

        # BlockUser on A.
        blocked = client_a.auth.sign_up(auth_pb2.SignUpRequest(email=fresh_email("blocked"), password=PASSWORD))
        for _ in range(2):
            me_on(client_b, blocked.session.token)()
        assert admin_a.admin.block_user(admin_pb2.UserIdRequest(id=blocked.user.id)).user.blocked
        refused_within_bound(me_on(client_b, blocked.session.token))
        with pytest.raises(RpcError) as login:
            client_b.auth.login(auth_pb2.LoginRequest(email=blocked.user.email, password=PASSWORD))
        assert login.value.code == StatusCode.PERMISSION_DENIED

        # DeleteUser on B, refused on A.
        deleted = client_b.auth.sign_up(auth_pb2.SignUpRequest(email=fresh_email("deleted"), password=PASSWORD))
        for _ in range(2):
            me_on(client_a, deleted.session.token)()
        admin_b.admin.delete_user(admin_pb2.UserIdRequest(id=deleted.user.id))
        refused_within_bound(me_on(client_a, deleted.session.token))


def insert_outbox_rows(database: Database, count: int) -> List[str]:
    """`count` queued rows straight into the outbox (the documented schema), in one
    INSERT ... SELECT; returns their Message-IDs."""
    tag = uuid.uuid4().hex[:8]
    now = int(time.time() * 1000)
    database.sql(
        "INSERT INTO outbox (message_id, kind, sender, recipient, subject, text_body, html_body, headers,"
        " created_at, state, attempts, next_attempt_at)"
        f" SELECT format('<%s-%s@authd>', '{tag}', i), 'verification_code', 'authd <no-reply@example.com>',"
        " format('bulk%s@example.com', i), format('Queued by the test %s', i), format(E'Text body %s\\n', i),"
        f" format('<p>HTML body %s</p>', i), '{{}}', {now}, 'queued', 0, {now}"
        f" FROM generate_series(1, {count}) AS i")
    return [f"<{tag}-{i}@authd>" for i in range(1, count + 1)]


def test_two_mailers_on_two_instances_drain_10000_messages_none_twice(pair, start_mailer, smtp):
    """10 000 rows inserted with psql; one auth-mailer attached to A, one to B, both
    sending to one SMTP server: every message arrives exactly once (no Message-ID twice),
    every row ends `sent`, and both mailers exit 0 on SIGTERM."""
    a, b = pair
    with a.client(api_key=a.admin_key()) as admin:
        key = admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(
            name="mailer", scope=admin_pb2.KEY_SCOPE_MAILER)).secret
    mail = smtp()
    count = 10_000
    ids = insert_outbox_rows(a.pg, count)
    assert outbox_states(a.pg) == {"queued": count}
    started = time.monotonic()
    workers = [start_mailer(server, key, "--smtp-url", mail.url, *PLAIN, "--batch-size", "200",
                            "--worker-id", f"mailer-{name}", "--log-level", "warning")
               for name, server in (("a", a), ("b", b))]
    mail.mailbox.wait_for(lambda m: len(m.all()) >= count, 240, f"{count} deliveries")
    elapsed = time.monotonic() - started
    wait_until(lambda: outbox_states(a.pg) == {"sent": count}, 30, "every row acknowledged")
    for worker in workers:
        assert worker.stop() == 0, worker.text()[-3000:]
    seen = Counter(mail.mailbox.message_ids())
    assert [mid for mid, n in seen.items() if n > 1] == []
    assert set(seen) == set(ids)
    by_worker = dict(a.pg.rows("SELECT coalesce(leased_by, '-'), count(*) FROM outbox GROUP BY 1"))
    print(f"\n{count} messages through 2 mailers on 2 authd in {elapsed:.1f} s ({count / elapsed:.0f} msg/s); "
          f"rows by worker: {by_worker}")


# ---------------------------------------------------------------- (4) one first admin key

def start_together(servers: Sequence[AuthdServer]) -> None:
    """Starts every server at the same moment (each Popen released by one barrier) and
    waits for all their listening lines."""
    barrier = threading.Barrier(len(servers))
    errors: List[BaseException] = []

    def start(server: AuthdServer) -> None:
        barrier.wait()
        try:
            server.start()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]


RACE_ROUNDS = 5
ANOTHER_INSTANCE = "first admin key already created by another instance"


def race_first_starts(pg_authd, database: Database) -> bool:
    """Two authd start at the same moment on `database`, which holds no key, each with its
    own key file. Both serve; exactly one file is written; the other process logged that
    another instance created the key, or found it there and wrote nothing; both list
    exactly that one key. Returns whether the other one logged losing the race."""
    servers = [pg_authd(database, start=False) for _ in range(2)]
    start_together(servers)
    written = [s for s in servers if s.key_file.exists()]
    assert len(written) == 1, [(s.key_file, s.log()) for s in servers]
    [winner] = written
    [other] = [s for s in servers if s is not winner]
    assert f"authd first admin key written to {winner.key_file}" in winner.log()
    assert stat.S_IMODE(winner.key_file.stat().st_mode) == 0o600
    assert "first admin key written" not in other.log()

    secret = winner.admin_key()
    for server in servers:
        with server.client(api_key=secret) as admin:
            keys = admin.admin.list_api_keys(common_pb2.Empty()).keys
        assert [(k.name, k.scope, k.revoked) for k in keys] == [("first admin", admin_pb2.KEY_SCOPE_ADMIN, False)]
    assert database.sql("SELECT count(*) FROM api_keys") == "1"
    for server in servers:
        server.stop()
    return ANOTHER_INSTANCE in other.log()


def test_two_first_starts_at_once_on_a_migrated_database_without_keys(fresh_database, pg_authd):
    """The key race alone: each database is migrated first (one authd started and stopped,
    its key then deleted with psql, so the database holds no key again), then two authd
    start on it at the same moment: one first admin key (see race_first_starts)."""
    lost = 0
    for _ in range(RACE_ROUNDS):
        database = fresh_database()
        pg_authd(database).stop()
        database.sql("DELETE FROM api_keys")
        lost += race_first_starts(pg_authd, database)
        database.drop()
    print(f"\n{lost} of {RACE_ROUNDS} rounds: the second instance lost the key race after checking")


def test_two_first_starts_at_once_on_an_empty_database(fresh_database, pg_authd):
    """Five times, on a fresh (empty) database each time: two authd start at the same
    moment. Both serve (the second to take the migration lock finds the schema there,
    PostgresSchema.migrate), and one first admin key is created (see race_first_starts)."""
    lost = 0
    for _ in range(RACE_ROUNDS):
        database = fresh_database()
        lost += race_first_starts(pg_authd, database)
        database.drop()
    print(f"\n{lost} of {RACE_ROUNDS} rounds: the second instance lost the key race after checking")
