"""Email over SMTP: one connection per batch, and every smtplib, socket and ssl failure told
as a sentence an operator can act on, marked permanent only when retrying cannot help."""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
from collections.abc import Callable

from daemon import defaults
from notifiers.base import Notifier, Outgoing, TransportError
from notifiers.mime import envelope_sender, with_wire

# The well-known port for each security mode: relay (RFC 5321), submission with STARTTLS
# (RFC 6409), submission over implicit TLS (RFC 8314).
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}

_LEADING_DOT = re.compile(rb"(?m)^\.")


class _CallersError(Exception):
    """What the caller's ``meanwhile`` raised, carried through the SMTP error handling."""

    def __init__(self, error: Exception):
        super().__init__(error)
        self.error = error


def _nothing() -> None:
    pass


def _command(smtp: smtplib.SMTP, verb: str, args: str, meanwhile: Callable[[], None]) -> tuple[int, bytes]:
    smtp.putcmd(verb, args)
    return _reply(smtp, meanwhile)


def _reply(smtp: smtplib.SMTP, meanwhile: Callable[[], None]) -> tuple[int, bytes]:
    """The server's reply, read after doing ``meanwhile`` (it travels in the meantime)."""
    try:
        meanwhile()
    except Exception as exc:
        raise _CallersError(exc) from exc
    return smtp.getreply()


