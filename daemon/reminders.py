"""Reminder planning: a pure function from open occurrences to the messages they call for.

For each open occurrence and each person who must act: an opening notice, a reminder at each
lead time, one on the due day, overdue reminders, and an escalation to the configured role
after the grace period. Everything goes out at the plan's local hour on working days. All of
one person's reminders of one day become ONE message listing them, not five.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from daemon import defaults
from daemon.plan.model import Roster
from daemon.plan.workdays import WorkdayCalendar


@dataclass(frozen=True)
class OpenDuty:
    """What planning needs of an occurrence row (kept apart from the ORM so this stays pure)."""

    id: str
    kind: str
    opens: date
    due: date
    assignees: tuple[str, ...]
    remind_days: tuple[int, ...]
    escalate_to: str | None = None
    escalate_after: int | None = None


@dataclass(frozen=True)
class Timing:
    """How one plan's messages are timed."""

    calendar: WorkdayCalendar
    send_at: time
    timezone: str


@dataclass
class PlannedMessage:
    key: str
    kind: str  # reminder | escalation
    person: str
    channel: str
    send_at: datetime  # aware UTC
    items: list[dict] = field(default_factory=list)  # [{"occurrence": id, "stage": ...}]


def stages(duty: OpenDuty, cal: WorkdayCalendar) -> list[tuple[str, date]]:
    """(stage, day) of the reminders an occurrence calls for, each on a working day.

    Notices before the due date move to the previous working day; overdue reminders and
    escalation wait for the next one (escalating before the grace period is over is wrong).
    """
    due = duty.due
    opens = cal.next_workday(duty.opens) if duty.opens < due else due
    opens = min(opens, due)
    out = [("open", opens)]
    for days in duty.remind_days:
        day = cal.previous_workday(due - timedelta(days=days))
        if opens < day < due:
            out.append((f"remind-{days}d", day))
    if opens < due:  # a duty that opens on its due day is announced once, "due today" in it
        out.append(("due", due))
    day = due
    for n in range(1, defaults.OVERDUE_REMINDERS + 1):
        day = cal.next_workday(day + timedelta(days=1 if n == 1 else defaults.OVERDUE_EVERY_DAYS))
        out.append((f"overdue-{n}", day))
    return out


def escalation_day(duty: OpenDuty, cal: WorkdayCalendar) -> date | None:
    if duty.escalate_to is None or duty.escalate_after is None:
        return None
    return cal.next_workday(duty.due + timedelta(days=max(duty.escalate_after, 1)))


def plan_messages(duties: Iterable[tuple[OpenDuty, Timing]], roster: Roster,
                  available: Iterable[str] = ("email",)) -> dict[str, PlannedMessage]:
    """Every message the open duties call for, keyed by their natural unique key: one per
    person, day, kind and channel (the person's roster channels that are configured; email
    when none of them is)."""
    messages: dict[str, PlannedMessage] = {}
    available = set(available)
    channels = {p.id: tuple(c for c in p.channels if c in available) or ("email",) for p in roster.people}

    def add(kind: str, person: str, day: date, timing: Timing, item: dict) -> None:
        for channel in channels.get(person, ()):
            key = f"{kind}:{person}:{day.isoformat()}:{channel}"
            message = messages.get(key)
            if message is None:
                local = datetime.combine(day, timing.send_at, ZoneInfo(timing.timezone))
                message = messages[key] = PlannedMessage(key, kind, person, channel, local.astimezone(UTC))
            message.items.append(item)

    for duty, timing in duties:
        for stage, day in stages(duty, timing.calendar):
            for person in duty.assignees:
                add("reminder", person, day, timing, {"occurrence": duty.id, "stage": stage})
        day = escalation_day(duty, timing.calendar)
        if day is not None:
            for person in roster.with_role(duty.escalate_to):
                add("escalation", person.id, day, timing, {"occurrence": duty.id, "stage": "escalation"})
    for message in messages.values():
        message.items.sort(key=lambda i: (i["occurrence"], i["stage"]))
    return messages
