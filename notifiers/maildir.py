"""Email into a Maildir: the embedded default when no SMTP server is configured. The same
MIME message an SMTP server would get, readable by any mail client (mutt -f var/mail)."""

from __future__ import annotations

import mailbox
import os

from notifiers.base import Notifier, Outgoing, TransportError
from notifiers.mime import with_wire


class MaildirNotifier(Notifier):
    channel = "email"

    def __init__(self, path: str | os.PathLike, mail_from: str):
        self.path = os.fspath(path)
        self.mail_from = mail_from

    def prepare(self, message: Outgoing) -> Outgoing:
        # Files in a Maildir use the local line ending, not SMTP's CRLF.
        return with_wire(message, self.mail_from, "\n")

    def send(self, message: Outgoing) -> None:
        data = self.prepare(message).wire
        try:
            # mailbox creates the Maildir itself but not the folders above it (var/).
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            mailbox.Maildir(self.path, create=True).add(data)
        except (OSError, mailbox.Error) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise TransportError(f"Cannot write to Maildir {self.path}: {reason}") from exc
