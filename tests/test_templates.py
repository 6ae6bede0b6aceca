"""The email templates rendered from real objects: the 2026 plan and the example roster, a
SQLite ledger kept up to date until late March except for three March duties, and outbox rows
composed by the real Composer at their own send time.

The plan and the roster are edited on the way in so that the titles of the plan, of a plan
item, of a duty and of a target carry ``<script>alert(1)</script>`` and 张伟's name carries quotes:
every HTML part must escape them, every text part and subject must keep them as they are.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import daemon.compose as compose_module
from daemon.admin import alert_admins
from daemon.compose import Composer, NothingToSay
from daemon.digest import DigestSettings
from daemon.ledger import check_off
from daemon.links import Links
from daemon.outbox import enqueue
from daemon.pipeline import refresh
from daemon.plan.schedule import Schedule, load_schedule
from daemon.progress import TargetPace, record_progress
from daemon.render import cn_date
from daemon.store.db import make_engine, sessions, upgrade
from daemon.store.tables import DeliveryRow, MessageRow, OccurrenceRow
from notifiers.base import Outgoing

REPO = Path(__file__).resolve().parent.parent
HOSTILE = "<script>alert(1)</script>"
QUOTED_NAME = "\"老张\" O'Zhang"  # 张伟, as a careless roster might spell him
DIGESTS = DigestSettings("weekly", time(8, 30))
LINKS = Links(b"template-test-secret-0123456789abcdef", "https://pb.example.gov.cn")


def link(reader: str, o, purpose: str = "done") -> str:
    """The button a reader's message carries for ``o`` (what the workbench will verify)."""
    return LINKS.action_url(reader, o.id, purpose, o.due)

# The office checked off everything due before 25 March, and of what was due that day all but
# these three: they become the overdue reminders, the escalation and the digests' 已逾期.
LATE = ("first-topic-study/2026-03", "mass-org-coordination/2026-03", "branch-secretary-talks/2026-03/li-na")
PROGRESS = {"manuscripts-reviewed": 130, "shanxi-special-topics": 1, "youth-talent-pool": 6,
            "training-coverage": 60, "grassroots-research-days": 1, "culture-sports-activities": 3}

# The messages the tests and the screenshots look at (outbox keys made by the real planner).
OPENING = "reminder:li-na:2026-03-02:email"  # the March duties open
REMINDER = "reminder:li-na:2026-03-18:email"  # a week before they are due
OVERDUE = "reminder:li-na:2026-03-26:email"  # the day after
ESCALATION = "escalation:zhang-wei:2026-03-30:email"  # three days late: the 党组书记 hears
DIGEST = "digest:personal:wu-hao:2026-W14:email"
OVERVIEW = "digest:overview:xu-li:2026-W14:email"


@dataclass
class Office:
    schedule: Schedule
    sessions: sessionmaker[Session]

    def compose(self, key: str, late: bool = False, digests: DigestSettings = DIGESTS) -> Outgoing:
        """The message with outbox key ``key`` as it would go out at its send time."""
        with self.sessions() as session:
            row = session.scalar(select(MessageRow).where(MessageRow.key == key))
            assert row is not None, key
            now = row.send_at + timedelta(hours=30) if late else row.send_at
            with freeze_time(now):
                return Composer(self.schedule, digests, LINKS).compose(session, row, now, late)

    def alert(self, topic: str, context: dict) -> Outgoing:
        """An admin alert raised now and composed for the first admin."""
        now = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)
        with self.sessions.begin() as session:
            alert_admins(session, self.schedule.roster, topic, topic, now, context)
        return self.compose(f"admin:{topic}:{topic}:xu-li:email")


