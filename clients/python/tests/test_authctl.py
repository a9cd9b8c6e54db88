"""authctl, the operator's CLI, driven as a subprocess against a real authd.

The binary is $AUTHCTL_BIN, or <repo>/.build/debug/authctl. The server of this
module starts on an empty database, so it writes its first admin key to
<database>.admin-key; authctl reads it through AUTHD_ADMIN_KEY_FILE.

Exit codes (docs/authctl.md): 0 ok, 64 usage, 65 data refused, 66 not found,
69 unavailable, 70 other, 75 throttled, 77 no or wrong key.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from conftest import REPO_ROOT, AuthdServer

CAR_RENTAL_GROUPS = {"Admin": ["Admin"], "Premium": ["Premium"], "Admin Premium": ["Admin", "Premium"]}
ACCESS_CODES = {"UNAUTHENTICATED", "PERMISSION_DENIED"}
DATA_CODES = {"INVALID_ARGUMENT", "ALREADY_EXISTS", "FAILED_PRECONDITION", "OUT_OF_RANGE"}


def authctl_binary_path() -> Path:
    return Path(os.environ.get("AUTHCTL_BIN", str(REPO_ROOT / ".build" / "debug" / "authctl")))


@pytest.fixture(scope="session")
def authctl_binary() -> Path:
    path = authctl_binary_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no authctl executable at {path}: build it (swift build) or set AUTHCTL_BIN", pytrace=False)
    return path


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError as error:
            raise AssertionError(f"stdout is not one JSON document ({error}):\n{self}") from None

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


class Authctl:
    """Runs authctl with the address and key in the environment, as an operator would."""

    def __init__(self, binary: Path, address: str, key_file: Optional[Path] = None, key: Optional[str] = None):
        self.binary = binary
        self.address = address
        self.key_file = key_file
        self.key = key

    def env(self) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHD_")}
        env["AUTHD_ADDRESS"] = self.address
        if self.key_file is not None:
            env["AUTHD_ADMIN_KEY_FILE"] = str(self.key_file)
        if self.key is not None:
            env["AUTHD_ADMIN_KEY"] = self.key
        return env

    def run(self, *args: str, stdin: Optional[str] = None) -> Result:
        proc = subprocess.run(
            [str(self.binary), *args], env=self.env(), input=stdin if stdin is not None else "",
            capture_output=True, text=True, timeout=60)
        return Result(proc)

    def ok(self, *args: str):
        """Runs with --json, expects exit 0 and returns the parsed document."""
        result = self.run(*args, "--json")
        assert result.code == 0, f"authctl {' '.join(args)}: {result}"
        return result.json

    def fails(self, expected_exit: int, *args: str, codes: Optional[set] = None) -> dict:
        """Runs with --json, expects `expected_exit` and returns the JSON error."""
        result = self.run(*args, "--json")
        assert result.code == expected_exit, f"authctl {' '.join(args)}: {result}"
        error = result.json["error"]
        assert set(error) >= {"code", "message", "field_violations"}, error
        if codes is not None:
            assert error["code"] in codes, error
        assert result.stderr.startswith(f"authctl: {error['code']}: "), result.stderr
        return error

    def as_key(self, key: str) -> "Authctl":
        return Authctl(self.binary, self.address, key=key)


def first_admin_key(server: AuthdServer) -> Path:
    path = server.database.with_name(server.database.name + ".admin-key")
    assert path.is_file(), f"no first admin key at {path}\n{server.output_tail()}"
    return path


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fresh_email(prefix: str = "ctl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(authd_binary: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server of this module's own: an empty database, so a first admin key."""
    srv = AuthdServer(authd_binary, tmp_path_factory.mktemp("authctl")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ctl(server: AuthdServer, authctl_binary: Path) -> Authctl:
    return Authctl(authctl_binary, f"127.0.0.1:{server.port}", key_file=first_admin_key(server))


@pytest.fixture(scope="module")
def car_rental(ctl: Authctl) -> Dict[str, str]:
    """Roles Admin and Premium; groups Admin, Premium and Admin Premium; one user
    of each kind. Returns the users' ids by kind."""
    for role in ("Admin", "Premium"):
        assert ctl.ok("roles", "add", role)["role"]["name"] == role
    for group, roles in CAR_RENTAL_GROUPS.items():
        args = ["groups", "add", group]
        for role in roles:
            args += ["--role", role]
        assert ctl.ok(*args)["group"] == {"name": group, "roles": roles}
    users = {}
    for kind, roles in {"plain": [], "premium": ["Premium"], "admin": ["Admin"], "both": ["Admin", "Premium"]}.items():
        args = ["users", "add", fresh_email(f"car-{kind}"), "--password", "rent a car"]
        for role in roles:
            args += ["--role", role]
        users[kind] = ctl.ok(*args)["user"]["id"]
    return users


# ---- Without a server ----------------------------------------------------------


def test_help_names_every_command(authctl_binary: Path):
    ctl = Authctl(authctl_binary, "127.0.0.1:1")
    top = ctl.run("--help")
    assert top.code == 0, top
    for command in ("users", "roles", "groups", "pages", "settings", "keys", "mail", "remove-everything"):
        assert command in top.stdout
    expected = {
        "users": ["add", "get", "list", "update", "set-roles", "block", "unblock", "delete", "resend-invitation"],
        "roles": ["add", "rename", "delete", "list"],
        "groups": ["add", "rename", "delete", "list", "set-roles", "members"],
        "pages": ["set", "delete", "list"],
        "settings": ["get", "set"],
        "keys": ["create", "list", "revoke"],
        "mail": ["dead", "requeue"],
    }
    for group, subcommands in expected.items():
        result = ctl.run(group, "--help")
        assert result.code == 0, result
        for sub in subcommands:
            assert f"  {sub} " in result.stdout, f"{group} {sub} missing:\n{result.stdout}"
    leaf = ctl.run("users", "list", "--help")
    for option in ("--address", "--key", "--key-file", "--json", "--timeout", "--all", "--page-token"):
        assert option in leaf.stdout


@pytest.mark.parametrize("args", [
    ["no-such-command"],
    ["users", "add"],
    ["users", "add", "a@example.com", "--password", "secret1", "--generate-password"],
    ["users", "add", "a@example.com", "--attr", "no-equals-sign"],
    ["users", "list", "--blocked", "maybe"],
    ["users", "list", "--page-size", "-3"],
    ["users", "update", "some-id"],
    ["pages", "set", "/x", "--access", "everyone"],
    ["pages", "set", "/x", "--access", "groups"],
    ["keys", "create", "ci", "--scope", "root"],
    ["settings", "set"],
    ["roles", "list", "--address", "no-port"],
    ["roles", "list", "--timeout", "0"],
    ["roles", "list", "--key", "a", "--key-file", "b"],
])
def test_usage_errors_exit_64(authctl_binary: Path, args: List[str]):
    result = Authctl(authctl_binary, "127.0.0.1:1", key="unused").run(*args)
    assert result.code == 64, result
    assert result.stdout == "", result


def test_unreachable_server_exits_69(authctl_binary: Path):
    ctl = Authctl(authctl_binary, f"127.0.0.1:{free_port()}", key="any-key")
    error = ctl.fails(69, "users", "list", "--timeout", "5", codes={"UNAVAILABLE", "DEADLINE_EXCEEDED"})
    assert error["message"]
    text = ctl.run("roles", "list")
    assert text.code == 69 and text.stdout == "", text
    assert text.stderr.startswith("authctl: UNAVAILABLE: ") or text.stderr.startswith("authctl: DEADLINE_EXCEEDED: ")


def test_address_flag_wins_over_environment(authctl_binary: Path):
    ctl = Authctl(authctl_binary, "127.0.0.1:1", key="any-key")
    port = free_port()
    result = ctl.run("roles", "list", "--address", f"127.0.0.1:{port}")
    assert result.code == 69, result
    assert str(port) in result.stderr


# ---- Keys and access -----------------------------------------------------------


def test_first_start_writes_an_admin_key_file(server: AuthdServer):
    path = first_admin_key(server)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip()
    assert any("authd first admin key written to" in line for line in server.stdout_lines)


def test_no_key_exits_77(ctl: Authctl, tmp_path: Path):
    nobody = Authctl(ctl.binary, ctl.address)
    error = nobody.fails(77, "users", "list", codes=ACCESS_CODES)
    assert "key" in error["message"]
    missing = Authctl(ctl.binary, ctl.address, key_file=tmp_path / "missing.key")
    missing.fails(77, "users", "list", codes=ACCESS_CODES)


def test_wrong_key_exits_77(ctl: Authctl):
    ctl.as_key("authd_ak_" + "0" * 40).fails(77, "roles", "list", codes=ACCESS_CODES)


def test_key_flag_and_key_file_flag(ctl: Authctl, tmp_path: Path):
    secret = ctl.key_file.read_text()
    bare = Authctl(ctl.binary, ctl.address)
    assert bare.run("roles", "list", "--key", secret.strip()).code == 0
    copy = tmp_path / "key"
    copy.write_text(secret.strip() + "\n")  # a trailing newline is trimmed
    assert bare.run("roles", "list", "--key-file", str(copy)).code == 0


def test_keys_create_list_revoke(ctl: Authctl):
    created = ctl.ok("keys", "create", "ci-pipeline", "--scope", "admin")
    key, secret = created["key"], created["secret"]
    assert key["name"] == "ci-pipeline" and key["scope"] == "admin" and not key["revoked"]
    assert secret and key["id"]

    # The new key works on its own.
    assert ctl.as_key(secret).run("roles", "list").code == 0

    listed = ctl.run("keys", "list", "--json")
    assert listed.code == 0, listed
    assert secret not in listed.stdout
    keys = {k["id"]: k for k in listed.json["keys"]}
    assert keys[key["id"]]["name"] == "ci-pipeline"
    assert any(k["scope"] == "admin" for k in keys.values())

    text = ctl.run("keys", "list")
    assert text.code == 0 and "ci-pipeline" in text.stdout and secret not in text.stdout

    assert ctl.ok("keys", "revoke", key["id"]) is not None
    after = {k["id"]: k for k in ctl.ok("keys", "list")["keys"]}
    assert key["id"] not in after or after[key["id"]]["revoked"] is True
    ctl.as_key(secret).fails(77, "roles", "list", codes=ACCESS_CODES)


def test_keys_create_prints_the_secret_once_for_people(ctl: Authctl):
    result = ctl.run("keys", "create", unique("person"), "--scope", "service")
    assert result.code == 0, result
    assert "shown once" in result.stdout


def test_mailer_key_cannot_administer(ctl: Authctl):
    created = ctl.ok("keys", "create", "mailer-worker", "--scope", "mailer")
    assert created["key"]["scope"] == "mailer"
    mailer = ctl.as_key(created["secret"])
    mailer.fails(77, "users", "list", codes=ACCESS_CODES)
    mailer.fails(77, "keys", "create", "escalate", "--scope", "admin", codes=ACCESS_CODES)


# ---- Users ---------------------------------------------------------------------


def test_users_add_get_list_update_block_delete(ctl: Authctl):
    role = unique("Tester")
    ctl.ok("roles", "add", role)
    email = fresh_email("ada")
    tricky = 'said "hi" \\ back\tslash\nline ü 🚗 </script>'
    added = ctl.ok("users", "add", email.upper(), "--attr", "name=Ada", "--attr", f"note={tricky}",
                   "--password", "correct horse", "--role", role)
    user = added["user"]
    assert "generated_password" not in added
    assert set(user) == {"id", "email", "attributes", "roles", "groups", "blocked", "has_password",
                         "created_at_ms", "updated_at_ms"}
    uuid.UUID(user["id"])
    assert user["email"] == email
    assert user["attributes"] == {"name": "Ada", "note": tricky}
    assert user["roles"] == [role]
    assert user["has_password"] is True and user["blocked"] is False
    assert user["created_at_ms"] > 0 and user["updated_at_ms"] >= user["created_at_ms"]

    by_id = ctl.ok("users", "get", user["id"])["user"]
    by_email = ctl.ok("users", "get", email.upper())["user"]
    assert by_id == by_email == user

    text = ctl.run("users", "get", user["id"])
    assert text.code == 0 and email in text.stdout and user["id"] in text.stdout

    prefix = f"lst-{uuid.uuid4().hex[:8]}"
    others = [ctl.ok("users", "add", f"{prefix}-{i}@example.com")["user"]["id"] for i in range(3)]
    listed = ctl.ok("users", "list", "--email-prefix", prefix)
    assert sorted(u["id"] for u in listed["users"]) == sorted(others)
    assert listed["next_page_token"] == ""

    first_page = ctl.ok("users", "list", "--email-prefix", prefix, "--page-size", "2")
    assert len(first_page["users"]) == 2 and first_page["next_page_token"]
    second_page = ctl.ok("users", "list", "--email-prefix", prefix, "--page-size", "2",
                         "--page-token", first_page["next_page_token"])
    assert len(second_page["users"]) == 1 and second_page["next_page_token"] == ""
    everyone = ctl.ok("users", "list", "--email-prefix", prefix, "--page-size", "1", "--all")
    assert sorted(u["id"] for u in everyone["users"]) == sorted(others)
    assert everyone["next_page_token"] == ""

    by_role = ctl.ok("users", "list", "--role", role, "--all")
    assert [u["id"] for u in by_role["users"]] == [user["id"]]

    table = ctl.run("users", "list", "--email-prefix", prefix)
    assert table.code == 0, table
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "EMAIL"]
    email_column = lines[0].index("EMAIL")
    for line in lines[1:4]:
        assert line[email_column:].startswith(prefix), table.stdout  # aligned columns

    new_email = fresh_email("ada-new")
    updated = ctl.ok("users", "update", user["id"], "--email", new_email, "--set", "city=Oslo",
                     "--unset", "note", "--roles", "")["user"]
    assert updated["email"] == new_email
    assert updated["attributes"] == {"name": "Ada", "city": "Oslo"}
    assert updated["roles"] == []
    set_roles = ctl.ok("users", "set-roles", user["id"], role)["user"]
    assert set_roles["roles"] == [role]
    via_update = ctl.ok("users", "update", user["id"], "--roles", f"{role}, ")["user"]
    assert via_update["roles"] == [role]
    assert ctl.ok("users", "update", user["id"], "--password", "battery staple")["user"]["has_password"]

    blocked = ctl.ok("users", "block", user["id"])["user"]
    assert blocked["blocked"] is True
    blocked_ids = [u["id"] for u in ctl.ok("users", "list", "--blocked", "true", "--all")["users"]]
    assert user["id"] in blocked_ids
    assert ctl.ok("users", "unblock", user["id"])["user"]["blocked"] is False
    unblocked_ids = [u["id"] for u in ctl.ok("users", "list", "--blocked", "false", "--all")["users"]]
    assert user["id"] in unblocked_ids

    ctl.ok("users", "delete", user["id"])
    ctl.fails(66, "users", "get", user["id"], codes={"NOT_FOUND"})
    ctl.fails(66, "users", "delete", user["id"], codes={"NOT_FOUND"})


