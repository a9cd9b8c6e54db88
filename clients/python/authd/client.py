"""A multiplexed authd client: one TCP connection, many calls in flight from
any number of threads, answered in any order.

A reader thread reads frames and routes each RESPONSE to the caller waiting
for its call id; a deadline thread fails calls whose client-side timeout has
passed (DEADLINE_EXCEEDED) and sends CANCEL for them.
"""

from __future__ import annotations

import heapq
import itertools
import math
import socket
import ssl
import threading
import time
from concurrent.futures import Future, InvalidStateError
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type, TypeVar

from google.protobuf.message import Message

from auth.v1 import frame_pb2

from .errors import RpcError, StatusCode
from .framing import (
    DEFAULT_MAX_FRAME_BYTES,
    MAX_TIMEOUT_MS,
    FrameError,
    encode_frame,
    read_frame,
)
from .services import ServiceStub, all_services
from .tls import TLSStream

M = TypeVar("M", bound=Message)

#: Largest response frame the client accepts by default. The server refuses
#: request frames over its --max-frame-bytes (default 3 MiB); responses are
#: allowed some headroom over that.
DEFAULT_MAX_RECEIVE_FRAME_BYTES = 64 * 1024 * 1024


class _Call:
    __slots__ = ("call_id", "method", "response_type", "future", "with_metadata", "timeout",
                 "sending", "cancel_after_send")

    def __init__(self, call_id: int, method: str, response_type: Type[Message], with_metadata: bool,
                 timeout: Optional[float]):
        self.call_id = call_id
        self.method = method
        self.response_type = response_type
        self.future: "Future[Any]" = Future()
        self.with_metadata = with_metadata
        self.timeout = timeout
        # While the REQUEST is being written, a CANCEL must wait for it, or the
        # server could see the CANCEL first.
        self.sending = True
        self.cancel_after_send = False


