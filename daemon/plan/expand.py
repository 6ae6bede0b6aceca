"""Expansion: a pure function of (plan, date window, calendar, roster, events) → occurrences.

No I/O and no clock: the one source for `agenda`, `ics`, `simulate` and the daemon.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from dateutil import rrule as dateutil_rrule

from daemon import defaults
from daemon.plan.model import Cadence, Escalation, Event, Obligation, Plan, Roster, Shift, Target
from daemon.plan.periods import Period, nominal_due, periods_of
from daemon.plan.workdays import WorkdayCalendar


@dataclass(frozen=True)
class Occurrence:
    id: str  # stable: "<duty>/<period>" or "<duty>/<period>/<person>"
    obligation: str  # the obligation's (or, for progress reports, the target's) id
    kind: str  # "duty" | "report"
    item: int
    title: str
    source: str
    basis: str | None
    period: str
    opens: date
    due: date
    nominal_due: date  # before the working-day shift
    owner: str  # role id
    assignees: tuple[str, ...]  # person ids who must act
    lead: str | None  # the one of them who leads (牵头): the lead role's, else the owner's, first holder
    subject: str | None  # for_each: the person the duty is about
    participants: tuple[str, ...]  # role ids also concerned
    remind_days: tuple[int, ...]
    escalate: Escalation | None

    @property
    def shifted(self) -> bool:
        return self.due != self.nominal_due


def expand(
    plan: Plan,
    start: date,
    end: date,
    *,
    roster: Roster | None = None,
    events: Iterable[Event] = (),
    calendar: WorkdayCalendar | None = None,
) -> list[Occurrence]:
    """Every occurrence of ``plan`` due in [start, end], sorted by due date then id."""
    # A plan's periods lie in its year, but week 1 and shifted dates may spill a few days over.
    if end < date(plan.year - 1, 12, 1) or start > date(plan.year + 1, 1, 31):
        return []
    cal = calendar or WorkdayCalendar(plan.calendar)
    roster = roster or Roster()
    by_obligation: dict[str, list[date]] = {}
    for event in events:
        by_obligation.setdefault(event.obligation, []).append(event.on)
    out: list[Occurrence] = []
    for ob in plan.obligations:
        for period, nominal in _dated_periods(ob, plan.year, cal, by_obligation.get(ob.id, ())):
            due = _shift(nominal, ob.if_not_workday, period, cal)
            if start <= due <= end:
                out.extend(_occurrences(ob, period, nominal, due, roster))
    for target in plan.targets:
        for period in periods_of(target.report, plan.year):
            due = cal.previous_workday(period.end)
            if start <= due <= end:
                out.append(_report(target, period, due, roster))
    out.sort(key=lambda o: (o.due, o.id))
    return out


def _dated_periods(ob: Obligation, year: int, cal: WorkdayCalendar, event_days: Iterable[date]):
    """(period, nominal due date) pairs of one obligation in one year."""
    if ob.every == Cadence.PER_EVENT:
        for day in sorted(set(event_days)):
            if day.year == year:
                yield Period(day.isoformat(), day, day), day
    elif ob.every == Cadence.RRULE:
        for day in _rrule_days(ob.rrule, year):
            yield Period(day.isoformat(), day, day), day
    elif ob.every == Cadence.ONCE:
        day = ob.due.on
        yield Period(day.isoformat(), day, day), day
    else:
        for period in periods_of(ob.every, year):
            yield period, nominal_due(ob.due, ob.every, period, cal)


@lru_cache(maxsize=4096)
def _rrule_days(rule: str, year: int) -> tuple[date, ...]:
    dates = dateutil_rrule.rrulestr(rule, dtstart=datetime(year, 1, 1))
    return tuple(d.date() for d in dates.between(datetime(year, 1, 1), datetime(year, 12, 31, 23, 59), inc=True))


def _shift(day: date, rule: Shift, period: Period, cal: WorkdayCalendar) -> date:
    """Move a due date off a day off, staying inside the period when the other way allows it."""
    if rule == Shift.KEEP or cal.is_workday(day):
        return day
    first, second = (cal.previous_workday, cal.next_workday)
    if rule == Shift.NEXT:
        first, second = second, first
    moved = first(day)
    if period.start <= moved <= period.end:
        return moved
    other = second(day)
    return other if period.start <= other <= period.end else moved


def _opens(ob: Obligation, period: Period, due: date) -> date:
    if ob.opens_days is not None:
        return due - timedelta(days=ob.opens_days)
    if ob.every.months or ob.every == Cadence.WEEK:
        return min(period.start, due)
    lead = max(ob.remind_days, default=defaults.OPEN_DAYS_WITHOUT_PERIOD)
    return due - timedelta(days=lead)


def _occurrences(ob: Obligation, period: Period, nominal: date, due: date, roster: Roster):
    owners = tuple(p.id for p in roster.with_role(ob.owner))
    leads = tuple(p.id for p in roster.with_role(ob.lead)) if ob.lead else owners
    subjects: Iterable[str | None] = [None]
    if ob.for_each:
        subjects = [p.id for p in roster.with_role(ob.for_each)]
    for subject in subjects:
        assignees = tuple(a for a in owners if a != subject)
        if subject is not None and not assignees:
            continue  # the only owner is the subject: nobody can hold a talk with themselves
        lead = next((p for p in leads if p != subject), None)
        if lead is not None and lead not in assignees:
            assignees = (lead, *assignees)  # a lead from another role is reminded too
        suffix = f"/{subject}" if subject else ""
        yield Occurrence(
            id=f"{ob.id}/{period.label}{suffix}", obligation=ob.id, kind="duty", item=ob.item,
            title=ob.title, source=ob.source, basis=ob.basis, period=period.label,
            opens=_opens(ob, period, due), due=due, nominal_due=nominal, owner=ob.owner,
            assignees=assignees, lead=lead, subject=subject, participants=ob.participants,
            remind_days=ob.remind_days, escalate=ob.escalate,
        )


def _report(target: Target, period: Period, due: date, roster: Roster) -> Occurrence:
    """A progress report on a target, due on the last working day of each report period."""
    assignees = tuple(p.id for p in roster.with_role(target.owner))
    return Occurrence(
        id=f"{target.id}/{period.label}", obligation=target.id, kind="report", item=target.item,
        title=target.title, source=target.source, basis=target.basis, period=period.label,
        opens=max(period.start, due - timedelta(days=7)), due=due, nominal_due=period.end,
        owner=target.owner, assignees=assignees, lead=assignees[0] if assignees else None,
        subject=None, participants=(), remind_days=(1,), escalate=None,
    )


def for_person(occurrences: Iterable[Occurrence], person_id: str) -> list[Occurrence]:
    return [o for o in occurrences if person_id in o.assignees or o.subject == person_id]


def for_role(occurrences: Iterable[Occurrence], role_id: str) -> list[Occurrence]:
    return [o for o in occurrences if o.owner == role_id or role_id in o.participants]
