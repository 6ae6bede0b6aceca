"""Expansion: hand-worked 2026 dates on the official holiday arrangement, and invariants."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from dateutil import rrule as dateutil_rrule
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.plan.errors import ScheduleInvalid
from daemon.plan.expand import _capped, _shift, expand, for_person
from daemon.plan.loader import load_plan_file
from daemon.plan.model import (
    Cadence,
    CalendarSpec,
    DueRule,
    Event,
    Obligation,
    Person,
    Plan,
    Roster,
    Shift,
)
from daemon.plan.periods import Period, periods_of
from daemon.plan.schedule import Schedule, load_schedule
from daemon.plan.workdays import WorkdayCalendar
from daemon.sync import expected
from tests import orgplan

YEAR = (date(2026, 1, 1), date(2026, 12, 31))
WIDE = (date(2025, 12, 1), date(2027, 1, 31))  # weeks and shifts may cross New Year
CAL = WorkdayCalendar(CalendarSpec())

HEADER = """\
plan:
  title: 测试
  year: 2026
roles:
  sec: 党组书记
  members: 全体党员
obligations:
"""


def plan_from(tmp_path: Path, obligations: str, extra: str = "") -> Plan:
    file = tmp_path / "plan.yaml"
    file.write_text(HEADER + textwrap.indent(textwrap.dedent(obligations), "  ") + extra, encoding="utf-8")
    plan, _ = load_plan_file(file)
    return plan


def dues(plan: Plan, **kw) -> dict[str, date]:
    return {o.period: o.due for o in expand(plan, *YEAR, **kw)}


DUTY = """\
- id: d
  item: 1
  title: 测试职责
  source: 测试
  owner: sec
