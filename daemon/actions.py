"""What people do from the workbench: check a duty off with a note and evidence, report a
target's progress, explain a duty or ask not to do it; and what admins do for them (催办,
代为销号, 撤销销号).

The same ledger functions as the CLI (a check-off is one function, two faces); the web routes
only parse a request and call these. Each function takes the session of one transaction and
locks the occurrence row first, so the same link pressed twice, or on two instances at once,
acts once: the second caller sees the first one's check-off.

A check-off here does not rewrite the pending messages that list the duty (the CLI's bulk
commands do): a branch secretary's reminders list hundreds of talks, and rewriting them cost a
web 销号 more than everything else together. Nothing stale goes out: every message is composed
from the ledger as it is at send time, and one left with nothing to say is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import defaults, evidence, ledger, progress
from daemon.outbox import enqueue
from daemon.plan.model import Person, Target
from daemon.plan.schedule import Schedule
from daemon.store.tables import AuditRow, OccurrenceRow


class ActionRefused(Exception):
    """Not done, and why (Chinese), with the HTTP status a page should answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Outcome:
    changed: bool  # False: it had already been done (by someone, some time)
    row: OccurrenceRow
    files: int = 0
    total: float | None = None  # for progress: the target's new running total


def is_admin(schedule: Schedule, person_id: str) -> bool:
    person = schedule.roster.person(person_id)
    return bool(person and defaults.ADMIN_ROLE in person.roles)


def locked(session: Session, occurrence_id: str) -> OccurrenceRow:
    """The occurrence, its row locked for this transaction (PostgreSQL: FOR UPDATE; SQLite's
    BEGIN IMMEDIATE already serialises writers)."""
    row = session.scalar(select(OccurrenceRow).where(OccurrenceRow.id == occurrence_id).with_for_update())
    if row is None:
        raise ActionRefused(404, "这项工作已不在台账中(日程可能已修改);请打开“我的工作台”查看当前事项。")
    return row


def may_act(schedule: Schedule, row: OccurrenceRow, person_id: str) -> bool:
    """A duty's own people act on it; so does the role its escalation goes to (asked to see it
    done, they may confirm it is), and admins act for anyone."""
    if person_id in row.assignees or is_admin(schedule, person_id):
        return True
    person = schedule.roster.person(person_id)
    return bool(row.escalate_to and person and row.escalate_to in person.roles)


def _acting(schedule: Schedule, row: OccurrenceRow, person_id: str) -> Person:
    person = schedule.roster.person(person_id)
    if person is None:
        raise ActionRefused(403, "名册中已没有此链接所属的人员;请联系管理员。")
    if not may_act(schedule, row, person_id):
        raise ActionRefused(403, f"「{row.title}」不是 {person.name} 的工作,此链接不能为其销号。")
    if row.status == "cancelled":
        raise ActionRefused(410, f"「{row.title}」已取消(对应职责已从日程中移除),无需办理。")
    return person


def complete(session: Session, schedule: Schedule, occurrence_id: str, person_id: str, now: datetime,
             note: str | None, uploads: list[evidence.Upload], via: dict) -> Outcome:
    """销号 with a note and evidence. Evidence is checked before anything is written, so a bad
    file changes nothing. A duty already done keeps its first check-off; new files are still
    attached to it (minutes often arrive after the meeting)."""
    row = locked(session, occurrence_id)
    _acting(schedule, row, person_id)
    checked = evidence.check(uploads)
    if row.status == "skipped":
        raise ActionRefused(409, f"「{row.title}」已记为不需办理;如需改为已完成,请管理员先撤销。")
    note = (note or "").strip() or None
    changed = ledger.check_off(session, row, now, person_id, person_id, note, None, via=via)
    files = evidence.attach(session, row.id, checked, person_id, now)
    if files and not changed:
        ledger.audit(session, now, person_id, "evidence", row.id, files=[f.filename for f in files], via=via)
    return Outcome(changed, row, len(files))




def target_of(schedule: Schedule, row: OccurrenceRow) -> Target:
    plan = next((p for p in schedule.plans if p.year == row.plan_year), None)
    target = next((t for t in plan.targets if t.id == row.obligation), None) if plan else None
    if target is None:
        raise ActionRefused(410, "这项指标已不在日程中;请联系管理员。")
    return target


