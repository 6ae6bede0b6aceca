"""One refresh of the database from the schedule: sync occurrences, then re-plan reminders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import golive
from daemon.digest import DigestSettings, plan_digests
from daemon.outbox import apply_plan
from daemon.plan.schedule import Schedule
from daemon.plan.workdays import WorkdayCalendar
from daemon.reminders import OpenDuty, Timing, plan_messages
from daemon.store.db import serialize
from daemon.store.tables import OccurrenceRow
from daemon.sync import SyncResult, sync


@dataclass
class RefreshResult:
    sync: SyncResult
    messages: dict[str, int]


def timings(schedule: Schedule) -> dict[int, Timing]:
    return {
        plan.year: Timing(WorkdayCalendar(plan.calendar), plan.send_at, plan.timezone)
        for plan in schedule.plans
    }


def open_duties(session: Session, schedule: Schedule):
    by_year = timings(schedule)
    table = OccurrenceRow.__table__
    # Plain rows, not ORM objects: a large office has tens of thousands open.
    rows = session.execute(select(table.c.id, table.c.kind, table.c.plan_year, table.c.opens, table.c.due,
                                  table.c.assignees, table.c.remind_days, table.c.escalate_to,
                                  table.c.escalate_after).where(table.c.status == "open"))
    for row in rows:
        timing = by_year.get(row.plan_year)
        if timing is None:
            continue
        yield OpenDuty(
            id=row.id, kind=row.kind, opens=row.opens, due=row.due,
            assignees=tuple(row.assignees), remind_days=tuple(row.remind_days),
            escalate_to=row.escalate_to, escalate_after=row.escalate_after,
        ), timing


def refresh(session: Session, schedule: Schedule, now: datetime,
            digests: DigestSettings | None = None, channels: tuple[str, ...] = ("email",),
            go_live: date | None = None) -> RefreshResult:
    """Sync and re-plan in one transaction (the caller commits). ``go_live`` is the setting
    (PLANBELL_GO_LIVE); without it the day recorded at the first start holds."""
    serialize(session, "planbell-refresh")
    zone = schedule.zone
    synced = sync(session, schedule, now, golive.resolve(session, go_live, now, zone))
    session.flush()
    planned = plan_messages(open_duties(session, schedule), schedule.roster, channels)
    if digests is not None:
        by_year = timings(schedule)
        calendars = [(plan, by_year[plan.year].calendar) for plan in schedule.plans]
        planned |= plan_digests(calendars, schedule.roster, digests)
    return RefreshResult(synced, apply_plan(session, planned, now))