"""


def test_fixed_date_on_national_day_moves_to_the_previous_working_day(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: once\n  due: 2026-10-01\n")
    assert dues(plan) == {"2026-10-01": date(2026, 9, 30)}


def test_fixed_date_on_national_day_moves_to_the_next_working_day_when_asked(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: once\n  due: 2026-10-01\n  if_not_workday: next\n")
    assert dues(plan) == {"2026-10-01": date(2026, 10, 8)}


def test_adjusted_working_weekend_days_are_working_days():
    # 2026 official arrangement: Sunday 2026-09-20 and Saturday 2026-10-10 are worked (调休).
    assert CAL.is_workday(date(2026, 9, 20))
    assert CAL.is_workday(date(2026, 10, 10))
    assert CAL.is_workday(date(2026, 1, 4))  # a Sunday worked for New Year
    assert not CAL.is_workday(date(2026, 10, 1))
    assert not CAL.is_workday(date(2026, 2, 20))  # Spring Festival


def test_monthly_day_25_moves_off_weekends(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: month\n  due: {day: 25}\n")
    got = dues(plan)
    assert got["2026-01"] == date(2026, 1, 23)  # Sunday → Friday
    assert got["2026-02"] == date(2026, 2, 25)  # a Wednesday stays
    assert got["2026-04"] == date(2026, 4, 24)  # Saturday → Friday
    assert got["2026-10"] == date(2026, 10, 23)  # Sunday → Friday
    assert len(got) == 12


def test_quarterly_due_dates_follow_holidays_and_adjusted_working_days(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: quarter\n  due: {month: 3, day: 20}\n")
    assert dues(plan) == {
        "2026-Q1": date(2026, 3, 20),  # Friday
        "2026-Q2": date(2026, 6, 18),  # Sat 20th → Fri 19th is Dragon Boat Festival → Thu 18th
        "2026-Q3": date(2026, 9, 20),  # a Sunday, but a working day in 2026
        "2026-Q4": date(2026, 12, 18),  # Sunday → Friday
    }


def test_first_working_day_of_the_year_is_the_worked_sunday(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: year\n  due: {month: 1, workday: 1}\n")
    assert dues(plan) == {"2026": date(2026, 1, 4)}


def test_first_working_day_after_national_day(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: month\n  due: {workday: 1}\n")
    got = dues(plan)
    assert got["2026-10"] == date(2026, 10, 8)
    assert got["2026-02"] == date(2026, 2, 2)


def test_last_working_day_of_the_half_year(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: half-year\n  due: last-workday\n")
    assert dues(plan) == {"2026-H1": date(2026, 6, 30), "2026-H2": date(2026, 12, 31)}


def test_last_friday_on_mid_autumn_moves_to_thursday(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: month\n  due: {weekday: fri, nth: -1}\n")
    assert dues(plan)["2026-09"] == date(2026, 9, 24)


def test_weekly_duty_in_the_spring_festival_week_falls_on_the_worked_saturday_before(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: week\n  due: {weekday: fri}\n")
    got = {o.period: o.due for o in expand(plan, *WIDE)}
    assert got["2026-W08"] == date(2026, 2, 14)
    assert len(got) == 53  # 2026 begins on a Thursday: 53 ISO weeks
    # Week 1 runs from Monday 2025-12-29; its Friday (Jan 2) is a day off, so it is due in 2025.
    assert got["2026-W01"] == date(2025, 12, 31)


def test_keep_leaves_a_holiday_due_date_alone(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: once\n  due: 2026-10-01\n  if_not_workday: keep\n")
    assert dues(plan) == {"2026-10-01": date(2026, 10, 1)}


def test_extra_holidays_and_workdays_from_the_plan_override_the_package(tmp_path):
    extra = "  calendar:\n    extra_holidays: [2026-03-20]\n    extra_workdays: [2026-06-20]\n"
    text = HEADER.replace("  year: 2026\n", "  year: 2026\n" + extra)
    file = tmp_path / "p.yaml"
    file.write_text(text + textwrap.indent(DUTY + "  every: quarter\n  due: {month: 3, day: 20}\n", "  "), encoding="utf-8")
    plan, _ = load_plan_file(file)
    got = dues(plan)
    assert got["2026-Q1"] == date(2026, 3, 19)
    assert got["2026-Q2"] == date(2026, 6, 20)


# The 党组书记 zhang, who is a member too, and two other members.
THREE_MEMBERS = Roster((
    Person("zhang", "张伟", roles=("sec", "members")),
    Person("li", "李娜", roles=("members",)),
    Person("wang", "王强", roles=("members",)),
))


def test_for_each_makes_one_occurrence_per_person_and_skips_talking_to_oneself(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: month\n  for_each: members\n")
    occ = expand(plan, date(2026, 3, 1), date(2026, 3, 31), roster=THREE_MEMBERS)
    assert [o.id for o in occ] == ["d/2026-03/li", "d/2026-03/wang"]
    assert all((o.assignees, o.lead, o.subject) == (("zhang",), "zhang", o.id.split("/")[-1]) for o in occ)
    assert [o.id for o in for_person(occ, "li")] == ["d/2026-03/li"]


def test_a_talk_with_the_one_who_would_lead_it_has_no_lead_and_goes_to_the_others(tmp_path):
    """谈心谈话 among the members, each talk led by the 党组书记: the talk with the 书记 himself is
    still owed by the other members, and nobody is named to lead it."""
    duty = DUTY.replace("owner: sec", "owner: members\n  lead: sec")
    plan = plan_from(tmp_path, duty + "  every: month\n  for_each: members\n")
    occ = expand(plan, date(2026, 3, 1), date(2026, 3, 31), roster=THREE_MEMBERS)
    assert [(o.subject, o.assignees, o.lead) for o in occ] == [
        ("li", ("zhang", "wang"), "zhang"), ("wang", ("zhang", "li"), "zhang"), ("zhang", ("li", "wang"), None)]
    # A lead who is not one of the members is reminded of each talk too, first.
    roster = Roster((Person("zhang", "张伟", roles=("sec",)), *THREE_MEMBERS.people[1:]))
    occ = expand(plan, date(2026, 3, 1), date(2026, 3, 31), roster=roster)
    assert [(o.subject, o.assignees, o.lead) for o in occ] == [
        ("li", ("zhang", "wang"), "zhang"), ("wang", ("zhang", "li"), "zhang")]


MARCH_WEEK = Period("2026-W11", date(2026, 3, 9), date(2026, 3, 15))  # Mon–Sun, five working days


@pytest.mark.parametrize(("rule", "day", "period", "days_off", "worked", "expected"), [
    # An office's own day off on Tuesday: the Monday before is the week's first day, still inside.
    (Shift.PREVIOUS, date(2026, 3, 10), MARCH_WEEK, {date(2026, 3, 10)}, set(), date(2026, 3, 9)),
    # Sunday 30 August, "next": Monday the 31st is the month's last day, still inside.
    (Shift.NEXT, date(2026, 8, 30), Period("2026-08", date(2026, 8, 1), date(2026, 8, 31)), set(), set(),
     date(2026, 8, 31)),
    # Tuesday to Friday off, "next" from Thursday leaves the week: back to its Monday instead.
    (Shift.NEXT, date(2026, 3, 12), MARCH_WEEK, {date(2026, 3, d) for d in (10, 11, 12, 13)}, set(),
     date(2026, 3, 9)),
    # The whole working week off and Sunday worked (调休), "previous" from Tuesday leaves the week:
    # on to its Sunday instead.
    (Shift.PREVIOUS, date(2026, 3, 10), MARCH_WEEK, {date(2026, 3, d) for d in range(9, 14)}, {date(2026, 3, 15)},
     date(2026, 3, 15)),
    # Nothing worked in the week at all: the rule's own way, out of the period.
    (Shift.PREVIOUS, date(2026, 3, 10), MARCH_WEEK, {date(2026, 3, d) for d in range(9, 14)}, set(),
     date(2026, 3, 6)),
])
def test_a_due_date_moved_off_a_day_off_stays_in_its_period_up_to_its_first_and_last_day(
        rule, day, period, days_off, worked, expected):
    cal = WorkdayCalendar(CalendarSpec(extra_holidays=frozenset(days_off), extra_workdays=frozenset(worked)))
    assert _shift(day, rule, period, cal) == expected


def test_per_event_duties_come_from_recorded_events(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: per-event\n  remind: [3d]\n")
    events = [Event("d", date(2026, 10, 3)), Event("d", date(2026, 3, 10)), Event("other", date(2026, 3, 11))]
    occ = expand(plan, *YEAR, events=events)
    assert [(o.id, o.due, o.opens) for o in occ] == [
        ("d/2026-03-10", date(2026, 3, 10), date(2026, 3, 7)),
        ("d/2026-10-03", date(2026, 9, 30), date(2026, 9, 27)),
    ]


def test_a_reply_to_an_event_is_due_working_days_after_it_counting_the_national_day_make_up_saturday(tmp_path):
    # Recorded on Wed 30 Sep: 1–7 Oct are off; 8 Oct, 9 Oct, Sat 10 Oct (调休), 12 Oct, 13 Oct.
    plan = plan_from(tmp_path, DUTY + "  every: per-event\n  due: {after: 5wd}\n")
    [occ] = expand(plan, *YEAR, events=[Event("d", date(2026, 9, 30))])
    assert (occ.id, occ.opens, occ.nominal_due, occ.due) == (
        "d/2026-09-30", date(2026, 9, 30), date(2026, 10, 13), date(2026, 10, 13))


def test_rrule_obligations_match_dateutil_on_the_same_rule(tmp_path):
    rules = ["FREQ=MONTHLY;BYMONTHDAY=15", "FREQ=WEEKLY;BYDAY=TU,TH;INTERVAL=2",
             "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=1"]
    for rule in rules:
        plan = plan_from(tmp_path, DUTY + f"  every: \"rrule:{rule}\"\n  if_not_workday: keep\n")
        expected = [d.date() for d in dateutil_rrule.rrulestr(rule, dtstart=datetime(2026, 1, 1))
                    .between(datetime(2026, 1, 1), datetime(2026, 12, 31, 23, 59), inc=True)]
        assert [o.due for o in expand(plan, *YEAR)] == expected, rule


def test_an_rrule_date_on_a_holiday_moves_off_it_and_keeps_the_rules_date_as_its_id(tmp_path):
    plan = plan_from(tmp_path, DUTY + '  every: "rrule:FREQ=YEARLY;BYMONTH=5,10;BYMONTHDAY=5"\n')
    assert [(o.id, o.period, o.due) for o in expand(plan, *YEAR)] == [
        ("d/2026-05-05", "2026-05-05", date(2026, 4, 30)),  # 1–5 May off
        ("d/2026-10-05", "2026-10-05", date(2026, 9, 30)),  # 1–7 October off
    ]


def test_a_monthly_duty_opens_with_its_month_and_a_weekly_one_with_its_week(tmp_path):
    monthly = plan_from(tmp_path, DUTY + "  every: month\n  due: {day: 25}\n  remind: [3d]\n")
    assert {o.period: o.opens for o in expand(monthly, *YEAR)}["2026-03"] == date(2026, 3, 1)
    weekly = plan_from(tmp_path, DUTY + "  every: week\n  remind: [3d]\n")
    assert {o.period: (o.opens, o.due) for o in expand(weekly, *YEAR)}["2026-W11"] == (date(2026, 3, 9), date(2026, 3, 13))


def test_a_duty_opens_its_own_number_of_days_before_it_is_due(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: month\n  due: {day: 25}\n  opens: 3d\n")
    assert {o.period: o.opens for o in expand(plan, *YEAR)}["2026-03"] == date(2026, 3, 22)  # due Wed 25 March


def test_a_one_off_duty_without_reminders_opens_a_week_before_it_is_due(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: once\n  due: 2026-06-10\n  remind: []\n")
    [occ] = expand(plan, *YEAR)
    assert (occ.opens, occ.due, occ.remind_days) == (date(2026, 6, 3), date(2026, 6, 10), ())


def test_window_keeps_exactly_the_occurrences_due_inside_it(tmp_path):
    plan = plan_from(tmp_path, DUTY + "  every: month\n")
    full = expand(plan, *YEAR)
    part = expand(plan, date(2026, 3, 1), date(2026, 5, 31))
    assert part == [o for o in full if date(2026, 3, 1) <= o.due <= date(2026, 5, 31)]
    day = full[2].due  # a window of one day holds what falls due on it
    assert expand(plan, day, day) == [full[2]]
    assert expand(plan, date(2027, 1, 1), date(2027, 12, 31)) == []


def test_a_report_on_the_year_due_next_spring_is_listed_in_its_month_and_synced(tmp_path):
    """A year-end duty with a long `after:` falls due months into the next year; the agenda of
    that month lists it and the daemon's expansion (what sync stores) holds it."""
    plan = plan_from(tmp_path, DUTY + "  every: year\n  due: {after: 30wd}\n")
    # January's 20 working days, 1–4 February, then 11–18 February after the Spring Festival.
    assert [(o.id, o.due) for o in expand(plan, date(2027, 2, 1), date(2027, 2, 28))] == [
        ("d/2026", date(2027, 2, 18))]
    longest = plan_from(tmp_path, DUTY + "  every: year\n  due: {after: 99wd}\n")
    synced = expected(Schedule(plans=(longest,), roster=Roster(), version="t"), [])
    assert synced["d/2026"][1].due == date(2027, 5, 31)
    with pytest.raises(ScheduleInvalid):  # ... the longest the loader allows, which reach() counts on
        plan_from(tmp_path, DUTY + "  every: year\n  due: {after: 100wd}\n")


