"""A two-branch office through the ledger and a simulated month: each 支部书记 is reminded of
their own members only, one 分管领导's check-off leaves the other's open, one cadre's progress
leaves the others behind, and the monthly 通报 falls due in the next month's first week.

The real commands (run_cli, a SQLite file in tmp_path, frozen clock), the real service and
composer into a Maildir; the plan and roster of tests/orgplan.py.
"""

from __future__ import annotations

import csv
import email
import email.policy
import mailbox
from collections import Counter
from datetime import UTC, date, datetime

import icalendar
import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from daemon import actions, digest
from daemon import ledger as ledger_ops
from daemon.config import load_settings
from daemon.plan.schedule import load_schedule
from daemon.service import Service
from daemon.simulate import simulate
from daemon.store.tables import EventRow, MessageRow, OccurrenceRow
from notifiers.maildir import MaildirNotifier
from tests import orgplan
from tests.clirun import run_cli

MARCH_2 = "2026-03-02 01:00:00"  # 09:00 in Shanghai, a Monday
MARCH_25 = "2026-03-25 07:00:00"  # 15:00 in Shanghai: the March reports have opened


@pytest.fixture
def office(tmp_path):
    schedules, roster = orgplan.write(tmp_path)
    db = f"sqlite:///{tmp_path / 'planbell.db'}"

    def planbell(*args):
        return run_cli(*args, schedules=schedules, roster=roster, database_url=db, go_live="2026-01-01")

    planbell.db, planbell.schedule = db, load_schedule(schedules, roster)
    planbell.folder, planbell.schedules, planbell.roster = tmp_path, schedules, roster
    return planbell


def rows(db: str, model, *where):
    engine = create_engine(db)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(model).where(*where)))
    finally:
        engine.dispose()


def status(db: str, occurrence_id: str) -> str:
    (row,) = rows(db, OccurrenceRow, OccurrenceRow.id == occurrence_id)
    return row.status


def test_each_secretary_is_reminded_of_their_own_members_only(office):
    with freeze_time(MARCH_2):
        assert office("status").code == 0
    talks: dict[str, set[str]] = {}
    for message in rows(office.db, MessageRow, MessageRow.kind == "reminder"):
        for item in message.content["items"]:
            if item["occurrence"].startswith("talks/"):
                talks.setdefault(message.person, set()).add(item["occurrence"].rsplit("/", 1)[1])
    assert talks == {"sec-1": {"boss", "lead-a", "m1a", "m1b"}, "sec-2": {"lead-b", "m2a"}}


def test_one_supervising_leaders_check_off_leaves_the_others_open(office):
    with freeze_time(MARCH_2):
        done = office("done", "dispatch/2026-03/lead-a", "--by", "lead-a")
    assert done.code == 0, done.err
    assert status(office.db, "dispatch/2026-03/lead-a") == "done"
    assert status(office.db, "dispatch/2026-03/lead-b") == "open"
    (row,) = rows(office.db, OccurrenceRow, OccurrenceRow.id == "dispatch/2026-03/lead-a")
    assert not actions.may_act(office.schedule, row, "lead-b")  # not theirs to check off
    assert actions.may_act(office.schedule, row, "lead-a")


def test_one_cadres_progress_leaves_the_others_behind(office):
    with freeze_time(MARCH_25):
        result = office("progress", "research-days", "=5", "--by", "m1a")
        refused = office("progress", "research-days", "=5")
    assert result.code == 0, result.err
    assert "党员一甲的累计 5 天,目标每人每月不少于 5 天" in result.out
    assert "已销号进度报送:research-days/2026-03/m1a" in result.out
    assert status(office.db, "research-days/2026-03/m1a") == "done"
    assert status(office.db, "research-days/2026-03/m2a") == "open"
    assert refused.code == 2 and "按人计" in refused.err and "--by" in refused.err
    engine = create_engine(office.db)
    with Session(engine) as session:
        (target,) = office.schedule.plans[0].targets
        ledger = digest.year_ledger(session, office.schedule.plans[0], office.schedule.roster, date(2026, 3, 25))
    engine.dispose()
    office_view = ledger.paces.of_office(target)
    assert (office_view.on_pace, office_view.people) == (1, 9)
    assert "党员一甲" not in office_view.behind_names and "党员二甲" in office_view.behind_names
    assert "按进度 1/9 人,落后:" in office_view.note
    assert ledger.paces.of_person(target, "m1a").total == 5 and not ledger.paces.of_person(target, "m1a").behind
    assert ledger.paces.of_person(target, "m2a").behind
    # The person's own figure in their digest; the office's count of people on pace in the overview.
    assert [t.total for t in digest.personal(ledger, "m1a", date(2026, 3, 25))["targets"]] == [5]


