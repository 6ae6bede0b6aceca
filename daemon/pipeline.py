"""One refresh of the database from the schedule: sync occurrences, then re-plan reminders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon import golive
from daemon.digest import DigestSettings, plan_digests
from daemon.outbox import apply_plan
from daemon.plan.schedule import Schedule
from daemon.plan.workdays import WorkdayCalendar
from daemon.reminders import OpenDuty, Timing, plan_messages
from daemon.store.db import serialize
from daemon.store.state import set_state
from daemon.store.tables import AuditRow, OccurrenceRow, StateRow
from daemon.sync import SyncResult, sync


@dataclass
class RefreshResult:
    sync: SyncResult
    messages: dict[str, int]
    unchanged: bool = False  # nothing it reads had changed since the last refresh: nothing done


# What a refresh computes from: the schedule's files, the settings it is given, the ledger (every
# check-off, skip, reopen, progress entry and event writes an audit row) and the planning code
# itself. The same fingerprint as the last refresh's means the same occurrences and the same
# planned messages: a restart of a large office then costs milliseconds, not half a minute.
REFRESHED_KEY = "refreshed_from"
_PLANNING_MODULES = ("sync.py", "reminders.py", "digest.py", "outbox.py", "pipeline.py", "golive.py", "defaults.py", "plan")


def _planning_code() -> str:
    root = Path(__file__).resolve().parent
    files = sorted(p for name in _PLANNING_MODULES for p in ((root / name).rglob("*.py") if (root / name).is_dir()
                                                              else [root / name]))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    digest.update(version("holidays").encode())  # China's public holidays and 调休 come from it
    return digest.hexdigest()[:16]


PLANNING_CODE = _planning_code()


def fingerprint(session: Session, schedule: Schedule, digests: DigestSettings | None, channels: tuple[str, ...],
                go_live: date) -> str:
    last_action = session.scalar(select(func.max(AuditRow.id)))
    facts = (PLANNING_CODE, schedule.version, repr(digests), sorted(channels), go_live.isoformat(), last_action)
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:32]


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
    live = golive.resolve(session, go_live, now, schedule.zone)
    before = fingerprint(session, schedule, digests, channels, live)
    if session.scalar(select(StateRow.value).where(StateRow.key == REFRESHED_KEY)) == before:
        return RefreshResult(SyncResult(), {"added": 0, "updated": 0, "cancelled": 0}, unchanged=True)
    synced = sync(session, schedule, now, live)
    session.flush()
    planned = plan_messages(open_duties(session, schedule), schedule.roster, channels)
    if digests is not None:
        by_year = timings(schedule)
        calendars = [(plan, by_year[plan.year].calendar) for plan in schedule.plans]
        planned |= plan_digests(calendars, schedule.roster, digests)
    result = RefreshResult(synced, apply_plan(session, planned, now))
    session.flush()
    set_state(session, REFRESHED_KEY, fingerprint(session, schedule, digests, channels, live), now)
    return result
