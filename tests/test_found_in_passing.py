"""Found in passing (issue 10): simulate --deliver on PostgreSQL ends cleanly, the .ics
attachment says it is UTF-8, a robot's 20-a-minute limit is counted across instances, and a
simulation tells how far it has got."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from daemon.compose import ICS_CONTENT_TYPE
from daemon.config import load_settings
from daemon.plan.schedule import load_schedule
from daemon.service import Service
from daemon.simulate import simulate
from daemon.store.tables import DeliveryRow, MessageRow
from notifiers.base import Notifier
from notifiers.maildir import MaildirNotifier
from notifiers.mime import with_wire
from tests import orgplan
from tests.clirun import run_cli

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class Robot(Notifier):
    """A group robot that allows three messages a minute (the real ones: about 20)."""

    channel = "wecom"
    rate_per_minute = 3

    def send(self, message) -> None:  # pragma: no cover - the test never gets this far
        raise AssertionError("rate-limited: must not send")


class FourAMinute(Robot):
    rate_per_minute = 4


def service(tmp_path, database_url: str, instance: str) -> Service:
    schedules, roster = orgplan.write(tmp_path)
    settings = load_settings(schedules=schedules, roster=roster, database_url=database_url, digest="off",
                             http_port=0, go_live=date(2026, 3, 1))
    svc = Service(settings, {"email": MaildirNotifier(tmp_path / "mail", "p <p@example.gov.cn>"), "wecom": Robot()},
                  instance=instance)
    svc.watch.load()
    return svc


def test_a_robots_rate_counts_what_other_instances_sent_to_it(tmp_path):
    svc = service(tmp_path, f"sqlite:///{tmp_path / 'planbell.db'}", "here")
    sent = [NOW - timedelta(seconds=s) for s in (50, 30, 10)]  # three in the last minute, elsewhere
    # (the second by a release that recorded no instance); and three that do not count: one a
    # minute old exactly, one by email, one by this instance (which counts its own in memory).
    others = [("wecom", sent[0], "there"), ("wecom", sent[1], None), ("wecom", sent[2], "there"),
              ("wecom", NOW - timedelta(minutes=1), "there"), ("email", NOW - timedelta(seconds=5), "there"),
              ("wecom", NOW - timedelta(seconds=5), "here")]
    with svc.sessions.begin() as session:
        for i, (channel, at, instance) in enumerate(others):
            message_id = session.execute(insert(MessageRow).values(
                key=f"reminder:m1a:{i}:{channel}", kind="reminder", channel=channel, person="m1a", send_at=at,
                content={"items": []}, status="sent", attempts=1, next_attempt_at=at, late=False, created_at=at,
            )).inserted_primary_key[0]
            session.execute(insert(DeliveryRow).values(message_id=message_id, started_at=at, duration_ms=5,
                                                       outcome="ok", instance=instance))
    # A robot that takes four a minute may take one now: the three count, the others do not.
    assert svc.dispatcher._rate_limited("wecom", FourAMinute(), NOW) is None
    svc.dispatcher.recent.clear()  # (that check counted itself as this instance's send)
    # The robot's fourth message of the minute waits until the first of the three is a minute old.
    assert svc.dispatcher._rate_limited("wecom", Robot(), NOW) == sent[0] + timedelta(minutes=1)
    # A minute later the robot may take one again.
    assert svc.dispatcher._rate_limited("wecom", Robot(), NOW + timedelta(seconds=11)) is None
    # And so the dispatcher does: this instance's first message to the robot waits its turn.
    svc.dispatcher.recent.clear()  # (the checks above counted themselves as this instance's sends)
    with svc.sessions.begin() as session:
        session.execute(insert(MessageRow).values(
            key="reminder:m1a:2026-03-02:wecom", kind="reminder", channel="wecom", person="m1a", send_at=NOW,
            content={"items": []}, status="pending", attempts=0, next_attempt_at=NOW, late=False, created_at=NOW))
    stats = svc.dispatcher.run_once(NOW)
    with svc.sessions() as session:
        row = session.scalars(select(MessageRow).where(MessageRow.key == "reminder:m1a:2026-03-02:wecom")).one()
    assert (stats.deferred, stats.sent, stats.failed) == (1, 0, 0)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, sent[0] + timedelta(minutes=1))
    svc.engine.dispose()


class OtherRobot(Robot):
    channel = "dingtalk"


def test_each_robot_has_its_own_rate(tmp_path):
    """Three messages to the WeCom robot in a minute fill its rate, not DingTalk's."""
    svc = service(tmp_path, f"sqlite:///{tmp_path / 'planbell.db'}", "here")
    seconds = [NOW + timedelta(seconds=s) for s in (0, 1, 2)]
    assert [svc.dispatcher._rate_limited("wecom", Robot(), at) for at in seconds] == [None, None, None]
    assert svc.dispatcher._rate_limited("dingtalk", OtherRobot(), seconds[-1]) is None
    assert svc.dispatcher._rate_limited("wecom", Robot(), seconds[-1]) == NOW + timedelta(minutes=1)
    svc.engine.dispose()


