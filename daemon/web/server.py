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


class QuietServer(uvicorn.Server):
    """uvicorn's own loop wakes every 0.1 s to see whether it should stop (and every tenth time
    to refresh its Date header): ten wake-ups a second in a daemon that is otherwise asleep, and
    five times a sleeping process's idle CPU. This one wakes once a second for the Date header,
    and at once when ``wake()`` (from ``WebServer.stop``) asks it to look at ``should_exit``."""

    _loop: asyncio.AbstractEventLoop | None = None
    _woken: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # a multiple of 10: on_tick refreshes the Date header
            try:
                await asyncio.wait_for(self._woken.wait(), 1)
            except TimeoutError:
                pass

    def wake(self) -> None:
        """Called from another thread."""
        if self._loop is not None and self._woken is not None:
            self._loop.call_soon_threadsafe(self._woken.set)


class WebServer:
    def __init__(self, bench: Workbench, host: str, port: int):
        self.config = uvicorn.Config(create_app(bench), host=host, port=port, log_level="warning",
                                     access_log=False, proxy_headers=True, lifespan="off",
                                     timeout_graceful_shutdown=5)
        self.server = QuietServer(self.config)
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
        self.server.wake()
        if self.thread is not None:
            self.thread.join(timeout=10)
