"""Robot channels end to end through the real Service: the roster's `channels` routing, the
markdown the templates compose, just-in-time composition for rate-limited robots, the
20-a-minute deferral and the deferral of a channel that is down.

The robots are real HTTP servers on 127.0.0.1 answering as WeCom and DingTalk do (see
tests/test_messaging.py); email goes to a real SMTP server. The notifiers are the ones the
settings ask for (notifiers.factory.all_notifiers), as `planbell run` builds them.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from daemon import defaults, ledger
from daemon.dispatch import CHANNEL_DOWN_AFTER
from daemon.service import Service
from daemon.store.tables import DeliveryRow, MessageRow
from notifiers.factory import all_notifiers
from tests.smallplan import PLAN_YAML, at, received, settings_for, write_plan
from tests.test_messaging import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    HANG,
    WECOM_KEY,
    Server,
    dingtalk,
    wecom,
)

# Sunday 4 January 2026, a working day (调休): every duty of the small plan opens, one message
# per person.
OPENING_DAY = date(2026, 1, 4)
EIGHT = time(8, 0)

ROUTED_ROSTER = """\
people:
  - {id: zhang-wei, name: 张伟, email: zhangwei@example.gov.cn, dingtalk: "13800000001", channels: [email, dingtalk], roles: [secretary, members]}
  - {id: li-na, name: 李娜, email: lina@example.gov.cn, wecom: LiNa, channels: [wecom], roles: [office, members]}
  - {id: chen-jing, name: 陈静, email: chenjing@example.gov.cn, wecom: ChenJing, roles: [branch-secretary, members]}
  - {id: xu-li, name: 徐丽, email: xuli@example.gov.cn, roles: [admin]}
