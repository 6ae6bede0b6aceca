"""Periods of a cadence within a plan year, and where a due rule puts the date inside one."""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from daemon.plan.model import LAST_DAY, WEEKDAY_NAMES, Cadence, DueRule
from daemon.plan.workdays import WorkdayCalendar


class DueRuleError(ValueError):
    """A due rule that cannot be placed in a period; the message is for the admin."""


@dataclass(frozen=True)
class Period:
    label: str  # 2026-03, 2026-Q2, 2026-H1, 2026, 2026-W05, 2026-03-10
    start: date
    end: date

    def month_start(self, ordinal: int | None) -> date:
        """First day of the period's ``ordinal``-th month (None: its last month)."""
        months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
        if ordinal is None:
            ordinal = months
        if not 1 <= ordinal <= months:
            raise DueRuleError(f"month: {ordinal} 超出了周期 {self.label}(它只有 {months} 个月)")
        index = self.start.month - 1 + ordinal - 1
        return date(self.start.year + index // 12, index % 12 + 1, 1)


def periods_of(cadence: Cadence, year: int) -> list[Period]:
    """The calendar periods of a cadence that belong to ``year``."""
    return list(_periods_of(cadence, year))


@cache
def _periods_of(cadence: Cadence, year: int) -> tuple[Period, ...]:
    if cadence == Cadence.WEEK:
        # ISO weeks of the ISO week-year: a week belongs to the year that holds its Thursday.
        monday = date.fromisocalendar(year, 1, 1)
        out = []
        while monday.isocalendar().year == year:
            out.append(Period(f"{year}-W{monday.isocalendar().week:02d}", monday, monday + timedelta(days=6)))
            monday += timedelta(days=7)
        return tuple(out)
    span = cadence.months
    if not span:
        raise ValueError(f"{cadence} has no calendar periods")
    out = []
    for index, first_month in enumerate(range(1, 13, span), start=1):
        start = date(year, first_month, 1)
        last_month = first_month + span - 1
        end = date(year, last_month, _calendar.monthrange(year, last_month)[1])
        out.append(Period(_label(cadence, year, index), start, end))
    return tuple(out)


def _label(cadence: Cadence, year: int, index: int) -> str:
    if cadence == Cadence.MONTH:
        return f"{year}-{index:02d}"
    if cadence == Cadence.QUARTER:
        return f"{year}-Q{index}"
    if cadence == Cadence.HALF_YEAR:
        return f"{year}-H{index}"
    return str(year)


def nominal_due(rule: DueRule, cadence: Cadence, period: Period, cal: WorkdayCalendar) -> date:
    """The date the rule names in the period, before any working-day shift."""
    if rule.on is not None:
        return rule.on
    if rule.after_workdays is not None:
        day = period.end
        for _ in range(rule.after_workdays):
            day = cal.next_workday(day + timedelta(days=1))
        return day
    if rule.after_days is not None:
        return period.end + timedelta(days=rule.after_days)
    if cadence == Cadence.WEEK:
        if rule.workday is not None:
            days = cal.workdays_in(period.start, period.end)
            if not days:  # a whole week off (Spring Festival): the shift rule decides
                return period.end
            return days[-1] if rule.workday < 0 else days[min(rule.workday, len(days)) - 1]
        return period.start + timedelta(days=rule.weekday if rule.weekday is not None else 4)
    first = period.month_start(rule.month)
    days_in_month = _calendar.monthrange(first.year, first.month)[1]
    last = first.replace(day=days_in_month)
    if rule.workday is not None:
        workdays = cal.workdays_in(first, last)
        index = rule.workday - 1 if rule.workday > 0 else rule.workday
        if not -len(workdays) <= index < len(workdays):
            raise DueRuleError(f"{first.year}年{first.month}月只有 {len(workdays)} 个工作日,没有第 {rule.workday} 个")
        return workdays[index]
    if rule.weekday is not None:
        # Days of the month on that weekday: every 7th from the first one.
        matches = range(1 + (rule.weekday - first.weekday()) % 7, days_in_month + 1, 7)
        nth = rule.nth or 1
        index = nth - 1 if nth > 0 else nth
        if not -len(matches) <= index < len(matches):
            raise DueRuleError(f"{first.year}年{first.month}月没有第 {nth} 个{WEEKDAY_NAMES[rule.weekday]};要表示最后一个请写 nth: -1")
        return first.replace(day=matches[index])
    day = rule.day if rule.day is not None else LAST_DAY
    if day == LAST_DAY:
        return last
    if day > days_in_month:
        if rule.last_if_missing:
            return last
        raise DueRuleError(f"{first.year}年{first.month}月没有 {day} 日;要表示“{day} 日,没有这一天的月份取月底”"
                           f"请写 due: {{day: {day}, if_missing: last}};要表示每月月底请写 day: last")
    return first.replace(day=day)
