"""`planbell ARGS` in its own process on a virtual wall clock that starts at a given instant and
then runs at the real rate (freezegun, ``tick=True``), for the drills that run the real daemon.

    python tests/frozen_run.py 2026-11-27T02:00:00+00:00 run

Everything that reads the time (daemon.clock, APScheduler, the log lines) sees the same clock,
so the process behaves as `planbell run` would on that day, whatever the machine's date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from freezegun import freeze_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(start: str, args: list[str]) -> None:
    with freeze_time(start, tick=True):
        from daemon.cli.main import main as planbell

        planbell(args)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
