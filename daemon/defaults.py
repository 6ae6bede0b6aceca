"""Named defaults, each with the reason for its value (like rq's defaults.py)."""

from __future__ import annotations

from datetime import timedelta

# Every rule is read in the plan's zone; the first plans served are Chinese offices.
TIMEZONE = "Asia/Shanghai"

# Where a checkout keeps its files: run from the repository (or /app in the image).
SCHEDULES = "schedules"
ROSTER = "schedules/roster.yaml"
DATABASE_URL = "sqlite:///var/planbell.db"

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

# The longest `due: {after: …}` a schedule may write (days or working days): a report is owed
# within months of its period, and `plan.expand.reach` counts on no more.
MAX_AFTER = 99

# How far the agenda shows by default when no --to is given.
AGENDA_DAYS = 30
# An event's title (`planbell event … --title`) joins its duty's title (≤ 100) in a 200-character column.
EVENT_TITLE_CHARS = 90

# A relay that has not answered in this long is down, not slow; the dispatcher will retry.
SMTP_TIMEOUT_SECONDS = 10.0

# Overdue: a reminder the working day after the due date, then weekly, three in all; past
# that, escalation has told someone who can act, and more mail would only be ignored.
OVERDUE_REMINDERS = 3
OVERDUE_EVERY_DAYS = 7

# A message due more than this long ago when the daemon comes back is not sent (a two-week-old
# "due tomorrow" helps nobody); what is skipped this way is reported to the admins instead.
LATE_HORIZON = timedelta(days=7)

# A message sent more than this after its time says so in its text ("this reminder is late").
LATE_AFTER = timedelta(hours=1)

# A claimed message whose claimer died is taken over after this lease expires. Longer than any
# single send (SMTP timeout plus rendering), short enough that a crash delays little.
CLAIM_LEASE = timedelta(minutes=2)

# A claim older than this (a long batch, a slow relay, a stalled process) is renewed before each
# send, and given up if another instance took it over; younger claims cannot have been, so the
# usual fast batch pays no extra write.
LEASE_RENEW_AFTER = CLAIM_LEASE / 2

# Retries: exponential backoff from 1 minute, capped at 1 hour, with jitter; give up after 8.
RETRY_BASE_SECONDS = 60
RETRY_MAX_SECONDS = 3600
MAX_ATTEMPTS = 8

# Messages claimed per database round trip: enough to amortise the query, few enough that a
# stop request is honoured quickly.
CLAIM_BATCH = 100

# The messages of a claimed batch are composed together, from one read of their duties, before
# the first is sent. One composed longer ago than this (a slow relay) is composed again, from a
# fresh read, just before it goes out: a duty checked off more than this before a send is never
# listed in it.
COMPOSED_FRESH_FOR = 2.0  # seconds

# The safety sweep wakes the dispatcher even if no wake-up was scheduled (clock jumps, rows
# written by another instance or the CLI).
SWEEP_SECONDS = 60

# How often the schedule and roster files are checked for edits (the issue asks for < 5 s).
RELOAD_POLL_SECONDS = 2

# Role whose members receive admin alerts (bad schedule edits, failed deliveries).
ADMIN_ROLE = "admin"

# Digests arrive before the 09:00 reminders, so the week's picture comes first.
DIGEST_AT = "08:30"

# A robot webhook that has not answered in this long is down, not slow; the dispatcher retries.
MESSAGING_TIMEOUT_SECONDS = 10.0

# WeCom, DingTalk and Feishu group robots each refuse more than about 20 messages a minute
# (Feishu allows more, but 20 keeps one setting for all); the dispatcher paces sends to this.
ROBOT_RATE_PER_MINUTE = 20

# A robot that says "too fast" counts per minute and sends no Retry-After: a minute later
# its window has moved on.
ROBOT_RATE_LIMIT_RETRY_SECONDS = 60

# The workbench (web pages) listens here by default: loopback only, so a fresh install exposes
# nothing; an operator opens it to the intranet with PLANBELL_HTTP_HOST.
HTTP_HOST = "127.0.0.1"
HTTP_PORT = 8080

# An action link (已完成,去销号) stays valid this long after the duty's due date: late
# check-offs are common (a meeting held, the minutes typed up weeks later), and a link that
# dies on the due date would send people back to the admin.
ACTION_LINK_GRACE = timedelta(days=60)

# The personal /me link in every message; a new one comes with every digest.
LOGIN_LINK_VALID = timedelta(days=30)

# The console's admin sign-in link is spent on first use; this bounds an unused one.
ONE_TIME_LINK_VALID = timedelta(hours=24)

# The browser cookie a login leaves: long, because people open the workbench from their phone's
# chat app a few times a month and a sign-in each time would defeat the point.
SESSION_VALID = timedelta(days=180)

# Sign-in links mailed from /login: a few per person per hour stops the form being used to
# flood someone's inbox.
LOGIN_MAILS_PER_HOUR = 3

# Evidence (佐证材料): enough for scanned minutes or a phone photo, small enough for a database.
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024
EVIDENCE_MAX_FILES = 10

# The calendar feed asks clients to come back this often: duties change by the day, not the minute.
FEED_REFRESH = timedelta(hours=4)

# A digest shows this many duties as full cards; the rest are one line each with a link to
# /me. A phone shows about this much on two screens, and the HTML stays far below Gmail's
# 102 KB clipping point.
DIGEST_CARDS = 5

# Past the cards, a digest lists this many more duties as one line each; beyond that it counts
# them and links to /me (a first Monday after going live with hundreds overdue stays readable).
DIGEST_LINES = 30
