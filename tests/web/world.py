"""The office the workbench tests act in: March 2026 of the bundled plan, simulated with
`planbell simulate --deliver` into a Maildir (and, for 李娜, a group robot on loopback), then the
workbench served by a real uvicorn on the same SQLite file with the same links secret, on an
injected clock.

The month is simulated once per test session (``March``); every test gets its own copy of the
database and the Maildir (``World``), so what one test checks off another never sees.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

from daemon.links import BadLink, Links
from daemon.plan.schedule import load_schedule
from daemon.store.db import make_engine, sessions
from daemon.store.secret import shared_secret
from daemon.store.tables import AuditRow, BlobRow, EvidenceRow, MessageRow, OccurrenceRow
from daemon.web.context import Workbench
from daemon.web.server import WebServer
from tests.clirun import ROSTER, SCHEDULES, run_cli

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 24)  # the simulated days; the tests act on the 24th
# 10:00 on Tuesday 24 March in Shanghai: after that morning's reminders, before the next day's.
ACTING = datetime(2026, 3, 24, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
ROBOT_READER = "li-na"  # reads her reminders by email and in the group chat


def _pdf() -> bytes:
    """The smallest PDF a viewer opens: one empty A4 page, its cross-reference table at the
    offsets its objects really have."""
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
               b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, table)
    return bytes(out)


PDF = _pdf()


def robot_roster(folder: Path) -> Path:
    """The example roster with 李娜 also reading the generic webhook robot's group chat."""
    text = ROSTER.read_text(encoding="utf-8")
    anchor = "    roles: [party-group, leadership, supervising-leaders, mass-org-group, members, staff]\n"
    assert text.count(anchor) == 1, "the example roster changed: find 李娜's roles line again"
    path = folder / "roster.yaml"
    path.write_text(text.replace(anchor, anchor + "    channels: [email, webhook]\n"), encoding="utf-8")
    return path


class Hooks:
    """A group robot on loopback: every JSON body POSTed to it, in order."""

    def __init__(self):
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Hrefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []  # (href, the link's words)
        self._open: str | None = None
        self._words: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("href"):
            self._open, self._words = dict(attrs)["href"], []

    def handle_data(self, data):
        if self._open is not None:
            self._words.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self.found.append((self._open, "".join(self._words).strip()))
            self._open = None


def links_in(html: str) -> list[tuple[str, str]]:
    parser = Hrefs()
    parser.feed(html)
    return parser.found


MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\((http[^)\s]+)\)")


@dataclass
class Mail:
    path: Path
    to: str
    kind: str
    subject: str
    sent: datetime
    text: str
    html: str

    @property
    def links(self) -> list[tuple[str, str]]:
        return links_in(self.html)

    def link(self, words: str) -> str:
        return next(href for href, shown in self.links if shown.startswith(words))


_parsed: dict[str, Mail] = {}  # by Maildir file name: unique, and the same in every copy


def read_mail(path: Path) -> Mail:
    if path.name in _parsed:
        return _parsed[path.name]
    with open(path, "rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    mail = Mail(path, str(message["To"]), str(message["X-Planbell-Kind"]), str(message["Subject"]),
                email.utils.parsedate_to_datetime(str(message["Date"])),
                message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())
    _parsed[path.name] = mail
    return mail


@dataclass
class March:
    """The simulated month, kept for the session: its database, Maildir, roster and robot."""

    folder: Path
    port: int
    hooks: Hooks
    roster: Path
    robot_in_month: int = 0  # how many of hooks.bodies the month's simulation sent

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, folder: Path) -> dict[str, str]:
        return {"database_url": f"sqlite:///{folder / 'planbell.db'}", "maildir": str(folder / "mail"),
                "public_url": self.public_url, "webhook_url": self.hooks.url}


def simulate(settings: dict[str, str], roster: Path, first: date, last: date) -> None:
    done = run_cli("simulate", "--from", first, "--to", last, "--deliver", roster=roster, **settings)
    assert done.code == 0, done.err


