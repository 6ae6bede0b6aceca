"""Target progress and pace: the one home the digest, the ledger export and the workbench read.

A target is the office's (one running total) or each person's (``per: staff``: one running
total per holder of the role; the office figure is then how many of them are on pace). A
year's progress entries are read in one query (``standings``) and folded here, so a batch of
digests asks the database once, not once per person and target.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.plan.hints import half_width
from daemon.plan.model import Cadence, Comparator, Plan, Roster, Target
from daemon.store.tables import ProgressRow


def periods_of(cadence: Cadence, year: int):
    # Imported when asked: `planbell progress` on an office figure never needs the calendar
    # (and its holidays data).
    from daemon.plan.periods import periods_of as periods

    return periods(cadence, year)

# An office figure names this many of the people behind, then says how many in all.
BEHIND_NAMED = 10
_CURRENT = {Cadence.WEEK: "本周", Cadence.MONTH: "本月", Cadence.QUARTER: "本季度", Cadence.HALF_YEAR: "本半年"}
_PERIOD_WORDS = {Cadence.WEEK: "每周", Cadence.MONTH: "每月", Cadence.QUARTER: "每季度",
                 Cadence.HALF_YEAR: "每半年"}


@dataclass(frozen=True)
class Progress:
    total: float = 0.0
    entries: int = 0
    last_recorded: datetime | None = None


# (target id, person id or None, period label or None) → the last entry's running total
Key = tuple[str, str | None, str | None]


def period_of(target: Target, day: date) -> str | None:
    """The period a per-person figure counts in (每月…不少于5天: the month of ``day``);
    None for a yearly figure, whose total runs through the year."""
    if not target.per or target.period == Cadence.YEAR:
        return None
    return next((p.label for p in periods_of(target.period, day.year) if p.start <= day <= p.end), None)


def _fold(rows: Iterable[ProgressRow]) -> dict[Key, Progress]:
    out: dict[Key, Progress] = {}
    for row in rows:  # in id order: the last entry's total stands
        key = (row.target, row.person, row.period)
        seen = out.get(key)
        out[key] = Progress(row.total, (seen.entries if seen else 0) + 1, row.recorded_at)
    return out


def standings(session: Session, year: int) -> dict[Key, Progress]:
    """Every running total of ``year``, read at once."""
    return _fold(session.scalars(select(ProgressRow).where(ProgressRow.plan_year == year).order_by(ProgressRow.id)))


def progress_of(session: Session, target: str, year: int, person: str | None = None,
                period: str | None = None) -> Progress:
    rows = session.scalars(select(ProgressRow).where(
        ProgressRow.target == target, ProgressRow.plan_year == year, ProgressRow.person.is_(None) if person is None
        else ProgressRow.person == person, ProgressRow.period.is_(None) if period is None
        else ProgressRow.period == period).order_by(ProgressRow.id))
    return _fold(rows).get((target, person, period), Progress())


_AMOUNT = re.compile(r"^([+=-]?)(\d+(?:\.\d+)?)$")


def parse_amount(text: str) -> tuple[str, float] | None:
    """'+12' or '12' adds, '=120' sets the total, '-3' takes back (stored as +(-3)); full-width
    digits and signs (a phone keyboard's) read as meant. None when it is not an amount."""
    match = _AMOUNT.match(half_width((text or "").strip()).replace(" ", ""))
    if not match:
        return None
    sign, value = match.group(1) or "+", float(match.group(2))
    return ("+", -value) if sign == "-" else (sign, value)


def record_progress(session: Session, target: Target, year: int, mode: str, amount: float,
                    note: str | None, now: datetime, actor: str, person: str | None = None,
                    today: date | None = None) -> float:
    """+N adds to the running total, =N sets it; returns the new total. A per-person target
    keeps one total per ``person`` (and, for a monthly figure, per month of ``today``)."""
    from daemon.ledger import LedgerError, audit

    if target.per and person is None:
        raise LedgerError(f"“{target.title}”按人计,每人各有自己的进度;请用 --by 指明是谁的进度")
    if not target.per:
        person = None
    period = period_of(target, today) if person and today else None
    current = progress_of(session, target.id, year, person, period).total
    total = current + amount if mode == "+" else amount
    if total < 0:
        raise LedgerError(f"累计不能为负数(当前 {current:g},本次 {mode}{amount:g})")
    session.add(ProgressRow(target=target.id, plan_year=year, mode=mode, amount=amount, total=total, person=person,
                            period=period, note=note, recorded_at=now, recorded_by=actor))
    whose = {"person": person, "period": period} if person else {}
    audit(session, now, actor, "progress", target.id, mode=mode, amount=amount, total=total, note=note, **whose)
    return total


# --- pace --------------------------------------------------------------------------------


def expected_by(target: Target, year: int, today: date) -> float:
    """Where a steady pace through the year would have the target by ``today``."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    if today <= start:
        return 0.0
    fraction = min((today - start).days / ((end - start).days + 1), 1.0)
    return target.value * fraction


def expected_in_period(target: Target, today: date) -> float:
    """Where a steady pace through the current period (a month of 每月…5天) would be today."""
    period = next((p for p in periods_of(target.period, today.year) if p.start <= today <= p.end), None)
    if period is None:
        return 0.0
    return target.value * (today - period.start).days / ((period.end - period.start).days + 1)


def paced(target: Target) -> bool:
    """A steady pace means something for a count to reach: not for a cap, a reduction or a
    rate in %. An office figure is paced through the year only; a person's through their period."""
    counts = target.comparator in (Comparator.AT_LEAST, Comparator.EXACTLY) and target.unit != "%"
    return counts and (target.period == Cadence.YEAR or bool(target.per))


def expected(target: Target, year: int, today: date) -> float | None:
    if not paced(target):
        return None
    return expected_by(target, year, today) if target.period == Cadence.YEAR else expected_in_period(target, today)


def is_behind(expected_now: float | None, total: float) -> bool:
    """Clearly behind: a tenth short and at least one whole unit, so the first days of a
    period (0 done of 0.03 expected) raise no alarm."""
    if expected_now is None:
        return False
    gap = expected_now - total
    return gap >= 1 and gap >= expected_now * 0.1


def requirement_words(target: Target) -> str:
    """每人每月不少于: who, how often, and the comparator."""
    return f"{'每人' if target.per else ''}{_PERIOD_WORDS.get(target.period, '')}{target.comparator.words}"


def requirement(target: Target) -> str:
    unit = target.unit if target.unit == "%" else f" {target.unit}"
    return f"{requirement_words(target)} {target.value:g}{unit}"


@dataclass
class TargetPace:
    title: str
    unit: str
    comparator: str  # words: 不少于 …
    value: float
    total: float
    expected: float | None  # where a steady pace would be today (None: pace means nothing)
    entries: int
    # A per-person target seen by the office: how many hold it, how many are on pace, who is not.
    people: int | None = None
    on_pace: int | None = None
    behind_names: list[str] = field(default_factory=list)
    own: bool = False  # a per-person target seen by that person: their own figure
    pace_words: str = "按全年进度"  # 按本月进度 for a monthly figure
    note: str | None = None  # said instead of the requirement (the office's count of people on pace)
    id: str = ""

    @property
    def share(self) -> float:
        if self.people is not None:
            return self.on_pace / self.people if self.people else 0.0
        return self.total / self.value if self.value else 0.0

    @property
    def behind(self) -> bool:
        if self.people is not None:
            return bool(self.behind_names)
        return is_behind(self.expected, self.total)

    def bar(self, width: int = 20) -> str:
        filled = min(int(round(self.share * width)), width)
        return "█" * filled + "░" * (width - filled)


class Paces:
    """The year's standings of one plan, for any number of readers in one batch."""

    def __init__(self, plan: Plan, roster: Roster, standing: dict[Key, Progress], today: date):
        self.plan, self.roster, self.standing, self.today = plan, roster, standing, today

    def person_figure(self, target: Target, person_id: str) -> Progress:
        return self.standing.get((target.id, person_id, period_of(target, self.today)), Progress())

    def office_figure(self, target: Target) -> Progress:
        return self.standing.get((target.id, None, None), Progress())

    def of_office(self, target: Target) -> TargetPace:
        want = expected(target, self.plan.year, self.today)
        if not target.per:
            figure = self.office_figure(target)
            return self._pace(target, figure.total, want, figure.entries)
        people = self.roster.with_role(target.per)
        behind = [p.name for p in people if is_behind(want, self.person_figure(target, p.id).total)]
        entries = sum(v.entries for k, v in self.standing.items() if k[0] == target.id)
        on_pace = len(people) - len(behind)
        pace = TargetPace(id=target.id, title=target.title, unit="人", comparator="按进度", value=float(len(people)),
                          total=float(on_pace), expected=None, entries=entries, people=len(people), on_pace=on_pace,
                          behind_names=behind)
        shown = "、".join(behind[:BEHIND_NAMED]) + (f" 等 {len(behind)} 人" if len(behind) > BEHIND_NAMED else "")
        pace.note = f"{requirement(target)};按进度 {on_pace}/{len(people)} 人" + (f",落后:{shown}" if behind else "")
        return pace

    def of_person(self, target: Target, person_id: str) -> TargetPace:
        figure = self.person_figure(target, person_id)
        pace = self._pace(target, figure.total, expected(target, self.plan.year, self.today), figure.entries)
        pace.own = True
        return pace

    def _pace(self, target: Target, total: float, want: float | None, entries: int) -> TargetPace:
        words = "按全年进度" if target.period == Cadence.YEAR else f"按{_CURRENT[target.period]}进度"
        return TargetPace(id=target.id, title=target.title, unit=target.unit, comparator=target.comparator.words,
                          value=target.value, total=total, expected=want, entries=entries, pace_words=words)

    def for_reader(self, person_id: str | None) -> list[TargetPace]:
        """The office's view (``person_id`` None), or one person's: the targets their roles
        own, and their own figure of each per-person target they are counted in."""
        if person_id is None:
            return [self.of_office(t) for t in self.plan.targets]
        person = self.roster.person(person_id)
        roles = set(person.roles) if person else set()
        out = []
        for target in self.plan.targets:
            if target.per and target.per in roles:
                out.append(self.of_person(target, person_id))
            elif target.owner in roles:
                out.append(self.of_office(target))
        return out


def paces_for(session: Session, plan: Plan, roster: Roster, today: date) -> Paces:
    return Paces(plan, roster, standings(session, plan.year), today)
