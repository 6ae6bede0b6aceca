"""Bad schedules: every mistake an admin (or an attacker) can put in a plan or roster file is
refused with the exact line ``FILE:LINE: path: message`` that names the fix, never a traceback.

Each case is a small valid plan (BASE, below) with one thing broken, so the expected list holds
exactly the errors of that one mistake. Line numbers refer to the file as written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.plan.errors import ScheduleInvalid
from daemon.plan.loader import load_plan_file
from daemon.plan.roster import load_roster

# Lines 1–17; a case that appends lines to the obligation starts at line 18.
BASE = """\
plan:
  title: 测试计划
  year: 2026
  items:
    1: 理论学习
    2: 组织建设
roles:
  party-group: 室党组
  party-secretary: 党组书记
  members: 全体党员
obligations:
  - id: monthly-study
    item: 1
    title: 每月专题学习
    source: 每月开展1次专题学习
    every: month
    owner: party-group
"""

# Appended to BASE: lines 18–25.
TARGET = """\
targets:
  - id: members-recruited
    item: 2
    title: 发展党员
    source: 全年发展党员不少于2名
    at_least: 2
    unit: 名
    owner: party-group
"""

DOCUMENT = "一、理论学习。室党组每月开展1次专题学习。\n二、组织建设。全年发展党员不少于2名。\n"
ROLES = {"party-group": "室党组", "party-secretary": "党组书记", "members": "全体党员"}


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} is not once in the base plan"
    return text.replace(old, new)


def with_lines(*lines: str) -> str:
    """BASE with ``lines`` added to its obligation (from line 18)."""
    return BASE + "".join(f"    {line}\n" for line in lines)


def every(cadence: str, *lines: str) -> str:
    return edit("every: month", f"every: {cadence}", with_lines(*lines))


def write(tmp_path: Path, content: str | bytes, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def plan_errors(path: Path) -> list[str]:
    try:
        load_plan_file(path)
    except ScheduleInvalid as exc:
        return [str(e) for e in exc.errors]
    pytest.fail(f"{path.name} was accepted")


def roster_errors(path: Path) -> list[str]:
    try:
        load_roster(path, ROLES)
    except ScheduleInvalid as exc:
        return [str(e) for e in exc.errors]
    pytest.fail(f"{path.name} was accepted")


def test_the_base_plan_and_its_target_are_valid(tmp_path):
    plan, warnings = load_plan_file(write(tmp_path, BASE + TARGET))
    assert [o.id for o in plan.obligations] == ["monthly-study"]
    assert [t.id for t in plan.targets] == ["members-recruited"]


def test_unquoted_send_at_is_read_from_its_text_not_as_yaml_1_1_sexagesimal(tmp_path):
    # YAML 1.1 reads 9:00 as the number 540; the reader uses the text as written.
    plan, _ = load_plan_file(write(tmp_path, edit("  items:", "  defaults:\n    send_at: 9:00\n  items:")))
    assert plan.send_at.isoformat() == "09:00:00"


# (text, expected errors as "LINE: path: message"); the file path is put in front by the test.
PLAN_CASES = [
    # --- YAML syntax: the line to fix, and how ---------------------------------------------
    pytest.param(
        edit("  year: 2026", "\tyear: 2026"),
        ["3: YAML 语法错误:不能用 Tab 缩进,请改用空格"],
        id="tab-indentation",
    ),
    pytest.param(
        edit("title: 测试计划", 'title: "测试计划'),
        ["2: YAML 语法错误:这一行的引号没有闭合;请补上配对的引号"],  # not the last line, where YAML noticed
        id="unclosed-quote",
    ),
    pytest.param(
        edit("    every: month", "    every month"),
        ["16: YAML 语法错误:这一行缺少 '键: 值' 里的冒号(冒号后面要有空格)"],
        id="missing-colon",
    ),
    pytest.param(
        with_lines("participants: [members, party-secretary", "remind: [1d]"),
        ["18: YAML 语法错误:这一行的 [ 或 { 没有闭合,或其中的项之间缺少逗号"],
        id="unclosed-bracket",
    ),
    pytest.param(
        edit("    owner: party-group", "   owner: party-group"),
        ["17: YAML 语法错误:这一行的缩进和上面同一级的项没有对齐;请检查缩进"],
        id="misaligned-indentation",
    ),
    pytest.param(
        BASE + "---\nplan: {}\n",
        ["18: YAML 语法错误:一个文件只能写一份日程;请删去这一行的 '---' 及其后的内容,或另存为一个文件"],
        id="two-documents",
    ),
    # --- wrong types -------------------------------------------------------------------------
    pytest.param(
        edit("year: 2026", "year: 二〇二六"),
        ["3: plan.year: 应是 2000 到 2100 之间的整数,而不是'二〇二六'"],
        id="year-as-text",
    ),
    pytest.param(
        edit("year: 2026", "year: 1999"),
        ["3: plan.year: 1999 超出范围;应在 2000 到 2100 之间"],
        id="year-out-of-range",
    ),
    pytest.param(
        edit("title: 测试计划", "title: [测试, 计划]"),
        ["2: plan.title: 这里应是一段文字,而不是一个列表"],
        id="title-as-list",
    ),
    pytest.param(
        with_lines("remind: [7d, 明天]"),
        ["18: obligations[0].remind[1]: '明天' 不是时长;请写成天数或周数,如 7d、1d、2w"],
        id="remind-not-a-duration",
    ),
    pytest.param(
        with_lines("remind: [7]"),
        ["18: obligations[0].remind[0]: '7' 不是时长;请写成天数或周数,如 7d、1d、2w"],
        id="remind-without-unit",
    ),
    pytest.param(
        with_lines("escalate: yes please"),
        ["18: obligations[0].escalate: 应写成 {after: 3d, to: party-secretary},不需要升级提醒则写 false;而不是'yes please'"],
        id="escalate-not-a-mapping",
    ),
    pytest.param(
        BASE[:BASE.index("obligations:")] + "obligations:\n  id: monthly-study\n",
        ["11: obligations: 这里应是一个列表(每项以 '- ' 开头),而不是一组键值(映射)"],
        id="obligations-not-a-list",
    ),
    # --- unknown and misspelt keys and values ------------------------------------------------
    pytest.param(
        edit("every:", "evry:"),
        ["16: obligations[0].evry: 未知的键 'evry';您是不是想写 'every'?"],  # one mistake, one error
        id="misspelt-key-evry",
    ),
    pytest.param(
        edit("  year: 2026\n", "  year: 2026\n  colour: red\n"),
        ["4: plan.colour: 未知的键 'colour';可用的键:title、year、office、timezone、document、calendar、defaults、items"],
        id="unknown-key-lists-the-keys",
    ),
    pytest.param(
        edit("every: month", "every: quaterly"),
        ["16: obligations[0].every: 'quaterly' 不是可用的周期;您是不是想写 'quarter'?"],
        id="cadence-quaterly",
    ),
    pytest.param(
        edit("every: month", "every: monthy"),
        ["16: obligations[0].every: 'monthy' 不是可用的周期;您是不是想写 'month'?"],
        id="cadence-monthy",
    ),
    pytest.param(
        edit("  items:", "  calendar:\n    country: cn\n  items:"),
        ["5: plan.calendar.country: 'cn' 不是 holidays 包支持的国家代码;您是不是想写 'CN'?"],
        id="country-lowercase",
    ),
    pytest.param(
        edit("  year: 2026\n", "  year: 2026\n  timezone: Asia/Shanghia\n"),
        ["4: plan.timezone: 'Asia/Shanghia' 不是 IANA 时区名;您是不是想写 'Asia/Shanghai'?"],
        id="timezone-misspelt",
    ),
    pytest.param(
        edit("  items:", '  defaults:\n    send_at: "25:00"\n  items:'),
        ["5: plan.defaults.send_at: '25:00' 不是时刻;请写成带引号的 24 小时制,如 \"09:00\""],
        id="send-at-25",
    ),
    pytest.param(
        edit("  items:", "  defaults:\n    send_at: nine\n  items:"),
        ["5: plan.defaults.send_at: 'nine' 不是时刻;请写成带引号的 24 小时制,如 \"09:00\""],
        id="send-at-nine",
    ),
    # --- references: roles, items, ids -------------------------------------------------------
    pytest.param(
        edit("owner: party-group", "owner: party-grop"),
        ["17: obligations[0].owner: 未定义的角色 'party-grop';您是不是想写 'party-group'?;可用的角色(写 id 或名称均可):party-group(室党组)、party-secretary(党组书记)、members(全体党员)(或在 roles 中添加它)"],
        id="unknown-owner",
    ),
    pytest.param(
        with_lines("for_each: member"),
        ["18: obligations[0].for_each: 未定义的角色 'member';您是不是想写 'members'?;可用的角色(写 id 或名称均可):party-group(室党组)、party-secretary(党组书记)、members(全体党员)(或在 roles 中添加它)"],
        id="unknown-for-each",
    ),
    pytest.param(
        with_lines("participants: [members, party-secretery]"),
        ["18: obligations[0].participants[1]: 未定义的角色 'party-secretery';您是不是想写 'party-secretary'?;可用的角色(写 id 或名称均可):party-group(室党组)、party-secretary(党组书记)、members(全体党员)(或在 roles 中添加它)"],
        id="unknown-participant",
    ),
    pytest.param(
        with_lines("escalate: {after: 3d, to: secretary}"),
        ["18: obligations[0].escalate.to: 未定义的角色 'secretary';您是不是想写 'party-secretary'?;可用的角色(写 id 或名称均可):party-group(室党组)、party-secretary(党组书记)、members(全体党员)(或在 roles 中添加它)"],
        id="unknown-escalate-to",
    ),
    pytest.param(
        edit("item: 1", "item: 7"),
        ["13: obligations[0].item: 条目 7 不在 plan.items 中(已有编号 1–2);请改用已有的编号,或在 plan.items 中添加它"],
        id="unknown-item",
    ),
    pytest.param(
        BASE + BASE[BASE.index("  - id:"):],
        ["18: obligations[1].id: 重复的 id 'monthly-study'(第 12 行已用过);每项职责和指标的 id 都要不同"],
        id="duplicate-obligation-id",
    ),
    pytest.param(
        BASE + edit("id: members-recruited", "id: monthly-study", TARGET),
        ["19: targets[0].id: 重复的 id 'monthly-study'(第 12 行已用过);每项职责和指标的 id 都要不同"],
        id="target-reuses-obligation-id",
    ),
    pytest.param(
        with_lines("owner: members"),
        ["18: obligations[0].owner: 重复的键 'owner'(第 17 行已有);请删去其中一个"],
        id="duplicate-yaml-key",
    ),
    # --- dates and due rules -----------------------------------------------------------------
    pytest.param(
        edit("  items:", "  calendar:\n    extra_holidays: [2026-02-30]\n  items:"),
        ["5: plan.calendar.extra_holidays[0]: '2026-02-30' 不是存在的日期;请检查月份和日期(如 2026-02-28)"],
        id="extra-holiday-feb-30",
    ),
    pytest.param(
        every("once", "due: 2026-02-30"),
        ["18: obligations[0].due: '2026-02-30' 不是存在的日期;请检查月份和日期(如 2026-02-28)"],
        id="once-due-feb-30",
    ),
    pytest.param(
        every("once", "due: 2025-12-20"),
        ["18: obligations[0].due: 2025-12-20 不在计划年度 2026 年内"],
        id="once-due-other-year",
    ),
    pytest.param(
        every("once"),
        ["12: obligations[0]: every: once 需要写 due 日期,如 due: 2026-12-20"],
        id="once-without-due",
    ),
    pytest.param(
        with_lines("due: 2026-03-05"),
        ["18: obligations[0].due: 固定日期只用于 every: once;every: month 请写 {day: 25} 或 {month: 3, day: 20}"],
        id="fixed-date-on-monthly",
    ),
    pytest.param(
        every("quarter", "due: {month: 4, day: 10}"),
        ["18: obligations[0].due: month: 4 超出了周期:month 是每期内的第几个月,every: quarter 只能写 1 到 3"],
        id="quarter-month-4",
    ),
    pytest.param(
        every("year", "due: {month: 2, day: 30}"),
        ["18: obligations[0].due: 2026年2月没有 30 日;要表示“30 日,没有这一天的月份取月底”请写 due: {day: 30, if_missing: last};要表示每月月底请写 day: last"],
        id="year-feb-30",
    ),
    pytest.param(
        with_lines("due: {day: 31}"),
        ["18: obligations[0].due: 2026年2月没有 31 日;要表示“31 日,没有这一天的月份取月底”请写 due: {day: 31, if_missing: last};要表示每月月底请写 day: last"],
        id="monthly-day-31",
    ),
    pytest.param(
        with_lines("due: {weekday: fri, nth: 5}"),
        ["18: obligations[0].due: 2026年2月没有第 5 个周五;要表示最后一个请写 nth: -1"],
        id="monthly-fifth-friday",
    ),
    pytest.param(
        with_lines("due: {day: 5, weekday: fri}"),
        ["18: obligations[0].due: day 和 weekday 只能选一个:day 是几号,weekday 是星期几,workday 是第几个工作日"],
        id="day-and-weekday",
    ),
    pytest.param(
        with_lines("due: {nth: 2}"),
        ["18: obligations[0].due: nth(第几个)要和 weekday(星期几)一起写,如 {weekday: fri, nth: 2}"],
        id="nth-without-weekday",
    ),
    pytest.param(
        with_lines("due: {weekday: fryday, nth: 2}"),
        ["18: obligations[0].due.weekday: 'fryday' 不是星期几;您是不是想写 'friday'?"],
        id="weekday-misspelt",
    ),
    pytest.param(
        every("per-event", "due: {day: 5}"),
        ["18: obligations[0].due: every: per-event 的日期由事件决定,due 只能写 {after: 5wd}(事件后第 5 个工作日到期);否则请删去 due"],
        id="due-on-per-event",
    ),
    # --- rrule -------------------------------------------------------------------------------
    pytest.param(
        edit("every: month", 'every: "rrule:FREQ=MONTHLY;BYMONTHDAY=abc"'),
        ["16: obligations[0].every: rrule 写法不对(invalid 'BYMONTHDAY': ABC);请按 RFC 5545 书写,如 rrule:FREQ=MONTHLY;BYMONTHDAY=15"],
        id="rrule-bad-syntax",
    ),
    pytest.param(
        edit("every: month", 'every: "rrule:DTSTART=20260101;FREQ=MONTHLY"'),
        ["16: obligations[0].every: rrule 里不要写 DTSTART;规则从计划年度的 1 月 1 日开始"],
        id="rrule-dtstart",
    ),
    pytest.param(
        edit("every: month", 'every: "rrule:FREQ=HOURLY"'),
        ["16: obligations[0].every: rrule 需要 FREQ=YEARLY/MONTHLY/WEEKLY/DAILY 之一(精确到天),如 rrule:FREQ=MONTHLY;BYMONTHDAY=15"],
        id="rrule-hourly",
    ),
    pytest.param(
        edit("every: month", 'every: "rrule:FREQ=DAILY;BYHOUR=9,15"'),
        ["16: obligations[0].every: rrule 只精确到天,不要写 BYHOUR/BYMINUTE/BYSECOND;提醒的时刻由 plan.defaults.send_at 决定"],
        id="rrule-byhour",
    ),
    pytest.param(
        edit("every: month", 'every: "rrule:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"'),
        ["16: obligations[0].every: 这条 rrule 在 2026 年里一个日期也没有;请检查各项 BY… 条件能否同时成立(如 2 月没有 30 日)"],
        id="rrule-no-date-in-the-year",
    ),
    # --- targets -----------------------------------------------------------------------------
    pytest.param(
        BASE + edit("    at_least: 2\n", "", TARGET),
        ["19: targets[0]: 要写且只写一个指标要求(at_least、at_most、exactly、reduce_by),如 at_least: 500"],
        id="target-without-comparator",
    ),
    pytest.param(
        BASE + edit("    at_least: 2\n", "    at_least: 2\n    at_most: 5\n", TARGET),
        ["19: targets[0]: 要写且只写一个指标要求(at_least、at_most、exactly、reduce_by),如 at_least: 500"],
        id="target-with-two-comparators",
    ),
    pytest.param(
        BASE + edit("    at_least: 2\n    unit: 名", "    reduce_by: 10\n    unit: 篇", TARGET),
        ["24: targets[0].unit: reduce_by 是同比减少的百分比,unit 请写 '%'"],
        id="reduce-by-in-articles",
    ),
    pytest.param(
        BASE + edit("    at_least: 2\n    unit: 名", "    reduce_by: 120\n    unit: '%'", TARGET),
        ["23: targets[0].reduce_by: 120% 超过了 100%"],
        id="reduce-by-120-percent",
    ),
    pytest.param(
        BASE + TARGET + "    period: week\n",
        ["26: targets[0].period: 'week' 不是可用的周期;可选:month、quarter、half-year、year"],
        id="target-period-week",
    ),
    # --- missing pieces ----------------------------------------------------------------------
    pytest.param(
        edit("    title: 每月专题学习\n", "", edit("    owner: party-group\n", "")),
        ["12: obligations[0]: 缺少必填项 'owner'", "12: obligations[0]: 缺少必填项 'title'"],
        id="obligation-missing-title-and-owner",
    ),
    pytest.param(
        edit("  title: 测试计划\n", ""),
        ["1: plan: 缺少必填项 'title'"],
        id="plan-missing-title",
    ),
    pytest.param(
        BASE[BASE.index("roles:"):],
        ["1: 缺少必填项 'plan'"],
        id="no-plan-section",
    ),
    pytest.param("", ["1: 文件是空的;日程至少需要 plan: 一节"], id="empty-file"),
    pytest.param("# 只有注释\n\n", ["1: 文件是空的;日程至少需要 plan: 一节"], id="only-comments"),
    pytest.param(
        "- plan: x\n- year: 2026\n",
        ["1: 文件顶层应是 plan:、roles:、obligations:、targets: 这样的 '键: 值',而不是一个列表"],
        id="top-level-list",
    ),
    pytest.param(
        BASE.encode("gbk"),
        ["1: 文件不是 UTF-8 编码;请用 UTF-8 保存(记事本“另存为”可选编码)"],
        id="not-utf8",
    ),
    # --- hostile YAML --------------------------------------------------------------------------
    pytest.param(
        with_lines('note: !!python/object/apply:os.system ["echo hi"]'),
        ["18: 不允许 YAML 标签 '!!python/object/apply:os.system';日程只能包含普通文字、数字和日期,请删去该标签"],
        id="python-object-tag",
    ),
    pytest.param(
        edit("title: 每月专题学习", "title: !secret 每月专题学习"),
        ["14: 不允许 YAML 标签 '!secret';日程只能包含普通文字、数字和日期,请删去该标签"],
        id="custom-tag",
    ),
    pytest.param(
        with_lines("participants: &everyone [members]", "remind: *everyone"),
        ["19: 不支持 YAML 别名 '*everyone';请把内容直接写出来(共用的设置可放在 plan.defaults)"],
        id="alias",
    ),
    pytest.param(
        with_lines("<<: {remind: [1d]}"),
        ["18: obligations[0]: 不支持 YAML 合并键 '<<';请把内容直接写出来"],
        id="merge-key",
    ),
    pytest.param(
        "plan:\n  title: " + "[" * 200 + "]" * 200 + "\n",
        ["2: 嵌套超过 20 层,日程不需要这么深;请检查缩进"],
        id="nested-200-flow",
    ),
    pytest.param(
        "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
        ["21: 嵌套超过 20 层,日程不需要这么深;请检查缩进"],
        id="nested-200-block",
    ),
    pytest.param(
        BASE + "# " + "x" * (1 << 20) + "\n",
        ["1: 文件超过 1024 KiB,不像手写的日程;请检查是否放错了文件"],
        id="over-1-mib",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PLAN_CASES)
def test_bad_plan_is_refused_with_exact_errors(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert plan_errors(path) == [f"{path}:{line}" for line in expected]


def test_source_not_in_the_document(tmp_path):
    (tmp_path / "plan.txt").write_text(DOCUMENT, encoding="utf-8")
    with_document = edit("  year: 2026\n", "  year: 2026\n  document: plan.txt\n")
    load_plan_file(write(tmp_path, with_document + TARGET))  # both sources are quoted verbatim
    path = write(tmp_path, edit("每月开展1次专题学习", "每月开展2次专题学习", with_document))
    assert plan_errors(path) == [
        f"{path}:16: obligations[0].source: 在原文中找不到这句话;请从原文逐字复制(全角标点也要一致),"
        "不是原文的要求请用 basis 注明出处",
    ]


def test_every_error_of_a_file_is_reported_at_once(tmp_path):
    text = (
        edit("year: 2026", "year: twenty")
        .replace("  items:", "  timezone: Asia/Shanghia\n  items:")
        .replace("every: month", "every: monthy")
        .replace("owner: party-group", "owner: party-grop")
    ) + edit("item: 2", "item: 9", edit("    at_least: 2\n", "", TARGET))
    path = write(tmp_path, text)
    errors = plan_errors(path)
    assert len(errors) == 6
    assert errors == [
        f"{path}:3: plan.year: 应是 2000 到 2100 之间的整数,而不是'twenty'",
        f"{path}:4: plan.timezone: 'Asia/Shanghia' 不是 IANA 时区名;您是不是想写 'Asia/Shanghai'?",
        f"{path}:17: obligations[0].every: 'monthy' 不是可用的周期;您是不是想写 'month'?",
        f"{path}:18: obligations[0].owner: 未定义的角色 'party-grop';您是不是想写 'party-group'?;可用的角色(写 id 或名称均可):party-group(室党组)、party-secretary(党组书记)、members(全体党员)(或在 roles 中添加它)",
        f"{path}:20: targets[0]: 要写且只写一个指标要求(at_least、at_most、exactly、reduce_by),如 at_least: 500",
        f"{path}:21: targets[0].item: 条目 9 不在 plan.items 中(已有编号 1–2);请改用已有的编号,或在 plan.items 中添加它",
    ]


# --- hostile input is refused quickly ------------------------------------------------------


def test_billion_laughs_is_refused_at_the_first_alias_quickly(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    start = time.perf_counter()
    errors = plan_errors(path)
    assert time.perf_counter() - start < 1
    assert errors == [f"{path}:2: 不支持 YAML 别名 '*a0';请把内容直接写出来(共用的设置可放在 plan.defaults)"]


def test_an_rrule_with_no_date_ever_is_refused_quickly(tmp_path):
    # dateutil alone walks day by day to the year 9999 looking for a 30 February.
    path = write(tmp_path, edit("every: month", 'every: "rrule:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"'))
    start = time.perf_counter()
    errors = plan_errors(path)
    assert time.perf_counter() - start < 1
    assert errors == [
        f"{path}:16: obligations[0].every: 这条 rrule 在 2026 年里一个日期也没有;"
        "请检查各项 BY… 条件能否同时成立(如 2 月没有 30 日)",
    ]


# --- loading never raises anything but ScheduleInvalid ---------------------------------------

VALUES = ["[]", "{}", "", "~", "-1", "x", "2026-02-30", "[x, 1]", "{a: 1}", "true", ".nan", "last"]


def test_any_value_anywhere_gives_schedule_invalid_or_a_plan(tmp_path):
    """Each line of BASE + TARGET gets four of VALUES in turn, so every value meets
    every kind of field without trying all pairs (kept under a second)."""
    lines = (BASE + TARGET).splitlines()
    path = tmp_path / "plan.yaml"
    for i, line in enumerate(lines):
        key, sep, _ = line.partition(":")
        if not sep:
            continue
        for value in (VALUES * 2)[i % len(VALUES):][:4]:
            mutated = [*lines[:i], f"{key}: {value}", *lines[i + 1:]]
            path.write_text("\n".join(mutated) + "\n", encoding="utf-8")
            try:
                load_plan_file(path)
            except ScheduleInvalid as exc:
                assert exc.errors, mutated[i]
                assert all(e.file == str(path) and e.line >= 1 and e.message for e in exc.errors)


# --- roster --------------------------------------------------------------------------------

PERSON = "people:\n  - id: zhang-wei\n    name: 张伟\n    email: zhangwei@example.gov.cn\n    roles: [members]\n"

ROSTER_CASES = [
    pytest.param(
        PERSON.replace("roles: [members]", "roles: [party-grop, members]"),
        ["5: people[0].roles[0]: 未定义的角色 'party-grop';您是不是想写 'party-group'?;可用的角色(写 id 或名称均可):party-group(室党组)、party-secretary(党组书记)、members(全体党员)"],
        id="unknown-role",
    ),
    pytest.param(
        PERSON.replace("zhangwei@example.gov.cn", "zhangwei@example"),
        ["4: people[0].email: 'zhangwei@example' 不是有效的邮箱地址,如 zhangwei@example.gov.cn"],
        id="bad-email",
    ),
    pytest.param(
        PERSON.replace("zhangwei@example.gov.cn", "张伟 <zhangwei@example.gov.cn>"),
        ["4: people[0].email: '张伟 <zhangwei@example.gov.cn>' 不是有效的邮箱地址,如 zhangwei@example.gov.cn"],
        id="email-with-display-name",
    ),
    pytest.param(
        PERSON + PERSON[len("people:\n"):].replace("zhangwei@", "zw2@").replace("张伟", "张威"),
        ["6: people[1]: id 'zhang-wei' 与第 2 行的人重复;每人的 id 要不同"],
        id="duplicate-person-id",
    ),
    pytest.param(
        "- id: zhang-wei\n",
        ["1: 名册顶层应是 'people:',人员逐个列在它下面(每人以 '- ' 开头),而不是一个列表"],
        id="top-level-list",
    ),
    pytest.param("", ["1: 文件是空的;名册需要 people: 列表"], id="empty"),
]


@pytest.mark.parametrize(("text", "expected"), ROSTER_CASES)
def test_bad_roster_is_refused_with_exact_errors(tmp_path, text, expected):
    path = write(tmp_path, text, "roster.yaml")
    assert roster_errors(path) == [f"{path}:{line}" for line in expected]


# --- the CLI: exit status 2, every line on stderr, no traceback -------------------------------

PLANBELL = Path(sys.executable).with_name("planbell")


def planbell(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANBELL_")}
    return subprocess.run(
        [str(PLANBELL), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )


def test_cli_validate_prints_every_error_and_exits_2(tmp_path):
    path = write(tmp_path, edit("every: month", "every: monthy", edit("owner: party-group", "owner: party-grop")))
    result = planbell(tmp_path, "validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{path}:16: obligations[0].every: 'monthy' 不是可用的周期;您是不是想写 'month'?",
        f"{path}:17: obligations[0].owner: 未定义的角色 'party-grop';您是不是想写 'party-group'?;可用的角色(写 id 或名称均可):party-group(室党组)、party-secretary(党组书记)、members(全体党员)(或在 roles 中添加它)",
        "日程有 2 处错误,未加载;请按上面的提示修改后重试。",
    ]


def test_cli_validate_reports_plan_and_roster_errors_together(tmp_path):
    plan = write(tmp_path, BASE.encode("gbk"), "plan.yaml")
    roster = write(tmp_path, PERSON.replace("zhangwei@example.gov.cn", "zhangwei@example"), "roster.yaml")
    result = planbell(tmp_path, "validate", str(plan), str(roster))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{plan}:1: 文件不是 UTF-8 编码;请用 UTF-8 保存(记事本“另存为”可选编码)",
        f"{roster}:4: people[0].email: 'zhangwei@example' 不是有效的邮箱地址,如 zhangwei@example.gov.cn",
        "日程有 2 处错误,未加载;请按上面的提示修改后重试。",
    ]


def test_cli_validate_refuses_hostile_yaml_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, f'!!python/object/apply:os.system ["touch {marker}"]\n')
    result = planbell(tmp_path, "validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        f"{path}:1: 不允许 YAML 标签 '!!python/object/apply:os.system';日程只能包含普通文字、数字和日期,请删去该标签"
    )
    assert not marker.exists()


def test_cli_agenda_with_an_impossible_date_exits_2_in_chinese(tmp_path):
    result = planbell(tmp_path, "agenda", "--from", "2026-13-01")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "错误:--from 的值有误:'2026-13-01' 不是有效日期;请写成 YYYY-MM-DD,如 2026-03-25",
        "用法见:planbell agenda --help",
    ]