def test_users_add_generates_a_password_shown_once(ctl: Authctl):
    added = ctl.ok("users", "add", fresh_email("gen"), "--generate-password")
    assert len(added["generated_password"]) >= 6
    assert added["user"]["has_password"] is True
    again = ctl.ok("users", "get", added["user"]["id"])
    assert added["generated_password"] not in json.dumps(again)

    text = ctl.run("users", "add", fresh_email("gen-text"), "--generate-password")
    assert text.code == 0, text
    assert "Generated password" in text.stdout


def test_users_add_reads_the_password_from_stdin(ctl: Authctl):
    result = ctl.run("users", "add", fresh_email("stdin"), "--password", "-", "--json", stdin="from stdin\n")
    assert result.code == 0, result
    assert result.json["user"]["has_password"] is True


def test_unknown_user_exits_66(ctl: Authctl):
    ctl.fails(66, "users", "get", str(uuid.uuid4()), codes={"NOT_FOUND"})
    ctl.fails(66, "users", "get", fresh_email("nobody"), codes={"NOT_FOUND"})
    ctl.fails(66, "users", "block", str(uuid.uuid4()), codes={"NOT_FOUND"})
    text = ctl.run("users", "get", str(uuid.uuid4()))
    assert text.code == 66 and text.stdout == "" and text.stderr.startswith("authctl: NOT_FOUND: ")


