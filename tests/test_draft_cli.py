"""`planbell draft` as an admin uses it: the bundled plan's text drafts a schedule that
validates; --like carries last year's choices and gives back the same agenda; every kind of
file an office receives is read; bad input is refused in Chinese with nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from daemon.plan.loader import load_plan_file
from tests.clirun import PLAN, ROSTER, SCHEDULES, YEAR, run_cli
from tests.docmake import write_docx, write_pdf

TEXT = SCHEDULES / "source" / "2026-work-plan.txt"
DATA = Path(__file__).parent / "data"


@pytest.fixture
def office(tmp_path: Path) -> Path:
    """A schedules folder of a new year: the plan's text under source/, the example roster."""
    (tmp_path / "source").mkdir()
    shutil.copy(TEXT, tmp_path / "source" / TEXT.name)
    shutil.copy(ROSTER, tmp_path / ROSTER.name)
    return tmp_path


def test_bundled_plan_text_drafts_a_schedule_that_validates_as_it_is(office):
    out = office / "plan-2026.yaml"
    result = run_cli("draft", office / "source" / TEXT.name, "--out", out)
    assert result.code == 0, result.err
    assert "已写出" in result.err and "待确认" in result.err
    checked = run_cli("validate", out)
    assert checked.code == 0, checked.err
    plan, _ = load_plan_file(out)
    assert "document: source/2026-work-plan.txt" in out.read_text(encoding="utf-8")
    assert (plan.title, plan.year, len(plan.items)) == ("2026年市委政研室机关党建工作要点", 2026, 24)
    assert len(plan.obligations) >= 55 and len(plan.targets) >= 24


def test_draft_is_byte_identical_on_every_run(office):
    for name in ("a.yaml", "b.yaml"):
        assert run_cli("draft", office / "source" / TEXT.name, "--like", PLAN, "--out", office / name).code == 0
    assert (office / "a.yaml").read_bytes() == (office / "b.yaml").read_bytes()
    for name in ("c.yaml", "d.yaml"):
        assert run_cli("draft", office / "source" / TEXT.name, "--out", office / name).code == 0
    assert (office / "c.yaml").read_bytes() == (office / "d.yaml").read_bytes()


def agenda(schedules: Path) -> str:
    result = run_cli("agenda", *YEAR, "--format", "json", schedules=schedules, roster=schedules / ROSTER.name)
    assert result.code == 0, result.err
    return result.out


def test_drafting_2026_like_the_hand_written_schedule_gives_the_same_agenda(office):
    out = office / "plan-2026.yaml"
    result = run_cli("draft", office / "source" / TEXT.name, "--like", PLAN, "--out", out)
    assert result.code == 0, result.err
    assert "82 项沿用去年的设置" in result.err  # 81 + the 6个维度 target split from the 30项 one
    assert agenda(office) == run_cli("agenda", *YEAR, "--format", "json").out
    text = out.read_text(encoding="utf-8")
    # Last year's comments come along with its settings (whatever language the admin wrote them in).
    kept = [line for line in PLAN.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith(("staff: ", "remind: [1d]")) and "#" in line]
    assert kept and all(line in text for line in kept)


def test_like_keeps_ids_and_reports_what_is_new_changed_and_gone(office):
    text = TEXT.read_text(encoding="utf-8").replace("2026年", "2027年")
    text = text.replace("每月开展1次品牌活动", "每季度开展1次品牌活动")  # changed cadence
    text = text.replace("每季度开展1次青年座谈会。", "每月开展1次青年读书会。")  # gone, and new
    text = text.replace("办结率不低于95%", "办结率不低于98%")  # changed figure
    plan_text = office / "source" / "2027-work-plan.txt"
    plan_text.write_text(text, encoding="utf-8")
    out = office / "plan-2027.yaml"
    result = run_cli("draft", plan_text, "--like", PLAN, "--out", out)
    assert result.code == 0, result.err
    assert "+ item8-month-1  第8条 青年读书会(每月开展1次青年读书会)" in result.err
    assert "~ branch-brand-activity  “文辅政研·党建领航”品牌活动:周期 month → quarter" in result.err
    assert "~ public-requests-closed  群众诉求办结率:指标 at_least 95% → at_least 98%" in result.err
    assert "- youth-forum  青年座谈会(每季度开展1次青年座谈会)" in result.err
    plan, _ = load_plan_file(out)
    brand = plan.obligation("branch-brand-activity")
    assert (plan.year, brand.every.value, brand.owner, brand.title) == (2027, "quarter", "branch", "“文辅政研·党建领航”品牌活动")
    assert plan.obligation("youth-forum") is None
    assert plan.obligation("secretary-talks-section-heads").for_each == "section-heads"
    # A one-off duty's date moves into the new year, for the admin to confirm.
    assert plan.obligation("assessment-rules").due.on.isoformat() == "2027-01-30"
    assert "due: 2027-01-30  # 待确认: 去年为 2026-01-30,已移到 2027 年" in out.read_text(encoding="utf-8")
    assert "去年的 extra_holidays / extra_workdays 是 2026 年的" not in out.read_text(encoding="utf-8")  # none to clear


