"""Issue 10, items 1, 2, 4 and 5, against the real authd: memory bounded by
configuration (read from /proc/PID/status, compared with the worst-case
formula of docs/operations.md), decoding that cannot burn CPU, connection
caps, and logs that a flood of garbage cannot flood. The attacks run scaled
down (small budgets, few connections) so the file runs in seconds; the
full-size figures are in docs/security.md."""

from __future__ import annotations

import os
import re
import socket
import stat
import struct
import subprocess
import threading
import time
from typing import List

from abuse_load import MiB, login_flood, metadata_flood, park, proc_status_kib
from auth.v1 import auth_pb2, frame_pb2, health_pb2
from conftest import AuthdServer
from wire import HEALTH_CHECK, RawConn, encode, request_frame

F = frame_pb2
KiB = 1024

# The constants of the worst-case formula (docs/operations.md, "Memory bound").
COPIES = 2                  # k: a request in flight is held as its bytes and as its decoded message
READ_SLACK = 16 * KiB       # r: what one read may take past a budget
PER_CONNECTION = 8 * KiB    # c: a connection's own state (NIO channel, handlers, buffers)


def worst_case_rss(base: int, hashing: int, buffered: int, connections: int, frame_bytes: int) -> int:
    """RSS ≤ B + H + k·(G + N·r) + N·c + 2·cores·F, in bytes."""
    cores = os.cpu_count() or 1
    return (base + hashing + COPIES * (buffered + connections * READ_SLACK)
            + connections * PER_CONNECTION + 2 * cores * frame_bytes)


def rss(server: AuthdServer, field: str = "VmRSS") -> int:
    return proc_status_kib(server.proc.pid, field) * KiB


def stderr_lines(server: AuthdServer) -> List[str]:
    return (server.workdir / "stderr.log").read_text("utf-8", "replace").splitlines()


