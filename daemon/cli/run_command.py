"""`planbell run`: the service."""

from __future__ import annotations

import logging
import signal
import threading

from daemon import clock
from daemon.cli.main import App, cli, pass_app
from daemon.logs import setup_logging

log = logging.getLogger("planbell")


@cli.command()
@pass_app
def run(app: App) -> None:
    """启动服务(前台运行,Ctrl+C 或 SIGTERM 停止)。

    \b
    例:planbell run
        PLANBELL_SCHEDULES=/etc/planbell/schedules planbell run
    """
    setup_logging(app.settings.log_level)
    schedule = app.schedule()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    obligations = sum(len(p.obligations) for p in schedule.plans)
    targets = sum(len(p.targets) for p in schedule.plans)
    log.info(
        "planbell ready: %d plan(s), %d obligations, %d targets, %d people, schedule %s, at %s",
        len(schedule.plans), obligations, targets, len(schedule.roster.people), schedule.version,
        clock.now().isoformat(timespec="seconds"),
    )
    stop.wait()
    log.info("planbell stopped")
