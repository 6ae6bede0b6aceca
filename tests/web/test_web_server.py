"""The workbench's own uvicorn, as `planbell run` starts it: what a person waits for."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

from daemon.links import Links
from daemon.store.db import make_engine, sessions, upgrade
from daemon.web.context import Workbench
from daemon.web.server import WebServer
from tests.clirun import bundled_schedule


def served(tmp_path) -> tuple[WebServer, object]:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(engine)
    schedule = bundled_schedule()
    bench = Workbench(sessions=sessions(engine), schedule=lambda: schedule,
                      links=Links(b"k" * 32, "http://127.0.0.1"))
    server = WebServer(bench, "127.0.0.1", 0)
    server.start()
    return server, engine


def wakeups(thread) -> int:
    """How often the thread has woken from a sleep (its voluntary context switches)."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("voluntary_ctxt_switches:")).split()[1])


def test_answers_on_a_kept_alive_connection_do_not_wait_for_delayed_acks(tmp_path):
    # A response goes out as two writes (headers, body). On a socket without TCP_NODELAY the
    # second waits for the client's delayed ACK: 40 ms a request on Linux, whatever the page.
    server, engine = served(tmp_path)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for _ in range(3):  # warm: templates compiled
            connection.request("GET", "/login")
            connection.getresponse().read()
        started = time.perf_counter()
        for _ in range(20):
            connection.request("GET", "/login")
            answer = connection.getresponse()
            assert answer.status == 200 and "登录" in answer.read().decode()
        elapsed = time.perf_counter() - started
        connection.close()
    finally:
        server.stop()
        engine.dispose()
    assert elapsed < 0.4, f"20 pages took {elapsed * 1000:.0f} ms (at least 800 with delayed ACKs)"


def test_an_idle_server_wakes_about_once_a_second_and_still_stops_at_once(tmp_path):
    # uvicorn's own loop polls every 0.1 s: ten wake-ups a second in an otherwise sleeping daemon.
    server, engine = served(tmp_path)
    try:
        time.sleep(0.5)  # started and settled
        before = wakeups(server.thread)
        time.sleep(3)
        woken = wakeups(server.thread) - before
    finally:
        started = time.monotonic()
        server.stop()
        stopping = time.monotonic() - started
        engine.dispose()
    assert woken <= 8, f"the server's thread woke {woken} times in 3 idle seconds"
    assert stopping < 1 and not server.thread.is_alive()