def test_target_progress_reports_fall_on_the_last_working_day_of_each_quarter(tmp_path):
    extra = ("targets:\n  - {id: docs, item: 4, title: 审核文稿, source: 全年审核文稿不少于500篇, at_least: 500, unit: 篇, "
             "owner: sec, basis: 按室务会要求分季度报送}\n")
    plan = plan_from(tmp_path, DUTY + "  every: year\n", extra)
    reports = [o for o in expand(plan, *YEAR) if o.kind == "report"]
    # Each report request carries the target's words and why it is asked for (its basis).
    assert {(o.title, o.source, o.basis) for o in reports} == {("审核文稿", "全年审核文稿不少于500篇", "按室务会要求分季度报送")}
    # It opens a week before it is due (Q1's on 24 March), is reminded of the day before, and
    # names no lead when nobody holds the owner's role (this plan has no roster).
    assert {(o.due - o.opens, o.remind_days, o.lead) for o in reports} == {(timedelta(days=7), (1,), None)}
    assert [(o.id, o.due) for o in reports] == [
        ("docs/2026-Q1", date(2026, 3, 31)), ("docs/2026-Q2", date(2026, 6, 30)),
        ("docs/2026-Q3", date(2026, 9, 30)), ("docs/2026-Q4", date(2026, 12, 31)),
    ]
    assert [o.id for o in expand(plan, date(2026, 6, 30), date(2026, 6, 30))] == ["docs/2026-Q2"]


