"""The commands that write the ledger (done, skip, reopen, event, progress), status, db upgrade,
and the year-end export `planbell ledger` read back with real parsers (csv, openpyxl, json).

Every test has its own SQLite file in tmp_path; the bundled 2026 plan and the example roster.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime

import openpyxl
import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import Session

from daemon.store.tables import AuditRow, EventRow, MessageRow, OccurrenceRow, ProgressRow
from tests.clirun import FROZEN, run_cli

STUDY = "first-topic-study/2026-03"  # due 2026-03-25 (Wednesday)
FOCUS = "monthly-study-focus/2026-03"  # due 2026-03-05
JOINT = "provincial-joint-research/2026-Q1"
COMMITTEE = "branch-committee-meeting/2026-01/branch-1"  # the first 支部's, due 2026-01-23, never done below


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'planbell.db'}"


def planbell(db: str, *args):
    return run_cli(*args, database_url=db)


def rows(db: str, model, *where):
    engine = create_engine(db)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(model).where(*where)))
    finally:
        engine.dispose()


def occurrence(db: str, occurrence_id: str) -> OccurrenceRow:
    (row,) = rows(db, OccurrenceRow, OccurrenceRow.id == occurrence_id)
    return row


def pending_for(db: str, occurrence_id: str) -> list[MessageRow]:
    pending = rows(db, MessageRow, MessageRow.status == "pending")
    return [m for m in pending if any(i.get("occurrence") == occurrence_id for i in m.content.get("items", ()))]


def assert_refused(result, *phrases: str) -> None:
    assert result.code == 2, (result.out, result.err)
    assert "Traceback" not in result.err
    assert result.err.startswith("错误:"), result.err
    for phrase in phrases:
        assert phrase in result.err, result.err


# --- done ----------------------------------------------------------------------------------


def test_done_records_person_note_and_evidence_and_counts_days_late_in_local_time(db):
    # 17:00 UTC on the 25th is 01:00 on the 26th in Shanghai: one day late, not on time.
    with freeze_time("2026-03-25 17:00:00"):  # (in service since January: the 25th was owed)
        result = run_cli("done", STUDY, "--by", "zhang-wei", "--note", "学习《选读》第二卷",
                         "--evidence", "OA-2026-031", database_url=db, go_live="2026-01-01")
    assert result.code == 0, result.err
    assert "已销号" in result.out and "逾期 1 天" in result.out
    row = occurrence(db, STUDY)
    assert (row.status, row.done_by, row.note, row.evidence) == ("done", "zhang-wei", "学习《选读》第二卷", "OA-2026-031")
    assert row.done_at == datetime.fromisoformat("2026-03-25T17:00:00+00:00")
    (audit,) = rows(db, AuditRow, AuditRow.action == "done")
    assert audit.subject == STUDY and audit.detail["by"] == "zhang-wei"


@freeze_time(FROZEN)
def test_done_before_the_due_date_says_on_time(db):
    result = planbell(db, "done", STUDY)
    assert result.code == 0, result.err
    assert "按期完成" in result.out


@freeze_time(FROZEN)
def test_done_twice_changes_nothing_the_second_time(db):
    first = planbell(db, "done", STUDY, "--by", "zhang-wei", "--note", "第一次")
    second = planbell(db, "done", STUDY, "--by", "li-na", "--note", "第二次")
    assert first.code == second.code == 0, second.err
    assert second.out.startswith("此前已销号")
    row = occurrence(db, STUDY)
    assert (row.done_by, row.note) == ("zhang-wei", "第一次")
    assert len(rows(db, AuditRow, AuditRow.action == "done")) == 1


@freeze_time(FROZEN)
def test_done_unknown_occurrence_suggests_the_close_id(db):
    assert_refused(planbell(db, "done", "first-topic-study/2026-3"), f"您是不是想写 '{STUDY}'")


@freeze_time(FROZEN)
def test_done_unknown_person_is_refused_with_a_suggestion(db):
    assert planbell(db, "status").code == 0
    assert_refused(planbell(db, "done", STUDY, "--by", "zhangwei"), "名册中没有 'zhangwei'", "'zhang-wei'")
    assert occurrence(db, STUDY).status == "open"


@freeze_time(FROZEN)
def test_done_duty_gets_no_further_reminders(db):
    assert planbell(db, "status").code == 0
    before = pending_for(db, STUDY)
    assert before, "the duty should have reminders planned before it is checked off"
    assert planbell(db, "done", STUDY).code == 0
    assert pending_for(db, STUDY) == []
    by_id = {m.id: m for m in rows(db, MessageRow)}
    for message in before:
        # Reminders are one message per person and day: one about this duty alone is
        # cancelled, one that also carries other duties stays pending without it.
        rest = [i for i in message.content["items"] if i["occurrence"] != STUDY]
        after = by_id[message.id]
        assert (after.status, after.content["items"]) == ("pending", rest) if rest else after.status == "cancelled"


# --- skip, reopen --------------------------------------------------------------------------


@freeze_time(FROZEN)
def test_skip_records_the_reason_and_stops_reminders(db):
    result = planbell(db, "skip", JOINT, "--reason", "省级联合调研本季度暂停")
    assert result.code == 0, result.err
    assert "已记为不需办理" in result.out
    row = occurrence(db, JOINT)
    assert (row.status, row.note) == ("skipped", "省级联合调研本季度暂停")
    assert pending_for(db, JOINT) == []


@freeze_time(FROZEN)
def test_skip_needs_a_reason(db):
    result = planbell(db, "skip", JOINT)
    assert result.code == 2 and "--reason" in result.err


@freeze_time(FROZEN)
def test_reopen_undoes_a_check_off_and_reminders_come_back(db):
    assert planbell(db, "done", STUDY, "--by", "zhang-wei", "--note", "x").code == 0
    result = planbell(db, "reopen", STUDY)
    assert result.code == 0, result.err
    assert "已重新打开" in result.out
    row = occurrence(db, STUDY)
    assert (row.status, row.done_at, row.done_by, row.note) == ("open", None, None, None)
    assert pending_for(db, STUDY)
    again = planbell(db, "reopen", STUDY)
    assert again.code == 0 and "本来就是未完成状态" in again.out


# --- event ---------------------------------------------------------------------------------


@freeze_time(FROZEN)
def test_event_creates_an_occurrence_due_that_day(db):
    result = planbell(db, "event", "political-discipline-briefing", "--date", "2026-03-10", "--by", "li-na")
    assert result.code == 0, result.err
    assert "political-discipline-briefing/2026-03-10" in result.out
    (event,) = rows(db, EventRow)
    assert (event.obligation, event.on) == ("political-discipline-briefing", date(2026, 3, 10))
    created = rows(db, OccurrenceRow, OccurrenceRow.id.like("political-discipline-briefing/2026-03-10%"))
    assert created and all(r.due == date(2026, 3, 10) and r.status == "open" for r in created)
    again = planbell(db, "event", "political-discipline-briefing", "--date", "2026-03-10")
    assert again.code == 0 and "此前已记录" in again.out
    assert len(rows(db, EventRow)) == 1


@freeze_time(FROZEN)
def test_event_on_a_scheduled_obligation_is_refused(db):
    assert_refused(planbell(db, "event", "first-topic-study", "--date", "2026-03-10"), "不是 2026 年按事件")
    assert_refused(planbell(db, "event", "political-discipline-brefing", "--date", "2026-03-10"),
                   "'political-discipline-briefing'")


# --- progress ------------------------------------------------------------------------------


@freeze_time(FROZEN)
def test_progress_adds_and_sets(db):
    added = planbell(db, "progress", "manuscripts-reviewed", "+12", "--note", "3月第1周")
    assert added.code == 0, added.err
    assert "累计 12 篇" in added.out and "不少于 500 篇" in added.out
    more = planbell(db, "progress", "manuscripts-reviewed", "+8")
    assert "累计 20 篇" in more.out
    reset = planbell(db, "progress", "manuscripts-reviewed", "=150", "--by", "li-na")
    assert reset.code == 0 and "累计 150 篇" in reset.out and "(30%)" in reset.out
    entries = rows(db, ProgressRow, ProgressRow.target == "manuscripts-reviewed")
    assert [(e.mode, e.amount, e.total) for e in entries] == [("+", 12, 12), ("+", 8, 20), ("=", 150, 150)]


@freeze_time(FROZEN)
@pytest.mark.parametrize("amount", ["12x", "+-3", "abc", "+"])
def test_progress_bad_amount_is_refused(db, amount):
    assert_refused(planbell(db, "progress", "manuscripts-reviewed", amount), "不是进度")


@freeze_time(FROZEN)
def test_progress_unknown_target_is_refused_with_a_suggestion(db):
    assert_refused(planbell(db, "progress", "manuscript-reviewed", "+1"), "'manuscripts-reviewed'")


# --- status, db upgrade, a fresh database ----------------------------------------------------


@freeze_time(FROZEN)
def test_status_shows_pending_messages_open_duties_and_schedule_version(db):
    result = planbell(db, "status")
    assert result.code == 0, result.err
    lines = dict(line.split(None, 1) for line in result.out.splitlines()[2:] if line.strip())
    pending = len(rows(db, MessageRow, MessageRow.status == "pending"))
    assert pending > 0 and lines["待发消息"] == str(pending)
    assert lines["未完成事项"].startswith(str(len(rows(db, OccurrenceRow, OccurrenceRow.status == "open"))))
    assert lines["日程版本"] != "-" and len(lines["日程版本"]) == 12
    assert lines["上次发送"] == "尚未运行"


def test_db_upgrade_twice_is_harmless(db):
    for _ in range(2):
        result = planbell(db, "db", "upgrade")
        assert result.code == 0, result.err
        assert "数据库已是最新结构" in result.out
    engine = create_engine(db)
    assert {"occurrences", "messages", "progress", "audit", "events", "state"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@freeze_time(FROZEN)
@pytest.mark.parametrize("args", [
    ("status",),
    ("done", STUDY),
    ("skip", JOINT, "--reason", "暂停"),
    ("reopen", STUDY),
    ("event", "political-discipline-briefing", "--date", "2026-03-10"),
    ("progress", "manuscripts-reviewed", "+1"),
    ("ledger", "--year", "2026", "--out", "{tmp}/ledger.json"),
], ids=lambda a: a[0])
def test_every_command_works_on_a_fresh_database(db, tmp_path, args):
    result = planbell(db, *(str(a).replace("{tmp}", str(tmp_path)) for a in args))
    assert result.code == 0, result.err
    assert len(rows(db, OccurrenceRow)) > 300  # the first command created and synced it


# --- ledger export -------------------------------------------------------------------------


TODAY = "2026-04-01 02:00:00"  # 10:00 in Shanghai
PACE_APRIL_1 = round(500 * 90 / 365, 1)  # 90 days of 2026 have passed on 1 April


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A quarter's work: one done late, one on time, one skipped, progress on two targets;
    then the ledger exported on 1 April in all three formats. The office went live on
    1 January, so January's unfinished duties are overdue, not 上线前."""
    folder = tmp_path_factory.mktemp("ledger")
    db = f"sqlite:///{folder / 'planbell.db'}"
    steps = [
        ("2026-03-03 01:00:00", ("done", FOCUS, "--by", "li-na", "--note", "按期确定", "--evidence", "会议纪要")),
        ("2026-03-25 17:00:00", ("done", STUDY, "--by", "zhang-wei")),  # 26 March local
        ("2026-03-26 02:00:00", ("skip", JOINT, "--reason", "省级联合调研本季度暂停")),
        ("2026-03-10 02:00:00", ("progress", "manuscripts-reviewed", "+120", "--by", "li-na")),
        ("2026-03-31 02:00:00", ("progress", "manuscripts-reviewed", "+30")),
        ("2026-03-31 02:00:00", ("progress", "training-coverage", "=96.5")),
    ]
    for when, args in steps:
        with freeze_time(when):
            result = run_cli(*args, database_url=db, go_live="2026-01-01")
        assert result.code == 0, (args, result.err)
    out = {}
    with freeze_time(TODAY):
        for fmt in ("csv", "xlsx", "json"):
            result = planbell(db, "ledger", "--year", "2026", "--out", folder / f"台账2026.{fmt}")
            assert result.code == 0, result.err
            out[fmt] = folder / f"台账2026.{fmt}"
            out[fmt + "-output"] = result.out
    return out


