"""What the schedule asks of whom in a date window: expansion across every plan, filtered."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

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
