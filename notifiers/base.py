"""The one small interface every channel implements, and the one delivery error type.

A notifier turns an already-rendered message into a delivery on its channel. It holds no
business logic: what to send, to whom and when is decided before it is called, and what to
do about a failure (retry, give up, tell the admins) is decided by the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


class TransportError(Exception):
    """A delivery failed. ``message`` is a sentence an operator can act on; ``permanent``
    says whether retrying can help; ``retry_after`` (seconds) is the service's own hint."""

    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=PUBLISH"
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """One rendered message to one person."""

    key: str  # X-Planbell-Key: stable, unique to this message
    kind: str  # reminder | escalation | digest | admin
    to_address: str  # email address, or the channel's id for the person
    to_name: str
    subject: str
    text: str
    html: str | None = None
    markdown: str | None = None  # messaging channels
    occurrence_ids: tuple[str, ...] = ()
    date: datetime | None = None  # the (virtual) send time; the Date header
    attachments: tuple[Attachment, ...] = ()
    mentions: tuple[str, ...] = field(default_factory=tuple)  # messaging ids to @-mention
    wire: bytes | None = None  # what the channel transmits, when its notifier's prepare() made it
    from_name: str | None = None  # the sender's display name when PLANBELL_MAIL_FROM has none
    reply_to: str | None = None  # where a reply to an automatic message reaches a person


class Notifier:
    """A channel. ``send`` returns on delivery or raises TransportError.

    ``open``/``close`` bracket a batch so a channel can reuse one connection for it.
    """

    channel: str = ""

    def open(self) -> None:  # noqa: B027 - optional hook
        pass

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def prepare(self, message: Outgoing) -> Outgoing:
        """The message with its wire form made ahead of ``send`` (the dispatcher prepares the
        next message while the current one is on its way), or unchanged. Idempotent. Raises
        TransportError, as ``send`` would, for what can never be sent (an unusable address)."""
        return message

    def send(self, message: Outgoing) -> None:
        raise NotImplementedError

    def send_while(self, message: Outgoing, meanwhile: Callable[[], None]) -> None:
        """``send``, and call ``meanwhile`` (each call a short piece of the caller's other work)
        while waiting on the channel: at least once before the message can have been delivered,
        since the dispatcher records the previous message's outcome in the first call. A channel
        with nothing to wait on calls it once, first, as here."""
        meanwhile()
        self.send(message)

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