def test_ledger_json_statuses_names_and_days_late(exported):
    data = json.loads(exported["json"].read_text(encoding="utf-8"))
    assert data["year"] == 2026 and data["today"] == "2026-04-01"
    by_id = {o["id"]: o for o in data["occurrences"]}
    assert len(by_id) > 300
    study, focus, joint, committee = by_id[STUDY], by_id[FOCUS], by_id[JOINT], by_id[COMMITTEE]
    assert (study["status"], study["status_cn"], study["done_on"], study["done_by_name"], study["days_late"]) == \
        ("done", "已完成", "2026-03-26", "张伟", 1)
    assert (focus["status_cn"], focus["done_by_name"], focus["note"], focus["evidence"], focus["days_late"]) == \
        ("已完成", "李娜", "按期确定", "会议纪要", 0)
    assert (joint["status_cn"], joint["note"], joint["done_on"], joint["days_late"]) == \
        ("不需办理", "省级联合调研本季度暂停", None, 0)
    assert joint["done_by"].startswith("cli:") and joint["done_by_name"] is None  # recorder, not 完成人
    assert (committee["status"], committee["status_cn"], committee["days_late"]) == ("overdue", "已逾期", 68)
    assert committee["owner_name"] == "支部书记" and committee["assignee_names"] == ["陈静"]
    later = [o for o in data["occurrences"] if o["due"] >= "2026-04-01"]
    assert later and all(o["status_cn"] == "未完成" and o["days_late"] == 0 for o in later)
    talks = [o for o in data["occurrences"] if o["id"].startswith("branch-secretary-talks/2026-01/")]
    # 黄磊 leads the second 支部: the talks are each secretary's with their own members
    assert {o["subject_name"] for o in talks} >= {"张伟", "刘洋"}
    assert {(o["subject_name"], o["branch_name"], tuple(o["assignee_names"])) for o in talks} >= {
        ("张伟", "机关第一党支部", ("陈静",)), ("刘洋", "机关第二党支部", ("黄磊",))}
    assert [o["due"] for o in data["occurrences"]] == sorted(o["due"] for o in data["occurrences"])