def wait_for_log(server: AuthdServer, pattern: str, timeout: float = 10.0) -> List[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in stderr_lines(server) if re.search(pattern, line)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def assert_health(host: str, port: int, source: str = "127.0.0.1") -> None:
    with RawConn(host, port, timeout=10, source=source) as conn:
        response = conn.health_check(1)
        assert response.status.code == F.OK, response


# Cheap hashing, so that the formula's H is small and the bound tight.
CHEAP_HASHING = ("--scrypt-log-n", "10", "--hashing-threads", "1")
HASHING_BYTES = 1 * 128 * 8 * 1024  # threads × 128·r·N·p


# 1. Memory is bounded by configuration, not by the attacker

def test_login_flood_of_huge_passwords_is_refused_before_hashing_in_bounded_memory(start_authd):
    buffered = 16 * MiB
    server = start_authd(*CHEAP_HASHING, "--max-buffered-bytes", str(buffered))
    base = rss(server)
    # Pipelined as fast as the server reads them: before, each was hashed and held
    # (1.66 GiB for 256 of 4 MB); the connection's budget lets about one in at a time.
    answers = login_flood(server.host, server.port, count=48, password_bytes=3 * MiB - 1024)
    assert len(answers) == 48
    for answer in answers:
        assert answer.kind == F.FRAME_KIND_RESPONSE, answer
        assert answer.status.code == F.INVALID_ARGUMENT, answer.status
        assert answer.status.message == "password must have at most 1024 characters"
        assert [v.field for v in answer.status.field_violations] == ["password"]
    peak = rss(server, "VmHWM")
    bound = worst_case_rss(base, HASHING_BYTES, buffered, connections=1, frame_bytes=3 * MiB)
    print(f"login: base {base / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB, bound {bound / MiB:.1f} MiB")
    assert peak <= bound, f"peak RSS {peak / MiB:.1f} MiB over the formula's {bound / MiB:.1f} MiB"
    assert server.alive()


def test_a_4_mb_login_is_over_the_default_frame_limit(authd):
    answers = login_flood(authd.host, authd.port, count=1, password_bytes=4_000_000)
    assert answers[0].kind == F.FRAME_KIND_GOAWAY
    assert answers[0].status.code == F.RESOURCE_EXHAUSTED
    assert "exceeds the limit of 3145728 bytes" in answers[0].status.message


def test_connections_parked_inside_frames_pause_reads_in_bounded_memory(start_authd):
    frame, buffered, connections = 1 * MiB, 8 * MiB, 100
    server = start_authd(*CHEAP_HASHING, "--max-frame-bytes", str(frame),
                         "--max-buffered-bytes-per-connection", str(frame + 64 * KiB),
                         "--max-buffered-bytes", str(buffered), "--max-connections-per-peer", "200")
    base = rss(server)
    socks = park(server.host, server.port, connections, frame)  # 100 MiB offered, none of it complete
    try:
        paused = wait_for_log(server, r"server-wide read budget of 8388608 bytes reached")
        assert paused, "the server never reached its read budget\n" + server.output_tail()
        # While the parked connections hold the budget, a connection holding nothing is served.
        assert_health(server.host, server.port)
        peak = rss(server, "VmHWM")
        bound = worst_case_rss(base, HASHING_BYTES, buffered, connections + 1, frame)
        print(f"parked: base {base / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB, bound {bound / MiB:.1f} MiB")
        assert peak <= bound, f"peak RSS {peak / MiB:.1f} MiB over the formula's {bound / MiB:.1f} MiB"
    finally:
        for sock in socks:
            sock.close()
    assert_health(server.host, server.port)


# 2. Decoding cannot be used to burn CPU

def test_metadata_floods_are_refused_and_do_not_stall_health_on_another_connection(start_authd):
    # A frame limit big enough for 2 000 000 entries (4 MB), so they reach the decoder.
    server = start_authd("--max-frame-bytes", str(8 * MiB), "--max-buffered-bytes-per-connection", str(8 * MiB + 4096))
    health = RawConn(server.host, server.port, timeout=30)
    flooding = threading.Event()
    during: List[float] = []
    failures: List[str] = []
    stop = threading.Event()

    def keep_checking() -> None:
        call_id = 0
        while not stop.is_set():
            call_id += 1
            try:
                response = health.health_check(call_id)
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(repr(exc))
                return
            if response.status.code != F.OK:
                failures.append(str(response.status))
            if flooding.is_set():
                during.append(time.monotonic())

    checker = threading.Thread(target=keep_checking, daemon=True)
    checker.start()
    flooding.set()
    results = metadata_flood(server.host, server.port, connections=16, entries=2_000_000)
    flooding.clear()
    stop.set()
    checker.join(30)
    health.close()
    assert not failures, failures
    assert during, "no Health call completed while the flood ran"
    for result in results:
        assert result is not None and result.kind == F.FRAME_KIND_GOAWAY, result
        assert result.status.code == F.INVALID_ARGUMENT, result.status
        assert "field metadata has more than 64 entries" in result.status.message


def test_metadata_flood_at_the_default_frame_limit_is_refused_by_its_length(authd):
    results = metadata_flood(authd.host, authd.port, connections=2, entries=2_000_000)
    for result in results:
        assert result is not None and result.status.code == F.RESOURCE_EXHAUSTED, result


def test_millions_of_repeated_strings_are_refused_at_the_decoder(start_authd):
    server = start_authd("--max-frame-bytes", str(8 * MiB), "--max-buffered-bytes-per-connection", str(8 * MiB + 4096))
    # UpdateProfile{token, remove_attributes: 2 000 000 × ""}: decoded before the token is looked at.
    payload = auth_pb2.UpdateProfileRequest(token="authd_st_x").SerializeToString() + b"\x1a\x00" * 2_000_000
    with RawConn(server.host, server.port, timeout=30) as conn:
        conn.send_frame(request_frame(1, "/auth.v1.Auth/UpdateProfile", payload))
        response = conn.read_response(1)
        assert response.status.code == F.INVALID_ARGUMENT, response.status
        assert [v.field for v in response.status.field_violations] == ["remove_attributes"]
        assert "more than 1024 elements" in response.status.message
        assert conn.health_check(2).status.code == F.OK  # the connection goes on


def test_a_password_with_nul_is_refused_naming_the_field(authd):
    with RawConn(authd.host, authd.port) as conn:
        request = auth_pb2.LoginRequest(email="nul@example.com", password="abcdef\x00XYZ")
        conn.send_frame(request_frame(1, "/auth.v1.Auth/Login", request))
        response = conn.read_response(1)
    assert response.status.code == F.INVALID_ARGUMENT, response.status
    assert [v.field for v in response.status.field_violations] == ["password"]
    assert "contains a NUL byte" in response.status.message


# 4. Connections

def test_connections_per_peer_address_are_capped_below_the_global_cap(start_authd):
    server = start_authd("--max-connections-per-peer", "3")
    held = [RawConn(server.host, server.port) for _ in range(3)]
    try:
        for conn in held:
            assert conn.health_check(1).status.code == F.OK
        with RawConn(server.host, server.port) as fourth:
            goaway = fourth.expect_goaway(F.RESOURCE_EXHAUSTED)
        assert goaway.status.message == "127.0.0.1 has 3 connections open (the limit per peer address)"
        assert_health(server.host, server.port, source="127.0.0.2")  # another peer is served
    finally:
        for conn in held:
            conn.close()


def test_a_frame_trickled_byte_by_byte_does_not_keep_a_connection_alive(start_authd):
    server = start_authd("--idle-timeout", "500ms")
    with RawConn(server.host, server.port, timeout=10) as conn:
        conn.send(struct.pack(">I", 1000))
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(0.1):
                try:
                    conn.send(b"\x00")
                except OSError:
                    return

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        try:
            goaway = conn.expect_goaway(F.UNAVAILABLE, timeout=10)
        finally:
            stop.set()
            trickler.join(2)
    assert "idle" in goaway.status.message


def test_idle_and_connection_defaults(authd_binary):
    help_text = subprocess.run([str(authd_binary), "--help"], capture_output=True, text=True, check=True).stdout
    assert "env AUTHD_IDLE_TIMEOUT · key idleTimeout · default 1m" in help_text, help_text
    assert "env AUTHD_MAX_CONNECTIONS_PER_PEER · key maxConnectionsPerPeer · default 64" in help_text
    assert "env AUTHD_MAX_FRAME_BYTES · key maxFrameBytes · default 3145728" in help_text


def test_failed_accepts_for_lack_of_descriptors_are_logged_and_recover(authd_binary, tmp_path):
    wrapper = tmp_path / "authd-64-files"
    wrapper.write_text(f'#!/bin/sh\nulimit -n 64\nexec "{authd_binary}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    server = AuthdServer(wrapper, tmp_path).start()
    socks: List[socket.socket] = []
    try:
        assert wait_for_log(server, r"the open-file limit \(64\) is below"), server.output_tail()
        first = RawConn(server.host, server.port)
        assert first.health_check(1).status.code == F.OK
        # More connections than descriptors: the kernel completes the handshakes, accept fails.
        for _ in range(80):
            socks.append(socket.create_connection((server.host, server.port), timeout=5,
                                                  source_address=(f"127.0.0.{len(socks) % 4 + 2}", 0)))
        logged = wait_for_log(server, r"cannot accept connections: out of file descriptors \(EMFILE")
        assert logged, server.output_tail()
        assert first.health_check(2).status.code == F.OK  # the server serves what it has
        last = socks[-1]
        for sock in socks[:-1]:
            sock.close()
        # Descriptors come free: the backoff retries and the waiting connection is served.
        last.settimeout(15)
        last.sendall(encode(request_frame(1, HEALTH_CHECK, health_pb2.HealthCheckRequest())))
        (length,) = struct.unpack(">I", last.recv(4, socket.MSG_WAITALL))
        answer = F.Frame.FromString(last.recv(length, socket.MSG_WAITALL))
        assert answer.kind == F.FRAME_KIND_RESPONSE and answer.status.code == F.OK, answer
        first.close()
    finally:
        for sock in socks:
            sock.close()
        server.stop()


# 5. Log volume

def test_malformed_frame_logs_are_rate_limited_with_a_count_of_the_rest(start_authd):
    server = start_authd()
    sent = 100
    for _ in range(sent):
        with RawConn(server.host, server.port) as conn:
            conn.send(b"\x00\x00\x00\x03\xff\xff\xff")
            conn.expect_goaway(F.INVALID_ARGUMENT)

    def tally() -> tuple[int, int]:
        lines = stderr_lines(server)
        logged = sum("closing connection: frame is not a valid auth.v1.Frame" in line for line in lines)
        suppressed = sum(int(m.group(1)) for line in lines
                         if "about=127.0.0.1" in line and (m := re.search(r"suppressed (\d+) similar log lines", line)))
        return logged, suppressed

    deadline = time.monotonic() + 10
    logged, suppressed = tally()
    while logged + suppressed < sent and time.monotonic() < deadline:
        time.sleep(0.1)  # counts are reported once their second is over
        logged, suppressed = tally()
    assert logged + suppressed == sent, (logged, suppressed)
    assert suppressed > 0 and logged < sent / 2, (logged, suppressed)
