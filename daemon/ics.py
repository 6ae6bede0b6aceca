"""iCalendar (RFC 5545) export of occurrences, built with the `icalendar` library (never by
hand: folding, escaping and UTF-8 line lengths are where hand-built calendars break)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import icalendar

from daemon.plan.expand import Occurrence
from daemon.plan.model import Plan, Roster, owner_words
from daemon.render import render

PRODID = "-//planbell//planbell 0.1//ZH-CN"
UID_DOMAIN = "planbell"


def event_uid(occurrence: Occurrence) -> str:
    """Stable across exports, so a re-import updates events instead of duplicating them."""
    return f"{occurrence.id}@{UID_DOMAIN}"


@dataclass(frozen=True)
class Extra:
    """What a personal feed adds to an event: a stamp that changes only when the row does (so
    an unchanged feed is byte-identical and its ETag holds), the check-off, and the button."""

    stamp: datetime
    done: str | None = None  # "已完成(3月20日 李娜销号)"; a done event rings no alarms
    url: str | None = None


def build_calendar(
    entries: Iterable[tuple[Plan, Occurrence]], roster: Roster, now: datetime, name: str, timezone: str,
    extras: dict[str, Extra] | None = None, refresh: timedelta | None = None,
) -> bytes:
    """One VEVENT per occurrence: an all-day event on its due date, alarms at the lead times."""
    entries = list(entries)
    years = [o.due.year for _, o in entries] or [now.year]
    frame = _frame(name, timezone, refresh, min(years), max(years))
    events = [_event(occurrence, plan, roster, now, (extras or {}).get(occurrence.id)).to_ical()
              for plan, occurrence in entries]
    return frame[:-len(_END)] + b"".join(events) + _END


_END = b"END:VCALENDAR\r\n"


@lru_cache(maxsize=64)
def _frame(name: str, timezone: str, refresh: timedelta | None, first_year: int, last_year: int) -> bytes:
    """The calendar around the events, serialized once: its properties and its time zone cost
    as much to write out as a few events, and every opening notice attaches a calendar. The
    events go in before its END line, where icalendar puts its subcomponents' lines."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # X- properties are TEXT by default (RFC 5545 3.8.8.2), but icalendar would write this one
    # raw: a comma, semicolon or backslash in a plan title must be escaped like in SUMMARY.
    cal.add("x-wr-calname", icalendar.vText(name))
    cal.add("x-wr-timezone", timezone)
    if refresh is not None:
        # RFC 7986's REFRESH-INTERVAL, and the older X-PUBLISHED-TTL that Outlook reads.
        cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", icalendar.vDuration(refresh))
    # Only the years shown: the zone's whole history since 1970 only bloats the file.
    cal.add_component(_vtimezone(timezone, first_year, last_year))
    return cal.to_ical()


@lru_cache(maxsize=32)
def _vtimezone(timezone: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """Only the years shown: the zone's whole history since 1970 only bloats the file. Cached:
    building it walks every hour of the range (60 ms), and every reminder email attaches one."""
    return icalendar.Timezone.from_tzid(
        timezone, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )


def occurrence_calendar(rows, plan: Plan, roster: Roster, now: datetime, urls: dict[str, str] | None = None) -> bytes:
    """A calendar of stored occurrences (ledger rows), for attaching to a reminder email;
    ``urls``: each event's 销号 button, by occurrence id."""
    entries = [(plan, from_row(row)) for row in rows]
    extras = {row.id: Extra(now, url=urls[row.id]) for row in rows if urls and urls.get(row.id)}
    return build_calendar(entries, roster, now, plan.title, plan.timezone, extras)


def from_row(row) -> Occurrence:
    return Occurrence(
        id=row.id, obligation=row.obligation, kind=row.kind, item=row.item, title=row.title,
        source=row.source, basis=None, period=row.period, opens=row.opens, due=row.due,
        nominal_due=row.due, owner=row.owner, assignees=tuple(row.assignees), lead=row.lead, subject=row.subject,
        participants=(), remind_days=tuple(row.remind_days), escalate=None,
    )


def _event(o: Occurrence, plan: Plan, roster: Roster, now: datetime, extra: Extra | None = None) -> icalendar.Event:
    summary = _summary(o, roster)  # also each alarm's text
    if extra and extra.done:
        summary = f"✓ {summary}"
    event = icalendar.Event()
    event.add("uid", event_uid(o))
    event.add("dtstamp", extra.stamp if extra else now)
    event.add("dtstart", o.due)
    event.add("dtend", o.due + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", _description(o, plan, roster, extra))
    event.add("categories", [plan.role_name(o.owner)])
    event.add("transp", "TRANSPARENT")
    for days in () if extra and extra.done else o.remind_days:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        # Relative to the all-day event's start (local midnight): ring at send_at, N days before.
        send = timedelta(hours=plan.send_at.hour, minutes=plan.send_at.minute)
        alarm.add("trigger", send - timedelta(days=days))
        event.add_component(alarm)
    return event


def _name(roster: Roster, person_id: str | None) -> str:
    person = roster.person(person_id) if person_id else None
    return person.name if person else (person_id or "")


def _summary(o: Occurrence, roster: Roster) -> str:
    return render("ics/summary.txt", o=o, subject=_name(roster, o.subject))


def _description(o: Occurrence, plan: Plan, roster: Roster, extra: Extra | None = None) -> str:
    return render(
        "ics/description.txt", o=o, item_title=plan.items.get(o.item, ""),
        owner=owner_words(plan, roster, o), assignees="、".join(_name(roster, a) for a in o.assignees),
        done=extra.done if extra else None, url=extra.url if extra else None,
    )
