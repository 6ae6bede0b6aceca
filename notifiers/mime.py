"""Turns an Outgoing into a MIME message every mail client and every old relay accepts.

Names, titles and keys come from hand-edited YAML, so every header value is stripped of line
breaks and control characters here, and addresses with them are refused: nothing in a
schedule can add a header. The output is 7-bit ASCII with lines of at most 78 characters.

The wire form is written here, not by email.message.EmailMessage: the stdlib parses every
header it is given and folds it again on output, about 5 ms a message, more than rendering the
templates and recording the delivery together. The layout is the stdlib's own (text parts in
7bit, quoted-printable or base64 by its rule; multipart/alternative inside multipart/mixed),
and an attachment's headers, which depend only on its type and name, are still made by the
stdlib, once per type and name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import re
import sys
from dataclasses import replace
from email import policy as email_policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import MIMEPart
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache

from daemon import clock
from notifiers.base import Attachment, Outgoing, TransportError

# RFC 5322 asks for lines of at most 78 characters; RFC 2047 for encoded words of at most 75.
MAX_LINE = 78
MAX_WORD = 75

# C0/C1 controls (CR, LF, TAB, NUL, ...), Unicode line and paragraph separators (Python's
# splitlines() treats them as line ends), and lone surrogates (not encodable).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
# Path separators, and the characters mail parsers trip over in a filename parameter.
_UNSAFE_IN_FILENAME = re.compile(r'[\\/"<>]')
_EW_PREFIX, _EW_SUFFIX = "=?utf-8?b?", "?="

# cte_type="7bit": bodies go out as quoted-printable or base64, never raw 8-bit, because
# not every relay on a government network speaks 8BITMIME. (Used for attachment headers.)
POLICY = email_policy.SMTP.clone(cte_type="7bit")


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


class MimeMessage:
    """A built message: its top-level header values, read as from an EmailMessage
    (``msg["Message-ID"]``), and its wire form (``to_bytes``)."""

    __slots__ = ("_headers", "_text")

    def __init__(self, headers: dict[str, str], text: str):
        self._headers = {name.lower(): value for name, value in headers.items()}
        self._text = text  # lines end in "\n"

    def __getitem__(self, name: str) -> str | None:
        return self._headers.get(name.lower())

    def as_bytes(self, linesep: str) -> bytes:
        text = self._text if linesep == "\n" else self._text.replace("\n", linesep)
        return text.encode("ascii")


def build_email(message: Outgoing, mail_from: str) -> MimeMessage:
    """The MIME message for ``message``; TransportError(permanent) if an address is unusable."""
    sender = _sender(mail_from)
    if not sender[0] and message.from_name:
        sender = (clean_name(message.from_name), sender[1])
    to = (clean_name(message.to_name), _addr_spec(message.to_address, "Recipient"))
    values = {
        "From": _display(*sender),
        "To": _display(*to),
        "Subject": clean(message.subject),
        "Date": format_datetime(message.date or clock.now()),
        "Message-ID": message_id(message.key),
        # RFC 3834: tells vacation responders and ticket systems not to answer a reminder.
        "Auto-Submitted": "auto-generated",
        "X-Planbell-Key": clean(message.key),
        "X-Planbell-Kind": clean(message.kind),
    }
    if message.occurrence_ids:
        values["X-Planbell-Occurrences"] = clean(", ".join(message.occurrence_ids))
    lines = [*_address("From", *sender), *_address("To", *to)]
    if message.reply_to:
        values["Reply-To"] = _addr_spec(message.reply_to, "Reply-To (PLANBELL_REPLY_TO)")
        lines += _address("Reply-To", "", values["Reply-To"])
    for name, value in values.items():
        if name not in ("From", "To", "Reply-To"):
            lines += _unstructured(name, value)

    root = _text_part(message.text, "plain")
    if message.html is not None:
        root = _multipart("alternative", [root, _text_part(message.html, "html")])
    if message.attachments:
        root = _multipart("mixed", [root, *map(_attachment_part, message.attachments)])
    headers, body = root
    return MimeMessage(values, "\n".join(lines) + "\nMIME-Version: 1.0\n" + headers + "\n" + body)


def to_bytes(msg: MimeMessage, linesep: str = "\r\n") -> bytes:
    """The wire form: CRLF for SMTP, LF for files such as a Maildir."""
    return msg.as_bytes(linesep)


def with_wire(message: Outgoing, mail_from: str, linesep: str) -> Outgoing:
    """``message`` carrying its MIME bytes (``Outgoing.wire``), built unless already there."""
    if message.wire is not None:
        return message
    return replace(message, wire=to_bytes(build_email(message, mail_from), linesep))


# Every recipient's address is checked once per process: with 1,024 kept, an office of 3,000
# people cycled through the cache and parsed every address of every message again.
@lru_cache(maxsize=65536)
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


@lru_cache(maxsize=64)
def _sender(mail_from: str) -> tuple[str, str]:
    if _CONTROLS.search(mail_from):
        raise TransportError(
            f"Sender PLANBELL_MAIL_FROM={mail_from!r} contains line breaks or control characters",
            permanent=True,
        )
    name, address = parseaddr(mail_from)
    return clean_name(name), _addr_spec(address or mail_from, "Sender (PLANBELL_MAIL_FROM)")


def envelope_sender(mail_from: str) -> str:
    """The bare address of ``mail_from`` for SMTP's MAIL FROM."""
    return _sender(mail_from)[1]


