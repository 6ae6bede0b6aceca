"""The ledger's records: every change leaves an audit row saying who did what to which duty and
how, and an event is recorded once per obligation and day.

The ledger functions on a SQLite file synced from the small plan (tests/smallplan.py).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from daemon import digest, ledger, progress
from daemon.plan.model import Comparator, Target
from daemon.plan.schedule import load_schedule
from daemon.plan.workdays import WorkdayCalendar
from daemon.progress import record_progress
from daemon.store.tables import AuditRow, EventRow, OccurrenceRow, ProgressRow
from tests.clirun import run_cli
from tests.smallplan import PLAN_YAML, at, make_service, write_plan

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = at(date(2026, 3, 26))


@pytest.fixture
def service(tmp_path):
    service = make_service(write_plan(tmp_path), 25)  # nothing is sent here
    service.start(at(date(2026, 3, 1)))
    yield service
    service.engine.dispose()


def audit_trail(service) -> list[tuple]:
    with service.sessions() as session:
        return [(a.at, a.actor, a.action, a.subject, a.detail)
                for a in session.scalars(select(AuditRow).order_by(AuditRow.id))]



def totals(recorded: progress.Progress) -> tuple[float, int]:
    """A target's running total and how many entries made it."""
    return recorded.total, recorded.entries

def test_every_change_to_the_ledger_is_audited_with_who_what_and_how(service):
    target = Target(id="reports-filed", item=1, title="报送工作报告", source="全年报送不少于12次",
                    comparator=Comparator.AT_LEAST, value=12, unit="次", owner="office")
    with service.sessions.begin() as session:
        march = ledger.occurrence(session, "monthly-report/2026-03")
        assert ledger.check_off(session, march, NOW, "cli:xu", "li-na", "已报送", "OA-2026-031")
        assert ledger.reopen(session, march, NOW, "cli:xu")
        ledger.skip(session, march, NOW, "cli:xu", "本月合并报送")
        assert ledger.record_event(session, "heart-talks", date(2026, 3, 20), NOW, "cli:xu")
        assert record_progress(session, target, 2026, "+", 3, "一季度", NOW, "cli:li") == 3
        assert record_progress(session, target, 2026, "=", 5, None, NOW, "cli:li") == 5
    assert audit_trail(service) == [
        (NOW, "cli:xu", "done", "monthly-report/2026-03", {"by": "li-na", "note": "已报送", "evidence": "OA-2026-031"}),
        (NOW, "cli:xu", "reopen", "monthly-report/2026-03", {"previous": "done"}),
        (NOW, "cli:xu", "skip", "monthly-report/2026-03", {"reason": "本月合并报送"}),
        (NOW, "cli:xu", "event", "heart-talks", {"on": "2026-03-20"}),
        (NOW, "cli:li", "progress", "reports-filed", {"mode": "+", "amount": 3, "total": 3, "note": "一季度"}),
        (NOW, "cli:li", "progress", "reports-filed", {"mode": "=", "amount": 5, "total": 5, "note": None}),
    ]


def test_reopening_a_skipped_duty_records_that_it_was_skipped(service):
    with service.sessions.begin() as session:
        row = ledger.occurrence(session, "monthly-report/2026-04")
        ledger.skip(session, row, NOW, "cli:xu", "暂停")
        assert (row.status, row.done_by, row.note) == ("skipped", "cli:xu", "暂停")
        assert ledger.reopen(session, row, NOW, "cli:xu")
        assert not ledger.reopen(session, row, NOW, "cli:xu")  # already open: nothing to do
        assert (row.status, row.done_at, row.done_by, row.note) == ("open", None, None, None)
    assert [t[2:] for t in audit_trail(service)] == [
        ("skip", "monthly-report/2026-04", {"reason": "暂停"}),
        ("reopen", "monthly-report/2026-04", {"previous": "skipped"}),
    ]


def test_an_event_is_recorded_once_per_obligation_and_day_and_says_who_recorded_it(service):
    day = date(2026, 3, 20)
    with service.sessions.begin() as session:
        assert ledger.record_event(session, "drafting-start", day, NOW, "cli:xu") is True
        assert ledger.record_event(session, "drafting-start", day, NOW, "cli:li") is False
        # Another obligation the same day, and the same obligation another day, are new events.
        assert ledger.record_event(session, "inspection-start", day, NOW, "cli:li") is True
        assert ledger.record_event(session, "drafting-start", date(2026, 3, 21), NOW, "cli:li") is True
    with service.sessions() as session:
        events = [(e.obligation, e.on, e.created_by, e.created_at)
                  for e in session.scalars(select(EventRow).order_by(EventRow.id))]
    assert events == [("drafting-start", day, "cli:xu", NOW), ("inspection-start", day, "cli:li", NOW),
                      ("drafting-start", date(2026, 3, 21), "cli:li", NOW)]
    assert len(audit_trail(service)) == 3  # the refused repeat left no trace


