"""A real SMTP server for the mailer tests: aiosmtpd on 127.0.0.1 with a handler
that keeps every message it accepts, and can be told to refuse recipients
(4xx or 5xx), to be slow, to require STARTTLS and AUTH, or to speak implicit TLS.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "mailer"
PASSWORD = "s3cret pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_certificate(directory: Path) -> Tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made with openssl; also its own CA."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


@dataclass
class Delivery:
    mail_from: str
    rcpt_tos: List[str]
    content: bytes
    tls: bool
    authenticated: bool
    at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class Mailbox:
    """The handler: stores envelopes; `refuse` maps a recipient to a reply such as
    "451 4.3.0 try later" (a callable may decide); `rcpt_delay` makes RCPT slow."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: List[Delivery] = []
        self.refuse: Dict[str, str] = {}
        self.refuse_all: Optional[str] = None
        self.rcpt_delay = 0.0
        self.data_delay = 0.0
        self.rcpt_attempts: Dict[str, int] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpt_attempts[address] = self.rcpt_attempts.get(address, 0) + 1
            reply = self.refuse.get(address) or self.refuse_all
            delay = self.rcpt_delay
        if delay:
            await asyncio.sleep(delay)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        delivery = Delivery(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
            content=envelope.original_content or envelope.content,
            tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None, authenticated=bool(session.authenticated))
        with self.lock:
            self.deliveries.append(delivery)
        return "250 Message accepted for delivery"

    # --- reading ---

    def all(self) -> List[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def message_ids(self) -> List[str]:
        return [d.message_id for d in self.all()]

    def to(self, address: str) -> List[Delivery]:
        return [d for d in self.all() if address in d.rcpt_tos]

    def wait_for(self, predicate: Callable[["Mailbox"], bool], timeout: float, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}; "
                             f"{len(self.all())} deliveries so far")


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


class SMTPServer:
    """One aiosmtpd Controller on 127.0.0.1.

    mode: "plain" (no TLS, no AUTH), "starttls" (STARTTLS and AUTH required;
    `mechanisms` limits AUTH to e.g. ["LOGIN"]), "tls" (implicit TLS + AUTH).
    """

    def __init__(self, workdir: Path, mode: str = "plain", port: Optional[int] = None,
                 mechanisms: Optional[List[str]] = None, mailbox: Optional[Mailbox] = None) -> None:
        self.mode = mode
        self.port = port or free_port()
        self.mailbox = mailbox or Mailbox()
        self.cert: Optional[Path] = None
        kwargs = {}
        if mode in ("starttls", "tls"):
            self.cert, key = self_signed_certificate(workdir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.cert), str(key))
            kwargs.update(authenticator=_authenticator, auth_required=True)
            if mechanisms:
                kwargs["auth_exclude_mechanism"] = [m for m in ("LOGIN", "PLAIN") if m not in mechanisms]
            if mode == "starttls":
                kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
            else:
                kwargs.update(ssl_context=context, auth_require_tls=False)
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def url(self) -> str:
        return f"{'smtps' if self.mode == 'tls' else 'smtp'}://127.0.0.1:{self.port}"

    def start(self) -> "SMTPServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        try:
            self.controller.stop()
        except Exception:  # already stopped
            pass
