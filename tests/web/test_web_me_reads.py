"""我的工作台 reads only what it shows, narrowed in SQL; it must show what the digest's rules say,
whatever the day and whoever the person."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select

from daemon import digest, ledger
from daemon.store.db import make_engine, sessions
from daemon.store.tables import OccurrenceRow
from daemon.web.me_pages import _my_duties
from tests.web.world import SHANGHAI, open_world

DAYS = (date(2026, 1, 5), date(2026, 3, 2), date(2026, 3, 24), date(2026, 3, 31), date(2026, 6, 29), date(2026, 12, 28))


def test_me_shows_the_digests_sections_and_counts_every_later_and_finished_duty(march, tmp_path):
    world = open_world(march, tmp_path, serve=False)
    schedule = world.schedule
    plan = schedule.plans[0]
    engine = make_engine(world.settings["database_url"])
    with sessions(engine).begin() as session:  # two of every three duties of March's first weeks done
        due = session.scalars(select(OccurrenceRow).where(OccurrenceRow.due < date(2026, 3, 20))
                              .order_by(OccurrenceRow.id)).all()
        for n, row in enumerate(due):
            if n % 3 and row.assignees:
                when = datetime.combine(row.due, time(9 + n % 8), SHANGHAI)
                ledger.check_off(session, row, when, "cli:admin", row.assignees[0], None, None)
    checked = 0
    with sessions(engine)() as session:
        year = digest.year_rows(session, plan.year)
        for person in schedule.roster.people:
            mine = [r for r in year if person.id in r.assignees]
            for today in DAYS:
                view = _my_duties(session, schedule, person.id, today, plan.year)
                expected = digest.personal(digest.person_ledger(session, plan, schedule.roster, today, person.id, mine),
                                           person.id, today)
                for section in ("overdue", "this_week", "upcoming"):
                    assert [r.id for r in view[section]] == [r.id for r in expected[section]], (person.id, today, section)
                shown = {r.id for s in ("overdue", "this_week", "upcoming") for r in expected[s]}
                later = sorted((r for r in mine if r.status == "open" and r.id not in shown), key=lambda r: (r.due, r.id))
                assert view["later_total"] == len(later)
                assert [r.id for r in view["later"]] == [r.id for r in later[:len(view["later"])]]
                assert len(view["later"]) == min(len(later), 60)
                finished = [r for r in mine if r.status in ("done", "skipped")]
                assert view["done_total"] == len(finished)
                newest = sorted((r.done_at or r.updated_at for r in finished), reverse=True)
                assert [r.done_at or r.updated_at for r in view["done"]] == newest[:len(view["done"])]
                checked += bool(view["overdue"] or view["this_week"] or later)
    engine.dispose()
    assert checked > len(DAYS) * 5  # the days hold duties for most people: a real comparison
