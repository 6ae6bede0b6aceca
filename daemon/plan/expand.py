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
    # The 支部 it belongs to, in a roster of several: the branch whose holders owe it, or the
    # branch of the person it is about (a talk's member, a holder's own duty, a person's report).
    branch: str | None = None

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
    first, last = reach(plan.year)
    if end < first or start > last:
        return []
    cal = calendar or WorkdayCalendar(plan.calendar)
    roster = roster or Roster()
    by_obligation: dict[str, list[Event]] = {}
    for event in events:
        by_obligation.setdefault(event.obligation, []).append(event)
    caps = {ob.due.before for ob in plan.obligations if ob.due and ob.due.before}
    out: list[Occurrence] = []
    dues: dict[str, list[tuple[Period, date]]] = {}
    # What others are capped by first (the loader makes sure `before` names a duty with periods).
    for ob in sorted(plan.obligations, key=lambda o: o.id not in caps):
        for period, nominal, event in _dated_periods(ob, plan.year, cal, by_obligation.get(ob.id, ()),
                                                     dues.get(ob.due.before) if ob.due and ob.due.before else None):
            due = _shift(nominal, ob.if_not_workday, period, cal)
            if ob.id in caps:
                dues.setdefault(ob.id, []).append((period, due))
            if start <= due <= end:
                out.extend(_occurrences(plan, ob, period, nominal, due, roster, event))
    for target in plan.targets:
        for period in periods_of(target.report, plan.year):
            due = cal.previous_workday(period.end)
            if start <= due <= end:
                out.extend(_reports(target, period, due, roster))
    out.sort(key=lambda o: (o.due, o.id))
    return out


def reach(year: int) -> tuple[date, date]:
    """The first and last day an occurrence of a plan year can fall due. A plan's periods lie in
    its year, but week 1 and a date moved off New Year's Day reach back into December, and a
    report on December with `after: 99wd` (the longest the loader allows) falls due at the end of
    the next May."""
    return date(year - 1, 12, 1), date(year + 1, 12, 31)


def _dated_periods(ob: Obligation, year: int, cal: WorkdayCalendar, events: Iterable[Event],
                   cap: list[tuple[Period, date]] | None):
    """(period, nominal due date, event or None) of one obligation in one year."""
    if ob.every == Cadence.PER_EVENT:
        for event in sorted({(e.on, e.seq): e for e in events}.values(), key=lambda e: (e.on, e.seq)):
            if event.on.year == year:
                label = event.on.isoformat() if event.seq == 1 else f"{event.on.isoformat()}.{event.seq}"
                period = Period(label, event.on, event.on)
                yield period, nominal_due(ob.due, ob.every, period, cal) if ob.due else event.on, event
    elif ob.every == Cadence.RRULE:
        for day in _rrule_days(ob.rrule, year):
            yield Period(day.isoformat(), day, day), day, None
    elif ob.every == Cadence.ONCE:
        day = ob.due.on
        yield Period(day.isoformat(), day, day), day, None
    else:
        for period in periods_of(ob.every, year):
            nominal = nominal_due(ob.due, ob.every, period, cal)
            if cap is not None:
                nominal = _capped(nominal, period, cap, cal)
            yield period, nominal, None


def _capped(nominal: date, period: Period, cap: list[tuple[Period, date]], cal: WorkdayCalendar) -> date:
    """`before: X`: no later than the working day before X's due date in the stretch of the
    year this period ends in (December's 日常考核, due in January, moves before the 年度考核)."""
    limit = next((due for p, due in cap if p.start <= period.end <= p.end), None)
    if limit is None or nominal < limit:
        return nominal
    return cal.previous_workday(limit - timedelta(days=1))


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
    if ob.due is not None and ob.due.after_period:
        if ob.every == Cadence.PER_EVENT:
            return period.start  # a reply to the event: from the day it happened
        # It reports on the period: it opens once the period is over, or, capped by `before`
        # to fall inside it, with the period.
        return period.end + timedelta(days=1) if due > period.end else period.start
    if ob.every.months or ob.every == Cadence.WEEK:
        return min(period.start, due)
    lead = max(ob.remind_days, default=defaults.OPEN_DAYS_WITHOUT_PERIOD)
    return due - timedelta(days=lead)


