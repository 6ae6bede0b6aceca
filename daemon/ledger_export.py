"""The year's 台账 for the year-end assessment: every occurrence with its outcome, and every
target's progress. Building reads the session; the writers (csv, xlsx, json) only format.

Rows are built against a given ``today`` (an open occurrence past its due date reads 已逾期),
so the same database exported on two days can differ, and tests can pin the day.
"""

from __future__ import annotations

import csv
import json
import os
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import evidence, progress
from daemon.plan.model import Cadence, Comparator
from daemon.plan.schedule import Schedule
from daemon.store.tables import OccurrenceRow

FORMATS = ("csv", "xlsx", "json")

STATUS_CN = {"open": "未完成", "done": "已完成", "skipped": "不需办理", "cancelled": "已取消",
             "overdue": "已逾期", "prelive": "上线前"}

LEDGER_HEADERS = ("编号", "条目", "事项", "对象", "支部", "周期", "责任角色", "责任人", "截止日期", "状态",
                  "完成日期", "完成人", "备注", "佐证", "佐证材料", "逾期天数")
TARGET_HEADERS = ("编号", "条目", "指标", "要求", "累计", "完成率", "按进度应达", "填报次数", "最近填报")

SHEET_LEDGER, SHEET_TARGETS = "台账", "指标进度"


@dataclass(frozen=True)
class LedgerLine:
    id: str
    kind: str  # duty | report (a target's progress report)
    item: int
    title: str
    subject: str | None  # for_each: the person the duty is about
    subject_name: str | None
    branch: str | None  # its 支部 in a roster of several (None: the office's own, or one branch)
    branch_name: str
    period: str
    owner: str
    owner_name: str
    assignees: list[str]
    assignee_names: list[str]
    due: date
    status: str  # open | overdue | done | skipped | cancelled | prelive (due before go-live)
    done_on: date | None  # local date; only for done
    done_by: str | None
    done_by_name: str | None
    note: str | None
    evidence: str | None
    days_late: int
    # Files uploaded with the check-off: {"name", "url" (None without a workbench), "sha256", ...}
    files: list[dict] = field(default_factory=list)

    @property
    def status_cn(self) -> str:
        return STATUS_CN[self.status]

    def cells(self) -> list:
        files = "\n".join(f"{f['name']} {f['url']}" if f["url"] else f["name"] for f in self.files)
        return [self.id, self.item, self.title, self.subject_name or "", self.branch_name, self.period, self.owner_name,
                "、".join(self.assignee_names), self.due, self.status_cn, self.done_on,
                self.done_by_name or "", self.note or "", self.evidence or "", files, self.days_late]


@dataclass(frozen=True)
class TargetLine:
    id: str
    item: int
    title: str
    comparator: str
    value: float
    unit: str
    period: str
    requirement: str  # 不少于 500 篇
    total: float
    share: float | None  # total / value; None where a ratio means nothing (at_most, per-period)
    expected: float | None  # pace through the year; None unless paced
    entries: int
    last_recorded: date | None

    def cells(self) -> list:
        return [self.id, self.item, self.title, self.requirement, self.total, self.share,
                self.expected, self.entries, self.last_recorded]


@dataclass(frozen=True)
class Ledger:
    year: int
    today: date
    lines: list[LedgerLine]
    targets: list[TargetLine]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUS_CN, 0)
        for line in self.lines:
            out[line.status] += 1
        return out


# --- building ----------------------------------------------------------------------------


def ledger_years(session: Session, schedule: Schedule) -> list[int]:
    """Years with a plan, and years whose plan has left the schedule but whose rows remain."""
    stored = session.scalars(select(OccurrenceRow.plan_year).distinct()).all()
    return sorted({p.year for p in schedule.plans} | set(stored))


def build(session: Session, schedule: Schedule, year: int, today: date, zone: ZoneInfo,
          base_url: str | None = None) -> Ledger:
    """The year's ledger as of ``today``; ``base_url``: the workbench address its evidence
    links start with (None: file names only)."""
    roster, roles = schedule.roster, schedule.roles()
    plan = next((p for p in schedule.plans if p.year == year), None)
    if plan is not None:
        roles |= plan.roles  # this year's role names win over another year's

    def name(person_id: str | None) -> str | None:
        person = roster.person(person_id) if person_id else None
        return person.name if person else None

    rows = list(session.scalars(select(OccurrenceRow).where(OccurrenceRow.plan_year == year)
                                .order_by(OccurrenceRow.due, OccurrenceRow.id)))
    files = evidence.files_of(session, [row.id for row in rows])
    lines = [_line(row, today, zone, roles, name, _files(files.get(row.id, []), base_url, zone, name),
                   roster.branch_name(row.branch)) for row in rows]
    targets = _targets(session, plan, roster, today, zone) if plan else []
    return Ledger(year, today, lines, targets)


