"""Retiring a duty from the schedule and adding it back: what was owed stays owed, what is to
come is cancelled with its reminders, a duty that comes back is open again, and the ledger
refuses to check off, skip or reopen what was cancelled.

The real Service (reload of the edited plan, as `planbell run` does) and the real CLI, on a
SQLite file, with the small plan of tests/smallplan.py.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, date, time

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from daemon import ledger
from daemon.store.tables import MessageRow, OccurrenceRow
from tests.clirun import run_cli
from tests.smallplan import PLAN_YAML, at, make_service, write_plan

MONTHLY = PLAN_YAML[PLAN_YAML.index("  - id: monthly-report"):PLAN_YAML.index("  - id: quarterly-meeting")]
RETIRED_YAML = PLAN_YAML.replace(MONTHLY, "")
BACK_ON = at(date(2026, 4, 10), time(15, 0))


def statuses(service) -> dict[str, str]:
    with service.sessions() as session:
        return dict(session.execute(select(OccurrenceRow.id, OccurrenceRow.status)
                                    .where(OccurrenceRow.obligation == "monthly-report")).all())


def changed_at(service) -> dict[str, object]:
    """When each monthly report's row last changed."""
    with service.sessions() as session:
        return {o: at.replace(tzinfo=UTC) if at.tzinfo is None else at for o, at in session.execute(
            select(OccurrenceRow.id, OccurrenceRow.updated_at).where(OccurrenceRow.obligation == "monthly-report"))}


def reloaded(caplog) -> str:
    """The counts of the reload log line (日程已重新加载:版本 …;事项 …,重新打开 …;消息 …)."""
    [line] = [r.getMessage().split(";")[1] for r in caplog.records if "日程已重新加载" in r.getMessage()]
    caplog.clear()
    return line


def waiting(service, after) -> set[str]:
    """Keys of the pending messages after ``after`` that list a monthly report."""
    with service.sessions() as session:
        rows = session.scalars(select(MessageRow).where(MessageRow.status == "pending", MessageRow.send_at > after))
        return {r.key for r in rows
                if any(i.get("occurrence", "").startswith("monthly-report/") for i in r.content.get("items", ()))}


@pytest.mark.parametrize("retired_on, clock, still_owed, reminders_left", [
    # Tuesday 3 March: February's report (due 25 February) is overdue and stays so, with its
    # last two overdue reminders; March's and later are cancelled with theirs.
    (date(2026, 3, 3), time(15, 0), {"2026-01", "2026-02"},
     {"reminder:li-na:2026-03-05:email", "reminder:li-na:2026-03-12:email"}),
    # On March's due day: not yet late, so cancelled like the months after it.
    (date(2026, 3, 25), time(15, 0), {"2026-01", "2026-02"}, set()),
    # Half past midnight the day after, in Shanghai (still the 25th in UTC): March's is late now.
    (date(2026, 3, 26), time(0, 30), {"2026-01", "2026-02", "2026-03"},
     {"reminder:li-na:2026-03-26:email", "escalation:zhang-wei:2026-03-30:email",
      "reminder:li-na:2026-04-02:email", "reminder:li-na:2026-04-09:email"}),
])
def test_a_retired_duty_keeps_what_is_past_due_cancels_what_is_to_come_and_comes_back_open(
        tmp_path, smtp_server, caplog, retired_on, clock, still_owed, reminders_left):
    caplog.set_level(logging.INFO, logger="planbell")
    files = write_plan(tmp_path)
    service = make_service(files, smtp_server.port)
    retired_at = at(retired_on, clock)
    with freeze_time(at(date(2026, 1, 1))) as frozen:
        service.start(at(date(2026, 1, 1)))
        assert set(statuses(service).values()) == {"open"}
        assert "reminder:li-na:2026-04-17:email" in waiting(service, retired_at)  # April's, 7 days ahead

        frozen.move_to(retired_at)
        files.plan.write_text(RETIRED_YAML, encoding="utf-8")
        assert service.reload(retired_at) is True
        retired, retired_log = statuses(service), reloaded(caplog)
        retired_stamps = changed_at(service)
        left = waiting(service, retired_at)

        frozen.move_to(BACK_ON)
        files.plan.write_text(PLAN_YAML, encoding="utf-8")
        assert service.reload(BACK_ON) is True
        back, back_log = statuses(service), reloaded(caplog)
        back_stamps = changed_at(service)
        after_return = waiting(service, BACK_ON)
        assert service.refresh(BACK_ON).sync.changed is False  # the same schedule again: nothing
    service.engine.dispose()

    owed = {f"monthly-report/{m}" for m in still_owed}
    cancelled = set(retired) - owed
    assert retired_log == f"事项 +0 ~0 -{len(cancelled)},重新打开 0"
    assert back_log == f"事项 +0 ~0 -0,重新打开 {len(cancelled)}"
    # Each row says when it last changed: the cancelled and reopened ones then, the rest never.
    assert {o for o, t in retired_stamps.items() if t == retired_at} == cancelled
    assert {o for o, t in back_stamps.items() if t == BACK_ON} == cancelled
    assert {t for o, t in back_stamps.items() if o in owed} == {at(date(2026, 1, 1))}

    # Owed and not done: the ledger goes on saying so, and its overdue reminders go on.
    assert {o for o, s in retired.items() if s == "open"} == {f"monthly-report/{m}" for m in still_owed}
    assert {o for o, s in retired.items() if s == "cancelled"} == set(retired) - {
        f"monthly-report/{m}" for m in still_owed}
    assert left == reminders_left
    # The duty is back: nothing of it is stuck cancelled, and the coming months are reminded again.
    assert set(back.values()) == {"open"}
    assert "reminder:li-na:2026-04-17:email" in after_return  # April's report, 7 days ahead


