"""The five settings a ledger command needs when nothing is to be re-planned — where the
schedules, the roster and the database are, the zone, the go-live day — read without pydantic.

`planbell done` on an unchanged schedule needs nothing else, and importing pydantic and
validating every setting cost more than the rest of the command. These are read from the same
sources as daemon.config.Settings, in the same order (the environment over the .env file,
names case-insensitive, PLANBELL_DATABASE_URL_FILE for the secret URL); whenever one of them
would need pydantic's validation to say what is wrong, ``read()`` answers None and the caller
loads the full Settings, whose error names the variable. test_fast_commands checks that both
read the same values.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from daemon import defaults

PREFIX = "PLANBELL_"


@dataclass(frozen=True)
class Whereabouts:
    schedules: Path
    roster: Path
    database_url: str
    timezone: str
    go_live: date | None


def _values() -> dict[str, str]:
    values: dict[str, str] = {}
    if Path(".env").is_file():
        from dotenv import dotenv_values

        values |= {k.upper(): v for k, v in dotenv_values(".env", encoding="utf-8").items() if v is not None}
    return values | {k.upper(): v for k, v in os.environ.items()}


def read() -> Whereabouts | None:
    values = _values()

    def get(name: str, default: str) -> str:
        return values.get(PREFIX + name.upper(), default)

    database_url = get("database_url", defaults.DATABASE_URL)
    secret_file = values.get(f"{PREFIX}DATABASE_URL_FILE")
    if secret_file:
        try:
            database_url = Path(secret_file).read_text(encoding="utf-8").strip()
        except OSError:
            return None
    timezone = get("timezone", defaults.TIMEZONE)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    go_live = get("go_live", "").strip()
    try:
        go_live_day = date.fromisoformat(go_live) if go_live else None
    except ValueError:
        return None
    return Whereabouts(Path(get("schedules", defaults.SCHEDULES)), Path(get("roster", defaults.ROSTER)),
                       database_url, timezone, go_live_day)
