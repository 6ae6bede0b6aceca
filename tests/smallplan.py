"""A small 2026 plan and roster for the daemon tests, the 2026 working-day calendar written
out by hand, and helpers to run the real Service against a real SMTP server.

The plan has one duty of each shape: monthly with lead times and escalation, quarterly,
once (on a public holiday), and for_each (one occurrence per member, bundled).
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon import ledger
from daemon.config import Settings, load_settings
from daemon.service import Service
from notifiers.email import SmtpNotifier

SHANGHAI = ZoneInfo("Asia/Shanghai")
SEND_AT = time(9, 0)  # the plan's send_at, local
AFTERNOON = time(15, 0)  # check-offs and edits happen after the day's reminders went out
MAIL_FROM = "planbell <planbell@example.gov.cn>"
# How the tests' SmtpNotifier talks to the loopback server (host and port aside).
LOCAL_SMTP = dict(security="none", timeout=5, mail_from=MAIL_FROM, local_hostname="test")

PLAN_YAML = """\
plan:
  title: 测试处2026年工作计划
  year: 2026
  timezone: Asia/Shanghai
  calendar: {country: CN}
  defaults:
    send_at: "09:00"
    remind: [7d, 1d]
    escalate: false
  items:
    1: 按月报送
    2: 季度会议
    3: 专项任务
    4: 谈心谈话

roles:
  secretary: 党组书记
  office: 办公室
  branch-secretary: 支部书记
  members: 全体党员

obligations:
  - id: monthly-report
    item: 1
    title: 月度工作报告
    source: 每月报送1次工作报告
    every: month
    due: {day: 25}
    owner: office
    remind: [7d, 1d]
    escalate: {after: 3d, to: secretary}

  - id: quarterly-meeting
    item: 2
    title: 季度党建工作会议
    source: 每季度召开1次党建工作会议
    every: quarter
    due: {month: 3, day: 20}
    owner: secretary
    remind: [7d]

  - id: national-day-review
    item: 3
    title: 国庆前安全检查
    source: 国庆节前完成1次安全检查
    every: once
    due: 2026-10-01
    owner: office

  - id: heart-talks
    item: 4
    title: 谈心谈话
    source: 支部书记与党员每半年谈话1次
    every: half-year
    owner: branch-secretary
    for_each: members
"""

ROSTER_YAML = """\
people:
  - {id: zhang-wei, name: 张伟, email: zhangwei@example.gov.cn, roles: [secretary, members]}
  - {id: li-na, name: 李娜, email: lina@example.gov.cn, roles: [office, members]}
  - {id: chen-jing, name: 陈静, email: chenjing@example.gov.cn, roles: [branch-secretary, members]}
  - {id: xu-li, name: 徐丽, email: xuli@example.gov.cn, roles: [admin]}
