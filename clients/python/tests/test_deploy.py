"""deploy/: the systemd units start what they claim to.

The unit's ExecStart= is expanded with its example EnvironmentFile= the way
systemd does (systemd_units.py, itself tested against systemd's documented rules
in test_systemd_units.py), and authd is started with exactly that command line.
Only what must be local to the test is changed: the executable (the built one,
not /usr/local/bin/authd), the database (AUTHD_DATABASE, a temporary file) and
the port (AUTHD_PORT=0).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from auth.v1 import admin_pb2, common_pb2
from conftest import REPO_ROOT, AuthdServer
from systemd_units import command_line, parse_exec, parse_unit, service_environment, unit_values

DEPLOY = REPO_ROOT / "deploy"
# Where each unit's comments say to install the example environment files.
INSTALLED_FILES = {
    "/etc/authd/authd.env": DEPLOY / "authd.env",
    "/etc/authd/auth-mailer.env": DEPLOY / "auth-mailer.env",
}


def read_installed(path: str):
    local = INSTALLED_FILES.get(path)
    return local.read_text() if local is not None and local.is_file() else None


def systemd_command(unit_name: str, overrides: Dict[str, str], specifiers: Dict[str, str] = {}) -> Tuple[str, List[str], Dict[str, str]]:
    """(executable, argv, environment) of the unit's one ExecStart= command."""
    unit = parse_unit((DEPLOY / unit_name).read_text())
    env = service_environment(unit, read_installed, specifiers)
    for name in overrides:
        assert name in env, f"{name} is not set by {unit_name}'s environment file"
    env.update(overrides)
    [exec_start] = unit_values(unit, "Service", "ExecStart")
    [command] = parse_exec(exec_start, specifiers)
    path, argv = command_line(command, env)
    return path, argv, env


def option_value(argv: List[str], option: str) -> str:
    assert argv.count(option) == 1, (option, argv)
    return argv[argv.index(option) + 1]


def test_authd_unit_starts_authd_with_its_example_environment(authd_binary: Path, tmp_path: Path):
    database = tmp_path / "authd.sqlite"
    path, argv, env = systemd_command("authd.service", {"AUTHD_DATABASE": str(database), "AUTHD_PORT": "0"})
    assert path == "/usr/local/bin/authd" and argv[0] == path

    # Every value reached authd as one argument, spaces and all.
    mail_from = env["AUTHD_MAIL_FROM"]
    assert " " in mail_from, "the example sender has a display name: the case the unit must get right"
    assert option_value(argv, "--mail-from") == mail_from
    assert option_value(argv, "--database") == str(database)
    assert option_value(argv, "--port") == "0"
    assert option_value(argv, "--host") == env["AUTHD_HOST"]
    assert all(word.startswith("--") for word in argv[1::2]), argv

    # systemd runs it with the unit's environment (and PATH and the like of its own).
    process_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    server = AuthdServer(authd_binary, tmp_path, database=database,
                         command=[str(authd_binary), *argv[1:]], env=process_env).start()
    try:
        assert server.port > 0
        key = (tmp_path / "authd.sqlite.admin-key").read_text().strip()
        with server.client(api_key=key) as admin:
            settings = admin.admin.get_settings(common_pb2.Empty()).settings
        assert settings.mail_from == mail_from
    finally:
        status = server.stop()
    assert status == 0, server.output_tail()


def test_the_old_unit_line_would_have_split_the_sender():
    """What the unit said before issue 9, expanded the same way: three words where authd
    takes one, so authd exited 64 and Restart=on-failure made it a crash loop."""
    env = service_environment(parse_unit((DEPLOY / "authd.service").read_text()), read_installed)
    [old] = parse_exec("/usr/local/bin/authd --mail-from $AUTHD_MAIL_FROM --log-level ${AUTHD_LOG_LEVEL}")
    _, argv = command_line(old, env)
    assert argv[1:4] == ["--mail-from", "Example", "<no-reply@example.com>"]


def test_auth_mailer_unit_command_line(tmp_path: Path):
    """auth-mailer reads its settings from the environment itself; the unit only
    passes the credential files (%d: the service's credentials directory)."""
    credentials = "/run/credentials/auth-mailer.service"
    path, argv, env = systemd_command("auth-mailer.service", {}, {"d": credentials})
    assert path == "/usr/local/bin/auth-mailer"
    assert argv == [path, "--key-file", f"{credentials}/mailer.key", "--smtp-password-file", f"{credentials}/smtp.pass"]
    mailer_doc = (REPO_ROOT / "docs" / "mailer.md").read_text()
    for name in env:
        assert f"`{name}`" in mailer_doc, f"{name} of deploy/auth-mailer.env is not documented in docs/mailer.md"


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
