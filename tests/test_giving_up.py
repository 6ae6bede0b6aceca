"""Giving up, loudly and once: a message the relay never takes is tried MAX_ATTEMPTS times with
growing waits, then marked failed and the admins told; a failed admin alert raises no alert
about itself; a message that can never be delivered (no address, no such channel) fails at its
first attempt instead of being retried for hours.

The real Service on a SQLite file; the relay is a closed port on 127.0.0.1 (nothing listens:
every connection is refused at once) or a real SMTP server.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter, defaultdict
from datetime import date, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from daemon import defaults
from daemon.dispatch import Dispatcher, backoff, short
from daemon.outbox import enqueue
from daemon.service import Service
from daemon.store.tables import DeliveryRow, MessageRow
from tests.smallplan import ROSTER_YAML, at, make_service, received, write_plan
from tests.smtpserver import free_port

# 2 January 2026 is a holiday: nothing of the plan is due that day, only what a test queues.
HOLIDAY = date(2026, 1, 2)
NEXT_PLANNED = at(date(2026, 1, 4))  # the first message the plan itself owes


def queue_reminder(service: Service, person: str = "li-na", channel: str = "email", content=None) -> str:
    """One reminder of the monthly report, as the planner (or another instance) writes it."""
    key = f"reminder:{person}:{HOLIDAY.isoformat()}:{channel}"
    with service.sessions.begin() as session:
        enqueue(session, key=key, kind="reminder", person=person, channel=channel, send_at=at(HOLIDAY),
                content=content or {"items": [{"occurrence": "monthly-report/2026-01", "stage": "open"}]},
                now=at(date(2026, 1, 1)))
    return key


def run_wakes(service: Service, until) -> Counter:
    """The dispatcher at every wake-up it asks for, as `planbell run` does, until ``until``;
    the totals of its runs (and their errors, by message)."""
    totals: Counter = Counter()
    runs = 0
    while (wake := service.next_wake()) is not None and wake < until:
        with freeze_time(wake):
            stats = service.dispatch(wake)
        totals.update(sent=stats.sent, failed=stats.failed, retried=stats.retried, deferred=stats.deferred)
        totals.update(stats.errors)
        runs += 1
        assert runs < 200, "the dispatcher keeps waking: something is retried for ever"
    return totals


def rows_and_tries(service: Service):
    with service.sessions() as session:
        rows = {r.key: r for r in session.scalars(select(MessageRow).where(MessageRow.send_at < NEXT_PLANNED))}
        tries = defaultdict(list)
        for d in session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)):
            tries[d.message_id].append(d)
    return rows, {key: tries[row.id] for key, row in rows.items()}


def test_a_message_the_relay_never_takes_is_tried_max_attempts_times_with_growing_waits_then_given_up(
        tmp_path, caplog):
    files = write_plan(tmp_path)
    port = free_port()  # nothing listens there
    service = make_service(files, port)
    service.start(at(date(2026, 1, 1)))
    key = queue_reminder(service)

    caplog.set_level(logging.INFO, logger="planbell")
    totals = run_wakes(service, NEXT_PLANNED)
    rows, tries = rows_and_tries(service)
    service.engine.dispose()
    refused = f"Connection to 127.0.0.1:{port} refused; is the SMTP server running?"

    reminder = rows[key]
    assert (reminder.status, reminder.attempts) == ("failed", defaults.MAX_ATTEMPTS)
    assert reminder.lease_until is None  # no claim left on it
    outcomes = [d.outcome for d in tries[key]]
    assert outcomes == ["retry"] * (defaults.MAX_ATTEMPTS - 1) + ["failed"]
    assert "refused" in reminder.last_error
    # Each wait twice the one before, from a minute, at most an hour, give or take the jitter.
    waits = [(b.started_at - a.started_at).total_seconds() for a, b in zip(tries[key], tries[key][1:], strict=False)]
    for attempt, wait in enumerate(waits, start=1):
        planned = min(defaults.RETRY_BASE_SECONDS * 2 ** (attempt - 1), defaults.RETRY_MAX_SECONDS)
        assert 0.8 * planned <= wait <= 1.2 * planned, (attempt, wait, planned)
    assert tries[key][0].started_at == at(HOLIDAY)
    # Each try recorded with what went wrong and which instance tried.
    assert {(d.error, d.instance) for d in tries[key]} == {(refused, "test")}
    assert all(0 <= d.duration_ms < 5000 for d in tries[key])
    # The dispatcher's totals and its log, one greppable line per try.
    assert totals == Counter({"retried": 2 * (defaults.MAX_ATTEMPTS - 1), "failed": 2, refused: 2})
    lines = [r.getMessage() for r in caplog.records if r.name == "planbell.dispatch"]
    tag = f"{short(key)} email li-na"
    retries = [line for line in lines if line.startswith(f"{tag} RETRY in ")]
    assert len(retries) == defaults.MAX_ATTEMPTS - 1
    assert re.fullmatch(rf"{tag} RETRY in (4[89]|[56]\d|7[0-2])s: {re.escape(refused)}", retries[0]), retries[0]
    assert f"{tag} FAILED after {defaults.MAX_ATTEMPTS} attempt(s): {refused}" in lines

    # The admins were told once, in an alert that the same relay then failed to deliver too: it
    # was retried and given up on like any message, and raised no alert about itself.
    admin = {k: r for k, r in rows.items() if r.kind == "admin"}
    assert list(admin) == [f"admin:delivery-failed:{key}:{defaults.MAX_ATTEMPTS}:xu-li:email"]
    [alert] = admin.values()
    assert alert.content["context"]["recipient"] == "li-na"
    assert (alert.status, alert.attempts) == ("failed", defaults.MAX_ATTEMPTS)
    assert [d.outcome for d in tries[alert.key]][-1] == "failed"


def test_a_reminder_to_someone_without_an_email_address_fails_at_once_and_the_admins_hear(
        tmp_path, smtp_server):
    files = write_plan(tmp_path)
    files.roster.write_text(ROSTER_YAML.replace(" email: lina@example.gov.cn,", ""), encoding="utf-8")
    service = make_service(files, smtp_server.port)
    service.start(at(date(2026, 1, 1)))
    key = queue_reminder(service)
    run_wakes(service, NEXT_PLANNED)
    rows, tries = rows_and_tries(service)
    service.engine.dispose()

    assert (rows[key].status, rows[key].attempts) == ("failed", 1)  # not retried for hours
    assert "李娜 (li-na) has no email address in the roster" in rows[key].last_error
    # One try recorded, which never reached the relay: it took no time.
    assert [(d.outcome, d.duration_ms) for d in tries[key]] == [("failed", 0)]
    [alert] = received(smtp_server)
    assert alert.kind == "admin" and alert.person == "xu-li"
    assert "li-na" in alert.text and "no email address" in alert.text


def test_a_queued_message_for_a_channel_that_is_not_configured_fails_at_once_and_the_admins_hear(
        tmp_path, smtp_server):
    files = write_plan(tmp_path)
    files.roster.write_text(ROSTER_YAML.replace("lina@example.gov.cn,", "lina@example.gov.cn, wecom: LiNa,"),
                            encoding="utf-8")
    service = make_service(files, smtp_server.port)  # email only
    service.start(at(date(2026, 1, 1)))
    # Queued by an instance that has a WeCom robot (several instances share one PostgreSQL).
    key = queue_reminder(service, channel="wecom")
    run_wakes(service, NEXT_PLANNED)
    rows, tries = rows_and_tries(service)
    service.engine.dispose()

    assert (rows[key].status, rows[key].attempts) == ("failed", 1)
    assert rows[key].last_error == "channel 'wecom' is not configured"
    assert [(d.outcome, d.duration_ms) for d in tries[key]] == [("failed", 0)]  # never reached a relay
    [alert] = received(smtp_server)
    assert alert.key == f"admin:delivery-failed:{key}:1:xu-li:email"
    assert "wecom" in alert.text


def test_a_message_that_cannot_be_composed_fails_at_once_with_the_reason_logged_and_the_admins_hear(
        tmp_path, smtp_server, caplog):
    """A template or data bug fails that message, not the daemon: a row written by another
    release (a listed duty without its stage) is given up on at its first try, the operator's log has
    the traceback, and the admins are told."""
    caplog.set_level(logging.INFO, logger="planbell.dispatch")
    files = write_plan(tmp_path)
    service = make_service(files, smtp_server.port)
    service.start(at(date(2026, 1, 1)))
    key = queue_reminder(service, content={"items": [{"occurrence": "monthly-report/2026-01"}]})
    totals = run_wakes(service, NEXT_PLANNED)
    rows, tries = rows_and_tries(service)
    service.engine.dispose()

    assert (rows[key].status, rows[key].attempts) == ("failed", 1)
    assert rows[key].last_error == "could not compose the message: KeyError('stage')"
    assert [(d.outcome, d.duration_ms) for d in tries[key]] == [("failed", 0)]
    assert totals["failed"] == 1 and totals["sent"] == 1  # the admins' alert went out
    [alert] = received(smtp_server)
    assert alert.key == f"admin:delivery-failed:{key}:1:xu-li:email"
    [logged] = [r for r in caplog.records if r.exc_info]
    assert (logged.levelno, logged.getMessage()) == (logging.ERROR, f"{short(key)} could not be composed")
    assert isinstance(logged.exc_info[1], KeyError)


def test_reminders_escalations_and_digests_older_than_the_horizon_expire_and_the_admins_hear_how_many(
        tmp_path, smtp_server, caplog):
    """After downtime longer than the horizon, what was owed before it is expired unsent: the
    reminders, escalations and digests, not an admin alert (sent late), nor a message exactly
    as old as the horizon. One alert says how many, since when, and lists the first 50 keys."""
    caplog.set_level(logging.INFO, logger="planbell.dispatch")
    files = write_plan(tmp_path)
    service = make_service(files, smtp_server.port)
    service.start(at(date(2026, 1, 1)))
    now = at(HOLIDAY)
    cutoff = now - defaults.LATE_HORIZON
    old = {f"reminder:li-na:old-{n:02d}:email": ("reminder", cutoff - timedelta(hours=60 - n)) for n in range(52)}
    old["escalation:zhang-wei:old:email"] = ("escalation", cutoff - timedelta(days=3))
    old["digest:chen-jing:old:email"] = ("digest", cutoff - timedelta(days=2))
    admin = "admin:delivery-failed:old:xu-li:email"
    with service.sessions.begin() as session:
        for key, (kind, when) in old.items():
            person = key.split(":")[1]
            enqueue(session, key=key, kind=kind, person=person, channel="email", send_at=when,
                    content={"items": [{"occurrence": "monthly-report/2026-01", "stage": "open"}]}, now=when)
        enqueue(session, key=admin, kind="admin", person="xu-li", channel="email", send_at=cutoff - timedelta(days=5),
                content={"topic": "expired", "context": {"count": 3, "horizon_days": 7, "oldest": "2025-12-01",
                                                                "keys": []}},
                now=cutoff - timedelta(days=5))
    at_horizon = queue_reminder(service)  # queued for 2 January ...
    with service.sessions.begin() as session:  # ... and moved to exactly the horizon's age
        session.query(MessageRow).filter_by(key=at_horizon).update({"send_at": cutoff, "next_attempt_at": cutoff})
    with freeze_time(now):
        stats = service.dispatch(now)
    with service.sessions() as session:
        status = dict(session.query(MessageRow.key, MessageRow.status))
        [alert] = session.query(MessageRow).filter(MessageRow.key.like("admin:expired:%")).all()
    service.engine.dispose()

    assert {key: status[key] for key in old} == dict.fromkeys(old, "expired")
    assert (status[admin], status[at_horizon], alert.status) == ("sent", "sent", "sent")
    assert stats.expired == len(old) == 54 and stats.sent == 3 and stats.late == 2
    oldest_first = sorted(old, key=lambda k: (old[k][1], k))
    assert alert.key == f"admin:expired:{now.date().isoformat()}:xu-li:email"
    assert alert.content["context"] == {"count": 54, "oldest": old[oldest_first[0]][1].isoformat(),
                                        "horizon_days": defaults.LATE_HORIZON.days, "keys": oldest_first[:50]}
    warned = [r.getMessage() for r in caplog.records if "expired unsent" in r.getMessage()]
    assert warned == [f"54 message(s) older than {defaults.LATE_HORIZON} expired unsent; admins alerted"]


class HighestJitter(random.Random):
    def uniform(self, a, b):
        return b


def test_backoff_doubles_from_a_minute_up_to_an_hour_with_jitter_and_honours_retry_after():
    rng = HighestJitter()
    assert [backoff(n, None, rng) for n in range(1, 9)] == [72, 144, 288, 576, 1152, 2304, 4320, 4320]
    assert backoff(0, None, rng) == 72  # a first try counts as the first
    assert backoff(1, 600, rng) == 600  # the server asked for longer
    assert backoff(3, 30, rng) == 288  # the server asked for less than we wait anyway
    draws = {round(backoff(2, None, random.Random(seed))) for seed in range(200)}
    assert min(draws) >= 96 and max(draws) <= 144 and len(draws) > 20


def test_messages_that_can_never_be_delivered_do_not_hold_back_the_rest_of_the_batch(tmp_path, smtp_server):
    """Two permanent failures in a row say nothing about the relay (unlike two transient ones):
    the message after them goes out in the same run."""
    files = write_plan(tmp_path)
    files.roster.write_text(ROSTER_YAML.replace(" email: lina@example.gov.cn,", "")
                            .replace(" email: chenjing@example.gov.cn,", ""), encoding="utf-8")
    service = make_service(files, smtp_server.port)
    service.start(at(date(2026, 1, 1)))
    keys = [queue_reminder(service, person) for person in ("li-na", "chen-jing", "zhang-wei")]
    with freeze_time(at(HOLIDAY)):
        stats = service.dispatch(at(HOLIDAY))
    rows, _ = rows_and_tries(service)
    service.engine.dispose()
    assert [rows[k].status for k in keys] == ["failed", "failed", "sent"], (stats, [(rows[k].last_error, rows[k].next_attempt_at, rows[k].attempts) for k in keys])
    assert (stats.failed, stats.deferred) == (2, 0)
    assert stats.sent == 3  # zhang-wei's, and an alert about each failure to the admin


def test_a_message_queued_for_someone_who_left_the_roster_is_skipped_not_sent_or_failed(tmp_path, smtp_server):
    """An admin alert (never re-planned) waits for 徐丽; the roster is edited without her before
    it goes out: it is skipped, saying why, and nobody is alerted about it."""
    files = write_plan(tmp_path)
    service = make_service(files, smtp_server.port)
    with freeze_time(at(date(2026, 1, 1))):
        service.start(at(date(2026, 1, 1)))
    key = "admin:expired:2026-01-02:xu-li:email"
    with service.sessions.begin() as session:
        enqueue(session, key=key, kind="admin", person="xu-li", channel="email", send_at=at(HOLIDAY),
                content={"topic": "expired", "context": {"count": 1}}, now=at(date(2026, 1, 1)))
    files.roster.write_text("".join(line for line in ROSTER_YAML.splitlines(keepends=True) if "xu-li" not in line),
                            encoding="utf-8")
    with freeze_time(at(HOLIDAY)):
        assert service.reload(at(HOLIDAY)) is True
        stats = service.dispatch(at(HOLIDAY))
    rows, tries = rows_and_tries(service)
    service.engine.dispose()
    assert (rows[key].status, rows[key].last_error) == ("skipped", "xu-li is no longer in the roster")
    assert (stats.skipped, stats.sent, stats.failed) == (1, 0, 0)
    assert tries[key] == [] and smtp_server.received == []


def test_an_instance_gives_back_only_its_own_claims(tmp_path, smtp_server):
    """A stalled instance whose claim another instance took over (its lease ran out) releases
    nothing of it when it stops: the row stays the other's, with its attempt counted."""
    files = write_plan(tmp_path)
    service = make_service(files, smtp_server.port)
    service.start(at(date(2026, 1, 1)))
    key = queue_reminder(service)
    stalled = service.dispatcher
    other = Dispatcher(service.sessions, lambda: service.schedule, stalled.composer, stalled.notifiers, "other")
    [mine] = stalled._claim(at(HOLIDAY), at(HOLIDAY))
    later = at(HOLIDAY) + defaults.CLAIM_LEASE + timedelta(seconds=1)
    [theirs] = other._claim(later, later)
    stalled._release(mine.id)  # the stalled one stops, giving back what it thinks it holds
    rows, _ = rows_and_tries(service)
    service.engine.dispose()
    assert theirs.id == mine.id
    assert (rows[key].status, rows[key].claimed_by, rows[key].attempts) == ("sending", "other", 2)
