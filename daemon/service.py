"""The service's working parts, wired once: store, last good schedule, notifiers, dispatcher.

`planbell run` drives it from APScheduler; `planbell simulate` from a virtual clock; the CLI
commands use its store. Every method takes ``now``: nothing in here reads the clock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from daemon import clock
from daemon.admin import alert_admins
from daemon.compose import Composer
from daemon.config import Settings, workbench_url
from daemon.digest import LedgerCache, digest_settings
from daemon.dispatch import Dispatcher, DispatchStats
from daemon.links import Links
from daemon.outbox import next_wake
from daemon.pipeline import RefreshResult, refresh
from daemon.plan.errors import ScheduleInvalid
from daemon.plan.schedule import Schedule, load_schedule, plan_files, resolve_roster, version_of
from daemon.store import snapshot
from daemon.store.db import make_engine, sessions, upgrade
from daemon.store.secret import shared_secret
from daemon.store.state import set_state
from notifiers.base import Notifier

log = logging.getLogger("planbell")


@dataclass
class ReloadOutcome:
    changed: bool
    schedule: Schedule | None = None
    errors: list | None = None


class ScheduleWatch:
    """Keeps the last good schedule; notices edits by the files' contents."""

    def __init__(self, schedules: Path, roster: Path):
        self.schedules = Path(schedules)
        self.roster = Path(roster)
        self.current: Schedule | None = None
        self._fingerprint: tuple = ()
        self.rejected_version: str | None = None

    def files(self) -> list[Path]:
        files = plan_files([self.schedules], self.roster) if self.schedules.exists() else []
        return [*files, resolve_roster(self.roster)]

    def fingerprint(self) -> tuple:
        # Contents, not size and mtime: a same-size fix ("remnid" → "remind") saved within the
        # filesystem's timestamp granularity (a few ms; 1–2 s on some) would go unnoticed.
        out = []
        for file in self.files():
            try:
                out.append((str(file), hashlib.sha256(file.read_bytes()).hexdigest()))
            except OSError:
                out.append((str(file), None))
        return tuple(out)

    def load(self) -> Schedule:
        """First load: a bad schedule here is fatal (there is no last good one to keep)."""
        self._fingerprint = self.fingerprint()
        self.current = load_schedule(self.schedules, self.roster)
        return self.current

    def poll(self) -> ReloadOutcome:
        fingerprint = self.fingerprint()
        if fingerprint == self._fingerprint:
            return ReloadOutcome(False)
        self._fingerprint = fingerprint
        try:
            schedule = load_schedule(self.schedules, self.roster)
        except ScheduleInvalid as exc:
            self.rejected_version = version_of(self.files())
            return ReloadOutcome(True, errors=exc.errors)
        recovering, self.rejected_version = self.rejected_version, None
        if self.current is not None and schedule.version == self.current.version and not recovering:
            return ReloadOutcome(False)  # touched, not changed
        # A bad edit undone back to the running version is still news: the error is cleared.
        self.current = schedule
        return ReloadOutcome(True, schedule=schedule)


class Service:
    def __init__(self, settings: Settings, notifiers: dict[str, Notifier], instance: str | None = None):
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        upgrade(self.engine)
        self.sessions = sessions(self.engine)
        self.watch = ScheduleWatch(settings.schedules, settings.roster)
        self.notifiers = notifiers
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.stop = threading.Event()
        self.reload_errors = 0
        self.digests = digest_settings(settings)
        self.links = workbench_links(settings, self.sessions)
        self.ledgers = LedgerCache()
        self.dispatcher = Dispatcher(self.sessions, lambda: self.schedule,
                                     lambda: Composer(self.schedule, self.digests, self.links, settings.reply_to,
                                                      self.ledgers),
                                     notifiers, self.instance, self.stop)

    @property
    def schedule(self) -> Schedule:
        return self.watch.current

    def start(self, now: datetime) -> RefreshResult:
        self.watch.load()
        return self.refresh(now)

    def refresh(self, now: datetime) -> RefreshResult:
        with self.sessions.begin() as session:
            result = refresh(session, self.schedule, now, self.digests, tuple(self.notifiers), self.settings.go_live)
            if not result.unchanged:  # else the last refresh saved this very schedule
                snapshot.save(session, self.schedule, now)
        return result

    def dispatch(self, now: datetime) -> DispatchStats:
        stats = self.dispatcher.run_once(now)
        with self.sessions.begin() as session:
            set_state(session, "last_dispatch_at", now.isoformat(), now)
        return stats

    def reload(self, now: datetime) -> bool:
        """Apply a schedule edit if there is one; a bad edit is refused and the admins told
        once per bad version. Returns whether a new schedule is now running."""
        outcome = self.watch.poll()
        if not outcome.changed:
            return False
        if outcome.errors is not None:
            self.reload_errors += 1
            # The lines about the schedule are read by the admin who just saved it, in the
            # console of `planbell run`: Chinese, like the errors they carry. Delivery and
            # lifecycle lines are the operator's: English and greppable (see daemon.logs).
            for error in outcome.errors:
                log.error("日程修改有误,未生效:%s", error)
            bad_version = "|".join(str(e) for e in outcome.errors)
            with self.sessions.begin() as session:
                set_state(session, "last_reload_error", "\n".join(str(e) for e in outcome.errors), now)
                alert_admins(session, self.schedule.roster, "schedule-invalid",
                             # once per distinct set of errors a day: re-saving the same mistake
                             # is not news, making it again next week is
                             f"{now.date().isoformat()}:{_digest(bad_version)}", now, {
                                 "errors": [str(e) for e in outcome.errors],
                                 "running_version": self.schedule.version,
                             })
            log.error("继续使用上一个正确版本 %s(本次修改有 %d 处错误)", self.schedule.version, len(outcome.errors))
            return False
        result = self.refresh(now)
        with self.sessions.begin() as session:
            set_state(session, "last_reload_error", "", now)
        log.info("日程已重新加载:版本 %s;事项 +%d ~%d -%d,重新打开 %d;消息 +%d ~%d -%d",
                 self.schedule.version, result.sync.added, result.sync.updated, result.sync.cancelled,
                 result.sync.reopened, result.messages["added"], result.messages["updated"],
                 result.messages["cancelled"])
        return True

    def next_wake(self) -> datetime | None:
        with self.sessions() as session:
            return next_wake(session)


def workbench_links(settings: Settings, made_sessions) -> Links | None:
    """The signer of every link in messages, or None when no workbench serves them (no port
    and no public address): then messages carry no buttons rather than dead ones."""
    base = workbench_url(settings)
    if base is None:
        return None
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    with made_sessions.begin() as session:
        secret = shared_secret(session, configured, clock.now())
    return Links(secret, base)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
