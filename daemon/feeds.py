"""Calendar subscriptions: /calendar/<token>.ics per person.

The token is random and only its SHA-256 is stored: the address is shown once (on /me or by
`planbell feed reset`), and resetting it revokes the old one. A feed holds the same events and
UIDs as `planbell ics`, plus per-event happenings, with checked-off duties marked done; its
bytes change only when its rows do (each event's DTSTAMP is the row's last change, not the
wall clock), so clients polling with If-None-Match get 304 until something happened.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import defaults
from daemon.ics import Extra, build_calendar, from_row
from daemon.links import Links
from daemon.plan.schedule import Schedule
from daemon.store.tables import FeedRow, OccurrenceRow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def feed_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/calendar/{token}.ics"


def has_feed(session: Session, person_id: str) -> bool:
    return session.get(FeedRow, person_id) is not None


def reset(session: Session, person_id: str, now: datetime) -> str:
    """A new token for ``person_id`` (the old address stops working); returns it."""
    token = secrets.token_urlsafe(24)
    row = session.get(FeedRow, person_id)
    if row is None:
        session.add(FeedRow(person=person_id, token_hash=_hash(token), created_at=now))
    else:
        row.token_hash, row.created_at = _hash(token), now
    return token


def person_for(session: Session, token: str) -> str | None:
    if not token or len(token) > 100:
        return None
    return session.scalar(select(FeedRow.person).where(FeedRow.token_hash == _hash(token)))


def calendar_for(session: Session, schedule: Schedule, person_id: str, links: Links | None) -> bytes:
    """The person's duties of every loaded plan year, open and done (cancelled ones dropped)."""
    plans = {p.year: p for p in schedule.plans}
    names = {p.id: p.name for p in schedule.roster.people}
    rows = [r for r in session.scalars(select(OccurrenceRow).where(OccurrenceRow.plan_year.in_(list(plans)),
                                                                   OccurrenceRow.status != "cancelled")
                                       .order_by(OccurrenceRow.due, OccurrenceRow.id))
            if person_id in r.assignees]
    zone = schedule.zone
    extras = {}
    for row in rows:
        done = None
        if row.status == "done" and row.done_at:
            at = row.done_at.astimezone(zone)
            done = f"已完成({at.month}月{at.day}日 {names.get(row.done_by, row.done_by or '')}销号)"
        elif row.status == "skipped":
            done = "不需办理"
        url = None
        if links is not None and row.status == "open":
            url = links.action_url(person_id, row.id, "progress" if row.kind == "report" else "done", row.due)
        extras[row.id] = Extra(row.updated_at, done, url)
    person = schedule.roster.person(person_id)
    first = schedule.plans[0] if schedule.plans else None
    name = f"{first.title if first else 'planbell'} · {person.name if person else person_id}"
    entries = [(plans[r.plan_year], from_row(r)) for r in rows]
    # The calendar's own clock is the newest row: no wall-clock time anywhere in the bytes.
    newest = max((r.updated_at for r in rows), default=datetime(2000, 1, 1, tzinfo=zone))
    return build_calendar(entries, schedule.roster, newest, name, str(zone), extras, defaults.FEED_REFRESH)
