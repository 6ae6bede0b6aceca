"""Signing in without passwords: a personal link mailed through the outbox, and the console's
one-time admin link. What the /login page and `planbell run` call."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon import defaults
from daemon.ledger import audit
from daemon.outbox import enqueue
from daemon.plan.model import Person, Roster
from daemon.store.tables import AuditRow, StateRow


def find_person(roster: Roster, given: str) -> Person | None:
    """A person by roster id or email address (case does not matter in an address)."""
    given = (given or "").strip()
    if not given:
        return None
    person = roster.person(given)
    if person is not None:
        return person
    lowered = given.lower()
    return next((p for p in roster.people if p.email and p.email.lower() == lowered), None)


def mail_link(session: Session, person: Person, now: datetime, asked_from: dict, title: str | None = None) -> bool:
    """Queue a sign-in link to ``person``'s email, unless they had LOGIN_MAILS_PER_HOUR in the
    last hour (the form must not become a way to flood an inbox). True when queued."""
    if not person.email:
        return False
    recent = session.scalar(select(func.count()).select_from(AuditRow).where(
        AuditRow.action == "signin-mail", AuditRow.subject == person.id, AuditRow.at >= now - timedelta(hours=1)))
    if recent >= defaults.LOGIN_MAILS_PER_HOUR:
        return False
    enqueue(session, key=f"signin:{person.id}:{now.isoformat()}:{recent}", kind="signin", person=person.id,
            channel="email", send_at=now, content={"title": title}, now=now)
    audit(session, now, "web", "signin-mail", person.id, **asked_from)
    return True


def remember_once(session: Session, nonce: str, now: datetime) -> None:
    """Record a one-time link as issued and unspent."""
    session.add(StateRow(key=f"once:{nonce}", value="unspent", updated_at=now))


def spend_once(session: Session, nonce: str, now: datetime) -> bool:
    """Spend a one-time link: True the first time, False ever after (or if never issued). One
    conditional UPDATE, so two instances cannot both spend it."""
    table = StateRow.__table__
    statement = (table.update().where(table.c.key == f"once:{nonce}", table.c.value == "unspent")
                 .values(value="spent", updated_at=now))
    return session.execute(statement).rowcount == 1
