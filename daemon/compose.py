"""Composing: an outbox row becomes a rendered message for one person on one channel.

The words live in templates/ (email: subject, text and HTML from one context; messaging:
markdown); this module only gathers the context.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from daemon import defaults, digest
from daemon.digest import DigestSettings
from daemon.ics import occurrence_calendar
from daemon.links import Links
from daemon.plan.model import owner_words
from daemon.plan.schedule import Schedule
from daemon.render import render
from daemon.store.tables import MessageRow, OccurrenceRow
from notifiers.base import Attachment, Outgoing, TransportError

# The occurrences a message lists, read as plain rows just before it is composed (a duty checked
# off a moment ago is left out). Built once: building and caching an IN (...) per call cost more
# than the query.
_OCCURRENCES = select(OccurrenceRow.__table__).where(
    OccurrenceRow.__table__.c.id.in_(bindparam("ids", expanding=True)))


# The calendar file's type: without the charset some mail clients read the Chinese in it as
# Latin-1 and show mojibake in the calendar.
ICS_CONTENT_TYPE = "text/calendar; charset=UTF-8; method=PUBLISH"

# The kinds of message that list duties (content["items"] of occurrence ids and stages); a
# nudge (催办 from /admin) reads as a reminder.
ITEM_KINDS = ("reminder", "escalation", "nudge")


class NothingToSay(Exception):
    """The message has nothing left to say (every duty in it was checked off, an empty digest,
    the person left the roster): it is skipped, not sent."""


def purposes(kind: str) -> tuple[str, ...]:
    """The buttons of a duty: a report asks for figures, any other duty for a check-off; both
    may be explained instead."""
    return ("progress", "explain") if kind == "report" else ("done", "explain")


class Composer:
    def __init__(self, schedule: Schedule, digests: DigestSettings | None = None, links: Links | None = None,
                 reply_to: str | None = None, ledgers: digest.LedgerCache | None = None):
        self.schedule = schedule
        self.ledgers = ledgers  # the service's, shared by the composers of successive batches
        self.links = links
        self.roster = schedule.roster
        # Mail comes from the office and a reply reaches a person (PLANBELL_REPLY_TO, or the
        # first admin), not planbell@localhost.
        first = schedule.plans[0] if schedule.plans else None
        self.from_name = (first.office or first.title) if first else None
        admins = self.roster.with_role(defaults.ADMIN_ROLE)
        self.reply_to = reply_to or next((p.email for p in admins if p.email), None)
        self.digests = digests
        self.plans = {plan.year: plan for plan in schedule.plans}
        self.timezone = schedule.zone
        self.names = {p.id: p.name for p in self.roster.people}
        # The opening notice of one duty goes to each of its assignees: one calendar for all.
        self._calendars: dict[str, Attachment] = {}
        # A composer lives for one claimed batch (one `now`): the digests of a Monday morning
        # share one read of the year's ledger instead of one per person.
        self._ledger: dict[int, digest.YearLedger] = {}
        self._checkoffs: list | None = None  # the week's check-offs through links, read once
        self._checked: dict = {}  # their occurrences, by id
        self._fetched: dict[str, Row] = {}  # occurrences read by prefetch(), by id
        self._fetched_at = 0.0  # time.monotonic() of that read

    def prefetch(self, session: Session, rows: list[MessageRow]) -> None:
        """Read the duties of all of ``rows`` at once, for composing them one by one next: one
        query for a claimed batch instead of one per message. What was read serves for
        defaults.COMPOSED_FRESH_FOR; a message composed later reads its duties afresh."""
        ids = {item["occurrence"] for row in rows if row.kind in ITEM_KINDS for item in row.content.get("items", [])}
        self._fetched = {o.id: o for o in session.execute(_OCCURRENCES, {"ids": list(ids)})} if ids else {}
        self._fetched_at = time.monotonic()

    def compose(self, session: Session, row: MessageRow, now: datetime, late: bool) -> Outgoing:
        person = self.roster.person(row.person)
        if person is None:
            raise NothingToSay(f"{row.person} is no longer in the roster")
        address = person.address(row.channel)
        if not address:
            raise TransportError(f"{person.name} ({person.id}) has no {row.channel} address in the roster", permanent=True)
        today = now.astimezone(self.timezone).date()
        context = {"person": person, "late": late, "today": today,
                   "send_at": row.send_at.astimezone(self.timezone), "kind": row.kind}
        context.update(self._link_context(person.id, row.channel, now))
        occurrence_ids: tuple[str, ...] = ()
        attachments: tuple[Attachment, ...] = ()
        template = row.kind
        if row.kind == "admin":
            context.update(topic=row.content["topic"], **row.content["context"])
        elif row.kind == "signin":
            if self.links is None:
                raise NothingToSay("the workbench is off: no sign-in link to send")
            context["next_title"] = row.content.get("title")
        elif row.kind == "digest":
            template = self._digest(session, row, today, now, context)
        else:
            items = self._items(session, row, today, context["act"])
            if not items:
                raise NothingToSay("every duty in it was checked off or cancelled")
            context["items"] = items
            if row.kind == "nudge":
                template = "reminder"
            occurrence_ids = tuple(dict.fromkeys(i["occurrence"].id for i in items))
            opening = [i for i in items if i["stage"] == "open"]
            if row.channel == "email" and opening:
                # The calendar file comes with the opening notice only: later reminders about
                # the same duty would add nothing but duplicate invitations.
                attachments = (self._calendar(opening, now),)
        subject = render(f"email/{template}.subject.txt", **context).replace("\n", " ")
        common = {"key": row.key, "kind": row.kind, "to_address": address, "to_name": person.name,
                  "subject": subject, "occurrence_ids": occurrence_ids, "date": now.astimezone(self.timezone),
                  "from_name": self.from_name, "reply_to": self.reply_to}
        if row.channel == "email":
            return Outgoing(**common, text=render(f"email/{template}.txt", **context),
                            html=render(f"email/{template}.html", **context), attachments=attachments)
        markdown = render(f"messaging/{template}.md", **context)
        return Outgoing(**common, text=markdown, markdown=markdown, mentions=(address,))

    def _link_context(self, person_id: str, channel: str, now: datetime) -> dict:
        """``act(o)``: the buttons of a duty for this reader ({purpose: url}, empty without a
        workbench); ``me_url``: their /me page; ``admin_url``. A robot's message lands in a
        group chat where everyone reads it, so its links act only for a browser signed in as
        that person, and its /me link carries no sign-in."""
        links = self.links
        if links is None:
            return {"act": lambda o: {}, "me_url": None, "admin_url": None}
        group = channel != "email"

        def act(o) -> dict[str, str]:
            return {p: links.action_url(person_id, o.id, p, o.due, group) for p in purposes(o.kind)}

        me_url = f"{links.base}/me" if group else links.login_url(person_id, now)
        return {"act": act, "me_url": me_url, "admin_url": f"{links.base}/admin"}

    def _items(self, session: Session, row: MessageRow, today, act) -> list[dict]:
        wanted = row.content.get("items", [])
        ids = list({i["occurrence"] for i in wanted})
        fresh = time.monotonic() - self._fetched_at <= defaults.COMPOSED_FRESH_FOR
        if fresh and all(i in self._fetched for i in ids):
            occurrences = self._fetched
        else:
            occurrences = {o.id: o for o in session.execute(_OCCURRENCES, {"ids": ids})}
        names, person = self.names, self.roster.person
        out = []
        for item in wanted:
            o = occurrences.get(item["occurrence"])
            if o is None or o.status != "open":
                continue
            plan = self.plans.get(o.plan_year)
            out.append({
                "occurrence": o,
                "stage": item["stage"],
                "days_left": (o.due - today).days,
                "item_title": plan.items.get(o.item, "") if plan else "",
                "owner_name": owner_words(plan, self.roster, o),
                "assignee_names": [names.get(a, a) for a in o.assignees],
                # Who leads it (牵头), and the others on it as the reader sees them (参与): by
                # id, so a namesake stays.
                "lead_name": names.get(o.lead, o.lead) if o.lead else None,
                "colleague_names": [names.get(a, a) for a in o.assignees if a not in (row.person, o.lead)],
                # Who to call about it: an escalation names them with their contacts.
                "contacts": [p for a in sorted(o.assignees, key=lambda a: a != o.lead) if (p := person(a))],
                "subject_name": names.get(o.subject, o.subject) if o.subject else None,
                "links": act(o),
            })
        out.sort(key=lambda i: (i["occurrence"].due, i["occurrence"].id))
        return out

    def _calendar(self, items: list[dict], now: datetime) -> Attachment:
        """The duties as calendar events, so one tap puts them in the recipient's calendar."""
        rows = list({i["occurrence"].id: i["occurrence"] for i in items}.values())
        # Each event carries the reader's own 销号 link: one calendar per reader, not per duty.
        urls = {i["occurrence"].id: next(iter(i["links"].values())) for i in items if i["links"]}
        key = repr((rows, now, sorted(urls.items())))  # the rows' every field: an edit makes a new one
        if key not in self._calendars:
            plan = self.plans.get(rows[0].plan_year)
            data = occurrence_calendar(rows, plan, self.roster, now, urls)
            self._calendars[key] = Attachment("planbell.ics", ICS_CONTENT_TYPE, data)
        return self._calendars[key]

    def _digest(self, session: Session, row: MessageRow, today, now: datetime, context: dict) -> str:
        spec = row.content["items"][0]
        plan = self.plans.get(spec["year"])
        if plan is None:
            raise NothingToSay(f"no plan for {spec['year']} is loaded")
        context.update(plan=plan, label=spec["label"], owner_of=lambda o: owner_words(plan, self.roster, o))
        if spec["scope"] == "overview":
            context.update(digest.overview(session, plan, self.roster, today, now - timedelta(days=7)))
            return "overview"
        if plan.year not in self._ledger:
            self._ledger[plan.year] = (
                self.ledgers.get(session, plan, self.roster, today, self.schedule.version) if self.ledgers
                else digest.year_ledger(session, plan, self.roster, today, digest_window=True))
        ledger = self._ledger[plan.year]
        sections = digest.personal(ledger, row.person, today)
        if sections["empty"] and not (self.digests and self.digests.send_empty):
            raise NothingToSay("nothing overdue, due or starting, and no targets")
        if self._checkoffs is None:
            self._checkoffs = digest.link_checkoffs(session, now - timedelta(days=7))
            self._checked = digest.rows_by_id(session, (e.subject for e in self._checkoffs))
        others = digest.checked_by_others(self._checkoffs, self._checked, row.person, self.names, self.timezone)
        context.update(sections, names=self.names, cards=defaults.DIGEST_CARDS,
                       lines=defaults.DIGEST_LINES, checked_by_others=others)
        return "digest"
