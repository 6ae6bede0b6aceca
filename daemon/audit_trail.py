"""Reading the audit trail back: who changed what, newest first, a page at a time, filtered by
who acted and by what it was about (a duty id, or the start of one: 'first-topic-study'
finds every month of it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon.store.tables import AuditRow, OccurrenceRow


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditRow]
    total: int  # entries matching the filter, on every page
    page: int  # 1-based
    pages: int
    titles: dict[str, str]  # occurrence id -> title, for the subjects on this page


def _filtered(query, actor: str | None, subject_prefix: str | None):
    if actor:
        query = query.where(AuditRow.actor == actor)
    if subject_prefix:
        # autoescape: an id's '_' or '%' is a character to match, not a wildcard.
        query = query.where(AuditRow.subject.startswith(subject_prefix, autoescape=True))
    return query


def audit_page(session: Session, actor: str | None, subject_prefix: str | None, page: int,
               per_page: int) -> AuditPage:
    """One page of matching entries; a page past the last gives the last."""
    total = session.scalar(_filtered(select(func.count(AuditRow.id)), actor, subject_prefix)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    entries = list(session.scalars(_filtered(select(AuditRow), actor, subject_prefix)
                                   .order_by(AuditRow.at.desc(), AuditRow.id.desc())
                                   .offset((page - 1) * per_page).limit(per_page)))
    subjects = {e.subject for e in entries}
    found = session.execute(select(OccurrenceRow.id, OccurrenceRow.title).where(OccurrenceRow.id.in_(subjects)))
    titles = {occurrence: title for occurrence, title in found}
    return AuditPage(entries, total, page, pages, titles)


def actors(session: Session) -> list[str]:
    """Everyone who ever acted (people, `cli:…` users, the web itself), for the filter."""
    return sorted(session.scalars(select(AuditRow.actor).distinct()))