class Clock:
    """The server's clock: a test moves it."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """One test's copy of March, with the workbench served on it."""

    march: March
    folder: Path
    clock: Clock
    links: Links
    schedule: object = None  # the schedule the server reads (the month's roster)
    server: WebServer | None = None
    hooks_seen: int = 0  # robot bodies before this world's own
    _mail_seen: set = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.march.public_url

    @property
    def settings(self) -> dict[str, str]:
        return self.march.settings(self.folder)

    def mails(self, kind: str | None = None, to: str | None = None) -> list[Mail]:
        out = [read_mail(p) for p in sorted((self.folder / "mail" / "new").iterdir())]
        return sorted((m for m in out if (kind is None or m.kind == kind) and (to is None or to in m.to)),
                      key=lambda m: (m.sent, m.path.name))

    def new_mails(self) -> list[Mail]:
        """Mail delivered since the last call."""
        fresh = sorted(p for p in (self.folder / "mail" / "new").iterdir() if p.name not in self._mail_seen)
        self._mail_seen |= {p.name for p in fresh}
        return [read_mail(p) for p in fresh]

    def robot_messages(self) -> list[dict]:
        """What the robot posted in the month, and since for this world."""
        bodies = self.march.hooks.bodies
        return bodies[:self.march.robot_in_month] + bodies[self.hooks_seen:]

    def simulate(self, first: date, last: date | None = None) -> tuple[list[Mail], list[dict]]:
        """Run the service over [first, last] on this world's database; the mail and the robot
        messages it sent."""
        self.new_mails()
        posted = len(self.march.hooks.bodies)
        simulate(self.settings, self.march.roster, first, last or first)
        return self.new_mails(), self.march.hooks.bodies[posted:]

    def claims(self, urls: list[str]) -> list:
        """The action links among ``urls``, as (person, occurrence, purpose, group) claims."""
        out = []
        for url in urls:
            if "/act/" in url:
                try:
                    out.append(self.links.action(url.rsplit("/act/", 1)[1], self.clock()))
                except BadLink:
                    pass
        return out

    def mentioned(self, mails: list[Mail], robot: list[dict] = ()) -> set[str]:
        """The occurrences the messages carry a link for."""
        urls = [href for m in mails for href, _ in m.links]
        urls += [url for body in robot for _, url in MARKDOWN_LINK.findall(body["markdown"] or "")]
        return {c.occurrence for c in self.claims(urls)}

    def ledger(self) -> dict:
        """`planbell ledger --format json` of 2026, as of the server's clock."""
        out = self.folder / f"ledger-{len(list(self.folder.glob('ledger-*')))}.json"
        # The daemon's clock, not freezegun: freezing time.monotonic under the live server's
        # event loop would strand its timers decades ahead.
        with mock.patch("daemon.clock.now", self.clock):
            done = run_cli("ledger", "--year", 2026, "--format", "json", "--out", out,
                           roster=self.march.roster, **self.settings)
        assert done.code == 0, done.err
        return json.loads(out.read_text(encoding="utf-8"))

    def occurrence(self, occurrence_id: str) -> dict:
        return next(o for o in self.ledger()["occurrences"] if o["id"] == occurrence_id)

    def footprint(self) -> dict:
        """Everything a request could have changed: the ledger export, and every row of the
        audit trail, the evidence, its bytes and the outbox."""
        engine = make_engine(self.settings["database_url"])
        try:
            with engine.connect() as connection:
                tables = {t.name: connection.execute(t.select()).all()
                          for t in (AuditRow.__table__, EvidenceRow.__table__, BlobRow.__table__,
                                    MessageRow.__table__, OccurrenceRow.__table__)}
        finally:
            engine.dispose()
        return {"ledger": self.ledger(), **tables}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def make_march(folder: Path, port: int) -> March:
    hooks = Hooks()
    march = March(folder, port, hooks, robot_roster(folder))
    simulate(march.settings(folder), march.roster, FIRST, LAST)
    march.robot_in_month = len(hooks.bodies)
    return march


def open_world(march: March, folder: Path, now: datetime = ACTING, serve: bool = True) -> World:
    """A copy of ``march`` in ``folder``, its workbench served on the month's public address."""
    shutil.copy(march.folder / "planbell.db", folder / "planbell.db")
    shutil.copytree(march.folder / "mail", folder / "mail")
    engine = make_engine(f"sqlite:///{folder / 'planbell.db'}")
    made = sessions(engine)
    with made.begin() as session:
        secret = shared_secret(session, None, now)  # the key simulate generated and kept
    links = Links(secret, march.public_url)
    world = World(march, folder, Clock(now), links, hooks_seen=len(march.hooks.bodies))
    world.new_mails()  # the month's mail is not news to new_mails()
    world.schedule = schedule = load_schedule(SCHEDULES, march.roster)
    if serve:
        bench = Workbench(sessions=made, schedule=lambda: schedule, links=links, clock=world.clock)
        world.server = WebServer(bench, "127.0.0.1", march.port)
        world.server.start()
    return world