def _groups(plan: Plan, ob: Obligation, roster: Roster):
    """(branch, owners, leads, subjects): one group per branch when the owner role is held
    inside branches of a roster of several, so each 支部书记 is paired with their own members;
    else one group, the office."""
    def holders(role: str | None, branch: str | None) -> tuple[str, ...] | None:
        if role is None:
            return None
        return tuple(p.id for p in roster.with_role(role, branch if role in plan.branch_roles or role == ob.for_each else None))

    # A happening (per-event) or a one-off is one thing for the office, whoever's branch.
    if roster.branched and ob.owner in plan.branch_roles and ob.every not in (Cadence.PER_EVENT, Cadence.ONCE):
        for branch in roster.branches:
            owners = holders(ob.owner, branch)
            if owners:
                yield branch, owners, holders(ob.lead, branch) or owners, holders(ob.for_each, branch)
    else:
        owners = holders(ob.owner, None)
        yield None, owners, holders(ob.lead, None) or owners, holders(ob.for_each, None)


def _occurrences(plan: Plan, ob: Obligation, period: Period, nominal: date, due: date, roster: Roster,
                 event: Event | None):
    title = f"{ob.title}:{event.title}" if event is not None and event.title else ob.title

    def occurrence(suffix: str | None, assignees: tuple[str, ...], lead: str | None, subject: str | None,
                   branch: str | None) -> Occurrence:
        return Occurrence(
            id=f"{ob.id}/{period.label}" + (f"/{suffix}" if suffix else ""), obligation=ob.id, kind="duty",
            item=ob.item, title=title, source=ob.source, basis=ob.basis, period=period.label,
            opens=_opens(ob, period, due), due=due, nominal_due=nominal, owner=ob.owner,
            assignees=assignees, lead=lead, subject=subject, participants=ob.participants,
            remind_days=ob.remind_days, escalate=ob.escalate, branch=branch,
        )

    def branch_of(person_id: str) -> str | None:  # a holder or subject: always on the roster
        return roster.person(person_id).branch if roster.branched else None

    for branch, owners, leads, subjects in _groups(plan, ob, roster):
        if ob.each:  # each holder's own, checked off by that holder alone
            for holder in owners:
                yield occurrence(holder, (holder,), holder, None, branch_of(holder))
            continue
        if subjects is None:
            lead = leads[0] if leads else None
            assignees = owners if lead is None or lead in owners else (lead, *owners)
            yield occurrence(branch, assignees, lead, None, branch)
            continue
        for subject in subjects:
            assignees = tuple(a for a in owners if a != subject)
            if not assignees:
                continue  # the only owner is the subject: nobody can hold a talk with themselves
            lead = next((p for p in leads if p != subject), None)
            if lead is not None and lead not in assignees:
                assignees = (lead, *assignees)  # a lead from another role is reminded too
            yield occurrence(subject, assignees, lead, subject, branch_of(subject))


def _reports(target: Target, period: Period, due: date, roster: Roster):
    """Progress reports on a target, due on the last working day of each report period: one
    for the office, or one per holder of `per` (each reports their own figure)."""
    common = dict(obligation=target.id, kind="report", item=target.item, title=target.title,
                  source=target.source, basis=target.basis, period=period.label,
                  opens=max(period.start, due - timedelta(days=7)), due=due, nominal_due=period.end,
                  owner=target.owner, subject=None, participants=(), remind_days=(1,), escalate=None)
    if target.per:
        for person in roster.with_role(target.per):
            yield Occurrence(id=f"{target.id}/{period.label}/{person.id}", assignees=(person.id,), lead=person.id,
                             branch=person.branch if roster.branched else None, **common)
        return
    assignees = tuple(p.id for p in roster.with_role(target.owner))
    yield Occurrence(id=f"{target.id}/{period.label}", assignees=assignees,
                     lead=assignees[0] if assignees else None, **common)


def for_person(occurrences: Iterable[Occurrence], person_id: str) -> list[Occurrence]:
    return [o for o in occurrences if person_id in o.assignees or o.subject == person_id]


def for_role(occurrences: Iterable[Occurrence], role_id: str) -> list[Occurrence]:
    return [o for o in occurrences if o.owner == role_id or role_id in o.participants]
