"""Digests: one email per person per week (or day) saying what matters — 已逾期, 本周到期,
即将开始, 指标进度 — and an office overview for the admins.

Planning is pure (which digests go out when); the content is read from the database at send
time, so a digest shows the ledger as it is that morning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from daemon import defaults
from daemon.plan.model import Plan, Roster
from daemon.progress import Paces, paces_for
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


# What a digest shows: 已逾期, 本周到期 (to Sunday, at most 6 days on) and 即将开始 (opening within
# 7 days). Every one of them has opened by 7 days from today (a duty opens before it falls due).
DIGEST_OPENS_DAYS = 7


@dataclass
class YearLedger:
    """One plan year's occurrences, indexed by the people who must act, and its target
    standings: read and built once per batch, so each digest costs what that person has,
    not what the office has."""

    rows: list[OccurrenceRow]
    by_person: dict[str, list[OccurrenceRow]]
    paces: Paces

    @classmethod
    def of(cls, rows: list, paces: Paces) -> YearLedger:
        """``rows`` indexed by the people who must act on them."""
        by_person: dict[str, list] = {}
        for row in rows:
            for person_id in row.assignees:
                by_person.setdefault(person_id, []).append(row)
        return cls(rows, by_person, paces)


def year_rows(session: Session, year: int) -> list[OccurrenceRow]:
    return list(session.scalars(select(OccurrenceRow).where(OccurrenceRow.plan_year == year)))


def year_ledger(session: Session, plan: Plan, roster: Roster, today: date, digest_window: bool = False) -> YearLedger:
    """The year's occurrences as plain rows, indexed by person. ``digest_window``: only what a
    digest can show on ``today`` (open, and opened by a week from today): a Monday's digests
    read what is under way, not the whole year, however large the office."""
    table = OccurrenceRow.__table__
    query = select(table).where(table.c.plan_year == plan.year)
    if digest_window:
        query = query.where(table.c.status == "open", table.c.opens <= today + timedelta(days=DIGEST_OPENS_DAYS))
    return YearLedger.of(list(session.execute(query)), paces_for(session, plan, roster, today))


def person_ledger(session: Session, plan: Plan, roster: Roster, today: date, person_id: str, rows: list) -> YearLedger:
    """A ledger of one person's ``rows`` (the /me page reads only what it shows)."""
    return YearLedger.of([r for r in rows if person_id in r.assignees], paces_for(session, plan, roster, today))


class LedgerCache:
    """The digest window of the ledger, kept from one claimed batch to the next while nothing
    in it can have changed: same plan year, same day, same schedule version, and no ledger
    action since (every check-off, skip, reopen, progress entry and event writes an audit
    row). A Monday's thousands of digests then read the ledger once, not once per batch."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._ledger: YearLedger | None = None

    def get(self, session: Session, plan: Plan, roster: Roster, today: date, version: str) -> YearLedger:
        last_action = session.scalar(select(func.max(AuditRow.id)))
        key = (plan.year, today, version, last_action)
        if key != self._key or self._ledger is None:
            self._ledger = year_ledger(session, plan, roster, today, digest_window=True)
            self._key = key
        return self._ledger


def rows_by_id(session: Session, ids: Iterable[str]) -> dict[str, object]:
    table = OccurrenceRow.__table__
    ids = list(set(ids))
    return {r.id: r for r in session.execute(select(table).where(table.c.id.in_(ids)))} if ids else {}


def personal(ledger: YearLedger, person_id: str, today: date) -> dict:
    """The sections of one person's digest; empty lists where there is nothing."""
    week_end = today + timedelta(days=6 - today.weekday())
    rows = [r for r in ledger.by_person.get(person_id, ()) if r.status == "open"]
    overdue = sorted((r for r in rows if r.due < today), key=lambda r: (r.due, r.id))
    this_week = sorted((r for r in rows if today <= r.due <= week_end), key=lambda r: (r.due, r.id))
    upcoming = sorted((r for r in rows if today < r.opens <= today + timedelta(days=DIGEST_OPENS_DAYS) and r.due > week_end),
                      key=lambda r: (r.opens, r.id))
    targets = ledger.paces.for_reader(person_id)
    return {"overdue": overdue, "this_week": this_week, "upcoming": upcoming, "targets": targets,
            "empty": not (overdue or this_week or upcoming or targets)}


def _counts(key: dict) -> dict:
    return {**key, "done": 0, "open": 0, "overdue": 0, "skipped": 0, "due_so_far": 0, "prelive": 0}


