"""Serving the workbench inside `planbell run`: uvicorn in a background thread, next to the
scheduler. The main thread keeps waiting for SIGTERM (see run_command); uvicorn installs no
signal handlers off the main thread, and is stopped by setting ``should_exit``."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import uvicorn

from daemon.config import public_url
from daemon.web.app import create_app
from daemon.web.context import Workbench

log = logging.getLogger("planbell.web")


def workbench_for(service, wake, health) -> Workbench:
    """The running service's workbench: its store, its last good schedule, its link signer."""
    return Workbench(sessions=service.sessions, schedule=lambda: service.schedule, links=service.links,
                     wake=wake, health=health,
                     secure_cookies=public_url(service.settings).startswith("https://"))


class WebServer:
    def __init__(self, bench: Workbench, host: str, port: int):
        self.config = uvicorn.Config(create_app(bench), host=host, port=port, log_level="warning",
                                     access_log=False, proxy_headers=True, lifespan="off",
                                     timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(self.config)
        self.thread: threading.Thread | None = None
        self.socket: socket.socket | None = None

    def start(self) -> None:
        """Bind now (so a taken port fails `planbell run` at once, in its own words), then serve
        in the background."""
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
        # without it each response (headers and body written apart) waited 40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.set_inheritable(True)
        self.socket = sock
        self.thread = threading.Thread(target=self._run, name="planbell-web", daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1] if self.socket else self.config.port

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.socket]))
        except Exception:  # the scheduler keeps running; the operator sees why the web stopped
            log.exception("the workbench server stopped")

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