# --- invariants ----------------------------------------------------------------------------

PERIOD_COUNTS = {Cadence.WEEK: 53, Cadence.MONTH: 12, Cadence.QUARTER: 4, Cadence.HALF_YEAR: 2, Cadence.YEAR: 1}


@st.composite
def obligations(draw, ident="x"):
    cadence = draw(st.sampled_from(list(PERIOD_COUNTS)))
    shift = draw(st.sampled_from(list(Shift)))
    if cadence == Cadence.WEEK:
        rule = draw(st.one_of(st.builds(DueRule, weekday=st.integers(0, 6)), st.just(DueRule(workday=-1))))
    else:
        month = draw(st.one_of(st.none(), st.integers(1, cadence.months)))
        rule = draw(st.one_of(
            st.builds(DueRule, month=st.just(month), day=st.integers(1, 28)),
            st.builds(DueRule, month=st.just(month), weekday=st.integers(0, 6), nth=st.sampled_from([1, 2, 3, 4, -1])),
            st.builds(DueRule, month=st.just(month), workday=st.sampled_from([1, 2, 5, -1, -2])),
        ))
    return Obligation(id=ident, item=1, title="t", source="s", every=cadence, owner="sec", due=rule,
                      if_not_workday=shift)


def _plan(*obs: Obligation) -> Plan:
    return Plan(title="t", year=2026, file="t.yaml", roles={"sec": "书记"}, obligations=obs)


