"""Benchmark: 10,000 reminders end to end (claim, render, SMTP, record), against bare smtplib.

Run from the repository root:

    .venv/bin/python bench/dispatch.py                  # --messages 10000 --rounds 3

Setup (not timed): a SQLite file in a temporary folder is brought to the current schema, the
bundled plan (schedules/plan-2026.yaml) and the example roster are synced into it with
``daemon.pipeline.refresh`` at 2026-06-15 09:30 Shanghai, the messages that refresh planned are
deleted, and 10,000 synthetic reminder rows are inserted instead: each for one person of the
roster, by email, listing one to three of the open occurrences (the person's own where there
are some) at mixed stages, about one in six with an opening notice (so it carries the .ics
attachment), sent from minutes to six days ago (inside the late horizon, many of them late).
That database is copied (SQLite backup API) for every timed run.

planbell: a fresh ``Service`` on a fresh copy, with the real ``SmtpNotifier``; timed is
``Service.dispatch(now)``, called until no message is pending: every claim, composition
(Jinja templates, MIME, .ics), SMTP transaction and committed outcome (each committed before
the next message can be delivered).

Baseline, its runs taking turns with planbell's: one ``smtplib.SMTP`` connection sending the
same number of messages, pre-rendered before timing by the real composer and MIME builder
(the first 200 rows, cycled, so the byte mix is planbell's), and nothing recorded anywhere.

The SMTP server is aiosmtpd with a handler that only counts, in a SUBPROCESS, as a real relay
would be: in a thread of the bench's own process its event loop shares the GIL with the sender,
so the figures measure the interpreter's thread switching as much as either side
(``--in-process`` runs it in a thread anyway, for comparison: 0.54 against 0.67 in a subprocess).

The last line is ``ratio=X.XX``: planbell messages/s ÷ bare smtplib messages/s (goal ≥ 0.5).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import multiprocessing
import random
import smtplib
import socket
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, select  # noqa: E402

from daemon.compose import Composer  # noqa: E402
from daemon.config import load_settings  # noqa: E402
from daemon.outbox import insert_ignore  # noqa: E402
from daemon.service import Service  # noqa: E402
from daemon.store.tables import MessageRow, OccurrenceRow  # noqa: E402
from notifiers.email import SmtpNotifier  # noqa: E402
from notifiers.mime import build_email, envelope_sender, to_bytes  # noqa: E402

NOW = datetime(2026, 6, 15, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
MAIL_FROM = "planbell <planbell@example.gov.cn>"
SEED = 2026
BASELINE_SAMPLE = 200
# Stages of a message's items; "open" adds the .ics attachment to the email.
STAGES = ("remind-7d", "remind-1d", "due", "overdue-1", "overdue-2")
AGO = (timedelta(minutes=5), timedelta(minutes=40), timedelta(hours=3), timedelta(days=2),
       timedelta(days=6))


# --- the SMTP server ---------------------------------------------------------------------------


class Counter:
    """An aiosmtpd handler that accepts everything and only counts messages and bytes."""

    def __init__(self, messages, size):
        self.messages, self.size = messages, size

    async def handle_DATA(self, server, session, envelope):
        with self.messages.get_lock():
            self.messages.value += 1
        with self.size.get_lock():
            self.size.value += len(envelope.original_content)
        return "250 OK"


def serve(port: int, messages, size, ready, stop) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Counter(messages, size), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class SmtpServer:
    def __init__(self, in_process: bool):
        context = multiprocessing.get_context("spawn")
        self.messages, self.size = context.Value("q", 0), context.Value("q", 0)
        self.ready, self.stop = context.Event(), context.Event()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        args = (self.port, self.messages, self.size, self.ready, self.stop)
        if in_process:
            import threading

            self.worker = threading.Thread(target=serve, args=args, daemon=True)
        else:
            self.worker = context.Process(target=serve, args=args, daemon=True)

    def __enter__(self) -> SmtpServer:
        self.worker.start()
        if not self.ready.wait(30):
            raise SystemExit("the aiosmtpd server did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.worker.join(10)

    def counts(self) -> tuple[int, int]:
        return self.messages.value, self.size.value


# --- the database --------------------------------------------------------------------------


def settings(database: Path, port: int):
    return load_settings(
        schedules=ROOT / "schedules", roster=ROOT / "schedules" / "roster.example.yaml",
        database_url=f"sqlite:///{database}", digest="off",
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", mail_from=MAIL_FROM,
    )


def service(database: Path, port: int) -> Service:
    notifier = SmtpNotifier("127.0.0.1", port, "none", timeout=10, mail_from=MAIL_FROM,
                            local_hostname="bench")
    svc = Service(settings(database, port), {"email": notifier}, instance="bench")
    svc.watch.load()
    return svc


def synthetic_rows(occurrences: list[OccurrenceRow], people: list[str], n: int) -> list[dict]:
    rng = random.Random(SEED)
    mine = {p: [o.id for o in occurrences if p in o.assignees] for p in people}
    everything = [o.id for o in occurrences]
    rows = []
    for i in range(n):
        person = people[i % len(people)]
        pool = mine[person] if len(mine[person]) >= 3 else everything
        ids = rng.sample(pool, rng.choice((1, 1, 2, 3)))
        opening = rng.random() < 1 / 6
        items = [{"occurrence": o, "stage": "open" if opening and k == 0 else rng.choice(STAGES)}
                 for k, o in enumerate(ids)]
        send_at = NOW - rng.choice(AGO)
        rows.append({
            "key": f"reminder:{person}:bench-{i:05d}:email", "kind": "reminder", "person": person,
            "channel": "email", "send_at": send_at, "content": {"items": items},
            "status": "pending", "attempts": 0, "next_attempt_at": send_at, "late": False,
            "created_at": NOW - timedelta(days=7),
        })
    return rows


def build_database(folder: Path, port: int, n: int) -> Path:
    database = folder / "template.db"
    svc = service(database, port)
    svc.refresh(NOW)  # daemon.pipeline.refresh: sync the plan's occurrences (and plan messages)
    with svc.sessions.begin() as session:
        session.execute(delete(MessageRow))  # the planned messages are not the bench's
        occurrences = list(session.scalars(select(OccurrenceRow).where(
            OccurrenceRow.status == "open", OccurrenceRow.plan_year == 2026).order_by(OccurrenceRow.id)))
        people = [p.id for p in svc.schedule.roster.people if p.email]
        insert_ignore(session, synthetic_rows(occurrences, people, n))
    svc.engine.dispose()
    return database


def copy_database(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def pending(svc: Service) -> int:
    with svc.sessions() as session:
        return session.scalar(select(func.count()).select_from(MessageRow)
                              .where(MessageRow.status.in_(("pending", "sending"))))


def prerender(database: Path, port: int, sample: int) -> list[tuple[str, str, bytes]]:
    """(sender, recipient, bytes) of the first ``sample`` rows, by the real composer."""
    svc = service(database, port)
    composer = Composer(svc.schedule, svc.digests, svc.links)  # the same bytes as the daemon sends
    sender = envelope_sender(MAIL_FROM)
    out = []
    with svc.sessions() as session:
        rows = session.scalars(select(MessageRow).order_by(MessageRow.next_attempt_at, MessageRow.id)
                               .limit(sample))
        for row in rows:
            outgoing = composer.compose(session, row, NOW, NOW - row.send_at > timedelta(hours=1))
            out.append((sender, outgoing.to_address, to_bytes(build_email(outgoing, MAIL_FROM))))
    svc.engine.dispose()
    return out


# --- the runs ------------------------------------------------------------------------------


def run_planbell(template: Path, folder: Path, port: int, n: int, run: int,
                 profile: cProfile.Profile | None) -> float:
    database = folder / f"run-{run}.db"
    copy_database(template, database)
    svc = service(database, port)
    if profile:
        profile.enable()
    t0 = time.perf_counter()
    sent = 0
    while pending(svc):
        stats = svc.dispatch(NOW)
        sent += stats.sent
        if stats.failed or stats.retried or stats.skipped:
            raise SystemExit(f"planbell did not send everything: {stats}")
    seconds = time.perf_counter() - t0
    if profile:
        profile.disable()
    svc.engine.dispose()
    if sent != n:
        raise SystemExit(f"planbell sent {sent} of {n}")
    return seconds


def run_bare(messages: list[tuple[str, str, bytes]], port: int, n: int) -> float:
    t0 = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port, local_hostname="bench", timeout=10)
    smtp.ehlo()
    for sender, recipient, data in itertools.islice(itertools.cycle(messages), n):
        smtp.sendmail(sender, [recipient], data)
    smtp.quit()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side, taking turns")
    parser.add_argument("--in-process", action="store_true", help="aiosmtpd in a thread of this process")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of planbell's runs here")
    args = parser.parse_args()
    n = args.messages
    profile = cProfile.Profile() if args.profile else None

    with tempfile.TemporaryDirectory(prefix="planbell-bench-") as tmp, \
            SmtpServer(args.in_process) as server:
        folder = Path(tmp)
        t0 = time.perf_counter()
        template = build_database(folder, server.port, n)
        messages = prerender(template, server.port, BASELINE_SAMPLE)
        print(f"setup: {n} reminder rows on SQLite, {len(messages)} pre-rendered for the baseline, "
              f"in {time.perf_counter() - t0:.1f} s; aiosmtpd "
              f"{'in a thread of this process' if args.in_process else 'in a subprocess'}")

        best_pb = best_bare = float("inf")
        size_pb = size_bare = 0
        for run in range(args.rounds):
            before = server.counts()
            best_bare = min(best_bare, run_bare(messages, server.port, n))
            middle = server.counts()
            best_pb = min(best_pb, run_planbell(template, folder, server.port, n, run, profile))
            after = server.counts()
            if middle[0] - before[0] != n or after[0] - middle[0] != n:
                raise SystemExit(f"the server counted {middle[0] - before[0]} bare and "
                                 f"{after[0] - middle[0]} planbell messages, not {n} each")
            size_bare, size_pb = middle[1] - before[1], after[1] - middle[1]

    if profile:
        profile.dump_stats(args.profile)
    pb_rate, bare_rate = n / best_pb, n / best_bare
    print(f"planbell Service.dispatch(): {n} messages in {best_pb:.2f} s (best of {args.rounds}) "
          f"= {pb_rate:,.0f} messages/s, {size_pb / n / 1024:.1f} KiB/message")
    print(f"bare smtplib, one connection: {n} messages in {best_bare:.2f} s (best of {args.rounds}) "
          f"= {bare_rate:,.0f} messages/s, {size_bare / n / 1024:.1f} KiB/message  "
          f"[pre-rendered, nothing recorded]")
    print(f"ratio={pb_rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