def test_simulate_deliver_on_postgresql_ends_cleanly(tmp_path, postgres_url):
    schedules, roster = orgplan.write(tmp_path)
    result = run_cli("simulate", "--from", "2026-03-02", "--to", "2026-03-03", "--deliver", schedules=schedules,
                     roster=roster, database_url=postgres_url, maildir=str(tmp_path / "mail"), digest="off")
    assert result.code == 0, result.err
    assert "Traceback" not in result.err and "UnboundLocalError" not in result.err
    assert "已按配置真实发送" in result.out


def test_a_simulation_reports_each_day_it_reaches_up_to_the_last(tmp_path):
    svc = service(tmp_path, f"sqlite:///{tmp_path / 'planbell.db'}", "sim")
    days: list[date] = []
    simulate(svc, date(2026, 3, 2), date(2026, 3, 8), "Asia/Shanghai", go_live=True, on_day=days.append)
    svc.engine.dispose()
    assert days == sorted(days) and days[0] >= date(2026, 3, 2) and days[-1] == date(2026, 3, 8)
    assert len(set(days)) >= 2  # it moved on as the clock did, not only at the end


def test_the_calendar_attachment_says_it_is_utf8(tmp_path):
    from notifiers.base import Attachment, Outgoing

    message = Outgoing(key="k", kind="reminder", to_address="a@example.gov.cn", to_name="甲", subject="主题",
                       occurrence_ids=(), date=NOW, text="正文", html="<p>正文</p>",
                       attachments=(Attachment("planbell.ics", ICS_CONTENT_TYPE, "SUMMARY:谈话".encode()),))
    wire = with_wire(message, "p <p@example.gov.cn>", "\n").wire
    mail = email.message_from_bytes(wire, policy=email.policy.default)
    (part,) = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_content_charset() == "utf-8" and part.get_param("method") == "PUBLISH"


def test_the_guide_says_what_the_program_does(tmp_path):
    guide = (Path(__file__).resolve().parents[1] / "docs" / "schedule-guide.zh.md").read_text(encoding="utf-8")
    # Chinese cadence words are read (每月 is month) ...
    plan = orgplan.PLAN.replace("    every: month\n    due: {day: 20}\n", "    every: 每月\n    due: {day: 20}\n")
    schedules, roster = orgplan.write(tmp_path, plan)
    assert load_schedule(schedules, roster).plans[0].obligation("branch-meeting").every.value == "month"
    assert "当前版本会拒绝它们" not in guide and "`every` 也接受中文写法" in guide
    # ... recording progress checks its report off, and a retired duty's overdue history stays.
    assert "填报进度不会自动销号" not in guide and "填报进度就是报送" in guide
    assert "它们会从“已逾期”变成“已取消”" not in guide and "保留为“已逾期”" in guide
