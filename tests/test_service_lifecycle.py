"""`planbell run` as an operator meets it: how fast it is ready, that a second one on the same
SQLite file is refused in a sentence, and that SIGTERM stops it cleanly, letting the message in
flight finish.

Each test runs the real command (`planbell run`) with the bundled schedule on a scratch SQLite
file, on a virtual clock started at a fixed instant (tests/frozen_run.py), so what it plans and
sends does not depend on the machine's date. Mail goes to a Maildir in the test's directory, or to a real SMTP server on
127.0.0.1 where the test watches a send. Waits poll the process's output with deadlines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from daemon.outbox import enqueue
from daemon.store.db import make_engine, sessions, upgrade
from daemon.store.tables import MessageRow
from tests.clirun import planbell_env
from tests.daemonproc import FROZEN_RUN
from tests.instances import Lines

# Tuesday 10 March 2026, 15:00 in Shanghai: the daemon's "now" when it starts.
START = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
RUN = [sys.executable, str(FROZEN_RUN), START.isoformat(), "run"]

READY_DEADLINE = 5  # seconds; the goal is 2, the rest is slack for a loaded CI machine
STOP_DEADLINE = 10


class Daemon:
    """`planbell run` in its own process, its log read line by line as it comes."""

    def __init__(self, env: dict[str, str], cwd: Path):
        self.started = time.monotonic()
        self.process = subprocess.Popen(RUN, cwd=cwd, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = Lines(self.process.stderr)
        self.log: list[str] = []

    def wait_for(self, word: str, timeout: float = 60) -> float:
        """Seconds from start until a log line containing ``word``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.next(max(deadline - time.monotonic(), 0.01))
            except Exception:
                raise AssertionError(f"no {word!r} in {timeout} s:\n" + "\n".join(self.log[-20:])) from None
            if line is None:
                raise AssertionError(f"exited ({self.process.wait()}) before {word!r}:\n" + "\n".join(self.log[-20:]))
            self.log.append(line)
            if word in line:
                return time.monotonic() - self.started

    def stop(self, timeout: float = STOP_DEADLINE) -> tuple[int, float]:
        """SIGTERM; the exit status and the seconds it took."""
        asked = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"still running {timeout} s after SIGTERM:\n" + "\n".join(self.log[-20:])) from None
        return code, time.monotonic() - asked

    def rest_of_log(self) -> str:
        while (line := self.lines.next(30)) is not None:
            self.log.append(line)
        return "\n".join(self.log)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def maildir_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return planbell_env(database_url=f"sqlite:///{tmp_path / 'planbell.db'}",
                        maildir=str(tmp_path / "maildir"), **extra)


def test_run_is_ready_within_seconds_and_sigterm_stops_it_with_status_0(tmp_path):
    daemon = Daemon(maildir_env(tmp_path), tmp_path)
    try:
        cold = daemon.wait_for("ready")
        code, stopping = daemon.stop()
        log = daemon.rest_of_log()
    finally:
        daemon.kill()
    warm_daemon = Daemon(maildir_env(tmp_path), tmp_path)
    try:
        warm = warm_daemon.wait_for("ready")
        warm_code, _ = warm_daemon.stop()
    finally:
        warm_daemon.kill()
    print(f"\nstart to ready: {cold:.2f} s on a new database, {warm:.2f} s on an existing one; "
          f"SIGTERM to exit: {stopping:.2f} s")
    assert cold < READY_DEADLINE and warm < READY_DEADLINE
    assert code == 0 and warm_code == 0
    assert "planbell stopped" in log
    assert "Traceback" not in log, log


def test_a_second_run_on_the_same_sqlite_file_is_refused_in_chinese_with_status_2(tmp_path):
    env = maildir_env(tmp_path)
    first = Daemon(env, tmp_path)
    try:
        first.wait_for("ready")
        second = subprocess.run(RUN, cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert first.process.poll() is None  # the first one is untouched
        code, _ = first.stop()
    finally:
        first.kill()
    print(f"\n{second.stderr.strip()}")
    assert second.returncode == 2
    assert "Traceback" not in second.stderr
    assert f"另一个 planbell 服务(pid {first.process.pid})正在使用数据库" in second.stderr
    assert "PostgreSQL" in second.stderr  # and what to do instead
    assert code == 0


def test_sigterm_during_a_send_lets_it_finish_claims_nothing_more_and_exits_0(tmp_path, smtp_server):
    env = maildir_env(tmp_path, smtp_host="127.0.0.1", smtp_port=str(smtp_server.port), smtp_security="none")
    database = tmp_path / "planbell.db"
    # Messages long overdue when the daemon starts (2000-01-01); admin alerts never expire, so
    # they are the first the daemon sends.
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    queued = [f"admin:delivery-failed:lifecycle-{n}:xu-li:email" for n in range(5)]
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    with sessions(engine).begin() as session:
        for key in queued:
            enqueue(session, key=key, kind="admin", person="xu-li", channel="email", send_at=long_ago,
                    now=long_ago, content={"topic": "delivery-failed", "context": {
                        "key": key, "recipient": "li-na", "channel": "email", "error": "test", "attempts": 8}})

    daemon: Daemon | None = None
    asked = threading.Event()

    def sigterm_mid_send(_message) -> None:
        # The first message is in the server's hands; the daemon is waiting for "250" when it
        # is told to stop, and hears it only once the daemon has said it is stopping.
        if not asked.is_set():
            asked.set()
            os.kill(daemon.process.pid, signal.SIGTERM)
            daemon.wait_for("stopping after the send in flight", timeout=30)

    smtp_server.handler.on_data = sigterm_mid_send
    daemon = Daemon(env, tmp_path)
    try:
        assert asked.wait(60), "the daemon sent nothing:\n" + "\n".join(daemon.log)
        code = daemon.process.wait(timeout=STOP_DEADLINE)
        log = daemon.rest_of_log()
    finally:
        daemon.kill()
        smtp_server.handler.on_data = None

    with sessions(engine)() as session:
        rows = {r.key: r for r in session.scalars(select(MessageRow))}
    engine.dispose()
    print(f"\nexit {code}; received {len(smtp_server.received)}")
    assert code == 0, log
    assert [m.key for m in smtp_server.received] == [queued[0]]
    assert rows[queued[0]].status == "sent"  # the send in flight finished and was recorded
    # Nothing else was claimed and left behind: the rest wait, untried, for the next start.
    assert {rows[k].status for k in queued[1:]} == {"pending"}
    assert {rows[k].attempts for k in queued[1:]} == {0}
    assert [r.key for r in rows.values() if r.status == "sending"] == []
    assert "Traceback" not in log