def report_progress(session: Session, schedule: Schedule, occurrence_id: str, person_id: str, now: datetime,
                    amount: str, note: str | None, via: dict) -> Outcome:
    """填报进度 from a 【进度报送】 duty: record it on the target and close the open reports."""
    row = locked(session, occurrence_id)
    _acting(schedule, row, person_id)
    if row.kind != "report":
        raise ActionRefused(400, f"「{row.title}」不是进度报送事项。")
    parsed = progress.parse_amount(amount)
    if parsed is None:
        raise ActionRefused(400, f"'{amount}' 不是进度数字;请写 12 或 +12(新增)、=120(累计改为)、-3(更正减去)。")
    mode, value = parsed
    target = target_of(schedule, row)
    note = (note or "").strip() or None
    # A per-person target's report is one person's (the row's only assignee): their own figure.
    whose = row.assignees[0] if target.per and row.assignees else None
    today = now.astimezone(schedule.zone).date()
    try:
        total = progress.record_progress(session, target, row.plan_year, mode, value, note, now, person_id,
                                         whose, today)
    except ledger.LedgerError as exc:
        raise ActionRefused(400, str(exc)) from None
    closed = ledger.close_reports(session, target.id, row.plan_year, today, now, person_id, person_id, whose)
    if row.status == "open" and row.id not in closed:  # a report not yet open is still this one
        ledger.check_off(session, row, now, person_id, person_id, "已填报进度", None, via=via)
    return Outcome(True, row, total=total)


def explain(session: Session, schedule: Schedule, occurrence_id: str, person_id: str, now: datetime,
            note: str, ask_skip: bool, via: dict) -> Outcome:
    """说明情况 / 申请不办理: recorded in the audit trail; a request not to do it waits for an
    admin's decision in /admin (the duty stays open and reminded until then)."""
    row = locked(session, occurrence_id)
    _acting(schedule, row, person_id)
    note = (note or "").strip()
    if not note:
        raise ActionRefused(400, "请写明情况(如延期原因、不需办理的理由)。")
    ledger.audit(session, now, person_id, "skip-request" if ask_skip else "explain", row.id, note=note, via=via)
    return Outcome(True, row)


def open_requests(session: Session) -> list[tuple[AuditRow, OccurrenceRow]]:
    """Requests not to do a duty that is still open: what /admin asks an admin to decide."""
    out = []
    for entry in session.scalars(select(AuditRow).where(AuditRow.action == "skip-request").order_by(AuditRow.at)):
        row = session.get(OccurrenceRow, entry.subject)
        if row is not None and row.status == "open":
            out.append((entry, row))
    return out


def nudge(session: Session, schedule: Schedule, occurrence_id: str, admin_id: str, now: datetime) -> list[str]:
    """催办: a reminder now to each of the duty's people, through the outbox (one per person
    per duty per day: pressing it twice sends once)."""
    row = locked(session, occurrence_id)
    if row.status != "open":
        raise ActionRefused(409, f"「{row.title}」已不是未完成状态,无需催办。")
    sent = []
    for person_id in row.assignees:
        person = schedule.roster.person(person_id)
        if person is None or not person.email:
            continue
        day = now.astimezone(schedule.zone).date().isoformat()
        enqueue(session, key=f"nudge:{row.id}:{person_id}:{day}:email", kind="nudge", person=person_id,
                channel="email", send_at=now, content={"items": [{"occurrence": row.id, "stage": "nudge"}]},
                now=now)
        sent.append(person_id)
    ledger.audit(session, now, admin_id, "nudge", row.id, to=sent)
    return sent


def check_off_for(session: Session, schedule: Schedule, occurrence_id: str, admin_id: str, now: datetime,
                  on_behalf: str | None, note: str | None) -> Outcome:
    """代为销号: an admin checks a duty off, recorded as by the admin (for whom, if named)."""
    row = locked(session, occurrence_id)
    if row.status == "cancelled":
        raise ActionRefused(410, f"「{row.title}」已取消,无需销号。")
    changed = ledger.check_off(session, row, now, admin_id, on_behalf or admin_id,
                               (note or "").strip() or "管理员代为销号", None, via={"kind": "admin"})
    return Outcome(changed, row)


def undo(session: Session, occurrence_id: str, admin_id: str, now: datetime) -> Outcome:
    """撤销销号 (or 不需办理): the duty is open and reminded again."""
    row = locked(session, occurrence_id)
    try:
        changed = ledger.reopen(session, row, now, admin_id)
    except ledger.LedgerError as exc:
        raise ActionRefused(409, str(exc)) from None
    return Outcome(changed, row)


def approve_skip(session: Session, occurrence_id: str, admin_id: str, now: datetime, reason: str) -> Outcome:
    row = locked(session, occurrence_id)
    if row.status != "open":
        raise ActionRefused(409, f"「{row.title}」已不是未完成状态。")
    ledger.skip(session, row, now, admin_id, reason)
    return Outcome(True, row)
