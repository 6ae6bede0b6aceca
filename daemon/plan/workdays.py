"""The working-day calendar: official public holidays and adjusted working days (调休) from
the `holidays` package, plus the plan's own additions (each year's official arrangement is
published late, so admins can add days before the package knows them)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays

from daemon.plan.model import CalendarSpec

ONE_DAY = timedelta(days=1)


@cache
def _official(country: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(days off, weekend days that are working days) for one year, from `holidays`."""
    table = holidays.country_holidays(country, years=year)
    days_off = frozenset(d for d in table if d.year == year)
    workdays = frozenset(d for d in getattr(table, "weekend_workdays", ()) if d.year == year)
    return days_off, workdays


def is_adjusted_workday(day: date, country: str = "CN") -> bool:
    """Whether ``day`` is a weekend day made a working day by the official arrangement (调休)."""
    return day in _official(country, day.year)[1]


def supported_countries() -> list[str]:
    return sorted(holidays.list_supported_countries())


def has_official_arrangement(country: str, year: int, spec: CalendarSpec | None = None) -> bool:
    """Whether the data (or the admin, in extra_holidays / extra_workdays) knows this year's
    adjusted working days: China publishes them each November for the next year; before that
    only the fixed holidays are known."""
    if country != "CN":
        return True
    if spec is not None and any(d.year == year for d in spec.extra_holidays | spec.extra_workdays):
        return True
    days_off, workdays = _official(country, year)
    return bool(workdays)


class WorkdayCalendar:
    """Answers "is this a working day?" quickly: every day of the years asked is tabulated once."""

    def __init__(self, spec: CalendarSpec):
        self.spec = spec
        self._years: dict[int, tuple[int, bytearray]] = {}  # year → (ordinal of 1 Jan, table)
        self._spans: dict[tuple[date, date], tuple[date, ...]] = {}  # workdays_in, memoised

    def _table(self, year: int) -> tuple[int, bytearray]:
        entry = self._years.get(year)
        if entry is None:
            days_off, weekend_workdays = _official(self.spec.country, year)
            start = date(year, 1, 1)
            size = (date(year + 1, 1, 1) - start).days
            table = bytearray(size)
            for i in range(size):
                d = start + timedelta(days=i)
                if d in self.spec.extra_workdays:
                    working = True
                elif d in self.spec.extra_holidays:
                    working = False
                elif d in weekend_workdays:
                    working = True
                elif d in days_off:
                    working = False
                else:
                    working = d.weekday() < 5
                table[i] = working
            entry = self._years[year] = (start.toordinal(), table)
        return entry

    def is_workday(self, day: date) -> bool:
        first, table = self._years.get(day.year) or self._table(day.year)
        return bool(table[day.toordinal() - first])

    def previous_workday(self, day: date) -> date:
        """``day`` itself if it is a working day, else the nearest working day before it."""
        while not self.is_workday(day):
            day -= ONE_DAY
        return day

    def next_workday(self, day: date) -> date:
        while not self.is_workday(day):
            day += ONE_DAY
        return day

    def workdays_in(self, first: date, last: date) -> list[date]:
        span = self._spans.get((first, last))
        if span is None:
            out, day = [], first
            while day <= last:
                if self.is_workday(day):
                    out.append(day)
                day += ONE_DAY
            span = self._spans[first, last] = tuple(out)
        return list(span)
