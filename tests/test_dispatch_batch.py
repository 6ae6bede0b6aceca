"""A claimed batch is composed ahead of its sends: a duty checked off while the batch goes out
must still never be listed in a message sent more than defaults.COMPOSED_FRESH_FOR after that."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from datetime import date, time, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from daemon import defaults, ledger
from daemon.dispatch import Dispatcher, mask, short
from daemon.store.tables import DeliveryRow, MessageRow
from notifiers.base import TransportError
from notifiers.email import SmtpNotifier
from tests.smallplan import EMAILS, LOCAL_SMTP, at, make_service, received, stop, write_plan

# A working Sunday (调休) on which three people get a reminder at 09:00: li-na the monthly
# report, zhang-wei the quarterly meeting, chen-jing the two heart-to-heart talks.
DAY = date(2026, 1, 4)


class CheckingOffDuringTheFirstSend(SmtpNotifier):
    """Sends for real; right after the first message, someone checks off every duty of the
    rest of the batch, and the clock moves on by ``pause`` seconds (a slow relay)."""

    def __init__(self, port: int, service, frozen, pause: float):
        super().__init__("127.0.0.1", port, **LOCAL_SMTP)
        self.service, self.frozen, self.pause, self.sent = service, frozen, pause, 0

    def send_while(self, message, meanwhile) -> None:
        super().send_while(message, meanwhile)
        self.sent += 1
        if self.sent > 1:
            return
        with self.service.sessions.begin() as session:
            others = session.scalars(select(MessageRow).where(MessageRow.status == "sending",
                                                              MessageRow.key != message.key)).all()
            duties = {item["occurrence"] for row in others for item in row.content["items"]}
            for occurrence_id in sorted(duties):
                row = ledger.occurrence(session, occurrence_id)
                assert ledger.check_off(session, row, at(DAY), "cli:test", row.assignees[0], None, None)
        self.frozen.tick(self.pause)


@pytest.mark.parametrize("pause", [defaults.COMPOSED_FRESH_FOR + 1, 60.0])
def test_a_duty_checked_off_while_a_batch_goes_out_is_not_in_its_later_messages(tmp_path, smtp_server, pause, caplog):
    caplog.set_level(logging.INFO, logger="planbell.dispatch")
    files = write_plan(tmp_path)
    with freeze_time(at(DAY, time(0, 5))) as frozen:
        service = make_service(files, smtp_server.port)
        service.start(at(DAY, time(0, 5)))
        notifier = CheckingOffDuringTheFirstSend(smtp_server.port, service, frozen, pause)
        service.dispatcher.notifiers["email"] = notifier
        frozen.move_to(at(DAY))
        stats = service.dispatch(at(DAY))
    stop(service)

    mails = received(smtp_server)
    assert [m.day for m in mails] == [DAY], "only the first message had anything left to say"
    assert (stats.sent, stats.skipped, stats.failed) == (1, 2, 0)
    with service.sessions() as session:
        statuses = sorted(session.execute(select(MessageRow.status, MessageRow.late).where(MessageRow.send_at == at(DAY))))
    assert statuses == [("sent", False), ("skipped", False), ("skipped", False)]  # on time, all three
    with service.sessions() as session:
        sent = session.scalars(select(MessageRow).where(MessageRow.status == "sent")).one()
        deliveries = session.execute(select(DeliveryRow.message_id, DeliveryRow.outcome, DeliveryRow.started_at,
                                            DeliveryRow.duration_ms, DeliveryRow.instance)).all()
    assert (sent.sent_at, sent.lease_until, sent.claimed_by) == (at(DAY), None, "test")
    # One attempt recorded, the sent one's: how long the relay took (the clock moved on by
    # ``pause`` while it sent), by which instance. Skipping a message is no delivery attempt.
    assert deliveries == [(sent.id, "ok", at(DAY), int(pause * 1000), "test")]
    # The operator's log says which messages had nothing left to say, and whose they were.
    skipped = [r.getMessage() for r in caplog.records if "SKIPPED" in r.getMessage()]
    with service.sessions() as session:
        keys = session.scalars(select(MessageRow.key).where(MessageRow.status == "skipped")).all()
    assert sorted(skipped) == sorted(f"{short(k)} email {k.split(':')[1]} SKIPPED: every duty in it was checked off "
                                     "or cancelled" for k in keys)
    ok = [r.getMessage() for r in caplog.records if " OK " in r.getMessage()]
    assert ok == [f"{short(sent.key)} email {mask(EMAILS[sent.person])} OK {pause:.1f}s"]  # on time: no "(late)"


def test_each_outcome_is_recorded_before_the_next_message_can_be_delivered(tmp_path, smtp_server):
    """The outcome of a message is committed while the next one's first SMTP reply is on its
    way: when the server holds a message's data (delivered, not yet confirmed: a kill now
    repeats it), every message it accepted before is already marked sent."""
    files = write_plan(tmp_path)
    unrecorded: list[tuple[str, list[str]]] = []
    accepted: list[str] = []

    def check(received) -> None:
        with sqlite3.connect(files.database) as db:
            sent = {key for (key,) in db.execute("SELECT key FROM messages WHERE status = 'sent'")}
        behind = [key for key in accepted if key not in sent]
        if behind:
            unrecorded.append((received.key, behind))
        accepted.append(received.key)

    smtp_server.handler.on_data = check
    first, then = date(2026, 6, 28), date(2026, 7, 3)  # a week's reminders at once, after downtime
    with freeze_time(at(first, time(0, 5))) as frozen:
        service = make_service(files, smtp_server.port)
        service.start(at(first, time(0, 5)))
        frozen.move_to(at(then))
        service.refresh(at(then))
        stats = service.dispatch(at(then))
    stop(service)

    assert stats.sent == len(accepted) >= 5
    assert unrecorded == []


class RefusingOneAddress(SmtpNotifier):
    """Sends for real, but cannot encode the message to one person (as for an unusable
    address): the dispatcher prepares messages while the server answers the one before."""

    def __init__(self, port: int, refused: str):
        super().__init__("127.0.0.1", port, **LOCAL_SMTP)
        self.refused = refused

    def prepare(self, message):
        if message.to_address == self.refused:
            raise TransportError(f"Recipient address {message.to_address!r} is not usable", permanent=True)
        return super().prepare(message)


@pytest.mark.parametrize("person", ["li-na", "zhang-wei", "chen-jing"])  # first, middle, last
def test_a_message_that_cannot_be_prepared_fails_alone_and_the_batch_goes_on(tmp_path, smtp_server, person):
    files = write_plan(tmp_path)
    with freeze_time(at(DAY, time(0, 5))) as frozen:
        service = make_service(files, smtp_server.port)
        service.start(at(DAY, time(0, 5)))
        service.dispatcher.notifiers["email"] = RefusingOneAddress(smtp_server.port, EMAILS[person])
        frozen.move_to(at(DAY))
        stats = service.dispatch(at(DAY))
    stop(service)

    assert (stats.sent, stats.failed) == (3, 1)  # the two others, and the admins' alert
    assert sorted((m.kind, m.person) for m in received(smtp_server)) == sorted(
        [("admin", "xu-li")] + [("reminder", p) for p in {"li-na", "zhang-wei", "chen-jing"} - {person}])
    with service.sessions() as session:
        failed = session.scalars(select(MessageRow).where(MessageRow.status == "failed")).all()
    assert [(row.person, row.last_error) for row in failed] == \
        [(person, f"Recipient address {EMAILS[person]!r} is not usable")]


def test_addresses_in_the_log_show_their_local_part_only():
    """The operator's log says who a message went to without spelling out their address; a
    robot's user id (no domain) is shown as it is."""
    assert mask("lina@example.gov.cn") == "lina@…"
    assert mask("zhangwei") == "zhangwei"


