"""The plan as immutable, pure data. The loader builds it; expansion and every view read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum

from daemon import defaults

WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class Cadence(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half-year"
    YEAR = "year"
    ONCE = "once"
    PER_EVENT = "per-event"
    RRULE = "rrule"

    @property
    def months(self) -> int:
        """Months in one period (0 for cadences that are not calendar periods)."""
        return _PERIOD_MONTHS.get(self, 0)


_PERIOD_MONTHS = {Cadence.MONTH: 1, Cadence.QUARTER: 3, Cadence.HALF_YEAR: 6, Cadence.YEAR: 12}

# Cadences made of whole calendar months.
MONTHLY_CADENCES = tuple(_PERIOD_MONTHS)


class Shift(StrEnum):
    """What to do with a due date that falls on a day off."""

    PREVIOUS = "previous"
    NEXT = "next"
    KEEP = "keep"


class Comparator(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    EXACTLY = "exactly"
    REDUCE_BY = "reduce_by"

    @property
    def symbol(self) -> str:
        return {"at_least": ">=", "at_most": "<=", "exactly": "=", "reduce_by": "reduce-by"}[self]

    @property
    def words(self) -> str:
        return {"at_least": "不少于", "at_most": "不超过", "exactly": "完成", "reduce_by": "同比减少"}[self]


@dataclass(frozen=True)
class DueRule:
    """Where in a period the due date falls. ``month`` counts within the period (None: last)."""

    month: int | None = None
    day: int | None = None  # 1–31, or LAST_DAY
    weekday: int | None = None  # 0 = Monday
    nth: int | None = None  # 1–5 or -1
    workday: int | None = None  # Nth working day of the month, -1 = last
    on: date | None = None  # a fixed date (every: once)
    # `if_missing: last`: in a month without ``day`` (the 30th in February), its last day
    last_if_missing: bool = False
    # `after: 5wd` / `after: 3d`: counted from the period's end (a 通报 reports a finished month)
    after_workdays: int | None = None
    after_days: int | None = None
    # `before: <obligation id>`: never later than the day before that duty's due date in the
    # same stretch of the year (December's 日常考核 feeds the 年度考核)
    before: str | None = None

    @property
    def after_period(self) -> bool:
        return self.after_workdays is not None or self.after_days is not None


LAST_DAY = 99  # `day: last`


@dataclass(frozen=True)
class Escalation:
    after_days: int
    to: str  # role id


@dataclass(frozen=True)
class Obligation:
    id: str
    item: int
    title: str
    source: str
    every: Cadence
    owner: str
    due: DueRule | None = None
    rrule: str | None = None
    basis: str | None = None
    opens_days: int | None = None  # None: when the period starts
    participants: tuple[str, ...] = ()
    lead: str | None = None  # the role whose first holder leads (牵头); None: the owner's
    for_each: str | None = None
    each: bool = False  # one occurrence per holder of the owner role, checked off by that holder
    remind_days: tuple[int, ...] = ()
    escalate: Escalation | None = None
    if_not_workday: Shift = Shift.PREVIOUS
    line: int = 0


@dataclass(frozen=True)
class Target:
    id: str
    item: int
    title: str
    source: str
    comparator: Comparator
    value: float
    unit: str
    owner: str
    period: Cadence = Cadence.YEAR
    report: Cadence = Cadence.QUARTER
    basis: str | None = None
    per: str | None = None  # a role: each holder has their own figure (每人联系2个乡镇)
    line: int = 0


@dataclass(frozen=True)
class CalendarSpec:
    country: str = "CN"
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Plan:
    title: str
    year: int
    file: str
    office: str | None = None  # who sends the reminders (the From: name)
    timezone: str = defaults.TIMEZONE
    send_at: time = time.fromisoformat(defaults.SEND_AT)
    calendar: CalendarSpec = field(default_factory=CalendarSpec)
    items: dict[int, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    # Roles held inside a 支部 (支部书记, 党小组组长, 全体党员): they resolve within each branch;
    # of ``single_roles`` a branch has at most one holder.
    branch_roles: frozenset[str] = frozenset()
    single_roles: frozenset[str] = frozenset()
    obligations: tuple[Obligation, ...] = ()
    targets: tuple[Target, ...] = ()

    def obligation(self, obligation_id: str) -> Obligation | None:
        return next((o for o in self.obligations if o.id == obligation_id), None)

    def role_name(self, role_id: str) -> str:
        return self.roles.get(role_id, role_id)


CHANNELS = ("email", "wecom", "dingtalk", "feishu", "webhook")


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str | None = None
    wecom: str | None = None
    dingtalk: str | None = None
    feishu: str | None = None
    phone: str | None = None  # for an escalation to name who to call
    roles: tuple[str, ...] = ()
    channels: tuple[str, ...] = ("email",)  # where this person wants reminders
    branch: str | None = None  # the 支部 they belong to (a branch-scoped role is held there)
    line: int = field(default=0, compare=False)  # in the roster file, for errors

    def address(self, channel: str) -> str | None:
        """This person's id on a channel (the generic webhook addresses people by email)."""
        return {"email": self.email, "wecom": self.wecom, "dingtalk": self.dingtalk,
                "feishu": self.feishu, "webhook": self.email or self.id}.get(channel)