def build_office(root: Path, hostile: bool = False, renames: tuple[tuple[str, str], ...] = ()) -> Office:
    """The committed schedule in ``root``, its ledger in ``root``/planbell.db, kept as LATE says;
    ``renames``: (before, after) names of people in the roster."""
    schedules = root / "schedules"
    shutil.copytree(REPO / "schedules", schedules)
    roster = schedules / "roster.example.yaml"
    for before, after in renames:
        text = roster.read_text(encoding="utf-8")
        assert f"name: {before}\n" in text, before
        roster.write_text(text.replace(f"name: {before}\n", f"name: {after}\n", 1), encoding="utf-8")
    if hostile:
        plan = schedules / "plan-2026.yaml"
        text = plan.read_text(encoding="utf-8")
        for before, after in [
            ("title: 2026年市委政研室机关党建工作要点", f"title: 2026年工作要点{HOSTILE}"),
            ("8: 强化党建与群团工作融合", f"8: 党群融合{HOSTILE}"),
            ("title: 党建群团工作联动小组协调会议", f"title: 联动小组协调会议{HOSTILE}"),
            ("title: “健康政研·活力机关”系列活动", f"title: 文体活动{HOSTILE}"),
            # A March duty due on the 31st, so the opening notice of 2 March has two dates (the
            # bundled 日常考核 that was one is due after its month now).
            ("    due: {after: 5wd, before: annual-assessment}\n", "    due: {workday: -1}\n"),
            # A report due this week that everyone owes (the bundled ones are each cadre's own
            # now), so the digest shows a long list of people cut short.
            ("    at_least: 8\n    unit: 次\n    owner: mass-org-group\n", "    at_least: 8\n    unit: 次\n    owner: staff\n"),
        ]:
            assert before in text, before
            text = text.replace(before, after, 1)
        plan.write_text(text, encoding="utf-8")
        roster = schedules / "roster.example.yaml"
        yaml_name = "'" + QUOTED_NAME.replace("'", "''") + "'"
        roster.write_text(roster.read_text(encoding="utf-8").replace("name: 张伟", f"name: {yaml_name}", 1),
                          encoding="utf-8")
    schedule = load_schedule(schedules, schedules / "roster.example.yaml")
    engine = make_engine(f"sqlite:///{root / 'planbell.db'}")
    upgrade(engine)
    made = sessions(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with made.begin() as session:
        refresh(session, schedule, start, DIGESTS)
    kept = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)
    with made.begin() as session:
        rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.due <= date(2026, 3, 25)))
        for row in rows:
            if row.id not in LATE:
                check_off(session, row, kept, "test", row.assignees[0] if row.assignees else None, None, None)
        plan = schedule.plans[0]
        for target in plan.targets:
            if target.id in PROGRESS:
                # a per-person figure (每月调研天数) is the first holder's own
                whose = "wu-hao" if target.per else None  # the reader of the digest under test
                record_progress(session, target, plan.year, "=", PROGRESS[target.id], None, kept, "test",
                                whose, kept.date())
        # A message that failed in the week before the overview, as the dispatcher leaves it.
        failed_at = datetime(2026, 3, 26, 1, 0, tzinfo=UTC)
        enqueue(session, key="reminder:wu-hao:2026-03-26:wecom", kind="reminder", person="wu-hao",
                channel="wecom", send_at=failed_at, content={"items": []}, now=failed_at)
        failed = session.scalar(select(MessageRow).where(MessageRow.key == "reminder:wu-hao:2026-03-26:wecom"))
        failed.status, failed.attempts = "failed", 8
        failed.last_error = "企业微信机器人回复 errcode 93000:webhook 地址无效或已被删除"
        session.add(DeliveryRow(message_id=failed.id, started_at=failed_at, duration_ms=120,
                                outcome="failed", error=failed.last_error))
    return Office(schedule, made)


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Office:
    return build_office(tmp_path_factory.mktemp("office"), hostile=True)


def occurrence(office: Office, occurrence_id: str) -> OccurrenceRow:
    with office.sessions() as session:
        return session.get(OccurrenceRow, occurrence_id)


