"""TLS on the RPC port against the real binaries, with certificates made by openssl
for each test: the Python client, authctl, auth-mailer and authbench over TLS; a
client without the CA, without a client certificate when one is required, or
speaking TLS 1.1, refused; the certificate reloaded on SIGHUP for new connections
while an open connection keeps its own."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest

from auth.v1 import admin_pb2, auth_pb2, health_pb2
from authd import Client, RpcError, tls_context
from certs import CertificateAuthority, Issued
from conftest import AuthdServer, authd_binary_path
from test_mailer import mailer_binary_path, wait_until

CHEAP = ("--scrypt-log-n", "10", "--hashing-threads", "1")


def tls_flags(server: Issued, *more: str) -> tuple:
    return ("--tls-cert-file", str(server.cert), "--tls-key-file", str(server.key), *CHEAP, *more)


def health(client: Client) -> int:
    return client.health.check(health_pb2.HealthCheckRequest()).status


def stderr_text(server: AuthdServer) -> str:
    return (server.workdir / "stderr.log").read_text("utf-8", "replace")


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path, "main")


def test_python_client_calls_over_tls(start_authd, ca: CertificateAuthority):
    server = start_authd(*tls_flags(ca.issue("authd", 17)))
    assert "listening with TLS" in stderr_text(server)
    with server.client(tls=tls_context(str(ca.cert))) as client:
        session = client.auth.sign_up(auth_pb2.SignUpRequest(email=f"tls-{uuid.uuid4().hex[:6]}@example.com",
                                                             password="correct horse")).session
        assert client.auth.get_me(auth_pb2.GetMeRequest(token=session.token)).user.id
        certificate = client.peer_certificate()
        assert certificate["serialNumber"] == "11"  # 17
        assert ((("commonName", "authd"),),) == certificate["subject"]
    # A DNS name of the certificate works as well as its IP address.
    with server.client(tls=tls_context(str(ca.cert)), server_hostname="localhost") as client:
        assert health(client) == health_pb2.HealthCheckResponse.SERVING


def test_clients_without_the_ca_or_in_plaintext_are_refused(start_authd, ca: CertificateAuthority, tmp_path: Path):
    server = start_authd(*tls_flags(ca.issue("authd", 1)))
    other = CertificateAuthority(tmp_path, "other")
    for context in (tls_context(str(other.cert)), tls_context()):
        with pytest.raises(RpcError) as refused:
            server.client(tls=context)
        assert refused.value.code_name == "UNAVAILABLE" and "CERTIFICATE_VERIFY_FAILED" in refused.value.message
    with pytest.raises(RpcError) as wrong_name:
        server.client(tls=tls_context(str(ca.cert)), server_hostname="elsewhere.example")
    assert "CERTIFICATE_VERIFY_FAILED" in wrong_name.value.message
    # Plaintext frames to a TLS port are not a handshake: the connection is closed.
    with server.client(default_timeout=5) as plain, pytest.raises(RpcError) as closed:
        health(plain)
    assert closed.value.code_name == "UNAVAILABLE"
    with server.client(tls=tls_context(str(ca.cert))) as client:
        assert health(client) == health_pb2.HealthCheckResponse.SERVING


def test_mtls_refuses_a_client_without_a_certificate_and_serves_one_with_it(start_authd, ca, tmp_path: Path):
    backends = CertificateAuthority(tmp_path, "backends")
    stranger = CertificateAuthority(tmp_path, "stranger")
    server = start_authd(*tls_flags(ca.issue("authd", 1), "--tls-client-ca-file", str(backends.cert),
                                    "--tls-client-auth", "required"))
    backend = backends.issue("backend", 5, "clientAuth")
    impostor = stranger.issue("backend", 6, "clientAuth")
    with server.client(tls=tls_context(str(ca.cert), str(backend.cert), str(backend.key))) as client:
        assert health(client) == health_pb2.HealthCheckResponse.SERVING
    for context in (tls_context(str(ca.cert)), tls_context(str(ca.cert), str(impostor.cert), str(impostor.key))):
        # TLS 1.3 finishes the client's side of the handshake before the server has checked
        # its certificate: the refusal arrives as an alert on the first read.
        with pytest.raises(RpcError) as refused:
            with server.client(tls=context, default_timeout=5) as client:
                health(client)
        assert refused.value.code_name == "UNAVAILABLE", refused.value


def test_tls_1_1_is_refused_and_1_2_served(start_authd, ca: CertificateAuthority):
    server = start_authd(*tls_flags(ca.issue("authd", 1)))

    def handshake(version: ssl.TLSVersion) -> str:
        context = tls_context(str(ca.cert))
        # OpenSSL's own floor would refuse 1.1 before the server could: lower it.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = version
        with socket.create_connection((server.host, server.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server.host) as tls:
                return tls.version()

    assert handshake(ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    with pytest.raises(ssl.SSLError) as refused:
        handshake(ssl.TLSVersion.TLSv1_1)
    # The server's alert, not a local refusal to offer 1.1.
    assert "PROTOCOL_VERSION" in str(refused.value).upper() or "UNSUPPORTED_PROTOCOL" in str(refused.value).upper(), refused.value
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value).upper()


def test_sighup_reloads_the_certificate_for_new_connections_only(start_authd, ca: CertificateAuthority, tmp_path: Path):
    served = Issued(tmp_path / "served.pem", tmp_path / "served.key")

    def serve(issued: Issued) -> None:
        shutil.copyfile(issued.cert, served.cert)
        shutil.copyfile(issued.key, served.key)

    serve(ca.issue("authd", 1))
    server = start_authd(*tls_flags(served))
    context = tls_context(str(ca.cert))
    with server.client(tls=context) as old:
        assert old.peer_certificate()["serialNumber"] == "01"
        serve(ca.issue("authd", 2))
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "TLS certificate reloaded" in stderr_text(server), 30, "the reload's log line")
        assert "serial 02" in stderr_text(server)
        with server.client(tls=context) as new:
            assert new.peer_certificate()["serialNumber"] == "02"
            assert health(new) == health_pb2.HealthCheckResponse.SERVING
        # The connection made before the reload is the same one, and still served.
        assert health(old) == health_pb2.HealthCheckResponse.SERVING
        assert old.peer_certificate()["serialNumber"] == "01" and not old.closed

        # A file that cannot be used: the error is logged and the certificate stays.
        served.cert.write_text("not a certificate\n")
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "TLS reload failed" in stderr_text(server), 30, "the failed reload's log line")
        with server.client(tls=context) as after:
            assert after.peer_certificate()["serialNumber"] == "02"
    assert server.alive()


def test_plaintext_on_a_non_loopback_address_is_warned_about(authd_binary: Path, tmp_path: Path, ca):
    """0.0.0.0 for a moment, with port 0: only the log line is looked at, no traffic."""
    plain = AuthdServer(authd_binary, tmp_path, ["--host", "0.0.0.0", *CHEAP],
                        command=[str(authd_binary), "--host", "0.0.0.0", "--port", "0",
                                 "--database", str(tmp_path / "plain.sqlite"), *CHEAP])
    plain.start()
    try:
        assert re.search(r"warning .*listening in plaintext on .*not a loopback address", stderr_text(plain))
    finally:
        plain.stop()
    loopback = tmp_path / "loopback"
    loopback.mkdir()
    quiet = AuthdServer(authd_binary, loopback).start()
    try:
        assert "listening in plaintext" not in stderr_text(quiet)
    finally:
        quiet.stop()


def test_authctl_mailer_and_authbench_connect_over_tls(start_authd, ca: CertificateAuthority, tmp_path: Path):
    backends = CertificateAuthority(tmp_path, "backends")
    operator = backends.issue("operator", 3, "clientAuth")
    server = start_authd(*tls_flags(ca.issue("authd", 1), "--tls-client-ca-file", str(backends.cert),
                                    "--tls-client-auth", "required"))
    binaries = authd_binary_path().parent
    address = f"{server.host}:{server.port}"
    key_file = server.workdir / "authd.sqlite.admin-key"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHD_")}
    tls = ["--tls-ca", str(ca.cert), "--tls-cert", str(operator.cert), "--tls-key", str(operator.key)]

    def authctl(*args: str, extra_env=None) -> subprocess.CompletedProcess:
        return subprocess.run([str(binaries / "authctl"), *args], capture_output=True, text=True, timeout=60,
                              env={**env, **(extra_env or {})})

    # The common options before the command, after it, and from the environment.
    before = authctl("--address", address, "--key-file", str(key_file), *tls, "keys", "list", "--json")
    assert before.returncode == 0, before.stderr
    after = authctl("keys", "list", "--json", "--address", address, "--key-file", str(key_file), *tls)
    assert after.returncode == 0, after.stderr
    from_env = authctl("keys", "list", "--json", extra_env={
        "AUTHD_ADDRESS": address, "AUTHD_ADMIN_KEY_FILE": str(key_file), "AUTHD_TLS_CA": str(ca.cert),
        "AUTHD_TLS_CERT": str(operator.cert), "AUTHD_TLS_KEY": str(operator.key)})
    assert from_env.returncode == 0, from_env.stderr
    without_certificate = authctl("--address", address, "--key-file", str(key_file), "--tls-ca", str(ca.cert), "keys", "list")
    assert without_certificate.returncode != 0 and "UNAVAILABLE" in without_certificate.stderr

    # auth-mailer delivers a reset code to a file over TLS.
    context = tls_context(str(ca.cert), str(operator.cert), str(operator.key))
    with server.client(tls=context, api_key=key_file.read_text().strip()) as admin:
        mailer_key = admin.admin.create_api_key(admin_pb2.CreateApiKeyRequest(
            name="tls-mailer", scope=admin_pb2.KEY_SCOPE_MAILER)).secret
        email = f"tls-{uuid.uuid4().hex[:6]}@example.com"
        admin.auth.sign_up(auth_pb2.SignUpRequest(email=email, password="correct horse"))
        admin.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=email))
    out = tmp_path / "mail-out"
    log = open(tmp_path / "mailer.log", "wb")
    mailer = subprocess.Popen(
        [str(mailer_binary_path()), "--address", address, "--transport", "file", "--out-dir", str(out),
         "--poll-interval", "50ms", *tls],
        env={**env, "AUTH_MAILER_KEY": mailer_key}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_until(lambda: out.exists() and any(out.iterdir()), 30, "the mailer's .eml file")
        assert email in next(out.iterdir()).read_text()
    finally:
        mailer.send_signal(signal.SIGTERM)
        assert mailer.wait(timeout=30) == 0, (tmp_path / "mailer.log").read_text()
        log.close()

    bench = subprocess.run([str(binaries / "authbench"), "--host", server.host, "--port", str(server.port),
                            "--workload", "health", "--duration", "1", "--warmup", "0", "--connections", "1",
                            "--concurrency", "2", *tls], capture_output=True, text=True, timeout=60)
    assert bench.returncode == 0, bench.stderr
    calls = re.search(r"calls\s+(\d+) \((\d+) failed\)", bench.stdout)
    assert calls and int(calls.group(1)) > 0 and calls.group(2) == "0", bench.stdout
