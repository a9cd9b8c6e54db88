"""Connection-level behaviour against a real authd, with frames written by
hand: malformed frames, protocol violations, limits, idle timeout, graceful
shutdown. After every bad connection the server must keep serving others."""

from __future__ import annotations

import socket
import struct
import time
import uuid

import pytest

from auth.v1 import auth_pb2, frame_pb2, health_pb2
from authd import RpcError, StatusCode
from wire import HEALTH_CHECK, Closed, RawConn, encode, request_frame

F = frame_pb2
LOGIN = "/auth.v1.Auth/Login"


def assert_serving(server) -> None:
    """A NEW connection's health check works."""
    with RawConn(server.host, server.port) as conn:
        response = conn.health_check(1)
        assert response.status.code == F.OK, response
        assert health_pb2.HealthCheckResponse.FromString(response.payload).status == \
            health_pb2.HealthCheckResponse.SERVING
    assert server.alive(), f"authd died\n{server.output_tail()}"


def slow_login_frame(call_id: int, i: int = 0) -> F.Frame:
    request = auth_pb2.LoginRequest(email=f"nobody-{uuid.uuid4().hex[:12]}@example.com", password="wrong password")
    return request_frame(call_id, LOGIN, request, {"x-client-address": f"198.51.100.{(i % 250) + 1}"})


def padded_health_frame(body_size: int, call_id: int = 1) -> F.Frame:
    """A valid health check request whose encoding is exactly body_size bytes
    (padded with an extra metadata entry, which the server ignores)."""
    base = request_frame(call_id, HEALTH_CHECK, health_pb2.HealthCheckRequest())
    pad = 0
    while True:
        frame = F.Frame()
        frame.CopyFrom(base)
        frame.metadata["x-padding"] = "p" * pad
        size = frame.ByteSize()
        if size == body_size:
            return frame
        if size > body_size:
            raise ValueError(f"cannot pad to {body_size}")
        pad += 1


# 5a. Frames over the size limit

def test_length_over_default_limit_gets_goaway_resource_exhausted(authd):
    with RawConn(authd.host, authd.port) as conn:
        conn.send(struct.pack(">I", 0xFFFFFFFF))
        conn.expect_goaway(F.RESOURCE_EXHAUSTED)
    assert_serving(authd)


def test_length_just_over_default_limit(authd):
    with RawConn(authd.host, authd.port) as conn:
        conn.send(struct.pack(">I", 3 * 1024 * 1024 + 1))
        conn.expect_goaway(F.RESOURCE_EXHAUSTED)
    assert_serving(authd)


@pytest.fixture
def small_frames(start_authd):
    return start_authd("--max-frame-bytes", "1024")


def test_header_over_configured_limit(small_frames):
    with RawConn(small_frames.host, small_frames.port) as conn:
        conn.send(struct.pack(">I", 2000))  # the body is never sent: the server must not wait for it
        conn.expect_goaway(F.RESOURCE_EXHAUSTED)
    assert_serving(small_frames)


def test_whole_frame_over_configured_limit(small_frames):
    frame = padded_health_frame(2000)
    with RawConn(small_frames.host, small_frames.port) as conn:
        conn.send(encode(frame))
        conn.expect_goaway(F.RESOURCE_EXHAUSTED)
    assert_serving(small_frames)


def test_frame_exactly_at_configured_limit_is_served(small_frames):
    frame = padded_health_frame(1024, call_id=9)
    with RawConn(small_frames.host, small_frames.port) as conn:
        conn.send(encode(frame))
        response = conn.read_response(9)
        assert response.status.code == F.OK, response
        ok = conn.health_check(10)  # and the connection goes on
        assert ok.status.code == F.OK


def test_client_refuses_to_send_an_oversized_frame(small_frames):
    with small_frames.client(max_frame_bytes=1024) as c:
        with pytest.raises(RpcError) as info:
            c.health.check(service="x" * 2000)
        assert info.value.code == StatusCode.RESOURCE_EXHAUSTED
        assert not info.value.connection_closed
        assert c.health.check(service="").status == health_pb2.HealthCheckResponse.SERVING


