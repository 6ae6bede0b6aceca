"""The dispatcher: claim due outbox rows, render, send, record; retry or give up loudly.

Claiming takes a lease (PostgreSQL: FOR UPDATE SKIP LOCKED, so two instances never take the
same row); a claimer that dies leaves a lease that expires, and the row is taken over. A row
is marked sent only after the channel accepted it, and before the next message can be
delivered (see Batch), so a crash can repeat one message (at most one per crash) but never
lose one.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from daemon import defaults
from daemon.admin import alert_admins
from daemon.compose import Composer, NothingToSay
from daemon.plan.schedule import Schedule
from daemon.store.tables import DeliveryRow, MessageRow
from notifiers.base import Notifier, Outgoing, TransportError

log = logging.getLogger("planbell.dispatch")

# Outcomes are recorded with Core statements built once, on a plain connection: loading the row
# into a Session to set five attributes and flushing them cost more than the SMTP transaction.
_MESSAGES, _DELIVERIES = MessageRow.__table__, DeliveryRow.__table__
_MARK = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("message_id"))  # SET: the other keys
_RECORD = insert(_DELIVERIES)
# A claimed batch is leased in one statement (SET status, lease_until, claimed_by: the keys given).
_LEASE = update(_MESSAGES).where(_MESSAGES.c.id.in_(bindparam("ids", expanding=True))).values(
    attempts=_MESSAGES.c.attempts + 1)

# Two transient failures in a row on one channel: it is down, not one unlucky message.
CHANNEL_DOWN_AFTER = 2


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    expired: int = 0
    late: int = 0
    deferred: int = 0  # held back by a channel's rate limit
    errors: list[str] = field(default_factory=list)


def short(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def mask(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local}@…" if domain else address


def backoff(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    delay = min(defaults.RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), defaults.RETRY_MAX_SECONDS)
    delay *= rng.uniform(0.8, 1.2)  # jitter: instances retrying a shared relay spread out
    return max(delay, retry_after or 0)


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        schedule: Callable[[], Schedule],
        composer: Callable[[], Composer],
        notifiers: dict[str, Notifier],
        instance: str,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
    ):
        self.sessions = sessions
        self.engine = sessions.kw["bind"]
        self.schedule = schedule
        self.composer = composer
        self.notifiers = notifiers
        self.instance = instance
        self.stop = stop or threading.Event()
        self.rng = rng or random.Random()
        self.recent: dict[str, deque[datetime]] = {}  # channel → send times in the last minute

    def run_once(self, now: datetime) -> DispatchStats:
        """Send everything due at ``now``; returns when nothing due is left (or on stop)."""
        stats = DispatchStats()
        self._expire(now, stats)
        started = time.monotonic()

        def current() -> datetime:
            # ``now`` moved on by the time this run has taken: leases are counted from it, so a
            # long run (a backlog, a slow relay) never hands out a lease that has already run out.
            return now + timedelta(seconds=time.monotonic() - started)

        opened: set[str] = set()
        with ExitStack() as channels:
            # One connection composes and records every message of the run: checking one out
            # of the pool per message (and the pool's rollback on its return) cost as much as
            # the statements. Each message still ends its own transactions.
            connection = channels.enter_context(self.engine.connect())
            while not self.stop.is_set():
                claimed = self._claim(now, current())
                claimed_at = current()
                if not claimed:
                    break
                composer = self.composer()
                for channel in {row.channel for row in claimed}:
                    notifier = self.notifiers.get(channel)
                    if notifier is not None and channel not in opened:
                        # Opened once for the whole run, not once per claimed batch: a backlog
                        # goes out over one SMTP connection.
                        channels.enter_context(notifier)
                        opened.add(channel)
                    rows = [r for r in claimed if r.channel == channel]
                    batch = Batch(self, connection, composer, notifier, rows, now)
                    try:
                        self._send_batch(batch, claimed_at, current, stats)
                    finally:
                        batch.record()  # the last one sent, also when leaving on an error
        return stats

    def _send_batch(self, batch: Batch, claimed_at: datetime, current: Callable[[], datetime],
                    stats: DispatchStats) -> None:
        channel, notifier, now = batch.channel, batch.notifier, batch.now
        failures_in_a_row = 0
        for row in batch.rows:
            if self.stop.is_set():
                batch.record()
                self._release(row.id)
                continue
            wait_until = self._rate_limited(channel, notifier, now)
            if failures_in_a_row >= CHANNEL_DOWN_AFTER:
                # The relay is down or silent: waiting out its timeout for every
                # message would stall the daemon for minutes. Try again later.
                wait_until = now + timedelta(seconds=backoff(1, None, self.rng))
            if wait_until is not None:
                batch.record()
                self._release(row.id, wait_until)
                stats.deferred += 1
                continue
            if not self._still_ours(row, claimed_at, current()):
                continue
            outcome = self._deliver(batch, row, stats)
            failures_in_a_row = failures_in_a_row + 1 if outcome == "retry" else 0

    # --- claiming ----------------------------------------------------------------------

    def _claim(self, now: datetime, current: datetime) -> list[MessageRow]:
        """Rows due at ``now``, or whose claimer's lease ran out, leased from ``current``."""
        with self.sessions.begin() as session:
            due = or_(
                and_(MessageRow.status == "pending", MessageRow.next_attempt_at <= now),
                and_(MessageRow.status == "sending", MessageRow.lease_until <= current),  # <=: next_wake wakes at it
            )
            query = select(MessageRow).where(due).order_by(MessageRow.next_attempt_at, MessageRow.id)
            query = query.limit(defaults.CLAIM_BATCH)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            session.expunge_all()  # handed out detached; the lease is one UPDATE, not one per row
            if not rows:
                return rows
            lease_until = current + defaults.CLAIM_LEASE
            session.execute(_LEASE, {"ids": [row.id for row in rows], "status": "sending",
                                     "lease_until": lease_until, "claimed_by": self.instance})
            for row in rows:
                if row.status == "sending":
                    log.warning("%s taking over from %s (lease expired)", short(row.key), row.claimed_by)
                row.status = "sending"
                row.lease_until = lease_until
                row.claimed_by = self.instance
                row.attempts += 1
            return rows

    def _release(self, message_id: int, not_before: datetime | None = None) -> None:
        """Give a claimed row back untried (stopping, or the channel's rate limit is reached)."""
        values = {"status": "pending", "lease_until": None, "attempts": MessageRow.attempts - 1}
        if not_before is not None:
            values["next_attempt_at"] = not_before
        with self.sessions.begin() as session:
            session.execute(update(MessageRow).where(
                MessageRow.id == message_id, MessageRow.status == "sending",
                MessageRow.claimed_by == self.instance).values(**values))

    def _still_ours(self, row: MessageRow, claimed_at: datetime, current: datetime) -> bool:
        """Before sending from an old claim, renew its lease, unless another instance took it
        over meanwhile (this one stalled past the lease): then the message is theirs to send."""
        if current - claimed_at < defaults.LEASE_RENEW_AFTER:
            return True  # the lease has long to run: nobody can have taken the row over
        with self.engine.begin() as connection:
            renewed = connection.execute(update(MessageRow).where(
                MessageRow.id == row.id, MessageRow.status == "sending",
                MessageRow.claimed_by == self.instance, MessageRow.attempts == row.attempts,
            ).values(lease_until=current + defaults.CLAIM_LEASE)).rowcount
        if not renewed:
            log.warning("%s was taken over by another instance while this one stalled; not sending",
                        short(row.key))
        return bool(renewed)

    def _rate_limited(self, channel: str, notifier: Notifier | None, now: datetime) -> datetime | None:
        """When the channel may send again, or None if it may send now. Robots allow about 20
        messages a minute; going over gets answers like WeCom's 45009 and wasted attempts.
        The limit is the robot's, not this process's: other instances' sends in the last minute
        (their deliveries in the database) count too."""
        limit = getattr(notifier, "rate_per_minute", None)
        if not limit:
            return None
        recent = self.recent.setdefault(channel, deque())
        while recent and recent[0] <= now - timedelta(minutes=1):
            recent.popleft()
        with self.engine.connect() as connection:
            others = connection.execute(select(_DELIVERIES.c.started_at).join(
                _MESSAGES, _MESSAGES.c.id == _DELIVERIES.c.message_id).where(
                _MESSAGES.c.channel == channel, _DELIVERIES.c.started_at > now - timedelta(minutes=1),
                or_(_DELIVERIES.c.instance.is_(None), _DELIVERIES.c.instance != self.instance))).scalars().all()
        times = sorted([*recent, *others])  # aware, as UTCDateTime reads them on both databases
        if len(times) >= limit:
            return times[len(times) - limit] + timedelta(minutes=1)
        recent.append(now)
        return None

    # --- delivering --------------------------------------------------------------------

    @staticmethod
    def _late(row: MessageRow, now: datetime) -> bool:
        return now - row.send_at > defaults.LATE_AFTER

    def _deliver(self, batch: Batch, row: MessageRow, stats: DispatchStats) -> str:
        """Send one claimed row's message; returns sent | skipped | retry | failed. A sent one's
        outcome is left to ``batch``, to be recorded while the next one is on its way."""
        message, notifier, now = batch.message(row), batch.notifier, batch.now
        if not isinstance(message, Outgoing) or notifier is None:
            batch.record()  # outcomes in order: the previous one first
        if isinstance(message, NothingToSay):
            self._finish(batch.connection, row.id, now, status="skipped", error=str(message))
            stats.skipped += 1
            log.info("%s %s %s SKIPPED: %s", short(row.key), row.channel, row.person, message)
            return "skipped"
        if isinstance(message, TransportError):  # e.g. no address for this person on this channel
            return self._fail(row, now, message, 0.0, stats)
        if isinstance(message, Exception):  # a template or data bug: this message fails, the daemon lives
            log.error("%s could not be composed", short(row.key), exc_info=message)
            return self._fail(row, now, TransportError(f"could not compose the message: {message!r}", permanent=True), 0.0, stats)
        if notifier is None:
            return self._fail(row, now, TransportError(f"channel {row.channel!r} is not configured", permanent=True), 0.0, stats)
        late = self._late(row, now)
        started = time.monotonic()
        try:
            notifier.send_while(message, batch.meanwhile)
        except TransportError as exc:
            batch.record()  # if the send failed before its first wait
            return self._fail(row, now, exc, time.monotonic() - started, stats)
        seconds = time.monotonic() - started
        batch.record()  # in case the notifier broke its word and never called meanwhile
        batch.unrecorded = (row.id, late, seconds)
        stats.sent += 1
        stats.late += late
        log.info("%s %s %s OK %.1fs%s", short(row.key), row.channel, mask(message.to_address), seconds,
                 " (late)" if late else "")
        return "sent"

    def _finish(self, connection: Connection, message_id: int, now: datetime, status: str,
                late: bool = False, seconds: float = 0.0, error: str | None = None) -> None:
        """Record one message's outcome, committed before the next message can be delivered:
        a crash can then repeat at most one message."""
        values = {"message_id": message_id, "status": status, "lease_until": None, "late": late,
                  "last_error": error}
        with connection.begin():
            if status == "sent":
                connection.execute(_MARK, {**values, "sent_at": now})
                connection.execute(_RECORD, {"message_id": message_id, "started_at": now, "outcome": "ok",
                                             "duration_ms": int(seconds * 1000), "instance": self.instance})
            else:
                connection.execute(_MARK, values)

    def _fail(self, row: MessageRow, now: datetime, exc: TransportError, seconds: float,
              stats: DispatchStats) -> str:
        give_up = exc.permanent or row.attempts >= defaults.MAX_ATTEMPTS
        values = {"message_id": row.id, "lease_until": None, "last_error": exc.message}
        with self.sessions.begin() as session:
            session.execute(_RECORD, {"message_id": row.id, "started_at": now, "duration_ms": int(seconds * 1000),
                                      "outcome": "failed" if give_up else "retry", "error": exc.message,
                                      "instance": self.instance})
            if give_up:
                session.execute(_MARK, {**values, "status": "failed"})
                if row.kind != "admin":  # an alert about a failed alert would loop
                    alert_admins(session, self.schedule().roster, "delivery-failed", f"{row.key}:{row.attempts}", now,
                                 {"key": row.key, "recipient": row.person, "channel": row.channel,
                                  "error": exc.message, "attempts": row.attempts})
            else:
                delay = backoff(row.attempts, exc.retry_after, self.rng)
                session.execute(_MARK, {**values, "status": "pending",
                                        "next_attempt_at": now + timedelta(seconds=delay)})
        if give_up:
            stats.failed += 1
            stats.errors.append(exc.message)
            log.error("%s %s %s FAILED after %d attempt(s): %s", short(row.key), row.channel, row.person,
                      row.attempts, exc.message)
        else:
            stats.retried += 1
            log.warning("%s %s %s RETRY in %.0fs: %s", short(row.key), row.channel, row.person, delay, exc.message)
        return "failed" if give_up else "retry"

    # --- downtime ----------------------------------------------------------------------

    def _expire(self, now: datetime, stats: DispatchStats) -> None:
        """Reminders older than the horizon are not sent; the admins hear what was skipped."""
        cutoff = now - defaults.LATE_HORIZON
        with self.sessions.begin() as session:
            # One conditional UPDATE: a row another instance claimed in the meantime is theirs.
            expire = update(MessageRow).where(
                MessageRow.status == "pending", MessageRow.send_at < cutoff,
                MessageRow.kind.in_(("reminder", "escalation", "digest")),
            ).values(status="expired").returning(MessageRow.send_at, MessageRow.key)
            rows = sorted(session.execute(expire, execution_options={"synchronize_session": False}).all())
            if not rows:
                return
            alert_admins(session, self.schedule().roster, "expired", now.date().isoformat(), now, {
                "count": len(rows), "oldest": min(r.send_at for r in rows).isoformat(),
                "horizon_days": defaults.LATE_HORIZON.days,
                "keys": [r.key for r in rows[:50]],
            })
        stats.expired += len(rows)
        log.warning("%d message(s) older than %s expired unsent; admins alerted", len(rows), defaults.LATE_HORIZON)


