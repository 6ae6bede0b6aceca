"""The admins' overview, counted by hand: each item's done, skipped, open, overdue and due-so-far
occurrences (a duty due today is not late, a cancelled one is not owed), and the messages given
up on since the last overview (not those given up on before it, nor those still retried).

The small plan of tests/smallplan.py synced into a SQLite file, its ledger set by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from daemon import digest, ledger
from daemon.outbox import enqueue
from daemon.store.tables import DeliveryRow, MessageRow
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
        ledger.check_off(session, row("monthly-report/2026-04"), NOW, "cli:xu", "li-na", None, None)  # early
        row("quarterly-meeting/2026-Q1").status = "cancelled"  # due 20 March, no longer asked for
        for n, (status, outcome, when) in enumerate([
            ("failed", "failed", SINCE + timedelta(hours=1)),  # given up on this week: listed
            ("failed", "failed", SINCE - timedelta(hours=1)),  # in the last overview already
            ("pending", "retry", SINCE + timedelta(hours=2)),  # still being tried
        ]):
            enqueue(session, key=f"admin:test:{n}:xu-li:email", kind="admin", person="xu-li", channel="email",
                    send_at=when, content={"topic": "expired", "context": {}}, now=when)
            message = session.query(MessageRow).filter_by(key=f"admin:test:{n}:xu-li:email").one()
            message.status = status
            session.add(DeliveryRow(message_id=message.id, started_at=when, duration_ms=5, outcome=outcome,
                                    error="refused", instance="test"))
    plan = replace(service.schedule.plans[0], items={1: "按月报送"})  # the others untitled
    with service.sessions() as session:
        rows = digest.year_rows(session, 2026)
        result = digest.overview(session, rows, digest.progress_by_target(session, plan), plan, TODAY, SINCE)
    service.engine.dispose()

    def counts(done=0, opened=0, overdue=0, skipped=0, due_so_far=0):
        return {"done": done, "open": opened, "overdue": overdue, "skipped": skipped, "due_so_far": due_so_far}

    assert result["items"] == [
        # January skipped, February overdue, March due today, April done early, May–December open.
        {"item": 1, "title": "按月报送", **counts(done=1, opened=10, overdue=1, skipped=1, due_so_far=2)},
        {"item": 2, "title": "", **counts(opened=3)},  # Q1 cancelled: neither open nor owed
        {"item": 3, "title": "", **counts(opened=1)},
        {"item": 4, "title": "", **counts(opened=4)},
    ]
    assert result["overdue_total"] == 1
    assert [m.key for m in result["failed"]] == ["admin:test:0:xu-li:email"]
    assert result["empty"] is False and result["targets"] == []
