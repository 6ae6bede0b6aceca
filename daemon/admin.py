"""Alerts to the admins (roster role `admin`): bad schedule edits, failed deliveries, messages
skipped after downtime. One row per admin with a natural key, so an alert is raised once."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from daemon import defaults
from daemon.outbox import enqueue
from daemon.plan.model import Roster

log = logging.getLogger("planbell.admin")


def alert_admins(session: Session, roster: Roster, topic: str, discriminator: str, now: datetime,
                 context: dict) -> int:
    """Queue one alert per admin; the same (topic, discriminator) is alerted only once."""
    admins = roster.with_role(defaults.ADMIN_ROLE)
    if not admins:
        log.error("no one in the roster has role %r; admin alert %s not sent: %s",
                  defaults.ADMIN_ROLE, topic, context)
        return 0
    for person in admins:
        enqueue(session, key=f"admin:{topic}:{discriminator}:{person.id}:email", kind="admin",
                person=person.id, channel="email", send_at=now, now=now,
                content={"topic": topic, "context": context})
    return len(admins)
