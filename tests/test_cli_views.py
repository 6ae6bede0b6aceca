"""The read-only commands an admin runs: agenda, targets, coverage, validate, --help, and how
bad input and bad settings are answered (a Chinese sentence, exit status 2, no traceback)."""

from __future__ import annotations

import re
import textwrap
import time
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from freezegun import freeze_time

from tests.clirun import FROZEN, PLAN, ROSTER, YEAR, bundled_schedule, run_cli, run_process

AGENDA_KEYS = {"id", "obligation", "item", "title", "source", "period", "opens", "due", "owner", "assignees"}


@pytest.fixture(scope="module")
def year() -> list[dict]:
    with freeze_time(FROZEN):
        result = run_cli("agenda", *YEAR, "--format", "json")
    assert result.code == 0, result.err
    return result.json()


def ids(entries: list[dict]) -> list[str]:
    return [o["id"] for o in entries]


def assert_usage_error(result, *phrases: str) -> None:
    assert result.code == 2, (result.out, result.err)
    assert "Traceback" not in result.err
    assert result.err.startswith("错误:")
    for phrase in phrases:
        assert phrase in result.err


# --- agenda --------------------------------------------------------------------------------


def test_agenda_json_has_the_documented_keys(year):
    assert len(year) > 300
    for o in year:
        assert AGENDA_KEYS <= o.keys(), o["id"]
        due, opens = date.fromisoformat(o["due"]), date.fromisoformat(o["opens"])
        assert due.year == 2026 and opens <= due, o["id"]
        assert isinstance(o["item"], int) and 1 <= o["item"] <= 24
        assert isinstance(o["assignees"], list) and o["assignees"], o["id"]
        assert o["id"].startswith(o["obligation"] + "/")
    assert [(o["due"], o["id"]) for o in year] == sorted((o["due"], o["id"]) for o in year)
    assert len(set(ids(year))) == len(year)
    assert {o["kind"] for o in year} == {"duty", "report"}
    # A duty the plan text only implies says which rule it rests on.
    meeting = next(o for o in year if o["obligation"] == "branch-committee-meeting")
    assert (meeting["kind"], meeting["basis"]) == ("duty", "《中国共产党支部工作条例（试行）》第二十条:支部委员会会议一般每月召开1次")


@freeze_time(FROZEN)
def test_agenda_person_filter(year):
    result = run_cli("agenda", *YEAR, "--person", "li-na", "--format", "json")
    assert result.code == 0, result.err
    expected = [o for o in year if "li-na" in o["assignees"] or o["subject"] == "li-na"]
    assert 0 < len(expected) < len(year)
    assert ids(result.json()) == ids(expected)


@freeze_time(FROZEN)
def test_agenda_role_filter(year):
    result = run_cli("agenda", *YEAR, "--role", "branch-secretary", "--format", "json")
    assert result.code == 0, result.err
    expected = [o for o in year if o["owner"] == "branch-secretary" or "branch-secretary" in o["participants"]]
    assert 0 < len(expected) < len(year)
    assert ids(result.json()) == ids(expected)


@freeze_time(FROZEN)
@pytest.mark.parametrize("command", ["agenda", "ics"])
def test_unknown_person_gets_a_suggestion(command, tmp_path):
    out = tmp_path / "x.ics"
    extra = ["--out", out] if command == "ics" else []
    result = run_cli(command, *YEAR, "--person", "lina", *extra)
    assert_usage_error(result, "--person", "名册中没有 'lina'", "您是不是想写 'li-na'")
    assert result.out == "" and not out.exists()


@freeze_time(FROZEN)
def test_unknown_role_gets_a_suggestion():
    result = run_cli("agenda", "--role", "branch-secretry")
    assert_usage_error(result, "--role", "您是不是想写 'branch-secretary'")


@pytest.mark.parametrize(
    ("utc", "window"),
    [
        (FROZEN, ("2026-03-01", "2026-03-31")),
        # 20:00 UTC is already 04:00 of the next day in Shanghai: "today" is Shanghai's.
        ("2026-02-28 20:00:00", ("2026-03-01", "2026-03-31")),
        ("2026-02-28 15:00:00", ("2026-02-28", "2026-03-30")),
    ],
)
def test_default_window_starts_today_in_the_plan_zone(utc, window, year):
    with freeze_time(utc):
        table = run_cli("agenda")
        found = run_cli("agenda", "--format", "json").json()
    assert table.code == 0, table.err
    assert f"({window[0]} 至 {window[1]})" in table.out
    assert ids(found) == ids(o for o in year if window[0] <= o["due"] <= window[1])
    assert found


@freeze_time(FROZEN)
def test_to_before_from_is_refused():
    result = run_cli("agenda", "--from", "2026-03-10", "--to", "2026-03-01")
    assert_usage_error(result, "--to", "2026-03-01", "2026-03-10")


@freeze_time(FROZEN)
def test_bad_date_is_refused():
    result = run_cli("agenda", "--from", "2026-02-30")
    assert_usage_error(result, "--from", "YYYY-MM-DD")


def display(text: str) -> list[str]:
    """The terminal cells a line takes: wide (CJK) characters take two."""
    cells: list[str] = []
    for c in text:
        cells.append(c)
        if unicodedata.east_asian_width(c) in "WF":
            cells.append("")  # the right half of a wide character
    return cells