def _resolve(future: "Future[Any]", result: Any = None, error: Optional[BaseException] = None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass  # the caller cancelled the future meanwhile


class Client:
    """One connection to authd.

    >>> with Client("127.0.0.1", 7400, default_timeout=5) as c:
    ...     c.health.check(service="").status

    Args:
        host, port: where authd listens.
        default_timeout: seconds; used for calls that pass no timeout. None
            means no deadline.
        metadata: entries sent with every call (per-call metadata overrides
            them). Keys are lower-cased.
        api_key: shorthand for metadata {"authorization": "Bearer <api_key>"}.
        connect_timeout: seconds allowed for the TCP connect.
        max_frame_bytes: request frames larger than this are refused locally
            (RESOURCE_EXHAUSTED) instead of being sent, since the server would
            answer an oversized frame by closing the whole connection. Match
            the server's --max-frame-bytes.
        max_receive_frame_bytes: a larger response frame is treated as a broken
            connection.
        tls: an ssl.SSLContext (authd.tls_context(ca_file, cert_file, key_file)
            makes one) to speak TLS; None speaks plaintext.
        server_hostname: the name the server's certificate must carry; `host`
            by default (an IP address is checked against the certificate's).

    A failed connect raises RpcError UNAVAILABLE.

    Service stubs are attributes named after the services in snake_case:
    `client.health`, `client.auth`, `client.admin`, `client.mail`, with one
    method per RPC (`client.auth.login(LoginRequest(...))`).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        default_timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
        api_key: Optional[str] = None,
        connect_timeout: Optional[float] = 10.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_receive_frame_bytes: int = DEFAULT_MAX_RECEIVE_FRAME_BYTES,
        tls: Optional[ssl.SSLContext] = None,
        server_hostname: Optional[str] = None,
    ) -> None:
        self.host = host
        self.port = port
        self.default_timeout = default_timeout
        self.max_frame_bytes = max_frame_bytes
        self.max_receive_frame_bytes = max_receive_frame_bytes
        self.metadata: Dict[str, str] = _clean_metadata(metadata)
        if api_key is not None:
            self.metadata["authorization"] = f"Bearer {api_key}"

        self._lock = threading.Lock()  # guards everything below
        self._send_lock = threading.Lock()  # one frame written at a time
        self._pending: Dict[int, _Call] = {}
        self._ids = itertools.count(1)
        self._error: Optional[RpcError] = None  # set once: the connection is done
        self._deadlines: List[Tuple[float, int]] = []  # heap of (monotonic time, call id)
        self._deadline_cv = threading.Condition(self._lock)
        #: The GOAWAY frame's status, if the server sent one.
        self.goaway: Optional[frame_pb2.Status] = None

        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise RpcError(StatusCode.UNAVAILABLE, f"cannot connect to {host}:{port}: {exc}",
                           connection_closed=True) from exc
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            # The handshake runs within the connect timeout.
            try:
                self._sock = TLSStream(self._sock, tls, server_hostname or host)
            except (ssl.SSLError, OSError) as exc:
                self._sock.close()
                raise RpcError(StatusCode.UNAVAILABLE, f"TLS with {host}:{port} failed: {exc}",
                               connection_closed=True) from exc
        self._sock.settimeout(None)

        for name, (descriptor, methods) in all_services().items():
            if hasattr(type(self), name):
                raise RuntimeError(f"service {descriptor.full_name} clashes with Client.{name}")
            setattr(self, name, ServiceStub(self, descriptor, methods))

        self._reader = threading.Thread(target=self._read_loop, name=f"authd-reader-{port}", daemon=True)
        self._timer = threading.Thread(target=self._deadline_loop, name=f"authd-deadlines-{port}", daemon=True)
        self._reader.start()
        self._timer.start()

    # ---- public API ----

    def call(
        self,
        method: str,
        request: Message,
        response_type: Type[M],
        *,
        timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> M:
        """Call `method` (e.g. "/auth.v1.Health/Check") and wait for the answer.

        Raises RpcError on any status other than OK, on GOAWAY, on connection
        loss (UNAVAILABLE) and when `timeout` (or the default timeout) passes
        (DEADLINE_EXCEEDED; a CANCEL frame is sent for the call)."""
        return self.call_future(method, request, response_type, timeout=timeout, metadata=metadata).result()

    def call_with_metadata(
        self,
        method: str,
        request: Message,
        response_type: Type[M],
        *,
        timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> Tuple[M, Dict[str, str]]:
        """Like call(), but returns (response, the response frame's metadata)."""
        return self._start(method, request, response_type, timeout, metadata, True).result()

    def call_future(
        self,
        method: str,
        request: Message,
        response_type: Type[M],
        *,
        timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> "Future[M]":
        """Start a call and return at once; the Future holds the response or
        the RpcError. Cancelling the Future sends CANCEL for the call."""
        return self._start(method, request, response_type, timeout, metadata, False)

    @property
    def closed(self) -> bool:
        """True once the connection can carry no more calls."""
        with self._lock:
            return self._error is not None

    def peer_certificate(self) -> Optional[dict]:
        """The server's certificate (ssl's getpeercert() form: serialNumber, subject,
        notAfter, ...) over TLS; None over plaintext."""
        return self._sock.getpeercert() if isinstance(self._sock, TLSStream) else None

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        """Close the connection. Calls still in flight fail with CANCELLED."""
        self._shut(RpcError(StatusCode.CANCELLED, "the client was closed", connection_closed=True))
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout=5)
        if threading.current_thread() is not self._timer:
            self._timer.join(timeout=5)
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<authd.Client {self.host}:{self.port} {state}>"

    # ---- sending ----

    def _start(
        self,
        method: str,
        request: Message,
        response_type: Type[Message],
        timeout: Optional[float],
        metadata: Optional[Mapping[str, str]],
        with_metadata: bool,
    ) -> "Future[Any]":
        if timeout is None:
            timeout = self.default_timeout
        merged = dict(self.metadata)
        merged.update(_clean_metadata(metadata))
        frame = frame_pb2.Frame(
            kind=frame_pb2.FRAME_KIND_REQUEST,
            method=method,
            payload=request.SerializeToString(),
            metadata=merged,
        )
        if timeout is not None:
            # Rounded up so that the server's deadline is never shorter than ours.
            frame.timeout_ms = min(MAX_TIMEOUT_MS, max(1, math.ceil(timeout * 1000)))

        with self._lock:
            call_id = next(self._ids)
            call = _Call(call_id, method, response_type, with_metadata, timeout)
            if self._error is not None:
                _resolve(call.future, error=self._copy_error(self._error, method))
                return call.future
            frame.call_id = call_id
            data = encode_frame(frame)
            if len(data) - 4 > self.max_frame_bytes:
                _resolve(call.future, error=RpcError(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"request frame of {len(data) - 4} bytes is over the limit of "
                    f"{self.max_frame_bytes} bytes; not sent",
                    method=method,
                ))
                return call.future
            if timeout is not None and timeout <= 0:
                _resolve(call.future, error=RpcError(
                    StatusCode.DEADLINE_EXCEEDED, "the timeout had passed before the call started",
                    method=method))
                return call.future
            self._pending[call_id] = call
            if timeout is not None:
                heapq.heappush(self._deadlines, (time.monotonic() + timeout, call_id))
                self._deadline_cv.notify()
        call.future.add_done_callback(lambda f, c=call: self._on_future_done(f, c))
        self._send(data)
        with self._lock:
            call.sending = False
            cancel = call.cancel_after_send
        if cancel:
            self._send_cancel(call_id)
        return call.future

    def _send(self, data: bytes) -> None:
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as exc:
            self._shut(RpcError(StatusCode.UNAVAILABLE, f"connection lost while sending: {exc}",
                                connection_closed=True))

    def _send_cancel(self, call_id: int) -> None:
        with self._lock:
            if self._error is not None:
                return
        self._send(encode_frame(frame_pb2.Frame(kind=frame_pb2.FRAME_KIND_CANCEL, call_id=call_id)))

    def _cancel_locked(self, call: _Call) -> bool:
        """With the lock held: whether to send CANCEL for `call` now (else it
        is sent when the REQUEST has been written)."""
        if call.sending:
            call.cancel_after_send = True
            return False
        return True

    def _on_future_done(self, future: "Future[Any]", call: _Call) -> None:
        # The user cancelled the Future: forget the call and tell the server.
        if not future.cancelled():
            return
        with self._lock:
            send_now = self._pending.pop(call.call_id, None) is not None and self._cancel_locked(call)
        if send_now:
            self._send_cancel(call.call_id)

    # ---- deadlines ----

    def _deadline_loop(self) -> None:
        while True:
            expired: List[Tuple[_Call, bool]] = []
            with self._lock:
                while True:
                    if self._error is not None:
                        return
                    now = time.monotonic()
                    while self._deadlines and self._deadlines[0][0] <= now:
                        _, call_id = heapq.heappop(self._deadlines)
                        call = self._pending.pop(call_id, None)
                        if call is not None:
                            expired.append((call, self._cancel_locked(call)))
                    if expired:
                        break
                    wait = self._deadlines[0][0] - now if self._deadlines else None
                    self._deadline_cv.wait(wait)
            for call, send_now in expired:
                if send_now:
                    self._send_cancel(call.call_id)
                _resolve(call.future, error=RpcError(
                    StatusCode.DEADLINE_EXCEEDED,
                    f"no answer within the client's timeout of {call.timeout:g} s",
                    method=call.method,
                ))

    # ---- receiving ----

    def _read_loop(self) -> None:
        error: RpcError
        try:
            while True:
                frame = read_frame(self._sock, self.max_receive_frame_bytes)
                if frame is None:
                    error = RpcError(StatusCode.UNAVAILABLE, "the server closed the connection",
                                     connection_closed=True)
                    break
                self._dispatch(frame)
        except FrameError as exc:
            error = RpcError(StatusCode.UNAVAILABLE, f"connection broken: {exc}", connection_closed=True)
        except OSError as exc:
            error = RpcError(StatusCode.UNAVAILABLE, f"connection lost: {exc}", connection_closed=True)
        except BaseException as exc:  # pragma: no cover - a bug; never leave callers hanging
            error = RpcError(StatusCode.INTERNAL, f"client reader failed: {exc!r}", connection_closed=True)
            self._shut(error)
            raise
        self._shut(error)

    def _dispatch(self, frame: frame_pb2.Frame) -> None:
        if frame.kind == frame_pb2.FRAME_KIND_RESPONSE:
            with self._lock:
                call = self._pending.pop(frame.call_id, None)
            if call is None:
                return  # cancelled or timed out meanwhile: ignore, as the protocol says
            metadata = dict(frame.metadata)
            # A RESPONSE always carries a status; an absent one reads as code 0.
            if frame.status.code != StatusCode.OK:
                _resolve(call.future, error=RpcError.from_status(frame.status, metadata=metadata,
                                                                 method=call.method))
                return
            try:
                response = call.response_type.FromString(frame.payload)
            except Exception as exc:
                _resolve(call.future, error=RpcError(
                    StatusCode.INTERNAL,
                    f"the response payload is not a {call.response_type.DESCRIPTOR.full_name}: {exc}",
                    metadata=metadata, method=call.method))
                return
            _resolve(call.future, (response, metadata) if call.with_metadata else response)
        elif frame.kind == frame_pb2.FRAME_KIND_GOAWAY:
            code = frame.status.code or StatusCode.UNAVAILABLE
            error = RpcError(code, f"the server is closing the connection (GOAWAY): {frame.status.message}",
                             field_violations=[(v.field, v.description) for v in frame.status.field_violations],
                             retry_after_ms=frame.status.retry_after_ms, connection_closed=True)
            with self._lock:
                self.goaway = frame.status
            self._shut(error)
        # Other kinds are not sent by the server; ignore them.

    # ---- shutting down ----

    def _shut(self, error: RpcError) -> None:
        """Mark the connection done (first error wins), fail every call in
        flight with that error and close the socket."""
        with self._lock:
            if self._error is None:
                self._error = error
            error = self._error
            calls = list(self._pending.values())
            self._pending.clear()
            self._deadlines.clear()
            self._deadline_cv.notify_all()
        for call in calls:
            _resolve(call.future, error=self._copy_error(error, call.method))
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if threading.current_thread() is self._reader or not self._reader.is_alive():
            try:
                self._sock.close()
            except OSError:
                pass

    @staticmethod
    def _copy_error(error: RpcError, method: str) -> RpcError:
        return RpcError(error.code, error.message, field_violations=error.field_violations,
                        retry_after_ms=error.retry_after_ms, method=method,
                        connection_closed=error.connection_closed)


def _clean_metadata(metadata: Optional[Mapping[str, str]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata keys and values are strings, not {key!r}: {value!r}")
        out[key.lower()] = value
    return out
