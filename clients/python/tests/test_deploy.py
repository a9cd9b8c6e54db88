"""deploy/: the systemd units start what they claim to.

The unit's ExecStart= is expanded with its example EnvironmentFile= the way
systemd does (systemd_units.py, itself tested against systemd's documented rules
in test_systemd_units.py), and authd is started with exactly that command line,
which names the example configuration file and nothing else: authd reads the file
and its environment itself. Only what must be local to the test is changed: the
executable (the built one, not /usr/local/bin/authd), the installed files' paths
(deploy/ here), the database (AUTHD_DATABASE, a temporary file) and the port
(AUTHD_PORT=0, AUTHD_MANAGEMENT_PORT=0), through the environment, which wins over
the file.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from auth.v1 import admin_pb2, auth_pb2, common_pb2
from conftest import REPO_ROOT, AuthdServer
from test_management import get
from systemd_units import command_line, parse_exec, parse_unit, service_environment, unit_values

DEPLOY = REPO_ROOT / "deploy"
# Where each unit's comments say to install the example files.
INSTALLED_FILES = {
    "/etc/authd/authd.env": DEPLOY / "authd.env",
    "/etc/authd/authd.json": DEPLOY / "authd.json",
    "/etc/authd/auth-mailer.env": DEPLOY / "auth-mailer.env",
    "/etc/authd/auth-mailer.json": DEPLOY / "auth-mailer.json",
}


def read_installed(path: str):
    local = INSTALLED_FILES.get(path)
    return local.read_text() if local is not None and local.is_file() else None


def systemd_command(unit_name: str, overrides: Dict[str, str], specifiers: Dict[str, str] = {}) -> Tuple[str, List[str], Dict[str, str]]:
    """(executable, argv, environment) of the unit's one ExecStart= command."""
    unit = parse_unit((DEPLOY / unit_name).read_text())
    env = service_environment(unit, read_installed, specifiers)
    env.update(overrides)
    [exec_start] = unit_values(unit, "Service", "ExecStart")
    [command] = parse_exec(exec_start, specifiers)
    path, argv = command_line(command, env)
    return path, argv, env