"""


def robot_service(tmp_path, roster: str, smtp_port: int, **robots: str) -> Service:
    files = write_plan(tmp_path)
    files.roster.write_text(roster, encoding="utf-8")
    settings = settings_for(files, smtp_port, **robots)
    return Service(settings, all_notifiers(settings), instance="test")


def wecom_url(server: Server) -> str:
    return f"{server.base}/cgi-bin/webhook/send?key={WECOM_KEY}"


def outbox(service: Service, *where) -> list[MessageRow]:
    """The outbox rows of the opening day's 09:00 (the year's later ones aside)."""
    where = (*where, MessageRow.send_at == at(OPENING_DAY))
    with service.sessions() as session:
        return list(session.scalars(select(MessageRow).where(*where).order_by(MessageRow.id)))



def group_links(markdown: str) -> list[tuple[str, str, str]]:
    """(person, duty, purpose) of each button in a robot's markdown: group-chat links, which act
    only for a browser signed in as that person (the payload is read without the key; the
    signature has tests of its own)."""
    import base64
    import json
    import re

    out = []
    for token in re.findall(r"\]\(\S+/act/([^)\s]+)\)", markdown):
        payload = token.split(".")[0]
        person, duty, purpose, _expires, group = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert group == 1, "a robot's link must be a group link"
        out.append((person, duty, purpose))
    return out

def test_roster_channels_route_each_persons_reminders_to_their_robots_in_markdown(tmp_path, smtp_server):
    with Server(wecom()) as wecom_robot, Server(dingtalk()) as dingtalk_robot, \
            freeze_time(at(OPENING_DAY)):
        service = robot_service(
            tmp_path, ROUTED_ROSTER, smtp_server.port, wecom_webhook_url=wecom_url(wecom_robot),
            dingtalk_webhook_url=f"{dingtalk_robot.base}/robot/send?access_token={DINGTALK_TOKEN}",
            dingtalk_secret=DINGTALK_SECRET)
        service.start(at(date(2026, 1, 1)))
        stats = service.dispatch(at(OPENING_DAY))
        service.engine.dispose()

    # 李娜 chose WeCom only; 张伟 email and DingTalk; 陈静 chose nothing (email), though she
    # has a WeCom id.
    mails = {m.key: m for m in received(smtp_server)}
    assert sorted(mails) == [f"reminder:chen-jing:{OPENING_DAY}:email", f"reminder:zhang-wei:{OPENING_DAY}:email"]
    assert (stats.sent, stats.failed, stats.retried, stats.deferred) == (4, 0, 0, 0)

    [to_li_na] = [r.json()["markdown"]["content"] for r in wecom_robot.requests]
    # What she must do, by when, and how to check it off, in markdown, with her mention.
    assert "月度工作报告" in to_li_na and "2026年1月23日" in to_li_na
    assert group_links(to_li_na) == [("li-na", "monthly-report/2026-01", "done"), ("li-na", "monthly-report/2026-01", "explain")]
    assert "**" in to_li_na and "<" not in to_li_na.replace("<@LiNa>", "")  # markdown, no HTML
    assert to_li_na.endswith("<@LiNa>")
    assert "季度党建工作会议" not in to_li_na and "谈心谈话" not in to_li_na  # others' duties

    [to_zhang_wei] = [r.json() for r in dingtalk_robot.requests]
    assert to_zhang_wei["msgtype"] == "markdown"
    assert to_zhang_wei["at"]["atMobiles"] == ["13800000001"]
    assert "季度党建工作会议" in to_zhang_wei["markdown"]["text"]
    assert ("zhang-wei", "quarterly-meeting/2026-Q1", "done") in group_links(to_zhang_wei["markdown"]["text"])
    # The same duties by email to him, as text and HTML.
    assert mails[f"reminder:zhang-wei:{OPENING_DAY}:email"].occurrences == {"quarterly-meeting/2026-Q1"}


def test_a_duty_checked_off_while_a_robot_batch_goes_out_is_left_out_of_its_later_messages(
        tmp_path, smtp_server):
    """Robots send a few messages a minute, so theirs are composed just before each send: a
    duty checked off after the batch was claimed is not listed in a message sent after."""
    roster = ROUTED_ROSTER.replace("roles: [branch-secretary, members]}",
                                   "channels: [wecom], roles: [branch-secretary, members]}")
    checked_off: list[str] = []

    def check_off_the_talks_on_first_send(request):
        if not checked_off:
            with service.sessions.begin() as session:
                for occurrence_id in ("heart-talks/2026-H1/li-na", "heart-talks/2026-H1/zhang-wei"):
                    row = ledger.occurrence(session, occurrence_id)
                    ledger.check_off(session, row, at(OPENING_DAY), "cli:test", "chen-jing", None, None)
                    checked_off.append(occurrence_id)
        return robot(request)

    robot = wecom()
    with Server(check_off_the_talks_on_first_send) as wecom_robot, freeze_time(at(OPENING_DAY)):
        service = robot_service(tmp_path, roster, smtp_server.port, wecom_webhook_url=wecom_url(wecom_robot))
        service.start(at(date(2026, 1, 1)))
        queued = [r.key for r in outbox(service, MessageRow.channel == "wecom")]
        stats = service.dispatch(at(OPENING_DAY))
        rows = {r.key: r for r in outbox(service, MessageRow.channel == "wecom")}
        service.engine.dispose()

    # 李娜's message went first (queued first); 陈静's listed only the two talks, checked off
    # while 李娜's was on its way: skipped, not sent with duties that are done.
    assert queued == [f"reminder:li-na:{OPENING_DAY}:wecom", f"reminder:chen-jing:{OPENING_DAY}:wecom"]
    assert len(wecom_robot.requests) == 1 and "月度工作报告" in wecom_robot.requests[0].json()["markdown"]["content"]
    assert rows[queued[1]].status == "skipped" and "checked off" in rows[queued[1]].last_error
    assert (stats.sent, stats.skipped) == (2, 1)  # 李娜 by WeCom, 张伟 by email


def crowd_roster(size: int) -> str:
    """``size`` members who all want WeCom, and the usual four."""
    lines = [ROUTED_ROSTER.rstrip("\n")]
    lines += [f"  - {{id: member-{n:02d}, name: 党员{n:02d}, email: m{n:02d}@example.gov.cn, "
              f"wecom: M{n:02d}, channels: [wecom], roles: [members]}}" for n in range(size)]
    return "\n".join(lines) + "\n"


# Every member talks with the office once a quarter: one opening notice per member, all on the
# same morning.
CROWD_PLAN = PLAN_YAML + """
  - id: member-check-in
    item: 4
    title: 党员季度思想汇报
    source: 党员每季度向支部汇报思想1次
    every: quarter
    owner: members