def test_docx_and_pdf_give_the_draft_of_their_text(tmp_path):
    text = (DATA / "district-finance-branch-2027.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line != "- 2 -"]
    by_text = run_cli("draft", DATA / "district-finance-branch-2027.txt", "--out", tmp_path / "txt.yaml")
    assert by_text.code == 0, by_text.err
    write_docx(tmp_path / "plan.docx", "\n".join(lines))
    # the page break falls inside "…党员每年|参加集中培训…", with a page number as footer
    write_pdf(tmp_path / "plan.pdf", [lines[:7] + ["- 1 -"], lines[7:]])
    for name in ("plan.docx", "plan.pdf"):
        out = tmp_path / f"{name}.yaml"
        result = run_cli("draft", tmp_path / name, "--out", out)
        assert result.code == 0, result.err
        assert f"原文文本另存为 {tmp_path / 'source' / 'plan.txt'}" in result.err
        plan, _ = load_plan_file(out)  # sources are checked against source/plan.txt
        sources = {t.source for t in plan.targets}
        assert "党员每年参加集中培训不少于32学时" in sources
        assert len(plan.obligations) == len(load_plan_file(tmp_path / "txt.yaml")[0].obligations)


def test_gb18030_text_is_read_and_written_beside_the_schedule_as_utf8(tmp_path):
    out = tmp_path / "plan.yaml"
    result = run_cli("draft", DATA / "county-education-2026.txt", "--out", out)
    assert result.code == 0, result.err
    written = (tmp_path / "source" / "county-education-2026.txt").read_text(encoding="utf-8")
    assert written.startswith("某县教育局2026年党建工作要点")
    assert run_cli("validate", out).code == 0


def test_printing_without_out_points_at_the_text_from_the_current_folder(office, monkeypatch):
    monkeypatch.chdir(office)
    result = run_cli("draft", Path("source") / TEXT.name)
    assert result.code == 0, result.err
    assert "  document: source/2026-work-plan.txt\n" in result.out
    assert sorted(p.name for p in office.iterdir()) == ["roster.example.yaml", "source"]


def test_out_is_never_overwritten_without_force(office):
    out = office / "plan.yaml"
    out.write_text("# the admin's own edits\n", encoding="utf-8")
    refused = run_cli("draft", office / "source" / TEXT.name, "--out", out)
    assert refused.code == 2
    assert f"{out} 已存在,不会覆盖" in refused.err and "--force" in refused.err
    assert out.read_text(encoding="utf-8") == "# the admin's own edits\n"
    forced = run_cli("draft", office / "source" / TEXT.name, "--out", out, "--force")
    assert forced.code == 0 and out.read_text(encoding="utf-8").startswith("# 2026年市委政研室")


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "corrupt.docx").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    write_pdf(folder / "scanned.pdf", [[], []])
    (folder / "notice.txt").write_text("2026年工作要点\n关于印发工作要点的通知\n各科室:现将要点印发给你们,请认真贯彻落实。\n", encoding="utf-8")
    (folder / "sjis.txt").write_bytes("２０２６年の業務計画：毎月の会議を開催する。".encode("shift_jis"))
    return {
        "empty": (folder / "empty.txt", "文件是空的"),
        "binary": (folder / "binary.txt", "不是文本文件"),
        "corrupt docx": (folder / "corrupt.docx", ".docx 文件已损坏"),
        "scanned pdf": (folder / "scanned.pdf", "没有文字层"),
        "no cadence": (folder / "notice.txt", "没有找到任何带周期的条款"),
        "encoding": (folder / "sjis.txt", "无法识别文字编码"),
    }


@pytest.mark.parametrize("case", ["empty", "binary", "corrupt docx", "scanned pdf", "no cadence", "encoding"])
def test_bad_input_is_refused_in_chinese_naming_the_file_and_nothing_is_written(tmp_path, case):
    inputs = tmp_path / "in"
    inputs.mkdir()
    path, words = _bad_files(inputs)[case]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_cli("draft", path, "--out", out_dir / "plan.yaml")
    assert result.code == 2
    assert result.err.startswith(f"错误:{path}:") and words in result.err
    assert "未写出任何文件" in result.err and "Traceback" not in result.err
    assert list(out_dir.iterdir()) == []


def test_a_missing_last_year_schedule_is_named(office):
    result = run_cli("draft", office / "source" / TEXT.name, "--like", office / "plan-2025.yaml", "--out", office / "p.yaml")
    assert result.code == 2
    assert f"找不到去年的日程 {office / 'plan-2025.yaml'}" in result.err
    assert not (office / "p.yaml").exists()
