"""Reliability drills: the daemon's bad days, staged against real servers, each drill printing
what it saw.

1. The SMTP relay is down for ten minutes: messages wait with backoff, none is given up on,
   and each is delivered once when the relay is back.
2. PostgreSQL goes away (a TCP proxy between the daemon and the database is cut): the
   scheduler's jobs log and carry on, and what fell due meanwhile goes out once it is back.
   (No SQLite variant: a file the daemon has open cannot be taken away from it short of a
   full disk, and as root a `chmod` changes nothing.)
3. `planbell run` is killed with SIGKILL mid-send and restarted: nothing is lost, one message
   at most is repeated. tests/test_crash_safety.py kills `planbell simulate` four times at
   random points; this is the short variant through the real daemon (file lock, APScheduler,
   the wake-up at the dead claim's lease).
4. A broken schedule is saved under a running `planbell run`: refused with FILE:LINE within
   5 s, the daemon keeps serving, the admins hear about it once, and the fix is picked up.

The daemons in drills 3 and 4 run on a virtual clock started at a fixed instant (see
tests/frozen_run.py), so the drills see the same plan state whatever the machine's date.
"""

from __future__ import annotations

import logging
import os
import signal
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from freezegun import freeze_time
from sqlalchemy import create_engine, or_, select
from sqlalchemy.engine import make_url

from daemon import defaults
from daemon.scheduler import Clockwork
from daemon.service import Service
from daemon.store.tables import DeliveryRow, MessageRow
from notifiers.email import SmtpNotifier
from notifiers.factory import all_notifiers
from tests.clirun import planbell_env
from tests.daemonproc import Daemon, wait_until
from tests.instances import settings_from
from tests.smallplan import MAIL_FROM, PLAN_YAML, at, make_service, settings_for, write_plan
from tests.smtpserver import Server, free_port
from tests.tcpproxy import TcpProxy

MONDAY_9 = at(date(2026, 3, 2))  # a week's reminders are due, and the month's opening notices


def report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}", end="")


def keys_received(server) -> Counter:
    return Counter(message.key for message in server.received)