def test_ledger_json_targets_totals_and_pace(exported):
    targets = {t["id"]: t for t in json.loads(exported["json"].read_text(encoding="utf-8"))["targets"]}
    manuscripts = targets["manuscripts-reviewed"]
    assert manuscripts["requirement"] == "不少于 500 篇"
    assert (manuscripts["total"], manuscripts["entries"], manuscripts["last_recorded"]) == (150, 2, "2026-03-31")
    assert manuscripts["share"] == pytest.approx(0.3)
    assert manuscripts["expected"] == PACE_APRIL_1
    coverage = targets["training-coverage"]
    assert (coverage["total"], coverage["share"], coverage["expected"]) == (96.5, pytest.approx(0.965), None)
    # A cap-less reduction has a share but no pace.
    assert targets["documents-issued-reduction"]["expected"] is None
    # A per-person figure: the office's line counts the people on pace (on 1 April nobody is
    # behind April yet), and each person's own line follows, paced through the month.
    research = targets["grassroots-research-days"]
    assert (research["requirement"], research["unit"], research["total"], research["value"]) == \
        ("每人每月不少于 5 天(按进度的人数)", "人", 12, 12)
    own = targets["grassroots-research-days/li-na"]
    assert (own["title"], own["requirement"], own["total"]) == ("干部每月深入基层调研天数(李娜)", "每人每月不少于 5 天", 0)
    assert targets["shanxi-special-topics"]["expected"] == round(10 * 90 / 365, 1)


