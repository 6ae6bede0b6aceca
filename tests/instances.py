"""planbell instances in their own processes, for the crash, multi-instance and lifecycle tests:
their settings as they see them, their output read without blocking forever."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from unittest import mock

from sqlalchemy import create_engine, select

from daemon.config import Settings, load_settings
from daemon.store.tables import MessageRow
from tests.clirun import ROOT

DRIVER = ROOT / "tests" / "instance_driver.py"


def settings_from(env: dict[str, str]) -> Settings:
    """The settings a planbell process started with ``env`` sees (and no .env file)."""
    with mock.patch.dict(os.environ, env, clear=True):
        return load_settings(_env_file=None)


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


class Lines:
    """A process's stdout, line by line, with a timeout (a thread reads; the test waits)."""

    def __init__(self, stream):
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next(self, timeout: float) -> str | None:
        """The next line; None at end of output. Raises queue.Empty after ``timeout`` s."""
        return self._queue.get(timeout=timeout)


class Driver:
    """tests/instance_driver.py: one Service in its own process, stepped through ``times``."""

    def __init__(self, name: str, times: list[datetime], env: dict[str, str], logs: Path):
        self.name = name
        self.log = logs / f"{name}.log"
        with open(self.log, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(DRIVER), name, *(t.isoformat() for t in times)],
                cwd=logs, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                text=True, bufsize=1,
            )
        self.lines = Lines(self.process.stdout)

    @property
    def pid(self) -> int:
        return self.process.pid

    def read(self, timeout: float = 120) -> str:
        try:
            line = self.lines.next(timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name} said nothing for {timeout} s:\n{tail(self.log)}") from None
        if line is None:
            self.process.wait(timeout=30)
            raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{tail(self.log)}")
        return line

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = 60) -> int:
        self.process.stdin.close()
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def outbox(database_url: str, *where) -> list:
    """Rows of the outbox, read as the CLI would while the daemon runs."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(MessageRow).where(*where)))
    finally:
        engine.dispose()