def test_refused_data_exits_65(ctl: Authctl):
    email = fresh_email("dup")
    ctl.ok("users", "add", email)
    ctl.fails(65, "users", "add", email.upper(), codes=DATA_CODES)
    ctl.fails(65, "users", "add", "not-an-email", codes=DATA_CODES)
    error = ctl.fails(65, "users", "add", fresh_email("short"), "--password", "12345", codes=DATA_CODES)
    assert error["code"] == "INVALID_ARGUMENT"
    text = ctl.run("users", "add", email)
    assert text.code == 65 and text.stderr.startswith("authctl: ")


# ---- Roles, groups: the car-rental example ---------------------------------------


def test_car_rental_roles_groups_and_members(ctl: Authctl, car_rental: Dict[str, str]):
    roles = {r["name"]: r for r in ctl.ok("roles", "list")["roles"]}
    assert roles["Admin"]["user_count"] == 2 and roles["Premium"]["user_count"] == 2

    groups = {g["name"]: g["roles"] for g in ctl.ok("groups", "list")["groups"]}
    for name, group_roles in CAR_RENTAL_GROUPS.items():
        assert sorted(groups[name]) == sorted(group_roles)

    def members(group: str, *extra: str) -> List[str]:
        return sorted(u["id"] for u in ctl.ok("groups", "members", group, *extra)["users"])

    assert members("Admin Premium") == [car_rental["both"]]
    assert members("Premium") == sorted([car_rental["premium"], car_rental["both"]])
    assert members("Admin") == sorted([car_rental["admin"], car_rental["both"]])
    assert members("Admin", "--page-size", "1", "--all") == members("Admin")
    one_page = ctl.ok("groups", "members", "Admin", "--page-size", "1")
    assert len(one_page["users"]) == 1 and one_page["next_page_token"]

    both = ctl.ok("users", "get", car_rental["both"])["user"]
    assert sorted(both["groups"]) == sorted(CAR_RENTAL_GROUPS)
    plain = ctl.ok("users", "get", car_rental["plain"])["user"]
    assert plain["groups"] == []
    by_group = ctl.ok("users", "list", "--group", "Admin Premium", "--all")["users"]
    assert [u["id"] for u in by_group] == [car_rental["both"]]

    roles_table = ctl.run("roles", "list")
    assert roles_table.code == 0 and "Premium" in roles_table.stdout
    groups_table = ctl.run("groups", "list")
    assert groups_table.code == 0 and "Admin Premium" in groups_table.stdout
    members_table = ctl.run("groups", "members", "Admin Premium")
    assert members_table.code == 0 and car_rental["both"] in members_table.stdout

    ctl.fails(65, "roles", "add", "Admin", codes=DATA_CODES)
    ctl.fails(65, "groups", "add", "Premium", "--role", "Premium", codes=DATA_CODES)
    ctl.fails(66, "groups", "members", unique("NoSuchGroup"), codes={"NOT_FOUND"})