def test_a_messages_tag_in_the_log_is_the_same_on_every_instance_and_release():
    """An operator greps several instances' logs for one message: its tag is the first eight
    hex digits of its key's SHA-256, not anything of one process."""
    key = "reminder:li-na:2026-01-02:email"
    assert short(key) == hashlib.sha256(key.encode()).hexdigest()[:8] == "9ac1c869"


def test_a_run_sends_its_messages_over_one_smtp_connection(tmp_path, smtp_server, monkeypatch):
    monkeypatch.setattr(defaults, "CLAIM_BATCH", 2)  # three messages: two claims, one connection
    files = write_plan(tmp_path)
    with freeze_time(at(DAY)):
        service = make_service(files, smtp_server.port)
        service.start(at(DAY, time(0, 5)))
        stats = service.dispatch(at(DAY))
    stop(service)
    assert stats.sent == 3
    assert smtp_server.handler.connections == 1


class StoppedAfterTheFirst(SmtpNotifier):
    """Sends for real; the daemon is told to stop (SIGTERM) while the first message goes out."""

    def __init__(self, port: int, service):
        super().__init__("127.0.0.1", port, **LOCAL_SMTP)
        self.service = service

    def send_while(self, message, meanwhile) -> None:
        super().send_while(message, meanwhile)
        self.service.stop.set()


