"""The admin console's year grid as a pure function of rows and a day: which state each
occurrence is in, which state a cell shows, and what the overdue and recent lists hold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from daemon import year_grid
from daemon.store.tables import OccurrenceRow

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 4, 10)


def occurrence(name: str, due: date, *, item: int = 1, status: str = "open", opens: date | None = None,
               done_at: datetime | None = None, year: int = 2026) -> OccurrenceRow:
    return OccurrenceRow(id=name, obligation=name.split("/")[0], kind="duty", plan_year=year, item=item,
                         title=name, source="", period="", opens=opens or due.replace(day=1), due=due,
                         owner="party-group", assignees=["li-na"], status=status, done_at=done_at,
                         done_by="li-na" if done_at else None, updated_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_check_off_after_local_midnight_of_the_due_day_counts_as_late():
    # 16:30 UTC on the 25th is 00:30 on the 26th in Shanghai.
    late = occurrence("a/03", date(2026, 3, 25), status="done", done_at=datetime(2026, 3, 25, 16, 30, tzinfo=UTC))
    on_time = occurrence("b/03", date(2026, 3, 25), status="done", done_at=datetime(2026, 3, 25, 15, 30, tzinfo=UTC))
    assert year_grid.state_of(late, TODAY, SHANGHAI) == year_grid.LATE
    assert year_grid.state_of(on_time, TODAY, SHANGHAI) == year_grid.ON_TIME


def test_open_occurrence_is_overdue_open_or_not_yet_open_by_today():
    assert year_grid.state_of(occurrence("a", date(2026, 4, 9)), TODAY, SHANGHAI) == year_grid.OVERDUE
    assert year_grid.state_of(occurrence("b", date(2026, 4, 10)), TODAY, SHANGHAI) == year_grid.OPEN
    assert year_grid.state_of(occurrence("c", date(2026, 4, 30), opens=date(2026, 4, 11)), TODAY,
                              SHANGHAI) == year_grid.NOT_YET
    assert year_grid.state_of(occurrence("d", date(2026, 3, 1), status="skipped"), TODAY, SHANGHAI) == year_grid.SKIPPED
    assert year_grid.state_of(occurrence("e", date(2026, 3, 1), status="cancelled"), TODAY, SHANGHAI) is None


def test_cell_shows_its_most_pressing_state_and_counts_every_state():
    rows = [
        occurrence("a/03", date(2026, 3, 5), status="done", done_at=datetime(2026, 3, 4, tzinfo=UTC)),
        occurrence("b/03", date(2026, 3, 20), status="done", done_at=datetime(2026, 3, 23, tzinfo=UTC)),
        occurrence("c/03", date(2026, 3, 25)),  # overdue on 10 April
        occurrence("d/03", date(2026, 3, 25), status="cancelled"),  # not part of the year any more
        occurrence("a/04", date(2026, 4, 7), status="done", done_at=datetime(2026, 4, 7, tzinfo=UTC)),
        occurrence("b/04", date(2026, 4, 24), opens=date(2026, 4, 1)),
        occurrence("x/05", date(2026, 5, 8), item=2, status="done", done_at=datetime(2026, 5, 9, tzinfo=UTC)),
        occurrence("y/05", date(2026, 5, 8), item=2, status="done", done_at=datetime(2026, 5, 1, tzinfo=UTC)),
        occurrence("last-year", date(2025, 12, 1), year=2025),
    ]
    grid = year_grid.build_grid(rows, {1: "第一条", 2: "第二条", 3: "只有指标"}, 2026, TODAY, SHANGHAI)

    march = grid.cell(1, 3)
    assert march.state == year_grid.OVERDUE
    assert (march.counts[year_grid.OVERDUE], march.finished, march.total) == (1, 2, 3)
    assert march.breakdown() == [(year_grid.OVERDUE, 1), (year_grid.LATE, 1), (year_grid.ON_TIME, 1)]
    assert grid.cell(1, 4).state == year_grid.OPEN
    assert grid.cell(2, 5).state == year_grid.LATE  # how the finished ones finished: the worse
    assert grid.cell(1, 5).state is None and grid.cell(1, 5).total == 0
    assert grid.items == [(1, "第一条"), (2, "第二条"), (3, "只有指标")]  # an item without duties keeps its row
    assert sum(grid.totals.values()) == 7


def test_cell_lists_its_occurrences_by_due_date_and_overdue_list_starts_with_the_oldest():
    rows = [occurrence("late/03", date(2026, 3, 25)), occurrence("early/03", date(2026, 3, 5)),
            occurrence("other-item/03", date(2026, 3, 1), item=2), occurrence("april/04", date(2026, 4, 7)),
            occurrence("done/03", date(2026, 3, 2), status="done", done_at=datetime(2026, 3, 2, tzinfo=UTC))]
    assert [r.id for r in year_grid.in_cell(rows, 2026, 1, 3)] == ["done/03", "early/03", "late/03"]
    assert [r.id for r in year_grid.overdue(rows, TODAY)] == ["other-item/03", "early/03", "late/03", "april/04"]
    assert [r.id for r in year_grid.recently_finished(rows, 5)] == ["done/03"]
