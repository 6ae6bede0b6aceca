"""Composing: an outbox row becomes a rendered message for one person (words in templates/)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.plan.schedule import Schedule
from daemon.render import render
from daemon.store.tables import MessageRow, OccurrenceRow
from notifiers.base import Outgoing, TransportError


class NothingToSay(Exception):
    """The message has nothing left to say (every duty in it was checked off, or the person
    left the roster): it is skipped, not sent."""


class Composer:
    def __init__(self, schedule: Schedule):
        self.schedule = schedule
        self.roster = schedule.roster
        self.plans = {plan.year: plan for plan in schedule.plans}
        self.timezone = ZoneInfo(schedule.plans[0].timezone if schedule.plans else "Asia/Shanghai")

    def compose(self, session: Session, row: MessageRow, now: datetime, late: bool) -> Outgoing:
        person = self.roster.person(row.person)
        if person is None:
            raise NothingToSay(f"{row.person} is no longer in the roster")
        if not person.email:
            raise TransportError(f"{person.name} ({person.id}) has no email address in the roster", permanent=True)
        today = now.astimezone(self.timezone).date()
        context = {"person": person, "late": late, "today": today, "send_at": row.send_at.astimezone(self.timezone)}
        if row.kind == "admin":
            context.update(topic=row.content["topic"], **row.content["context"])
            occurrence_ids: tuple[str, ...] = ()
        else:
            items = self._items(session, row, today)
            if not items:
                raise NothingToSay("every duty in it was checked off or cancelled")
            context["items"] = items
            occurrence_ids = tuple(dict.fromkeys(i["occurrence"].id for i in items))
        name = row.kind
        return Outgoing(
            key=row.key, kind=row.kind, to_address=person.email, to_name=person.name,
            subject=render(f"email/{name}.subject.txt", **context).replace("\n", " "),
            text=render(f"email/{name}.txt", **context),
            html=render(f"email/{name}.html", **context),
            occurrence_ids=occurrence_ids, date=now.astimezone(self.timezone),
        )

    def _items(self, session: Session, row: MessageRow, today) -> list[dict]:
        wanted = row.content.get("items", [])
        ids = {i["occurrence"] for i in wanted}
        occurrences = {o.id: o for o in session.scalars(select(OccurrenceRow).where(OccurrenceRow.id.in_(ids)))}
        names = {p.id: p.name for p in self.roster.people}
        out = []
        for item in wanted:
            o = occurrences.get(item["occurrence"])
            if o is None or o.status != "open":
                continue
            plan = self.plans.get(o.plan_year)
            out.append({
                "occurrence": o,
                "stage": item["stage"],
                "days_left": (o.due - today).days,
                "item_title": plan.items.get(o.item, "") if plan else "",
                "owner_name": plan.role_name(o.owner) if plan else o.owner,
                "assignee_names": [names.get(a, a) for a in o.assignees],
                "subject_name": names.get(o.subject, o.subject) if o.subject else None,
            })
        out.sort(key=lambda i: (i["occurrence"].due, i["occurrence"].id))
        return out
