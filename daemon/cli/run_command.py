"""`planbell run`: the service."""

from __future__ import annotations

import logging
import signal
import sys

import click

from daemon import clock
from daemon.cli.main import EXIT_USAGE, App, pass_app
from daemon.logs import setup_logging
from daemon.scheduler import Clockwork
from daemon.service import Service
from daemon.store import lock
from notifiers.factory import email_notifier

log = logging.getLogger("planbell")


@click.command()
@pass_app
def run(app: App) -> None:
    """启动服务(前台运行,Ctrl+C 或 SIGTERM 停止)。

    \b
    按日程发送提醒、逾期升级;日程或名册文件修改后 5 秒内自动生效,
    修改有误时继续使用上一个正确版本并通知管理员(名册中角色为 admin 的人)。
    例:planbell run
        PLANBELL_DATABASE_URL=postgresql+psycopg://planbell@127.0.0.1/planbell planbell run
    """
    settings = app.settings
    setup_logging(settings.log_level)
    try:
        held = lock.acquire(settings.database_url)
    except lock.AlreadyRunning as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    service = Service(settings, {"email": email_notifier(settings)})
    started = clock.now()
    result = service.start(started)
    for warning in service.schedule.warnings:
        log.warning("schedule: %s", warning)
    timezone = service.schedule.plans[0].timezone if service.schedule.plans else settings.timezone
    clockwork = Clockwork(service, timezone)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: clockwork.stop())
    schedule = service.schedule
    wake = service.next_wake()
    log.info(
        "planbell ready: %d plan(s), %d obligations, %d targets, %d people, schedule %s; "
        "occurrences +%d, messages +%d; next wake %s; database %s",
        len(schedule.plans), sum(len(p.obligations) for p in schedule.plans),
        sum(len(p.targets) for p in schedule.plans), len(schedule.roster.people), schedule.version,
        result.sync.added, result.messages["added"],
        wake.isoformat(timespec="seconds") if wake else "none",
        service.engine.url.render_as_string(hide_password=True),
    )
    clockwork.start()
    log.info("planbell stopped")
    if held:
        held.close()