def test_ledger_csv_opens_as_utf8_with_bom_and_reads_back(exported):
    raw = exported["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    with exported["csv"].open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert list(lines[0]) == ["编号", "条目", "事项", "对象", "支部", "周期", "责任角色", "责任人", "截止日期",
                              "状态", "完成日期", "完成人", "备注", "佐证", "佐证材料", "逾期天数"]
    by_id = {line["编号"]: line for line in lines}
    assert (by_id[STUDY]["状态"], by_id[STUDY]["完成日期"], by_id[STUDY]["完成人"], by_id[STUDY]["逾期天数"]) == \
        ("已完成", "2026-03-26", "张伟", "1")
    assert (by_id[COMMITTEE]["状态"], by_id[COMMITTEE]["截止日期"], by_id[COMMITTEE]["逾期天数"]) == \
        ("已逾期", "2026-01-23", "68")
    assert by_id[JOINT]["状态"] == "不需办理" and by_id[JOINT]["备注"] == "省级联合调研本季度暂停"

    targets_file = exported["csv"].with_name("台账2026-targets.csv")
    assert str(targets_file) in exported["csv-output"]
    with targets_file.open(encoding="utf-8-sig", newline="") as handle:
        targets = {t["编号"]: t for t in csv.DictReader(handle)}
    manuscripts = targets["manuscripts-reviewed"]
    assert (manuscripts["要求"], manuscripts["累计"], manuscripts["完成率"], manuscripts["按进度应达"],
            manuscripts["填报次数"], manuscripts["最近填报"]) == \
        ("不少于 500 篇", "150", "30.0%", f"{PACE_APRIL_1:g}", "2", "2026-03-31")