def test_a_stop_in_the_middle_of_a_batch_gives_back_the_rest_untried(tmp_path, smtp_server):
    files = write_plan(tmp_path)
    with freeze_time(at(DAY)):
        service = make_service(files, smtp_server.port)
        service.start(at(DAY, time(0, 5)))
        service.dispatcher.notifiers["email"] = StoppedAfterTheFirst(smtp_server.port, service)
        stats = service.dispatch(at(DAY))
    stop(service)
    assert stats.sent == 1 and len(received(smtp_server)) == 1
    with service.sessions() as session:
        rows = session.execute(select(MessageRow.status, MessageRow.attempts, MessageRow.lease_until,
                                      MessageRow.next_attempt_at).where(MessageRow.send_at == at(DAY))).all()
    # The two not sent are pending again as if never claimed: the next start sends them at once.
    assert sorted(rows, key=lambda r: r.status) == [("pending", 0, None, at(DAY)), ("pending", 0, None, at(DAY)),
                                                     ("sent", 1, None, at(DAY))]


def test_a_long_send_renews_its_own_lease_and_an_instance_that_stalled_past_it_sends_nothing(tmp_path):
    """Before sending from an old claim an instance renews the lease of that row alone; if it
    stalled past the lease and another instance took the row over, it leaves the row to them."""
    files = write_plan(tmp_path)
    with freeze_time(at(DAY)):
        first = make_service(files, 25)
        first.start(at(DAY, time(0, 5)))
        second = make_service(files, 25)
        second.instance = second.dispatcher.instance = "second"
        claimed = first.dispatcher._claim(at(DAY), at(DAY))
        assert len(claimed) == 3
        renewed_at = at(DAY) + defaults.LEASE_RENEW_AFTER
        assert first.dispatcher._still_ours(claimed[0], at(DAY), renewed_at)
        with first.sessions() as session:
            leases = dict(session.execute(select(MessageRow.id, MessageRow.lease_until)).all())
        assert leases[claimed[0].id] == renewed_at + defaults.CLAIM_LEASE  # renewed, from now
        assert leases[claimed[1].id] == leases[claimed[2].id] == at(DAY) + defaults.CLAIM_LEASE  # untouched
        stalled = renewed_at + defaults.CLAIM_LEASE + timedelta(seconds=1)
        taken = second.dispatcher._claim(stalled, stalled)
        assert {r.id for r in taken} == {r.id for r in claimed}
        assert not any(first.dispatcher._still_ours(r, at(DAY), stalled) for r in claimed)
    stop(first)
    stop(second)


class StallingPastTheLease(SmtpNotifier):
    """Sends for real; the first send stalls past the claim's lease (the clock moves on), and
    meanwhile another instance, whose claim its batch size cuts short, takes over the stalled
    message and the one after it. Records each message's lease as it is sent."""

    def __init__(self, port: int, frozen, other, lease_of):
        super().__init__("127.0.0.1", port, **LOCAL_SMTP)
        self.frozen, self.other, self.lease_of = frozen, other, lease_of
        self.leases: dict[str, object] = {}

    def send_while(self, message, meanwhile) -> None:
        self.leases[message.key] = self.lease_of(message.key)
        super().send_while(message, meanwhile)
        if len(self.leases) > 1:
            return
        self.frozen.tick(defaults.CLAIM_LEASE + timedelta(seconds=1))
        batch, defaults.CLAIM_BATCH = defaults.CLAIM_BATCH, 2
        try:
            stalled = at(DAY) + defaults.CLAIM_LEASE + timedelta(seconds=1)
            self.other.taken = [row.key for row in self.other.dispatcher._claim(stalled, stalled)]
        finally:
            defaults.CLAIM_BATCH = batch


