"""Turns an Outgoing into a MIME message every mail client and every old relay accepts.

Names, titles and keys come from hand-edited YAML, so every header value is stripped of line
breaks and control characters here, and addresses with them are refused: nothing in a
schedule can add a header. The output is 7-bit ASCII with lines of at most 78 characters.
"""

from __future__ import annotations

import base64
import hashlib
import re
from email import policy as email_policy
from email.errors import HeaderParseError
from email.headerregistry import (
    Address,
    HeaderRegistry,
    UniqueAddressHeader,
    UniqueUnstructuredHeader,
    UnstructuredHeader,
)
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from daemon import clock
from notifiers.base import Outgoing, TransportError

# RFC 5322 asks for lines of at most 78 characters; RFC 2047 for encoded words of at most 75.
MAX_LINE = 78
MAX_WORD = 75

# C0/C1 controls (CR, LF, TAB, NUL, ...), Unicode line and paragraph separators (Python's
# splitlines() treats them as line ends), and lone surrogates (not encodable).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
# Path separators, and the characters mail parsers trip over in a filename parameter.
_UNSAFE_IN_FILENAME = re.compile(r'[\\/"<>]')
_EW_PREFIX, _EW_SUFFIX = "=?utf-8?b?", "?="


def clean(value: str) -> str:
    """``value`` as one line: every run of control characters becomes one space."""
    return _CONTROLS.sub(" ", value).strip()


def clean_name(value: str) -> str:
    """A display name as one line with single spaces: mail parsers collapse whitespace in
    names anyway, so this is what the recipient's client will show."""
    return " ".join(clean(value).split())


def message_id(key: str) -> str:
    """The same key gives the same Message-ID, so a re-send after a crash is recognisably
    the same message to the recipient's client."""
    return f"<{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:24]}@planbell>"


def build_email(message: Outgoing, mail_from: str) -> EmailMessage:
    """The MIME message for ``message``; TransportError(permanent) if an address is unusable."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _sender(mail_from)
    msg["To"] = Address(
        clean_name(message.to_name), addr_spec=_addr_spec(message.to_address, "Recipient")
    )
    msg["Subject"] = clean(message.subject)
    msg["Date"] = message.date or clock.now()
    msg["Message-ID"] = message_id(message.key)
    # RFC 3834: tells vacation responders and ticket systems not to answer a reminder.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Planbell-Key"] = clean(message.key)
    msg["X-Planbell-Kind"] = clean(message.kind)
    if message.occurrence_ids:
        msg["X-Planbell-Occurrences"] = clean(", ".join(message.occurrence_ids))

    msg.set_content(message.text, subtype="plain", charset="utf-8")
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html", charset="utf-8")
    for attachment in message.attachments:
        content_type = POLICY.header_factory("Content-Type", clean(attachment.content_type))
        msg.add_attachment(
            attachment.data,
            maintype=content_type.maintype,
            subtype=content_type.subtype,
            params=dict(content_type.params),
            filename=_UNSAFE_IN_FILENAME.sub("_", clean(attachment.filename)) or None,
        )
    for part in msg.walk():
        # The stdlib stamps MIME-Version on parts it creates; it belongs on the message only.
        if part is not msg:
            del part["MIME-Version"]
    return msg


def to_bytes(msg: EmailMessage, linesep: str = "\r\n") -> bytes:
    """The wire form: CRLF for SMTP, LF for files such as a Maildir."""
    return msg.as_bytes(policy=msg.policy.clone(linesep=linesep))


def _addr_spec(address: str, role: str) -> str:
    if _CONTROLS.search(address) or " " in address:
        raise TransportError(
            f"{role} address {address!r} contains spaces, line breaks or control characters; "
            "refusing to build a message with it",
            permanent=True,
        )
    if not address.isascii():
        raise TransportError(
            f"{role} address {address!r} is not ASCII; internationalised addresses are not supported",
            permanent=True,
        )
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        parsed = None
    if parsed is None or not parsed.username or not parsed.domain:
        raise TransportError(
            f"{role} address {address!r} is not a valid email address", permanent=True
        )
    return address


def _sender(mail_from: str) -> Address:
    if _CONTROLS.search(mail_from):
        raise TransportError(
            f"Sender PLANBELL_MAIL_FROM={mail_from!r} contains line breaks or control characters",
            permanent=True,
        )
    name, address = parseaddr(mail_from)
    return Address(
        clean_name(name), addr_spec=_addr_spec(address or mail_from, "Sender (PLANBELL_MAIL_FROM)")
    )


def envelope_sender(mail_from: str) -> str:
    """The bare address of ``mail_from`` for SMTP's MAIL FROM."""
    return _sender(mail_from).addr_spec


