"""SIGKILL while sending: nothing is lost, and each kill repeats at most one message.

`planbell simulate --deliver` runs the bundled plan on a SQLite file against a real SMTP server
on 127.0.0.1 and is killed (SIGKILL, no chance to tidy up) at random points while it sends;
then a last run over the same range completes. The server records the X-Planbell-Key of every
message it accepts. Half the kills land at the worst moment, inside the server's DATA handler:
the message is delivered but the sender never hears "250", so it cannot know and must resend
it; the other half land wherever the sender happens to be a few milliseconds after a delivery
(marking it sent, composing the next one, claiming a batch).

The reference is the outbox of a clean database planned over the same range: every message due
before the range ends must arrive at least once, nothing else may arrive, and the number of
repeats is at most the number of kills.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, select, update

from daemon import defaults
from daemon.service import Service
from daemon.simulate import simulate
from daemon.store.tables import MessageRow
from notifiers.factory import all_notifiers
from tests.clirun import planbell_env
from tests.instances import settings_from, tail

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The first half of 2026: about 1,200 messages (Spring Festival and Qingming included). One clean
# pass takes about 10 s on a 2-core machine; PLANBELL_CRASH_TO=2026-02-28 makes it shorter.
START = date(2026, 1, 1)
END = date.fromisoformat(os.environ.get("PLANBELL_CRASH_TO", "2026-06-30"))
KILLS = 4
# Messages delivered between two kills: a random number in this range, so the kills spread over
# most of the run and every run gets past its start-up before it is killed.
BETWEEN_KILLS = (5, 250) if END >= date(2026, 6, 1) else (5, 60)
RUN_TIMEOUT = 180  # seconds, for one run: generous, for a loaded CI machine


def stop_instant(end: date) -> datetime:
    """The end of ``end`` in Shanghai: simulate sends what is due before this."""
    return datetime.combine(end + timedelta(days=1), clock_time(0), SHANGHAI).astimezone(UTC)


def reference_keys(env: dict[str, str], database: Path) -> set[str]:
    """The messages a clean run over [START, END] owes: its outbox, planned at the start with
    the same settings and channels."""
    settings = settings_from(env | {"PLANBELL_DATABASE_URL": f"sqlite:///{database}"})
    service = Service(settings, all_notifiers(settings), instance="reference")
    try:
        service.start(datetime.combine(START, clock_time(0), SHANGHAI).astimezone(UTC))
        with service.sessions() as session:
            return set(session.scalars(select(MessageRow.key).where(MessageRow.send_at < stop_instant(END))))
    finally:
        service.engine.dispose()


def outbox_statuses(database: Path) -> Counter:
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(MessageRow.status).where(MessageRow.send_at < stop_instant(END)))
            return Counter(status for (status,) in rows)
    finally:
        engine.dispose()


class Killer:
    """Arms a kill for when the server has received ``target`` messages in all."""

    def __init__(self, received: list):
        self.received = received
        self.reached = threading.Event()
        self.target: int | None = None
        self.pid: int | None = None
        self.in_handler = False

    def arm(self, pid: int, target: int, in_handler: bool) -> None:
        self.reached.clear()
        self.pid, self.in_handler = pid, in_handler
        self.target = target  # last: the handler reads it

    def on_data(self, _message) -> None:
        if self.target is None or len(self.received) < self.target:
            return
        self.target = None
        if self.in_handler:
            # The message is kept; the sender dies before it can hear "250".
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.reached.set()


def test_sigkill_while_sending_loses_no_message_and_repeats_at_most_one_per_kill(tmp_path, smtp_server):
    seed = int(os.environ.get("PLANBELL_CRASH_SEED") or random.randrange(1 << 32))
    rng = random.Random(seed)
    print(f"\nseed={seed} (PLANBELL_CRASH_SEED reproduces the kill points); range {START}..{END}")
    database = tmp_path / "planbell.db"
    env = planbell_env(database_url=f"sqlite:///{database}", smtp_host="127.0.0.1",
                       smtp_port=str(smtp_server.port), smtp_security="none",
                       maildir=str(tmp_path / "maildir"))
    command = [sys.executable, "-m", "daemon", "simulate", "--from", START.isoformat(),
               "--to", END.isoformat(), "--deliver"]
    received = smtp_server.received
    killer = Killer(received)
    smtp_server.handler.on_data = killer.on_data

    def launch(run: int) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"run-{run}.log"
        with open(log, "wb") as out:  # a file, not a pipe: nobody reads a pipe while we wait
            return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT), log

    started = time.monotonic()
    for run in range(KILLS):
        target = len(received) + rng.randint(*BETWEEN_KILLS)
        in_handler = run % 2 == 0
        process, log = launch(run)
        killer.arm(process.pid, target, in_handler)
        deadline = time.monotonic() + RUN_TIMEOUT
        while not killer.reached.wait(0.05):
            if process.poll() is not None:
                raise AssertionError(f"run {run} ended (status {process.returncode}) before message "
                                     f"{target} was delivered:\n{tail(log)}")
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"run {run} did not deliver message {target} in {RUN_TIMEOUT} s:\n{tail(log)}")
        if not in_handler:
            # A random point in the few milliseconds after a delivery; the run goes on meanwhile.
            time.sleep(rng.uniform(0, 0.05))
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, tail(log)
        print(f"run {run}: killed {'inside DATA' if in_handler else 'after a delivery'} "
              f"at message {target}; server has {len(received)}")

    process, log = launch(KILLS)
    assert process.wait(timeout=RUN_TIMEOUT) == 0, tail(log)
    elapsed = time.monotonic() - started
    smtp_server.handler.on_data = None

    keys = Counter(message.key for message in received)
    expected = reference_keys(env, tmp_path / "reference.db")
    repeats = sum(keys.values()) - len(keys)
    print(f"{len(expected)} messages owed, {sum(keys.values())} received, {repeats} repeated, "
          f"{KILLS} kills, {elapsed:.1f} s")
    assert len(expected) > 200  # the range is a real test: months of the bundled plan
    assert not expected - set(keys), f"lost: {sorted(expected - set(keys))[:10]}"
    assert not set(keys) - expected, f"unexpected: {sorted(set(keys) - expected)[:10]}"
    assert repeats <= KILLS, f"repeated: {[k for k, n in keys.items() if n > 1]}"
    assert outbox_statuses(database) == Counter(sent=len(expected))


def test_a_message_left_sending_by_a_run_killed_on_the_last_day_is_sent_by_the_next_run(tmp_path, smtp_server):
    """A killed run leaves its claimed batch 'sending' with a lease; the next run must take it
    over even when nothing else is due after the lease expires (the last wake of the range)."""
    first, last = date(2026, 3, 23), date(2026, 3, 27)
    settings = settings_from(planbell_env(
        database_url=f"sqlite:///{tmp_path / 'planbell.db'}", smtp_host="127.0.0.1",
        smtp_port=str(smtp_server.port), smtp_security="none", maildir=str(tmp_path / "maildir")))
    service = Service(settings, all_notifiers(settings), instance="simulate")
    try:
        service.start(datetime.combine(first, clock_time(0), SHANGHAI).astimezone(UTC))
        with service.sessions.begin() as session:
            due = session.scalars(select(MessageRow).where(MessageRow.send_at < stop_instant(last))
                                  .order_by(MessageRow.send_at, MessageRow.id)).all()
            assert len(due) > 3
            dead = due[-1]
            # As the killed run left it: claimed at the last wake of the range, lease running.
            session.execute(update(MessageRow).where(MessageRow.id == dead.id).values(
                status="sending", claimed_by="simulate", attempts=1,
                lease_until=dead.next_attempt_at + defaults.CLAIM_LEASE))
            owed = {row.key for row in due}

        result = simulate(service, first, last, "Asia/Shanghai", go_live=False)

        keys = Counter(message.key for message in smtp_server.received)
        assert set(keys) == owed, f"lost: {sorted(owed - set(keys))}"
        assert max(keys.values()) == 1
        assert result.sent == len(owed)
        with service.sessions() as session:
            assert session.get(MessageRow, dead.id).status == "sent"
    finally:
        service.engine.dispose()