def test_authd_unit_starts_authd_with_its_example_configuration(authd_binary: Path, tmp_path: Path):
    database = tmp_path / "authd.sqlite"
    path, argv, env = systemd_command(
        "authd.service", {"AUTHD_DATABASE": str(database), "AUTHD_PORT": "0", "AUTHD_MANAGEMENT_PORT": "0"})
    assert path == "/usr/local/bin/authd" and argv[0] == path
    # No value passes through the command line but the configuration file.
    assert argv[1:] == ["--config", "/etc/authd/authd.json"], argv
    example = json.loads((DEPLOY / "authd.json").read_text())
    mail_from = example["mailFrom"]
    assert " " in mail_from, "the example sender has a display name: the case the unit once got wrong"

    # systemd runs it with the unit's environment (and PATH and the like of its own).
    process_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    command = [str(authd_binary), "--config", str(INSTALLED_FILES[argv[2]])]
    printed = subprocess.run([*command, "--print-config"], env=process_env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    settings = json.loads(printed.stdout)["settings"]
    assert settings["database"] == {"value": str(database), "source": "environment", "name": "AUTHD_DATABASE"}
    assert settings["mailFrom"]["source"] == "file" and settings["scrypt.logN"]["value"] == 17
    assert settings["logLevel"]["name"] == "AUTHD_LOG_LEVEL"
    # The shipped configuration serves /healthz, /readyz and /metrics on loopback.
    assert example["management"] == {"host": "127.0.0.1", "port": 9400}

    server = AuthdServer(authd_binary, tmp_path, database=database, command=command, env=process_env).start()
    try:
        assert server.port > 0
        key = (tmp_path / "authd.sqlite.admin-key").read_text().strip()
        with server.client(api_key=key) as admin:
            settings = admin.admin.get_settings(common_pb2.Empty()).settings
        assert settings.mail_from == mail_from
        assert get(server, "/readyz")[0] == 200
    finally:
        status = server.stop()
    assert status == 0, server.output_tail()


def test_every_example_key_is_a_key(authd_binary: Path):
    """The example files use only keys authd and auth-mailer know (an unknown one is refused)."""
    for binary, example in ((authd_binary, "authd.json"), (authd_binary.parent / "auth-mailer", "auth-mailer.json")):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AUTH_MAILER_KEY": "authd_ak_example"}
        result = subprocess.run([str(binary), "--config", str(DEPLOY / example), "--print-config"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (example, result.stderr)


def test_auth_mailer_unit_command_line(tmp_path: Path):
    """auth-mailer reads its file and environment itself; the unit names the credential
    files (%d: the service's credentials directory) in Environment=, not in ExecStart=."""
    credentials = "/run/credentials/auth-mailer.service"
    path, argv, env = systemd_command("auth-mailer.service", {}, {"d": credentials})
    assert path == "/usr/local/bin/auth-mailer"
    assert argv == [path, "--config", "/etc/authd/auth-mailer.json"]
    assert env["AUTH_MAILER_KEY_FILE"] == f"{credentials}/mailer.key"
    assert env["AUTH_MAILER_SMTP_PASSWORD_FILE"] == f"{credentials}/smtp.pass"
    reference = (REPO_ROOT / "docs" / "configuration.md").read_text()
    for name in env:
        assert f"`{name}`" in reference, f"{name} of auth-mailer.service is not documented in docs/configuration.md"

    # The mailer reads the credential files the variables name.
    (tmp_path / "mailer.key").write_text("authd_ak_example\n")
    (tmp_path / "smtp.pass").write_text("secret\n")
    local = {**env, "AUTH_MAILER_KEY_FILE": str(tmp_path / "mailer.key"),
             "AUTH_MAILER_SMTP_PASSWORD_FILE": str(tmp_path / "smtp.pass"), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    mailer = REPO_ROOT / ".build" / "debug" / "auth-mailer"
    result = subprocess.run([str(os.environ.get("AUTH_MAILER_BIN", mailer)), "--config", str(INSTALLED_FILES[argv[2]]),
                             "--print-config"], env=local, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]
    assert settings["keyFile"]["name"] == "AUTH_MAILER_KEY_FILE" and settings["smtp.user"]["source"] == "file"


def test_units_pass_systemd_analyze_verify(tmp_path: Path):
    """`systemd-analyze verify` on the units, installed into a scratch root as their
    comments say (the executables are stand-ins: verify checks that they exist and
    are executable). Optional: skipped, saying so, where systemd-analyze is missing."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd): the units were NOT verified by systemd")
    root = tmp_path / "root"
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (root / "usr" / "local" / "bin").mkdir(parents=True)
    (root / "bin").mkdir()
    kill = root / "bin" / "kill"  # authd's ExecReload=
    kill.write_text("#!/bin/sh\n")
    kill.chmod(0o755)
    for name in ("authd", "auth-mailer"):
        shutil.copy(DEPLOY / f"{name}.service", units / f"{name}.service")
        stand_in = root / "usr" / "local" / "bin" / name
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", "--man=no", "--recursive-errors=no",
         str(units / "authd.service"), str(units / "auth-mailer.service")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result
    assert result.stdout == "" and result.stderr == "", result


# ---- Hardening -------------------------------------------------------------------

# What `systemd-analyze security` (v252) gives the units: keep them there (docs/operations.md,
# "Hardening"; 8.3 EXPOSED before). A change that loosens a unit fails here, and one that
# tightens it can lower the figure.
EXPOSURE_AT_MOST = {"authd.service": 1.2, "auth-mailer.service": 1.2}


@pytest.mark.parametrize("unit_name", sorted(EXPOSURE_AT_MOST))
def test_units_are_hardened(unit_name: str):
    """`systemd-analyze security --offline=yes` on the unit file: its overall exposure is
    at most what docs/operations.md states. Skipped, saying so, without systemd-analyze."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd): the units' exposure was NOT checked")
    result = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(DEPLOY / unit_name)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result
    match = re.search(rf"Overall exposure level for {re.escape(unit_name)}: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout[-2000:]
    exposure = float(match.group(1))
    assert exposure <= EXPOSURE_AT_MOST[unit_name], \
        f"{unit_name}: exposure {exposure} {match.group(2)}, above {EXPOSURE_AT_MOST[unit_name]}:\n" + \
        "\n".join(line for line in result.stdout.splitlines() if line.startswith("✗"))
    operations = (REPO_ROOT / "docs" / "operations.md").read_text()
    assert f"`{unit_name}` | 8.3 EXPOSED | {EXPOSURE_AT_MOST[unit_name]} OK" in operations, \
        "docs/operations.md states another figure"


def sandbox_available() -> Optional[str]:
    """Why the seccomp sandbox cannot run here, or None."""
    if shutil.which("systemd-analyze") is None:
        return "systemd-analyze is not installed (Debian package systemd)"
    if ctypes.util.find_library("seccomp") is None:
        return "libseccomp is not installed (Debian package libseccomp2)"
    return None


def sandboxed(unit_name: str, command: List[str]) -> List[str]:
    """command run under the unit's seccomp filters, as an unprivileged user when we are root
    (unit_sandbox.py says what is and is not reproduced)."""
    user = ["--user", "nobody"] if os.geteuid() == 0 else []
    return [sys.executable, str(Path(__file__).with_name("unit_sandbox.py")), str(DEPLOY / unit_name), *user, "--", *command]


def test_authd_and_the_mailer_run_under_the_units_seccomp_filters(authd_binary: Path):
    """The units' SystemCallFilter=, SystemCallArchitectures=, MemoryDenyWriteExecute= and
    RestrictAddressFamilies= enforced by the kernel (with libseccomp, as systemd does), on
    authd and auth-mailer doing their work: sign-ups and logins (the scrypt threads),
    token checks, admin calls, SQLite writes, the outbox, mail sent over SMTP with STARTTLS
    and AUTH (libcurl, OpenSSL), SIGTERM. A system call outside the filter would kill them
    (SIGSYS); W+X memory would fail. Swift compiles ahead of time and needs none."""
    missing = sandbox_available()
    if missing:
        pytest.skip(f"{missing}: the units' seccomp filters were NOT tried on authd")
    from smtp_server import PASSWORD as SMTP_PASSWORD, USER as SMTP_USER, SMTPServer

    # A directory the unprivileged user owns, as StateDirectory= is the service's own.
    workdir = Path(tempfile.mkdtemp(prefix="authd-sandbox-"))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(workdir, nobody.pw_uid, nobody.pw_gid)
    # The binaries run from there too: the checkout may sit in a directory the unprivileged
    # user cannot enter (a clone under `mktemp -d` is mode 0700).
    binaries = workdir / "bin"
    binaries.mkdir(mode=0o755)
    for name in ("authd", "auth-mailer"):
        shutil.copy2(authd_binary.with_name(name), binaries / name)
    os.chmod(workdir, 0o755)
    authd_binary = binaries / "authd"
    mail = None
    try:
        database = workdir / "authd.sqlite"
        server = AuthdServer(authd_binary, workdir, database=database, command=sandboxed("authd.service", [
            str(authd_binary), "--host", "127.0.0.1", "--port", "0", "--database", str(database),
            "--scrypt-log-n", "12"])).start()
        try:
            key = (workdir / "authd.sqlite.admin-key").read_text().strip()
            with server.client(api_key=key) as admin:
                admin.admin.update_settings(admin_pb2.UpdateSettingsRequest(
                    app_base_url=common_pb2.StringValue(value="https://cars.example")))
                admin.admin.create_role(admin_pb2.RoleRequest(name="Premium"))
                admin.admin.create_user(admin_pb2.CreateUserRequest(email="invited@example.com", send_invitation=True))
                mailer_key = admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(
                    name="sandboxed mailer", scope=admin_pb2.KEY_SCOPE_MAILER)).secret
            with server.client() as client:
                for n in range(4):
                    email = f"user-{n}@example.com"
                    token = client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="correct horse")).session.token
                    assert client.auth.get_me(auth_pb2.GetMeRequest(token=token)).user.email == email
                    client.auth.login(auth_pb2.LoginRequest(email=email, password="correct horse"))
                client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email="user-0@example.com"))

            mail = SMTPServer(workdir, "starttls").start()
            for name, text in (("mailer.key", mailer_key), ("smtp.pass", SMTP_PASSWORD)):
                (workdir / name).write_text(text + "\n")
                os.chmod(workdir / name, 0o600)
                if os.geteuid() == 0:
                    os.chown(workdir / name, nobody.pw_uid, nobody.pw_gid)
            mailer_log = open(workdir / "mailer.log", "wb")
            mailer = subprocess.Popen(sandboxed("auth-mailer.service", [
                str(authd_binary.with_name("auth-mailer")), "--address", f"127.0.0.1:{server.port}",
                "--key-file", str(workdir / "mailer.key"), "--smtp-url", mail.url, "--smtp-starttls", "required",
                "--smtp-ca-file", str(mail.cert), "--smtp-user", SMTP_USER,
                "--smtp-password-file", str(workdir / "smtp.pass"), "--poll-interval", "100ms"]),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=mailer_log)
            try:
                mail.mailbox.wait_for(lambda m: len(m.all()) == 2, 120, "the invitation and the code, sent by the sandboxed mailer")
                assert all(delivery.tls and delivery.authenticated for delivery in mail.mailbox.all())
            finally:
                if mailer.poll() is None:
                    mailer.send_signal(signal.SIGTERM)
                mailer_status = mailer.wait(timeout=60)
                mailer_log.close()
            assert mailer_status == 0, (workdir / "mailer.log").read_text()[-3000:]
            assert server.alive(), server.output_tail()
        finally:
            status = server.stop()
        assert status == 0, f"authd under the unit's filters: status {status}\n{server.output_tail()}"
    finally:
        if mail is not None:
            mail.stop()
        shutil.rmtree(workdir, ignore_errors=True)
