"""`planbell run`: the service."""

from __future__ import annotations

import logging
import signal
import sys

import click

from daemon import clock
from daemon.cli.main import EXIT_USAGE, App, pass_app
from daemon.http import Health, serve
from daemon.logs import setup_logging
from daemon.scheduler import Clockwork
from daemon.service import Service
from daemon.store import lock
from notifiers.factory import all_notifiers

log = logging.getLogger("planbell")

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


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
    setup_logging(settings.log_level, settings.log_format)
    # No signal handler: it would run inside whatever the main thread is doing (APScheduler's
    # and the thread pool's locks) and could deadlock there. The stop signals are blocked before
    # any thread starts, so every thread inherits the mask, and the main thread waits for one
    # below; one that comes during start-up waits too, and stops the service once it is up.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        held = lock.acquire(settings.database_url)
    except lock.AlreadyRunning as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    service = Service(settings, all_notifiers(settings))
    result = service.start(clock.now())
    for warning in service.schedule.warnings:
        log.warning("日程提醒:%s", warning)
    timezone = service.schedule.plans[0].timezone if service.schedule.plans else settings.timezone
    clockwork = Clockwork(service, timezone)
    server = _serve_http(settings, service, clockwork)
    schedule, wake = service.schedule, service.next_wake()
    log.info(
        "planbell ready: %d plan(s), %d obligations, %d targets, %d people, schedule %s; "
        "occurrences +%d, messages +%d; channels %s; next wake %s; database %s",
        len(schedule.plans), sum(len(p.obligations) for p in schedule.plans),
        sum(len(p.targets) for p in schedule.plans), len(schedule.roster.people), schedule.version,
        result.sync.added, result.messages["added"], ",".join(service.notifiers),
        wake.isoformat(timespec="seconds") if wake else "none",
        service.engine.url.render_as_string(hide_password=True),
    )
    clockwork.start()
    received = signal.sigwait(STOP_SIGNALS)
    log.info("%s: stopping after the send in flight", signal.Signals(received).name)
    clockwork.stop()
    if server is not None:
        server.shutdown()
    log.info("planbell stopped")
    if held:
        held.close()


def _serve_http(settings, service: Service, clockwork: Clockwork):
    if settings.http_port is None:
        return None
    health = Health(service.sessions, clock.now, lambda: clockwork.scheduler.running,
                    lambda: clockwork.last_tick, lambda: service.schedule.version,
                    lambda: service.reload_errors)
    try:
        return serve(health, settings.http_host, settings.http_port)
    except OSError as exc:
        click.echo(f"无法在 {settings.http_host}:{settings.http_port} 上提供 HTTP 服务:{exc.strerror or exc};"
                   "请换一个 PLANBELL_HTTP_PORT", err=True)
        sys.exit(EXIT_USAGE)
