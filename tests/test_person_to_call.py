"""A person to call: a duty with several holders names one lead (牵头) and the others (参与);
an escalation names the overdue people with their email and phone; mail comes from the
office with a Reply-To that reaches a person; a due date on an adjusted working Saturday
says 调休上班. Real Service, real Maildir, parsed back with the stdlib.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from datetime import date

import pytest
from freezegun import freeze_time

from daemon.config import load_settings
from daemon.service import Service
from notifiers.maildir import MaildirNotifier
from tests.smallplan import at, run_days

PLAN = """\
plan:
  title: 测试处2026年工作计划
  year: 2026
  office: 测试处
  defaults: {send_at: "09:00", remind: [1d]}
roles:
  secretary: 党组书记
  office: 办公室
obligations:
  - id: monthly-report
    item: 1
    title: 月度工作报告
    source: 每月报送1次工作报告
    every: month
    due: {day: 28}
    if_not_workday: keep
    owner: office
    escalate: {after: 3d, to: secretary}
  - id: led-by-secretary
    item: 1
    title: 专题会议
    source: 每月召开专题会议
    every: month
    due: {day: 28}
    if_not_workday: keep
    owner: office
    lead: 党组书记
"""
ROSTER = """\
people:
  - {id: li-na, name: 李娜, email: lina@example.gov.cn, phone: '13800000002', roles: [office]}
  - {id: wu-hao, name: 吴昊, email: wuhao@example.gov.cn, phone: '13800000010', roles: [office]}
  - {id: wang-qiang, name: 王强, email: wangqiang@example.gov.cn, roles: [office]}
  - {id: zhang-wei, name: 张伟, email: zhangwei@example.gov.cn, roles: [secretary]}
  - {id: xu-li, name: 徐丽, email: xuli@example.gov.cn, roles: [admin]}
"""


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    """February's reports, never done: reminders on the 27th, escalations in March."""
    root = tmp_path_factory.mktemp("office")
    (root / "schedules").mkdir()
    (root / "schedules" / "plan.yaml").write_text(PLAN, encoding="utf-8")
    (root / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    settings = load_settings(schedules=root / "schedules", roster=root / "roster.yaml", digest="off",
                             database_url=f"sqlite:///{root / 'planbell.db'}", go_live="2026-01-01")
    service = Service(settings, {"email": MaildirNotifier(root / "mail", settings.mail_from)}, instance="test")
    with freeze_time(at(date(2026, 2, 20))) as frozen:
        service.start(at(date(2026, 2, 20)))
        run_days(service, frozen, date(2026, 2, 20), date(2026, 3, 6))
    service.engine.dispose()
    box = mailbox.Maildir(root / "mail", create=False)
    out = {}
    for raw in box:
        message = email.message_from_bytes(bytes(raw), policy=email.policy.default)
        out[str(message["X-Planbell-Key"])] = message
    return out


def text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_reminder_of_a_duty_with_several_holders_names_one_lead_and_the_others(mail):
    body = text(mail["reminder:wu-hao:2026-02-27:email"])
    assert "牵头:李娜" in body
    assert "参与:王强" in body
    assert "同办" not in body
    assert "牵头:李娜" in html(mail["reminder:wu-hao:2026-02-27:email"])


def test_a_lead_role_other_than_the_owner_leads_and_is_reminded(mail):
    body = text(mail["reminder:zhang-wei:2026-02-27:email"])
    assert "专题会议" in body and "牵头:张伟" in body


def test_due_date_on_an_adjusted_working_saturday_says_so(mail):
    assert "2026年2月28日 周六(调休上班)" in text(mail["reminder:li-na:2026-02-27:email"])


def test_escalation_names_the_overdue_people_with_email_and_phone(mail):
    (key,) = [k for k in mail if k.startswith("escalation:zhang-wei:")]
    body = text(mail[key])
    assert "联系:李娜(牵头) lina@example.gov.cn 电话 13800000002" in body
    assert "联系:吴昊 wuhao@example.gov.cn 电话 13800000010" in body
    assert "联系:王强 wangqiang@example.gov.cn" in body
    assert 'href="tel:13800000002"' in html(mail[key])


def test_mail_is_from_the_office_with_reply_to_the_first_admin(mail):
    message = mail["reminder:li-na:2026-02-27:email"]
    assert message["From"].addresses[0].display_name == "测试处"
    assert message["Reply-To"].addresses[0].addr_spec == "xuli@example.gov.cn"
