"""The organisation as it is, in expansion: branches pair each 支部书记 with their own members,
each holder has their own duty, a per-person target a report per person, 通报 fall due after
their month, and several titled happenings a day are several duties."""

from __future__ import annotations

from datetime import date

import pytest

from daemon.plan.expand import expand
from daemon.plan.model import Event
from daemon.plan.schedule import load_schedule
from tests import orgplan
from tests.clirun import run_process

YEAR = (date(2025, 12, 1), date(2027, 1, 31))


@pytest.fixture
def schedule(tmp_path):
    return load_schedule(*orgplan.write(tmp_path))


def with_duties(tmp_path, duties: str):
    """The plan with more obligations (YAML list items) after its own."""
    return load_schedule(*orgplan.write(tmp_path, orgplan.PLAN.replace("\ntargets:", duties + "\ntargets:")))


def occurrences(schedule, obligation: str, events=()):
    (plan,) = schedule.plans
    return [o for o in expand(plan, *YEAR, roster=schedule.roster, events=events) if o.obligation == obligation]


def test_each_branch_secretary_is_paired_only_with_their_own_members(schedule):
    march = [o for o in occurrences(schedule, "talks") if o.period == "2026-03"]
    pairs = sorted((o.assignees, o.subject, o.branch) for o in march)
    assert pairs == [
        (("sec-1",), "boss", "b1"), (("sec-1",), "lead-a", "b1"), (("sec-1",), "m1a", "b1"),
        (("sec-1",), "m1b", "b1"), (("sec-2",), "lead-b", "b2"), (("sec-2",), "m2a", "b2"),
    ]


def test_a_branch_duty_is_one_per_branch_owed_by_that_branch(schedule):
    march = [o for o in occurrences(schedule, "branch-meeting") if o.period == "2026-03"]
    assert sorted((o.id, o.assignees) for o in march) == [
        ("branch-meeting/2026-03/b1", ("sec-1",)), ("branch-meeting/2026-03/b2", ("sec-2",))]


def test_a_one_branch_roster_expands_exactly_as_a_flat_one(tmp_path):
    flat = orgplan.ROSTER.split("people:\n")[1].replace("branch: b2, ", "").replace("branch: b1, ", "").replace(
        "branch: 第一支部, ", "").replace("name: 黄二书, email: sec-2@example.gov.cn, roles: [branch-secretary, ",
                                         "name: 黄二书, email: sec-2@example.gov.cn, roles: [")
    one = "branches:\n  - {id: b1, name: 第一支部}\npeople:\n" + flat.replace("roles: [", "branch: b1, roles: [")
    plain = load_schedule(*orgplan.write(tmp_path / "flat", roster="people:\n" + flat))
    single = load_schedule(*orgplan.write(tmp_path / "one", roster=one))
    (plan,) = plain.plans
    got = [(o.id, o.assignees, o.subject, o.branch) for o in expand(plan, *YEAR, roster=single.roster)]
    assert got == [(o.id, o.assignees, o.subject, o.branch) for o in expand(plan, *YEAR, roster=plain.roster)]
    assert "talks/2026-03/m2a" in {g[0] for g in got}  # flat: the one secretary talks with everyone
    assert all(branch is None for *_, branch in got)


def test_each_holder_has_their_own_occurrence_assigned_to_them_alone(schedule):
    march = [o for o in occurrences(schedule, "dispatch") if o.period == "2026-03"]
    assert sorted((o.id, o.assignees, o.lead, o.branch) for o in march) == [
        ("dispatch/2026-03/lead-a", ("lead-a",), "lead-a", "b1"), ("dispatch/2026-03/lead-b", ("lead-b",), "lead-b", "b2")]


def test_each_member_of_every_branch_has_their_own_duty_in_their_branch(tmp_path):
    notes = """
  - id: reading-notes
    item: 2
    title: 党员读书笔记
    source: 每名党员每月撰写读书笔记
    every: month
    due: {day: 20}
    owner: members
    each: true
"""
    schedule = with_duties(tmp_path, notes)
    march = [o for o in occurrences(schedule, "reading-notes") if o.period == "2026-03"]
    assert sorted((o.subject or "", o.assignees, o.lead, o.branch) for o in march) == sorted(
        ("", (p.id,), p.id, p.branch) for p in schedule.roster.with_role("members"))
    assert {o.branch for o in march} == {"b1", "b2"} and len(march) == 8


def test_a_monthly_bulletin_falls_due_in_the_first_week_of_the_next_month(schedule):
    by_period = {o.period: o for o in occurrences(schedule, "bulletin")}
    # The 5th working day after March: 1, 2, 3, (清明 4–6 April), 7, 8 April; it opens once
    # March is over.
    assert (by_period["2026-03"].due, by_period["2026-03"].opens) == (date(2026, 4, 8), date(2026, 4, 1))
    # September's runs past the National Day holiday (1–7 October; Saturday the 10th is worked).
    assert by_period["2026-09"].due == date(2026, 10, 13)
    assert by_period["2026-12"].due == date(2027, 1, 8)


def test_the_december_assessment_falls_before_the_annual_one_it_feeds(schedule):
    by_period = {o.period: o for o in occurrences(schedule, "monthly-assessment")}
    annual = occurrences(schedule, "annual-assessment")[0]
    assert annual.due == date(2026, 12, 18)  # the 20th is a Sunday
    assert by_period["2026-12"].due == date(2026, 12, 17)
    assert by_period["2026-12"].opens == date(2026, 12, 1)
    assert by_period["2026-11"].due == date(2026, 12, 7)  # before the cap: left alone


