"""authctl as a command line: where the common options may go, users by id or
email, the "more" hint of listings, a reader that stops early, and the outbox
commands (mail dead, mail requeue). Driven as a subprocess against a real authd;
see test_authctl.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from auth.v1 import auth_pb2, mail_pb2
from conftest import AuthdServer
from test_authctl import Authctl, authctl_binary, first_admin_key, fresh_email, unique  # noqa: F401 (fixture)

GLOBAL_OPTION_NAMES = ("--address", "--key", "--key-file", "--json", "--timeout")


@pytest.fixture(scope="module")
def server(authd_binary: Path, tmp_path_factory: pytest.TempPathFactory):
    srv = AuthdServer(authd_binary, tmp_path_factory.mktemp("authctl-cli"), ["--scrypt-log-n", "10"]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ctl(server: AuthdServer, authctl_binary: Path) -> Authctl:
    return Authctl(authctl_binary, f"127.0.0.1:{server.port}", key_file=first_admin_key(server))


def bare(ctl: Authctl) -> Authctl:
    """authctl with neither address nor key in the environment: only flags."""
    return Authctl(ctl.binary, "unused")


def run_bare(ctl: Authctl, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHD_")}
    return subprocess.run([str(ctl.binary), *args], env=env, capture_output=True, text=True, timeout=60, **kwargs)


def leaf_commands(ctl: Authctl) -> List[List[str]]:
    """Every command path that runs something, read from --help (so a new command
    is covered without editing this list)."""
    def subcommands(path: List[str]) -> List[str]:
        result = run_bare(ctl, *path, "--help")
        assert result.returncode == 0, result
        if "SUBCOMMANDS:" not in result.stdout:
            return []
        section = result.stdout.split("SUBCOMMANDS:", 1)[1]
        names = re.findall(r"^  ([a-z][a-z-]*)\s", section, re.MULTILINE)
        return [n for n in names if n != "help"]

    leaves: List[List[str]] = []
    pending = [[]]
    while pending:
        path = pending.pop()
        children = subcommands(path)
        if not children and path:
            leaves.append(path)
        pending += [path + [child] for child in children]
    return sorted(leaves)


# ---- The common options before or after the command --------------------------------


def test_common_options_work_before_and_after_the_command(ctl: Authctl):
    address, key_file = ctl.address, str(ctl.key_file)
    role = unique("Placed")
    assert run_bare(ctl, "roles", "add", role, "--address", address, "--key-file", key_file).returncode == 0
    forms = [
        ["--key-file", key_file, "--address", address, "roles", "list", "--json"],
        ["roles", "list", "--key-file", key_file, "--address", address, "--json"],
        ["--json", "--timeout", "5", "roles", "list", "--key-file", key_file, "--address", address],
        [f"--key-file={key_file}", f"--address={address}", "--json", "roles", "list"],
        ["roles", "--key-file", key_file, "list", "--address", address, "--json"],  # between command and subcommand
        ["--key", ctl.key_file.read_text().strip(), "--address", address, "--json", "roles", "list"],
    ]
    for args in forms:
        result = run_bare(ctl, *args)
        assert result.returncode == 0, (args, result)
        assert role in [r["name"] for r in json.loads(result.stdout)["roles"]], args

    # A positional argument that looks like a command name stays the command's own.
    user = ctl.ok("users", "add", fresh_email("placed"))["user"]
    got = run_bare(ctl, "--address", address, "--key-file", key_file, "--json", "users", "get", user["id"])
    assert got.returncode == 0, got
    # The later of two --address options wins, wherever each one is.
    later = run_bare(ctl, "--address", "127.0.0.1:1", "--key-file", key_file, "roles", "list", "--address", address)
    assert later.returncode == 0, later
    earlier_wrong = run_bare(ctl, "--address", address, "--key-file", key_file, "roles", "list", "--address", "127.0.0.1:1",
                             "--timeout", "3")
    assert earlier_wrong.returncode == 69, earlier_wrong


def test_every_command_takes_the_common_options_before_it(ctl: Authctl):
    """Each leaf command is parsed with every common option in front of it: the
    parser must not call it an unknown option (64 would then be the exit). The
    address points at a closed port so nothing is sent; what comes back is either a
    usage error about the command's own arguments or, once parsed, no server."""
    leaves = leaf_commands(ctl)
    assert ["mail", "dead"] in leaves and ["users", "list"] in leaves and ["remove-everything"] in leaves
    for path in leaves:
        result = run_bare(ctl, "--address", "127.0.0.1:1", "--key", "k", "--json", "--timeout", "1", *path, "--help")
        assert result.returncode == 0, (path, result)
        for option in GLOBAL_OPTION_NAMES:
            assert option in result.stdout, (path, option)
        parsed = run_bare(ctl, "--address", "127.0.0.1:1", "--key", "k", "--json", "--timeout", "1", *path)
        assert "Unknown option" not in parsed.stderr, (path, parsed)


