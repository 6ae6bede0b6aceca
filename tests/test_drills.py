"""Reliability drills: the daemon's bad days, staged against real servers, each drill printing
what it saw.

1. The SMTP relay is down for ten minutes: messages wait with backoff, none is given up on,
   and each is delivered once when the relay is back.
2. PostgreSQL goes away (a TCP proxy between the daemon and the database is cut): the
   scheduler's jobs log and carry on, and what fell due meanwhile goes out once it is back.
   (No SQLite variant: a file the daemon holds open stays usable whatever is done to its
   permissions or name, and the real failures, a full disk or a lock held past the 30 s busy
   timeout, cost more to stage than they would tell.)
3. `planbell run`, back after days down with a week of messages owed, is killed with SIGKILL
   mid-send and restarted: nothing is lost, one message at most is repeated. tests/test_crash_safety.py kills `planbell simulate` four times at
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
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from freezegun import freeze_time
from sqlalchemy import or_, select
from sqlalchemy.engine import make_url

from daemon import defaults
from daemon.dispatch import CHANNEL_DOWN_AFTER
from daemon.scheduler import Clockwork
from daemon.service import Service
from daemon.store.tables import DeliveryRow, MessageRow
from notifiers.email import SmtpNotifier
from tests.clirun import planbell_env
from tests.daemonproc import Daemon, wait_until
from tests.instances import outbox, settings_from
from tests.smallplan import PLAN_YAML, at, write_plan
from tests.smtpserver import Server, free_port
from tests.tcpproxy import TcpProxy

# Monday 2 March 2026: the weekly digests are due at 08:30, the day's reminders at 09:00.
MONDAY_830 = at(date(2026, 3, 2), clock_time(8, 30))
MONDAY_9 = at(date(2026, 3, 2))


def report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}")


def keys_received(server) -> Counter:
    return Counter(message.key for message in server.received)


def bundled_env(tmp_path: Path, smtp_port: int, database_url: str | None = None,
                **settings: str) -> dict[str, str]:
    """The bundled 2026 plan and example roster (a dozen people, weekly digests), mail to the
    test's SMTP port."""
    return planbell_env(database_url=database_url or f"sqlite:///{tmp_path / 'planbell.db'}",
                        smtp_host="127.0.0.1", smtp_port=str(smtp_port), smtp_security="none",
                        maildir=str(tmp_path / "maildir"), **settings)


def bundled_service(env: dict[str, str]) -> Service:
    settings = settings_from(env)
    notifier = SmtpNotifier("127.0.0.1", settings.smtp_port, "none", timeout=5,
                            mail_from=settings.mail_from, local_hostname="drill")
    return Service(settings, {"email": notifier}, instance="drill")


# --- 1. the SMTP relay is down ------------------------------------------------------------------

SMTP_OUTAGE = timedelta(minutes=10)