def _abandon(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal, as smtplib does: 421 closes the connection, anything else resets the
    session so the next message starts clean."""
    if code == 421:
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


# A relay that closes an idle connection answers the next command with 421 or not at all;
# either way a fresh connection is worth one try before the message counts as failed.
_DROPPED = (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLEOFError)


class SmtpNotifier(Notifier):
    """Sends through an SMTP server. Between ``open()`` and ``close()`` one connection is
    made by the first ``send()`` and reused; a ``send()`` outside a batch connects for itself.
    All failures, including connecting and logging in, surface from ``send()``."""

    channel = "email"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password=None,  # str, or anything with get_secret_value() (pydantic's SecretStr)
        timeout: float = defaults.SMTP_TIMEOUT_SECONDS,
        mail_from: str = "planbell <planbell@localhost>",
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ):
        if security not in DEFAULT_PORTS:
            raise ValueError(f"security {security!r} is not one of: none, starttls, tls")
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.mail_from = mail_from
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        self._in_batch = False

    def open(self) -> None:
        self._in_batch = True

    def close(self) -> None:
        self._in_batch = False
        self._disconnect(politely=True)

    def prepare(self, message: Outgoing) -> Outgoing:
        return with_wire(message, self.mail_from, "\r\n")

    def send(self, message: Outgoing) -> None:
        self.send_while(message, _nothing)

    def send_while(self, message: Outgoing, meanwhile: Callable[[], None]) -> None:
        data = self.prepare(message).wire
        sender = envelope_sender(self.mail_from)
        try:
            reused = self._smtp is not None
            try:
                self._transact(self._connected(), sender, message.to_address, data, meanwhile)
            except Exception as exc:
                if not (reused and (isinstance(exc, _DROPPED) or _reply_code(exc) == 421)):
                    raise
                # The message was not accepted on the old connection (in the rare case the
                # server dropped it after accepting, the same Message-ID lets clients dedupe).
                self._disconnect()
                self._transact(self._connected(), sender, message.to_address, data, meanwhile)
        except _CallersError as failed:
            # The caller's own work failed halfway through a transaction (its database, say):
            # the session's state is unknown, and the error is the caller's to handle.
            self._disconnect()
            raise failed.error from None
        except (smtplib.SMTPException, OSError) as exc:
            code = _reply_code(exc)
            if code is None or code == 421:
                # After a refusal smtplib has sent RSET and the session is clean; after
                # anything else its state is unknown.
                self._disconnect()
            raise self._translate(exc, message.to_address) from exc
        except TransportError:
            self._disconnect()
            raise
        finally:
            if not self._in_batch:
                self._disconnect(politely=True)

    # --- one message ----------------------------------------------------------------------

    def _transact(self, smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes,
                  meanwhile: Callable[[], None]) -> None:
        """smtplib's sendmail() for one recipient, calling ``meanwhile`` while each reply is on
        its way: the caller's work overlaps the server's instead of waiting for it. The first
        call comes before the message's end of data is sent, so before it can be delivered."""
        smtp.ehlo_or_helo_if_needed()
        size = f" SIZE={len(data)}" if smtp.does_esmtp and smtp.has_extn("size") else ""
        # Both are bare addr-specs checked by notifiers.mime (ASCII, no spaces or line breaks):
        # smtplib's quoteaddr() would parse them again only to arrive at the same <address>.
        code, reply = _command(smtp, "mail", f"FROM:<{sender}>{size}", meanwhile)
        if code != 250:
            _abandon(smtp, code)
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        code, reply = _command(smtp, "rcpt", f"TO:<{recipient}>", meanwhile)
        if code not in (250, 251):
            _abandon(smtp, code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        code, reply = _command(smtp, "data", "", meanwhile)
        if code != 354:
            _abandon(smtp, code)
            raise smtplib.SMTPDataError(code, reply)
        ending = b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
        smtp.send(_LEADING_DOT.sub(b"..", data) + ending)  # RFC 5321 4.5.2: dot-stuffing
        code, reply = _reply(smtp, meanwhile)
        if code != 250:
            _abandon(smtp, code)
            raise smtplib.SMTPDataError(code, reply)

    # --- connection ---------------------------------------------------------------------

    def _connected(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _context(self) -> ssl.SSLContext:
        # Loading the system's CA store takes ~80 ms: once per notifier, not per connection,
        # and never for plain SMTP.
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self._local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
            )
        try:
            smtp.ehlo()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise TransportError(
                        f"SMTP server {self._where} does not offer STARTTLS; "
                        "check PLANBELL_SMTP_SECURITY (none, starttls or tls) and the port",
                        permanent=True,
                    )
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                if not smtp.has_extn("auth"):
                    raise TransportError(
                        f"SMTP server {self._where} does not offer AUTH on this connection "
                        "(many servers offer it only after STARTTLS)",
                        permanent=True,
                    )
                self._login(smtp)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        username, password = self.username, self._secret() or ""
        if (username + password).isascii():
            smtp.login(username, password)  # picks CRAM-MD5, PLAIN or LOGIN from the offer
            return
        # smtplib encodes credentials as ASCII and dies on anything else; SASL PLAIN
        # (RFC 4616) carries UTF-8, so a password such as "密码2026" is sent that way.
        if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
            raise TransportError(
                f"SMTP server {self._where} does not offer AUTH PLAIN, the only way to send "
                "a login or password with non-ASCII characters",
                permanent=True,
            )
        token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
        code, reply = smtp.docmd("AUTH", "PLAIN " + token)
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def _disconnect(self, politely: bool = False) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if politely:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the message went through or failed already; QUIT is a courtesy
        finally:
            smtp.close()

    def _secret(self) -> str:
        password = self._password
        return password.get_secret_value() if hasattr(password, "get_secret_value") else password

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    # --- the border: library exceptions become sentences ---------------------------------

    def _translate(self, exc: BaseException, recipient: str) -> TransportError:
        error = self._describe(exc, recipient)
        secret = self._secret() if self._password else None
        if secret and secret in error.message:  # a server might echo what it was sent
            error = TransportError(error.message.replace(secret, "***"), error.permanent)
        return error

    def _describe(self, exc: BaseException, recipient: str) -> TransportError:
        where, timeout = self._where, f"{self.timeout:g} s"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, reply = next(iter(exc.recipients.values()))
            return _refusal(f"SMTP server {where} refused recipient {recipient}", code, reply)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return _refusal(f"SMTP server {where} refused sender {exc.sender}", *_code_reply(exc))
        if isinstance(exc, smtplib.SMTPDataError):
            return _refusal(f"SMTP server {where} rejected the message", *_code_reply(exc))
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return _refusal(
                f"SMTP server {where} rejected the login of user {self.username!r}",
                *_code_reply(exc),
            )
        if isinstance(exc, smtplib.SMTPConnectError):
            return _refusal(f"SMTP server {where} refused the session", *_code_reply(exc))
        if isinstance(exc, smtplib.SMTPResponseException):
            return _refusal(f"SMTP server {where} answered", *_code_reply(exc))
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            if isinstance(exc.__context__, TimeoutError):
                return TransportError(f"Connection to {where} timed out after {timeout}")
            return TransportError(f"SMTP server {where} closed the connection unexpectedly")
        if isinstance(exc, smtplib.SMTPException):
            # e.g. "No suitable authentication method found.": the server's offer is the problem
            return TransportError(f"SMTP with {where} failed: {exc}", permanent=True)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return TransportError(
                f"TLS certificate of {where} could not be verified: {exc.verify_message}"
            )
        if isinstance(exc, ssl.SSLError):
            return TransportError(
                f"TLS with {where} failed ({exc.reason or exc}); "
                f"is PLANBELL_SMTP_SECURITY={self.security} right for port {self.port}?"
            )
        if isinstance(exc, TimeoutError):
            return TransportError(f"Connection to {where} timed out after {timeout}")
        if isinstance(exc, ConnectionRefusedError):
            return TransportError(f"Connection to {where} refused; is the SMTP server running?")
        if isinstance(exc, socket.gaierror):
            return TransportError(f"Cannot resolve SMTP host {self.host!r}: {exc.strerror}")
        return TransportError(f"Connection to {where} failed: {exc.strerror or exc}")


def _reply_code(exc: BaseException) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return next(iter(exc.recipients.values()))[0]
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    return None


def _code_reply(exc: smtplib.SMTPResponseException) -> tuple[int, bytes | str]:
    return exc.smtp_code, exc.smtp_error


def _refusal(what: str, code: int, reply: bytes | str) -> TransportError:
    """4xx replies are worth retrying; 5xx replies will not change on their own."""
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    reply = " ".join(reply.split())
    return TransportError(f"{what}: {code} {reply}", permanent=500 <= code < 600)
