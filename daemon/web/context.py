"""What every page needs from the running service, handed to the app factory (testable: a
test builds one on a SQLite file with a frozen clock)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from daemon import clock as default_clock
from daemon.links import Links
from daemon.plan.schedule import Schedule


@dataclass
class Workbench:
    sessions: sessionmaker[Session]
    schedule: Callable[[], Schedule]  # the last good schedule, read per request (reloads)
    links: Links
    clock: Callable[[], datetime] = default_clock.now
    # Wakes the local dispatcher after a page queued a message (a sign-in link, a 催办);
    # another instance's sweep would send it within a minute anyway.
    wake: Callable[[], None] = lambda: None
    health: object | None = None  # daemon.health.Health, for /healthz and /metrics
    secure_cookies: bool = False  # https public address: cookies only over https

    @property
    def zone(self) -> ZoneInfo:
        return self.schedule().zone

    def today(self):
        return self.clock().astimezone(self.zone).date()