def test_a_duty_that_comes_back_changed_is_open_again_as_it_now_reads(tmp_path, smtp_server):
    """Retired in March, back in April with a new title and due day: every row, the reopened
    ones too, is open and reads as the duty now does."""
    files = write_plan(tmp_path)
    service = make_service(files, smtp_server.port)
    changed = PLAN_YAML.replace("title: 月度工作报告", "title: 月度工作情况报告").replace("due: {day: 25}", "due: {day: 20}")
    assert changed.count("月度工作情况报告") == 1 and changed != PLAN_YAML
    with freeze_time(at(date(2026, 1, 1))) as frozen:
        service.start(at(date(2026, 1, 1)))
        frozen.move_to(at(date(2026, 3, 3), time(15, 0)))
        files.plan.write_text(RETIRED_YAML, encoding="utf-8")
        assert service.reload(at(date(2026, 3, 3), time(15, 0))) is True
        frozen.move_to(BACK_ON)
        files.plan.write_text(changed, encoding="utf-8")
        assert service.reload(BACK_ON) is True
    with service.sessions() as session:
        rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.obligation == "monthly-report")).all()
    service.engine.dispose()
    later = [r for r in rows if r.period >= "2026-04"]
    assert later and {(r.status, r.title) for r in later} == {("open", "月度工作情况报告")}
    assert {r.due.day for r in later} <= {17, 18, 19, 20}  # the 20th, or the working day before it


RETIRED_STUDY = "monthly-report/2026-06"


@pytest.mark.parametrize("args, refusal", [
    (("done", RETIRED_STUDY, "--by", "li-na"), "已取消(对应职责已从日程中移除),无需销号"),
    (("skip", RETIRED_STUDY, "--reason", "已合并"), "已取消(对应职责已从日程中移除)"),
    (("reopen", RETIRED_STUDY), "已取消(对应职责已从日程中移除),不能重新打开"),
])
def test_the_ledger_refuses_to_check_off_skip_or_reopen_a_cancelled_duty(tmp_path, args, refusal):
    files = write_plan(tmp_path)
    database_url = f"sqlite:///{files.database}"
    with freeze_time(at(date(2026, 3, 25), time(15, 0))):
        assert run_cli("status", schedules=files.schedules, roster=files.roster,
                       database_url=database_url).code == 0
        files.plan.write_text(RETIRED_YAML, encoding="utf-8")
        result = run_cli(*args, schedules=files.schedules, roster=files.roster, database_url=database_url)
    assert result.code == 2 and "Traceback" not in result.err, (result.out, result.err)
    assert result.err.strip() == f"错误:{RETIRED_STUDY} {refusal}"


def test_replacing_the_plan_with_next_years_keeps_this_years_duties_as_they_are(tmp_path, caplog):
    """In December the 2027 plan replaces the 2026 one: 2026's occurrences, done or not, stay in
    the ledger untouched (not cancelled), and 2027's are added beside them."""
    caplog.set_level(logging.INFO, logger="planbell")
    files = write_plan(tmp_path)
    service = make_service(files, 25, go_live="2026-01-01")  # live all year: its duties are owed
    service.start(at(date(2026, 12, 1)))
    files.plan.write_text(PLAN_YAML.replace("year: 2026", "year: 2027").replace("2026-10-01", "2027-10-08"),
                          encoding="utf-8")
    with freeze_time(at(date(2026, 12, 2))):
        assert service.reload(at(date(2026, 12, 2))) is True
    with service.sessions() as session:
        counts = Counter(session.execute(select(OccurrenceRow.plan_year, OccurrenceRow.status)).all())
    service.engine.dispose()
    assert counts == {(2026, "open"): 21, (2027, "open"): 21}
    assert reloaded(caplog) == "事项 +21 ~0 -0,重新打开 0"


def test_an_edited_due_day_updates_every_open_occurrence_it_moves_and_no_other(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="planbell")
    files = write_plan(tmp_path)
    service = make_service(files, 25)
    service.start(at(date(2026, 1, 1)))
    with service.sessions.begin() as session:
        done = ledger.occurrence(session, "monthly-report/2026-01")
        ledger.check_off(session, done, at(date(2026, 1, 20)), "cli:xu", "li-na", None, None)
    with service.sessions() as session:
        before = dict(session.execute(select(OccurrenceRow.id, OccurrenceRow.due)).all())
    files.plan.write_text(PLAN_YAML.replace("    due: {day: 25}\n", "    due: {day: 20}\n", 1), encoding="utf-8")
    edited = at(date(2026, 1, 21), time(15, 0))
    with freeze_time(edited):
        assert service.reload(edited) is True
    with service.sessions() as session:
        after = {r.id: r for r in session.scalars(select(OccurrenceRow))}
    service.engine.dispose()
    moved = {o for o, due in before.items() if after[o].due != due}
    # Every open month moved (the 20th or the working day before it); January's, checked off,
    # keeps the date it was done against.
    assert moved == {f"monthly-report/2026-{m:02d}" for m in range(2, 13)}
    assert {after[o].updated_at.replace(tzinfo=UTC) for o in moved} == {edited}
    assert after["monthly-report/2026-01"].due == before["monthly-report/2026-01"]
    assert reloaded(caplog) == f"事项 +0 ~{len(moved)} -0,重新打开 0"
