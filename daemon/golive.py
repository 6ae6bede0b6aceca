"""Go-live: the day the office starts with planbell. What fell due before it was never owed.

A fresh install in November must not greet the office with ten months of "overdue": an
occurrence due before go-live is `prelive` (上线前) in the ledger, neither 逾期 nor 已完成,
and is never reminded, escalated or counted overdue. The day comes from PLANBELL_GO_LIVE, or
is recorded in the database at the first start when that is not set. A duty added to the
schedule later owes what falls due from the day it was added (``OccurrenceRow.owed_from``).
Changing the date re-evaluates every occurrence nobody has acted on yet.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon.store.state import set_state
from daemon.store.tables import OccurrenceRow, StateRow

STATE_KEY = "go_live"
OPEN, PRELIVE = "open", "prelive"
# The statuses go-live decides between; done, skipped and cancelled rows were acted on.
UNDECIDED = (OPEN, PRELIVE)


def recorded(session: Session) -> date | None:
    row = session.get(StateRow, STATE_KEY)
    return date.fromisoformat(row.value) if row and row.value else None


def resolve(session: Session, setting: date | None, now: datetime, zone: ZoneInfo) -> date:
    """The go-live day in force, recorded in the database: the setting when given; else the
    one recorded; else, at the first start, today (or, for a database that was in service
    before go-live existed, the day it first synced, so its history stays owed)."""
    known = recorded(session)
    if setting is not None:
        day = setting
    elif known is not None:
        day = known
    else:
        first = session.scalar(select(func.min(OccurrenceRow.updated_at)))
        day = (first or now).astimezone(zone).date()
    if day != known:
        set_state(session, STATE_KEY, day.isoformat(), now)
    return day


def status_for(due: date, go_live: date, owed_from: date | None) -> str:
    start = max(go_live, owed_from) if owed_from else go_live
    return PRELIVE if due < start else OPEN