@freeze_time(FROZEN)
def test_agenda_table_lines_up_and_marks_shifted_dates(year):
    result = run_cli("agenda", *YEAR)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    header, rule = lines[0], lines[1]
    rows = lines[2 : 2 + len(year)]
    assert lines[2 + len(year)] == ""
    assert header.split() == ["截止", "周期", "条目", "事项", "责任", "编号"]
    starts = [m.start() for m in re.finditer(r"-+", rule)]
    assert len(starts) == 6
    shifted = {o["id"] for o in year if o["due"] != o["nominal_due"]}
    assert 0 < len(shifted) < len(year)
    for line in [header, *rows]:
        cells = display(line)
        for start in starts[1:]:
            # Every column begins at the rule's column, after the two-space gutter.
            assert cells[start - 2 : start] == [" ", " "], line
            assert cells[start] not in (" ", ""), line
    for o, line in zip(year, rows, strict=True):
        cells = display(line)
        due_cell = "".join(cells[: starts[1]]).strip()
        assert "".join(cells[starts[5] :]) == o["id"]
        assert due_cell.startswith(o["due"])
        assert due_cell.endswith("*") == (o["id"] in shifted), line
    assert f"共 {len(year)} 项(2026-01-01 至 2026-12-31)。" in result.out
    assert "* 原定日期不是工作日,已按规则调整。" in result.out


@freeze_time(FROZEN)
def test_empty_window_says_so():
    result = run_cli("agenda", "--from", "2030-01-01", "--to", "2030-01-31")
    assert result.code == 0
    assert "2030-01-01 至 2030-01-31 没有到期的事项。" in result.out


# --- targets, coverage, validate ----------------------------------------------------------


def test_targets_json():
    result = run_cli("targets", "--format", "json")
    assert result.code == 0, result.err
    targets = result.json()
    assert targets
    for t in targets:
        assert {"id", "item", "title", "source", "comparator", "value", "unit"} <= t.keys()
        assert t["comparator"] in {">=", "<=", "=", "reduce-by"}
    (manuscripts,) = [t for t in targets if "不少于500篇" in t["source"]]
    assert manuscripts["comparator"] == ">="
    assert manuscripts["value"] == 500
    assert manuscripts["unit"] == "篇"
    table = run_cli("targets")
    assert table.code == 0 and "不少于 500 篇" in table.out


def test_coverage_of_the_bundled_plan():
    result = run_cli("coverage")
    assert result.code == 0, result.out + result.err
    items = bundled_schedule().plans[0].items
    assert sorted(items) == list(range(1, 25))
    lines = result.out.splitlines()
    for number, title in items.items():
        assert f"  {number:>2}. {title}" in lines
    assert "⚠" not in result.out
    assert "每个条目都有对应的职责或指标。" in result.out


def write_plan(folder: Path, body: str) -> tuple[Path, Path]:
    folder.mkdir(exist_ok=True)
    (folder / "plan.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    roster = folder / "roster.yaml"
    roster.write_text("people:\n  - id: a\n    name: 张三\n    roles: [sec]\n", encoding="utf-8")
    return folder, roster


def test_coverage_flags_an_item_with_nothing(tmp_path):
    folder, roster = write_plan(tmp_path / "s", """\
        plan:
          title: 测试计划
          year: 2026
          items:
            1: 有人负责的条目
            2: 无人负责的条目
        roles:
          sec: 书记
        obligations:
          - id: d
            item: 1
            title: 学习
            source: 每月学习
            every: month
            owner: sec
        """)
    result = run_cli("coverage", schedules=folder, roster=roster)
    assert result.code == 1, result.out + result.err
    assert "⚠  2. 无人负责的条目" in result.out
    assert "   1. 有人负责的条目" in result.out
    assert "没有任何职责或指标" in result.out
    assert "有 1 个条目没有对应的职责或指标。" in result.out


@pytest.mark.parametrize("args", [(), (PLAN, ROSTER)], ids=["settings", "files"])
def test_validate_bundled_files(args):
    result = run_cli("validate", *args)
    assert result.code == 0, result.err
    assert f"✓ {PLAN}" in result.out
    assert f"✓ {ROSTER}" in result.out


def test_validate_refuses_a_control_character_without_traceback(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("plan:\n  title: 测试\x07\n  year: 2026\n", encoding="utf-8")
    result = run_cli("validate", plan)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert f"{plan}:2:" in result.err and "控制字符" in result.err


# --- as a real process -------------------------------------------------------------------


def test_help_works():
    proc = run_process("--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("validate", "agenda", "targets", "coverage", "ics"):
        assert command in proc.stdout


def test_bad_timezone_setting_names_the_variable():
    proc = run_process("agenda", timezone="Mars/Base")
    assert proc.returncode == 2
    assert "PLANBELL_TIMEZONE" in proc.stderr and "Mars/Base" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "args", [("validate",), ("agenda", *YEAR, "--format", "json")], ids=["validate", "agenda-year"]
)
def test_cold_start_is_fast(args, capsys):
    start = time.perf_counter()
    proc = run_process(*args)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    with capsys.disabled():
        print(f"\n  planbell {args[0]}: {elapsed:.2f} s (goal < 1 s)", end="")
    # Speed is measured, not asserted: the figure is printed; only a hang fails the test.
    assert elapsed < 30