def test_the_monthly_bulletin_is_due_in_the_first_week_of_the_next_month_in_the_ledger(office):
    out = office.folder / "台账.csv"
    with freeze_time(MARCH_25):
        result = office("ledger", "--year", "2026", "--format", "csv", "--out", out)
    assert result.code == 0, result.err
    with open(out, encoding="utf-8-sig", newline="") as handle:
        lines = {row["编号"]: row for row in csv.DictReader(handle)}
    assert lines["bulletin/2026-03"]["截止日期"] == "2026-04-08"
    assert lines["talks/2026-03/m2a"]["支部"] == "第二支部"
    assert lines["branch-meeting/2026-03/b1"]["支部"] == "第一支部"
    assert lines["bulletin/2026-03"]["支部"] == ""  # the office's own


def test_two_events_of_a_day_are_two_duties_in_agenda_ics_and_ledger(office):
    with freeze_time(MARCH_2):
        first = office("event", "briefing", "--date", "2026-03-10", "--title", "《政府工作报告》起草")
        second = office("event", "briefing", "--date", "2026-03-10", "--title", "营商环境课题")
        again = office("event", "briefing", "--date", "2026-03-10", "--title", "营商环境课题")
        agenda = office("agenda", "--from", "2026-03-10", "--to", "2026-03-10")
        ics = office("ics", "--from", "2026-03-01", "--to", "2026-03-31", "--out", office.folder / "m.ics")
    assert first.code == second.code == again.code == ics.code == 0, (first.err, second.err, ics.err)
    assert "briefing/2026-03-10)" in first.out and "briefing/2026-03-10.2)" in second.out
    assert "此前已记录" in again.out
    assert [(e.seq, e.title) for e in rows(office.db, EventRow)] == [(1, "《政府工作报告》起草"), (2, "营商环境课题")]
    assert "briefing/2026-03-10.2" in agenda.out and "营商环境课题" in agenda.out
    calendar = icalendar.Calendar.from_ical((office.folder / "m.ics").read_bytes())
    summaries = [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]
    assert [s for s in summaries if "政治纪律交底" in s] == [
        "调研前政治纪律交底:《政府工作报告》起草", "调研前政治纪律交底:营商环境课题"]
    assert status(office.db, "briefing/2026-03-10.2") == "open"
    # The ledger's duty (what reminders, digests and the workbench show) has the event's title.
    synced = {o.id: o.title for o in rows(office.db, OccurrenceRow, OccurrenceRow.obligation == "briefing")}
    assert synced == {"briefing/2026-03-10": "调研前政治纪律交底:《政府工作报告》起草",
                      "briefing/2026-03-10.2": "调研前政治纪律交底:营商环境课题"}


def test_a_simulated_month_brings_a_secretary_one_message_listing_their_talks(office):
    settings = load_settings(schedules=office.schedules, roster=office.roster, database_url=office.db,
                             digest="weekly", http_port=0, go_live=date(2026, 3, 1))
    maildir = office.folder / "mail"
    service = Service(settings, {"email": MaildirNotifier(maildir, "planbell <p@example.gov.cn>")}, instance="test")
    result = simulate(service, date(2026, 3, 1), date(2026, 3, 31), "Asia/Shanghai", go_live=True)
    service.engine.dispose()
    assert result.sent > 0 and result.failed == 0
    mails = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in mailbox.Maildir(maildir).values()]
    opening = [m for m in mails if m["To"].addresses[0].username == "sec-1" and "支部书记与党员谈话" in m.get_body(("plain",)).get_content()]
    text = opening[0].get_body(("plain",)).get_content()
    assert text.count("支部书记与党员谈话") >= 4
    for member in ("张书记", "李分管", "党员一甲", "党员一乙"):
        assert member in text
    assert "党员二甲" not in text and "刘分管" not in text
    # Whose duty it is, by branch: the talks are 第一支部's, a 分管领导's own 调度 is no branch's.
    assert "第一支部 支部书记" in text
    html = opening[0].get_body(("html",)).get_content()
    assert "第一支部 支部书记" in html
    dispatch = [m.get_body(("plain",)).get_content() for m in mails if m["To"].addresses[0].username == "lead-b"]
    assert any("分管领导工作调度" in t for t in dispatch)
    assert not any("支部 分管领导" in t for t in dispatch)
    digests = [m.get_body(("plain",)).get_content() for m in mails
               if m["To"].addresses[0].username == "sec-2" and "X-Planbell-Kind" in m and m["X-Planbell-Kind"] == "digest"]
    assert any("第二支部 支部书记" in t for t in digests)


def test_migration_0004_keeps_recorded_events_and_allows_several_a_day(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from daemon.store.db import alembic_config, make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0003")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO events (obligation, \"on\", created_at) VALUES ('briefing', '2026-03-10', '2026-03-09 01:00:00')"))
    upgrade(engine)
    with engine.begin() as connection:
        assert connection.execute(text("SELECT seq, title FROM events")).all() == [(1, None)]
        connection.execute(text("INSERT INTO events (obligation, \"on\", seq, title, created_at) "
                                "VALUES ('briefing', '2026-03-10', 2, '营商环境课题', '2026-03-09 02:00:00')"))
        assert connection.execute(text("SELECT count(*) FROM events")).scalar() == 2
    engine.dispose()