def test_recording_progress_checks_off_the_targets_opened_report_requests_in_due_order(tmp_path):
    """`planbell progress` is the report the 【进度报送】 reminders ask for: it checks off that
    target's open report occurrences that have opened by today (today's included), oldest
    first, and nothing else. (An office live since January: February's request is owed.)"""
    db = f"sqlite:///{tmp_path / 'planbell.db'}"
    with freeze_time("2026-03-01 02:00:00"):
        assert run_cli("status", database_url=db, go_live="2026-01-01").code == 0
    engine = create_engine(db)
    with Session(engine) as session:
        reports = {r.id: r.opens for r in session.scalars(
            select(OccurrenceRow).where(OccurrenceRow.obligation == "manuscripts-reviewed"))}
    march = reports["manuscripts-reviewed/2026-03"]
    with Session(engine) as session, session.begin():  # last December's request, never answered
        session.add(OccurrenceRow(
            id="manuscripts-reviewed/2025-12", obligation="manuscripts-reviewed", kind="report", plan_year=2025,
            item=4, title="意识形态三级审核文稿", source="全年审核文稿不少于500篇", period="2025-12",
            opens=date(2025, 12, 24), due=date(2025, 12, 31), owner="party-group", assignees=["li-na"],
            status="open", updated_at=at(date(2025, 12, 24))))
    with freeze_time(datetime.combine(march, time(10, 0), SHANGHAI)):  # the day March's opens
        skipped = run_cli("skip", "manuscripts-reviewed/2026-01", "--reason", "年初未报", database_url=db, go_live="2026-01-01")
        result = run_cli("progress", "manuscripts-reviewed", "+10", "--by", "li-na", database_url=db, go_live="2026-01-01")
    assert skipped.code == 0 and result.code == 0, (skipped.err, result.err)
    closed = ["manuscripts-reviewed/2026-02", "manuscripts-reviewed/2026-03"]
    assert [line.split(":", 1)[1] for line in result.out.splitlines() if line.startswith("已销号进度报送")] == closed
    with Session(engine) as session:
        rows = {r.id: r for r in session.scalars(select(OccurrenceRow).where(OccurrenceRow.kind == "report"))}
    engine.dispose()
    assert all((rows[o].status, rows[o].done_by, rows[o].note) == ("done", "li-na", "已填报进度") for o in closed)
    assert rows["manuscripts-reviewed/2026-01"].status == "skipped"  # not open: left as it was
    assert rows["manuscripts-reviewed/2026-04"].status == "open"  # not open yet
    assert rows["manuscripts-reviewed/2025-12"].status == "open"  # last year's, not this progress's
    assert {r.status for o, r in rows.items() if not o.startswith("manuscripts-reviewed/")} == {"open"}


def test_progress_adds_and_sets_to_zero_or_fractions_refuses_a_negative_total_and_keeps_each_year_apart(service):
    target = Target(id="reports-filed", item=1, title="报送工作报告", source="全年报送不少于12次",
                    comparator=Comparator.AT_LEAST, value=12, unit="次", owner="office")
    with service.sessions.begin() as session:
        record_progress(session, target, 2025, "=", 40, "去年", NOW, "cli:xu")
        assert record_progress(session, target, 2026, "+", 0.5, "半次", NOW, "cli:li") == 0.5
        assert record_progress(session, target, 2026, "=", 0, None, NOW, "cli:li") == 0
        assert record_progress(session, target, 2026, "+", 5, None, NOW, "cli:li") == 5
        with pytest.raises(ledger.LedgerError) as refused:
            record_progress(session, target, 2026, "+", -6, None, NOW, "cli:li")
        assert str(refused.value) == "累计不能为负数(当前 5,本次 +-6)"
        assert totals(progress.progress_of(session, "reports-filed", 2026)) == (5, 3)
        assert totals(progress.progress_of(session, "reports-filed", 2025)) == (40, 1)
        rows = [(r.plan_year, r.total, r.note, r.recorded_by) for r in session.scalars(
            select(ProgressRow).order_by(ProgressRow.id))]
    assert rows == [(2025, 40, "去年", "cli:xu"), (2026, 0.5, "半次", "cli:li"), (2026, 0, None, "cli:li"),
                    (2026, 5, None, "cli:li")]


