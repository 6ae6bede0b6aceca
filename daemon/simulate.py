"""A year of the plan on a virtual clock: the real sync, planning and dispatch, jumped from one
due message to the next, so an admin sees what goes out before going live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from daemon.dispatch import DispatchStats
from daemon.service import Service
from daemon.store.tables import MessageRow


@dataclass
class SimulationResult:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    expired: int = 0
    wakes: int = 0
    by_day: dict[date, int] = field(default_factory=dict)

    def add(self, day: date, stats: DispatchStats) -> None:
        self.sent += stats.sent
        self.skipped += stats.skipped
        self.failed += stats.failed
        self.retried += stats.retried
        self.expired += stats.expired
        self.wakes += 1
        if stats.sent:
            self.by_day[day] = self.by_day.get(day, 0) + stats.sent


def simulate(service: Service, start: date, end: date, timezone: str, go_live: bool,
             on_day: Callable[[date], None] | None = None) -> SimulationResult:
    """Run [start, end] (local dates). ``go_live``: treat ``start`` as the first day of service,
    so what was due before it is history, not a backlog (the scratch-database default).
    ``on_day(day)`` is told each simulated day the clock reaches (a progress bar's)."""
    zone = ZoneInfo(timezone)
    now = datetime.combine(start, time(0), zone).astimezone(UTC)
    stop = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    service.start(now)
    if go_live:
        with service.sessions.begin() as session:
            session.execute(update(MessageRow).where(MessageRow.status == "pending", MessageRow.send_at < now)
                            .values(status="skipped", last_error="before the simulated start"))
    result = SimulationResult()
    while not service.stop.is_set():
        wake = service.next_wake()
        if wake is None or wake >= stop:
            break
        now = max(wake, now)
        day = now.astimezone(zone).date()
        if on_day is not None:
            on_day(day)
        result.add(day, service.dispatch(now))
    if on_day is not None:
        on_day(end)
    return result