def test_help_works_at_every_level_with_options_in_front(ctl: Authctl):
    for args in (["--help"], ["--json", "--help"], ["--key-file", "x", "users", "--help"],
                 ["--key-file", "x", "users", "list", "--help"], ["users", "list", "--help", "--key-file", "x"],
                 ["help", "users", "list"]):
        result = run_bare(ctl, *args)
        assert result.returncode == 0, (args, result)
        assert "USAGE:" in result.stdout, (args, result)
    listing = run_bare(ctl, "--key-file", "x", "users", "list", "--help")
    assert "--page-token" in listing.stdout
    top = run_bare(ctl, "--help")
    assert "before or after the command" in top.stdout


def test_a_terminator_and_command_arguments_are_left_alone(ctl: Authctl):
    # After "--" everything is an argument: "--json" here is a role's name, not the flag
    # (the answer is text, not JSON).
    common = ["--address", ctl.address, "--key-file", str(ctl.key_file)]
    result = run_bare(ctl, *common, "roles", "add", "--", "--json")
    assert result.returncode == 0, result
    assert result.stdout == "Created role --json.\n"
    assert "--json" in [r["name"] for r in ctl.ok("roles", "list")["roles"]]
    assert run_bare(ctl, *common, "roles", "delete", "--", "--json").returncode == 0
    # With no command the options are the root command's: a usage error, not a crash.
    assert run_bare(ctl, "--key-file", "x").returncode == 64


# ---- Users by id or by email ---------------------------------------------------------


def test_user_commands_take_an_email_or_an_id(ctl: Authctl, server: AuthdServer):
    ctl.ok("roles", "add", "EmailRole")
    email = fresh_email("grace")
    user = ctl.ok("users", "add", email, "--password", "correct horse")["user"]
    for argument in (email, email.upper(), user["id"]):
        assert ctl.ok("users", "get", argument)["user"]["id"] == user["id"]
        assert ctl.ok("users", "block", argument)["user"]["blocked"] is True
        assert ctl.ok("users", "unblock", argument)["user"]["blocked"] is False
    assert ctl.ok("users", "set-roles", email, "EmailRole")["user"]["roles"] == ["EmailRole"]
    assert ctl.ok("users", "update", email, "--set", "name=Grace")["user"]["attributes"] == {"name": "Grace"}

    # Blocking by email really blocks: the user's login is refused.
    ctl.ok("users", "block", email)
    with server.client() as c:
        from authd import RpcError
        with pytest.raises(RpcError) as refused:
            c.auth.login(auth_pb2.LoginRequest(email=email, password="correct horse"))
        assert refused.value.code_name == "PERMISSION_DENIED"

    text = ctl.run("users", "delete", email)
    assert text.code == 0, text
    assert user["id"] in text.stdout and email in text.stdout
    error = ctl.fails(66, "users", "get", user["id"], codes={"NOT_FOUND"})
    assert user["id"] in error["message"]

    nobody = fresh_email("nobody")
    for command in ("block", "unblock", "delete", "get"):
        error = ctl.fails(66, "users", command, nobody, codes={"NOT_FOUND"})
        assert "email" in error["message"] and nobody in error["message"], (command, error)
        assert "id" not in error["message"].split(), (command, error)


def test_deleting_by_id_reports_the_id(ctl: Authctl):
    user = ctl.ok("users", "add", fresh_email("byid"))["user"]
    assert ctl.ok("users", "delete", user["id"]) == {"deleted": user["id"]}


# ---- The "more" hint --------------------------------------------------------------


def more_command(stdout: str) -> List[str]:
    lines = [line for line in stdout.splitlines() if line.startswith("More: ")]
    assert len(lines) == 1, stdout
    return shlex.split(lines[0][len("More: "):])


