"""Tests that need no server: stubs, framing, errors, the documented example."""

from __future__ import annotations

import socket

import pytest

from auth.v1 import admin_pb2, auth_pb2, frame_pb2, health_pb2, mail_pb2
from authd import RpcError, StatusCode, all_services, encode_frame, read_frame, snake_case
from authd.framing import FrameError

# The worked example of docs/protocol.md ("Framing, byte by byte").
DOC_EXAMPLE_REQUEST_HEX = (
    "00000047080110011a152f617574682e76312e4865616c74682f436865636b22100a0e"
    "617574682e76312e4865616c746832150a0c782d726571756573742d696412057265712d3138e807"
)
DOC_EXAMPLE_RESPONSE_HEX = (
    "0000002108021001220208012a0032150a0c782d726571756573742d696412057265712d31"
)


def test_snake_case():
    assert snake_case("Check") == "check"
    assert snake_case("GetMe") == "get_me"
    assert snake_case("CreateApiKey") == "create_api_key"
    assert snake_case("LeaseMessages") == "lease_messages"
    assert snake_case("HTTPThing") == "http_thing"


def test_every_rpc_of_every_service_has_a_stub():
    services = all_services()
    assert set(services) == {"health", "auth", "admin", "mail"}
    for module in (health_pb2, auth_pb2, admin_pb2, mail_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            _, methods = services[snake_case(service.name)]
            assert [m.name for m in methods] == [m.name for m in service.methods]
            for info, method in zip(methods, service.methods):
                assert info.path == f"/auth.v1.{service.name}/{method.name}"
                assert info.request_type.DESCRIPTOR is method.input_type
                assert info.response_type.DESCRIPTOR is method.output_type


def test_stub_types():
    services = all_services()
    (_, auth) = services["auth"]
    login = next(m for m in auth if m.python_name == "login")
    assert login.path == "/auth.v1.Auth/Login"
    assert login.request_type is auth_pb2.LoginRequest
    assert login.response_type is auth_pb2.LoginResponse
    (_, admin) = services["admin"]
    delete_user = next(m for m in admin if m.python_name == "delete_user")
    assert delete_user.request_type is admin_pb2.UserIdRequest
    assert delete_user.response_type.DESCRIPTOR.full_name == "auth.v1.Empty"


def test_documented_example_request_bytes():
    frame = frame_pb2.Frame(
        kind=frame_pb2.FRAME_KIND_REQUEST,
        call_id=1,
        method="/auth.v1.Health/Check",
        payload=health_pb2.HealthCheckRequest(service="auth.v1.Health").SerializeToString(),
        metadata={"x-request-id": "req-1"},
        timeout_ms=1000,
    )
    assert encode_frame(frame).hex() == DOC_EXAMPLE_REQUEST_HEX


def test_documented_example_response_bytes_decode():
    data = bytes.fromhex(DOC_EXAMPLE_RESPONSE_HEX)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(data)
        a.shutdown(socket.SHUT_WR)
        frame = read_frame(b)
        assert read_frame(b) is None  # clean EOF at a frame boundary
    assert frame.kind == frame_pb2.FRAME_KIND_RESPONSE
    assert frame.call_id == 1
    assert frame.HasField("status") and frame.status.code == 0
    assert dict(frame.metadata) == {"x-request-id": "req-1"}
    reply = health_pb2.HealthCheckResponse.FromString(frame.payload)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("data, what", [
    (b"\x00\x00\x00\x10\x08", "inside a frame"),
    (b"\x00\x00", "inside a frame header"),
    (b"\x00\x00\x00\x04\xff\xff\xff\xff", "not an auth.v1.Frame"),
    (b"\x00\x00\x10\x00", "over the limit"),
])
def test_read_frame_errors(data, what):
    a, b = socket.socketpair()
    with a, b:
        a.sendall(data)
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(FrameError, match=what):
            read_frame(b, max_frame_bytes=1024)


def test_rpc_error_from_status():
    status = frame_pb2.Status(
        code=frame_pb2.INVALID_ARGUMENT,
        message="SignUpRequest.email: not an email address",
        field_violations=[frame_pb2.FieldViolation(field="email", description="not an email address")],
    )
    err = RpcError.from_status(status, metadata={"x-request-id": "r"}, method="/auth.v1.Auth/SignUp")
    assert err.code == 3 == StatusCode.INVALID_ARGUMENT
    assert err.code_name == "INVALID_ARGUMENT"
    assert err.field_violations == [("email", "not an email address")]
    assert err.retry_after_ms == 0
    assert err.metadata == {"x-request-id": "r"}
    assert "INVALID_ARGUMENT (3)" in str(err) and "email" in str(err)
    assert RpcError(99).code_name == "CODE_99"


def test_status_codes_are_grpcs():
    expected = {
        "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
        "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
        "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
        "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
    }
    assert {c.name: c.value for c in StatusCode} == expected


def test_connect_failure_is_unavailable():
    from authd import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connect is refused
        with pytest.raises(RpcError) as info:
            Client("127.0.0.1", port, connect_timeout=2)
    assert info.value.code == StatusCode.UNAVAILABLE
    assert info.value.connection_closed