"""

EMAILS = {
    "zhang-wei": "zhangwei@example.gov.cn",
    "li-na": "lina@example.gov.cn",
    "chen-jing": "chenjing@example.gov.cn",
    "xu-li": "xuli@example.gov.cn",
}

# The State Council's 2026 holiday arrangement (国办发明电〔2025〕号 通知), written out by hand
# so the tests check the calendar instead of trusting it: weekdays off, and the weekend days
# that are working days (调休).
WEEKDAYS_OFF_2026 = frozenset(
    [date(2026, 1, 1), date(2026, 1, 2)]
    + [date(2026, 2, d) for d in (16, 17, 18, 19, 20, 23)]
    + [date(2026, 4, 6)]
    + [date(2026, 5, d) for d in (1, 4, 5)]
    + [date(2026, 6, 19)]
    + [date(2026, 9, 25)]
    + [date(2026, 10, d) for d in (1, 2, 5, 6, 7)]
)
WORKING_WEEKENDS_2026 = frozenset(
    [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
     date(2026, 9, 20), date(2026, 10, 10)]
)


def is_workday(day: date) -> bool:
    assert day.year == 2026, day
    return day in WORKING_WEEKENDS_2026 or (day.weekday() < 5 and day not in WEEKDAYS_OFF_2026)


def next_workday(day: date) -> date:
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def previous_workday(day: date) -> date:
    while not is_workday(day):
        day -= timedelta(days=1)
    return day


def at(day: date, clock: time = SEND_AT) -> datetime:
    """``day`` at ``clock`` in Shanghai, as aware UTC (what the service is handed)."""
    return datetime.combine(day, clock, SHANGHAI).astimezone(UTC)


def days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@dataclass
class PlanFiles:
    schedules: Path  # the folder
    plan: Path
    roster: Path
    database: Path


def write_plan(directory: Path, plan_yaml: str = PLAN_YAML) -> PlanFiles:
    schedules = directory / "schedules"
    schedules.mkdir(parents=True, exist_ok=True)
    plan = schedules / "plan-2026.yaml"
    plan.write_text(plan_yaml, encoding="utf-8")
    roster = directory / "roster.yaml"
    roster.write_text(ROSTER_YAML, encoding="utf-8")
    return PlanFiles(schedules, plan, roster, directory / "planbell.db")


def settings_for(files: PlanFiles, smtp_port: int, **overrides) -> Settings:
    return load_settings(
        schedules=files.schedules, roster=files.roster,
        database_url=overrides.pop("database_url", f"sqlite:///{files.database}"),
        digest="off",  # digests have their own tests; here every message is a reminder
        smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none",
        mail_from=MAIL_FROM, maildir=files.schedules.parent / "maildir",
        **overrides,
    )


def make_service(files: PlanFiles, smtp_port: int, **overrides) -> Service:
    """The real Service with the real SMTP notifier, pointed at the test's SMTP server."""
    settings = settings_for(files, smtp_port, **overrides)
    notifier = SmtpNotifier("127.0.0.1", smtp_port, **LOCAL_SMTP)
    return Service(settings, {"email": notifier}, instance="test")


@dataclass(frozen=True)
class Mail:
    """One received message, read back with the stdlib parser."""

    key: str
    kind: str
    person: str
    day: date | None  # the day in the key (None for admin alerts)
    occurrences: frozenset[str]
    sent: datetime  # the Date header, in Shanghai
    to: str
    subject: str
    text: str

    @classmethod
    def parse(cls, raw: bytes) -> Mail:
        msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)
        key = str(msg["X-Planbell-Key"])
        parts = key.split(":")
        # reminder:<person>:<day>:<channel>; admin:<topic>:<discriminator>:<person>:<channel>
        person, day = (parts[-2], None) if parts[0] == "admin" else (parts[1], parts[2])
        occurrences = str(msg["X-Planbell-Occurrences"] or "")
        body = msg.get_body(preferencelist=("plain",))
        return cls(
            key=key, kind=str(msg["X-Planbell-Kind"]), person=person,
            day=date.fromisoformat(day) if day else None,
            occurrences=frozenset(o for o in occurrences.split(", ") if o),
            sent=parsedate_to_datetime(str(msg["Date"])).astimezone(SHANGHAI),
            to=msg["To"].addresses[0].addr_spec, subject=str(msg["Subject"]),
            text=body.get_content() if body else "",
        )


def received(server) -> list[Mail]:
    return [Mail.parse(r.raw) for r in server.received]


def run_days(service: Service, frozen, first: date, last: date,
             check_offs: dict[str, date] | None = None) -> Counter:
    """The daemon's days: the 00:05 re-plan, the 09:00 dispatch, check-offs in the afternoon
    (``frozen``: freezegun's frozen clock, moved along, or None)."""

    def move(instant: datetime) -> datetime:
        if frozen is not None:
            frozen.move_to(instant)
        return instant

    totals: Counter = Counter()
    for day in days(first, last):
        service.refresh(move(at(day, time(0, 5))))
        stats = service.dispatch(move(at(day)))
        totals.update(sent=stats.sent, failed=stats.failed, retried=stats.retried,
                      skipped=stats.skipped, expired=stats.expired, late=stats.late)
        done_today = [o for o, d in (check_offs or {}).items() if d == day]
        if done_today:
            later = move(at(day, AFTERNOON))
            with service.sessions.begin() as session:
                for occurrence_id in done_today:
                    row = ledger.occurrence(session, occurrence_id)
                    assert ledger.check_off(session, row, later, "cli:test", row.assignees[0], None, None)
            service.refresh(later)  # as `planbell done` does
    return totals


def stop(service: Service) -> None:
    """What a stopped process leaves behind: the database file, nothing in memory."""
    service.engine.dispose()