def visible(html: str) -> str:
    """The words of an HTML part, tags dropped and entities left as they are."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unbroken(html)))


def unbroken(html: str) -> str:
    """The HTML without the line-break hints (<wbr>) put after each slash of a command."""
    return html.replace("<wbr>", "")


# --- reminders and escalations ------------------------------------------------------------


def test_reminder_opens_with_what_to_do_and_by_when(office):
    mail = office.compose(REMINDER)

    opening = "李娜,请在 2026年3月25日 周三 前完成「室党组“第一议题”专题学习」等 2 项工作(还有 7 天)。"
    assert mail.text.splitlines()[0] == opening
    assert visible(mail.html).count(opening) == 1
    assert mail.subject == "【planbell】还有 7 天到期:室党组“第一议题”专题学习 等 2 项"


def test_opening_notice_with_different_due_dates_names_the_first_and_points_to_the_rest(office):
    mail = office.compose(OPENING)

    assert mail.subject == "【planbell】3月25日前完成:室党组“第一议题”专题学习 等 3 项"
    assert mail.text.splitlines()[0] == ("李娜,请在 2026年3月25日 周三 前完成「室党组“第一议题”专题学习」"
                                         "(还有 23 天);另有 2 项工作,截止日期见下。")
    assert mail.text.count("【新开始】") == 3 and "截止 2026年3月31日 周二" in mail.text
    assert [a.filename for a in mail.attachments] == ["planbell.ics"]


def test_reminder_shows_each_duty_with_its_sentence_date_people_and_check_off_links(office):
    mail = office.compose(REMINDER)

    for duty_id in ("first-topic-study/2026-03", "mass-org-coordination/2026-03"):
        o = occurrence(office, duty_id)
        for part in (mail.text, unbroken(mail.html)):
            assert o.source in part
            assert link("li-na", o) in part and link("li-na", o, "explain") in part
            assert "planbell done" not in part  # people have no shell
            assert part.count("截止 2026年3月25日 周三") == 2
            assert part.count("还有 7 天到期") == 2
        assert f"已完成,去销号:{link('li-na', o)}" in mail.text
        assert f'<a href="{link("li-na", o)}"' in mail.html
    assert mail.html.count(">已完成,去销号</a>") == 2
    assert "https://pb.example.gov.cn/me?t=" in mail.text and "https://pb.example.gov.cn/me?t=" in mail.html
    # Who leads it (the owner's first holder, the reader herself for the 联动小组) and who else
    # is on it: the other members of the 室党组 and of the 联动小组, not the reader.
    assert f"责任:室党组;牵头:{QUOTED_NAME};参与:刘洋、王强" in mail.text
    assert "责任:党建群团工作联动小组;牵头:李娜;参与:陈静、吴昊" in mail.text
    assert f"要点:第 8 条「党群融合{HOSTILE}」,周期 2026-03" in mail.text
    assert "工作要点第 8 条「党群融合&lt;script&gt;alert(1)&lt;/script&gt;」</div>" in mail.html


def test_a_namesake_of_the_reader_is_still_listed_among_the_others_on_a_duty(tmp_path):
    # 刘洋 renamed 李娜: two people called 李娜 share the 室党组's study; the reader is one.
    mail = build_office(tmp_path, renames=(("刘洋", "李娜"),)).compose(REMINDER)
    assert mail.text.startswith("李娜,")
    assert "责任:室党组;牵头:张伟;参与:李娜、王强" in mail.text
    assert "参与:李娜、王强" in visible(mail.html)


def test_overdue_reminder_says_how_many_days_late_in_red(office):
    mail = office.compose(OVERDUE)

    assert mail.subject == "【planbell】已逾期 1 天:室党组“第一议题”专题学习 等 2 项"
    assert mail.text.splitlines()[0] == ("李娜,请尽快完成「室党组“第一议题”专题学习」等 2 项工作,"
                                         "已逾期 1 天(截止 2026年3月25日 周三)。")
    assert mail.text.count("【已逾期 1 天】截止 2026年3月25日 周三") == 2
    assert len(re.findall(r"background:#c62828;[^>]*>已逾期 1 天</span>", mail.html)) == 2
    assert "border-top:5px solid #c62828" in mail.html


def test_escalation_names_the_days_late_and_who_is_to_do_it(office):
    mail = office.compose(ESCALATION)

    assert mail.subject == "【planbell】逾期 5 天待督办:支部书记与党员廉政谈话(李娜) 等 3 项"
    assert mail.text.splitlines()[0] == (
        f"{QUOTED_NAME},请督促责任人尽快完成「支部书记与党员廉政谈话(李娜)」等 3 项工作:"
        "已逾期 5 天(截止 2026年3月25日 周三),仍未销号。")
    for duty_id in LATE:
        o = occurrence(office, duty_id)
        assert (date(2026, 3, 30) - o.due).days == 5
        for part in (mail.text, unbroken(mail.html)):
            assert o.source in part and link("zhang-wei", o) in part
    for part in (mail.text, unbroken(mail.html)):
        assert part.count("已逾期 5 天") == 4 and part.count(cn_date(date(2026, 3, 25))) == 4
    assert "责任:机关第一党支部 支部书记;承办人:陈静" in mail.text  # whose branch the talk is
    assert "联系:陈静(牵头) chenjing@example.gov.cn 电话 13800000005" in mail.text
    assert "(对象:李娜)" in mail.text
    assert f"责任:室党组;承办人:{QUOTED_NAME}、李娜、刘洋、王强" in mail.text


def test_a_late_message_says_so_in_subject_text_and_html(office):
    mail = office.compose(REMINDER, late=True)

    assert mail.subject.startswith("【planbell】(迟发)还有 6 天到期:")
    note = "这封提醒本应在 2026-03-18 09:00 发出,因系统停机迟发,请留意日期。"
    assert note in mail.text and note in mail.html


# --- digests ----------------------------------------------------------------------------


def test_digest_lists_overdue_this_week_upcoming_and_targets(office):
    mail = office.compose(DIGEST)

    assert mail.subject == "【planbell】逾期 1 项,本周到期 2 项,即将开始 2 项(第 14 周周报)"
    assert mail.text.splitlines()[0] == "吴昊,您有 1 项工作已逾期,请尽快完成;本周还有 2 项到期。"
    for heading in ("【已逾期】1 项", "【本周到期】2 项", "【即将开始】2 项", "【指标进度】"):
        assert heading in mail.text
    for heading in ("已逾期 · 1 项", "本周到期 · 2 项", "即将开始 · 2 项", "指标进度"):
        assert heading in visible(mail.html)
    late = occurrence(office, "mass-org-coordination/2026-03")
    report = occurrence(office, "grassroots-research-days/2026-03/wu-hao")  # each cadre reports their own
    for part in (mail.text, unbroken(mail.html)):
        assert "已逾期 5 天" in part and "截止 2026年3月25日 周三" in part
        assert "还有 1 天到期" in part and "截止 2026年3月31日 周二" in part
        # 青年座谈会 of Q2, in the quarter's first month since the plan spreads its quarterly duties
        assert "4月1日 周三开始" in part and "截止 2026年4月20日 周一" in part
        assert late.source in part and link("wu-hao", late) in part
        assert report.source in part and link("wu-hao", report, "progress") in part
        assert "等 10 人" in part
    assert f"牵头:{QUOTED_NAME};参与:李娜、刘洋、王强、陈静、杨帆、赵敏 等 10 人" in mail.text


def test_digest_draws_each_target_against_the_years_pace(office):
    mail = office.compose(DIGEST)

    # 3 of 8 activities on 30 March, when a steady pace would be at 8 × 88/365 ≈ 1.9.
    assert f"文体活动{HOSTILE}\n   ████░░░░░░ 3/8次(38%)\n   按全年进度今天应达 1.9次,进度正常" in mail.text
    # 1 of 5 days in March, the reader's own figure: a person's monthly quota is paced through
    # the month (5 × 29/31 ≈ 4.7 on 30 March), never through the year (1.2).
    assert "██░░░░░░░░ 1/5天(20%)\n   按本月进度今天应达 4.7天,⚠ 落后 3.7天" in mail.text
    assert "应达 1.2天" not in mail.text
    # The HTML bar: a cell as wide as the share done, and under it the year's pace.
    assert '<td width="38%" height="14" bgcolor="#2e7d32"' in mail.html
    assert mail.html.count('<td width="24%" height="4" bgcolor="#7b8794"') == 3
    assert mail.html.count("落后于进度") == 1 and "灰线:按本月进度今天应达 4.7天" in mail.html


@pytest.mark.parametrize("total,expected,behind", [
    (0, 0.03, False),  # 4 January: nothing done, nothing really due yet
    (1, 1.2, False),  # a fraction of a unit short is not "behind"
    (100, 108, False),  # within a tenth of the pace
    (100, 125, True),
    (0, 1.0, True),
])
def test_a_target_is_behind_only_when_clearly_short_of_the_pace(total, expected, behind):
    pace = TargetPace(title="t", unit="篇", comparator="不少于", value=500, total=total,
                      expected=expected, entries=1)
    assert pace.behind is behind


def test_overview_is_html_with_item_rows_targets_and_failed_messages(office):
    mail = office.compose(OVERVIEW)

    assert mail.subject == "【planbell】全室逾期 3 项,发送失败 1 条(第 14 周概况)"
    assert "<pre" not in mail.html
    assert mail.text.splitlines()[0] == "徐丽,全室有 3 项工作逾期未销号,请督促办理;另有 1 条消息发送失败,请检查。"
    assert f"8. 党群融合{HOSTILE} ⚠\n   完成 " in mail.text
    assert "8. 党群融合&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    error = "企业微信机器人回复 errcode 93000"
    assert error in mail.text and error in mail.html
    assert "███░░░░░░░ 130/500篇(26%)" in mail.text
    assert '<td width="26%" height="14"' in mail.html


def test_a_week_with_nothing_due_says_so(office):
    mail = office.compose("digest:personal:yang-fan:2026-W13:email")

    # (the third: the 文体活动 report this file's plan has everyone owe, opening on 24 March)
    assert mail.subject == "【planbell】本周无到期,即将开始 3 项(第 13 周周报)"
    assert mail.text.splitlines()[0] == "杨帆,本周没有到期的工作;3 项即将开始。"
    assert "【本周到期】0 项\n\n(无)" in mail.text
    assert "本周没有到期的工作。" in visible(mail.html)


# --- admin alerts -------------------------------------------------------------------------

ALERTS = {
    "schedule-invalid": {
        "errors": ["schedules/plan-2026.yaml:143: obligations[12].every: 'quaterly' is not a cadence; did you mean 'quarterly'?"],
        "running_version": "3f9a1c2e7b4d",
    },
    "delivery-failed": {
        "key": "reminder:li-na:2026-03-26:email", "recipient": "li-na", "channel": "email",
        "error": "Connection to smtp.example.gov.cn:465 timed out after 10 s <b>", "attempts": 8,
    },
    "expired": {
        "count": 11, "oldest": "2026-03-18T01:00:00+00:00", "horizon_days": 7,
        "keys": ["reminder:li-na:2026-03-18:email", "escalation:zhang-wei:2026-03-30:email"],
    },
}


@pytest.mark.parametrize(("topic", "subject", "words"), [
    ("schedule-invalid", "【planbell】日程修改有误,仍在使用上一个正确版本",
     ["'quaterly' is not a cadence", "3f9a1c2e7b4d"]),
    ("delivery-failed", "【planbell】一条消息发送失败,已放弃",
     ["尝试 8 次仍未发出", "timed out after 10 s", "reminder:li-na:2026-03-26:email"]),
    ("expired", "【planbell】停机期间有 11 条提醒过期未发",
     ["有 11 条提醒超过 7 天未能发出", "2026-03-18", "(前 2 条)", "escalation:zhang-wei:2026-03-30:email"]),
])
def test_admin_alert_is_real_html_and_says_what_happened(office, topic, subject, words):
    mail = office.alert(topic, ALERTS[topic])

    assert mail.subject == subject
    assert "<pre" not in mail.html and "<table" in mail.html
    for word in words:
        assert word in mail.text
        assert word.replace("'", "&#39;") in mail.html
    assert "<b>" not in mail.html


# --- every message ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_mail(office) -> dict[str, Outgoing]:
    """One of each message; each subject template's own output is kept in ``raw_subjects``."""
    real = compose_module.render

    def spy(name: str, **context) -> str:
        out = real(name, **context)
        if name.endswith(".subject.txt"):
            raw_subjects.append((name, out))
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compose_module, "render", spy)
        mails = {key: office.compose(key) for key in (REMINDER, OVERDUE, ESCALATION, DIGEST, OVERVIEW)}
        mails["late"] = office.compose(ESCALATION, late=True)
        for topic, context in ALERTS.items():
            mails[topic] = office.alert(topic, context)
    return mails


