"""Named defaults, each with the reason for its value (like rq's defaults.py)."""

from __future__ import annotations

# Every rule is read in the plan's zone; the first plans served are Chinese offices.
TIMEZONE = "Asia/Shanghai"

# Reminders go out when people are at their desks, not at midnight.
SEND_AT = "09:00"

# A week ahead leaves time to prepare a meeting; a day ahead catches what slipped.
REMIND_DAYS = (7, 1)

# A schedule file larger than this is not a hand-written plan; refuse it before parsing.
MAX_SCHEDULE_BYTES = 1 << 20

# Deeper than this is not a schedule but an attack on the parser (or a paste gone wrong).
MAX_YAML_DEPTH = 20

# Opening notice for duties that have no natural period (once, per-event, rrule) when they
# have no lead times either: a week is enough to prepare most office duties.
OPEN_DAYS_WITHOUT_PERIOD = 7

# How far the agenda shows by default when no --to is given.
AGENDA_DAYS = 30
