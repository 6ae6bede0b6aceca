"""Sync: make the occurrences table match the schedule's expansion, idempotently.

The same schedule twice changes nothing. An edited due date updates the open occurrence (and
so its reminders that have not gone out). An occurrence the schedule no longer produces is
cancelled, never deleted: its history stays in the ledger. Checked-off rows are left alone.
What fell due before go-live, or before its duty was added, is `prelive` (see daemon.golive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from daemon.golive import OPEN, UNDECIDED, status_for
from daemon.plan.expand import Occurrence, expand, reach
from daemon.plan.model import Cadence, Event
from daemon.plan.schedule import Schedule
from daemon.store.db import insert_many
from daemon.store.tables import EventRow, OccurrenceRow


@dataclass
class SyncResult:
    added: int = 0
    updated: int = 0
    cancelled: int = 0
    reopened: int = 0
    prelive: int = 0  # rows that went from owed to not owed or back (go-live moved)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.cancelled or self.reopened or self.prelive)


def events_of(session: Session) -> list[Event]:
    return [Event(r.obligation, r.on, r.title, r.seq) for r in session.scalars(select(EventRow))]


def expected(schedule: Schedule, events: list[Event]) -> dict[str, tuple[int, Occurrence]]:
    """Every occurrence of every plan's year, keyed by id, with its plan year."""
    out = {}
    for plan in schedule.plans:
        for o in expand(plan, *reach(plan.year), roster=schedule.roster, events=events):
            out[o.id] = (plan.year, o)
    return out


def _fields(o: Occurrence) -> dict:
    """What expansion decides about a row; a difference on an open row means the schedule changed."""
    return {
        "obligation": o.obligation, "kind": o.kind, "item": o.item, "title": o.title,
        "source": o.source, "period": o.period, "opens": o.opens, "due": o.due, "owner": o.owner,
        "assignees": list(o.assignees), "lead": o.lead, "subject": o.subject, "branch": o.branch,
        "escalate_to": o.escalate.to if o.escalate else None,
        "escalate_after": o.escalate.after_days if o.escalate else None,
        "remind_days": list(o.remind_days),
    }


def sync(session: Session, schedule: Schedule, now: datetime, go_live: date) -> SyncResult:
    """Upsert the expansion into ``session`` (the caller commits). The table is read as plain
    rows and written back in executemany batches: a large office has a hundred thousand."""
    result = SyncResult()
    # Plain reads and writes below: the session's own pending changes (a check-off a moment
    # ago) go to the database first, and its objects are read again afterwards.
    session.flush()
    wanted = expected(schedule, events_of(session))
    years = {plan.year for plan in schedule.plans}
    table = OccurrenceRow.__table__
    rows = {r.id: r for r in session.execute(select(table))}
    today = {plan.year: now.astimezone(ZoneInfo(plan.timezone)).date() for plan in schedule.plans}
    # A duty the database has never seen, after the first sync, was added today: it owes what
    # falls due from today on. Per-event duties have no rows until their first event, and an
    # event is recorded on purpose, so they are never "new".
    known = {(r.plan_year, r.obligation) for r in rows.values()}
    per_event = {(p.year, o.id) for p in schedule.plans for o in p.obligations if o.every == Cadence.PER_EVENT}
    new: list[dict] = []
    changes: dict[str, dict] = {}
    for occurrence_id, (year, o) in wanted.items():
        fields = _fields(o)
        row = rows.get(occurrence_id)
        if row is None:
            added_today = rows and (year, o.obligation) not in known and (year, o.obligation) not in per_event
            owed_from = today[year] if added_today else None
            new.append({"id": occurrence_id, "plan_year": year, "updated_at": now, "owed_from": owed_from,
                        "status": status_for(o.due, go_live, owed_from), **fields})
            continue
        status, due = row.status, row.due
        if status == "cancelled":
            status = OPEN
            changes.setdefault(occurrence_id, {}).update(status=OPEN, updated_at=now)
            result.reopened += 1
        if status in UNDECIDED and any(getattr(row, k) != v for k, v in fields.items()):
            changes.setdefault(occurrence_id, {}).update(fields, updated_at=now)
            due = fields["due"]
            result.updated += 1
        if status in UNDECIDED and status != (decided := status_for(due, go_live, row.owed_from)):
            changes.setdefault(occurrence_id, {}).update(status=decided, updated_at=now)
            result.prelive += 1
    for occurrence_id, row in rows.items():
        # Rows of years no plan covers any more (last year's plan removed) are history: keep
        # them. So are past-due rows of a retired duty: it was owed and not done, and the
        # ledger must still say so; only its future occurrences are cancelled.
        if (occurrence_id not in wanted and row.status in UNDECIDED and row.plan_year in years
                and row.due >= today[row.plan_year]):
            changes.setdefault(occurrence_id, {}).update(status="cancelled", updated_at=now)
            result.cancelled += 1
    _write(session, changes)
    insert_many(session, table, new)
    result.added = len(new)
    if changes:
        session.expire_all()
    return result


def _write(session: Session, changes: dict[str, dict]) -> None:
    """The changed columns of changed rows: one executemany per set of columns."""
    table = OccurrenceRow.__table__
    groups: dict[tuple[str, ...], list[dict]] = {}
    for occurrence_id, values in changes.items():
        groups.setdefault(tuple(sorted(values)), []).append(
            {"_id": occurrence_id, **{f"_{k}": v for k, v in values.items()}})
    for columns, params in groups.items():
        statement = update(table).where(table.c.id == bindparam("_id")).values(
            {c: bindparam(f"_{c}", type_=table.c[c].type) for c in columns})
        session.execute(statement, params)
