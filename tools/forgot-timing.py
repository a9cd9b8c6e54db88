#!/usr/bin/env python3
"""Does ForgotPassword's timing tell a known email from an unknown one?

Starts authd (AUTHD_BIN, default .build/release/authd) on a scratch database,
imports N users without passwords (fast: no hashing), then calls ForgotPassword
for N known and N unknown emails, interleaved at random, each email once (so no
quota is hit), and compares the two latency distributions: medians, means, the
median difference with a bootstrap 95 % interval, and a Mann-Whitney U test.

    tools/forgot-timing.py [--calls 500] [--seed 1] [--log-level info]

Run it on a quiet machine: the figures are latencies.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))
from authd import Client  # noqa: E402
from auth.v1 import admin_pb2, auth_pb2  # noqa: E402


def mann_whitney(a, b):
    """Two-sided Mann-Whitney U with the normal approximation (ties averaged)."""
    combined = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(combined)
    i = 0
    while i < len(combined):
        j = i
        while j + 1 < len(combined) and combined[j + 1][0] == combined[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    rank_a = sum(r for r, (_, group) in zip(ranks, combined) if group == 0)
    n1, n2 = len(a), len(b)
    u = rank_a - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    z = (u - mean) / sd
    p = math.erfc(abs(z) / math.sqrt(2))
    return u, z, p


def bootstrap_median_difference(a, b, rounds=2000, seed=1):
    rng = random.Random(seed)
    diffs = []
    for _ in range(rounds):
        ra = [rng.choice(a) for _ in a]
        rb = [rng.choice(b) for _ in b]
        diffs.append(statistics.median(ra) - statistics.median(rb))
    diffs.sort()
    return diffs[int(rounds * 0.025)], diffs[int(rounds * 0.975)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500, help="calls per group")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-level", default="warning",
                        help="authd's log level; at info both paths write one line (to /dev/null here)")
    args = parser.parse_args()
    binary = os.environ.get("AUTHD_BIN", str(ROOT / ".build" / "release" / "authd"))
    work = Path(tempfile.mkdtemp(prefix="forgot-timing-"))
    proc = subprocess.Popen([binary, "--port", "0", "--database", str(work / "authd.sqlite"), "--log-level", args.log_level],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in proc.stdout:
        match = re.search(r"authd listening on \S+:(\d+)", line)
        if match:
            port = int(match.group(1))
            break
    assert port, "authd did not start"
    try:
        key = (work / "authd.sqlite.admin-key").read_text().strip()
        known = [f"known{i}@example.com" for i in range(args.calls)]
        unknown = [f"unknown{i}@example.com" for i in range(args.calls)]
        with Client("127.0.0.1", port, api_key=key, default_timeout=60) as admin:
            rows = "".join(f"{email}\n" for email in known).encode()
            admin.admin.import_users(admin_pb2.ImportUsersRequest(header="email", rows=rows))
        calls = [(email, True) for email in known] + [(email, False) for email in unknown]
        random.Random(args.seed).shuffle(calls)
        latencies = {True: [], False: []}
        with Client("127.0.0.1", port, default_timeout=60) as client:
            for warm in range(20):  # warm the caches and the connection
                client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=f"warm{warm}@example.com"))
            for email, is_known in calls:
                started = time.perf_counter()
                client.auth.forgot_password(auth_pb2.ForgotPasswordRequest(email=email))
                latencies[is_known].append((time.perf_counter() - started) * 1000)
        k, u = latencies[True], latencies[False]
        low, high = bootstrap_median_difference(k, u, seed=args.seed)
        _, z, p = mann_whitney(k, u)
        print(f"ForgotPassword latency over loopback, {args.calls} calls each, interleaved at random (seed {args.seed})")
        print(f"  known:   median {statistics.median(k):.3f} ms  mean {statistics.mean(k):.3f} ms  p90 {sorted(k)[int(len(k) * 0.9)]:.3f} ms")
        print(f"  unknown: median {statistics.median(u):.3f} ms  mean {statistics.mean(u):.3f} ms  p90 {sorted(u)[int(len(u) * 0.9)]:.3f} ms")
        print(f"  median difference (known - unknown): {statistics.median(k) - statistics.median(u):+.3f} ms, "
              f"bootstrap 95 % interval [{low:+.3f}, {high:+.3f}] ms")
        print(f"  Mann-Whitney U: z = {z:+.2f}, two-sided p = {p:.3f}")
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
