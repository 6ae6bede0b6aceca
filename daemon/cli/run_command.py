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
        "occurrences +%d, messages +%d; channels %s; next wake %s; database %s; workbench %s",
        len(schedule.plans), sum(len(p.obligations) for p in schedule.plans),
        sum(len(p.targets) for p in schedule.plans), len(schedule.roster.people), schedule.version,
        result.sync.added, result.messages["added"], ",".join(service.notifiers),
        wake.isoformat(timespec="seconds") if wake else "none",
        service.engine.url.render_as_string(hide_password=True),
        f"{service.links.base}/me" if server is not None else "off (PLANBELL_HTTP_PORT=0)",
    )
    if server is not None:
        _announce_workbench(settings, service)
    clockwork.start()
    received = signal.sigwait(STOP_SIGNALS)
    log.info("%s: stopping after the send in flight", signal.Signals(received).name)
    clockwork.stop()
    if server is not None:
        server.stop()
    log.info("planbell stopped")
    if held:
        held.close()


def _serve_http(settings, service: Service, clockwork: Clockwork):
    """The workbench, /healthz and /metrics in a background thread; None when the port is 0."""
    if not settings.http_port:
        return None
    from daemon.health import Health
    from daemon.web.server import WebServer, workbench_for

    health = Health(service.sessions, clock.now, lambda: clockwork.scheduler.running,
                    lambda: clockwork.last_tick, lambda: service.schedule.version,
                    lambda: service.reload_errors)
    server = WebServer(workbench_for(service, clockwork.wake_now, health), settings.http_host, settings.http_port)
    try:
        server.start()
    except OSError as exc:
        click.echo(f"无法在 {settings.http_host}:{settings.http_port} 上提供网页工作台:{exc.strerror or exc};"
                   "请换一个 PLANBELL_HTTP_PORT(0 表示不开启)", err=True)
        sys.exit(EXIT_USAGE)
    return server


def _announce_workbench(settings, service: Service) -> None:
    """The workbench's address; on a loopback-only server also a one-time admin sign-in link on
    the console (as Jupyter prints its token URL), so a fresh install has something to open.
    The link is printed, never logged: logs are shipped and kept, a console is the operator's."""
    from daemon.signin import remember_once

    if settings.http_host not in ("127.0.0.1", "localhost", "::1"):
        return
    admins = service.schedule.roster.with_role("admin")
    if not admins:
        click.echo("名册中没有角色为 admin 的人员,无法生成管理员登录链接;请在名册中为管理员加上 admin 角色。", err=True)
        return
    now = clock.now()
    url, nonce = service.links.once_url(admins[0].id, now)
    with service.sessions.begin() as session:
        remember_once(session, nonce, now)
    click.echo(f"\n  工作台:{service.links.base}/me\n  管理员 {admins[0].name} 的一次性登录链接(24 小时内有效,只能用一次):\n  {url}\n", err=True)
