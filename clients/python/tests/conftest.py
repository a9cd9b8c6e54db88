"""Fixtures that run a real authd binary.

The binary is $AUTHD_BIN, or <repo>/.build/debug/authd. Each server gets its
own temporary database and is started as

    authd --host 127.0.0.1 --port 0 --database <tmp>/authd.sqlite [extra flags]

The fixture reads the server's stdout until a line containing
"authd listening on HOST:PORT" and connects to that port. At the end it sends
SIGTERM and waits for the process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List, Mapping, Optional, Sequence

import pytest

CLIENT_DIR = Path(__file__).resolve().parents[1]  # clients/python
REPO_ROOT = CLIENT_DIR.parents[1]
if str(CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENT_DIR))

from authd import Client  # noqa: E402

LISTENING = re.compile(r"authd listening on (\S+):(\d+)")
STARTUP_TIMEOUT_S = float(os.environ.get("AUTHD_STARTUP_TIMEOUT", "60"))
STOP_TIMEOUT_S = 20.0


def authd_binary_path() -> Path:
    return Path(os.environ.get("AUTHD_BIN", str(REPO_ROOT / ".build" / "debug" / "authd")))


class AuthdServer:
    """One authd process on an ephemeral port of 127.0.0.1."""

    def __init__(self, binary: Path, workdir: Path, extra_args: Sequence[str] = (),
                 database: Optional[Path] = None, command: Optional[Sequence[str]] = None,
                 env: Optional[Mapping[str, str]] = None):
        """`database` defaults to <workdir>/authd.sqlite; `command` replaces the whole
        command line (it must then name that database and port 0 itself); `env` replaces
        the environment."""
        self.binary = binary
        self.workdir = workdir
        self.extra_args = list(extra_args)
        self.database = database if database is not None else workdir / "authd.sqlite"
        self.command = list(command) if command is not None else None
        self.env = dict(env) if env is not None else None
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self.stdout_lines: List[str] = []
        self._stdout_thread: Optional[threading.Thread] = None
        self._listening = threading.Event()

    @property
    def args(self) -> List[str]:
        if self.command is not None:
            return self.command
        return [str(self.binary), "--host", "127.0.0.1", "--port", "0",
                "--database", str(self.database), *self.extra_args]

    def start(self) -> "AuthdServer":
        self._stderr = open(self.workdir / "stderr.log", "wb")
        self.proc = subprocess.Popen(
            self.args,
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,  # a Ctrl-C of pytest does not reach it first
        )
        self._stdout_thread = threading.Thread(target=self._pump_stdout, daemon=True)
        self._stdout_thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None:
                self._stdout_thread.join(timeout=2)
                raise RuntimeError(
                    f"authd exited with status {self.proc.returncode} before listening\n"
                    f"command: {' '.join(self.args)}\n{self.output_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"authd printed no 'authd listening on HOST:PORT' line within "
                    f"{STARTUP_TIMEOUT_S:g} s (is stdout flushed?)\n"
                    f"command: {' '.join(self.args)}\n{self.output_tail()}")
        return self

    def _pump_stdout(self) -> None:
        # Keep reading after the line we wait for, so a chatty server never
        # blocks on a full pipe.
        assert self.proc is not None and self.proc.stdout is not None
        with open(self.workdir / "stdout.log", "w", encoding="utf-8") as log:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.stdout_lines.append(line)
                log.write(line + "\n")
                log.flush()
                if not self._listening.is_set():
                    match = LISTENING.search(line)
                    if match:
                        self.host = match.group(1).strip("[]")
                        self.port = int(match.group(2))
                        self._listening.set()

    def output_tail(self, lines: int = 40) -> str:
        stderr = ""
        path = self.workdir / "stderr.log"
        if path.exists():
            stderr = "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])
        stdout = "\n".join(self.stdout_lines[-lines:])
        return f"--- stdout (tail) ---\n{stdout}\n--- stderr (tail) ---\n{stderr}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """Send SIGTERM (graceful shutdown) without waiting."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = STOP_TIMEOUT_S) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> Optional[int]:
        """SIGTERM, wait; SIGKILL if it does not stop. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._stdout_thread is not None:
            self._stdout_thread.join(timeout=5)
        self._stderr.close()
        return self.proc.returncode

    def client(self, **kwargs) -> Client:
        kwargs.setdefault("default_timeout", 10.0)
        kwargs.setdefault("connect_timeout", 5.0)
        return Client(self.host, self.port, **kwargs)

    def __repr__(self) -> str:
        return f"<authd {self.host}:{self.port} {' '.join(self.extra_args)}>"


@pytest.fixture(scope="session")
def authd_binary() -> Path:
    path = authd_binary_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no authd executable at {path}: build it (swift build) or set AUTHD_BIN", pytrace=False)
    return path


@pytest.fixture(scope="session")
def authd(authd_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthdServer]:
    """A server with default limits, shared by the whole session."""
    server = AuthdServer(authd_binary, tmp_path_factory.mktemp("authd")).start()
    yield server
    crashed = not server.alive()
    status = server.stop()
    assert not crashed, f"authd died during the tests (status {status})\n{server.output_tail()}"


@pytest.fixture
def start_authd(authd_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., AuthdServer]]:
    """A factory: start_authd("--max-frame-bytes", "1024") starts a server of
    the test's own with extra flags; every one is stopped after the test."""
    started: List[AuthdServer] = []

    def start(*extra_args: str) -> AuthdServer:
        server = AuthdServer(authd_binary, tmp_path_factory.mktemp("authd"), extra_args).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client(authd: AuthdServer) -> Iterator[Client]:
    with authd.client() as c:
        yield c
