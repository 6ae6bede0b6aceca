"""A workbench on loopback for tests: the bundled plan, a SQLite ledger in tmp_path synced to a
given day, the real app served by uvicorn on a free port, and a clock the test moves."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from daemon.links import Links
from daemon.pipeline import refresh
from daemon.plan.schedule import Schedule
from daemon.store.db import make_engine, sessions, upgrade
from daemon.store.tables import AuditRow, OccurrenceRow
from daemon.web.auth import COOKIE
from daemon.web.context import Workbench
from daemon.web.server import WebServer
from tests.clirun import bundled_schedule

SECRET = b"test-secret-key-for-the-workbench-0123456789"
# A minimal PDF: what a scanner or Word's "save as PDF" starts with is all the sniffer reads.
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 200


@dataclass
class Office:
    """The running workbench; ``now`` is its clock (set it to move time)."""

    schedule: Schedule
    made: object
    server: WebServer
    links: Links
    now: datetime
    woken: list = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def client(self, person: str | None = None) -> httpx.Client:
        """A browser; signed in as ``person`` when given (the cookie a /me link leaves)."""
        client = httpx.Client(base_url=self.base, timeout=30)
        if person:
            client.cookies.set(COOKIE, self.links.session_cookie(person, self.now), domain="127.0.0.1")
        return client

    def url(self, person: str, occurrence: str, purpose: str = "done", group: bool = False) -> str:
        with self.made() as session:
            due = session.get(OccurrenceRow, occurrence).due
        return self.links.action_url(person, occurrence, purpose, due, group).removeprefix(self.base)

    def row(self, occurrence: str) -> OccurrenceRow:
        with self.made() as session:
            return session.get(OccurrenceRow, occurrence)

    def audit(self, action: str | None = None) -> list[AuditRow]:
        with self.made() as session:
            query = select(AuditRow).order_by(AuditRow.id)
            if action:
                query = query.where(AuditRow.action == action)
            return list(session.scalars(query))


def csrf(html: str, action: str | None = None) -> str:
    """The CSRF token of the page's form (the first one other than the header's sign-out, or
    the one posting to ``action``)."""
    for form_action, body in re.findall(r'<form method="post" action="([^"]*)"[^>]*>(.*?)</form>', html, re.S):
        if (action is None and form_action != "/logout") or form_action == action:
            match = re.search(r'name="csrf" value="([^"]+)"', body)
            if match:
                return match.group(1)
    raise AssertionError(f"the page has no form posting to {action or 'anything but /logout'}")


def start_office(tmp_path, now: datetime, synced_at: datetime | None = None) -> Office:
    schedule = bundled_schedule()
    engine = make_engine(f"sqlite:///{tmp_path / 'planbell.db'}")
    upgrade(engine)
    made = sessions(engine)
    with made.begin() as session:
        refresh(session, schedule, synced_at or datetime(2026, 1, 1, tzinfo=UTC))
    links = Links(SECRET, "http://127.0.0.1:1")  # base fixed below, once the port is known
    office = Office(schedule, made, None, links, now)
    bench = Workbench(sessions=made, schedule=lambda: schedule, links=links, clock=lambda: office.now,
                      wake=lambda: office.woken.append(office.now))
    office.server = WebServer(bench, "127.0.0.1", 0)
    office.server.start()
    links.base = office.base
    return office
