"""What a message says: a duty listed once in its opening notice, a subject that reads as it was
written even when it looks like an RFC 2047 encoded word, and `escalate: {after: 0d}`.

The real Service against a real SMTP server on 127.0.0.1 (the small plan of tests/smallplan.py
and a duty or two more); what arrives is read back with the stdlib parser.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from notifiers.base import Outgoing
from notifiers.mime import build_email, to_bytes
from tests.smallplan import PLAN_YAML, at, make_service, next_workday, received, write_plan
from tests.test_daemon_year import items_of

# Every Monday's inspection is due that Monday: it opens and is due on the same day.
WEEKLY = """
  - id: weekly-check
    item: 3
    title: 每周安全巡查
    source: 每周一开展安全巡查
    every: week
    due: {weekday: mon}
    owner: office
"""
MONDAY = date(2026, 3, 9)


def day_of(plan_yaml: str, tmp_path, smtp_server, day: date, start: date = date(2026, 3, 1)):
    """The messages the plan sends at 09:00 on ``day``."""
    files = write_plan(tmp_path, plan_yaml)
    service = make_service(files, smtp_server.port)
    with freeze_time(at(day)):
        service.start(at(start))
        service.dispatch(at(day))
    service.engine.dispose()
    return [m for m in received(smtp_server) if m.day == day]


def test_a_duty_that_opens_on_its_due_day_is_listed_once_in_its_opening_notice(tmp_path, smtp_server):
    [notice] = [m for m in day_of(PLAN_YAML + WEEKLY, tmp_path, smtp_server, MONDAY) if m.person == "li-na"]
    assert notice.occurrences == {"weekly-check/2026-W11"}
    assert "等 2 项" not in notice.text, notice.text
    assert [o for o, _ in items_of(notice.text)].count("weekly-check/2026-W11") == 1
    # Said once, with both facts: it starts, and it is due today.
    assert "新开始,今天到期" in notice.text
    assert notice.subject == "【planbell】新开始,今天到期:每周安全巡查"


@pytest.mark.parametrize("day, person, occurrences, opening", [
    # 陈静's two half-year talks open together, their lead times inside the window.
    (date(2026, 1, 4), "chen-jing", {"heart-talks/2026-H1/li-na", "heart-talks/2026-H1/zhang-wei"}, 2),
    # The once duty opens a week before its due date: its 7-day reminder falls on the opening
    # day, and the opening notice says it (with September's report, due tomorrow).
    (date(2026, 9, 23), "li-na", {"national-day-review/2026-10-01", "monthly-report/2026-09"}, 1),
])
def test_each_duty_is_listed_once_in_its_opening_notice(tmp_path, smtp_server, day, person, occurrences, opening):
    [notice] = [m for m in day_of(PLAN_YAML, tmp_path, smtp_server, day, day) if m.person == person]
    assert notice.occurrences == occurrences
    for occurrence in occurrences:
        assert [o for o, _ in items_of(notice.text)].count(occurrence) == 1, notice.text
    assert notice.text.count("新开始") == opening


# --- a subject that looks encoded -----------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
# "=?utf-8?b?5rWL6K+V?=" is the encoded word for "测试": sent raw, a reader would see 测试.
LOOKS_ENCODED = ["=?utf-8?b?5rWL6K+V?=", "Review =?UTF-8?Q?=E6=B5=8B?= plan", "a=?b", "?= =?"]


@pytest.mark.parametrize("subject", LOOKS_ENCODED)
def test_an_ascii_subject_that_looks_like_an_encoded_word_reads_as_written(subject):
    message = Outgoing(key="k", kind="reminder", to_address="lina@example.gov.cn", to_name=subject,
                       subject=subject, text="正文", date=datetime(2026, 3, 9, 9, tzinfo=SHANGHAI))
    raw = to_bytes(build_email(message, "planbell <planbell@example.gov.cn>"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == subject
    assert parsed["To"].addresses[0].display_name == subject
    assert raw.isascii()


# --- escalate: {after: 0d} ------------------------------------------------------------------


def test_escalate_after_0d_tells_the_escalation_role_on_the_first_overdue_day_not_the_due_day(
        tmp_path, smtp_server):
    """0d means no grace: the secretary hears the first working day the duty is overdue, with
    its first overdue reminder, never on its due day (it is not late yet)."""
    plan = PLAN_YAML.replace("escalate: {after: 3d, to: secretary}", "escalate: {after: 0d, to: secretary}")
    files = write_plan(tmp_path, plan)
    service = make_service(files, smtp_server.port)
    # March's report is due Wednesday the 25th; April's Friday the 24th, so its first overdue
    # day is Monday the 27th.
    days = [date(2026, 3, 25), date(2026, 3, 26), date(2026, 4, 24), date(2026, 4, 27)]
    with freeze_time(at(days[0])) as frozen:
        service.start(at(date(2026, 3, 1)))
        for day in days:
            frozen.move_to(at(day))
            service.dispatch(at(day))
    service.engine.dispose()
    escalations = {m.day: m for m in received(smtp_server) if m.kind == "escalation"}
    assert sorted(escalations) == [date(2026, 3, 26), date(2026, 4, 27)]
    assert next_workday(date(2026, 4, 25)) == date(2026, 4, 27)
    march = escalations[date(2026, 3, 26)]
    assert march.person == "zhang-wei" and march.occurrences == {"monthly-report/2026-03"}
    assert "已逾期 1 天" in march.text


def test_a_zero_day_lead_time_adds_nothing_to_the_due_day_message(tmp_path, smtp_server):
    """`remind: [7d, 0d]`: the due-day reminder already says "today"; the duty is listed once."""
    plan = PLAN_YAML.replace("    remind: [7d]\n", "    remind: [7d, 0d]\n", 1)
    [message] = [m for m in day_of(plan, tmp_path, smtp_server, date(2026, 3, 20), date(2026, 3, 19))
                 if m.person == "zhang-wei"]
    assert message.occurrences == {"quarterly-meeting/2026-Q1"}
    assert [o for o, _ in items_of(message.text)].count("quarterly-meeting/2026-Q1") == 1, message.text
    assert "今天到期" in message.text