def test_more_hint_repeats_every_option_and_fetches_the_next_page(ctl: Authctl):
    prefix = f"more-{unique('p')}"
    role = unique("MoreRole")
    ctl.ok("roles", "add", role)
    emails = sorted(f"{prefix}-{i}@example.com" for i in range(5))
    for email in emails:
        ctl.ok("users", "add", email, "--role", role)
    address, key_file = ctl.address, str(ctl.key_file)
    first = run_bare(ctl, "--address", address, "--key-file", key_file, "users", "list",
                     "--page-size", "2", "--email-prefix", prefix, "--role", role)
    assert first.returncode == 0, first
    seen = re.findall(rf"{re.escape(prefix)}-\d@example.com", first.stdout)
    assert seen == emails[:2]

    pages = [seen]
    hint = more_command(first.stdout)
    for expected in (["--address", address], ["--key-file", key_file], ["--page-size", "2"],
                     ["--email-prefix", prefix], ["--role", role]):
        i = hint.index(expected[0])
        assert hint[i:i + 2] == expected, hint
    assert hint[0] == str(ctl.binary)
    while True:
        page = run_bare(ctl, *hint[1:])
        assert page.returncode == 0, page
        pages.append(re.findall(rf"{re.escape(prefix)}-\d@example.com", page.stdout))
        if "More: " not in page.stdout:
            break
        hint = more_command(page.stdout)
        assert hint.count("--page-token") == 1, hint
    assert [email for page in pages for email in page] == emails
    assert [len(page) for page in pages] == [2, 2, 1]


def test_more_hint_quotes_what_the_shell_would_split(ctl: Authctl):
    group = unique("More Group")  # a space: must come back quoted
    role = unique("MoreGroupRole")
    ctl.ok("roles", "add", role)
    ctl.ok("groups", "add", group, "--role", role)
    for i in range(3):
        ctl.ok("users", "add", fresh_email(f"member{i}"), "--role", role)
    first = ctl.run("groups", "members", group, "--page-size", "2")
    assert first.code == 0, first
    hint = more_command(first.stdout)
    assert group in hint and hint[hint.index("--page-size") + 1] == "2"
    second = Authctl(ctl.binary, ctl.address, key_file=ctl.key_file).run(*hint[1:])
    assert second.code == 0, second
    assert "More: " not in second.stdout and len(re.findall(r"member\d", second.stdout)) == 1


# ---- A reader that stops early -------------------------------------------------------


