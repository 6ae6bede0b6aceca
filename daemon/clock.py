"""The one clock. Everything that needs "now" asks here (or is handed `now`), so tests can
freeze or drive time with freezegun without patching stray ``datetime.now()`` calls."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)
