"""Running the `planbell` CLI from tests: in-process (so freezegun reaches the clock) or as a
real subprocess (to see exactly what an admin sees: exit status, stderr, no traceback)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from daemon.cli import main as cli_main
from daemon.plan.schedule import load_schedule

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ROOT / "schedules"
PLAN = SCHEDULES / "plan-2026.yaml"
ROSTER = SCHEDULES / "roster.example.yaml"
FROZEN = "2026-03-01 08:00:00"  # UTC: 16:00 in Shanghai, a Sunday
YEAR = ("--from", "2026-01-01", "--to", "2026-12-31")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def planbell_env(schedules: Path = SCHEDULES, roster: Path = ROSTER, **extra: str) -> dict[str, str]:
    """The environment minus any PLANBELL_* of the developer's shell, plus the test's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANBELL_")}
    env |= {
        "PLANBELL_SCHEDULES": str(schedules),
        "PLANBELL_ROSTER": str(roster),
        "PLANBELL_TIMEZONE": "Asia/Shanghai",
        # Tests that want the workbench ask for a port; the others must not all bind 8080.
        "PLANBELL_HTTP_PORT": "0",
    }
    env |= {f"PLANBELL_{k.upper()}": v for k, v in extra.items()}
    return env


_bundled: dict[tuple[Path, Path], object] = {}


def _load_schedule_once(schedules: Path, roster: Path):
    """The bundled schedule is parsed once per test session (the views, not YAML, are under
    test here; the subprocess tests time the real cold start)."""
    key = (Path(schedules).resolve(), Path(roster).resolve())
    if key != (SCHEDULES, ROSTER):
        return load_schedule(schedules, roster)
    if key not in _bundled:
        _bundled[key] = load_schedule(schedules, roster)
    return _bundled[key]


def bundled_schedule():
    return _load_schedule_once(SCHEDULES, ROSTER)


def run_cli(*args: object, schedules: Path = SCHEDULES, roster: Path = ROSTER, stdin: str | None = None,
            **settings: str) -> Result:
    """`planbell ARGS` in this process, through the real entry point and its error handling;
    ``stdin``: what the admin types at a confirmation."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.dict(os.environ, planbell_env(schedules, roster, **settings), clear=True),
        mock.patch.object(cli_main, "load_schedule", _load_schedule_once),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        mock.patch("sys.stdin", io.StringIO(stdin or "")),
    ):
        try:
            cli_main.main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def run_process(*args: object, **settings: str) -> subprocess.CompletedProcess[str]:
    """`python -m daemon ARGS` as a separate process, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "daemon", *(str(a) for a in args)],
        cwd=ROOT, env=planbell_env(**settings), capture_output=True, text=True, timeout=60,
    )
