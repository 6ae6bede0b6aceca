"""The year at a glance for the admin console: the plan's items down, months across, each
cell the occurrences due that month and the state each is in on ``today``.

Pure: rows in, a grid out (no session, no clock), so the same rows give the same grid in a
test and on the page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from daemon.store.tables import OccurrenceRow

# The states of one occurrence on a given day, most pressing first: a cell shows the first
# of these it holds, so a month with one overdue duty among nine done ones reads overdue.
# What remains to happen outranks how the finished ones finished.
OVERDUE, OPEN, NOT_YET, LATE, ON_TIME, SKIPPED = "overdue", "open", "not-yet", "late", "on-time", "skipped"
STATES = (OVERDUE, OPEN, NOT_YET, LATE, ON_TIME, SKIPPED)
FINISHED = (LATE, ON_TIME, SKIPPED)
MONTHS = tuple(range(1, 13))


def state_of(row: OccurrenceRow, today: date, zone: ZoneInfo) -> str | None:
    """One occurrence's state on ``today``; None for a cancelled one (its duty left the
    schedule: not part of the year any more). Lateness is judged on the local date of the
    check-off, as the ledger export counts 逾期天数."""
    if row.status == "done":
        done_on = row.done_at.astimezone(zone).date() if row.done_at else None
        return LATE if done_on is not None and done_on > row.due else ON_TIME
    if row.status == "skipped":
        return SKIPPED
    if row.status != "open":
        return None
    if row.due < today:
        return OVERDUE
    return NOT_YET if row.opens > today else OPEN


@dataclass
class Cell:
    item: int
    month: int
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts[s] for s in FINISHED)

    @property
    def state(self) -> str | None:
        """The most pressing state held (see STATES); None for an empty cell."""
        return next((s for s in STATES if self.counts[s]), None)

    def breakdown(self) -> list[tuple[str, int]]:
        return [(s, self.counts[s]) for s in STATES if self.counts[s]]


@dataclass
class Grid:
    year: int
    items: list[tuple[int, str]]  # (number, title), in order
    cells: dict[tuple[int, int], Cell]
    totals: Counter

    def cell(self, item: int, month: int) -> Cell:
        return self.cells.get((item, month)) or Cell(item, month)


def in_year(row: OccurrenceRow, year: int) -> bool:
    return row.plan_year == year and row.due.year == year


def build_grid(rows: Iterable[OccurrenceRow], items: dict[int, str], year: int, today: date,
               zone: ZoneInfo) -> Grid:
    """Every item of the plan gets a row, even one with no dated duty (a target only, or a
    per-event duty not yet started); an item number found only in the rows gets one too."""
    cells: dict[tuple[int, int], Cell] = {}
    totals: Counter = Counter()
    numbers = set(items)
    for row in rows:
        if not in_year(row, year):
            continue
        state = state_of(row, today, zone)
        if state is None:
            continue
        numbers.add(row.item)
        cell = cells.setdefault((row.item, row.due.month), Cell(row.item, row.due.month))
        cell.counts[state] += 1
        totals[state] += 1
    return Grid(year, [(n, items.get(n, "")) for n in sorted(numbers)], cells, totals)


def in_cell(rows: Iterable[OccurrenceRow], year: int, item: int, month: int) -> list[OccurrenceRow]:
    """The occurrences behind one cell (cancelled ones included: the page says so), by due date."""
    return sorted((r for r in rows if in_year(r, year) and r.item == item and r.due.month == month),
                  key=lambda r: (r.due, r.id))


def overdue(rows: Iterable[OccurrenceRow], today: date) -> list[OccurrenceRow]:
    """Open and due before today, the longest overdue first."""
    return sorted((r for r in rows if r.status == "open" and r.due < today), key=lambda r: (r.due, r.id))


def recently_finished(rows: Iterable[OccurrenceRow], limit: int) -> list[OccurrenceRow]:
    """The latest check-offs and skips, newest first: what an admin may need to undo."""
    finished = [r for r in rows if r.status in ("done", "skipped") and r.done_at is not None]
    return sorted(finished, key=lambda r: (r.done_at, r.id), reverse=True)[:limit]