@settings(max_examples=200, deadline=None)
@given(obligations())
def test_one_occurrence_per_period_due_inside_it_and_on_a_working_day(ob):
    occ = expand(_plan(ob), *WIDE)
    assert len(occ) == PERIOD_COUNTS[ob.every]
    periods = {p.label: p for p in periods_of(ob.every, 2026)}
    for o in occ:
        period = periods[o.period]
        if ob.if_not_workday != Shift.KEEP:
            assert CAL.is_workday(o.due)
            # The date leaves its period only when no working day inside it is in reach.
            if not period.start <= o.due <= period.end:
                assert not _inside_reachable(period, o)
        else:
            assert o.due == o.nominal_due
            assert period.start <= o.due <= period.end
        assert o.opens <= o.due


def _inside_reachable(period, o):
    return any(period.start <= d <= period.end for d in (CAL.previous_workday(o.nominal_due), CAL.next_workday(o.nominal_due)))


@settings(max_examples=100, deadline=None)
@given(obligations("a"), obligations("b"))
def test_ids_are_stable_across_runs_and_unchanged_by_unrelated_edits(a, b):
    alone = [(o.id, o.due) for o in expand(_plan(a), *YEAR)]
    again = [(o.id, o.due) for o in expand(_plan(a), *YEAR)]
    together = [(o.id, o.due) for o in expand(_plan(b, a), *YEAR) if o.obligation == "a"]
    assert alone == again == sorted(together, key=lambda x: (x[1], x[0]))
    assert len({i for i, _ in alone}) == len(alone)


@pytest.mark.parametrize("cadence,count", [(c, n) for c, n in PERIOD_COUNTS.items()])
def test_period_labels(cadence, count):
    labels = [p.label for p in periods_of(cadence, 2026)]
    assert len(labels) == count
    assert {Cadence.MONTH: "2026-03", Cadence.QUARTER: "2026-Q2", Cadence.HALF_YEAR: "2026-H1",
            Cadence.YEAR: "2026", Cadence.WEEK: "2026-W05"}[cadence] in labels


@pytest.mark.parametrize("word,count", [("每月", 12), ("每季度", 4), ("每半年", 2), ("每年", 1)])
def test_cadence_may_be_written_in_chinese(tmp_path, word, count):
    plan = plan_from(tmp_path, DUTY + f"  every: {word}\n")
    assert len(expand(plan, *YEAR)) == count


