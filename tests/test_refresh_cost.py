"""What makes a large office cheap to run, held to what it must not change: a refresh with
nothing changed does nothing (and a full one would have done nothing either), any change makes
the next one work again; bulk inserts store what the ORM stores; the overview's counts made in
SQL equal the counts of the rows; a claim reads the outbox through its (status, time) index."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import delete, select, text

from daemon import digest, ledger, pipeline
from daemon.digest import DigestSettings
from daemon.outbox import insert_ignore
from daemon.pipeline import REFRESHED_KEY, refresh
from daemon.store.tables import MessageRow, OccurrenceRow, StateRow
from tests.smallplan import PLAN_YAML, at, make_service, stop, write_plan

DAY = date(2026, 3, 2)


def messages(service) -> list[tuple]:
    with service.sessions() as session:
        return sorted(session.execute(select(MessageRow.key, MessageRow.status, MessageRow.send_at,
                                             MessageRow.content)).all())


def test_a_refresh_with_nothing_changed_does_nothing_and_a_full_one_would_have_done_nothing_either(tmp_path):
    files = write_plan(tmp_path)
    with freeze_time(at(DAY, time(0, 5))):
        service = make_service(files, 2525)
        first = service.start(at(DAY, time(0, 5)))
        assert not first.unchanged and first.messages["added"] > 0
        planned = messages(service)
        again = service.refresh(at(DAY, time(12)))  # a restart at noon, the same schedule
        assert again.unchanged
        assert messages(service) == planned
        with service.sessions.begin() as session:  # forget the fingerprint: a full refresh
            session.execute(delete(StateRow).where(StateRow.key == REFRESHED_KEY))
        full = service.refresh(at(DAY, time(12)))
    stop(service)
    assert not full.unchanged
    assert (full.sync.added, full.sync.updated, full.sync.cancelled, full.sync.reopened) == (0, 0, 0, 0)
    assert full.messages == {"added": 0, "updated": 0, "cancelled": 0}
    assert messages(service) == planned


def _check_off(service, now):
    with service.sessions.begin() as session:
        row = ledger.occurrence(session, "monthly-report/2026-03")
        assert ledger.check_off(session, row, now, "cli:test", row.assignees[0], None, None)


def _record_event(service, now):
    with service.sessions.begin() as session:
        ledger.record_event(session, "monthly-report", DAY, now, "cli:test")


def _upgrade_planbell(service, now):
    # What a new release whose planning differs brings: another hash of the planning code.
    pipeline.PLANNING_CODE = "another release"


def _edit_schedule(service, now):
    service.watch.schedules.joinpath("plan-2026.yaml").write_text(
        PLAN_YAML.replace("due: {day: 25}", "due: {day: 24}"), encoding="utf-8")
    service.watch.load()


CHANGES = {
    "a check-off": (_check_off, {}),
    "an event recorded": (_record_event, {}),
    "a schedule edit": (_edit_schedule, {}),
    "an upgrade of the planning code": (_upgrade_planbell, {}),
    "another go-live day": (None, {"go_live": date(2026, 3, 10)}),
    "digests turned on": (None, {"digests": DigestSettings("weekly", time(8))}),
    "another channel": (None, {"channels": ("email", "wecom")}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_since_the_last_refresh_makes_the_next_one_plan_again(tmp_path, change, monkeypatch):
    monkeypatch.setattr(pipeline, "PLANNING_CODE", pipeline.PLANNING_CODE)  # restored after the test
    files = write_plan(tmp_path)
    act, arguments = CHANGES[change]
    noon = at(DAY, time(12))
    with freeze_time(noon):
        service = make_service(files, 2525)
        service.watch.load()
        with service.sessions.begin() as session:
            refresh(session, service.schedule, at(DAY, time(0, 5)), None, ("email",), date(2026, 1, 1))
        if act is not None:
            act(service, noon)
        with service.sessions.begin() as session:
            settings = {"digests": None, "channels": ("email",), "go_live": date(2026, 1, 1)} | arguments
            result = refresh(session, service.schedule, noon, settings["digests"], settings["channels"],
                             settings["go_live"])
    stop(service)
    assert not result.unchanged, f"{change} must be planned for"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    files = write_plan(tmp_path)
    overrides = {"database_url": request.getfixturevalue("postgres_url")} if request.param == "postgresql" else {}
    service = make_service(files, 2525, **overrides)
    yield service
    stop(service)


def test_rows_inserted_in_bulk_read_back_as_the_orm_writes_them(database):
    now = at(DAY)  # 09:00 Shanghai: stored as UTC, and with no microseconds (the driver's own
    # conversion would then store another text than SQLAlchemy's, and a query by time miss it)
    content = {"items": [{"occurrence": "monthly-report/2026-03", "stage": "open"}], "中文": "是"}
    with database.sessions.begin() as session:
        insert_ignore(session, [{"key": "bulk", "kind": "reminder", "person": "li-na", "channel": "email",
                                 "send_at": now, "content": content, "status": "pending", "attempts": 0,
                                 "next_attempt_at": now, "late": False, "created_at": now}])
        session.add(MessageRow(key="orm", kind="reminder", person="li-na", channel="email", send_at=now,
                               content=content, status="pending", attempts=0, next_attempt_at=now, late=False,
                               created_at=now))
    with database.sessions() as session:
        raw = {key: rest for key, *rest in session.execute(text(
            "SELECT key, send_at, next_attempt_at, created_at, content, late FROM messages"))}
        by_orm = session.scalars(select(MessageRow).where(MessageRow.send_at == now)).all()
    assert raw["bulk"] == raw["orm"]
    assert {m.key for m in by_orm} == {"bulk", "orm"}, "a query by time finds both"
    with database.sessions.begin() as session:  # a second insert of the same key is ignored
        insert_ignore(session, [{"key": "bulk", "kind": "digest", "person": "x", "channel": "email", "send_at": now,
                                 "content": {}, "status": "pending", "attempts": 0, "next_attempt_at": now,
                                 "late": False, "created_at": now}])
        assert session.scalar(select(MessageRow.kind).where(MessageRow.key == "bulk")) == "reminder"


def test_the_overviews_counts_made_in_the_database_equal_the_counts_of_the_rows(database):
    today = date(2026, 5, 25)  # May's report is due today: not yet past due, in both counts
    with freeze_time(at(today)):
        database.start(at(date(2026, 1, 5)))
        with database.sessions.begin() as session:
            rows = session.scalars(select(OccurrenceRow)).all()
            ledger.check_off(session, rows[0], at(today), "cli:test", rows[0].assignees[0], None, None)
            ledger.skip(session, rows[1], at(today), "cli:test", "调离")
        with database.sessions() as session:
            in_sql = digest.year_tallies(session, 2026, today)
            of_rows = digest.tallies_of(digest.year_rows(session, 2026), today)
    assert sorted(in_sql, key=repr) == sorted(of_rows, key=repr)
    assert {status for _, _, status, _, _ in in_sql} >= {"done", "skipped", "open"}
    assert {past for *_, past, _ in in_sql} == {True, False}
    assert sum(n for *_, n in in_sql) == len(rows)
    assert any(r.due == today for r in rows)


def test_a_claim_reads_the_outbox_through_its_status_and_time_index(tmp_path):
    files = write_plan(tmp_path)
    service = make_service(files, 2525)
    with service.sessions() as session:
        plan = session.execute(text(
            "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE (status = 'pending' AND next_attempt_at <= :now) "
            "OR (status = 'sending' AND lease_until <= :now) ORDER BY next_attempt_at, id LIMIT 100"),
            {"now": datetime(2026, 3, 2) + timedelta(hours=1)}).all()
    stop(service)
    steps = " / ".join(row[-1] for row in plan)
    assert "ix_messages_status_next_attempt_at (status=? AND next_attempt_at<?)" in steps, steps
