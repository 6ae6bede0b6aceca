"""The admins' overview, counted by hand: each item's done, skipped, open, overdue and due-so-far
occurrences (a duty due today is not late, a cancelled one is not owed), and the messages given
up on since the last overview (not those given up on before it, nor those still retried).

The small plan of tests/smallplan.py synced into a SQLite file, its ledger set by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest

from daemon import digest, ledger
from daemon.config import load_settings
from daemon.outbox import enqueue
from daemon.plan.model import CalendarSpec
from daemon.plan.schedule import load_schedule
from daemon.plan.workdays import WorkdayCalendar
from daemon.progress import Paces, Progress, TargetPace
from daemon.store.tables import DeliveryRow, MessageRow
from tests import orgplan
from tests.clirun import bundled_schedule
from tests.smallplan import at, make_service, write_plan

TODAY = date(2026, 3, 25)  # March's report is due today
NOW = at(TODAY)
SINCE = NOW - timedelta(days=7)


def test_the_overview_counts_each_items_occurrences_and_lists_what_was_given_up_since(tmp_path):
    service = make_service(write_plan(tmp_path), 25)
    service.start(at(date(2026, 1, 1)))
    with service.sessions.begin() as session:
        def row(occurrence_id):
            return ledger.occurrence(session, occurrence_id)

        ledger.skip(session, row("monthly-report/2026-01"), NOW, "cli:xu", "合并")
        for early in ("monthly-report/2026-04", "monthly-report/2026-05"):
            ledger.check_off(session, row(early), NOW, "cli:xu", "li-na", None, None)
        for talk in ("heart-talks/2026-H2/li-na", "heart-talks/2026-H2/zhang-wei"):
            ledger.skip(session, row(talk), NOW, "cli:xu", "调离")
        row("quarterly-meeting/2026-Q1").status = "cancelled"  # due 20 March, no longer asked for
        for n, (status, outcome, when) in enumerate([
            ("failed", "failed", SINCE + timedelta(hours=1)),  # given up on this week: listed
            ("failed", "failed", SINCE - timedelta(hours=1)),  # in the last overview already
            ("failed", "failed", SINCE),  # the moment the last overview was made: this one's
            ("pending", "retry", SINCE + timedelta(hours=2)),  # still being tried, listed never
        ]):
            enqueue(session, key=f"admin:test:{n}:xu-li:email", kind="admin", person="xu-li", channel="email",
                    send_at=when, content={"topic": "expired", "context": {}}, now=when)
            message = session.query(MessageRow).filter_by(key=f"admin:test:{n}:xu-li:email").one()
            message.status = status
            session.add(DeliveryRow(message_id=message.id, started_at=when, duration_ms=5, outcome=outcome,
                                    error="refused", instance="test"))
    plan = replace(service.schedule.plans[0], items={1: "按月报送"})  # the others untitled
    with service.sessions() as session:
        roster = service.schedule.roster
        result = digest.overview(session, plan, roster, TODAY, SINCE)
    service.engine.dispose()

    def counts(done=0, opened=0, overdue=0, skipped=0, due_so_far=0):
        # (none is 上线前: the service went live on 1 January, before anything fell due)
        return {"done": done, "open": opened, "overdue": overdue, "skipped": skipped, "due_so_far": due_so_far,
                "prelive": 0}

    assert result["items"] == [
        # January skipped, February overdue, March due today, April and May done early.
        {"item": 1, "title": "按月报送", **counts(done=2, opened=9, overdue=1, skipped=1, due_so_far=2)},
        {"item": 2, "title": "", **counts(opened=3)},  # Q1 cancelled: neither open nor owed
        {"item": 3, "title": "", **counts(opened=1)},
        {"item": 4, "title": "", **counts(opened=2, skipped=2)},
    ]
    assert result["overdue_total"] == 1
    assert [m.key for m in result["failed"]] == ["admin:test:0:xu-li:email", "admin:test:2:xu-li:email"]
    assert result["empty"] is False and result["targets"] == []
    assert result["branches"] == []  # one branch (none written): nothing to count apart


def test_a_personal_digest_sorts_duties_into_overdue_this_week_and_upcoming_at_the_edges(tmp_path):
    """Wednesday 25 March; the week ends on Sunday the 29th. Overdue is before today, this week
    is today to Sunday, upcoming opens after today and within seven days and is due later."""
    files = write_plan(tmp_path)
    schedule = load_schedule(files.schedules, files.roster)
    plan, roster = schedule.plans[0], schedule.roster

    def duty(name, opens, due, status="open", who=("li-na",)):
        return SimpleNamespace(id=name, opens=opens, due=due, status=status, assignees=list(who))

    rows = [
        duty("yesterday", date(2026, 3, 1), date(2026, 3, 24)),
        duty("today", date(2026, 3, 1), date(2026, 3, 25)),
        duty("sunday", date(2026, 3, 27), date(2026, 3, 29)),  # opens in two days, due this week
        duty("next-monday", date(2026, 3, 26), date(2026, 3, 30)),
        duty("opened-today", date(2026, 3, 25), date(2026, 4, 10)),
        duty("opens-in-7-days", date(2026, 4, 1), date(2026, 4, 20)),
        duty("opens-in-8-days", date(2026, 4, 2), date(2026, 4, 21)),
        duty("done", date(2026, 3, 1), date(2026, 3, 20), status="done"),
        duty("not-hers", date(2026, 3, 1), date(2026, 3, 20), who=("zhang-wei",)),
    ]
    def ledger_of(rows):
        return digest.YearLedger.of(rows, Paces(plan, roster, {}, TODAY))

    sections = digest.personal(ledger_of(rows), "li-na", TODAY)
    assert [r.id for r in sections["overdue"]] == ["yesterday"]
    assert [r.id for r in sections["this_week"]] == ["today", "sunday"]
    assert [r.id for r in sections["upcoming"]] == ["next-monday", "opens-in-7-days"]
    assert sections["targets"] == [] and sections["empty"] is False
    assert digest.personal(ledger_of(rows), "chen-jing", TODAY)["empty"] is True
    # Any one section is enough to make a digest worth sending.
    for only in ("yesterday", "today", "next-monday"):
        alone = [r for r in rows if r.id == only]
        assert digest.personal(ledger_of(alone), "li-na", TODAY)["empty"] is False, only


def test_a_targets_progress_bar_is_20_cells_filled_by_its_share_and_never_overflows():
    def pace(total):
        return TargetPace(title="审核文稿", unit="篇", comparator="不少于", value=500, total=total,
                                 expected=None, entries=1)

    assert pace(0).bar() == "░" * 20
    assert pace(125).bar() == "█" * 5 + "░" * 15
    assert pace(900).bar() == "█" * 20


def test_target_paces_say_the_comparison_the_entries_and_a_pace_only_for_yearly_counts():
    schedule = bundled_schedule()
    plan = schedule.plans[0]
    standing = {("manuscripts-reviewed", None, None): Progress(120.0, 3)}
    today = date(2026, 4, 1)  # 90 days of 365 gone
    office = Paces(plan, schedule.roster, standing, today)
    # 王强 is of the party group, not of the office: only the party group's targets (and his
    # own figures of the per-person ones) are his.
    paces = {p.title: p for p in office.for_reader("wang-qiang")}
    titles = {t.id: t.title for t in plan.targets}
    reviewed = paces[titles["manuscripts-reviewed"]]
    assert (reviewed.comparator, reviewed.value, reviewed.total, reviewed.entries) == ("不少于", 500, 120, 3)
    assert reviewed.expected == pytest.approx(500 * 90 / 365)
    exactly = paces[titles["shanxi-special-topics"]]
    assert exactly.comparator == "完成" and exactly.expected == pytest.approx(10 * 90 / 365)
    # A rate (%) has no pace through the year, nor does a reduction; only the owner's targets.
    assert paces[titles["training-coverage"]].expected is None
    assert titles["public-requests-closed"] not in paces  # the office's, not the party group's
    everyone = {p.title: p for p in office.for_reader(None)}
    assert everyone[titles["public-requests-closed"]].expected is None
    assert everyone[titles["documents-issued-reduction"]].expected is None
    # A per-person monthly quota: the office's figure is the count of people on pace, no pace line;
    # each person's own figure is paced through the month.
    assert everyone[titles["grassroots-research-days"]].expected is None
    assert paces[titles["grassroots-research-days"]].own and paces[titles["grassroots-research-days"]].expected == 0
    assert everyone[titles["party-building-budget"]].expected is not None


@pytest.mark.parametrize("send_empty", [True, False])
def test_the_digest_settings_are_the_operators(tmp_path, send_empty):
    files = write_plan(tmp_path)
    settings = load_settings(schedules=files.schedules, roster=files.roster, digest="daily", digest_at="07:45",
                             digest_send_empty=send_empty)
    assert digest.digest_settings(settings) == digest.DigestSettings("daily", time(7, 45), send_empty)


def test_digests_are_planned_for_everyone_with_an_address_and_the_overview_for_the_admins(tmp_path):
    """Daily: every working day (the 调休 Sunday 4 January too) at the set time in Shanghai;
    weekly: the first working day of each ISO week. A person without an email address gets
    none, and the people after them still do."""
    no_address = "  - {id: nomail, name: 无邮箱, branch: b1, roles: [members, staff]}\n"
    roster_text = orgplan.ROSTER.replace("roles: [party-secretary, members, staff]}\n",
                                         "roles: [party-secretary, members, staff]}\n" + no_address, 1)
    schedule = load_schedule(*orgplan.write(tmp_path, roster=roster_text))
    plan, roster = schedule.plans[0], schedule.roster
    cal = WorkdayCalendar(plan.calendar)
    addressed = [p.id for p in roster.people if p.email]
    assert "nomail" in {p.id for p in roster.people} - set(addressed) and roster.people[1].id == "nomail"

    daily = digest.plan_digests([(plan, cal)], roster, digest.DigestSettings("daily", time(8, 30)))
    workdays = cal.workdays_in(date(2026, 1, 1), date(2026, 12, 31))
    assert workdays[0] == date(2026, 1, 4)
    expected = {f"digest:personal:{p}:{d.isoformat()}:email" for p in addressed for d in workdays}
    expected |= {f"digest:overview:m1b:{d.isoformat()}:email" for d in workdays}  # m1b is the admin
    assert set(daily) == expected
    first = daily["digest:overview:m1b:2026-01-04:email"]
    assert (first.person, first.channel, first.send_at) == ("m1b", "email", datetime(2026, 1, 4, 0, 30, tzinfo=UTC))
    assert first.items == [{"scope": "overview", "label": "2026-01-04", "year": 2026}]

    weekly = digest.plan_digests([(plan, cal)], roster, digest.DigestSettings("weekly", time(8, 30)))
    # (the week of the Spring Festival, 16 to 22 February, has no working day: no digest)
    assert {k.split(":")[3] for k in weekly} == {f"2026-W{w:02d}" for w in range(1, 54)} - {"2026-W08"}
    assert weekly["digest:personal:boss:2026-W01:email"].send_at == datetime(2026, 1, 4, 0, 30, tzinfo=UTC)
    assert digest.plan_digests([(plan, cal)], roster, digest.DigestSettings("off", time(8, 30))) == {}


def test_weekly_digest_days_take_each_weeks_own_first_working_day_to_the_years_last_monday():
    """A week with no working day (here 7 to 11 December made holidays) has no digest, not the
    next Monday's; and in 2029, whose 31 December is a Monday, that day starts the last week."""
    holidays = frozenset(date(2026, 12, d) for d in range(7, 12))
    cal = WorkdayCalendar(CalendarSpec(extra_holidays=holidays))
    days = dict(digest.digest_days(SimpleNamespace(year=2026), cal, "weekly"))
    assert "2026-W50" not in days and days["2026-W51"] == date(2026, 12, 14)
    days_2029 = digest.digest_days(SimpleNamespace(year=2029), WorkdayCalendar(CalendarSpec()), "weekly")
    assert days_2029[-1] == ("2030-W01", date(2029, 12, 31))