def test_the_expected_pace_is_nothing_before_the_year_and_the_whole_target_after_it():
    target = Target(id="t", item=1, title="t", source="t", comparator=Comparator.AT_LEAST, value=365, unit="篇",
                    owner="office")
    assert progress.expected_by(target, 2026, date(2025, 12, 31)) == 0.0
    assert progress.expected_by(target, 2026, date(2026, 1, 1)) == 0.0
    assert progress.expected_by(target, 2026, date(2026, 4, 1)) == 90
    assert progress.expected_by(target, 2026, date(2027, 2, 1)) == 365


def test_daily_digests_go_out_on_every_working_day_of_the_year_from_its_first(tmp_path):
    files = write_plan(tmp_path, PLAN_YAML.replace("calendar: {country: CN}",
                                                   "calendar: {country: CN, extra_workdays: [2026-01-01]}"))
    plan = load_schedule(files.schedules, files.roster).plans[0]
    calendar = WorkdayCalendar(plan.calendar)
    daily = digest.digest_days(plan, calendar, "daily")
    assert daily[0] == ("2026-01-01", date(2026, 1, 1)) and daily[1] == ("2026-01-04", date(2026, 1, 4))
    assert len(daily) == 249  # 2026's 248 working days and the added New Year's Day
    weekly = digest.digest_days(plan, calendar, "weekly")
    assert weekly[:2] == [("2026-W01", date(2026, 1, 1)), ("2026-W02", date(2026, 1, 5))]


def test_titled_events_of_a_day_are_numbered_per_obligation_and_date_and_audited_so(service):
    first, second = date(2026, 3, 20), date(2026, 3, 21)
    with service.sessions.begin() as session:
        for obligation, day, title in [("drafting-start", first, "甲稿"), ("drafting-start", first, "乙稿"),
                                       ("inspection-start", first, "乙稿"), ("drafting-start", second, "乙稿"),
                                       ("drafting-start", second, "甲稿"), ("inspection-start", second, None)]:
            assert ledger.record_event(session, obligation, day, NOW, "cli:xu", title)
        assert not ledger.record_event(session, "drafting-start", first, NOW, "cli:li", "乙稿")  # the same again
        numbers = {(o, d, t): ledger.event_number(session, o, d, t) for o, d, t in [
            ("drafting-start", first, "甲稿"), ("drafting-start", first, "乙稿"), ("inspection-start", first, "乙稿"),
            ("drafting-start", second, "乙稿"), ("drafting-start", second, "甲稿")]}
    assert numbers == {("drafting-start", first, "甲稿"): 1, ("drafting-start", first, "乙稿"): 2,
                       ("inspection-start", first, "乙稿"): 1, ("drafting-start", second, "乙稿"): 1,
                       ("drafting-start", second, "甲稿"): 2}
    assert [t[2:] for t in audit_trail(service)] == [
        ("event", "drafting-start", {"on": "2026-03-20", "seq": 1, "title": "甲稿"}),
        ("event", "drafting-start", {"on": "2026-03-20", "seq": 2, "title": "乙稿"}),
        ("event", "inspection-start", {"on": "2026-03-20", "seq": 1, "title": "乙稿"}),
        ("event", "drafting-start", {"on": "2026-03-21", "seq": 1, "title": "乙稿"}),
        ("event", "drafting-start", {"on": "2026-03-21", "seq": 2, "title": "甲稿"}),
        ("event", "inspection-start", {"on": "2026-03-21"}),  # untitled: the day's only one
    ]


def test_reports_are_checked_off_and_listed_in_due_order_whatever_order_their_rows_were_written(service):
    """`planbell progress` lists the 【进度报送】 it checks off by due date, even when a later
    report's row was written first (as PostgreSQL rewrites a row it updates, at the end)."""
    def report(quarter: int, due: date) -> OccurrenceRow:
        return OccurrenceRow(id=f"docs/2026-Q{quarter}", obligation="docs", kind="report", plan_year=2026, item=1,
                             title="审核文稿", source="全年审核文稿不少于500篇", period=f"2026-Q{quarter}",
                             opens=due - timedelta(days=7), due=due, owner="office", assignees=["xu-li"],
                             updated_at=NOW)

    with service.sessions.begin() as session:
        session.add(report(2, date(2026, 6, 30)))
        session.flush()
        session.add(report(1, date(2026, 3, 31)))
    with service.sessions.begin() as session:
        closed = ledger.close_reports(session, "docs", 2026, date(2026, 7, 1), NOW, "cli:xu", "xu-li")
    assert closed == ["docs/2026-Q1", "docs/2026-Q2"]


