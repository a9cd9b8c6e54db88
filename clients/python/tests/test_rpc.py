"""Calls through the Python client against a real authd: statuses, strict
decoding, multiplexing, metadata, deadlines and cancellation."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from auth.v1 import auth_pb2, frame_pb2, health_pb2
from authd import Client, RpcError, StatusCode
from wire import HEALTH_CHECK, RawConn, request_frame

SERVING = health_pb2.HealthCheckResponse.SERVING
LOGIN = "/auth.v1.Auth/Login"


def unknown_login(i: int = 0) -> auth_pb2.LoginRequest:
    """A login that fails slowly: the server hashes the password even for an
    unknown email, so the call stays in flight for a while (a hash time)."""
    return auth_pb2.LoginRequest(email=f"nobody-{uuid.uuid4().hex[:12]}-{i}@example.com",
                                 password="not the password")


def throttle_free_metadata(i: int = 0) -> dict:
    # A distinct end-user address per call, so per-address throttles stay quiet.
    return {"x-client-address": f"192.0.2.{(i % 250) + 1}"}


# 1. Health

def test_health_check_whole_server(client: Client):
    reply = client.health.check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == SERVING


def test_health_check_health_service_itself(client: Client):
    assert client.health.check(service="auth.v1.Health").status == SERVING


def test_health_check_unknown_service_is_not_found(client: Client):
    with pytest.raises(RpcError) as info:
        client.health.check(service="auth.v1.NoSuchService")
    assert info.value.code == StatusCode.NOT_FOUND == 5
    assert info.value.message
    assert not info.value.connection_closed
    assert client.health.check(service="").status == SERVING


# 2. Unknown method

def test_unknown_method_is_unimplemented_and_connection_survives(client: Client):
    with pytest.raises(RpcError) as info:
        client.call("/auth.v1.Nope/Nothing", health_pb2.HealthCheckRequest(),
                    health_pb2.HealthCheckResponse)
    assert info.value.code == StatusCode.UNIMPLEMENTED == 12
    assert not client.closed
    assert client.health.check(service="").status == SERVING


@pytest.mark.parametrize("method", ["/auth.v1.Health/Watch", "/auth.v1.Health/check", "auth.v1.Health/Check",
                                    "/auth.v1.Auth/Check"])
def test_malformed_or_unknown_method_names_are_unimplemented(client: Client, method: str):
    with pytest.raises(RpcError) as info:
        client.call(method, health_pb2.HealthCheckRequest(), health_pb2.HealthCheckResponse)
    assert info.value.code == StatusCode.UNIMPLEMENTED
    assert client.health.check(service="").status == SERVING


# 3. Payloads of the wrong type: strict decoding

WRONG_PAYLOADS = {
    # Not protobuf at all: a varint that never ends.
    "garbage": b"\xff" * 24,
    # Field 1 says 16 bytes follow, 3 do.
    "truncated": b"\x0a\x10abc",
    # A different message: fields 2 and 3 are unknown to HealthCheckRequest.
    "other-message": auth_pb2.SignUpRequest(password="secret1", attributes={"a": "b"}).SerializeToString(),
    # A valid field 1 followed by an unknown field 9 (varint).
    "unknown-field": health_pb2.HealthCheckRequest(service="").SerializeToString() + b"\x48\x01",
}


@pytest.mark.parametrize("name", sorted(WRONG_PAYLOADS))
def test_wrong_payload_is_invalid_argument_and_connection_survives(authd, name: str):
    with RawConn(authd.host, authd.port) as conn:
        conn.send_frame(request_frame(1, HEALTH_CHECK, WRONG_PAYLOADS[name]))
        response = conn.read_response(1)
        assert response.status.code == frame_pb2.INVALID_ARGUMENT, response
        assert "HealthCheckRequest" in response.status.message, response.status.message
        assert response.payload == b""
        ok = conn.health_check(2)
        assert ok.status.code == frame_pb2.OK
        assert health_pb2.HealthCheckResponse.FromString(ok.payload).status == SERVING


def test_wrong_message_type_through_the_client(client: Client):
    with pytest.raises(RpcError) as info:
        client.call(HEALTH_CHECK, auth_pb2.LoginRequest(email="a@example.com", password="x"),
                    health_pb2.HealthCheckResponse)
    assert info.value.code == StatusCode.INVALID_ARGUMENT
    assert client.health.check(service="").status == SERVING


# 4. Multiplexing

def test_200_concurrent_calls_from_8_threads(client: Client):
    # Even calls ask for the whole server (SERVING), odd ones for an unknown
    # service (NOT_FOUND): a response routed to the wrong caller shows.
    def worker(t: int):
        futures = []
        for k in range(25):
            i = t * 25 + k
            service = "" if i % 2 == 0 else f"auth.v1.Unknown{i}"
            futures.append((i, client.health.check.future(service=service, timeout=30)))
        results = []
        for i, future in futures:
            try:
                results.append((i, future.result().status))
            except RpcError as err:
                results.append((i, err.code))
        return results

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for chunk in pool.map(worker, range(8)) for r in chunk]
    assert len(results) == 200
    for i, outcome in results:
        if i % 2 == 0:
            assert outcome == SERVING, (i, outcome)
        else:
            assert outcome == StatusCode.NOT_FOUND, (i, outcome)
    assert client.in_flight == 0
    assert client.health.check(service="").status == SERVING


def test_blocking_calls_from_8_threads_share_one_connection(client: Client):
    def worker(_: int) -> int:
        return sum(client.health.check(service="").status == SERVING for _ in range(25))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(worker, range(8))) == 200


def test_responses_come_back_out_of_order(authd):
    # A slow call (a login hashes a password), then a fast one: the fast
    # answer does not wait for the slow one.
    with RawConn(authd.host, authd.port, timeout=30) as conn:
        conn.send_frame(request_frame(1, LOGIN, unknown_login(), throttle_free_metadata(1)))
        conn.send_frame(request_frame(2, HEALTH_CHECK, health_pb2.HealthCheckRequest()))
        first = conn.read_frame(30)
        second = conn.read_frame(30)
        assert {first.call_id, second.call_id} == {1, 2}
        assert first.call_id == 2, "the health check waited for the login"
        assert first.status.code == frame_pb2.OK
        assert second.status.code not in (frame_pb2.OK, frame_pb2.INVALID_ARGUMENT, frame_pb2.UNIMPLEMENTED)


# 9. x-request-id

def test_request_id_is_echoed(client: Client):
    reply, metadata = client.health.check.with_metadata(
        service="", metadata={"x-request-id": "py-test-0001"})
    assert reply.status == SERVING
    assert metadata.get("x-request-id") == "py-test-0001"


def test_request_id_is_echoed_on_errors(client: Client):
    with pytest.raises(RpcError) as info:
        client.health.check(service="auth.v1.Nope", metadata={"x-request-id": "py-test-0002"})
    assert info.value.metadata.get("x-request-id") == "py-test-0002"


def test_request_id_is_generated_when_absent(client: Client):
    _, first = client.health.check.with_metadata(service="")
    _, second = client.health.check.with_metadata(service="")
    assert first.get("x-request-id")
    assert second.get("x-request-id")
    assert first["x-request-id"] != second["x-request-id"]


def test_request_id_on_the_wire(authd):
    with RawConn(authd.host, authd.port) as conn:
        conn.send_frame(request_frame(5, HEALTH_CHECK, health_pb2.HealthCheckRequest(),
                                      metadata={"x-request-id": "raw-req-5"}))
        response = conn.read_response(5)
        assert response.kind == frame_pb2.FRAME_KIND_RESPONSE
        assert response.HasField("status") and response.status.code == frame_pb2.OK
        assert response.metadata["x-request-id"] == "raw-req-5"


# Deadlines and cancellation

def test_server_side_deadline_exceeded(authd):
    # timeout_ms = 1 on a call that hashes a password: the server answers
    # DEADLINE_EXCEEDED itself (the raw connection has no client-side timer).
    with RawConn(authd.host, authd.port, timeout=30) as conn:
        conn.send_frame(request_frame(1, LOGIN, unknown_login(), throttle_free_metadata(2), timeout_ms=1))
        response = conn.read_response(1, timeout=30)
        assert response.status.code == frame_pb2.DEADLINE_EXCEEDED, response
        assert conn.health_check(2).status.code == frame_pb2.OK


def test_client_side_timeout_raises_deadline_exceeded_and_connection_survives(client: Client):
    started = time.monotonic()
    with pytest.raises(RpcError) as info:
        client.auth.login(unknown_login(), timeout=0.005, metadata=throttle_free_metadata(3))
    assert info.value.code == StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2.0
    assert client.in_flight == 0
    assert client.health.check(service="").status == SERVING


def test_cancel_stops_the_call(authd):
    with RawConn(authd.host, authd.port, timeout=10) as conn:
        conn.send_frame(request_frame(1, LOGIN, unknown_login(), throttle_free_metadata(4)))
        conn.send_frame(frame_pb2.Frame(kind=frame_pb2.FRAME_KIND_CANCEL, call_id=1))
        ok = conn.health_check(2)
        assert ok.status.code == frame_pb2.OK
        # No answer for the cancelled call (a login hash takes far longer than
        # the CANCEL took to arrive).
        with pytest.raises(socket.timeout):
            frame = conn.read_frame(timeout=1.5)
            pytest.fail(f"got a frame for a cancelled call: {frame}")
        assert conn.health_check(3).status.code == frame_pb2.OK


def test_cancel_of_an_unknown_call_id_is_ignored(authd):
    with RawConn(authd.host, authd.port) as conn:
        conn.send_frame(frame_pb2.Frame(kind=frame_pb2.FRAME_KIND_CANCEL, call_id=12345))
        assert conn.health_check(1).status.code == frame_pb2.OK


def test_client_cancel_via_future(client: Client):
    future = client.auth.login.future(unknown_login(), metadata=throttle_free_metadata(5))
    if not future.cancel():  # only if the answer already came (it should not: a login hashes)
        assert future.done()
    assert future.done()
    assert client.in_flight == 0
    assert client.health.check(service="").status == SERVING


# Metadata and api keys

def test_calls_after_close_fail_fast(authd):
    c = authd.client()
    assert c.health.check(service="").status == SERVING
    c.close()
    with pytest.raises(RpcError) as info:
        c.health.check(service="")
    assert info.value.connection_closed
    assert info.value.code == StatusCode.CANCELLED


def test_many_threads_and_a_close_leave_nobody_hanging(authd):
    c = authd.client(default_timeout=30)
    errors: list = []
    done = threading.Event()

    def worker():
        while not done.is_set():
            try:
                c.health.check(service="")
            except RpcError as err:
                errors.append(err)
                return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    c.close()
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive(), "a caller hung after close()"
    done.set()
    assert all(e.connection_closed for e in errors)