def test_roles_and_groups_rename_set_roles_delete(ctl: Authctl, car_rental: Dict[str, str]):
    role, renamed_role = unique("Temp"), unique("Renamed")
    ctl.ok("roles", "add", role)
    assert ctl.ok("roles", "rename", role, renamed_role)["role"]["name"] == renamed_role
    names = [r["name"] for r in ctl.ok("roles", "list")["roles"]]
    assert renamed_role in names and role not in names

    group, renamed_group = unique("Staff"), unique("Crew")
    assert ctl.ok("groups", "add", group, "--role", "Admin")["group"]["roles"] == ["Admin"]
    assert ctl.ok("groups", "rename", group, renamed_group)["group"]["name"] == renamed_group
    assert sorted(ctl.ok("groups", "set-roles", renamed_group, renamed_role, "Premium")["group"]["roles"]) == \
        sorted([renamed_role, "Premium"])
    assert ctl.ok("groups", "members", renamed_group)["users"] == []

    ctl.ok("groups", "delete", renamed_group)
    assert renamed_group not in [g["name"] for g in ctl.ok("groups", "list")["groups"]]
    ctl.fails(66, "groups", "delete", renamed_group, codes={"NOT_FOUND"})

    ctl.ok("roles", "delete", renamed_role)
    assert renamed_role not in [r["name"] for r in ctl.ok("roles", "list")["roles"]]
    ctl.fails(66, "roles", "delete", renamed_role, codes={"NOT_FOUND"})