def test_a_run_counts_leases_from_its_own_clock_and_sends_what_is_still_its_own_after_a_takeover(
        tmp_path, smtp_server, caplog):
    """A run's clock moves on while it sends (a slow relay): an instance that stalled past its
    lease leaves the message another instance took over (and says so), renews the lease of the
    next one from the time it really is, and sends it."""
    caplog.set_level(logging.WARNING, logger="planbell.dispatch")
    files = write_plan(tmp_path)
    with freeze_time(at(DAY)) as frozen:
        first = make_service(files, smtp_server.port)
        first.start(at(DAY, time(0, 5)))
        second = make_service(files, 25)
        second.instance = second.dispatcher.instance = "second"

        def lease_of(key):
            with first.sessions() as session:
                return session.scalar(select(MessageRow.lease_until).where(MessageRow.key == key))

        notifier = StallingPastTheLease(smtp_server.port, frozen, second, lease_of)
        first.dispatcher.notifiers["email"] = notifier
        stats = first.dispatch(at(DAY))
    stop(first)
    stop(second)

    sent, taken_over = list(notifier.leases), second.taken[1]
    assert len(second.taken) == 2 and second.taken[0] == sent[0], "the stalled message and the next were taken"
    assert taken_over not in sent and len(sent) == 2, "the taken-over message is the other instance's to send"
    assert stats.sent == 2 and sorted(m.key for m in received(smtp_server)) == sorted(sent)
    stalled = at(DAY) + defaults.CLAIM_LEASE + timedelta(seconds=1)
    assert notifier.leases == {sent[0]: at(DAY) + defaults.CLAIM_LEASE,  # claimed at the start
                               sent[1]: stalled + defaults.CLAIM_LEASE}  # renewed when it was its turn
    with first.sessions() as session:
        owner = {key: rest for key, *rest in session.execute(
            select(MessageRow.key, MessageRow.claimed_by, MessageRow.status, MessageRow.attempts))}
    assert owner[taken_over] == ["second", "sending", 2]
    # Sent from the first claim, at the first attempt: not left for a claim of its own
    # instance to take over once the old lease ran out (an attempt spent, the backoff and
    # the give-up counted from it).
    assert owner[sent[1]] == ["test", "sent", 1]
    left = [r.getMessage() for r in caplog.records if "stalled" in r.getMessage()]
    assert left == [f"{short(taken_over)} was taken over by another instance while this one stalled; not sending"]


class SlowRelay(SmtpNotifier):
    """Sends for real; each send takes ``pause`` seconds of the frozen clock."""

    def __init__(self, port: int, frozen, pause: float):
        super().__init__("127.0.0.1", port, **LOCAL_SMTP)
        self.frozen, self.pause = frozen, pause

    def send_while(self, message, meanwhile) -> None:
        super().send_while(message, meanwhile)
        self.frozen.tick(self.pause)


@pytest.mark.parametrize(("pause", "compositions"), [
    (defaults.COMPOSED_FRESH_FOR / 2, 3),  # the last is exactly COMPOSED_FRESH_FOR old when sent: still fresh
    (defaults.COMPOSED_FRESH_FOR * 3 / 4, 4),  # the last is older: composed again
])
def test_a_batch_composes_each_message_once_unless_it_is_older_than_the_freshness_limit_when_sent(
        tmp_path, smtp_server, pause, compositions):
    files = write_plan(tmp_path)
    composed: list[str] = []
    with freeze_time(at(DAY, time(0, 5))) as frozen:
        service = make_service(files, smtp_server.port)
        service.start(at(DAY, time(0, 5)))
        make_composer = service.dispatcher.composer

        def counting_composer():
            composer = make_composer()
            compose = composer.compose

            def counted(session, row, now, late):
                composed.append(row.person)
                return compose(session, row, now, late)

            composer.compose = counted
            return composer

        service.dispatcher.composer = counting_composer
        service.dispatcher.notifiers["email"] = SlowRelay(smtp_server.port, frozen, pause)
        frozen.move_to(at(DAY))
        stats = service.dispatch(at(DAY))
    stop(service)
    assert stats.sent == 3
    assert len(composed) == compositions
    assert sorted(set(composed)) == ["chen-jing", "li-na", "zhang-wei"]


def test_the_log_has_one_line_per_message_sent_saying_to_whom_how_long_and_whether_late(tmp_path, smtp_server, caplog):
    caplog.set_level(logging.INFO, logger="planbell.dispatch")
    files = write_plan(tmp_path)
    late = at(DAY) + defaults.LATE_AFTER + timedelta(seconds=1)  # the daemon was down this long
    with freeze_time(at(DAY, time(0, 5))) as frozen:
        service = make_service(files, smtp_server.port)
        service.start(at(DAY, time(0, 5)))
        service.dispatcher.notifiers["email"] = SlowRelay(smtp_server.port, frozen, 0.25)
        frozen.move_to(late)
        stats = service.dispatch(late)
    stop(service)
    assert (stats.sent, stats.late) == (3, 3)
    with service.sessions() as session:
        keys = session.scalars(select(MessageRow.key).where(MessageRow.send_at == at(DAY))).all()
    lines = sorted(r.getMessage() for r in caplog.records if " OK " in r.getMessage())
    assert lines == sorted(f"{short(key)} email {mask(EMAILS[key.split(':')[1]])} OK 0.2s (late)" for key in keys)


def test_a_message_is_late_only_once_more_than_the_late_margin_has_passed():
    row = MessageRow(send_at=at(DAY))
    assert not Dispatcher._late(row, at(DAY) + defaults.LATE_AFTER)
    assert Dispatcher._late(row, at(DAY) + defaults.LATE_AFTER + timedelta(seconds=1))