def test_the_digest_ledger_kept_between_batches_is_read_again_after_a_check_off(office):
    from daemon.digest import LedgerCache
    from daemon.store.db import make_engine, sessions

    with freeze_time(MARCH_2):
        assert office("status").code == 0
    engine = make_engine(office.db)
    made, cache = sessions(engine), LedgerCache()
    plan, roster, today = office.schedule.plans[0], office.schedule.roster, date(2026, 3, 2)
    with made() as session:
        first = cache.get(session, plan, roster, today, "v1")
        assert cache.get(session, plan, roster, today, "v1") is first  # nothing changed: kept
        assert any(r.id == "dispatch/2026-03/lead-a" for r in first.by_person["lead-a"])
    with made.begin() as session:
        row = ledger_ops.occurrence(session, "dispatch/2026-03/lead-a")
        ledger_ops.check_off(session, row, datetime(2026, 3, 2, 3, tzinfo=UTC), "lead-a", "lead-a", None, None)
    with made() as session:
        again = cache.get(session, plan, roster, today, "v1")
        assert again is not first
        assert "dispatch/2026-03/lead-a" not in {r.id for r in again.by_person.get("lead-a", ())}
        assert cache.get(session, plan, roster, date(2026, 3, 3), "v1") is not again  # a new day
    engine.dispose()


def synced_on_march_25(tmp_path, go_live: str):
    """The office of tests/orgplan.py synced by `planbell status` on 25 March: its plan, roster,
    that day and an engine on its database."""
    schedules, roster_file = orgplan.write(tmp_path)
    db = f"sqlite:///{tmp_path / 'planbell.db'}"
    with freeze_time(MARCH_25):
        assert run_cli("status", schedules=schedules, roster=roster_file, database_url=db, go_live=go_live).code == 0
    schedule = load_schedule(schedules, roster_file)
    return schedule.plans[0], schedule.roster, date(2026, 3, 25), create_engine(db)


def test_the_overview_counts_each_branchs_duties_and_those_due_before_go_live(tmp_path):
    plan, roster, today, engine = synced_on_march_25(tmp_path, go_live="2026-03-01")
    with Session(engine) as session:
        result = digest.overview(session, plan, roster, today, datetime(2026, 3, 18, tzinfo=UTC))
        occurrences = list(session.scalars(select(OccurrenceRow)))
    engine.dispose()

    def counted(branch):
        mine = [o for o in occurrences if o.branch == branch]
        return (sum(o.status == "open" for o in mine), sum(o.status == "open" and o.due < today for o in mine),
                sum(o.status == "prelive" for o in mine))

    shown = [(b["branch"], b["name"], b["open"], b["overdue"], b["prelive"]) for b in result["branches"]]
    assert shown == [("b1", "第一支部", *counted("b1")), ("b2", "第二支部", *counted("b2")),
                     (None, "机关(不分支部)", *counted(None))]
    assert all(open_ and prelive for _, _, open_, _, prelive in shown), "each group has duties of both kinds"
    assert sum(i["prelive"] for i in result["items"]) == sum(o.status == "prelive" for o in occurrences)


def test_the_overview_adds_up_each_items_done_and_skipped_duties_over_branches_and_due_dates(tmp_path):
    """An item's counts are the sum over its branches and over duties due before today or not:
    one branch's or one day's figure never stands for the item's."""
    plan, roster, today, engine = synced_on_march_25(tmp_path, go_live="2026-01-01")
    now = datetime(2026, 3, 25, 7, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        for branch in ("b1", "b2"):
            mine = sorted((o for o in session.scalars(select(OccurrenceRow)) if o.branch == branch),
                          key=lambda o: (o.item, o.due, o.id))
            # Per item of this branch: its first duty checked off, its last skipped (a duty past
            # due and one not, where the item has both).
            for item in {o.item for o in mine}:
                of_item = [o for o in mine if o.item == item and o.status == "open"]
                ledger_ops.check_off(session, of_item[0], now, "cli:test", of_item[0].assignees[0], None, None)
                if len(of_item) > 1:
                    ledger_ops.skip(session, of_item[-1], now, "cli:test", "调离")
    with Session(engine) as session:
        result = digest.overview(session, plan, roster, today, now)
        occurrences = list(session.scalars(select(OccurrenceRow)))
        tallies = digest.year_tallies(session, 2026, today)
    engine.dispose()

    def counted(item):
        mine = [o for o in occurrences if o.item == item]
        return {status: sum(o.status == status for o in mine) for status in ("done", "skipped", "open", "prelive")}

    by_item = {i["item"]: {k: i[k] for k in ("done", "skipped", "open", "prelive")} for i in result["items"]}
    assert by_item == {item: counted(item) for item in {o.item for o in occurrences}}
    # The case the sums are for: an item with done (and skipped) duties in several groups of
    # the database's counts (branch, due before today or not).
    for status in ("done", "skipped"):
        groups = Counter(item for item, _branch, s, _past, _n in tallies if s == status)
        assert max(groups.values()) >= 2, status
