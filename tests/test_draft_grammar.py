"""The clause grammar of `planbell draft`, on sentences of the genre and on the composed plans
of other offices in tests/data (not only on the bundled plan it was first written for)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.draft import draft_plan
from daemon.draft.build import Draft, build
from daemon.draft.layout import read_layout
from daemon.plan.loader import load_plan_file

DATA = Path(__file__).parent / "data"


def draft_of(body: str, title: str = "2026年某局党建工作要点") -> Draft:
    return build(read_layout(f"{title}\n一、一项工作\n1.第一条\n{body}\n", "plan.txt"))


def duties(body: str) -> list[tuple[str, str]]:
    return [(d.every, d.source) for d in draft_of(body).duties]


def test_two_cadences_in_one_clause_become_two_obligations():
    assert duties("建立工作督查机制,每月开展1次日常督查、每季度开展1次专项督查,跟踪工作进展。") == [
        ("month", "每月开展1次日常督查"), ("quarter", "每季度开展1次专项督查"),
    ]


@pytest.mark.parametrize(("sentence", "every"), [
    ("每年开展2次专项检查。", "half-year"),
    ("全年开展4次专题讲座。", "quarter"),
    ("每半年开展2次交流。", "quarter"),
    ("每季度开展3次走访。", "month"),
])
def test_n_times_per_period_becomes_the_finer_cadence(sentence, every):
    assert [e for e, _ in duties(sentence)] == [every]


def test_a_count_with_no_cadence_of_its_own_is_flagged_for_review():
    draft = draft_of("党小组每月开展2次学习。")
    assert draft.duties[0].every == "month"
    assert "待确认: 原文每期2次" in draft.duties[0].notes


@pytest.mark.parametrize(("sentence", "every", "due"), [
    ("年底开展年度考核。", "year", None),
    ("年初制定责任清单。", "year", "{month: 2, day: last}"),
    ("上半年完成阵地排查。", "year", "{month: 6, day: 30}"),
    ("机关党委每周五组织集中学习。", "week", "{weekday: fri}"),
    ("每月第一个星期五开展主题党日活动。", "month", "{weekday: fri, nth: 1}"),
    ("每两个月组织1次读书分享会。", "rrule:FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=25", None),
])
def test_words_that_name_a_time_of_year_set_cadence_and_due(sentence, every, due):
    (duty,) = draft_of(sentence).duties
    assert (duty.every, duty.due) == (every, due)


def test_a_dated_deadline_is_a_one_off_due_that_day():
    (duty,) = draft_of("6月底前修订完善阵地管理办法。").duties
    assert (duty.every, duty.month_day) == ("once", (6, 30))


@pytest.mark.parametrize("sentence", [
    "在重大文稿起草、重点课题调研前开展政治纪律交底。",
    "课题立项前由党支部审核政治方向。",
    "每个重点课题由党员干部牵头负责。",
    "对各类文稿实行三级把关。",
    "重大事项必须经党组集体讨论决定。",
    "根据工作变化及时更新风险点。",
    "凡涉及资金拨付等事项,必须经支部委员会集体研究。",
])
def test_clauses_tied_to_an_event_are_per_event(sentence):
    assert [e for e, _ in duties(sentence)] == ["per-event"]


@pytest.mark.parametrize(("sentence", "figure"), [
    ("全年审核文稿不少于500篇。", ("at_least", 500, "篇")),
    ("办结率不低于95%。", ("at_least", 95, "%")),
    ("测试合格率95%以上。", ("at_least", 95, "%")),
    ("全年发文数量同比减少15%。", ("reduce_by", 15, "%")),
    ("覆盖基层单位80个以上。", ("at_least", 80, "个")),
    ("选拔20名青年干部纳入骨干人才库。", ("exactly", 20, "名")),
    ("全年专题研讨不少于四次。", ("at_least", 4, "次")),
    ("全年培训覆盖全体党员干部。", ("at_least", 100, "%")),
    ("会议时长控制在90分钟以内,参会人数不超过30人。", ("at_most", 30, "人")),
])
def test_quantified_clauses_become_targets_with_comparator_value_and_unit(sentence, figure):
    (quota,) = draft_of(sentence).quotas
    assert (quota.comparator, quota.value, quota.unit) == figure


def test_a_figure_per_period_is_a_target_of_that_period():
    (quota,) = draft_of("干部每月深入基层调研不少于5天。").quotas
    assert (quota.period, quota.value, quota.unit, quota.owner) == ("month", 5, "天", "staff")
    assert draft_of("干部每月深入基层调研不少于5天。").duties == []


def test_chinese_numbers_in_names_and_quotes_are_not_figures():
    draft = draft_of("全面落实二十届四中全会精神,增强“四个意识”、做到“两个维护”,实施“廉政教育全覆盖行动”。")
    assert draft.quotas == [] and draft.duties == []
    assert draft.unrecognised == {}


def test_owner_is_the_role_that_acts_not_the_one_acted_on():
    draft = draft_of("党组书记与班子成员每半年谈话1次,支部书记与党员每月谈话1次。每季度组织党员到红色教育基地开展现场教学。")
    assert [d.owner for d in draft.duties[:2]] == ["party-secretary", "branch-secretary"]
    assert draft.duties[2].owner == draft.default_owner == "leadership"  # no 党组/党委 in this text
    assert draft.duties[2].notes == ["待确认: 责任主体"]
    assert draft.roles["party-secretary"] == "党组书记"


def test_owner_from_an_earlier_clause_or_a_team_the_plan_sets_up():
    draft = draft_of("分管领导抓好分管领域党建工作,每月开展1次工作调度。成立党建群团工作联动小组,每月召开1次协调会议。")
    assert [d.owner for d in draft.duties] == ["supervising-leaders", "team-1"]
    assert draft.roles["team-1"] == "党建群团工作联动小组"


def test_a_clause_without_its_object_quotes_the_clause_before():
    (duty,) = draft_of("开展“执行力专题培训”,每半年组织1次。").duties
    assert (duty.source, duty.title) == ("开展“执行力专题培训”,每半年组织1次", "执行力专题培训")


def test_sentences_with_a_cadence_word_or_number_left_unread_are_listed():
    draft = draft_of("定期走访调研。将学习情况作为年度考核的重要内容。每月开展1次督查。35岁以下青年不少于10名。")
    assert draft.unrecognised[1] == ["(定期) 定期走访调研。", "(年度) 将学习情况作为年度考核的重要内容。"]


def test_line_breaks_inside_a_sentence_are_joined():
    draft = draft_of("课题立项前由党支部审核政治方向,成果\n形成后由党组把关质量。")
    assert [d.source for d in draft.duties] == ["课题立项前由党支部审核政治方向", "成果形成后由党组把关质量"]


def test_items_come_from_the_deepest_numbering_and_sections_are_kept():
    layout = read_layout("2026年某局工作要点\n一、政治建设\n（一）理论学习。每月学习1次。\n（二）阵地建设\n二、组织建设\n（一）支部建设\n每月开展1次督查。\n", "p.txt")
    assert [(i.number, i.label, i.title, i.sections) for i in layout.items] == [
        (1, "（一）", "理论学习", ("一、政治建设",)),
        (2, "（二）", "阵地建设", ("一、政治建设",)),
        (3, "（一）", "支部建设", ("二、组织建设",)),
    ]
    assert layout.items[0].sentences == ["每月学习1次。"]
    assert (layout.title, layout.year) == ("2026年某局工作要点", 2026)


@pytest.mark.parametrize(("name", "expected"), [
    ("county-education-2026.txt", {
        ("month", "局党组每月开展1次理论学习中心组集中学习", "party-group"),
        ("quarter", "各学校党组织每季度至少开展一次专题学习", "schools"),
        ("half-year", "每年2次向县委报告意识形态工作情况", "party-group"),
        ("once", "6月底前修订完善校园意识形态阵地管理办法", "party-group"),
        ("half-year", "局党组书记与班子成员每半年开展1次廉政谈话", "party-secretary"),
        ("per-event", "在招生录取、教材征订、工程建设等重点工作开展前进行廉政提醒", "discipline-group"),
    }),
    ("city-market-bureau-2026.txt", {
        ("month", "局党委每月召开1次党委理论学习中心组学习会", "party-committee"),
        ("week", "机关党委每周五下午组织集中学习", "organ-party-committee"),
        ("quarter", "驻局纪检监察组每季度开展1次廉政警示教育", "discipline-group"),
        ("per-event", "在节假日前开展廉洁提醒", "party-committee"),
        ("year", "支部书记每年向机关党委述职1次", "branch-secretary"),
    }),
    ("district-finance-branch-2027.txt", {
        ("month", "党小组每月开展1次学习讨论", "cells"),
        ("quarter", "支部书记每季度讲1次专题党课", "branch-secretary"),
        ("per-event", "在重大财政政策出台前组织党员开展专题学习研讨", "branch"),
        ("year", "年底前完成廉政风险点动态更新", "branch"),
    }),
])
def test_other_offices_plans_draft_their_cadence_clauses(name, expected, tmp_path):
    result = draft_plan(DATA / name, tmp_path / "plan.yaml")
    found = {(d.every, d.source, d.owner) for d in result.draft.duties}
    assert expected <= found
    (tmp_path / "plan.yaml").write_text(result.yaml, encoding="utf-8")
    if result.document_file:
        result.document_file.parent.mkdir(parents=True, exist_ok=True)
        result.document_file.write_text(result.document_text, encoding="utf-8")
    plan, _ = load_plan_file(tmp_path / "plan.yaml")
    assert len(plan.obligations) == len(result.draft.duties) and plan.items


def test_other_offices_targets_read_chinese_numerals_and_rates():
    quotas = draft_plan(DATA / "county-education-2026.txt", Path("plan.yaml").resolve()).draft.quotas
    figures = {(q.source, q.comparator, q.value, q.unit) for q in quotas}
    assert {
        ("全年专题研讨不少于四次", "at_least", 4, "次"),
        ("师德考核合格率98%以上", "at_least", 98, "%"),
        ("创建县级党建示范校5所以上", "at_least", 5, "所"),
        ("违规收费问题同比减少30%", "reduce_by", 30, "%"),
    } <= figures


def test_titles_drop_cadence_and_count_but_keep_what_names_the_duty():
    titles = [d.title for d in draft_of("年底开展年度考核。每季度开展1次优秀文稿评选。开展“月度心得交流”活动。").duties]
    assert titles == ["年度考核", "优秀文稿评选", "“月度心得交流”活动"]