def test_a_duty_due_before_go_live_has_nothing_to_undo(service):
    with service.sessions.begin() as session:
        row = ledger.occurrence(session, "monthly-report/2026-01")
        row.status = "prelive"  # as an office that went live in February has it
        assert not ledger.reopen(session, row, NOW, "cli:xu")
        assert row.status == "prelive"
    assert audit_trail(service) == []


def test_matching_before_a_day_leaves_out_what_falls_due_that_day(service):
    with service.sessions() as session:
        due = ledger.occurrence(session, "monthly-report/2026-03").due
        found = [r.id for r in ledger.matching(session, ["monthly-report/*"], before=due)]
    assert found == ["monthly-report/2026-01", "monthly-report/2026-02"]


def test_matching_reads_patterns_with_several_wildcards_and_sorts_by_due_then_id(service):
    with service.sessions.begin() as session:
        # A tie on the due date between a row written first and one with a smaller id written later.
        ledger.occurrence(session, "heart-talks/2026-H1/li-na").due = date(2026, 3, 25)
    with service.sessions() as session:
        early = [r.id for r in ledger.matching(session, ["mon*-report/2026-0[12]*"])]
        march = [r.id for r in ledger.matching(session, ["monthly-report/2026-03", "quarterly-meeting/2026-Q1",
                                                         "heart-talks/2026-H1/li-na"])]
    assert early == ["monthly-report/2026-01", "monthly-report/2026-02"]
    # Due 20 March, then the two due 25 March by id.
    assert march == ["quarterly-meeting/2026-Q1", "heart-talks/2026-H1/li-na", "monthly-report/2026-03"]


def test_the_weeks_link_check_offs_are_those_made_through_a_link_since_the_last_digest(service):
    since = NOW - timedelta(days=7)
    link = {"via": {"kind": "link", "channel": "email"}}
    with service.sessions.begin() as session:
        for occurrence_id, at_, detail in [
            ("monthly-report/2026-01", since - timedelta(seconds=1), link),  # in last week's digest
            ("monthly-report/2026-02", since, link),  # the moment the last digest was made: this one's
            ("quarterly-meeting/2026-Q1", since + timedelta(days=1), {}),  # from the CLI: not news
        ]:
            row = ledger.occurrence(session, occurrence_id)
            assert ledger.check_off(session, row, at_, "web:li-na", "li-na", None, None, **detail)
        ledger.skip(session, ledger.occurrence(session, "monthly-report/2026-03"), since, "web:li-na", "调离")
    with service.sessions() as session:
        found = [e.subject for e in digest.link_checkoffs(session, since)]
    assert found == ["monthly-report/2026-02"]


def test_a_check_off_by_someone_else_is_told_by_their_name_or_their_id_once_they_left(service):
    since = NOW - timedelta(days=7)
    link = {"via": {"kind": "link", "channel": "email"}}
    with service.sessions.begin() as session:
        for occurrence_id, actor in [("monthly-report/2026-01", "chen-jing"), ("monthly-report/2026-02", "gone-person"),
                                     ("monthly-report/2026-03", "li-na")]:
            row = ledger.occurrence(session, occurrence_id)
            assert ledger.check_off(session, row, NOW, actor, actor, None, None, **link)
    roster = service.schedule.roster
    with service.sessions() as session:
        entries = digest.link_checkoffs(session, since)
        rows = digest.rows_by_id(session, [e.subject for e in entries])
    told = digest.checked_by_others(entries, rows, "li-na", {p.id: p.name for p in roster.people}, SHANGHAI)
    # li-na's own check-off is not news to her; 陈静 by name; one who left the roster by id.
    assert [(t["title"], t["by_name"]) for t in told] == [("月度工作报告", "陈静"), ("月度工作报告", "gone-person")]


def test_a_digest_reads_what_is_overdue_due_this_week_or_opens_within_seven_days_and_nothing_later(service):
    """The digest window read from the database holds every duty the digest shows: one opening
    exactly seven days on is 即将开始; one opening eight days on is not read at all."""
    today = date(2026, 3, 25)  # a Wednesday; April's report opens on 1 April, seven days on
    with service.sessions() as session:
        plan, roster = service.schedule.plans[0], service.schedule.roster
        window = digest.year_ledger(session, plan, roster, today, digest_window=True)
        whole = digest.year_ledger(session, plan, roster, today)
        opens = {r.id: r.opens for r in whole.rows}
    assert opens["monthly-report/2026-04"] == today + timedelta(days=7)
    sections = digest.personal(window, "li-na", today)
    assert [r.id for r in sections["upcoming"]] == ["monthly-report/2026-04"]
    assert digest.personal(whole, "li-na", today) == sections  # the window left nothing out
    read = {r.id for r in window.rows}
    assert not {i for i, day in opens.items() if day > today + timedelta(days=7)} & read
