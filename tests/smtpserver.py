"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the email tests, and a self-signed
certificate for its TLS, made fresh for each test run."""

from __future__ import annotations

import asyncio
import email
import email.parser
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# One account smtplib can log in with itself, one it cannot (non-ASCII password).
ACCOUNTS = {"planbell": "s3cret-2026", "zhangwei": "密码-s3cret"}


def free_port() -> int:
    """A port nothing listens on (the kernel just handed it out and we let it go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Certificate:
    certfile: Path
    keyfile: Path
    pem: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certfile, self.keyfile)
        return context

    def client_context(self) -> ssl.SSLContext:
        """The default, verifying context, trusting only this certificate."""
        return ssl.create_default_context(cadata=self.pem)


def self_signed_certificate(directory: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Fixed dates: the test must not depend on the clock (or on freezegun).
        .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2100, 1, 1, tzinfo=UTC))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(pem)
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(certfile, keyfile, pem.decode("ascii"))


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    session: object

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def key(self) -> str:
        """X-Planbell-Key, read from the headers alone (cheap enough for thousands)."""
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(self.raw)
        return str(headers["X-Planbell-Key"])


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it receives and answers as told."""

    rcpt_reply: str | None = None  # e.g. "550 5.1.1 No such user"
    data_reply: str | None = None  # e.g. "451 4.3.0 Try again later"
    received: list[Received] = field(default_factory=list)
    last_server: object = None
    # Called (on the server's thread) with each message once it is kept, before the client
    # hears 250: a test can act at the exact moment a message is delivered but unconfirmed.
    on_data: Callable[[Received], None] | None = None

    @property
    def connections(self) -> int:
        """Connections that delivered something (each has its own session)."""
        return len({id(r.session) for r in self.received})

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.last_server = server
        received = Received(
            envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, session
        )
        self.received.append(received)
        if self.on_data is not None:
            self.on_data(received)
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() in ACCOUNTS
        and auth_data.password == ACCOUNTS[auth_data.login.decode()].encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


class Server:
    """aiosmtpd on a free port of 127.0.0.1; ``kwargs`` go to aiosmtpd's SMTP."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, **kwargs):
        self.handler = Recorder()
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ssl_context=ssl_context, **kwargs
        )

    def __enter__(self) -> Server:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def drop_connection(self) -> None:
        """Close the last delivering connection from the server's side, as an idle relay does."""
        server = self.handler.last_server

        async def abort():
            server.transport.abort()
            await asyncio.sleep(0)  # let the loop run the close it just scheduled

        asyncio.run_coroutine_threadsafe(abort(), self.controller.loop).result()
