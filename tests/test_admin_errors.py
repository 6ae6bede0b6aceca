"""The admin's natural mistakes, each answered with the fix: a role written by its name, an
unknown role, full-width punctuation, a monthly day some months lack, a person named by name,
a correction written as -3. And bulk 销号 / 不办理, and the ledger commands going on with the
last good schedule while a file on disk has a typo.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from freezegun import freeze_time

from daemon.plan.errors import ScheduleInvalid
from daemon.plan.loader import load_plan_file
from daemon.store.tables import AuditRow, OccurrenceRow, ProgressRow
from tests.clirun import SCHEDULES, run_cli
from tests.test_ledger_cli import rows as stored

HEAD = """\
plan: {title: 测试计划, year: 2026}
roles:
  youth: 青年干部
  party-group: 室党组
obligations:
"""


def duty(**fields) -> str:
    base = {"id": "study", "item": 1, "title": "学习", "source": "每月学习", "every": "month", "owner": "youth"}
    base.update(fields)
    return "  - {" + ", ".join(f"{k}: {v}" for k, v in base.items()) + "}\n"


def load(tmp_path: Path, *duties: str):
    path = tmp_path / "plan.yaml"
    path.write_text(HEAD + "".join(duties), encoding="utf-8")
    return load_plan_file(path)[0]


def errors(tmp_path: Path, *duties: str) -> str:
    with pytest.raises(ScheduleInvalid) as caught:
        load(tmp_path, *duties)
    return str(caught.value)


# --- the schedule -----------------------------------------------------------------------


def test_role_written_by_its_chinese_name_is_that_role(tmp_path):
    plan = load(tmp_path, duty(owner="青年干部", escalate="{after: 3d, to: 室党组}"))
    assert plan.obligations[0].owner == "youth"
    assert plan.obligations[0].escalate.to == "party-group"


def test_unknown_role_lists_the_roles_there_are(tmp_path):
    message = errors(tmp_path, duty(owner="youth-group"))
    assert "未定义的角色 'youth-group'" in message
    assert "youth(青年干部)" in message and "party-group(室党组)" in message


def test_full_width_comma_in_a_list_of_durations_is_read_as_a_list(tmp_path):
    plan = load(tmp_path, duty(remind="[7d\uff0c1d]"), duty(id="talk", remind="7d\u30011d"))
    assert plan.obligations[0].remind_days == (7, 1)
    assert plan.obligations[1].remind_days == (7, 1)


def test_full_width_colon_is_named_as_the_problem(tmp_path):
    message = errors(tmp_path, duty(due="{day\uff1a25}"))
    assert "全角" in message and "day: 25" in message


def test_full_width_digits_in_a_duration_are_read(tmp_path):
    plan = load(tmp_path, duty(remind="[\uff17d]"))
    assert plan.obligations[0].remind_days == (7,)


def test_monthly_day_30_says_how_to_write_the_months_end_fallback(tmp_path):
    message = errors(tmp_path, duty(due="30"))
    assert "2026年2月没有 30 日" in message and "if_missing: last" in message


def test_monthly_day_30_if_missing_last_is_due_on_the_last_of_february(tmp_path):
    from daemon.plan.expand import expand

    plan = load(tmp_path, duty(due="{day: 30, if_missing: last}", if_not_workday="keep"))
    due = {o.period: o.due for o in expand(plan, date(2026, 1, 1), date(2026, 12, 31))}
    assert due["2026-02"] == date(2026, 2, 28)
    assert due["2026-04"] == date(2026, 4, 30)
    assert due["2026-03"] == date(2026, 3, 30)


def test_role_name_in_the_roster_is_that_role(tmp_path):
    from daemon.plan.roster import load_roster

    roster = tmp_path / "roster.yaml"
    roster.write_text("people:\n  - {id: wu-hao, name: 吴昊, phone: '13800000010', roles: [青年干部]}\n", encoding="utf-8")
    loaded = load_roster(roster, {"youth": "青年干部"})
    assert loaded.people[0].roles == ("youth",) and loaded.people[0].phone == "13800000010"


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'planbell.db'}"


@freeze_time("2026-03-01 08:00:00")
def test_done_by_a_name_records_that_person(db):
    result = run_cli("done", "first-topic-study/2026-03", "--by", "吴昊", database_url=db, go_live="2026-01-01")
    assert result.code == 0, result.err
    (row,) = stored(db, OccurrenceRow, OccurrenceRow.id == "first-topic-study/2026-03")
    assert row.done_by == "wu-hao"


@freeze_time("2026-03-01 08:00:00")
def test_a_name_two_people_share_is_answered_with_both(db, tmp_path):
    schedules = tmp_path / "schedules"
    shutil.copytree(SCHEDULES, schedules)
    roster = schedules / "roster.example.yaml"
    roster.write_text(roster.read_text(encoding="utf-8").replace("name: 孙鹏", "name: 吴昊"), encoding="utf-8")
    result = run_cli("done", "first-topic-study/2026-03", "--by", "吴昊", database_url=db,
                     schedules=schedules, roster=roster)
    assert result.code == 2, result.out
    assert "名册中有 2 人叫 '吴昊'" in result.err and "wu-hao" in result.err and "sun-peng" in result.err


@freeze_time("2026-03-01 08:00:00")
def test_progress_minus_three_subtracts(db):
    assert run_cli("progress", "manuscripts-reviewed", "+12", database_url=db).code == 0
    result = run_cli("progress", "manuscripts-reviewed", "-3", "--note", "重复计数更正", database_url=db)
    assert result.code == 0, result.err
    assert "累计 9 篇" in result.out
    assert [r.total for r in stored(db, ProgressRow)] == [12, 9]


@freeze_time("2026-03-01 08:00:00")
def test_progress_below_zero_is_refused(db):
    result = run_cli("progress", "manuscripts-reviewed", "-3", database_url=db)
    assert result.code == 2 and "不能为负数" in result.err


# --- bulk -------------------------------------------------------------------------------------

YOUTH_PLAN = """\
plan: {title: 青年工作计划, year: 2026}
roles:
  youth: 青年干部