@dataclass(frozen=True)
class Roster:
    people: tuple[Person, ...] = ()
    file: str = ""
    branches: dict[str, str] = field(default_factory=dict)  # id → name (第一支部), in file order
    # Lookups by id and by role, built once: a roster of 3,000 is asked these per message.
    _by_id: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_role: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_role_in_branch: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for person in self.people:
            self._by_id.setdefault(person.id, person)
            for role in person.roles:
                self._by_role.setdefault(role, []).append(person)
                self._by_role_in_branch.setdefault((role, person.branch), []).append(person)

    def with_role(self, role_id: str, branch: str | None = None) -> tuple[Person, ...]:
        """The holders of a role, in the roster's order; of one branch's people if ``branch``
        (indexed: a sync asks this of every branch for every branch-scoped duty)."""
        if branch is None:
            return tuple(self._by_role.get(role_id, ()))
        return tuple(self._by_role_in_branch.get((role_id, branch), ()))

    def person(self, person_id: str) -> Person | None:
        return self._by_id.get(person_id)

    @property
    def branched(self) -> bool:
        """Whether branch-scoped roles resolve per branch: a one-branch office is flat, as before."""
        return len(self.branches) > 1

    def branch_name(self, branch_id: str | None) -> str:
        return self.branches.get(branch_id, branch_id or "") if branch_id else ""

    def named(self, text: str) -> tuple[Person, ...]:
        """The person whose id is ``text``, else everyone whose name it is (namesakes happen)."""
        by_id = self.person(text)
        return (by_id,) if by_id else tuple(p for p in self.people if p.name == text)


@dataclass(frozen=True)
class Event:
    """One happening of a per-event obligation (e.g. a major drafting task starting)."""

    obligation: str
    on: date
    title: str | None = None  # what happened (《2026年政府工作报告》起草), several a day apart
    seq: int = 1  # the happening's number on its date


def owner_words(plan: Plan | None, roster: Roster, occurrence) -> str:
    """Who owes a duty, as a reader says it: the role, and for a branch's own duty in an office
    of several 支部 which branch's (第一支部 支部书记): an escalation or a digest that lists the
    duties of many branches tells them apart."""
    role = plan.role_name(occurrence.owner) if plan else occurrence.owner
    branch = getattr(occurrence, "branch", None)
    # Only a role held inside branches: a 分管领导's own 调度 belongs to their branch too, but
    # is not that branch's duty.
    if branch and roster.branched and plan and occurrence.owner in plan.branch_roles:
        return f"{roster.branch_name(branch)} {role}"
    return role
