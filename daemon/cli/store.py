"""The database as the ledger commands see it: at the schema's head, holding the expansion
of the schedule they act on.

Fast when nothing changed: a command whose schedule files are the version last synced (and
whose go-live setting is the one recorded) reads the schedule stored with that sync instead
of parsing the YAML, and does not sync again. While the files have errors, the ledger
commands act on the last good schedule, as the daemon does, and say which files to fix;
only `validate` and the daemon's reload refuse an edit.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from daemon.cli.main import App
from daemon.plan.errors import ScheduleInvalid
from daemon.plan.schedule import Schedule, plan_files, resolve_roster, version_of
from daemon.store import snapshot
from daemon.store.db import DatabaseUrlError, make_engine, sessions, upgrade
from daemon.store.tables import StateRow

_FACTS = (snapshot.KEY, snapshot.VERSION_KEY, "go_live")


class Store:
    """The database, migrated and synced with the schedule before any command uses it."""

    def __init__(self, app: App, now: datetime, sync: bool = True):
        self.app = app
        self.where = where = app.where
        try:
            self.engine = make_engine(where.database_url)
            upgrade(self.engine)
        except DatabaseUrlError as exc:
            raise click.ClickException(str(exc)) from None
        except OperationalError as exc:
            raise click.ClickException(f"无法连接数据库 {where.database_url}:{exc.orig}") from None
        self.sessions = sessions(self.engine)
        self.broken: ScheduleInvalid | None = None  # the files' errors, when acting on the last good
        if sync:
            self.schedule = self._schedule(app, now)

    def _schedule(self, app: App, now: datetime) -> Schedule:
        settings = self.where
        with self.sessions() as session:
            facts = {r.key: r.value for r in session.scalars(select(StateRow).where(StateRow.key.in_(_FACTS)))}
        stored = snapshot.load(facts.get(snapshot.KEY))
        files = plan_files([Path(settings.schedules)], Path(settings.roster)) if Path(settings.schedules).exists() else []
        version = version_of([*files, resolve_roster(Path(settings.roster))])
        go_live_unchanged = settings.go_live is None or facts.get("go_live") == settings.go_live.isoformat()
        if (stored is not None and stored.version == version == facts.get(snapshot.VERSION_KEY)
                and go_live_unchanged):
            app.use_schedule(stored)
            return stored
        try:
            schedule = app.schedule()
        except ScheduleInvalid as exc:
            if stored is None:
                raise
            self.broken = exc
            app.use_schedule(stored)
            say_last_good(exc, stored)
            return stored
        self.schedule = schedule
        self.replan(now)
        return schedule

    def replan(self, now: datetime) -> None:
        from daemon.config import available_channels
        from daemon.digest import digest_settings
        from daemon.pipeline import refresh

        settings = self.app.settings  # re-planning needs them all (digests, channels)
        with self.sessions.begin() as session:
            refresh(session, self.schedule, now, digest_settings(settings),
                    available_channels(settings), self.where.go_live)
            # The database now holds this schedule's expansion: say so, as the service does.
            snapshot.save(session, self.schedule, now)


def say_last_good(exc: ScheduleInvalid, stored: Schedule) -> None:
    files = sorted({e.file for e in exc.errors})
    click.echo(f"注意:日程文件有 {len(exc.errors)} 处错误,本命令按上一个正确版本({stored.version})办理;"
               f"请修改 {'、'.join(files)}:", err=True)
    for error in exc.errors:
        click.echo(f"  {error}", err=True)