def outbox(database_url: str, *where) -> list[MessageRow]:
    """Rows of the outbox, read as the CLI would while the daemon runs."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(MessageRow).where(*where)))
    finally:
        engine.dispose()


# --- 1. the SMTP relay is down ------------------------------------------------------------------

SMTP_OUTAGE = timedelta(minutes=10)


def test_drill_smtp_down_messages_wait_with_backoff_and_each_is_delivered_once_after_recovery(
        tmp_path, capsys):
    files = write_plan(tmp_path)
    relay = Server()  # its port is chosen, but nothing listens there until it is started
    service = make_service(files, relay.port)
    try:
        service.start(MONDAY_9 - timedelta(hours=9))
        with service.sessions() as session:
            queued = set(session.scalars(select(MessageRow.key).where(MessageRow.send_at <= MONDAY_9)))
        assert len(queued) >= 5

        # The outage: every wake-up the dispatcher asks for, for ten minutes.
        outage_runs = retried = 0
        now = MONDAY_9
        while now < MONDAY_9 + SMTP_OUTAGE:
            stats = service.dispatch(now)
            assert (stats.sent, stats.failed) == (0, 0), stats
            outage_runs += 1
            retried += stats.retried
            now = service.next_wake()
        with service.sessions() as session:
            waiting = session.scalars(select(MessageRow).where(MessageRow.key.in_(queued))).all()
        assert {row.status for row in waiting} == {"pending"}
        tries = Counter(row.attempts for row in waiting)
        assert 2 <= min(tries) and max(tries) < defaults.MAX_ATTEMPTS, tries
        assert all("refused" in row.last_error for row in waiting)

        # The relay is back: the dispatcher runs at each wake-up until nothing queued is left.
        recovery_runs = 0
        with relay:
            while any(row.key in queued for row in _pending(service)):
                recovery_runs += 1
                assert recovery_runs < 50, "the queued messages are not going out"
                service.dispatch(max(service.next_wake(), now))
        with service.sessions() as session:
            rows = session.scalars(select(MessageRow).where(MessageRow.key.in_(queued))).all()
            retries = session.scalars(select(DeliveryRow).where(DeliveryRow.outcome == "retry")).all()
    finally:
        service.engine.dispose()

    keys = keys_received(relay)
    report(capsys, f"drill smtp-down: {len(queued)} messages queued during a "
                   f"{SMTP_OUTAGE.seconds // 60}-minute outage ({outage_runs} dispatch runs), 0 lost, "
                   f"{retried} retries ({min(tries)}-{max(tries)} attempts each, limit "
                   f"{defaults.MAX_ATTEMPTS}), all {len(keys)} delivered once in {recovery_runs} "
                   f"run(s) after recovery")
    assert {row.status for row in rows} == {"sent"}
    assert set(keys) == queued, f"lost: {sorted(queued - set(keys))}"
    assert max(keys.values()) == 1
    assert len(retries) == retried


def _pending(service: Service) -> list[MessageRow]:
    with service.sessions() as session:
        return session.scalars(select(MessageRow).where(MessageRow.status.in_(("pending", "sending")))).all()


# --- 2. the database is away --------------------------------------------------------------------


def test_drill_database_down_the_clockwork_carries_on_and_sends_what_fell_due_once_it_is_back(
        tmp_path, smtp_server, postgres_url, caplog, capsys):
    files = write_plan(tmp_path)
    evening = at(date(2026, 3, 1), time(20, 0))  # Sunday: last week's backlog goes out first
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        url = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
        settings = settings_for(files, smtp_server.port).model_copy(update={"database_url": url})
        notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", timeout=5, mail_from=MAIL_FROM,
                                local_hostname="test")
        with freeze_time(evening) as frozen:
            service = Service(settings, {"email": notifier}, instance="drill")
            try:
                service.start(evening)
                clockwork = Clockwork(service, "Asia/Shanghai")  # its scheduler is not started
                clockwork.tick()
                backlog = len(smtp_server.received)
                assert backlog > 0

                # PostgreSQL goes away overnight; Monday 09:00 comes, and the sweeps with it.
                proxy.cut()
                caplog.clear()
                outage_ticks = 0
                for minutes in range(0, 4):
                    frozen.move_to(MONDAY_9 + timedelta(minutes=minutes))
                    clockwork.tick()
                    outage_ticks += 1
                clockwork.poll_schedule()
                clockwork.daily()
                assert len(smtp_server.received) == backlog
                complaints = Counter(record.getMessage() for record in caplog.records
                                     if record.levelno >= logging.ERROR)
                assert any("dispatch failed" in line for line in complaints), complaints
                assert clockwork.last_tick == MONDAY_9 + timedelta(minutes=3)

                # It is back: the next sweep sends what fell due.
                proxy.restore()
                back = MONDAY_9 + timedelta(minutes=5)
                frozen.move_to(back)
                clockwork.tick()
                with service.sessions() as session:
                    due = {row.key: row.status for row in session.scalars(
                        select(MessageRow).where(MessageRow.send_at <= back))}
            finally:
                service.engine.dispose()

    keys = keys_received(smtp_server)
    fell_due = len(keys) - backlog
    report(capsys, f"drill database-down: {outage_ticks} ticks, a daily re-plan and a reload poll "
                   f"while PostgreSQL was cut, none raised ({sum(complaints.values())} errors logged); "
                   f"{fell_due} messages that fell due meanwhile sent on the first tick after, "
                   f"0 lost, 0 repeated ({proxy.accepted} connections through the proxy)")
    assert fell_due > 0
    assert set(due.values()) == {"sent"}
    assert set(keys) == set(due)
    assert max(keys.values()) == 1


# --- 3. SIGKILL mid-send, and a restart ---------------------------------------------------------

# Friday 27 November 2026, 10:00 in Shanghai: a fresh start sends the last week's messages late.
FRESH_START = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
KILL_AT = 3  # messages received when the daemon is killed (inside DATA: delivered, unconfirmed)


def test_drill_sigkill_mid_send_and_restart_loses_nothing_and_repeats_at_most_one(
        tmp_path, smtp_server, capsys):
    database = tmp_path / "planbell.db"
    env = planbell_env(database_url=f"sqlite:///{database}", smtp_host="127.0.0.1",
                       smtp_port=str(smtp_server.port), smtp_security="none",
                       maildir=str(tmp_path / "maildir"))
    owed = _owed(env, tmp_path / "reference.db")

    def kill_on_delivery(_message) -> None:
        if len(smtp_server.received) == KILL_AT:
            os.kill(first.pid, signal.SIGKILL)

    launched = datetime.now(UTC)
    first = Daemon(FRESH_START, env, tmp_path / "first.log", tmp_path)
    smtp_server.handler.on_data = kill_on_delivery
    try:
        assert first.process.wait(timeout=60) == -signal.SIGKILL, first.tail()
    finally:
        first.kill()
        smtp_server.handler.on_data = None
    claimed = outbox(f"sqlite:///{database}", MessageRow.status == "sending")
    assert claimed, "the killed daemon left no claim behind"

    # Back once the dead claim's lease has run out (virtual time: the lease is two minutes).
    restart = FRESH_START + (datetime.now(UTC) - launched) + defaults.CLAIM_LEASE + timedelta(seconds=5)
    second = Daemon(restart, env, tmp_path / "second.log", tmp_path)
    try:
        wait_until(lambda: not outbox(f"sqlite:///{database}", or_(
            MessageRow.status == "sending",
            (MessageRow.status == "pending") & (MessageRow.next_attempt_at <= restart))),
            within=60, what="the outbox emptying after the restart")
        assert second.stop() == 0, second.tail()
    finally:
        second.kill()

    keys = keys_received(smtp_server)
    repeated = sorted(k for k, n in keys.items() if n > 1)
    report(capsys, f"drill kill-9: killed at message {KILL_AT} of {len(owed)} with {len(claimed)} "
                   f"claimed; restarted after the lease: {len(set(keys) & owed)} of {len(owed)} "
                   f"delivered, {len(owed - set(keys))} lost, {len(repeated)} repeated {repeated}")
    assert not owed - set(keys), f"lost: {sorted(owed - set(keys))[:10]}"
    assert not set(keys) - owed, f"unexpected: {sorted(set(keys) - owed)[:10]}"
    assert sum(keys.values()) - len(keys) <= 1
    assert "Traceback" not in (tmp_path / "second.log").read_text(encoding="utf-8")


def _owed(env: dict[str, str], database: Path) -> set[str]:
    """What a fresh start at FRESH_START owes at once: its outbox on a clean database (planned,
    nothing sent) up to a few minutes later."""
    settings = settings_from(env | {"PLANBELL_DATABASE_URL": f"sqlite:///{database}"})
    service = Service(settings, all_notifiers(settings), instance="reference")
    try:
        service.start(FRESH_START)
        with service.sessions() as session:
            owed = set(session.scalars(select(MessageRow.key).where(
                MessageRow.send_at <= FRESH_START + timedelta(minutes=10))))
    finally:
        service.engine.dispose()
    assert len(owed) > 20  # the bundled plan: dozens of late reminders
    return owed


# --- 4. a broken schedule saved under a running daemon ------------------------------------------

AFTERNOON_TUESDAY = at(date(2026, 3, 10), time(15, 0))
TYPO = "    every: quaterly\n"
BROKEN_YAML = PLAN_YAML.replace("    every: quarter\n", TYPO, 1)
BROKEN_LINE = BROKEN_YAML[: BROKEN_YAML.index(TYPO)].count("\n") + 1


def save(path: Path, text: str) -> None:
    """Save as editors do: a new file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_drill_bad_schedule_pushed_to_a_running_daemon_is_refused_and_the_admins_told_once(
        tmp_path, smtp_server, capsys):
    assert BROKEN_YAML.splitlines()[BROKEN_LINE - 1] == TYPO.rstrip("\n")
    files = write_plan(tmp_path)
    port = free_port()
    database_url = f"sqlite:///{files.database}"
    env = planbell_env(files.schedules, files.roster, database_url=database_url, digest="off",
                       smtp_host="127.0.0.1", smtp_port=str(smtp_server.port), smtp_security="none",
                       maildir=str(tmp_path / "maildir"), http_port=str(port))
    daemon = Daemon(AFTERNOON_TUESDAY, env, tmp_path / "daemon.log", tmp_path)
    try:
        daemon.wait_for("planbell ready", within=60)
        wait_until(lambda: healthz(port) == 200, within=10, what="/healthz answering 200")

        save(files.plan, BROKEN_YAML)
        saved = datetime.now(UTC)
        refused = daemon.wait_for("schedule edit refused", within=5)
        noticed = (datetime.now(UTC) - saved).total_seconds()
        assert f"{files.plan}:{BROKEN_LINE}: obligations[1].every: 'quaterly'" in refused
        alert = wait_until(lambda: [m for m in smtp_server.received if m.message["X-Planbell-Kind"] == "admin"],
                           within=10, what="the admin alert about the refused edit")
        assert daemon.alive
        assert healthz(port) == 200

        # Saved again, still broken the same way (other bytes, the same error): refused again,
        # but the admins already know.
        save(files.plan, BROKEN_YAML + "\n")
        daemon.wait_for("schedule edit refused", within=5)
        save(files.plan, PLAN_YAML)
        reloaded = daemon.wait_for("schedule reloaded", within=5)
        wait_until(lambda: not outbox(database_url, MessageRow.status.in_(("pending", "sending")),
                                      MessageRow.next_attempt_at <= AFTERNOON_TUESDAY + timedelta(hours=1)),
                   within=10, what="the outbox emptying after the fix")
        status = healthz(port)
        assert daemon.stop() == 0, daemon.tail()
    finally:
        daemon.kill()

    admin = [m for m in smtp_server.received if m.message["X-Planbell-Kind"] == "admin"]
    alerts = outbox(database_url, MessageRow.kind == "admin")
    report(capsys, f"drill bad-schedule: refused {noticed:.1f} s after the save "
                   f"({refused.split('schedule edit refused: ')[-1]}); alive, /healthz {status}; "
                   f"{len(admin)} admin alert for 2 broken saves; fixed: {reloaded.split(': ', 1)[-1]}")
    assert [m.key for m in admin] == [m.key for m in alert]
    assert len(admin) == 1 and admin[0].key.startswith("admin:schedule-invalid:")
    assert [row.key for row in alerts] == [admin[0].key]
    assert status == 200
    assert "Traceback" not in (tmp_path / "daemon.log").read_text(encoding="utf-8")
