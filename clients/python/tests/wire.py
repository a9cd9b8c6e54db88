"""Raw-socket helpers for tests that write frames (or non-frames) by hand."""

from __future__ import annotations

import socket
import struct
import time
from typing import Dict, Optional, Union

from google.protobuf.message import Message

from auth.v1 import frame_pb2, health_pb2

F = frame_pb2
HEALTH_CHECK = "/auth.v1.Health/Check"
GOAWAY_TIMEOUT_S = 5.0


def encode(frame: frame_pb2.Frame) -> bytes:
    body = frame.SerializeToString()
    return struct.pack(">I", len(body)) + body


def request_frame(call_id: int, method: str, payload: Union[Message, bytes],
                  metadata: Optional[Dict[str, str]] = None, timeout_ms: int = 0) -> frame_pb2.Frame:
    if isinstance(payload, Message):
        payload = payload.SerializeToString()
    return F.Frame(kind=F.FRAME_KIND_REQUEST, call_id=call_id, method=method, payload=payload,
                   metadata=metadata or {}, timeout_ms=timeout_ms)


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class RawConn:
    """A plain TCP connection; every read is bounded by a timeout."""

    def __init__(self, host: str, port: int, timeout: float = 5.0, source: Optional[str] = None):
        """`source` binds the local address: 127.0.0.2 is another peer on loopback."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, frame: frame_pb2.Frame) -> None:
        self.send(encode(frame))

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout(f"timed out with {len(buf)} of {n} bytes read")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(n - len(buf))
            except (ConnectionResetError, ConnectionAbortedError) as exc:
                raise Closed(f"connection reset after {len(buf)} of {n} bytes: {exc}") from exc
            if not chunk:
                raise Closed(f"EOF after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def read_frame(self, timeout: Optional[float] = None) -> frame_pb2.Frame:
        """The next frame. Raises Closed on EOF/reset and socket.timeout when
        nothing arrives in time."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        (length,) = struct.unpack(">I", self._recv_exact(4, deadline))
        assert length <= 64 * 1024 * 1024, f"server sent a frame header of {length} bytes"
        return F.Frame.FromString(self._recv_exact(length, deadline))

    def read_response(self, call_id: int, timeout: Optional[float] = None) -> frame_pb2.Frame:
        """Read frames until the RESPONSE for call_id (other responses are skipped)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self.read_frame(max(0.0, deadline - time.monotonic()))
            assert frame.kind != F.FRAME_KIND_GOAWAY, f"unexpected GOAWAY: {frame}"
            if frame.kind == F.FRAME_KIND_RESPONSE and frame.call_id == call_id:
                return frame

    def expect_goaway(self, code: int, timeout: float = GOAWAY_TIMEOUT_S) -> frame_pb2.Frame:
        """The next frame is a GOAWAY with `code`, and the server then closes."""
        try:
            frame = self.read_frame(timeout)
        except Closed as exc:
            raise AssertionError(f"connection closed without a GOAWAY ({exc})") from None
        except socket.timeout:
            raise AssertionError(f"no GOAWAY within {timeout} s") from None
        assert frame.kind == F.FRAME_KIND_GOAWAY, f"expected GOAWAY, got {frame}"
        assert frame.call_id == 0, f"GOAWAY with call_id {frame.call_id}"
        assert frame.HasField("status"), "GOAWAY without a status"
        assert frame.status.code == code, (
            f"GOAWAY code {F.Code.Name(frame.status.code)}, expected {F.Code.Name(code)}: "
            f"{frame.status.message!r}")
        assert frame.status.message, "GOAWAY status without a message"
        self.expect_closed(timeout)
        return frame

    def expect_closed(self, timeout: float = GOAWAY_TIMEOUT_S, allow_goaway: bool = False) -> None:
        """The server closes the connection (EOF or reset) within `timeout`,
        sending no (further) frame; with allow_goaway a GOAWAY may come first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                frame = self.read_frame(max(0.0, deadline - time.monotonic()))
            except Closed:
                return
            except socket.timeout:
                raise AssertionError(f"connection still open after {timeout} s") from None
            if allow_goaway and frame.kind == F.FRAME_KIND_GOAWAY:
                allow_goaway = False
                continue
            raise AssertionError(f"expected the connection to close, got a frame: {frame}")

    def health_check(self, call_id: int, service: str = "") -> frame_pb2.Frame:
        self.send_frame(request_frame(call_id, HEALTH_CHECK, health_pb2.HealthCheckRequest(service=service)))
        return self.read_response(call_id)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawConn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