# ---- Page rules and settings ------------------------------------------------------


def test_pages_set_list_delete(ctl: Authctl, car_rental: Dict[str, str]):
    assert ctl.ok("pages", "set", "/pricing", "--access", "public")["rule"] == \
        {"pattern": "/pricing", "access": "public", "groups": []}
    ctl.ok("pages", "set", "/account", "--access", "signed-in")
    ctl.ok("pages", "set", "/admin/*", "--access", "groups", "--group", "Admin")
    ctl.ok("pages", "set", "/cars/:id", "--access", "groups", "--group", "Premium", "--group", "Admin Premium")

    rules = {r["pattern"]: r for r in ctl.ok("pages", "list")["rules"]}
    assert rules["/pricing"]["access"] == "public"
    assert rules["/account"]["access"] == "signed-in"
    assert rules["/admin/*"] == {"pattern": "/admin/*", "access": "groups", "groups": ["Admin"]}
    assert rules["/cars/:id"]["access"] == "groups"
    assert sorted(rules["/cars/:id"]["groups"]) == ["Admin Premium", "Premium"]

    # Setting a pattern again replaces its rule.
    ctl.ok("pages", "set", "/pricing", "--access", "signed-in")
    assert {r["pattern"]: r for r in ctl.ok("pages", "list")["rules"]}["/pricing"]["access"] == "signed-in"

    table = ctl.run("pages", "list")
    assert table.code == 0, table
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["PATTERN", "ACCESS", "GROUPS"]
    access_column = lines[0].index("ACCESS")
    for line in lines[1:]:
        assert line[access_column:].split()[0] in {"public", "signed-in", "groups"}, table.stdout

    ctl.ok("pages", "delete", "/pricing")
    assert "/pricing" not in {r["pattern"] for r in ctl.ok("pages", "list")["rules"]}
    ctl.fails(66, "pages", "delete", "/pricing", codes={"NOT_FOUND"})
    ctl.fails(65, "pages", "set", "/vip", "--access", "groups", "--group", unique("NoSuchGroup"), codes=DATA_CODES)


