"""The abuse of issue 10 as loads: a flood of huge Login passwords on one
connection, connections parked inside big frames, frames of millions of
metadata entries. Used by test_abuse.py at small scale and, run as a script,
for the full-size figures of docs/security.md:

    python clients/python/tests/abuse_load.py --port 7400 --pid PID login --count 256
    python clients/python/tests/abuse_load.py --port 7400 --pid PID park --connections 500
    python clients/python/tests/abuse_load.py --port 7400 --pid PID metadata --connections 16
    python clients/python/tests/abuse_load.py --port 7400 --pid PID repeated

Each prints what the server answered, the CPU time authd spent meanwhile
(/proc/PID/stat), the slowest Health call on another connection during the
load, and authd's peak RSS (VmHWM of /proc/PID/status).
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # clients/python
sys.path.insert(0, str(Path(__file__).resolve().parent))

from auth.v1 import auth_pb2, frame_pb2  # noqa: E402
from wire import Closed, RawConn, encode, request_frame  # noqa: E402

F = frame_pb2
LOGIN = "/auth.v1.Auth/Login"
MiB = 1024 * 1024


def proc_status_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/PID/status in KiB: VmRSS now, VmHWM the peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HealthProbe:
    """Health calls on a connection of its own, one after another, for as long as it
    runs: the slowest tells how long the load delayed another connection's call."""

    def __init__(self, host: str, port: int):
        self.conn = RawConn(host, port, timeout=60)
        self.slowest = 0.0
        self.calls = 0
        self.failures: List[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                answer = self.conn.health_check(self.calls + 1)
            except Exception as exc:  # noqa: BLE001 - reported
                self.failures.append(repr(exc))
                return
            if answer.status.code != F.OK:
                self.failures.append(str(answer.status))
            self.calls += 1
            self.slowest = max(self.slowest, time.monotonic() - started)

    def __enter__(self) -> "HealthProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(60)
        self.conn.close()


def login_frame(call_id: int, password_bytes: int) -> bytes:
    request = auth_pb2.LoginRequest(email=f"flood-{call_id}@example.com", password="p" * password_bytes)
    return encode(request_frame(call_id, LOGIN, request, {"x-client-address": "198.51.100.7"}))


def login_flood(host: str, port: int, count: int, password_bytes: int, timeout: float = 120.0) -> List[F.Frame]:
    """One connection, `count` Logins written as fast as the server takes them
    (a thread writes while this one reads): the answers, in arrival order."""
    conn = RawConn(host, port, timeout=timeout)
    frame = login_frame(1, password_bytes)  # every call id gets the same body size
    errors: List[BaseException] = []

    def write() -> None:
        try:
            for call_id in range(1, count + 1):
                conn.send(login_frame(call_id, password_bytes) if call_id > 1 else frame)
        except OSError as exc:  # the server closed (a GOAWAY): the reader reports it
            errors.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    answers: List[F.Frame] = []
    try:
        while len(answers) < count:
            answer = conn.read_frame(timeout)
            answers.append(answer)
            if answer.kind == F.FRAME_KIND_GOAWAY:
                break
    finally:
        writer.join(timeout)
        conn.close()
    return answers


def park(host: str, port: int, connections: int, frame_bytes: int, sources: int = 1,
         timeout: float = 30.0) -> List[socket.socket]:
    """`connections` sockets (spread over 127.0.0.1 … 127.0.0.<sources>), each
    sending the length prefix of a `frame_bytes` frame and all but its last
    byte, then waiting. Returns once every byte is in the kernel's hands (sent
    or queued), with the sockets open."""
    socks: List[socket.socket] = []
    for index in range(connections):
        source = f"127.0.0.{index % sources + 1}"
        sock = socket.create_connection((host, port), timeout=timeout, source_address=(source, 0))
        socks.append(sock)
    body = struct.pack(">I", frame_bytes) + b"\x22" + b"\x00" * (frame_bytes - 2)  # a payload field, one byte short
    pending: Dict[socket.socket, memoryview] = {sock: memoryview(body) for sock in socks}
    for sock in socks:
        sock.setblocking(False)
    deadline = time.monotonic() + timeout
    stalled_rounds = 0
    while pending and time.monotonic() < deadline:
        progressed = False
        for sock, left in list(pending.items()):
            try:
                sent = sock.send(left)
            except BlockingIOError:
                continue
            progressed = progressed or sent > 0
            if sent == len(left):
                del pending[sock]
            else:
                pending[sock] = left[sent:]
        if not progressed:
            # The server does not read and the kernel buffers are full: that is the point.
            stalled_rounds += 1
            if stalled_rounds > 20:
                break
            time.sleep(0.05)
        else:
            stalled_rounds = 0
    return socks


def metadata_frame(entries: int, call_id: int = 1) -> bytes:
    """A REQUEST frame whose metadata is `entries` empty map entries (0x32 0x00 each)."""
    head = request_frame(call_id, "/auth.v1.Health/Check", b"").SerializeToString()
    body = head + b"\x32\x00" * entries
    return struct.pack(">I", len(body)) + body


def metadata_flood(host: str, port: int, connections: int, entries: int, timeout: float = 60.0) -> List[Optional[F.Frame]]:
    """`connections` connections at once, each sending one frame of `entries`
    metadata entries: what each got back (a GOAWAY, or None when closed first)."""
    frame = metadata_frame(entries)
    results: List[Optional[F.Frame]] = [None] * connections

    def one(index: int) -> None:
        with RawConn(host, port, timeout=timeout) as conn:
            try:
                conn.send(frame)
            except OSError:
                pass  # refused early and closed: the read says how
            try:
                results[index] = conn.read_frame(timeout)
            except (Closed, OSError):
                results[index] = None

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results


def repeated_strings(host: str, port: int, elements: int, timeout: float = 60.0) -> F.Frame:
    """One UpdateProfile of `elements` empty `remove_attributes`: the answer."""
    payload = auth_pb2.UpdateProfileRequest(token="authd_st_x").SerializeToString() + b"\x1a\x00" * elements
    with RawConn(host, port, timeout=timeout) as conn:
        conn.send_frame(request_frame(1, "/auth.v1.Auth/UpdateProfile", payload))
        return conn.read_frame(timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="authd's pid, for its RSS")
    parser.add_argument("--no-probe", action="store_true",
                        help="no Health calls meanwhile: the CPU figure is the load's alone")
    sub = parser.add_subparsers(dest="load", required=True)
    login = sub.add_parser("login", help="huge passwords on one connection")
    login.add_argument("--count", type=int, default=256)
    login.add_argument("--password-bytes", type=int, default=3 * MiB - 1024)
    parked = sub.add_parser("park", help="connections parked inside big frames")
    parked.add_argument("--connections", type=int, default=500)
    parked.add_argument("--frame-bytes", type=int, default=3 * MiB)
    parked.add_argument("--sources", type=int, default=8, help="spread over 127.0.0.1..N (the per-peer cap is 64)")
    parked.add_argument("--hold-s", type=float, default=5.0)
    flood = sub.add_parser("metadata", help="frames of millions of metadata entries")
    flood.add_argument("--connections", type=int, default=16)
    flood.add_argument("--entries", type=int, default=2_000_000)
    many = sub.add_parser("repeated", help="an UpdateProfile of millions of empty repeated strings")
    many.add_argument("--elements", type=int, default=2_000_000)
    args = parser.parse_args()

    before = proc_status_kib(args.pid, "VmRSS")
    cpu_before = cpu_seconds(args.pid)
    started = time.monotonic()
    probe = None if args.no_probe else HealthProbe(args.host, args.port).__enter__()
    if args.load == "login":
        answers = login_flood(args.host, args.port, args.count, args.password_bytes)
        codes: Dict[str, int] = {}
        for answer in answers:
            name = F.Code.Name(answer.status.code)
            codes[name] = codes.get(name, 0) + 1
        print(f"{len(answers)} answers: {codes}; first: {answers[0].status.message if answers else '-'}")
    elif args.load == "park":
        socks = park(args.host, args.port, args.connections, args.frame_bytes, args.sources)
        time.sleep(args.hold_s)
        print(f"{len(socks)} connections parked; VmRSS now {proc_status_kib(args.pid, 'VmRSS') / 1024:.1f} MiB")
        for sock in socks:
            sock.close()
    elif args.load == "metadata":
        results = metadata_flood(args.host, args.port, args.connections, args.entries)
        print("answers:", [F.Code.Name(r.status.code) if r is not None else "closed" for r in results])
        if results and results[0] is not None:
            print("first:", results[0].status.message)
    else:
        answer = repeated_strings(args.host, args.port, args.elements)
        print(f"answer: {F.Code.Name(answer.status.code)}: {answer.status.message}")
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(args.pid) - cpu_before
    line = f"elapsed {elapsed:.2f} s; authd CPU {cpu:.3f} s"
    if probe is not None:
        probe.__exit__()
        line += (f" (Health probe included); Health calls on another connection: {probe.calls}, "
                 f"slowest {probe.slowest * 1000:.1f} ms, failures {len(probe.failures)}")
    print(line)
    print(f"VmRSS before {before / 1024:.1f} MiB, peak (VmHWM) {proc_status_kib(args.pid, 'VmHWM') / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
