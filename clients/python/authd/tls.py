"""TLS for the client: a context that trusts authd's CA, and a stream over a plain
socket that the client's reader thread and its callers can use at once.

The client reads frames on one thread while callers write on others. An
ssl.SSLSocket does not promise that a read and a write may run in OpenSSL at the
same time, so the stream drives an ssl.SSLObject over memory buffers instead and
holds a lock whenever OpenSSL runs; the blocking socket read happens outside it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Optional


def tls_context(ca_file: Optional[str] = None, cert_file: Optional[str] = None,
                key_file: Optional[str] = None) -> ssl.SSLContext:
    """A client context for authd: TLS 1.2 or later, the server's certificate checked
    against `ca_file` (the system's CAs when None) and its name, and a client
    certificate for mTLS when `cert_file` and `key_file` are given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None or key_file is not None:
        if cert_file is None or key_file is None:
            raise ValueError("a client certificate needs its key, and a key its certificate")
        context.load_cert_chain(cert_file, key_file)
    return context


class TLSStream:
    """The parts of a socket the client uses (recv, sendall, shutdown, close), in TLS."""

    _READ_BYTES = 65536

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: Optional[str]) -> None:
        self._sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=False,
                                     server_hostname=server_hostname)
        self._lock = threading.Lock()  # held while OpenSSL runs, and while its output is sent
        self._handshake()

    def _send_output_locked(self) -> None:
        data = self._outgoing.read()
        if data:
            self._sock.sendall(data)

    def _receive_raw(self) -> bool:
        raw = self._sock.recv(self._READ_BYTES)
        with self._lock:
            if raw:
                self._incoming.write(raw)
            else:
                self._incoming.write_eof()
        return bool(raw)

    def _handshake(self) -> None:
        while True:
            with self._lock:
                try:
                    self._tls.do_handshake()
                    self._send_output_locked()
                    return
                except ssl.SSLWantReadError:
                    self._send_output_locked()
            if not self._receive_raw():
                with self._lock:
                    # Raises the handshake's error (an alert from the server), or says EOF.
                    self._tls.do_handshake()
                raise ssl.SSLEOFError("the server closed the connection during the TLS handshake")

    def getpeercert(self, binary_form: bool = False):
        """The server's certificate, as ssl.SSLSocket.getpeercert gives it."""
        with self._lock:
            return self._tls.getpeercert(binary_form)

    def version(self) -> Optional[str]:
        with self._lock:
            return self._tls.version()

    def recv(self, size: int) -> bytes:
        """Up to `size` bytes of plaintext; b"" once the server closed the connection."""
        while True:
            with self._lock:
                try:
                    data = self._tls.read(size)
                    self._send_output_locked()
                    return data
                except ssl.SSLWantReadError:
                    self._send_output_locked()
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    return b""
            self._receive_raw()

    def recv_into(self, buffer, nbytes: int = 0) -> int:
        """As socket.recv_into: plaintext into `buffer`, the count; 0 once the server closed."""
        view = memoryview(buffer)
        size = nbytes or len(view)
        data = self.recv(size)
        view[:len(data)] = data
        return len(data)

    def sendall(self, data: bytes) -> None:
        # Sending under the lock keeps TLS records in the order OpenSSL made them. The
        # reader waits meanwhile, but reads the socket outside the lock, so the server's
        # answers keep arriving in the kernel's buffer.
        with self._lock:
            self._tls.write(data)
            self._send_output_locked()

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def close(self) -> None:
        self._sock.close()

    def setsockopt(self, *args) -> None:
        self._sock.setsockopt(*args)

    def settimeout(self, timeout: Optional[float]) -> None:
        self._sock.settimeout(timeout)
