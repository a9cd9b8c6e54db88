"""authd's and auth-mailer's configuration against the real binaries: a JSON file, the
environment and flags, in that order of precedence over the defaults of the
configuration structs; a bad value stops the start (exit 64) naming the key, its source
and what is allowed; --help lists every key; docs/configuration.md is --config-reference.
The resolved values are read back with --print-config, and a few by behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from auth.v1 import auth_pb2, common_pb2
from authd import RpcError
from conftest import REPO_ROOT, AuthdServer
from test_mailer import mailer_binary_path

DOCS = REPO_ROOT / "docs" / "configuration.md"


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHD_", "AUTH_MAILER_"))}
    env.update(extra)
    return env


def run(binary: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60,
                          env=env if env is not None else clean_env())


def printed(binary: Path, *args: str, env: Optional[Dict[str, str]] = None) -> Dict[str, dict]:
    result = run(binary, *args, "--print-config", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write_config(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / f"authd-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(document))
    return path


def test_flag_over_environment_over_file_over_default(authd_binary: Path, tmp_path: Path):
    config = write_config(tmp_path, {
        "maxInFlight": 10, "idleTimeout": "2m", "mailFrom": "File <file@example.com>",
        "throttle": {"loginPerAccount": {"freeFailures": 7}},
    })
    env = clean_env(AUTHD_CONFIG=str(config), AUTHD_MAX_IN_FLIGHT="20", AUTHD_IDLE_TIMEOUT="3m")
    document = printed(authd_binary, "--max-in-flight", "30", env=env)
    assert document["configFile"] == str(config)
    settings = document["settings"]
    assert settings["maxInFlight"] == {"value": 30, "source": "flag", "name": "--max-in-flight"}
    assert settings["idleTimeout"] == {"value": "3m", "source": "environment", "name": "AUTHD_IDLE_TIMEOUT"}
    assert settings["mailFrom"] == {"value": "File <file@example.com>", "source": "file", "name": str(config)}
    assert settings["throttle.loginPerAccount.freeFailures"]["value"] == 7
    assert settings["logLevel"] == {"value": "info", "source": "default"}
    assert settings["port"] == {"value": 7400, "source": "default"}
    # The defaults are the configuration structs' (docs/decisions.md states them).
    assert settings["throttle.loginPerAccount.baseDelay"]["value"] == "1s"
    assert settings["throttle.loginPerAccount.maxDelay"]["value"] == "15m"
    assert settings["session.idleTimeout"]["value"] == "7d"
    assert settings["throttle.forgotPasswordPerEmailPerHour"]["value"] == 3

    # --config wins over AUTHD_CONFIG.
    other = write_config(tmp_path, {"maxInFlight": 11})
    assert printed(authd_binary, "--config", str(other), env=env)["settings"]["maxInFlight"]["value"] == 20
    assert printed(authd_binary, "--config", str(other))["settings"]["maxInFlight"]["source"] == "file"


def test_the_server_runs_with_what_was_resolved(authd_binary: Path, tmp_path: Path):
    """Behaviour, not only the printout: the sender from the file, the throttle's free
    failures from the environment over the file's."""
    config = write_config(tmp_path, {"mailFrom": "Example, Inc. <no-reply@example.com>",
                                     "throttle": {"loginPerAccount": {"freeFailures": 9}},
                                     "scrypt": {"logN": 10}, "hashing": {"threads": 1}})
    env = clean_env(AUTHD_THROTTLE_LOGIN_PER_ACCOUNT_FREE_FAILURES="2", PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    server = AuthdServer(authd_binary, tmp_path, command=[
        str(authd_binary), "--config", str(config), "--port", "0", "--database", str(tmp_path / "authd.sqlite")],
        env=env).start()
    try:
        key = (tmp_path / "authd.sqlite.admin-key").read_text().strip()
        with server.client(api_key=key) as admin:
            assert admin.admin.get_settings(common_pb2.Empty()).settings.mail_from == "Example, Inc. <no-reply@example.com>"
        with server.client() as client:
            email = f"conf-{uuid.uuid4().hex[:6]}@example.com"
            client.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="correct horse"))
            codes = []
            for _ in range(3):
                try:
                    client.auth.login(auth_pb2.LoginRequest(email=email, password="wrong password"))
                except RpcError as error:
                    codes.append(error.code_name)
            assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED"]
    finally:
        assert server.stop() == 0, server.output_tail()


@pytest.mark.parametrize("source", ["file", "environment", "flag"])
def test_a_bad_value_names_the_key_its_source_and_what_is_allowed(authd_binary: Path, tmp_path: Path, source: str):
    key, flag, variable = "throttle.loginPerAccount.freeFailures", "--throttle-login-per-account-free-failures", \
        "AUTHD_THROTTLE_LOGIN_PER_ACCOUNT_FREE_FAILURES"
    if source == "file":
        config = write_config(tmp_path, {"throttle": {"loginPerAccount": {"freeFailures": 0}}})
        result = run(authd_binary, "--config", str(config))
        where = f'the configuration file {config} (key "{key}")'
    elif source == "environment":
        result = run(authd_binary, env=clean_env(**{variable: "0"}))
        where = f"the environment variable {variable}"
    else:
        result = run(authd_binary, flag, "0")
        where = f"the flag {flag}"
    assert result.returncode == 64, result
    assert result.stderr.strip() == f"authd: {key} from {where}: 0 is out of range; allowed: an integer from 1 to 100"
    assert result.stdout == ""