# 5b. Bytes that are not a Frame

GARBAGE = {
    "overlong-varint": b"\xff" * 16,
    "truncated-field": b"\x22\x10abc",  # field 4 (payload) says 16 bytes, 3 follow
    "text": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_frame_gets_goaway_invalid_argument(authd, name):
    body = GARBAGE[name]
    with pytest.raises(Exception):
        F.Frame.FromString(body)  # the test's premise: no protobuf decoder accepts this
    with RawConn(authd.host, authd.port) as conn:
        conn.send(struct.pack(">I", len(body)) + body)
        conn.expect_goaway(F.INVALID_ARGUMENT)
    assert_serving(authd)


def test_http_request_instead_of_frames(authd):
    # "GET " read as a length is 0x47455420 (about 1.2 GB): over the limit.
    with RawConn(authd.host, authd.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        conn.expect_goaway(F.RESOURCE_EXHAUSTED)
    assert_serving(authd)


# 5c. Truncated frames

def test_truncated_frame_then_eof_just_closes(authd):
    with RawConn(authd.host, authd.port) as conn:
        conn.send(struct.pack(">I", 100) + b"\x08\x01" + b"\x00" * 8)  # 10 of 100 bytes
        conn.sock.shutdown(socket.SHUT_WR)
        conn.expect_closed(allow_goaway=True)
    assert_serving(authd)


def test_truncated_header_then_eof_just_closes(authd):
    with RawConn(authd.host, authd.port) as conn:
        conn.send(b"\x00\x00")
        conn.sock.shutdown(socket.SHUT_WR)
        conn.expect_closed(allow_goaway=True)
    assert_serving(authd)


def test_eof_at_a_frame_boundary_after_calls(authd):
    with RawConn(authd.host, authd.port) as conn:
        assert conn.health_check(1).status.code == F.OK
        conn.sock.shutdown(socket.SHUT_WR)
        conn.expect_closed(allow_goaway=True)
    assert_serving(authd)


def test_abrupt_close_with_a_call_in_flight(authd):
    conn = RawConn(authd.host, authd.port)
    conn.send_frame(slow_login_frame(1))
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # RST while the server works on the call
    time.sleep(0.5)
    assert_serving(authd)


# 6. Protocol violations

def test_request_with_call_id_zero_gets_goaway(authd):
    with RawConn(authd.host, authd.port) as conn:
        conn.send_frame(request_frame(0, HEALTH_CHECK, health_pb2.HealthCheckRequest()))
        conn.expect_goaway(F.INVALID_ARGUMENT)
    assert_serving(authd)


def test_duplicate_call_id_in_flight_gets_goaway(authd):
    # Both frames in one write: the server reads the second before it can
    # have answered the first, so id 1 is still in flight. A Login (it hashes
    # a password in a task), not Health, which is answered at once on the
    # event loop and so is never in flight when the next frame is read.
    frame = request_frame(1, LOGIN, auth_pb2.LoginRequest(email="nobody@example.com", password="wrong horse"))
    with RawConn(authd.host, authd.port) as conn:
        conn.send(encode(frame) + encode(frame))
        first = conn.read_frame()
        if first.kind == F.FRAME_KIND_RESPONSE:  # the first call may be answered before the GOAWAY
            assert first.call_id == 1
            conn.expect_goaway(F.INVALID_ARGUMENT)
        else:
            assert first.kind == F.FRAME_KIND_GOAWAY and first.status.code == F.INVALID_ARGUMENT, first
            conn.expect_closed()
    assert_serving(authd)


def test_unknown_field_in_the_envelope_gets_goaway(authd):
    body = request_frame(1, HEALTH_CHECK, health_pb2.HealthCheckRequest()).SerializeToString()
    body += b"\x78\x01"  # field 15, varint 1: not a field of auth.v1.Frame
    with RawConn(authd.host, authd.port) as conn:
        conn.send(struct.pack(">I", len(body)) + body)
        conn.expect_goaway(F.INVALID_ARGUMENT)
    assert_serving(authd)


@pytest.mark.parametrize("kind", [F.FRAME_KIND_UNSPECIFIED, F.FRAME_KIND_RESPONSE, F.FRAME_KIND_GOAWAY, 99])
def test_client_may_only_send_request_and_cancel(authd, kind):
    frame = F.Frame(kind=kind, call_id=1, method=HEALTH_CHECK,
                    payload=health_pb2.HealthCheckRequest().SerializeToString())
    with RawConn(authd.host, authd.port) as conn:
        conn.send_frame(frame)
        conn.expect_goaway(F.INVALID_ARGUMENT)
    assert_serving(authd)


def test_empty_frame_is_a_violation(authd):
    # N = 0 decodes as a Frame with every field at its default: kind UNSPECIFIED.
    with RawConn(authd.host, authd.port) as conn:
        conn.send(b"\x00\x00\x00\x00")
        conn.expect_goaway(F.INVALID_ARGUMENT)
    assert_serving(authd)


def test_violation_on_one_connection_leaves_others_alone(authd):
    with authd.client() as good:
        assert good.health.check(service="").status == health_pb2.HealthCheckResponse.SERVING
        with RawConn(authd.host, authd.port) as bad:
            bad.send(b"\x00\x00\x00\x04\xff\xff\xff\xff")
            bad.expect_goaway(F.INVALID_ARGUMENT)
        assert good.health.check(service="").status == health_pb2.HealthCheckResponse.SERVING


def test_calls_answered_before_a_violation_still_arrive(authd):
    with RawConn(authd.host, authd.port) as conn:
        assert conn.health_check(1).status.code == F.OK
        conn.send_frame(request_frame(0, HEALTH_CHECK, health_pb2.HealthCheckRequest()))
        conn.expect_goaway(F.INVALID_ARGUMENT)


# 7. Idle timeout

def test_idle_connection_gets_goaway_unavailable(start_authd):
    server = start_authd("--idle-timeout", "300ms")
    with RawConn(server.host, server.port) as conn:
        started = time.monotonic()
        conn.expect_goaway(F.UNAVAILABLE, timeout=3.0)
        elapsed = time.monotonic() - started
    assert 0.2 <= elapsed <= 2.0, f"closed after {elapsed:.3f} s with an idle timeout of 0.3 s"
    assert_serving(server)


def test_idle_timeout_counts_from_the_last_frame(start_authd):
    server = start_authd("--idle-timeout", "300ms")
    with RawConn(server.host, server.port) as conn:
        # Keep talking every 100 ms for well over the idle timeout.
        for i in range(12):
            assert conn.health_check(i + 1).status.code == F.OK
            time.sleep(0.1)
        started = time.monotonic()
        conn.expect_goaway(F.UNAVAILABLE, timeout=3.0)
        assert time.monotonic() - started >= 0.15


def test_client_sees_idle_goaway(start_authd):
    server = start_authd("--idle-timeout", "300ms")
    c = server.client()
    try:
        deadline = time.monotonic() + 3
        while not c.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.closed, "the client did not notice the GOAWAY"
        assert c.goaway is not None and c.goaway.code == F.UNAVAILABLE
        with pytest.raises(RpcError) as info:
            c.health.check(service="")
        assert info.value.code == StatusCode.UNAVAILABLE
        assert info.value.connection_closed
    finally:
        c.close()


# 8. Connection limit

def test_max_connections(start_authd):
    server = start_authd("--max-connections", "2")
    first = RawConn(server.host, server.port)
    second = RawConn(server.host, server.port)
    try:
        assert first.health_check(1).status.code == F.OK
        assert second.health_check(1).status.code == F.OK
        with RawConn(server.host, server.port) as third:
            third.expect_goaway(F.RESOURCE_EXHAUSTED)
        first.close()
        # The server notices the close asynchronously: retry briefly.
        deadline = time.monotonic() + 5
        while True:
            with RawConn(server.host, server.port) as fourth:
                fourth.send_frame(request_frame(1, HEALTH_CHECK, health_pb2.HealthCheckRequest()))
                try:
                    frame = fourth.read_frame()
                except Closed:
                    frame = None
                if frame is not None and frame.kind == F.FRAME_KIND_RESPONSE:
                    assert frame.call_id == 1 and frame.status.code == F.OK, frame
                    break
                if frame is not None:
                    assert frame.kind == F.FRAME_KIND_GOAWAY and frame.status.code == F.RESOURCE_EXHAUSTED, frame
            assert time.monotonic() < deadline, "a slot never came free after closing a connection"
            time.sleep(0.05)
        assert second.health_check(2).status.code == F.OK
    finally:
        first.close()
        second.close()


def test_client_over_the_connection_limit_gets_resource_exhausted(start_authd):
    server = start_authd("--max-connections", "1")
    with server.client() as holder:
        assert holder.health.check(service="").status == health_pb2.HealthCheckResponse.SERVING
        extra = server.client()
        try:
            deadline = time.monotonic() + 5
            while not extra.closed and time.monotonic() < deadline:
                time.sleep(0.02)
            with pytest.raises(RpcError) as info:
                extra.health.check(service="")
            assert info.value.code == StatusCode.RESOURCE_EXHAUSTED
            assert info.value.connection_closed
        finally:
            extra.close()
        assert holder.health.check(service="").status == health_pb2.HealthCheckResponse.SERVING


# Calls in flight limit (per call, not per connection)

def test_max_in_flight(start_authd):
    server = start_authd("--max-in-flight", "4")
    with RawConn(server.host, server.port, timeout=60) as conn:
        # Twelve password-hashing calls in one write: four can be in flight,
        # the rest arrive while those are still hashing.
        conn.send(b"".join(encode(slow_login_frame(i + 1, i)) for i in range(12)))
        codes = {}
        while len(codes) < 12:
            frame = conn.read_frame(60)
            assert frame.kind == F.FRAME_KIND_RESPONSE, frame
            codes[frame.call_id] = frame.status
        exhausted = [s for s in codes.values() if s.code == F.RESOURCE_EXHAUSTED]
        assert exhausted, "no call was refused with 12 in flight and a limit of 4"
        assert len(exhausted) <= 8
        assert all(s.message for s in exhausted)
        assert conn.health_check(100).status.code == F.OK  # the connection stays open


# Graceful shutdown

def test_sigterm_finishes_calls_then_goaway_unavailable(start_authd):
    server = start_authd()
    idle = RawConn(server.host, server.port, timeout=20)
    busy = RawConn(server.host, server.port, timeout=20)
    try:
        assert idle.health_check(1).status.code == F.OK
        busy.send_frame(slow_login_frame(1))
        # Frames are read in order: once call 2 is answered, call 1 was read
        # and is in flight (or already answered).
        busy.send_frame(request_frame(2, HEALTH_CHECK, health_pb2.HealthCheckRequest()))
        frames = [busy.read_frame()]
        while frames[-1].call_id != 2:
            frames.append(busy.read_frame())
        server.terminate()

        while not any(f.call_id == 1 for f in frames):
            frames.append(busy.read_frame(20))
        login = next(f for f in frames if f.call_id == 1)
        assert login.kind == F.FRAME_KIND_RESPONSE
        assert login.status.code not in (F.CANCELLED, F.UNAVAILABLE, F.DEADLINE_EXCEEDED), login
        busy.expect_goaway(F.UNAVAILABLE, timeout=20)
        idle.expect_goaway(F.UNAVAILABLE, timeout=20)
    finally:
        idle.close()
        busy.close()
    status = server.wait(20)
    assert status == 0, f"authd exited with status {status} after SIGTERM\n{server.output_tail()}"
    with pytest.raises(OSError):
        RawConn(server.host, server.port, timeout=2).close()
