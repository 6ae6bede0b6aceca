"""One workbench instance in its own process, for the multi-instance tests:

    python tests/web/web_instance.py NOW

Settings come from the environment (PLANBELL_*), as for `planbell run`; the database must be
migrated already. The workbench (uvicorn, the same app `planbell run` serves) answers on a free
port of 127.0.0.1 with its clock fixed at NOW; the process prints that port and serves until its
standard input closes.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from daemon.config import load_settings, public_url  # noqa: E402
from daemon.links import Links  # noqa: E402
from daemon.plan.schedule import load_schedule  # noqa: E402
from daemon.store.db import make_engine, sessions  # noqa: E402
from daemon.web.context import Workbench  # noqa: E402
from daemon.web.server import WebServer  # noqa: E402


def main(now: datetime) -> None:
    settings = load_settings(_env_file=None)
    engine = make_engine(settings.database_url)
    schedule = load_schedule(settings.schedules, settings.roster)
    links = Links(settings.secret_key.get_secret_value().encode(), public_url(settings))
    bench = Workbench(sessions=sessions(engine), schedule=lambda: schedule, links=links, clock=lambda: now)
    server = WebServer(bench, "127.0.0.1", 0)
    server.start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()
    engine.dispose()


if __name__ == "__main__":
    main(datetime.fromisoformat(sys.argv[1]))
