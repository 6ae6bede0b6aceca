"""A small 2026 plan for an office of two 支部, with one duty of each new shape: talks paired
within each branch, a branch's own meeting, each 分管领导's own 调度, a monthly 通报 after the
month, the December 日常考核 before the 年度考核, titled events, and a per-person quota."""

from __future__ import annotations

from pathlib import Path

PLAN = """\
plan:
  title: 两支部机关2026年工作计划
  year: 2026
  timezone: Asia/Shanghai
  calendar: {country: CN}
  defaults: {send_at: "09:00", remind: [7d, 1d], escalate: false}
  items:
    1: 廉政谈话
    2: 支部建设
    3: 分管调度
    4: 通报与考核
    5: 调研

roles:
  party-secretary: 党组书记
  supervising-leaders: 分管领导
  office: 办公室
  branch: {name: 支部委员会, scope: branch}
  branch-secretary: {name: 支部书记, scope: branch, one: true}
  members: {name: 全体党员, scope: branch}
  staff: 全体干部

obligations:
  - id: talks
    item: 1
    title: 支部书记与党员谈话
    source: 支部书记与党员每月谈话1次
    every: month
    due: {day: 25}
    owner: branch-secretary
    for_each: members

  - id: branch-meeting
    item: 2
    title: 支部委员会会议
    source: 支部委员会每月召开1次会议
    every: month
    due: {day: 20}
    owner: branch

  - id: dispatch
    item: 3
    title: 分管领导工作调度
    source: 分管领导每月开展1次工作调度
    every: month
    due: {day: 25}
    owner: supervising-leaders
    each: true

  - id: bulletin
    item: 4
    title: 月度通报
    source: 每月通报工作进展
    every: month
    due: {after: 5wd}
    owner: office

  - id: monthly-assessment
    item: 4
    title: 日常考核
    source: 每月开展1次日常考核
    every: month
    due: {after: 5wd, before: annual-assessment}
    owner: office

  - id: annual-assessment
    item: 4
    title: 年度考核
    source: 年底开展年度考核
    every: year
    due: {month: 12, day: 20}
    owner: party-secretary

  - id: briefing
    item: 5
    title: 调研前政治纪律交底
    source: 重点课题调研前开展政治纪律交底
    every: per-event
    owner: supervising-leaders

targets:
  - id: research-days
    item: 5
    title: 干部每月深入基层调研天数
    source: 干部每月深入基层调研不少于5天
    at_least: 5
    unit: 天
    period: month
    owner: staff
    per: staff
    report: month
"""

ROSTER = """\
branches:
  - {id: b1, name: 第一支部}
  - {id: b2, name: 第二支部}

people:
  - {id: boss, name: 张书记, email: boss@example.gov.cn, branch: b1, roles: [party-secretary, members, staff]}
  - {id: lead-a, name: 李分管, email: lead-a@example.gov.cn, branch: b1, roles: [supervising-leaders, members, staff]}
  - {id: lead-b, name: 刘分管, email: lead-b@example.gov.cn, branch: b2, roles: [supervising-leaders, members, staff]}
  - {id: sec-1, name: 陈一书, email: sec-1@example.gov.cn, branch: b1, roles: [branch-secretary, branch, members, staff]}
  - {id: m1a, name: 党员一甲, email: m1a@example.gov.cn, branch: b1, roles: [members, staff]}
  - {id: m1b, name: 党员一乙, email: m1b@example.gov.cn, branch: 第一支部, roles: [members, staff, admin]}
  - {id: sec-2, name: 黄二书, email: sec-2@example.gov.cn, branch: b2, roles: [branch-secretary, branch, members, staff]}
  - {id: m2a, name: 党员二甲, email: m2a@example.gov.cn, branch: b2, roles: [members, staff]}
  - {id: clerk, name: 办事员, email: clerk@example.gov.cn, roles: [office, staff]}
"""


def write(folder: Path, plan: str = PLAN, roster: str = ROSTER) -> tuple[Path, Path]:
    """The plan into ``folder``/schedules and the roster beside it; returns (schedules, roster)."""
    schedules = folder / "schedules"
    schedules.mkdir(parents=True, exist_ok=True)
    (schedules / "plan.yaml").write_text(plan, encoding="utf-8")
    roster_path = folder / "roster.yaml"
    roster_path.write_text(roster, encoding="utf-8")
    return schedules, roster_path