def _files(rows, base_url: str | None, zone: ZoneInfo, name) -> list[dict]:
    return [{"name": f.filename, "url": f"{base_url}/evidence/{f.id}" if base_url else None, "sha256": f.sha256,
             "uploaded_by": name(f.uploaded_by) or f.uploaded_by,
             "uploaded_at": f.uploaded_at.astimezone(zone).isoformat(timespec="minutes")} for f in rows]


def _line(row: OccurrenceRow, today: date, zone: ZoneInfo, roles: dict[str, str],
          name: Callable[[str | None], str | None], files: list[dict], branch_name: str = "") -> LedgerLine:
    status, done_on, late = row.status, None, 0
    if status == "done" and row.done_at is not None:
        done_on = row.done_at.astimezone(zone).date()
        late = max((done_on - row.due).days, 0)
    elif status == "open" and row.due < today:
        status, late = "overdue", (today - row.due).days
    done_by = row.done_by if row.status in ("done", "skipped") else None
    # Someone since gone from the roster keeps their id; a skip's recorder (cli:user) is no
    # 完成人, so it stays in done_by (json) but not in the 完成人 column.
    done_by_name = name(done_by) or (done_by if row.status == "done" else None)
    return LedgerLine(
        id=row.id, kind=row.kind, item=row.item, title=row.title, subject=row.subject,
        subject_name=name(row.subject) or row.subject, branch=row.branch, branch_name=branch_name, period=row.period, owner=row.owner,
        owner_name=roles.get(row.owner, row.owner), assignees=list(row.assignees),
        assignee_names=[name(p) or p for p in row.assignees], due=row.due, status=status,
        done_on=done_on, done_by=done_by, done_by_name=done_by_name, note=row.note,
        evidence=row.evidence, days_late=late, files=files,
    )


def _targets(session: Session, plan, roster, today: date, zone: ZoneInfo) -> list[TargetLine]:
    """A line per target; a per-person target's line counts the people on pace, and a line
    per person follows it with their own figure."""
    paces = progress.paces_for(session, plan, roster, today)
    out = []
    for target in plan.targets:
        last = [p.last_recorded for k, p in paces.standing.items() if k[0] == target.id and p.last_recorded]
        last_day = max(last).astimezone(zone).date() if last else None
        if not target.per:
            figure = paces.office_figure(target)
            ratio = target.comparator != Comparator.AT_MOST and target.period == Cadence.YEAR and target.value > 0
            want = progress.expected(target, plan.year, today)
            out.append(TargetLine(
                id=target.id, item=target.item, title=target.title, comparator=target.comparator.value,
                value=target.value, unit=target.unit, period=target.period.value,
                requirement=progress.requirement(target), total=figure.total,
                share=figure.total / target.value if ratio else None,
                expected=None if want is None else round(want, 1), entries=figure.entries, last_recorded=last_day))
            continue
        office = paces.of_office(target)
        out.append(TargetLine(
            id=target.id, item=target.item, title=target.title, comparator=target.comparator.value,
            value=float(office.people), unit="人", period=target.period.value,
            requirement=f"{progress.requirement(target)}(按进度的人数)", total=office.total,
            share=office.share if office.people else None, expected=None, entries=office.entries,
            last_recorded=last_day))
        for person in roster.with_role(target.per):
            own = paces.of_person(target, person.id)
            recorded = paces.person_figure(target, person.id).last_recorded
            out.append(TargetLine(
                id=f"{target.id}/{person.id}", item=target.item, title=f"{target.title}({person.name})",
                comparator=target.comparator.value, value=target.value, unit=target.unit,
                period=target.period.value, requirement=progress.requirement(target), total=own.total,
                share=own.total / target.value if target.value else None,
                expected=None if own.expected is None else round(own.expected, 1), entries=own.entries,
                last_recorded=recorded.astimezone(zone).date() if recorded else None))
    return out


# --- writers -----------------------------------------------------------------------------


def targets_csv_path(out: Path) -> Path:
    """台账2026.csv → 台账2026-targets.csv: the targets are a second table, so a second file."""
    return out.with_name(f"{out.stem}-targets{out.suffix or '.csv'}")


def write(ledger: Ledger, fmt: str, out: Path) -> list[Path]:
    """Write ``ledger`` as ``fmt``; returns the files written. Raises OSError."""
    if fmt == "csv":
        second = targets_csv_path(out)
        # utf-8-sig: the byte-order mark is how Excel knows a CSV is UTF-8 and not GBK.
        _atomic(out, lambda f: _csv(f, LEDGER_HEADERS, [line.cells() for line in ledger.lines]), "utf-8-sig")
        _atomic(second, lambda f: _csv(f, TARGET_HEADERS, [_csv_target(t) for t in ledger.targets]), "utf-8-sig")
        return [out, second]
    if fmt == "xlsx":
        workbook = xlsx_workbook(ledger)
        _atomic(out, workbook.save, None)
        return [out]
    _atomic(out, lambda f: json.dump(as_json(ledger), f, ensure_ascii=False, indent=2), "utf-8")
    return [out]


