"""The outbox: planned messages become rows with a natural unique key, inserted at most once.

Re-planning is an idempotent upsert: a new key is inserted, a pending row gets its items and
time updated, a pending row nobody wants any more (its duty was checked off) is cancelled.
Rows that were sent, failed or expired are history and never change.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, bindparam, case, cast, func, null, or_, select, update
from sqlalchemy.orm import Session

from daemon.store.db import insert_many
from daemon.store.tables import MessageRow

if TYPE_CHECKING:  # planning (and its holiday calendar) is not needed to read the outbox
    from daemon.reminders import PlannedMessage

PLANNED_KINDS = ("reminder", "escalation", "digest")

# Up to this many duties withdrawn at once are found by their ids in the messages' JSON text; a
# bulk check-off of more reads the people's pending messages whole (one query either way).
WITHDRAW_TEXT_FILTER_UP_TO = 20


def insert_ignore(session: Session, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT (key) DO NOTHING: two planners never double a message."""
    insert_many(session, MessageRow.__table__, rows, ignore_conflict_on="key")


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
    session.flush()  # plain reads below: the session's own pending changes first
    table = MessageRow.__table__
    planned_kind = table.c.kind.in_(PLANNED_KINDS)
    changeable = table.c.status.in_(("pending", "cancelled"))
    # Only rows that may still change are read, as plain rows (a large office has hundreds of
    # thousands planned); of the history (sent, failed, expired) the keys are enough to know
    # not to plan them again. Changes go back in one executemany each.
    # A digest's content (scope, label, year) is spelled out in its key: its JSON is not read.
    content_read = case((table.c.kind == "digest", null()), else_=table.c.content).label("content")
    existing = {row.key: row for row in session.execute(
        select(table.c.id, table.c.key, table.c.kind, content_read, table.c.send_at, table.c.status, table.c.attempts)
        .where(planned_kind, changeable))}
    history = set(session.scalars(select(table.c.key).where(planned_kind, ~changeable)))
    new, changed, retimed = [], [], []
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
        elif ((row.kind != "digest" and row.content != content) or row.send_at != message.send_at
              or row.status == "cancelled"):
            values = {"_id": row.id, "_content": content, "_send_at": message.send_at}
            # A row never tried waits for its new time; one being retried keeps its back-off.
            (retimed if row.attempts == 0 else changed).append(values)
            counts["updated"] += 1
    cancelled = [{"_id": row.id} for key, row in existing.items() if key not in planned and row.status == "pending"]
    by_id = table.c.id == bindparam("_id")
    if changed:
        session.execute(update(table).where(by_id).values(content=bindparam("_content", type_=table.c.content.type),
                                                          send_at=bindparam("_send_at", type_=table.c.send_at.type),
                                                          status="pending"), changed)
    if retimed:
        session.execute(update(table).where(by_id).values(content=bindparam("_content", type_=table.c.content.type),
                                                          send_at=bindparam("_send_at", type_=table.c.send_at.type),
                                                          next_attempt_at=bindparam("_send_at", type_=table.c.send_at.type),
                                                          status="pending"), retimed)
    if cancelled:
        session.execute(update(table).where(by_id).values(status="cancelled"), cancelled)
    counts["cancelled"] = len(cancelled)
    if changed or retimed or cancelled:
        session.expire_all()  # objects of those rows in this session are read again
    insert_ignore(session, new)
    counts["added"] = len(new)
    return counts


def withdraw_checked_off(session: Session, roster, rows) -> int:
    """``withdraw`` for occurrence rows just checked off: from their people's messages and from
    those of the role their escalation goes to."""
    people = {p for r in rows for p in r.assignees}
    people |= {p.id for r in rows if r.escalate_to for p in roster.with_role(r.escalate_to)}
    return withdraw(session, {r.id for r in rows}, people)


def withdraw(session: Session, occurrence_ids: set[str], people: set[str]) -> int:
    """Take duties just checked off out of ``people``'s pending reminders and escalations,
    cancelling a message left with nothing: what re-planning would do for them, without
    planning the whole year again (a `planbell done` answers in a fraction of a second)."""
    changed = 0
    query = select(MessageRow).where(
        MessageRow.kind.in_(("reminder", "escalation")), MessageRow.status == "pending",
        MessageRow.person.in_(people))
    if len(occurrence_ids) <= WITHDRAW_TEXT_FILTER_UP_TO:
        # Only the messages whose stored JSON names one of the duties: a branch secretary has a
        # year of pending reminders, each listing dozens of talks, and loading them all for one
        # check-off cost a web 销号 20 ms.
        text = cast(MessageRow.content, String)
        query = query.where(or_(*(text.contains(json.dumps(i), autoescape=True) for i in occurrence_ids)))
    for row in session.scalars(query):
        items = row.content.get("items", [])
        kept = [i for i in items if i.get("occurrence") not in occurrence_ids]
        if len(kept) == len(items):
            continue
        if kept:
            row.content = {"items": kept}
        else:
            row.status = "cancelled"
        changed += 1
    return changed


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
