"""Benchmark: how long the everyday commands take, against starting Python with click and
SQLAlchemy imported (`python -c "import click, sqlalchemy"`), measured in the same run.

Run from the repository root:

    .venv/bin/python bench/cli.py            # --runs 7; about a minute, most of it the set-up

Set-up, not timed: the bundled plan and example roster copied into a temporary folder, and a
SQLite file holding a year of ledger: a year of the plan run on a virtual clock (`simulate`'s
own loop into a Maildir, go-live 1 January), then every occurrence due before 1 December
checked off. The commands then run as real processes (`python -m daemon …`), taking turns with
the baseline, each `--runs` times; the figure is the median wall time.

Timed: `--help`, `status`, `done ID`, `skip ID --reason …`, `progress TARGET +1` (the goal:
each ≤ 0.5 s, ratio ≤ 2.0), and for the README `validate` and `agenda`. `done` and `skip` act
on a different occurrence each run, so every run writes.

The last line is ``ratio=X.XX``: the slowest of the everyday commands ÷ the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVERYDAY = ("--help", "status", "done", "skip", "progress")


def prepare(folder: Path) -> dict[str, str]:
    from sqlalchemy import select

    from daemon import ledger
    from daemon.config import load_settings
    from daemon.service import Service
    from daemon.simulate import simulate
    from daemon.store.tables import OccurrenceRow
    from notifiers.maildir import MaildirNotifier

    shutil.copytree(ROOT / "schedules", folder / "schedules")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANBELL_")} | {
        "PLANBELL_SCHEDULES": str(folder / "schedules"),
        "PLANBELL_ROSTER": str(folder / "schedules" / "roster.example.yaml"),
        "PLANBELL_DATABASE_URL": f"sqlite:///{folder / 'planbell.db'}",
        "PLANBELL_MAILDIR": str(folder / "mail"),
        "PLANBELL_GO_LIVE": "2026-01-01",
    }
    settings = load_settings(schedules=env["PLANBELL_SCHEDULES"], roster=env["PLANBELL_ROSTER"],
                             database_url=env["PLANBELL_DATABASE_URL"], go_live="2026-01-01")
    service = Service(settings, {"email": MaildirNotifier(folder / "mail", settings.mail_from)}, instance="bench")
    result = simulate(service, date(2026, 1, 1), date(2026, 12, 31), settings.timezone, go_live=False)
    print(f"set-up: a year simulated, {result.sent} messages sent", flush=True)
    with service.sessions.begin() as session:
        rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.due < date(2026, 12, 1)))
        for row in rows:
            ledger.check_off(session, row, _at(row.due), "bench", None, None, None)
    service.engine.dispose()
    return env


def _at(day: date):
    from datetime import UTC, datetime, time

    return datetime.combine(day, time(8), UTC)


def december_ids(env: dict[str, str], count: int) -> list[str]:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from daemon.store.tables import OccurrenceRow

    engine = create_engine(env["PLANBELL_DATABASE_URL"])
    with Session(engine) as session:
        ids = session.scalars(select(OccurrenceRow.id).where(OccurrenceRow.status == "open", OccurrenceRow.kind == "duty")
                              .order_by(OccurrenceRow.due, OccurrenceRow.id).limit(count)).all()
    engine.dispose()
    return list(ids)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="planbell-bench-") as scratch:
        env = prepare(Path(scratch))
        ids = december_ids(env, 2 * args.runs + 2)
        planbell = [python, "-m", "daemon"]
        commands = {
            "--help": lambda i: [*planbell, "--help"],
            "status": lambda i: [*planbell, "status"],
            "done": lambda i: [*planbell, "done", ids[2 * i], "--by", "zhang-wei"],
            "skip": lambda i: [*planbell, "skip", ids[2 * i + 1], "--reason", "基准测试"],
            "progress": lambda i: [*planbell, "progress", "manuscripts-reviewed", "+1"],
            "validate": lambda i: [*planbell, "validate"],
            "agenda": lambda i: [*planbell, "agenda", "--from", "2026-12-01", "--to", "2026-12-31"],
        }
        # A first, untimed round: the schedule's first sync after set-up, and warm file caches.
        timed(commands["status"](0), env)
        baseline: list[float] = []
        figures: dict[str, list[float]] = {name: [] for name in commands}
        for run in range(args.runs):
            for name, argv in commands.items():
                baseline.append(timed([python, "-c", "import click, sqlalchemy"], env))
                figures[name].append(timed(argv(run), env))
    base = statistics.median(baseline)
    print(f"baseline  python -c 'import click, sqlalchemy'  {base:.3f} s (median of {len(baseline)})")
    worst = 0.0
    for name, values in figures.items():
        median = statistics.median(values)
        ratio = median / base
        if name in EVERYDAY:
            worst = max(worst, ratio)
        goal = " (goal ≤ 0.5 s)" if name in EVERYDAY else ""
        print(f"{name:9} {median:.3f} s  ratio {ratio:.2f}{goal}")
    print(f"ratio={worst:.2f}")


if __name__ == "__main__":
    main()
