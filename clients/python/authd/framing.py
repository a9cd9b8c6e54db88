"""Length-prefixed frames: a 4-byte big-endian length N, then N bytes of an
encoded `auth.v1.Frame`. See docs/protocol.md."""

from __future__ import annotations

import socket
import struct
from typing import Optional

from auth.v1 import frame_pb2

HEADER = struct.Struct(">I")
HEADER_SIZE = HEADER.size  # 4
#: The server's default limit on N (flag --max-frame-bytes).
DEFAULT_MAX_FRAME_BYTES = 3 * 1024 * 1024
MAX_CALL_ID = 2**64 - 1
MAX_TIMEOUT_MS = 2**32 - 1


class FrameError(Exception):
    """The peer sent bytes that are not a frame, or closed mid-frame."""


def encode_frame(frame: frame_pb2.Frame) -> bytes:
    """The bytes to write for one frame: length header + encoded Frame."""
    body = frame.SerializeToString()
    return HEADER.pack(len(body)) + body


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly n bytes; fewer only if the peer closed its side first."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = sock.recv_into(view[got:], n - got)
        if r == 0:
            break
        got += r
    return bytes(buf[:got])


def read_frame(sock: socket.socket, max_frame_bytes: Optional[int] = None) -> Optional[frame_pb2.Frame]:
    """Read one frame.

    Returns None when the peer closed the connection cleanly at a frame
    boundary. Raises FrameError for a frame over `max_frame_bytes`, a frame
    cut short by EOF, or bytes that do not decode as a Frame; socket errors
    (timeouts, resets) propagate.
    """
    header = recv_exact(sock, HEADER_SIZE)
    if not header:
        return None
    if len(header) < HEADER_SIZE:
        raise FrameError(f"connection closed inside a frame header ({len(header)} of 4 bytes)")
    (length,) = HEADER.unpack(header)
    if max_frame_bytes is not None and length > max_frame_bytes:
        raise FrameError(f"frame of {length} bytes is over the limit of {max_frame_bytes}")
    body = recv_exact(sock, length)
    if len(body) < length:
        raise FrameError(f"connection closed inside a frame ({len(body)} of {length} bytes)")
    frame = frame_pb2.Frame()
    try:
        frame.ParseFromString(body)
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise FrameError(f"{length} bytes that are not an auth.v1.Frame: {exc}") from exc
    return frame