def test_ledger_xlsx_has_two_sheets_real_dates_and_a_usable_header(exported):
    book = openpyxl.load_workbook(exported["xlsx"])
    assert book.sheetnames == ["台账", "指标进度"]
    sheet = book["台账"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["编号", "条目", "事项"] and header[-1] == "逾期天数"
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == sheet.dimensions
    # Chinese text needs about two units a character: 事项 is wider than 条目.
    assert sheet.column_dimensions["C"].width > 2 * len("事项") + 10
    rows = {r[0].value: dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)}
    study = rows[STUDY]
    assert isinstance(study["截止日期"], datetime) and study["截止日期"].date() == date(2026, 3, 25)
    assert study["完成日期"].date() == date(2026, 3, 26)
    assert (study["状态"], study["完成人"], study["逾期天数"]) == ("已完成", "张伟", 1)
    due_cell = sheet.cell(row=2, column=header.index("截止日期") + 1)
    assert due_cell.is_date and due_cell.number_format == "yyyy-mm-dd"
    assert rows[COMMITTEE]["状态"] == "已逾期" and rows[COMMITTEE]["逾期天数"] == 68

    targets = book["指标进度"]
    target_header = [c.value for c in targets[1]]
    assert target_header == ["编号", "条目", "指标", "要求", "累计", "完成率", "按进度应达", "填报次数", "最近填报"]
    by_id = {r[0].value: dict(zip(target_header, (c.value for c in r), strict=True))
             for r in targets.iter_rows(min_row=2)}
    manuscripts = by_id["manuscripts-reviewed"]
    assert (manuscripts["累计"], manuscripts["按进度应达"], manuscripts["填报次数"]) == (150, PACE_APRIL_1, 2)
    assert manuscripts["完成率"] == pytest.approx(0.3)
    assert manuscripts["最近填报"].date() == date(2026, 3, 31)
    rate = targets.cell(row=2, column=target_header.index("完成率") + 1)
    assert rate.number_format == "0.0%"


def test_ledger_summary_line_counts_the_statuses(exported):
    # Two duties checked off, and four 【进度报送】 occurrences closed by recording progress.
    assert "2026 年台账" in exported["json-output"] and "已完成 6" in exported["json-output"]
    assert "不需办理 1" in exported["json-output"]


@freeze_time(FROZEN)
def test_ledger_unknown_year_is_refused_with_a_suggestion(db, tmp_path):
    assert_refused(planbell(db, "ledger", "--year", "2025", "--out", tmp_path / "x.xlsx"), "没有 2025 年", "'2026'")
    assert_refused(planbell(db, "ledger", "--year", "1999", "--out", tmp_path / "x.xlsx"), "可导出的年度:2026")
    assert_refused(planbell(db, "ledger", "--year", "二〇二六", "--out", tmp_path / "x.xlsx"), "不是年度")
    assert not (tmp_path / "x.xlsx").exists()


@freeze_time(FROZEN)
def test_ledger_unwritable_out_is_refused_in_chinese(db, tmp_path):
    assert_refused(planbell(db, "ledger", "--year", "2026", "--out", tmp_path / "nowhere" / "x.xlsx"),
                   "无法写入", "所在目录不存在")
    assert_refused(planbell(db, "ledger", "--year", "2026", "--out", tmp_path, "--format", "json"), "这是一个目录")
    assert_refused(planbell(db, "ledger", "--year", "2026", "--out", tmp_path / "x.txt"), "--format")


@freeze_time(FROZEN)
def test_ledger_failed_write_leaves_no_half_file(db, tmp_path, monkeypatch):
    import errno

    def full(self, handle):
        handle.write(b"PK")  # half a zip, then the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", full)
    assert_refused(planbell(db, "ledger", "--year", "2026", "--out", tmp_path / "x.xlsx"), "磁盘空间不足")
    assert list(tmp_path.glob("*x.xlsx*")) == []