def _count(counts: dict, status: str, past_due: bool, n: int) -> None:
    """Add ``n`` occurrences of ``status``, due before today or not, to ``counts``."""
    if status == "prelive":  # due before go-live: never owed, counted apart
        counts["prelive"] += n
        return
    if status == "done":
        counts["done"] += n
    elif status == "skipped":
        counts["skipped"] += n
    elif status == "open":
        counts["open"] += n
        counts["overdue"] += n if past_due else 0
    if status != "cancelled" and past_due:
        counts["due_so_far"] += n


# (item, branch, status, due before today, how many): what the overview and the branch table count.
Tally = tuple[int, "str | None", str, bool, int]


def year_tallies(session: Session, year: int, today: date) -> list[Tally]:
    """The year's occurrences counted by item, branch, status and whether they are past due,
    in the database: an overview reads a few hundred counts, not the office's whole year."""
    table = OccurrenceRow.__table__
    past_due = (table.c.due < today).label("past_due")
    query = (select(table.c.item, table.c.branch, table.c.status, past_due, func.count())
             .where(table.c.plan_year == year)
             .group_by(table.c.item, table.c.branch, table.c.status, literal_column("past_due")))
    return [(item, branch, status, bool(past), n) for item, branch, status, past, n in session.execute(query)]


def tallies_of(rows: Iterable, today: date) -> list[Tally]:
    """``year_tallies`` of rows already read (the admin console has the year's rows)."""
    counted = Counter((r.item, r.branch, r.status, r.due < today) for r in rows)
    return [(*key, n) for key, n in counted.items()]


def by_branch(tallies: list[Tally], roster: Roster) -> list[dict]:
    """The year's status per 支部 (in the roster's order), then the office's own duties; empty
    for a roster of one branch, where it would only repeat the total."""
    if not roster.branched:
        return []
    groups = {b: _counts({"branch": b, "name": name}) for b, name in roster.branches.items()}
    office = _counts({"branch": None, "name": "机关(不分支部)"})
    for _item, branch, status, past_due, n in tallies:
        _count(groups.get(branch, office), status, past_due, n)
    return [*groups.values(), office]


def overview(session: Session, plan: Plan, roster: Roster, today: date, since: datetime) -> dict:
    """The whole plan's status by item and by branch, the targets' paces, and deliveries that
    failed since ``since``."""
    tallies = year_tallies(session, plan.year, today)
    by_item: dict[int, dict] = {}
    for item, _branch, status, past_due, n in tallies:
        counts = by_item.get(item)
        if counts is None:
            counts = by_item[item] = _counts({"item": item, "title": plan.items.get(item, "")})
        _count(counts, status, past_due, n)
    # Failed since `since` by the time of the attempt that gave up (rows are planned months ahead).
    given_up = select(DeliveryRow.message_id).where(DeliveryRow.outcome == "failed", DeliveryRow.started_at >= since)
    failed = list(session.scalars(select(MessageRow).where(MessageRow.status == "failed", MessageRow.id.in_(given_up))
                                  .order_by(MessageRow.id)))
    items = [by_item[k] for k in sorted(by_item)]
    return {"items": items, "branches": by_branch(tallies, roster), "failed": failed,
            "targets": paces_for(session, plan, roster, today).for_reader(None),
            "overdue_total": sum(i["overdue"] for i in items), "empty": False}


def link_checkoffs(session: Session, since: datetime) -> list[AuditRow]:
    """Check-offs made through a link or the workbench since ``since`` (the CLI's and the
    admins' are the office's own record and not news to anyone)."""
    entries = session.scalars(select(AuditRow).where(AuditRow.action == "done", AuditRow.at >= since)
                              .order_by(AuditRow.at))
    return [e for e in entries if isinstance(e.detail.get("via"), dict) and e.detail["via"].get("kind") == "link"]


def checked_by_others(entries: list[AuditRow], rows: dict[str, object], person_id: str,
                      names: dict[str, str], zone: ZoneInfo) -> list[dict]:
    """Of ``entries``, those on this person's duties (``rows``: the entries' occurrences by id)
    made by someone else: who, when, how."""
    mine = {i: r for i, r in rows.items() if person_id in r.assignees}
    out = []
    for entry in entries:
        row = mine.get(entry.subject)
        if row is None or entry.actor == person_id:
            continue
        out.append({"title": row.title, "by_name": names.get(entry.actor, entry.actor),
                    "at": entry.at.astimezone(zone), "via": entry.detail["via"]})
    return out