obligations:
  - {id: youth-theory-study, item: 1, title: 青年理论学习, source: 青年干部每月理论学习, every: month, owner: youth}
  - {id: youth-theory-study-club, item: 2, title: 读书会, source: 每月读书会, every: month, owner: youth}
"""
YOUTH_ROSTER = "people:\n  - {id: wu-hao, name: 吴昊, email: wuhao@example.gov.cn, roles: [youth]}\n"


@pytest.fixture
def youth(tmp_path):
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "plan.yaml").write_text(YOUTH_PLAN, encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(YOUTH_ROSTER, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'planbell.db'}"

    def planbell(*args, stdin=None):
        return run_cli(*args, database_url=db, schedules=tmp_path / "schedules", roster=tmp_path / "roster.yaml",
                       stdin=stdin)

    return planbell, db


@freeze_time("2026-11-27 02:00:00")
def test_skip_pattern_before_a_date_changes_exactly_the_matching_occurrences(youth):
    planbell, db = youth
    result = planbell("skip", "youth-theory-study/2026-0*", "--before", "2026-11-01", "--reason", "上线前已完成", "--yes")
    assert result.code == 0, result.err
    skipped = {r.id for r in stored(db, OccurrenceRow, OccurrenceRow.status == "skipped")}
    assert skipped == {f"youth-theory-study/2026-{m:02d}" for m in range(1, 10)}
    audits = stored(db, AuditRow, AuditRow.action == "skip")
    assert sorted(a.subject for a in audits) == sorted(skipped)
    assert {a.detail["reason"] for a in audits} == {"上线前已完成"}
    assert "已记为不需办理 9 项" in result.out
    # --before cuts: of October, November and December only October is due before 1 November.
    autumn = planbell("skip", "youth-theory-study/2026-1*", "--before", "2026-11-01", "--reason", "上线前已完成", "--yes")
    assert autumn.code == 0, autumn.err
    assert "已记为不需办理 1 项" in autumn.out
    assert {r.id for r in stored(db, OccurrenceRow, OccurrenceRow.status == "skipped")} == skipped | {"youth-theory-study/2026-10"}


@freeze_time("2026-11-27 02:00:00")
def test_bulk_done_by_item_and_before_previews_and_waits_for_a_yes(youth):
    planbell, db = youth
    refused = planbell("done", "--item", "2", "--before", "2026-04-01", stdin="n\n")
    assert refused.code != 0
    assert "将把以下 3 项记为已完成" in refused.out and "youth-theory-study-club/2026-03" in refused.out
    assert stored(db, OccurrenceRow, OccurrenceRow.status == "done") == []
    accepted = planbell("done", "--item", "2", "--before", "2026-04-01", stdin="y\n")
    assert accepted.code == 0, accepted.err
    done = {r.id for r in stored(db, OccurrenceRow, OccurrenceRow.status == "done")}
    assert done == {f"youth-theory-study-club/2026-{m:02d}" for m in (1, 2, 3)}
    assert len(stored(db, AuditRow, AuditRow.action == "done")) == 3


@freeze_time("2026-11-27 02:00:00")
def test_bulk_without_ids_or_item_says_what_to_write(youth):
    planbell, _ = youth
    result = planbell("done", "--before", "2026-04-01")
    assert result.code == 2 and "--item" in result.err


# --- a typo on disk --------------------------------------------------------------------------


@freeze_time("2026-03-01 08:00:00")
def test_done_still_records_while_a_file_has_a_typo_and_names_the_file(db, tmp_path):
    schedules = tmp_path / "schedules"
    shutil.copytree(SCHEDULES, schedules)
    roster = schedules / "roster.example.yaml"
    assert run_cli("status", database_url=db, schedules=schedules, roster=roster).code == 0
    plan = schedules / "plan-2026.yaml"
    plan.write_text(plan.read_text(encoding="utf-8").replace("every: quarter", "every: quaterly", 1), encoding="utf-8")

    result = run_cli("done", "first-topic-study/2026-03", "--by", "李娜", database_url=db, schedules=schedules, roster=roster)
    assert result.code == 0, result.err
    assert "已销号" in result.out
    assert f"{plan}:" in result.err and "quaterly" in result.err and "上一个正确版本" in result.err
    (row,) = stored(db, OccurrenceRow, OccurrenceRow.id == "first-topic-study/2026-03")
    assert (row.status, row.done_by) == ("done", "li-na")

    refused = run_cli("validate", schedules, database_url=db, schedules=schedules, roster=roster)
    assert refused.code == 2 and "quaterly" in refused.err