def test_settings_set_get(ctl: Authctl):
    settings = ctl.ok("settings", "set", "--sign-in-redirect", "/login", "--forbidden-redirect", "/upgrade",
                      "--app-base-url", "https://cars.example", "--mail-from", "Cars <no-reply@cars.example>")
    expected = {"sign_in_redirect": "/login", "forbidden_redirect": "/upgrade",
                "app_base_url": "https://cars.example", "mail_from": "Cars <no-reply@cars.example>",
                "app_name": "authd", "unmatched_page_access": "public", "page_paths_case_insensitive": False,
                "redirect_origins": []}
    assert settings["settings"] == expected
    assert ctl.ok("settings", "get")["settings"] == expected

    changed = ctl.ok("settings", "set", "--forbidden-redirect", "/pricing")["settings"]
    assert changed == {**expected, "forbidden_redirect": "/pricing"}

    text = ctl.run("settings", "get")
    assert text.code == 0 and "/login" in text.stdout and "/pricing" in text.stdout


# ---- Remove everything -----------------------------------------------------------


def test_remove_everything(start_authd, authctl_binary: Path):
    server = start_authd()
    ctl = Authctl(authctl_binary, f"127.0.0.1:{server.port}", key_file=first_admin_key(server))
    ctl.ok("roles", "add", "Admin")
    ctl.ok("groups", "add", "Admin", "--role", "Admin")
    ctl.ok("pages", "set", "/admin/*", "--access", "groups", "--group", "Admin")
    for i in range(3):
        ctl.ok("users", "add", fresh_email(f"gone{i}"), "--role", "Admin")

    for args in (["remove-everything"], ["remove-everything", "--confirm", "yes"],
                 ["remove-everything", "--confirm", "remove everything"]):
        refused = ctl.run(*args)
        assert refused.code == 64, refused
        assert "REMOVE EVERYTHING" in refused.stderr
        assert "users list --all --json" in refused.stderr
    assert len(ctl.ok("users", "list", "--all")["users"]) == 3

    removed = ctl.ok("remove-everything", "--confirm", "REMOVE EVERYTHING")
    assert removed["users_removed"] == 3
    assert removed["roles_removed"] == 1 and removed["groups_removed"] == 1
    assert removed["page_rules_removed"] == 1

    assert ctl.ok("users", "list", "--all") == {"users": [], "next_page_token": ""}
    assert ctl.ok("roles", "list")["roles"] == []
    assert ctl.ok("groups", "list")["groups"] == []
    assert ctl.ok("pages", "list")["rules"] == []
    # API keys are not part of "everything": the operator still has a way in.
    assert ctl.ok("keys", "list")["keys"]
