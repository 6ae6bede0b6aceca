"""PostgreSQL: migrations, two instances sharing one outbox, and taking over a dead one's claim.

Each test gets a fresh database on the machine's PostgreSQL (127.0.0.1:5432, see the
``postgres_url`` fixture: skipped where there is none, failed in CI). Instances are separate
processes (tests/instance_driver.py) on one database and one real SMTP server; their virtual
clocks move together, day by day, as real instances share the wall clock.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from daemon import defaults
from daemon.service import Service
from daemon.store.db import alembic_config, make_engine, upgrade
from daemon.store.tables import Base, DeliveryRow, MessageRow
from notifiers.factory import all_notifiers
from tests.clirun import planbell_env
from tests.instances import Driver, settings_from


def schema(engine) -> dict:
    """Tables, their columns and indexes, and the Alembic revision: what a migration changes."""
    inspector = inspect(engine)
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    return {
        "revision": revision,
        "tables": {
            table: (
                sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
                sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in inspector.get_indexes(table)),
            )
            for table in inspector.get_table_names()
        },
    }


def test_migrations_build_the_model_schema_on_postgresql_and_a_second_upgrade_changes_nothing(postgres_url):
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        first = schema(engine)
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        assert first["revision"] == head
        assert set(first["tables"]) == set(Base.metadata.tables) | {"alembic_version"}
        with engine.connect() as connection:
            # What the migrations built is what the models say (types, nullability, indexes).
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []

        upgrade(engine)
        assert schema(engine) == first
    finally:
        engine.dispose()


def day_by_day(first: datetime, last: datetime) -> list[datetime]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def smtp_env(postgres_url: str, smtp_server, tmp_path) -> dict[str, str]:
    return planbell_env(database_url=postgres_url, smtp_host="127.0.0.1", smtp_port=str(smtp_server.port),
                        smtp_security="none", maildir=str(tmp_path / "maildir"))


def test_two_instances_in_two_processes_deliver_every_message_exactly_once(tmp_path, smtp_server, postgres_url):
    # 01:00 UTC is 09:00 in Shanghai: each day's digests (08:30) and reminders (09:00) are due.
    times = day_by_day(datetime(2026, 3, 1, 1, 0, tzinfo=UTC), datetime(2026, 4, 30, 1, 0, tzinfo=UTC))
    env = smtp_env(postgres_url, smtp_server, tmp_path)
    instances = [Driver(name, times, env, tmp_path) for name in ("instance-a", "instance-b")]
    try:
        for instance in instances:
            assert instance.read() == "ready"
        # Both migrate the empty database, plan and send at once, then move to each next day
        # together.
        for _ in times:
            for instance in instances:
                instance.go()
            for instance in instances:
                json.loads(instance.read())
        for instance in instances:
            instance.go()
        totals = {}
        for instance in instances:
            line = json.loads(instance.read())
            totals[line["done"]] = line["sent"]
            assert instance.finish() == 0
    finally:
        for instance in instances:
            instance.kill()

    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            due = connection.execute(select(MessageRow.key, MessageRow.status)
                                     .where(MessageRow.send_at <= times[-1])).all()
            errors = Counter(connection.scalars(select(MessageRow.last_error)
                                                .where(MessageRow.last_error.is_not(None))))
            by_instance = dict(connection.execute(select(DeliveryRow.instance, func.count())
                                                  .where(DeliveryRow.outcome == "ok")
                                                  .group_by(DeliveryRow.instance)).all())
    finally:
        engine.dispose()
    keys = Counter(message.key for message in smtp_server.received)
    print(f"\n{len(due)} messages due, {sum(keys.values())} received; sent by instance: {totals}")
    assert len(due) > 300
    assert Counter(status for _, status in due) == Counter(sent=len(due)), errors.most_common(3)
    assert set(keys) == {key for key, _ in due}
    assert [k for k, n in keys.items() if n > 1] == []
    assert by_instance == totals
    assert all(totals[name] > 0 for name in ("instance-a", "instance-b")), totals


def test_a_claim_left_by_a_killed_instance_is_sent_by_another_once_its_lease_expires(
        tmp_path, smtp_server, postgres_url):
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai: a week's backlog due
    env = smtp_env(postgres_url, smtp_server, tmp_path)
    killed = threading.Event()
    dead = Driver("dead", [now], env, tmp_path)

    def kill_on_third(_message) -> None:
        # Inside DATA: the third message is delivered, but its sender never hears "250".
        if len(smtp_server.received) == 3 and not killed.is_set():
            os.kill(dead.pid, signal.SIGKILL)
            killed.set()

    smtp_server.handler.on_data = kill_on_third
    try:
        assert dead.read() == "ready"
        dead.go()
        assert killed.wait(120), "the first instance never delivered 3 messages"
        dead.process.wait(timeout=30)
    finally:
        dead.kill()
    smtp_server.handler.on_data = None
    assert dead.process.returncode == -signal.SIGKILL

    settings = settings_from(env)
    alive = Service(settings, all_notifiers(settings), instance="alive")
    try:
        with alive.sessions() as session:
            orphaned = {row.id: row.key for row in session.scalars(
                select(MessageRow).where(MessageRow.status == "sending", MessageRow.claimed_by == "dead"))}
        assert orphaned, "the killed instance left no claim behind"

        # Within the lease the claim is respected: the dead instance might only be slow.
        alive.start(now + timedelta(minutes=1))
        alive.dispatch(now + timedelta(minutes=1))
        with alive.sessions() as session:
            rows = session.scalars(select(MessageRow).where(MessageRow.id.in_(orphaned))).all()
            assert {(r.status, r.claimed_by) for r in rows} == {("sending", "dead")}
        # When the lease runs out (the alarm is set for it), another instance takes over and sends.
        expiry = alive.next_wake()
        assert now + defaults.CLAIM_LEASE <= expiry < now + defaults.CLAIM_LEASE + timedelta(seconds=30)
        stats = alive.dispatch(expiry)
        with alive.sessions() as session:
            rows = session.scalars(select(MessageRow).where(MessageRow.id.in_(orphaned))).all()
            assert {(r.status, r.claimed_by, r.attempts) for r in rows} == {("sent", "alive", 2)}
            deliveries = session.scalars(select(DeliveryRow).where(DeliveryRow.message_id.in_(orphaned))).all()
            assert sorted((d.message_id, d.instance, d.outcome) for d in deliveries) == \
                sorted((i, "alive", "ok") for i in orphaned)
            due = set(session.scalars(select(MessageRow.key).where(MessageRow.send_at <= now)))
    finally:
        alive.engine.dispose()

    keys = Counter(message.key for message in smtp_server.received)
    print(f"\n{len(orphaned)} message(s) left claimed by the killed instance, taken over: sent {stats.sent}")
    assert stats.sent >= len(orphaned)
    assert set(keys) == due
    # The one delivered while the sender died is sent again: the only repeat.
    assert sum(keys.values()) - len(keys) == 1


def test_an_instance_stalled_past_its_lease_does_not_send_what_another_took_over(
        tmp_path, smtp_server, postgres_url, monkeypatch):
    """A claims a batch and stalls (a GC pause, a stopped VM) past its lease; B takes the batch
    over and sends it. When A wakes up it must find the claims are no longer its own."""
    # Check every claim before its send, not only claims older than half the lease: the stall
    # here is on the virtual clock, not the machine's.
    monkeypatch.setattr(defaults, "LEASE_RENEW_AFTER", timedelta(0))
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    settings = settings_from(smtp_env(postgres_url, smtp_server, tmp_path))
    stalled = Service(settings, all_notifiers(settings), instance="stalled")
    other = Service(settings, all_notifiers(settings), instance="other")
    try:
        stalled.start(now)
        other.start(now)
        claimed, resume = threading.Event(), threading.Event()
        compose = stalled.dispatcher.composer

        def stall_after_the_claim():
            claimed.set()
            assert resume.wait(60)
            return compose()

        stalled.dispatcher.composer = stall_after_the_claim
        result = {}
        worker = threading.Thread(target=lambda: result.update(stats=stalled.dispatch(now)))
        worker.start()
        try:
            assert claimed.wait(60), "the first instance claimed nothing"
            with other.sessions() as session:
                batch = set(session.scalars(select(MessageRow.key).where(MessageRow.claimed_by == "stalled")))
            taken_over = other.dispatch(now + defaults.CLAIM_LEASE + timedelta(minutes=1))
        finally:
            resume.set()
            worker.join(60)
        with other.sessions() as session:
            due = set(session.scalars(select(MessageRow.key).where(MessageRow.send_at <= now)))
    finally:
        stalled.engine.dispose()
        other.engine.dispose()

    keys = Counter(message.key for message in smtp_server.received)
    print(f"\nbatch of {len(batch)} claimed by the stalled instance; the other sent {taken_over.sent}, "
          f"the stalled one {result['stats'].sent}")
    assert batch and batch <= due
    assert set(keys) == due
    assert [k for k, n in keys.items() if n > 1] == []
    assert result["stats"].sent == 0