def test_export_into_a_pipe_closed_early_is_quiet(ctl: Authctl, tmp_path: Path):
    """`authctl users export | head -n 1`: once head exits, writes fail with EPIPE.
    authctl ends quietly with exit 0 (docs/authctl.md): no error text, not killed by
    SIGPIPE. The export is made larger than a pipe's buffer (64 KiB) so that writes
    after the reader is gone are certain."""
    rows = ["email,note"] + [f"pipe-{i:05d}@example.com,{'x' * 60}" for i in range(3000)]
    csv_file = tmp_path / "many.csv"
    csv_file.write_text("\n".join(rows) + "\n")
    assert ctl.run("users", "import", str(csv_file)).code == 0

    proc = subprocess.Popen([str(ctl.binary), "users", "export", "--page-size", "200"], env=ctl.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    header = proc.stdout.readline()
    assert header.startswith(b"id,email"), header
    proc.stdout.close()
    stderr = proc.stderr.read()
    status = proc.wait(timeout=60)
    assert status == 0, (status, stderr)
    assert stderr == b""

    # The same through a shell pipeline, as a person types it, with pipefail.
    shell = subprocess.run(["bash", "-c", "set -o pipefail; \"$0\" users export | head -n 2", str(ctl.binary)],
                           env=ctl.env(), capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0, shell
    assert shell.stderr == "" and len(shell.stdout.splitlines()) == 2


def test_a_listing_into_a_closed_pipe_is_quiet(ctl: Authctl):
    shell = subprocess.run(["bash", "-c", "set -o pipefail; \"$0\" users list --all --json | head -c 10", str(ctl.binary)],
                           env=ctl.env(), capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0, shell
    assert shell.stderr == ""


# ---- The outbox: mail dead, mail requeue ----------------------------------------------


def make_dead_messages(server: AuthdServer, ctl: Authctl, count: int) -> List[str]:
    """Queues `count` verification-code emails (ForgotPassword of new users) and plays a
    mailer that fails each one permanently, as auth-mailer does on an SMTP 5xx. Returns
    the recipients."""
    mailer_key = ctl.ok("keys", "create", unique("dead-maker"), "--scope", "mailer")["secret"]
    recipients = []
    with server.client() as c:
        for _ in range(count):
            email = fresh_email("dead")
            ctl.ok("users", "add", email, "--password", "correct horse")
            c.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=email))
            recipients.append(email)
    with server.client(api_key=mailer_key) as mailer:
        leased = mailer.mail.lease_messages(mail_pb2.LeaseMessagesRequest(worker_id="test", batch_size=500)).messages
        mine = [m for m in leased if m.to in recipients]
        assert len(mine) == count, leased
        for message in leased:
            mailer.mail.report_failure(mail_pb2.ReportFailureRequest(
                message=mail_pb2.LeasedMessage(id=message.id, lease_token=message.lease_token),
                permanent=message.to in recipients, reason="550 5.1.1 mailbox unavailable"))
    return recipients


def dead_by_recipient(ctl: Authctl) -> Dict[str, dict]:
    return {m["recipient"]: m for m in ctl.ok("mail", "dead", "--all")["messages"]}


def test_mail_dead_lists_and_mail_requeue_queues_again(server: AuthdServer, ctl: Authctl):
    recipients = make_dead_messages(server, ctl, 3)
    dead = dead_by_recipient(ctl)
    assert set(recipients) <= set(dead)
    message = dead[recipients[0]]
    assert set(message) == {"id", "recipient", "subject", "attempts", "last_error", "created_at_ms"}
    assert message["attempts"] >= 1 and "550" in message["last_error"] and message["subject"]
    assert message["created_at_ms"] > 0

    text = ctl.run("mail", "dead")
    assert text.code == 0, text
    assert text.stdout.splitlines()[0].split()[:3] == ["ID", "RECIPIENT", "ATTEMPTS"]
    assert recipients[0] in text.stdout and "550" in text.stdout

    # Paged: one at a time with the hint, the same set as --all.
    first = ctl.run("mail", "dead", "--page-size", "1")
    assert first.code == 0, first
    hint = more_command(first.stdout)
    assert hint[hint.index("--page-size") + 1] == "1"
    one = ctl.ok("mail", "dead", "--page-size", "1")
    assert len(one["messages"]) == 1 and one["next_page_token"]

    # Requeue one by id: it leaves the dead list; the others stay.
    requeued = ctl.ok("mail", "requeue", str(dead[recipients[0]]["id"]))
    assert requeued == {"requeued": 1}
    after = dead_by_recipient(ctl)
    assert recipients[0] not in after and recipients[1] in after
    # The same id again is no longer dead: nothing is requeued, and the text says so.
    again = ctl.run("mail", "requeue", str(dead[recipients[0]]["id"]))
    assert again.code == 0 and "Requeued 0 messages" in again.stdout and "not dead" in again.stdout, again

    # Back in the queue: a mailer leases it again.
    mailer_key = ctl.ok("keys", "create", unique("lessee"), "--scope", "mailer")["secret"]
    with server.client(api_key=mailer_key) as mailer:
        leased = mailer.mail.lease_messages(mail_pb2.LeaseMessagesRequest(worker_id="again", batch_size=500)).messages
        assert recipients[0] in [m.to for m in leased]
        mailer.mail.ack_messages(mail_pb2.AckMessagesRequest(
            messages=[mail_pb2.LeasedMessage(id=m.id, lease_token=m.lease_token) for m in leased]))

    everything = ctl.ok("mail", "requeue", "--all")
    assert everything["requeued"] >= 2
    assert ctl.ok("mail", "dead", "--all") == {"messages": [], "next_page_token": ""}
    empty = ctl.run("mail", "dead")
    assert empty.code == 0 and "(none)" in empty.stdout


@pytest.mark.parametrize("args", [["mail", "requeue"], ["mail", "requeue", "1", "--all"], ["mail", "requeue", "x"],
                                  ["mail", "dead", "--page-size", "-1"]])
def test_mail_usage_errors_exit_64(ctl: Authctl, args: List[str]):
    result = ctl.run(*args)
    assert result.code == 64, result
    assert result.stdout == ""


def test_mail_commands_need_an_admin_key(ctl: Authctl):
    mailer = ctl.as_key(ctl.ok("keys", "create", unique("not-admin"), "--scope", "mailer")["secret"])
    mailer.fails(77, "mail", "dead", codes={"PERMISSION_DENIED", "UNAUTHENTICATED"})
    mailer.fails(77, "mail", "requeue", "--all", codes={"PERMISSION_DENIED", "UNAUTHENTICATED"})
