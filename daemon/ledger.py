"""The ledger (台账): checking duties off, events, target progress, and the audit trail.

Each function changes the database and records who did it; the CLI only parses and prints.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from daemon.store.tables import AuditRow, EventRow, OccurrenceRow


class LedgerError(Exception):
    """A request the ledger refuses; the message (Chinese) says why and what to do."""


def audit(session: Session, now: datetime, actor: str, action: str, subject: str, **detail) -> None:
    session.add(AuditRow(at=now, actor=actor, action=action, subject=subject, detail=detail))


def occurrence(session: Session, occurrence_id: str) -> OccurrenceRow | None:
    return session.get(OccurrenceRow, occurrence_id)


WILDCARDS = "*?["


def is_pattern(text: str) -> bool:
    return any(c in text for c in WILDCARDS)


def matching(session: Session, patterns: Iterable[str], item: int | None = None,
             before: date | None = None) -> list[OccurrenceRow]:
    """Occurrences whose id is one of ``patterns`` (ids, or shell patterns such as
    'first-topic-study/2026-0*'), of plan item ``item``, due before ``before``; every filter
    given must hold. Sorted by due date."""
    query = select(OccurrenceRow)
    if item is not None:
        query = query.where(OccurrenceRow.item == item)
    if before is not None:
        query = query.where(OccurrenceRow.due < before)
    patterns = list(patterns)
    if patterns:
        # The text before the first wildcard narrows the read; fnmatch decides.
        prefixes = [p[:min((p.index(c) for c in WILDCARDS if c in p), default=len(p))] for p in patterns]
        query = query.where(or_(*(OccurrenceRow.id.startswith(prefix, autoescape=True) for prefix in prefixes)))
    rows = session.scalars(query.order_by(OccurrenceRow.due, OccurrenceRow.id))
    return [r for r in rows if not patterns or any(fnmatch.fnmatchcase(r.id, p) for p in patterns)]


def check_off(session: Session, row: OccurrenceRow, now: datetime, actor: str, by: str | None,
              note: str | None, evidence: str | None, **detail) -> bool:
    """销号. Returns False when it was already done (nothing changes). ``detail`` goes into the
    audit entry (e.g. ``via``: the link and device a check-off came from)."""
    if row.status == "done":
        return False
    if row.status == "cancelled":
        raise LedgerError(f"{row.id} 已取消(对应职责已从日程中移除),无需销号")
    row.status, row.done_at, row.done_by, row.note, row.evidence = "done", now, by, note, evidence
    row.updated_at = now
    audit(session, now, actor, "done", row.id, by=by, note=note, evidence=evidence, **detail)
    return True


def skip(session: Session, row: OccurrenceRow, now: datetime, actor: str, reason: str) -> None:
    if row.status == "cancelled":
        raise LedgerError(f"{row.id} 已取消(对应职责已从日程中移除)")
    row.status, row.done_at, row.done_by, row.note = "skipped", now, actor, reason
    row.updated_at = now
    audit(session, now, actor, "skip", row.id, reason=reason)


def reopen(session: Session, row: OccurrenceRow, now: datetime, actor: str) -> bool:
    if row.status in ("open", "prelive"):  # nobody acted on it: nothing to undo
        return False
    if row.status == "cancelled":
        raise LedgerError(f"{row.id} 已取消(对应职责已从日程中移除),不能重新打开")
    previous = row.status
    row.status, row.done_at, row.done_by, row.note, row.evidence = "open", None, None, None, None
    row.updated_at = now
    audit(session, now, actor, "reopen", row.id, previous=previous)
    return True


def record_event(session: Session, obligation: str, on: date, now: datetime, actor: str,
                 title: str | None = None) -> bool:
    """Start a per-event obligation on ``on``; False when that event was already recorded.
    Several happenings a day are told apart by their titles (numbered 1, 2 … on their date,
    see ``event_number``); the same title again, or without a title any event that day, is
    the one already recorded."""
    same_day = session.scalars(select(EventRow).where(EventRow.obligation == obligation, EventRow.on == on)).all()
    if any(title is None or row.title == title for row in same_day):
        return False
    seq = max((row.seq for row in same_day), default=0) + 1
    session.add(EventRow(obligation=obligation, on=on, seq=seq, title=title, created_at=now, created_by=actor))
    # Only a titled event can be the second of its day (an untitled one is "any event that day").
    numbered = {"seq": seq, "title": title} if title else {}
    audit(session, now, actor, "event", obligation, on=on.isoformat(), **numbered)
    return True


def event_number(session: Session, obligation: str, on: date, title: str | None) -> int:
    """The number on its date of the event ``record_event`` took (or found) for ``title``."""
    rows = session.scalars(select(EventRow).where(EventRow.obligation == obligation, EventRow.on == on)
                           .order_by(EventRow.seq)).all()
    return next((row.seq for row in rows if title is None or row.title == title), 1)


def close_reports(session: Session, target: str, year: int, today: date, now: datetime, actor: str,
                  by: str | None, person: str | None = None) -> list[str]:
    """Recording progress is the report the 【进度报送】 reminders ask for: check off the
    target's open report occurrences that have opened by today (of a per-person target, only
    ``person``'s own)."""
    query = select(OccurrenceRow).where(
        OccurrenceRow.kind == "report", OccurrenceRow.obligation == target, OccurrenceRow.plan_year == year,
        OccurrenceRow.status == "open", OccurrenceRow.opens <= today)
    if person is not None:
        query = query.where(OccurrenceRow.id.endswith(f"/{person}", autoescape=True))
    rows = session.scalars(query.order_by(OccurrenceRow.due)).all()
    for row in rows:
        check_off(session, row, now, actor, by, "已填报进度", None)
    return [row.id for row in rows]
