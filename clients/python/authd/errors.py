"""Status codes and the exception raised for every failed call."""

from __future__ import annotations

import enum
from typing import Iterable, Mapping, Optional, Tuple

from auth.v1 import frame_pb2

# gRPC's status codes with gRPC's numbers, built from the `auth.v1.Code` enum
# in frame.proto so that the list is written down in one place only.
StatusCode = enum.IntEnum(  # type: ignore[misc]
    "StatusCode",
    [(value.name, value.number) for value in frame_pb2.Code.DESCRIPTOR.values],
    module=__name__,
)


def code_name(code: int) -> str:
    """`NOT_FOUND` for 5; `CODE_<n>` for a number frame.proto does not know."""
    try:
        return StatusCode(code).name
    except ValueError:
        return f"CODE_{int(code)}"


class RpcError(Exception):
    """A call that did not end with status OK.

    Raised for a RESPONSE frame whose status is not OK, for a GOAWAY frame
    (with the GOAWAY's code), when the connection is lost (UNAVAILABLE), when
    the client-side deadline passes (DEADLINE_EXCEEDED) and when the client
    itself was closed (CANCELLED).

    Attributes:
        code: the gRPC status code number (an int; see `StatusCode`).
        code_name: its name, e.g. "NOT_FOUND".
        message: the server's (or the client's) explanation, in plain English.
        field_violations: list of (field path, description) for
            INVALID_ARGUMENT about request fields.
        retry_after_ms: with RESOURCE_EXHAUSTED throttles, how long to wait
            before trying again (0 = no hint).
        metadata: the response frame's metadata (e.g. "x-request-id"), when the
            error came from a RESPONSE frame; {} otherwise.
        method: the method path of the call, when known.
        connection_closed: True when the error is about the connection (GOAWAY,
            connection lost, client closed) rather than about this call alone;
            such a call may be retried on a new connection.
    """

    def __init__(
        self,
        code: int,
        message: str = "",
        *,
        field_violations: Iterable[Tuple[str, str]] = (),
        retry_after_ms: int = 0,
        metadata: Optional[Mapping[str, str]] = None,
        method: Optional[str] = None,
        connection_closed: bool = False,
    ) -> None:
        self.code: int = int(code)
        self.message: str = message
        self.field_violations: list[Tuple[str, str]] = [
            (str(f), str(d)) for f, d in field_violations
        ]
        self.retry_after_ms: int = int(retry_after_ms)
        self.metadata: dict[str, str] = dict(metadata or {})
        self.method: Optional[str] = method
        self.connection_closed: bool = connection_closed
        super().__init__(str(self))

    @property
    def code_name(self) -> str:
        return code_name(self.code)

    @classmethod
    def from_status(
        cls,
        status: "frame_pb2.Status",
        *,
        metadata: Optional[Mapping[str, str]] = None,
        method: Optional[str] = None,
        connection_closed: bool = False,
        prefix: str = "",
    ) -> "RpcError":
        return cls(
            status.code,
            prefix + status.message,
            field_violations=[(v.field, v.description) for v in status.field_violations],
            retry_after_ms=status.retry_after_ms,
            metadata=metadata,
            method=method,
            connection_closed=connection_closed,
        )

    def __str__(self) -> str:
        text = f"{self.code_name} ({self.code})"
        if self.method:
            text += f" from {self.method}"
        if self.message:
            text += f": {self.message}"
        if self.field_violations:
            text += " [" + "; ".join(f"{f}: {d}" for f, d in self.field_violations) + "]"
        if self.retry_after_ms:
            text += f" (retry after {self.retry_after_ms} ms)"
        return text

    def __repr__(self) -> str:
        return f"RpcError({self.code_name}, {self.message!r})"