def test_drill_smtp_down_messages_wait_with_backoff_and_each_is_delivered_once_after_recovery(
        tmp_path, capsys):
    relay = Server()  # its port is chosen, but nothing listens there until it is started
    # Without digests: each attempt composes its message, and a digest takes ~80 ms to compose.
    service = bundled_service(bundled_env(tmp_path, relay.port, digest="off"))
    try:
        service.start(at(date(2026, 3, 2), clock_time(0, 5)))
        with service.sessions() as session:
            queued = set(session.scalars(select(MessageRow.key).where(MessageRow.send_at <= MONDAY_9)))
        assert len(queued) >= 10

        # The outage: the dispatcher runs at every wake-up it asks for, for ten minutes.
        outage_runs = retried = 0
        now = service.next_wake()
        assert now == MONDAY_9
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
                assert recovery_runs < 100, "the queued messages are not going out"
                now = max(service.next_wake(), now)
                service.dispatch(now)
        last = service.next_wake()
        with service.sessions() as session:
            rows = session.scalars(select(MessageRow).where(MessageRow.key.in_(queued))).all()
            retries = session.scalars(select(DeliveryRow).where(DeliveryRow.outcome != "ok")).all()
    finally:
        service.engine.dispose()

    keys = keys_received(relay)
    report(capsys, f"drill smtp-down: {len(queued)} messages queued during a "
                   f"{SMTP_OUTAGE.seconds // 60}-minute outage ({outage_runs} dispatch runs), 0 failed, "
                   f"{retried} retries ({min(tries)}-{max(tries)} attempts each, limit "
                   f"{defaults.MAX_ATTEMPTS}); after recovery all {len(keys)} delivered once in "
                   f"{recovery_runs} runs, 0 lost")
    assert {row.status for row in rows} == {"sent"}
    assert set(keys) == queued, f"lost: {sorted(queued - set(keys))}"
    assert max(keys.values()) == 1
    assert len(retries) == retried
    assert last > MONDAY_9 + timedelta(hours=1)  # nothing else was owed that morning

    # The backoff: after a message's n-th failed try it waits at least 0.8 × min(2^(n-1) min,
    # 1 h) (the jitter's low end; a channel found down holds it back longer, never shorter),
    # and no dispatch run tries more than CHANNEL_DOWN_AFTER messages on the dead relay.
    by_message: dict[int, list] = {}
    for delivery in sorted(retries, key=lambda d: d.id):
        by_message.setdefault(delivery.message_id, []).append(delivery.started_at)
    assert len(by_message) == len(queued)
    for tried in by_message.values():
        for n, (before, after) in enumerate(zip(tried, tried[1:], strict=False), start=1):
            floor = 0.8 * min(defaults.RETRY_BASE_SECONDS * 2 ** (n - 1), defaults.RETRY_MAX_SECONDS)
            assert (after - before).total_seconds() >= floor, (n, before, after)
    per_run = Counter(d.started_at for d in retries)
    assert max(per_run.values()) <= CHANNEL_DOWN_AFTER, per_run
    # Not given up on: every failure was a retry, within MAX_ATTEMPTS (see tests/test_giving_up.py
    # for the relay that never comes back).
    assert {d.outcome for d in retries} == {"retry"}
    assert all(len(tried) < defaults.MAX_ATTEMPTS for tried in by_message.values())


def _pending(service: Service) -> list[MessageRow]:
    with service.sessions() as session:
        return session.scalars(select(MessageRow).where(MessageRow.status.in_(("pending", "sending")))).all()


# --- 2. the database is away --------------------------------------------------------------------


def test_drill_database_down_the_clockwork_carries_on_and_sends_what_fell_due_once_it_is_back(
        tmp_path, smtp_server, postgres_url, caplog, capsys):
    sunday = at(date(2026, 3, 1), clock_time(20, 0))
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        url = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
        with freeze_time(sunday) as frozen:
            service = bundled_service(bundled_env(tmp_path, smtp_server.port, url))
            try:
                service.start(sunday)
                clockwork = Clockwork(service, "Asia/Shanghai")  # its scheduler is not started
                clockwork.tick()
                assert smtp_server.received == []

                # PostgreSQL goes away overnight; Monday morning comes, and the wake-ups with it.
                proxy.cut()
                caplog.clear()
                ticks = [MONDAY_830, MONDAY_830 + timedelta(minutes=1), MONDAY_9, MONDAY_9 + timedelta(minutes=1)]
                for instant in ticks:
                    frozen.move_to(instant)
                    clockwork.tick()
                clockwork.poll_schedule()
                clockwork.daily()
                assert smtp_server.received == []
                complaints = Counter(record.getMessage() for record in caplog.records
                                     if record.levelno >= logging.ERROR)
                assert any("dispatch failed" in line for line in complaints), complaints
                assert clockwork.last_tick == ticks[-1]

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
    report(capsys, f"drill database-down: {len(ticks)} ticks, a reload poll and the daily re-plan "
                   f"while PostgreSQL was cut: none raised ({sum(complaints.values())} errors logged); "
                   f"{len(keys)} messages that fell due meanwhile sent on the first tick after, "
                   f"0 lost, 0 repeated ({proxy.accepted} connections through the proxy)")
    assert len(due) >= 20
    assert set(due.values()) == {"sent"}
    assert set(keys) == set(due)
    assert max(keys.values()) == 1


# --- 3. SIGKILL mid-send, and a restart ---------------------------------------------------------

# The daemon last ran on Monday night (its outbox planned), and is started again on Friday 27
# November 2026 at 10:00 in Shanghai: the week's messages are owed, late.
LAST_RAN = at(date(2026, 11, 23), clock_time(23, 0))
RESTART = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
KILL_AT = 3  # messages received when the daemon is killed (inside DATA: delivered, unconfirmed)


