"""Digests: one email per person per week (or day) saying what matters — 已逾期, 本周到期,
即将开始, 指标进度 — and an office overview for the admins.

Planning is pure (which digests go out when); the content is read from the database at send
time, so a digest shows the ledger as it is that morning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import defaults
from daemon.ledger import Progress, expected_by, progress_of
from daemon.plan.model import Cadence, Comparator, Plan, Roster
from daemon.reminders import PlannedMessage
from daemon.store.tables import AuditRow, DeliveryRow, MessageRow, OccurrenceRow


@dataclass(frozen=True)
class DigestSettings:
    cadence: str  # weekly | daily | off
    at: time
    send_empty: bool = False


def digest_settings(settings) -> DigestSettings:
    return DigestSettings(settings.digest, time.fromisoformat(settings.digest_at), settings.digest_send_empty)


def digest_days(plan: Plan, cal, cadence: str) -> list[tuple[str, date]]:
    """(label, day): the first working day of each ISO week (weekly) or each working day."""
    start, end = date(plan.year, 1, 1), date(plan.year, 12, 31)
    if cadence == "daily":
        return [(d.isoformat(), d) for d in cal.workdays_in(start, end)]
    out, monday = [], start - timedelta(days=start.weekday())
    while monday <= end:
        days = [d for d in cal.workdays_in(monday, monday + timedelta(days=6)) if d.year == plan.year]
        if days:
            iso = monday.isocalendar()
            out.append((f"{iso.year}-W{iso.week:02d}", days[0]))
        monday += timedelta(days=7)
    return out


def plan_digests(plans: Iterable[tuple[Plan, object]], roster: Roster, settings: DigestSettings) -> dict[str, PlannedMessage]:
    """A digest for everyone on each digest day, and the office overview for the admins."""
    out: dict[str, PlannedMessage] = {}
    if settings.cadence == "off":
        return out
    admins = {p.id for p in roster.with_role(defaults.ADMIN_ROLE)}
    for plan, cal in plans:
        zone = ZoneInfo(plan.timezone)
        for label, day in digest_days(plan, cal, settings.cadence):
            send_at = datetime.combine(day, settings.at, zone).astimezone(UTC)
            for person in roster.people:
                if not person.email:
                    continue
                for scope in ("personal", "overview") if person.id in admins else ("personal",):
                    key = f"digest:{scope}:{person.id}:{label}:email"
                    out[key] = PlannedMessage(key, "digest", person.id, "email", send_at,
                                              [{"scope": scope, "label": label, "year": plan.year}])
    return out


@dataclass
class TargetPace:
    title: str
    unit: str
    comparator: str  # words: 不少于 …
    value: float
    total: float
    expected: float | None  # where a steady pace would be today (None: pace means nothing)
    entries: int

    @property
    def share(self) -> float:
        return self.total / self.value if self.value else 0.0

    @property
    def behind(self) -> bool:
        """Clearly behind the year's pace: a tenth short and at least one whole unit, so the
        first days of January (0 done of 0.03 expected) raise no alarm."""
        if self.expected is None:
            return False
        gap = self.expected - self.total
        return gap >= 1 and gap >= self.expected * 0.1

    def bar(self, width: int = 20) -> str:
        filled = min(int(round(self.share * width)), width)
        return "█" * filled + "░" * (width - filled)


def progress_by_target(session: Session, plan: Plan) -> dict[str, Progress]:
    return {t.id: progress_of(session, t.id, plan.year) for t in plan.targets}


def target_paces(progress: dict[str, Progress], plan: Plan, roles: set[str] | None, today: date) -> list[TargetPace]:
    out = []
    for target in plan.targets:
        if roles is not None and target.owner not in roles:
            continue
        progress_now = progress[target.id]
        # Pace through the year means something for a yearly count, not for a rate (%) or a
        # monthly quota (每月…不少于5天), which the ledger export leaves unpaced as well.
        paced = (target.comparator in (Comparator.AT_LEAST, Comparator.EXACTLY) and target.unit != "%"
                 and target.period == Cadence.YEAR)
        out.append(TargetPace(
            title=target.title, unit=target.unit, comparator=target.comparator.words, value=target.value,
            total=progress_now.total, expected=expected_by(target, plan.year, today) if paced else None,
            entries=progress_now.entries,
        ))
    return out


def year_rows(session: Session, year: int) -> list[OccurrenceRow]:
    return list(session.scalars(select(OccurrenceRow).where(OccurrenceRow.plan_year == year)))


def personal(rows: list[OccurrenceRow], progress: dict[str, Progress], plan: Plan, roster: Roster,
             person_id: str, today: date) -> dict:
    """The sections of one person's digest; empty lists where there is nothing."""
    person = roster.person(person_id)
    week_end = today + timedelta(days=6 - today.weekday())
    rows = [r for r in rows if r.status == "open" and person_id in r.assignees]
    overdue = sorted((r for r in rows if r.due < today), key=lambda r: r.due)
    this_week = sorted((r for r in rows if today <= r.due <= week_end), key=lambda r: r.due)
    upcoming = sorted((r for r in rows if today < r.opens <= today + timedelta(days=7) and r.due > week_end),
                      key=lambda r: r.opens)
    targets = target_paces(progress, plan, set(person.roles) if person else set(), today)
    return {"overdue": overdue, "this_week": this_week, "upcoming": upcoming, "targets": targets,
            "empty": not (overdue or this_week or upcoming or targets)}