"""


def test_more_than_20_robot_messages_a_minute_wait_for_the_next_minute_untried(tmp_path, smtp_server):
    crowd = 25
    with Server(wecom(limit_per_minute=1000)) as wecom_robot, freeze_time(at(OPENING_DAY)) as frozen:
        files = write_plan(tmp_path, CROWD_PLAN)
        files.roster.write_text(crowd_roster(crowd), encoding="utf-8")
        settings = settings_for(files, smtp_server.port, wecom_webhook_url=wecom_url(wecom_robot))
        service = Service(settings, all_notifiers(settings), instance="test")
        service.start(at(date(2026, 1, 1)))
        owed = {r.key for r in outbox(service, MessageRow.channel == "wecom")}

        first = service.dispatch(at(OPENING_DAY))
        sent_first = len(wecom_robot.requests)
        held = outbox(service, MessageRow.channel == "wecom", MessageRow.status == "pending")
        wake = service.next_wake()
        frozen.move_to(wake)
        second = service.dispatch(wake)
        rows = outbox(service, MessageRow.channel == "wecom")
        everything = outbox(service)
        service.engine.dispose()

    # 25 members and 李娜 (WeCom): 26 robot messages at 09:00.
    assert len(owed) == crowd + 1
    assert sent_first == defaults.ROBOT_RATE_PER_MINUTE == first.sent - 2  # + 2 by email
    assert first.deferred == len(held) == crowd + 1 - defaults.ROBOT_RATE_PER_MINUTE
    # Held back untried, to the minute after the first send, not counted as an attempt.
    assert {r.next_attempt_at for r in held} == {at(OPENING_DAY) + timedelta(minutes=1)}
    assert {r.attempts for r in held} == {0}
    assert wake == at(OPENING_DAY) + timedelta(minutes=1)
    assert (second.sent, second.deferred) == (len(held), 0)
    contents = Counter(r.json()["markdown"]["content"].rsplit("<@", 1)[1] for r in wecom_robot.requests)
    assert len(contents) == crowd + 1 and max(contents.values()) == 1  # each once
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    assert {(r.status, r.attempts) for r in everything} == {("sent", 1)}  # email's untouched


def test_a_robot_that_is_down_costs_two_attempts_and_the_rest_of_the_batch_waits_untried(
        tmp_path, smtp_server):
    down = True

    def gateway(request):
        return (502, b"<html>502 Bad Gateway</html>", None) if down else robot(request)

    robot = wecom()
    roster = crowd_roster(4)
    with Server(gateway) as wecom_robot, freeze_time(at(OPENING_DAY)) as frozen:
        files = write_plan(tmp_path, CROWD_PLAN)
        files.roster.write_text(roster, encoding="utf-8")
        settings = settings_for(files, smtp_server.port, wecom_webhook_url=wecom_url(wecom_robot))
        service = Service(settings, all_notifiers(settings), instance="test")
        service.start(at(date(2026, 1, 1)))
        stats = service.dispatch(at(OPENING_DAY))
        rows = outbox(service, MessageRow.channel == "wecom")
        tried = len(wecom_robot.requests)

        down = False
        runs = 0
        while any(r.status == "pending" for r in outbox(service, MessageRow.channel == "wecom")):
            runs += 1
            assert runs < 10, "the robot's messages are not going out"
            wake = service.next_wake()
            frozen.move_to(wake)
            service.dispatch(wake)
        after = outbox(service, MessageRow.channel == "wecom")
        service.engine.dispose()

    # Two failures in a row: the channel is down. The other three wait, untried, about a
    # minute (the first backoff step, with its jitter); email is not held up by the robot.
    assert tried == CHANNEL_DOWN_AFTER == stats.retried
    assert stats.deferred == len(rows) - CHANNEL_DOWN_AFTER == 3
    assert stats.sent == 2  # 张伟 and 陈静 by email
    assert Counter(r.attempts for r in rows) == {1: CHANNEL_DOWN_AFTER, 0: 3}
    base = defaults.RETRY_BASE_SECONDS
    for row in rows:
        wait = (row.next_attempt_at - at(OPENING_DAY)).total_seconds()
        assert row.status == "pending" and 0.8 * base <= wait <= 1.2 * base, (row.key, wait)
    assert all("502" in r.last_error for r in rows if r.attempts)
    # Back up: each message delivered once.
    assert {r.status for r in after} == {"sent"}
    delivered = Counter(r.json()["markdown"]["content"].rsplit("<@", 1)[1] for r in wecom_robot.requests[tried:])
    assert len(delivered) == len(rows) and max(delivered.values()) == 1


def test_one_failure_after_a_success_is_a_retry_not_a_channel_down(tmp_path, smtp_server):
    """Only failures in a row say the robot is down: sent, failed, sent, sent is one retry."""
    robot = wecom()
    answers = {"n": 0}

    def flaky(request):
        answers["n"] += 1
        return (502, b"<html>502 Bad Gateway</html>", None) if answers["n"] == 2 else robot(request)

    with Server(flaky) as wecom_robot, freeze_time(at(OPENING_DAY)):
        files = write_plan(tmp_path, CROWD_PLAN)
        files.roster.write_text(crowd_roster(4), encoding="utf-8")
        settings = settings_for(files, smtp_server.port, wecom_webhook_url=wecom_url(wecom_robot))
        service = Service(settings, all_notifiers(settings), instance="test")
        service.start(at(date(2026, 1, 1)))
        stats = service.dispatch(at(OPENING_DAY))
        rows = outbox(service, MessageRow.channel == "wecom")
        service.engine.dispose()
    assert (stats.retried, stats.deferred) == (1, 0)
    assert Counter(r.status for r in rows) == {"sent": len(rows) - 1, "pending": 1}
    assert len(wecom_robot.requests) == len(rows)


@pytest.mark.parametrize("what, back", [
    ("person removed", EIGHT), ("channel unconfigured", EIGHT),
    # Back after the message's time: it was owed, only its route changed, so it still goes out.
    ("channel unconfigured", time(9, 30)),
])
def test_a_change_under_a_queued_robot_message_moves_it_to_email_or_cancels_it(tmp_path, smtp_server, what, back):
    """The roster or the settings change between planning and sending (a restart with the
    edit): the queued WeCom message is re-planned, never sent to the robot."""
    with Server(wecom()) as wecom_robot, freeze_time(at(OPENING_DAY, back)):
        service = robot_service(tmp_path, ROUTED_ROSTER, smtp_server.port, wecom_webhook_url=wecom_url(wecom_robot))
        service.start(at(date(2026, 1, 1)))
        queued = f"reminder:li-na:{OPENING_DAY}:wecom"
        assert [r.status for r in outbox(service, MessageRow.key == queued)] == ["pending"]
        service.engine.dispose()

        roster = tmp_path / "roster.yaml"
        if what == "person removed":
            roster.write_text("\n".join(line for line in ROUTED_ROSTER.splitlines() if "li-na" not in line) + "\n",
                              encoding="utf-8")
            restarted = robot_service_again(tmp_path, smtp_server.port, wecom_webhook_url=wecom_url(wecom_robot))
        else:
            restarted = robot_service_again(tmp_path, smtp_server.port)  # no WeCom URL any more
        restarted.start(at(OPENING_DAY, back))
        stats = restarted.dispatch(max(at(OPENING_DAY), at(OPENING_DAY, back)))
        rows = {r.key: r for r in outbox(restarted)}
        restarted.engine.dispose()

    assert wecom_robot.requests == []
    assert rows[queued].status == "cancelled"
    mails = {m.key: m for m in received(smtp_server)}
    moved = f"reminder:li-na:{OPENING_DAY}:email"
    if what == "person removed":
        assert moved not in rows and not [k for k in mails if "li-na" in k]
    else:
        # Her WeCom is gone: her reminder comes by email instead, the same duties.
        assert mails[moved].occurrences == {"monthly-report/2026-01"}
        assert rows[moved].status == "sent"
    assert stats.failed == 0


def robot_service_again(tmp_path, smtp_port: int, **robots: str) -> Service:
    """A new process on the same files (the roster as it now is)."""
    return robot_service(tmp_path, (tmp_path / "roster.yaml").read_text(encoding="utf-8"), smtp_port, **robots)


def test_a_robot_that_asks_to_wait_is_retried_no_sooner_and_a_silent_one_is_timed(tmp_path, smtp_server):
    """429 with Retry-After: 600 waits ten minutes, not the minute of the first backoff step;
    a robot that never answers costs the configured timeout, recorded as the try's duration."""
    answers = iter([(429, {"ok": False}, {"Retry-After": "600"}), HANG])
    roster = ROUTED_ROSTER.replace("channels: [wecom]", "channels: [webhook]")
    with Server(lambda request: next(answers, (204, b"", None))) as oa_server:
        service = robot_service(tmp_path, roster, smtp_server.port, webhook_url=f"{oa_server.base}/oa",
                                messaging_timeout="0.5")
        with freeze_time(at(OPENING_DAY)):
            service.start(at(date(2026, 1, 1)))
            service.dispatch(at(OPENING_DAY))
        [asked] = outbox(service, MessageRow.channel == "webhook")
        # On the real clock: a frozen one would measure every try as taking no time at all.
        service.dispatch(asked.next_attempt_at)
        [timed_out] = outbox(service, MessageRow.channel == "webhook")
        with service.sessions() as session:
            tries = list(session.scalars(select(DeliveryRow).where(DeliveryRow.message_id == asked.id)
                                         .order_by(DeliveryRow.id)))
        service.engine.dispose()

    assert asked.next_attempt_at == at(OPENING_DAY) + timedelta(seconds=600)
    assert "429" in asked.last_error
    assert timed_out.status == "pending" and "0.5" in timed_out.last_error
    assert [t.outcome for t in tries] == ["retry", "retry"]
    assert tries[0].duration_ms < 400 <= tries[1].duration_ms < 5000