def _display(name: str, spec: str) -> str:
    return f"{name} <{spec}>" if name else spec


# --- Bodies ---------------------------------------------------------------------------------
# A part is (its header lines, its body), each line ending in "\n".


def _text_part(text: str, subtype: str) -> tuple[str, str]:
    """The stdlib's choice (email.contentmanager): 7bit if the text is ASCII in short lines,
    else whichever of quoted-printable and base64 is shorter over the first ten lines.
    Base64 carries MIME's canonical CRLF line ends, as the stdlib's does."""
    lines = text.encode("utf-8").splitlines()
    if text.isascii() and max(map(len, lines), default=0) <= MAX_LINE:
        cte, body = "7bit", b"\n".join(lines).decode("ascii") + "\n"
    else:
        sniff = lines[:10]
        qp_size = len(binascii.b2a_qp(b"\n".join(sniff) + b"\n", istext=True))
        if qp_size > len(binascii.b2a_base64(b"\r\n".join(sniff) + b"\r\n")):
            cte, body = "base64", base64.encodebytes(b"\r\n".join(lines) + b"\r\n").decode("ascii")
        else:
            # (ends in "\n": b2a_qp keeps a text's last line end)
            cte, body = "quoted-printable", binascii.b2a_qp(b"\n".join(lines) + b"\n", istext=True).decode("ascii")
    return f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: {cte}\n', body


def _multipart(subtype: str, parts: list[tuple[str, str]]) -> tuple[str, str]:
    texts = [headers + "\n" + body for headers, body in parts]
    boundary = _boundary(texts)
    delimiter = f"--{boundary}\n"
    body = delimiter + ("\n" + delimiter).join(texts) + f"\n--{boundary}--\n"
    header = f'Content-Type: multipart/{subtype}; boundary="{boundary}"'
    if len(header) > MAX_LINE:
        header = header.replace(" boundary=", "\n boundary=")
    return header + "\n", body


def _boundary(texts: list[str]) -> str:
    """As the stdlib makes them; base64 and quoted-printable bodies cannot contain one."""
    while True:
        boundary = f"==============={random.randrange(sys.maxsize):019d}=="
        if not any(boundary in text for text in texts):
            return boundary


def _attachment_part(attachment: Attachment) -> tuple[str, str]:
    headers = _attachment_headers(attachment.content_type, attachment.filename)
    return headers, base64.encodebytes(attachment.data).decode("ascii")


@lru_cache(maxsize=64)
def _attachment_headers(content_type: str, filename: str) -> str:
    """Content-Type, -Disposition and -Transfer-Encoding of an attachment, by the stdlib
    (parameters in RFC 2231 when the name is not ASCII, folded when long)."""
    parsed = POLICY.header_factory("Content-Type", clean(content_type))
    part = MIMEPart(policy=POLICY)
    part.set_content(
        b"",
        maintype=parsed.maintype,
        subtype=parsed.subtype,
        params=dict(parsed.params),
        filename=_UNSAFE_IN_FILENAME.sub("_", clean(filename)) or None,
        disposition="attachment",
    )
    return part.as_bytes(policy=POLICY.clone(linesep="\n")).decode("ascii").split("\n\n")[0] + "\n"


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
        code = ord(char)
        size = 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
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


def _fill(name: str, tokens: list[str]) -> tuple[list[str], bool]:
    """Header lines with ``tokens`` packed greedily, folded at the spaces between them; and
    whether every line kept within MAX_LINE."""
    lines, line = [], f"{name}:"
    for token in tokens:
        if line != f"{name}:" and len(line) + 1 + len(token) > MAX_LINE:
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return lines, all(len(x) <= MAX_LINE for x in lines)


def _readable_ascii(text: str) -> bool:
    return text.isascii() and "=?" not in text


def _unstructured(name: str, text: str) -> list[str]:
    if len(name) + 2 + len(text) <= MAX_LINE and _readable_ascii(text):
        return [f"{name}: {text}"]  # what _fill makes of it, the usual case
    if _readable_ascii(text):
        lines, fits = _fill(name, text.split(" "))
        if fits:
            return lines
    words = _encoded_words(text, MAX_LINE - len(name) - 2)  # (an empty text took the first way)
    return _fill(name, words)[0]


@lru_cache(maxsize=65536)  # the roster's names and addresses, over and over (a large office's all)
def _address(name: str, display_name: str, spec: str) -> tuple[str, ...]:
    if not display_name:
        return tuple(_fill(name, [spec])[0])
    if _readable_ascii(display_name):
        plain = formataddr((display_name, spec))  # quoted if it needs to be
        if len(name) + 2 + len(plain) <= MAX_LINE:
            return tuple(_fill(name, [plain])[0])
    return tuple(_fill(name, [*_encoded_words(display_name, MAX_LINE - len(name) - 2), f"<{spec}>"])[0])
