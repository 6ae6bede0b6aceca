"""A real `planbell run` in its own process, on a virtual clock (tests/frozen_run.py), with its
log in a file that a test reads with deadlines: for the drills that kill, edit and probe the
running daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

FROZEN_RUN = Path(__file__).resolve().with_name("frozen_run.py")

T = TypeVar("T")


def wait_until(probe: Callable[[], T], within: float, what: str, every: float = 0.05) -> T:
    """``probe()``'s first truthy answer, asked every ``every`` s; fails after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        time.sleep(every)


class Daemon:
    """`planbell run` started at the virtual instant ``start`` (the clock then runs on)."""

    def __init__(self, start: datetime, env: dict[str, str], log: Path, cwd: Path):
        self.log = log
        with open(log, "wb") as out:  # a file, not a pipe: nobody has to keep reading it
            self.process = subprocess.Popen(
                [sys.executable, str(FROZEN_RUN), start.isoformat(), "run"],
                cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )
        self._seen = 0  # lines already matched by wait_for

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()

    def tail(self, count: int = 25) -> str:
        return "\n".join(self.lines()[-count:])

    def wait_for(self, text: str, within: float) -> str:
        """The next log line (after the last one matched) containing ``text``."""
        deadline = time.monotonic() + within
        while True:
            lines = self.lines()
            for number in range(self._seen, len(lines)):
                if text in lines[number]:
                    self._seen = number + 1
                    return lines[number]
            if not self.alive:
                raise AssertionError(f"planbell exited ({self.process.returncode}) before logging "
                                     f"{text!r}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in the log within {within} s:\n{self.tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as systemd stops it; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.alive:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
