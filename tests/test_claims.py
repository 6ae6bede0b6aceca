"""Claiming the outbox: a claim takes what has waited longest first, at most a batch, and leases
it; nobody claims a leased message again before its lease runs out (and then says so); on
PostgreSQL a claim passes over the rows another instance is claiming at that moment instead of
waiting for them or taking them too.

The real Service and Dispatcher on a SQLite file, or on a fresh PostgreSQL database; nothing is
sent (the claims are looked at directly).
"""

from __future__ import annotations

import logging
import threading
from datetime import date, time, timedelta

from freezegun import freeze_time
from sqlalchemy import select, text, update

from daemon import defaults
from daemon.dispatch import short
from daemon.store.tables import MessageRow
from tests.smallplan import at, make_service, stop, write_plan

# A working Sunday (调休) with three reminders at 09:00: li-na, zhang-wei and chen-jing.
DAY = date(2026, 1, 4)
NOW = at(DAY)


def office(tmp_path, **overrides):
    service = make_service(write_plan(tmp_path), 25, **overrides)
    with freeze_time(at(DAY, time(0, 5))):
        service.start(at(DAY, time(0, 5)))
    return service


def outbox(service) -> dict[str, MessageRow]:
    with service.sessions() as session:
        return {row.key: row for row in session.scalars(select(MessageRow).where(MessageRow.send_at <= NOW))}


def test_a_claim_takes_what_has_waited_longest_first_at_most_a_batch_and_leases_it(tmp_path, monkeypatch):
    service = office(tmp_path)
    queued = outbox(service)
    keys = sorted(queued, key=lambda k: queued[k].id)
    assert len(keys) == 3
    # The newest row has waited longest (a retry due earlier); the two others are due together.
    waited = {keys[2]: NOW - timedelta(minutes=5), keys[0]: NOW, keys[1]: NOW}
    with service.sessions.begin() as session:
        for key, due in waited.items():
            session.execute(update(MessageRow).where(MessageRow.key == key).values(next_attempt_at=due))
    monkeypatch.setattr(defaults, "CLAIM_BATCH", 2)
    current = NOW + timedelta(seconds=30)  # the run's own clock has moved on
    claimed = service.dispatcher._claim(NOW, current)
    rows = outbox(service)
    stop(service)

    assert [row.key for row in claimed] == [keys[2], keys[0]]  # the longest waiting, then the lowest id
    # The rows handed out say what the database now says of them.
    assert [(r.status, r.lease_until, r.claimed_by, r.attempts) for r in claimed] == \
        [("sending", current + defaults.CLAIM_LEASE, "test", 1)] * 2
    leased = {k: (r.status, r.lease_until, r.claimed_by, r.attempts) for k, r in rows.items()}
    assert leased == {keys[2]: ("sending", current + defaults.CLAIM_LEASE, "test", 1),
                      keys[0]: ("sending", current + defaults.CLAIM_LEASE, "test", 1),
                      keys[1]: ("pending", None, None, 0)}


def test_a_leased_message_is_claimed_again_only_when_its_lease_has_run_out_and_the_log_says_whose(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="planbell.dispatch")
    service = office(tmp_path)
    first = service.dispatcher
    claimed = first._claim(NOW, NOW)
    second = make_service(write_plan(tmp_path / "second"), 25, database_url=f"sqlite:///{tmp_path / 'planbell.db'}")
    second.instance = second.dispatcher.instance = "second"
    expiry = NOW + defaults.CLAIM_LEASE

    assert second.dispatcher._claim(NOW, NOW) == []
    assert second.dispatcher._claim(expiry, expiry - timedelta(seconds=1)) == []  # due, but leased
    assert caplog.records == []
    taken = second.dispatcher._claim(expiry, expiry)  # the moment next_wake wakes it for
    rows = outbox(service)
    stop(service)
    stop(second)

    assert sorted(r.key for r in taken) == sorted(r.key for r in claimed)
    assert {(r.claimed_by, r.attempts, r.lease_until) for r in rows.values()} == {
        ("second", 2, expiry + defaults.CLAIM_LEASE)}
    assert sorted(r.getMessage() for r in caplog.records) == sorted(
        f"{short(r.key)} taking over from test (lease expired)" for r in claimed)


def test_a_claim_on_postgresql_passes_over_rows_another_instance_is_claiming_without_waiting(tmp_path, postgres_url):
    service = office(tmp_path, database_url=postgres_url)
    queued = outbox(service)
    keys = sorted(queued, key=lambda k: queued[k].id)
    claimed: list[list[str]] = []
    with service.engine.connect() as other:  # another instance, in the middle of its claim
        other.begin()
        locked = other.execute(text("SELECT key FROM messages WHERE status = 'pending' ORDER BY next_attempt_at, id "
                                    "LIMIT 1 FOR UPDATE")).scalar_one()
        claiming = threading.Thread(
            target=lambda: claimed.append([r.key for r in service.dispatcher._claim(NOW, NOW)]), daemon=True)
        claiming.start()
        claiming.join(timeout=10)
        waited = claiming.is_alive()
        other.rollback()  # lets a claim that waited go on, so the test ends either way
    claiming.join(timeout=30)
    rows = outbox(service)
    stop(service)

    assert not waited, "the claim waited for the rows another instance had locked"
    assert locked == keys[0]
    assert claimed == [keys[1:]]
    assert rows[keys[0]].status == "pending" and rows[keys[0]].attempts == 0