def test_a_per_person_target_has_a_report_for_each_person(schedule):
    (plan,) = schedule.plans
    reports = [o for o in expand(plan, date(2026, 3, 1), date(2026, 3, 31), roster=schedule.roster)
               if o.obligation == "research-days"]
    assert len(reports) == len(schedule.roster.with_role("staff")) == 9
    assert {o.assignees for o in reports} == {(p.id,) for p in schedule.roster.with_role("staff")}
    assert {o.id for o in reports} >= {"research-days/2026-03/m1a", "research-days/2026-03/clerk"}


def test_two_events_of_one_day_are_two_duties_each_with_its_title(schedule):
    events = [Event("briefing", date(2026, 3, 10), "《政府工作报告》起草", 1),
              Event("briefing", date(2026, 3, 10), "营商环境课题", 2)]
    found = occurrences(schedule, "briefing", events)
    assert sorted((o.id, o.title) for o in found) == [
        ("briefing/2026-03-10", "调研前政治纪律交底:《政府工作报告》起草"),
        ("briefing/2026-03-10.2", "调研前政治纪律交底:营商环境课题"),
    ]
    assert all(o.assignees == ("lead-a", "lead-b") for o in found)  # an event is the office's, not a branch's


LED_DUTIES = """
  - id: study
    item: 2
    title: 支部集中学习
    source: 支部每月组织党员集中学习
    every: month
    due: {day: 15}
    owner: members
    lead: branch-secretary

  - id: life-meeting
    item: 2
    title: 组织生活会
    source: 党组书记指导各支部召开组织生活会
    every: year
    due: {month: 12, day: 10}
    owner: members
    lead: party-secretary

  - id: staff-report
    item: 3
    title: 干部述职
    source: 全体干部每年述职
    every: year
    due: {month: 12, day: 10}
    owner: staff
    lead: office
"""


def test_a_duty_is_led_by_its_own_branchs_holder_of_a_branch_role_and_by_the_office_holder_of_an_office_role(tmp_path):
    schedule = with_duties(tmp_path, LED_DUTIES)
    led = {(o.obligation, o.branch): (o.lead, o.assignees[0])
           for o in occurrences(schedule, "study") + occurrences(schedule, "life-meeting")
           + occurrences(schedule, "staff-report") if o.period in ("2026-03", "2026")}
    assert led == {
        ("study", "b1"): ("sec-1", "boss"),  # the members are owed it, their own secretary leads
        ("study", "b2"): ("sec-2", "lead-b"),
        ("life-meeting", "b1"): ("boss", "boss"),
        ("life-meeting", "b2"): ("boss", "boss"),  # the 党组书记 leads in a branch not their own
        ("staff-report", None): ("clerk", "boss"),  # the office's clerk leads what all staff owe
    }
    (b2,) = [o for o in occurrences(schedule, "life-meeting") if o.branch == "b2"]
    assert b2.assignees == ("boss", "lead-b", "sec-2", "m2a")  # a lead from outside is reminded too


# --- bad input: a file:line sentence in Chinese, exit status 2 ------------------------------------


def validate(tmp_path, plan: str = orgplan.PLAN, roster: str = orgplan.ROSTER):
    schedules, roster_path = orgplan.write(tmp_path, plan, roster)
    result = run_process("validate", schedules=schedules, roster=roster_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr, roster_path, schedules / "plan.yaml"


def test_a_person_in_an_unknown_branch_is_refused_at_their_line(tmp_path):
    err, roster, _ = validate(tmp_path, roster=orgplan.ROSTER.replace("branch: b2, roles: [supervising", "branch: b3, roles: [supervising"))
    assert f"{roster}:8: people[2].branch: 名册的 branches: 中没有支部 'b3'" in err
    assert "已有的支部:b1(第一支部)、b2(第二支部)" in err


def test_two_secretaries_of_one_branch_are_refused_at_the_second(tmp_path):
    err, roster, _ = validate(tmp_path, roster=orgplan.ROSTER.replace(
        "name: 党员一甲, email: m1a@example.gov.cn, branch: b1, roles: [", "name: 党员一甲, email: m1a@example.gov.cn, branch: b1, roles: [branch-secretary, "))
    assert f"{roster}:10: m1a.roles: 第一支部已有支部书记 陈一书(第 9 行);每个支部只设一名支部书记" in err


def test_each_of_a_role_nobody_holds_is_refused_at_the_duty(tmp_path):
    err, _, plan = validate(tmp_path, roster=orgplan.ROSTER.replace("supervising-leaders, ", ""))
    assert f"{plan}:41: dispatch.each: each: true 要求每位“分管领导”各办一项,但名册中没有人担任分管领导" in err


def test_a_per_person_target_without_per_is_refused_at_its_source(tmp_path):
    err, _, plan = validate(tmp_path, plan=orgplan.PLAN.replace("    per: staff\n", ""))
    assert f"{plan}:85: targets[0].source: 原文“干部每月…”是按人计的指标,每人各有自己的进度;请加 per: 角色(如 per: staff)" in err


def test_a_roster_named_otherwise_is_read_as_the_roster_not_as_a_plan(tmp_path):
    schedules, roster = orgplan.write(tmp_path)
    people = schedules / "people.yaml"  # in the schedules folder, not named roster*
    roster.rename(people)
    result = run_process("validate", schedules=schedules, roster=people)
    assert result.returncode == 0, result.stderr
    assert f"✓ {people}:9 人,2 个支部" in result.stdout
    assert load_schedule(schedules, people).roster.branched
