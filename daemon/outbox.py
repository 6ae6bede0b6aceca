"""The outbox: planned messages become rows with a natural unique key, inserted at most once.

Re-planning is an idempotent upsert: a new key is inserted, a pending row gets its items and
time updated, a pending row nobody wants any more (its duty was checked off) is cancelled.
Rows that were sent, failed or expired are history and never change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daemon.reminders import PlannedMessage
from daemon.store.tables import MessageRow

PLANNED_KINDS = ("reminder", "escalation", "digest")


def insert_ignore(session: Session, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT (key) DO NOTHING: two planners never double a message."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(rows), 500):
        session.execute(insert(MessageRow).values(rows[start:start + 500]).on_conflict_do_nothing(index_elements=["key"]))


def enqueue(session: Session, *, key: str, kind: str, person: str, channel: str, send_at: datetime,
            content: dict, now: datetime) -> None:
    insert_ignore(session, [_row(key, kind, person, channel, send_at, content, now)])


def _row(key, kind, person, channel, send_at, content, now) -> dict:
    return {
        "key": key, "kind": kind, "person": person, "channel": channel, "send_at": send_at,
        "content": content, "status": "pending", "attempts": 0, "next_attempt_at": send_at,
        "late": False, "created_at": now,
    }


def apply_plan(session: Session, planned: dict[str, PlannedMessage], now: datetime) -> dict[str, int]:
    """Make pending reminder/escalation rows match ``planned`` (the caller commits)."""
    counts = {"added": 0, "updated": 0, "cancelled": 0}
    planned_kind = MessageRow.kind.in_(PLANNED_KINDS)
    changeable = MessageRow.status.in_(("pending", "cancelled"))
    # Only rows that may still change are loaded whole; of the history (sent, failed, expired,
    # a year's worth) the keys are enough to know not to plan them again.
    existing = {row.key: row for row in session.scalars(select(MessageRow).where(planned_kind, changeable))}
    history = set(session.scalars(select(MessageRow.key).where(planned_kind, ~changeable)))
    new = []
    # A message whose time has already passed when it is first planned (a fresh install in
    # November, a due date edited to an earlier day, a duty added after its date) was never
    # owed: sending it now would read "late because the system was down" when nothing was.
    # Only rows planned before a downtime become late messages; the digest and the next
    # reminders still show the duty.
    not_before = now
    # ... except a message that was owed and is only moving to another channel (its robot was
    # unconfigured, the person's channels edited): it is still owed, by the new route.
    rerouted = {_unrouted(key) for key, row in existing.items()
                if key not in planned and row.status == "pending" and row.send_at < not_before}
    for key, message in planned.items():
        content = {"items": message.items}  # digests: [{"scope", "label", "year"}]
        row = existing.get(key)
        if key in history:
            continue
        if row is None:
            if message.send_at < not_before and _unrouted(key) not in rerouted:
                continue
            new.append(_row(key, message.kind, message.person, message.channel, message.send_at, content, now))
        elif row.content != content or row.send_at != message.send_at or row.status == "cancelled":
            row.content = content
            row.send_at = message.send_at
            if row.attempts == 0:
                row.next_attempt_at = message.send_at
            row.status = "pending"
            counts["updated"] += 1
    for key, row in existing.items():
        if key not in planned and row.status == "pending":
            row.status = "cancelled"
            counts["cancelled"] += 1
    insert_ignore(session, new)
    counts["added"] = len(new)
    return counts


def _unrouted(key: str) -> str:
    """A message's key without its channel (every key ends in ``:channel``)."""
    return key.rpartition(":")[0]


def next_wake(session: Session) -> datetime | None:
    """When the next pending message is due, or a claim left by a dead sender expires (the
    dispatcher's next alarm): without the lease, a crash in the last batch of the day would
    leave its messages to the safety sweep, and a resumed `simulate` would never send them."""
    due = session.scalar(select(func.min(MessageRow.next_attempt_at)).where(MessageRow.status == "pending"))
    lease = session.scalar(select(func.min(MessageRow.lease_until)).where(MessageRow.status == "sending"))
    return min((t for t in (due, lease) if t is not None), default=None)
