"""APScheduler as the clock, and nothing more.

It wakes the dispatcher at the next due message (plus a safety sweep), polls the schedule files
for edits, and re-plans once a day. It holds no state that the database and the YAML cannot
rebuild: jobs live in memory and are recreated at every start.

Job settings, chosen deliberately:
- one worker thread: jobs never overlap, so one process never races itself;
- ``coalesce=True``: a wake-up missed while busy runs once, not once per miss;
- ``misfire_grace_time=None``: a late wake-up still runs (APScheduler's 1 s default would
  silently drop it after a laptop sleep or a long send batch); the database says what is due.

The scheduler runs in the background and is stopped from the main thread (see `planbell run`),
never from a signal handler: a handler runs inside whatever the main thread was doing, and
shutting the thread pool down there while the scheduler was submitting to it deadlocked.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import DBAPIError

from daemon import clock, defaults
from daemon.service import Service

log = logging.getLogger("planbell")


class Clockwork:
    def __init__(self, service: Service, timezone: str):
        self.service = service
        self.last_tick: datetime | None = None  # /healthz: a stuck scheduler stops ticking
        self.scheduler = BackgroundScheduler(
            timezone=timezone,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        # Held by the job in progress (one at a time: one worker), so that stop() can wait for it.
        self._running = threading.Lock()
        self.scheduler.add_job(self._job(self.tick), IntervalTrigger(seconds=defaults.SWEEP_SECONDS), id="sweep")
        self.scheduler.add_job(self._job(self.poll_schedule), IntervalTrigger(seconds=defaults.RELOAD_POLL_SECONDS), id="reload")
        self.scheduler.add_job(self._job(self.daily), CronTrigger(hour=0, minute=5, timezone=timezone), id="daily")

    def _job(self, work):
        """``work`` as a scheduler job: skipped once stopping, waited for by stop()."""
        def job() -> None:
            with self._running:
                if not self.service.stop.is_set():
                    work()
        return job

    def start(self) -> None:
        """Start the jobs in the background (the first tick at once) and return."""
        self.scheduler.add_job(self._job(self.tick), id="first")
        self.scheduler.start()

    def stop(self) -> None:
        """Stop claiming, let the send in flight finish, and return when the jobs are done."""
        self.service.stop.set()
        if self.scheduler.running:
            # Paused, not shut down: APScheduler 3's shutdown() races its own job loop (a
            # JobLookupError traceback on the way out) and, with wait=True, deadlocks with a
            # finishing tick that sets its next alarm. Paused, it starts nothing new; its
            # thread is a daemon thread and ends with the process.
            self.scheduler.pause()
        with self._running:  # the job in flight (a send) finishes; queued ones are skipped
            pass

    def tick(self) -> None:
        """Send what is due, then set the alarm for the next due message."""
        self.last_tick = clock.now()
        try:
            self.service.dispatch(clock.now())
        except DBAPIError as exc:  # the database is away: one line per tick, not a traceback
            log.error("dispatch failed, database unavailable (%s); will try again at the next wake-up",
                      type(exc.orig).__name__ if exc.orig else exc)
        except Exception:  # the daemon never dies of one bad run (a bug)
            log.exception("dispatch failed; will try again at the next wake-up")
        self.arm()

    def wake_now(self) -> None:
        """Send what a web page just queued (a sign-in link, a 催办) without waiting for the
        sweep; safe from any thread."""
        if self.scheduler.running and not self.service.stop.is_set():
            self.scheduler.add_job(self._job(self.tick), id="wake", replace_existing=True)

    def arm(self) -> None:
        if self.service.stop.is_set():
            return
        try:
            wake = self.service.next_wake()
        except DBAPIError:
            return  # already reported by tick(); the sweep will retry
        except Exception:
            log.exception("could not read the next wake-up time; the sweep will retry")
            return
        if wake is None:
            self._remove("wake")
            return
        run_at = max(wake, clock.now()) + timedelta(milliseconds=50)
        self.scheduler.add_job(self._job(self.tick), DateTrigger(run_date=run_at), id="wake", replace_existing=True)

    def _remove(self, job_id: str) -> None:
        if self.scheduler.get_job(job_id):
            self.scheduler.remove_job(job_id)

    def poll_schedule(self) -> None:
        refused = self.service.reload_errors
        try:
            reloaded = self.service.reload(clock.now())
        except Exception:
            log.exception("schedule reload failed; keeping the running schedule")
            return
        # A new schedule has new messages due; a refused edit has queued the admins' alert for
        # now. Either way, send at once: the next sweep may be a minute away.
        if reloaded or self.service.reload_errors != refused:
            self.tick()

    def daily(self) -> None:
        """Re-plan once a day: overdue stages and escalations follow the calendar."""
        try:
            self.service.refresh(clock.now())
        except Exception:
            log.exception("daily refresh failed; will retry tomorrow or at the next reload")
        self.tick()