def overview(session: Session, rows: list[OccurrenceRow], progress: dict[str, Progress], plan: Plan,
             today: date, since: datetime) -> dict:
    """The whole plan's status by item, and deliveries that failed since ``since``."""
    by_item: dict[int, dict] = {}
    for row in rows:
        counts = by_item.setdefault(row.item, {"item": row.item, "title": plan.items.get(row.item, ""),
                                               "done": 0, "open": 0, "overdue": 0, "skipped": 0, "due_so_far": 0,
                                               "prelive": 0})
        if row.status == "prelive":  # due before go-live: never owed, counted apart
            counts["prelive"] += 1
            continue
        if row.status == "done":
            counts["done"] += 1
        elif row.status == "skipped":
            counts["skipped"] += 1
        elif row.status == "open":
            counts["open"] += 1
            counts["overdue"] += row.due < today
        if row.status != "cancelled" and row.due < today:
            counts["due_so_far"] += 1
    # Failed since `since` by the time of the attempt that gave up (rows are planned months ahead).
    given_up = select(DeliveryRow.message_id).where(DeliveryRow.outcome == "failed", DeliveryRow.started_at >= since)
    failed = list(session.scalars(select(MessageRow).where(MessageRow.status == "failed", MessageRow.id.in_(given_up))
                                  .order_by(MessageRow.id)))
    items = [by_item[k] for k in sorted(by_item)]
    return {"items": items, "failed": failed, "targets": target_paces(progress, plan, None, today),
            "overdue_total": sum(i["overdue"] for i in items), "empty": False}


def link_checkoffs(session: Session, since: datetime) -> list[AuditRow]:
    """Check-offs made through a link or the workbench since ``since`` (the CLI's and the
    admins' are the office's own record and not news to anyone)."""
    entries = session.scalars(select(AuditRow).where(AuditRow.action == "done", AuditRow.at >= since)
                              .order_by(AuditRow.at))
    return [e for e in entries if isinstance(e.detail.get("via"), dict) and e.detail["via"].get("kind") == "link"]


def checked_by_others(entries: list[AuditRow], rows: list[OccurrenceRow], person_id: str,
                      names: dict[str, str], zone: ZoneInfo) -> list[dict]:
    """Of ``entries``, those on this person's duties made by someone else: who, when, how."""
    mine = {r.id: r for r in rows if person_id in r.assignees}
    out = []
    for entry in entries:
        row = mine.get(entry.subject)
        if row is None or entry.actor == person_id:
            continue
        out.append({"title": row.title, "by_name": names.get(entry.actor, entry.actor),
                    "at": entry.at.astimezone(zone), "via": entry.detail["via"]})
    return out