class Batch:
    """One channel's share of a claimed batch on its way out.

    Its messages are composed together before the first is sent, from one read of their
    duties (in one warm loop: composing each between two SMTP waits cost half as much again).
    While the channel waits on a message's replies (``meanwhile``), the batch first records
    the outcome of the message sent before, then prepares the next one's wire form. The
    channel makes the first of those calls before the message in hand can have been
    delivered (Notifier.send_while), so at any moment at most one message is delivered and
    unrecorded: a crash repeats at most one, as when each outcome was recorded before the
    next send began.
    """

    def __init__(self, dispatcher: Dispatcher, connection: Connection, composer: Composer,
                 notifier: Notifier | None, rows: list[MessageRow], now: datetime):
        self.dispatcher, self.connection, self.composer = dispatcher, connection, composer
        self.notifier, self.rows, self.now = notifier, rows, now
        self.channel = rows[0].channel
        self.composed: dict[int, tuple[Outgoing | Exception, float]] = {}  # row id → (message, when)
        self.unprepared = iter([row.id for row in rows])  # the next ones to prepare, in order
        self.unrecorded: tuple[int, bool, float] | None = None  # a sent row's (id, late, seconds)
        # A rate-limited robot sends a few a minute: its messages are composed just in time.
        if not getattr(notifier, "rate_per_minute", None):
            with dispatcher.sessions(bind=connection) as session:  # closing it ends its read
                composer.prefetch(session, rows)
                for row in rows:
                    self.composed[row.id] = (self._compose(session, row), time.monotonic())

    def message(self, row: MessageRow) -> Outgoing | Exception:
        """The row's message, prepared for the channel: as composed with the batch if that was
        recent enough (see defaults.COMPOSED_FRESH_FOR), else composed now."""
        message, composed_at = self.composed.pop(row.id, (None, 0.0))
        if message is None or time.monotonic() - composed_at > defaults.COMPOSED_FRESH_FOR:
            with self.dispatcher.sessions(bind=self.connection) as session:
                message = self._compose(session, row)
        return self._prepare(message)

    def meanwhile(self) -> None:
        """One piece of work while the channel waits: record the outcome of the message sent
        before or, that done, prepare the next message (MIME: byte work, which unlike the
        templates loses nothing to running between two socket calls)."""
        if self.unrecorded is not None:
            self.record()
            return
        for row_id in self.unprepared:  # consumed as it goes: each row is looked at once
            if row_id in self.composed:  # not yet sent
                message, composed_at = self.composed[row_id]
                self.composed[row_id] = (self._prepare(message), composed_at)
                return

    def record(self) -> None:
        """Commit the outcome of the message sent last, if it is not yet."""
        if self.unrecorded is not None:
            message_id, late, seconds = self.unrecorded
            self.dispatcher._finish(self.connection, message_id, self.now, status="sent", late=late,
                                    seconds=seconds)
            self.unrecorded = None

    def _compose(self, session: Session, row: MessageRow) -> Outgoing | Exception:
        """The row's message; or why there is none (NothingToSay, TransportError, a template
        bug: that row's failure, not the batch's)."""
        try:
            return self.composer.compose(session, row, self.now, Dispatcher._late(row, self.now))
        except Exception as exc:  # noqa: BLE001 - handed over with the row
            return exc

    def _prepare(self, message: Outgoing | Exception) -> Outgoing | Exception:
        """The message with its wire form (Notifier.prepare, idempotent), or why it has none
        (e.g. an unusable address)."""
        if not isinstance(message, Outgoing) or self.notifier is None:
            return message
        try:
            return self.notifier.prepare(message)
        except Exception as exc:  # noqa: BLE001 - handed over with the row
            return exc