# --- Header folding -------------------------------------------------------------------------
# The stdlib folder (email.policy.default) loses the space between an ASCII word and the
# encoded word after it for some mixed Chinese/ASCII subjects ("jigead 的" comes back as
# "jigead的"), and older relays mangle 8-bit or over-long header lines. So the headers that
# carry text from the schedule are folded here: ASCII that fits is left readable; anything
# else becomes base64 encoded words of whole characters, one per line.


def _encoded_words(text: str, first_room: int) -> list[str]:
    """``text`` as RFC 2047 B-encoded words; the first fits ``first_room`` characters, the
    others MAX_WORD. Characters are never split across words (old decoders choke on that)."""

    def width(nbytes: int) -> int:
        return len(_EW_PREFIX) + len(_EW_SUFFIX) + 4 * -(-nbytes // 3)

    chunks, chunk, nbytes, room = [], "", 0, first_room
    for char in text:
        size = len(char.encode("utf-8"))
        if chunk and width(nbytes + size) > room:
            chunks.append(chunk)
            chunk, nbytes, room = "", 0, MAX_WORD
        chunk += char
        nbytes += size
    chunks.append(chunk)
    return [
        _EW_PREFIX + base64.b64encode(c.encode("utf-8")).decode("ascii") + _EW_SUFFIX
        for c in chunks
    ]


def _fill(name: str, tokens: list[str], linesep: str) -> tuple[str, bool]:
    """Header lines with ``tokens`` packed greedily, folded at the spaces between them; and
    whether every line kept within MAX_LINE."""
    lines, line = [], f"{name}:"
    for token in tokens:
        if line != f"{name}:" and len(line) + 1 + len(token) > MAX_LINE:
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return linesep.join(lines) + linesep, all(len(x) <= MAX_LINE for x in lines)


def _readable_ascii(text: str) -> bool:
    return text.isascii() and "=?" not in text


class _AsciiUnstructured(UnstructuredHeader):
    def fold(self, *, policy) -> str:
        text = str(self)
        if _readable_ascii(text):
            folded, fits = _fill(self.name, text.split(" "), policy.linesep)
            if fits:
                return folded
        words = _encoded_words(text, MAX_LINE - len(self.name) - 2) if text else []
        return _fill(self.name, words, policy.linesep)[0]


class _AsciiUniqueUnstructured(UniqueUnstructuredHeader, _AsciiUnstructured):
    pass


class _AsciiAddress(UniqueAddressHeader):
    def fold(self, *, policy) -> str:
        tokens: list[str] = []
        for i, address in enumerate(self.addresses):
            name, spec = address.display_name, address.addr_spec
            plain = formataddr((name, spec)) + ("," if i < len(self.addresses) - 1 else "")
            if not name or (_readable_ascii(name) and len(self.name) + 2 + len(plain) <= MAX_LINE):
                tokens.append(plain)
                continue
            room = MAX_LINE - len(self.name) - 2 if not tokens else MAX_WORD
            tokens += _encoded_words(name, room)
            tokens.append(plain[plain.rindex("<") :])
        return _fill(self.name, tokens, policy.linesep)[0]


_REGISTRY = HeaderRegistry(default_class=_AsciiUnstructured)
_REGISTRY.map_to_type("subject", _AsciiUniqueUnstructured)
_REGISTRY.map_to_type("from", _AsciiAddress)
_REGISTRY.map_to_type("to", _AsciiAddress)

# cte_type="7bit": bodies go out as quoted-printable or base64, never raw 8-bit, because
# not every relay on a government network speaks 8BITMIME.
POLICY = email_policy.SMTP.clone(header_factory=_REGISTRY, cte_type="7bit")
