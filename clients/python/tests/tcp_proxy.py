"""A small threaded TCP proxy that a test can cut and restore: a database (or any
server) that goes away under a running process and comes back.

    proxy = TCPProxy("127.0.0.1", 5432).start()   # listens on 127.0.0.1:proxy.port
    proxy.cut()       # every open forwarded connection is closed; new ones are
                      # accepted and closed at once (a server that is gone)
    proxy.restore()   # new connections are forwarded again
    proxy.stop()
"""

from __future__ import annotations

import socket
import threading
from typing import List, Optional, Set, Tuple


class TCPProxy:
    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = 0
        self._listener: Optional[socket.socket] = None
        self._lock = threading.Lock()
        self._pairs: Set[Tuple[socket.socket, socket.socket]] = set()
        self._cut = False
        self._stopped = False
        self._threads: List[threading.Thread] = []
        #: Connections accepted and forwarded, and accepted while cut (closed at once).
        self.forwarded = 0
        self.refused = 0

    def start(self) -> "TCPProxy":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(128)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    @property
    def is_cut(self) -> bool:
        return self._cut

    def cut(self) -> None:
        """Closes every forwarded connection; until `restore`, new ones are closed on accept."""
        with self._lock:
            self._cut = True
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            self._close_pair(pair)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._cut = True
            pairs = list(self._pairs)
            self._pairs.clear()
        if self._listener is not None:
            _shut(self._listener)
        for pair in pairs:
            self._close_pair(pair)
        for thread in self._threads:
            thread.join(timeout=5)

    # ---- internals ----

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"tcp-proxy-{self.port}")
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            with self._lock:
                stopped, cut = self._stopped, self._cut
            if stopped:
                _shut(client)
                return
            if cut:
                self.refused += 1
                _shut(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _shut(client)
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self._lock:
                if self._cut:  # cut while connecting upstream
                    self.refused += 1
                    self._close_pair(pair)
                    continue
                self._pairs.add(pair)
                self.forwarded += 1
            self._spawn(self._pump, pair, client, upstream)
            self._spawn(self._pump, pair, upstream, client)

    def _pump(self, pair: Tuple[socket.socket, socket.socket], source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        # Either side ending ends the pair (a forwarded connection is all or nothing).
        with self._lock:
            self._pairs.discard(pair)
        self._close_pair(pair)

    @staticmethod
    def _close_pair(pair: Tuple[socket.socket, socket.socket]) -> None:
        for sock in pair:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    """shutdown() wakes a thread blocked in recv() on the socket; close() alone may not."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