def _atomic(out: Path, fill: Callable, encoding: str | None) -> None:
    """Write beside ``out`` and rename, so a failed export never leaves half a 台账.
    ``encoding`` None writes bytes."""
    scratch = out.with_name(f".{out.name}.part")
    try:
        with (open(scratch, "wb") if encoding is None else open(scratch, "w", encoding=encoding, newline="")) as handle:
            fill(handle)
        os.replace(scratch, out)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


def _csv(handle, headers: tuple[str, ...], rows: list[list]) -> None:
    writer = csv.writer(handle)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if c is None else c.isoformat() if isinstance(c, date) else c for c in row])


def _csv_target(t: TargetLine) -> list:
    return [t.id, t.item, t.title, t.requirement, f"{t.total:g}",
            "" if t.share is None else f"{t.share:.1%}", "" if t.expected is None else f"{t.expected:g}",
            t.entries, t.last_recorded]


def as_json(ledger: Ledger) -> dict:
    def plain(value):
        return value.isoformat() if isinstance(value, date) else value

    def record(line) -> dict:
        out = {k: plain(v) for k, v in asdict(line).items()}
        if isinstance(line, LedgerLine):
            out["status_cn"] = line.status_cn
        return out

    return {"year": ledger.year, "today": ledger.today.isoformat(),
            "occurrences": [record(line) for line in ledger.lines],
            "targets": [record(t) for t in ledger.targets]}


def xlsx_workbook(ledger: Ledger):
    from openpyxl import Workbook  # imported here: only the xlsx export pays for it

    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_LEDGER
    _sheet(sheet, LEDGER_HEADERS, [line.cells() for line in ledger.lines],
           {"截止日期", "完成日期"}, {}, wrap={"事项", "备注", "佐证", "佐证材料", "责任人"})
    overdue = LEDGER_HEADERS.index("状态") + 1
    for row, line in enumerate(ledger.lines, start=2):
        if line.status == "overdue":
            sheet.cell(row, overdue).font = _font(color="C00000", bold=True)
    _sheet(book.create_sheet(SHEET_TARGETS), TARGET_HEADERS, [t.cells() for t in ledger.targets],
           {"最近填报"}, {"完成率": "0.0%"}, wrap={"指标"})
    return book


def _font(**kwargs):
    from openpyxl.styles import Font

    return Font(**kwargs)


# Column widths in Excel's units (about one Latin character); wide characters count two.
_MAX_WIDTH, _MIN_WIDTH = 40, 6
_LINE_HEIGHT = 15  # points: one line of the default 11-point font
# A short number beside a Chinese title reads as part of it unless it stands apart.
_CENTERED = {"条目", "状态", "填报次数"}


def _sheet(sheet, headers, rows, date_columns: set[str], formats: dict[str, str], wrap: set[str]) -> None:
    from openpyxl.styles import Alignment, PatternFill
    from openpyxl.utils import get_column_letter

    sheet.append(list(headers))
    for row in rows:
        sheet.append(row)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font = _font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
    for index, header in enumerate(headers, start=1):
        letter = get_column_letter(index)
        number_format = "yyyy-mm-dd" if header in date_columns else formats.get(header)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if number_format and cell.value is not None:
                cell.number_format = number_format
            if header in wrap:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif header in _CENTERED:
                cell.alignment = Alignment(horizontal="center", vertical="top")
            elif cell.value is not None:
                cell.alignment = Alignment(vertical="top")
        widest = max([width(header)] + [_shown_width(r[index - 1]) for r in rows])
        sheet.column_dimensions[letter].width = min(max(widest + 2, _MIN_WIDTH), _MAX_WIDTH)
    # Neither Excel nor LibreOffice grows a row for wrapped text it did not lay out itself, so
    # a long 责任人 list would be cut off: give such rows their height.
    wrapped = [i for i, h in enumerate(headers) if h in wrap]
    for number, row in enumerate(rows, start=2):
        lines = max((-(-_shown_width(row[i]) // (_MAX_WIDTH - 2)) for i in wrapped), default=1)
        if lines > 1:
            sheet.row_dimensions[number].height = _LINE_HEIGHT * lines
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _shown_width(value) -> int:
    if value is None:
        return 0
    if isinstance(value, date):
        return 10
    if isinstance(value, float):
        return len(f"{value:.1f}")
    return width(str(value))