def weekly_notes_before_monthly_report(tmp_path: Path, report_due: str, notes_after: str) -> Plan:
    """A monthly report due on `report_due`, and weekly notes due `notes_after` their week but
    before the report of the month the week ends in."""
    return plan_from(tmp_path, f"""\
        - id: monthly-report
          item: 1
          title: 月度报告
          source: 测试
          owner: sec
          every: month
          due: {report_due}
        - id: weekly-notes
          item: 1
          title: 周记
          source: 测试
          owner: sec
          every: week
          due: {{after: {notes_after}, before: monthly-report}}
        """)


def test_a_weekly_duty_due_before_the_monthly_one_is_capped_by_the_month_its_week_ends_in(tmp_path):
    """`before: X` caps a period by X's period that holds the period's last day: the week ending
    on Sunday 1 March is capped by March's report, not February's; the last week of 2026,
    ending on 3 January 2027, lies in none of the year's months and keeps its own due date."""
    plan = weekly_notes_before_monthly_report(tmp_path, "{workday: 5}", "10wd")
    reports = {o.period: o.due for o in expand(plan, *WIDE) if o.obligation == "monthly-report"}
    weeks = {o.period: o.due for o in expand(plan, *WIDE) if o.obligation == "weekly-notes"}
    assert reports["2026-03"] == date(2026, 3, 6)
    assert weeks["2026-W09"] == date(2026, 3, 5)  # ends 1 March; 10 working days on is 13 March
    assert weeks["2026-W53"] == date(2027, 1, 15)  # ends 3 January 2027: 10 working days on


def test_a_weekly_report_opens_when_its_week_is_over_or_with_the_week_when_capped_inside_it(tmp_path):
    """A report on the week opens the day after it; capped by `before` to fall inside the week
    (on a worked Sunday, 20 September), it opens with the week instead."""
    plan = weekly_notes_before_monthly_report(tmp_path, "{day: 21}", "3wd")
    weeks = {o.period: (o.opens, o.due) for o in expand(plan, *WIDE) if o.obligation == "weekly-notes"}
    assert weeks["2026-W37"] == (date(2026, 9, 14), date(2026, 9, 16))  # week 7–13 Sept: 3 working days on
    assert weeks["2026-W38"] == (date(2026, 9, 14), date(2026, 9, 20))  # capped before Mon 21 Sept


def test_a_due_date_on_the_capping_duties_own_day_moves_to_the_working_day_before():
    """`before: X` means before X's due date, not on it."""
    march = Period("2026-03", date(2026, 3, 1), date(2026, 3, 31))
    cap = [(march, date(2026, 3, 6))]
    assert _capped(date(2026, 3, 6), march, cap, CAL) == date(2026, 3, 5)
    assert _capped(date(2026, 3, 5), march, cap, CAL) == date(2026, 3, 5)


def test_report_requests_name_who_reports_and_a_per_person_ones_branch(tmp_path):
    """An office target's request is led by the first holder of its owner role; a per-person
    target asks each holder for their own figure, in their own branch."""
    schedule = load_schedule(*orgplan.write(tmp_path))
    plan, roster = schedule.plans[0], schedule.roster
    march = [o for o in expand(plan, date(2026, 3, 1), date(2026, 3, 31), roster=roster)
             if o.kind == "report" and o.period == "2026-03"]
    staff = roster.with_role("staff")
    assert sorted((o.id, o.assignees, o.lead, o.branch) for o in march) == sorted(
        (f"research-days/2026-03/{p.id}", (p.id,), p.id, p.branch) for p in staff)
    assert {o.branch for o in march} == {"b1", "b2", None}
    office = replace(plan, targets=tuple(replace(t, per=None) for t in plan.targets))
    [shared] = [o for o in expand(office, date(2026, 3, 1), date(2026, 3, 31), roster=roster)
                if o.kind == "report" and o.period == "2026-03"]
    assert shared.assignees == tuple(p.id for p in staff) and shared.lead == staff[0].id and len(staff) > 1
