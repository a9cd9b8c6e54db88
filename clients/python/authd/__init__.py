"""Python client for authd's framed protobuf RPC (see docs/protocol.md).

    from authd import Client
    from auth.v1 import health_pb2

    with Client("127.0.0.1", 7400, default_timeout=5) as client:
        reply = client.health.check(health_pb2.HealthCheckRequest(service=""))

The message classes are the protoc-generated modules in `auth.v1`
(`auth.v1.auth_pb2`, `admin_pb2`, `mail_pb2`, `health_pb2`, `common_pb2`,
`frame_pb2`); the directory holding this package and `auth/` must be on
sys.path.
"""

from .client import Client
from .errors import RpcError, StatusCode, code_name
from .framing import DEFAULT_MAX_FRAME_BYTES, FrameError, encode_frame, read_frame
from .services import MethodInfo, all_services, snake_case
from .tls import tls_context

__all__ = [
    "Client",
    "RpcError",
    "StatusCode",
    "code_name",
    "DEFAULT_MAX_FRAME_BYTES",
    "FrameError",
    "encode_frame",
    "read_frame",
    "MethodInfo",
    "all_services",
    "snake_case",
    "tls_context",
]
