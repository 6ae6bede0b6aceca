"""One planbell instance in its own process, on a virtual clock, for the multi-instance tests.

    python tests/instance_driver.py NAME TIME [TIME ...]

Settings come from the environment (PLANBELL_*), as for `planbell run`. The driver prints
``ready`` once imported and waits for a line on stdin, so that several instances start
together; then it builds the Service (migrating the database), calls ``start(TIME₀)`` and, for
each TIME, ``dispatch(TIME)`` (after a ``refresh(TIME)`` on Mondays, as the daemon re-plans
daily). After each step it prints one JSON line and waits for a line on stdin again: the test
moves the instances' clocks together, as real instances share the wall clock. At end of input
it stops waiting. Logs go to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon.config import load_settings  # noqa: E402
from daemon.logs import setup_logging  # noqa: E402
from daemon.service import Service  # noqa: E402
from notifiers.factory import all_notifiers  # noqa: E402


def main(name: str, times: list[datetime]) -> None:
    settings = load_settings(_env_file=None)
    setup_logging(settings.log_level)
    print("ready", flush=True)
    sys.stdin.readline()
    service = Service(settings, all_notifiers(settings), instance=name)
    service.start(times[0])
    total = 0
    for step, now in enumerate(times):
        if step and now.weekday() == 0:
            service.refresh(now)
        stats = service.dispatch(now)
        total += stats.sent
        print(json.dumps({"step": step, "now": now.isoformat(), "sent": stats.sent,
                          "failed": stats.failed, "retried": stats.retried}), flush=True)
        sys.stdin.readline()
    print(json.dumps({"done": name, "sent": total}), flush=True)
    service.engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], [datetime.fromisoformat(t) for t in sys.argv[2:]])