@pytest.mark.parametrize("arguments, message", [
    (["--idle-timeout", "60"], 'idleTimeout from the flag --idle-timeout: "60" is not a duration with a unit'),
    (["--idle-timeout-ms", "60"], "unknown option --idle-timeout-ms"),
    (["--port", "http"], 'port from the flag --port: "http" is not an integer'),
    (["--log-level", "loud"], '"loud" is not allowed; allowed: one of trace, debug, info, notice, warning, error, critical'),
    (["--throttle-forgot-password-per-email-per-hour", "0"], "allowed: an integer from 1 to 100"),
    (["--throttle-login-per-account-base-delay", "0s"], "allowed: a duration from 1s to 1h"),
    (["--code-max-attempts", "1000"], "allowed: an integer from 1 to 20"),
    (["--session-idle-timeout", "2d", "--session-absolute-timeout", "1d"],
     "session.absoluteTimeout (the flag --session-absolute-timeout) and session.idleTimeout (the flag "
     "--session-idle-timeout): the absolute timeout must be at least the idle one"),
    (["--tls-cert-file", "x.pem"], "tls.certFile (the flag --tls-cert-file) and tls.keyFile (the default): "
                                   "TLS needs both the certificate chain and its key"),
    (["--tls-cert-file", "/nonexistent/cert.pem", "--tls-key-file", "/nonexistent/key.pem"],
     "tls.certFile (the flag --tls-cert-file): cannot use /nonexistent/cert.pem as the certificate chain"),
    (["--config", "/nonexistent/authd.json"], "cannot read the configuration file /nonexistent/authd.json"),
    # The URL is checked before any connection is tried; its password is never echoed.
    (["--store", "mysql://u@db/authd"], "store (the flag --store): store mysql://u@db/authd: not a postgres:// URL"),
    (["--store", "postgres://u:hunter2@db:5432"], "store postgres://u:***@db:5432: no database name after the host"),
    (["--store", "postgres://u@db/authd?sslmode=allow"], "sslmode must be disable, prefer or require"),
])
def test_refusals(authd_binary: Path, arguments: List[str], message: str):
    result = run(authd_binary, *arguments)
    assert result.returncode == 64, result
    assert message in result.stderr, result.stderr


def test_a_refused_store_url_does_not_echo_its_password(authd_binary: Path):
    result = run(authd_binary, "--store", "postgres://u:hunter2@db:5432")
    assert result.returncode == 64, result
    assert "hunter2" not in result.stderr + result.stdout


def test_an_unknown_file_key_is_refused(authd_binary: Path, tmp_path: Path):
    config = write_config(tmp_path, {"throttle": {"loginPerAcount": {"freeFailures": 3}}})
    result = run(authd_binary, "--config", str(config))
    assert result.returncode == 64
    assert 'unknown section "throttle.loginPerAcount"' in result.stderr


def test_help_lists_every_key_with_its_flag_variable_and_default(authd_binary: Path):
    settings = printed(authd_binary)["settings"]
    assert len(settings) > 60
    help_text = run(authd_binary, "--help").stdout
    for key in settings:
        assert f"· key {key} · default" in help_text, key
    assert "--tls-cert-file <text>" in help_text and "env AUTHD_TLS_CERT_FILE" in help_text
    assert "--throttle-login-per-account-free-failures <integer>" in help_text
    assert "authd admin-key create" in help_text


@pytest.mark.parametrize("doc", ["configuration.md", "operations.md"])
def test_the_docs_hold_the_reference_of_both_programs(authd_binary: Path, doc: str):
    text = (REPO_ROOT / "docs" / doc).read_text()
    for binary in (authd_binary, mailer_binary_path()):
        reference = run(binary, "--config-reference")
        assert reference.returncode == 0, reference.stderr
        assert reference.stdout in text, \
            f"docs/{doc} does not hold {binary.name} --config-reference: run tools/config-reference.sh"


def test_auth_mailer_reads_file_environment_and_flags_and_its_older_names(tmp_path: Path):
    mailer = mailer_binary_path()
    config = tmp_path / "mailer.json"
    config.write_text(json.dumps({"batchSize": 10, "lease": "2m", "smtp": {"timeout": "20s"}}))
    env = clean_env(AUTH_MAILER_CONFIG=str(config), AUTHD_ADDRESS="127.0.0.1:7500", AUTHD_MAILER_KEY="authd_ak_x",
                    AUTH_MAILER_BATCH_SIZE="20")
    settings = printed(mailer, "--batch-size", "30", env=env)["settings"]
    assert settings["batchSize"] == {"value": 30, "source": "flag", "name": "--batch-size"}
    assert settings["lease"] == {"value": "2m", "source": "file", "name": str(config)}
    assert settings["address"] == {"value": "127.0.0.1:7500", "source": "environment", "name": "AUTHD_ADDRESS"}
    assert settings["key"] == {"value": "<redacted>", "source": "environment", "name": "AUTHD_MAILER_KEY"}
    assert settings["smtp.password"]["value"] is None

    bad = run(mailer, env=dict(env, AUTH_MAILER_POLL_INTERVAL="fast"))
    assert bad.returncode == 64
    assert 'pollInterval from the environment variable AUTH_MAILER_POLL_INTERVAL: "fast" is not a duration' in bad.stderr
    slow = run(mailer, "--smtp-timeout", "90s", env=env)
    assert slow.returncode == 64 and "the SMTP timeout must be at most half the lease" in slow.stderr
    help_text = run(mailer, "--help").stdout
    for key in settings:
        assert f"· key {key} · default" in help_text, key