raw_subjects: list[tuple[str, str]] = []


def test_hostile_titles_and_names_are_escaped_in_html_and_kept_in_text(every_mail):
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for key, mail in every_mail.items():
        assert "<script" not in mail.html.lower(), key
        if key in ALERTS:
            continue
        assert escaped in mail.html, key
        assert HOSTILE in mail.text and escaped not in mail.text, key
    for key in (REMINDER, ESCALATION):
        mail = every_mail[key]
        assert QUOTED_NAME in mail.text
        assert "&#34;老张&#34; O&#39;Zhang" in mail.html and QUOTED_NAME not in mail.html


def test_subjects_are_one_short_line(every_mail):
    for key, mail in every_mail.items():
        assert "\n" not in mail.subject and mail.subject == mail.subject.strip(), key
        assert mail.subject.startswith("【planbell】"), key


def test_subject_templates_make_one_line_themselves(every_mail):
    # compose() joins lines as a last resort; a subject template must not rely on it.
    assert {name for name, _ in raw_subjects} == {f"email/{kind}.subject.txt" for kind in
                                                  ("reminder", "escalation", "digest", "overview", "admin")}
    for name, subject in raw_subjects:
        assert "\n" not in subject, name


def test_html_is_one_table_column_with_inline_css_only(every_mail):
    for key, mail in every_mail.items():
        html = mail.html
        assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>"), key
        assert 'name="viewport"' in html and "max-width:600px" in html, key
        for banned in ("<link", "<style", "<img", "<div style=\"display:flex", "display:flex", "display:grid",
                       "position:", "float:", "<pre"):
            assert banned not in html, (key, banned)
        # Readable on a phone: nothing smaller than 13 px.
        sizes = [int(s) for s in re.findall(r"font-size:(\d+)px", html)]
        assert min(s for s in sizes if s > 1) >= 13, key
        assert "{{" not in html and "{%" not in html and "{{" not in mail.text, key


def test_every_template_renders_for_every_stage_without_undefined(office):
    """Compose every outbox row the planner made for three people over the year."""
    kinds, stages = set(), set()
    with office.sessions() as session:
        rows = list(session.scalars(select(MessageRow).where(
            MessageRow.person.in_(("li-na", "zhang-wei", "xu-li")), MessageRow.kind != "admin")))
        composer = Composer(office.schedule, DigestSettings("weekly", time(8, 30), True))
        for row in rows:
            try:
                mail = composer.compose(session, row, row.send_at, False)
            except NothingToSay:
                continue
            assert mail.subject and mail.text and mail.html, row.key
            kinds.add(row.kind)
            stages.update(i.get("stage", "digest").split("-")[0] for i in row.content["items"])
    assert kinds == {"reminder", "escalation", "digest"}
    assert {"open", "remind", "due", "overdue", "escalation"} <= stages
