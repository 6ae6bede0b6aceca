"""What the schedule asks of whom in a date window: expansion across every plan, filtered."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from daemon.plan.expand import Occurrence, expand, for_person, for_role
from daemon.plan.model import Event, Plan
from daemon.plan.schedule import Schedule

Entry = tuple[Plan, Occurrence]


def entries(
    schedule: Schedule,
    start: date,
    end: date,
    *,
    person: str | None = None,
    role: str | None = None,
    events: Iterable[Event] = (),
) -> list[Entry]:
    events = list(events)
    out: list[Entry] = []
    for plan in schedule.plans:
        found = expand(plan, start, end, roster=schedule.roster, events=events)
        if person:
            found = for_person(found, person)
        if role:
            found = for_role(found, role)
        out.extend((plan, o) for o in found)
    out.sort(key=lambda e: (e[1].due, e[1].id))
    return out


def recorded_events(database_url: str) -> list[Event]:
    """The per-event happenings recorded in the database (`planbell event`), for the views that
    otherwise need no database; none when there is no database yet or it is not at this
    version's schema (the views never create or migrate one)."""
    from sqlalchemy import select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from daemon.store.db import DatabaseUrlError, at_head, make_engine
    from daemon.store.tables import EventRow

    try:
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
            return []
        engine = make_engine(database_url)
    except (DatabaseUrlError, ValueError):
        return []
    try:
        if not at_head(engine):
            return []
        with engine.connect() as connection:
            return [Event(r.obligation, r.on, r.title, r.seq) for r in connection.execute(select(EventRow.__table__))]
    except DBAPIError:
        return []
    finally:
        engine.dispose()


def as_json(plan: Plan, o: Occurrence, schedule: Schedule) -> dict:
    names = {p.id: p.name for p in schedule.roster.people}
    return {
        "id": o.id,
        "obligation": o.obligation,
        "kind": o.kind,
        "item": o.item,
        "title": o.title,
        "source": o.source,
        "basis": o.basis,
        "period": o.period,
        "opens": o.opens.isoformat(),
        "due": o.due.isoformat(),
        "nominal_due": o.nominal_due.isoformat(),
        "owner": o.owner,
        "owner_name": plan.role_name(o.owner),
        "assignees": list(o.assignees),
        "assignee_names": [names.get(a, a) for a in o.assignees],
        "subject": o.subject,
        "participants": list(o.participants),
        "remind_days": list(o.remind_days),
        "plan": plan.title,
    }