def test_drill_sigkill_mid_send_and_restart_loses_nothing_and_repeats_at_most_one(
        tmp_path, smtp_server, capsys):
    env = bundled_env(tmp_path, smtp_server.port)
    database_url = env["PLANBELL_DATABASE_URL"]
    seed = bundled_service(env)
    try:
        seed.start(LAST_RAN)
    finally:
        seed.engine.dispose()
    owed = {row.key for row in outbox(database_url, MessageRow.send_at <= RESTART)}
    assert len(owed) > 20

    def kill_on_delivery(_message) -> None:
        if len(smtp_server.received) == KILL_AT:
            os.kill(first.pid, signal.SIGKILL)

    launched = time.monotonic()
    first = Daemon(RESTART, env, tmp_path / "first.log", tmp_path)
    smtp_server.handler.on_data = kill_on_delivery
    try:
        assert first.process.wait(timeout=60) == -signal.SIGKILL, first.tail()
    finally:
        first.kill()
        smtp_server.handler.on_data = None
    claimed = outbox(database_url, MessageRow.status == "sending")
    assert claimed, "the killed daemon left no claim behind"

    # Back once the dead claim's lease has run out (virtual time: the lease is two minutes).
    again = RESTART + timedelta(seconds=time.monotonic() - launched) + defaults.CLAIM_LEASE
    second = Daemon(again, env, tmp_path / "second.log", tmp_path)
    try:
        wait_until(lambda: not outbox(database_url, or_(
            MessageRow.status == "sending",
            (MessageRow.status == "pending") & (MessageRow.next_attempt_at <= again))),
            within=60, what="the outbox emptying after the restart", every=0.2)
        assert second.stop() == 0, second.tail()
    finally:
        second.kill()

    keys = keys_received(smtp_server)
    repeated = sorted(k for k, n in keys.items() if n > 1)
    taken_over = sum("(lease expired)" in line for line in second.lines())
    report(capsys, f"drill kill-9: killed at message {KILL_AT} of {len(owed)} owed, {len(claimed)} "
                   f"left claimed; restarted after the lease, {taken_over} claims taken over: "
                   f"{len(set(keys) & owed)} of {len(owed)} delivered, {len(owed - set(keys))} lost, "
                   f"{len(repeated)} repeated {repeated}")
    assert taken_over == len(claimed)
    assert not owed - set(keys), f"lost: {sorted(owed - set(keys))[:10]}"
    assert not set(keys) - owed, f"unexpected: {sorted(set(keys) - owed)[:10]}"
    assert sum(keys.values()) - len(keys) <= 1
    assert "Traceback" not in (tmp_path / "second.log").read_text(encoding="utf-8")


# --- 4. a broken schedule saved under a running daemon ------------------------------------------

AFTERNOON_TUESDAY = at(date(2026, 3, 10), clock_time(15, 0))
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
        saved = time.monotonic()
        refused = daemon.wait_for("日程修改有误,未生效", within=5)
        noticed = time.monotonic() - saved
        assert f"{files.plan}:{BROKEN_LINE}: obligations[1].every: 'quaterly'" in refused
        alert = wait_until(lambda: [m for m in smtp_server.received if m.message["X-Planbell-Kind"] == "admin"],
                           within=10, what="the admin alert about the refused edit")
        assert daemon.alive
        assert healthz(port) == 200

        # Saved again, still broken the same way (other bytes, the same error): refused again,
        # but the admins already know.
        save(files.plan, BROKEN_YAML + "\n")
        daemon.wait_for("日程修改有误,未生效", within=5)
        save(files.plan, PLAN_YAML)
        reloaded = daemon.wait_for("日程已重新加载", within=5)
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
                   f"({refused.split('日程修改有误,未生效:')[-1]}); alive, /healthz {status}; "
                   f"{len(admin)} admin alert for 2 broken saves; fixed: {reloaded.split('日程已重新加载:', 1)[-1]}")
    assert [m.key for m in admin] == [m.key for m in alert]
    assert len(admin) == 1 and admin[0].key.startswith("admin:schedule-invalid:")
    assert [row.key for row in alerts] == [admin[0].key]
    assert status == 200
    assert "Traceback" not in (tmp_path / "daemon.log").read_text(encoding="utf-8")
