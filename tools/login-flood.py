#!/usr/bin/env python3
"""A legitimate login's latency while a flood of logins waits for the password hasher.

Starts authd (AUTHD_BIN, default .build/release/authd) with the given scrypt cost,
signs up one user, measures its login alone, then again while FLOOD logins for
unknown emails arrive at once from one address (and, with --no-address, from no
address at all, where the queue's total bound is what protects), and prints each
latency and how the flood was answered. Under the flood the legitimate login behaves
as a client should: refused with RESOURCE_EXHAUSTED, it waits retry_after_ms and tries
again; its latency counts the waits.

    tools/login-flood.py [--flood 512] [--scrypt-log-n 17] [--no-address]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))
from authd import Client, RpcError  # noqa: E402
from auth.v1 import auth_pb2  # noqa: E402


def login(client: Client, email: str, password: str, address: str | None) -> str:
    metadata = {"x-client-address": address} if address else None
    try:
        client.auth.login(auth_pb2.LoginRequest(email=email, password=password), metadata=metadata)
        return "OK"
    except RpcError as error:
        return error.code_name


def login_as_a_client_would(client: Client, email: str, password: str, address: str | None) -> tuple[str, int]:
    """Logs in, waiting `retry_after_ms` and trying again when refused with
    RESOURCE_EXHAUSTED, as a well-behaved client does; returns the last outcome and
    how many refusals came before it."""
    metadata = {"x-client-address": address} if address else None
    refusals = 0
    while True:
        try:
            client.auth.login(auth_pb2.LoginRequest(email=email, password=password), metadata=metadata)
            return "OK", refusals
        except RpcError as error:
            if error.code_name != "RESOURCE_EXHAUSTED" or refusals >= 100:
                return error.code_name, refusals
            refusals += 1
            time.sleep(max(error.retry_after_ms, 10) / 1000)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood", type=int, default=512)
    parser.add_argument("--scrypt-log-n", type=int, default=17)
    parser.add_argument("--no-address", action="store_true", help="the flood carries no x-client-address")
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    binary = os.environ.get("AUTHD_BIN", str(ROOT / ".build" / "release" / "authd"))
    work = Path(tempfile.mkdtemp(prefix="login-flood-"))
    proc = subprocess.Popen(
        [binary, "--port", "0", "--database", str(work / "authd.sqlite"), "--log-level", "warning",
         "--scrypt-log-n", str(args.scrypt_log_n)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in proc.stdout:
        match = re.search(r"authd listening on \S+:(\d+)", line)
        if match:
            port = int(match.group(1))
            break
    assert port
    try:
        with Client("127.0.0.1", port, default_timeout=300) as client:
            client.auth.sign_up(auth_pb2.SignUpRequest(email="legit@example.com", password="correct horse"))
            alone = []
            for _ in range(args.samples):
                started = time.perf_counter()
                assert login(client, "legit@example.com", "correct horse", "192.0.2.1") == "OK"
                alone.append((time.perf_counter() - started) * 1000)

        outcomes: collections.Counter = collections.Counter()
        lock = threading.Lock()
        flood_address = None if args.no_address else "198.51.100.66"
        clients = [Client("127.0.0.1", port, default_timeout=300) for _ in range(8)]

        def flood(index: int) -> None:
            outcome = login(clients[index % len(clients)], f"nobody{index}@example.com", "wrong horse", flood_address)
            with lock:
                outcomes[outcome] += 1

        threads = [threading.Thread(target=flood, args=(i,)) for i in range(args.flood)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)  # the flood is queued
        under = []
        refused = []
        with Client("127.0.0.1", port, default_timeout=300) as client:
            for _ in range(args.samples):
                started = time.perf_counter()
                result, refusals = login_as_a_client_would(client, "legit@example.com", "correct horse", "192.0.2.1")
                under.append((time.perf_counter() - started) * 1000)
                refused.append(refusals)
                assert result == "OK", result
        for thread in threads:
            thread.join()
        for c in clients:
            c.close()
        source = "no x-client-address" if args.no_address else "one address"
        print(f"scrypt ln={args.scrypt_log_n}; flood of {args.flood} logins for unknown emails from {source}")
        print(f"  legitimate login alone:       median {statistics.median(alone):.0f} ms  (max {max(alone):.0f})")
        print(f"  legitimate login under flood: median {statistics.median(under):.0f} ms  (max {max(under):.0f}),"
              f" refused first with retry_after_ms {sum(refused)} times in {args.samples} logins")
        print(f"  the flood's answers: {dict(outcomes)}")
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
