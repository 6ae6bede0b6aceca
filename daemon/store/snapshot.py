"""The last good schedule, kept in the database beside the occurrences synced from it.

The daemon runs on its last good schedule while the files have errors; the CLI commands that
work on the ledger need the same schedule (the roster for --by, the targets for progress),
and need it fast: parsing the YAML costs more than the whole of a `planbell done`. So every
successful sync stores the loaded Schedule, and a command whose files are unchanged (same
version) or broken reads it back instead of parsing.

Stored as a pickle: the Schedule is frozen, plain data built by our own loader from files
the same admins control, and the database that holds it is already trusted with everything
the daemon sends. A snapshot written by other code (another planbell version) is ignored,
and the files are parsed again.
"""

from __future__ import annotations

import base64
import hashlib
import pickle
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy.orm import Session

from daemon.plan.schedule import Schedule
from daemon.store.state import set_state

KEY = "schedule_snapshot"
VERSION_KEY = "schedule_version"


@cache
def code_fingerprint() -> str:
    """The plan model's source: a snapshot pickled by other classes is not read back."""
    model = Path(__file__).resolve().parent.parent / "plan" / "model.py"
    return hashlib.sha256(model.read_bytes()).hexdigest()[:12]


def save(session: Session, schedule: Schedule, now: datetime) -> None:
    """Record that the database holds ``schedule``'s expansion, and the schedule itself."""
    data = base64.b64encode(pickle.dumps(schedule, protocol=pickle.HIGHEST_PROTOCOL)).decode()
    set_state(session, KEY, f"{code_fingerprint()}:{data}", now)
    set_state(session, VERSION_KEY, schedule.version, now)


def load(value: str | None) -> Schedule | None:
    """The stored schedule, or None when there is none this code can read."""
    if not value:
        return None
    fingerprint, _, data = value.partition(":")
    if fingerprint != code_fingerprint():
        return None
    try:
        schedule = pickle.loads(base64.b64decode(data))
    except Exception:  # a truncated or foreign value: parse the files instead
        return None
    return schedule if isinstance(schedule, Schedule) else None
