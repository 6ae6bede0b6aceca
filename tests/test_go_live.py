"""Going live mid-year: what fell due before the office's first day is 上线前 (never owed,
never reminded, never counted overdue); a duty added later owes from the day it was added;
changing the day re-evaluates; `simulate` and the overview follow it.

The bundled plan and example roster, a SQLite file in tmp_path, mail into a real Maildir.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
from datetime import date, time

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from daemon.config import load_settings
from daemon.service import Service
from daemon.store.tables import AuditRow, OccurrenceRow
from notifiers.factory import all_notifiers
from tests.clirun import ROSTER, SCHEDULES, run_cli
from tests.smallplan import at, run_days, write_plan

FIRST_DAY = date(2026, 11, 27)  # a Friday: the office installs planbell
FIRST_MONDAY = date(2026, 11, 30)
# A duty added to the small plan of tests/smallplan.py in November.
WEEKLY_BRIEFING = """
  - id: weekly-briefing
    item: 1
    title: 每周工作简报
    source: 每周报送工作简报
    every: week
    owner: office
"""


def read_maildir(path) -> list[email.message.EmailMessage]:
    box = mailbox.Maildir(path, create=False)
    return [email.message_from_bytes(bytes(m), policy=email.policy.default) for m in box]


def rows(service: Service) -> dict[str, OccurrenceRow]:
    with service.sessions() as session:
        return {r.id: r for r in session.scalars(select(OccurrenceRow))}


def maildir_service(tmp_path, **settings) -> Service:
    """The real Service, its mail delivered into the Maildir tmp_path/mail (as the Quick start's)."""
    settings = load_settings(maildir=tmp_path / "mail", **settings)
    return Service(settings, all_notifiers(settings), instance="test")


@pytest.fixture
def fresh_install(tmp_path):
    """planbell started for the first time on 27 November, run through the first Monday."""
    service = maildir_service(tmp_path, schedules=SCHEDULES, roster=ROSTER, digest="weekly",
                              database_url=f"sqlite:///{tmp_path / 'planbell.db'}")
    with freeze_time(at(FIRST_DAY, time(10, 0))) as frozen:
        service.start(at(FIRST_DAY, time(10, 0)))
        run_days(service, frozen, FIRST_DAY, FIRST_MONDAY)
    yield service, read_maildir(tmp_path / "mail")
    service.engine.dispose()


def test_fresh_install_in_november_reminds_of_nothing_due_before_it(fresh_install):
    service, messages = fresh_install
    stored = rows(service)
    before = {i for i, r in stored.items() if r.due < FIRST_DAY}
    assert len(before) > 400  # January to November of the bundled plan
    assert {stored[i].status for i in before} == {"prelive"}
    assert messages, "the first Monday has digests and reminders"
    for message in messages:
        listed = {o for o in str(message["X-Planbell-Occurrences"] or "").split(", ") if o}
        assert not listed & before, (message["Subject"], sorted(listed & before)[:3])
    kinds = {str(m["X-Planbell-Kind"]) for m in messages}
    assert "escalation" not in kinds  # nothing owed has been overdue for three days yet


def test_fresh_install_first_monday_overview_and_digests_count_nothing_overdue(fresh_install):
    _, messages = fresh_install
    overview = [m for m in messages if str(m["X-Planbell-Key"]).startswith("digest:overview:")]
    assert overview, [str(m["X-Planbell-Key"]) for m in messages]
    text = overview[0].get_body(preferencelist=("plain",)).get_content()
    assert "全室没有逾期未销号的工作" in text
    assert "逾期 0" in text and "上线前" in text
    chen_jing = [m for m in messages if str(m["X-Planbell-Key"]).startswith("digest:personal:chen-jing:")]
    digest = chen_jing[0].get_body(preferencelist=("plain",)).get_content()
    assert "已逾期" not in digest
    assert len(digest.encode()) < 20_000  # the office's first Monday: a page, not 889 KB


def test_fresh_install_ledger_shows_earlier_occurrences_as_before_go_live(fresh_install, tmp_path):
    service, _ = fresh_install
    out = tmp_path / "台账.json"
    with freeze_time(at(FIRST_MONDAY, time(15, 0))):
        result = run_cli("ledger", "--year", 2026, "--out", out, database_url=str(service.engine.url))
    assert result.code == 0, result.err
    lines = {o["id"]: o for o in json.loads(out.read_text(encoding="utf-8"))["occurrences"]}
    january = lines["first-topic-study/2026-01"]
    assert (january["status"], january["status_cn"], january["days_late"]) == ("prelive", "上线前", 0)
    assert not [o for o in lines.values() if o["status"] == "overdue" and o["due"] < FIRST_DAY.isoformat()]
    assert "上线前" in result.out


def test_status_says_the_go_live_day_and_counts_nothing_before_it_overdue(tmp_path):
    db = f"sqlite:///{tmp_path / 'planbell.db'}"
    with freeze_time(at(FIRST_DAY, time(10, 0))):
        result = run_cli("status", database_url=db)
    assert result.code == 0, result.err
    assert "上线日期" in result.out and "2026-11-27" in result.out
    assert "(其中逾期 0)" in result.out


def test_changing_go_live_re_evaluates_what_is_owed(tmp_path):
    db = f"sqlite:///{tmp_path / 'planbell.db'}"

    def status_of(occurrence_id: str, **setting) -> str:
        with freeze_time(at(FIRST_DAY, time(10, 0))):
            assert run_cli("status", database_url=db, **setting).code == 0
        result = run_cli("ledger", "--year", 2026, "--out", tmp_path / "l.json", database_url=db)
        lines = {o["id"]: o for o in json.loads((tmp_path / "l.json").read_text(encoding="utf-8"))["occurrences"]}
        return lines[occurrence_id]["status"] if result.code == 0 else result.err

    assert status_of("first-topic-study/2026-06") == "prelive"  # recorded at the first start
    assert status_of("first-topic-study/2026-06", go_live="2026-06-01") == "overdue"
    assert status_of("first-topic-study/2026-05", go_live="2026-06-01") == "prelive"
    assert status_of("first-topic-study/2026-06", go_live="2026-12-01") == "prelive"
    assert status_of("first-topic-study/2026-06") == "prelive"  # the last setting stays recorded


def test_a_duty_added_in_november_owes_only_what_falls_due_from_that_day(tmp_path):
    files = write_plan(tmp_path)
    service = maildir_service(tmp_path, schedules=files.schedules, roster=files.roster, digest="off",
                              database_url=f"sqlite:///{files.database}")
    service.start(at(date(2026, 1, 5)))
    added = date(2026, 11, 10)
    files.plan.write_text(files.plan.read_text(encoding="utf-8") + WEEKLY_BRIEFING, encoding="utf-8")
    assert service.reload(at(added, time(10, 0)))
    stored = rows(service)
    briefings = {i: r for i, r in stored.items() if r.obligation == "weekly-briefing"}
    assert {r.status for r in briefings.values() if r.due < added} == {"prelive"}
    assert {r.status for r in briefings.values() if r.due >= added} == {"open"}
    assert len([r for r in briefings.values() if r.due < added]) > 40
    # The duties that were there from the start are still owed since January.
    assert stored["monthly-report/2026-03"].status == "open"
    service.engine.dispose()


def test_simulate_from_november_sends_nothing_about_earlier_duties(tmp_path):
    out = tmp_path / "sim"
    result = run_cli("simulate", "--from", "2026-11-27", "--to", "2026-11-30", "--out", out)
    assert result.code == 0, result.err
    messages = read_maildir(out)
    assert messages
    listed = {o for m in messages for o in str(m["X-Planbell-Occurrences"] or "").split(", ") if o}
    months = {o.split("/")[1][:7] for o in listed if o.split("/")[1][:4] == "2026"}
    assert months <= {"2026-11", "2026-12", "2026-Q4", "2026-H2", "2026"}, months


def test_bulk_done_of_prelive_occurrences_records_each(tmp_path):
    db = f"sqlite:///{tmp_path / 'planbell.db'}"
    with freeze_time(at(FIRST_DAY, time(10, 0))):
        result = run_cli("done", "first-topic-study/*", "--before", "2026-11-27", "--note", "上线前已完成",
                         "--yes", database_url=db)
    assert result.code == 0, result.err
    assert "已销号 11 项" in result.out
    with freeze_time(at(FIRST_DAY, time(10, 0))):
        result = run_cli("ledger", "--year", 2026, "--out", tmp_path / "l.json", database_url=db)
    lines = json.loads((tmp_path / "l.json").read_text(encoding="utf-8"))["occurrences"]
    done = {o["id"] for o in lines if o["status"] == "done"}
    assert done == {f"first-topic-study/2026-{m:02d}" for m in range(1, 12)}
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(db)
    with Session(engine) as session:
        audits = session.scalars(select(AuditRow).where(AuditRow.action == "done")).all()
    engine.dispose()
    assert sorted(a.subject for a in audits) == sorted(done)


def test_moving_go_live_earlier_owes_again_what_fell_due_since_but_not_before_a_duty_was_added(tmp_path):
    """Go-live moved from 1 March back to 1 January: January's and February's duties are owed
    after all, each row saying when it changed, and the refresh counts them; a duty added on
    10 November still owes nothing from before that day."""
    files = write_plan(tmp_path)

    def service(go_live: str) -> Service:
        return maildir_service(tmp_path, schedules=files.schedules, roster=files.roster, digest="off", go_live=go_live,
                               database_url=f"sqlite:///{files.database}")

    first = service("2026-03-01")
    first.start(at(date(2026, 3, 2)))
    files.plan.write_text(files.plan.read_text(encoding="utf-8") + WEEKLY_BRIEFING, encoding="utf-8")
    added = date(2026, 11, 10)
    assert first.reload(at(added, time(10, 0)))
    before = rows(first)
    first.engine.dispose()

    moved_at = at(date(2026, 11, 11), time(10, 0))
    again = service("2026-01-01")
    result = again.start(moved_at)
    after = rows(again)
    with again.sessions() as session:  # stored as any time is: a query by time finds them
        stamped = set(session.scalars(select(OccurrenceRow.id).where(OccurrenceRow.updated_at == moved_at)))
    again.engine.dispose()

    owed_again = {i for i, r in after.items() if before[i].status == "prelive" and r.status == "open"}
    assert owed_again and all(after[i].due < date(2026, 3, 1) for i in owed_again)
    assert owed_again == {i for i, r in before.items() if r.status == "prelive" and r.obligation != "weekly-briefing"}
    assert {after[i].updated_at.replace(tzinfo=None) for i in owed_again} == {moved_at.replace(tzinfo=None)}
    assert stamped == owed_again
    assert result.sync.prelive == len(owed_again)
    briefings = [r for r in after.values() if r.obligation == "weekly-briefing"]
    assert {r.status for r in briefings if r.due < added} == {"prelive"}
