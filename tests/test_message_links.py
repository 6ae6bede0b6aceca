"""What the links in messages carry: each reader's own capability by email, a group-chat link
by robot, and digests that stay a phone's screenful with the rest behind /me."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from daemon.compose import Composer
from daemon.digest import DigestSettings
from daemon.ledger import check_off
from daemon.links import Links
from daemon.pipeline import refresh
from daemon.store.db import make_engine, sessions, upgrade
from daemon.store.tables import MessageRow, OccurrenceRow
from tests.clirun import bundled_schedule

LINKS = Links(b"message-links-test-secret-0123456789", "https://pb.example.gov.cn")
DIGESTS = DigestSettings("weekly", time(8, 30))
ACT = re.compile(r"https://pb\.example\.gov\.cn/act/([A-Za-z0-9_.\-]+)")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """The bundled plan's year planned on 1 January, nothing checked off (the worst case)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('links') / 'p.db'}")
    upgrade(engine)
    made = sessions(engine)
    with made.begin() as session:
        refresh(session, bundled_schedule(), datetime(2026, 1, 1, tzinfo=UTC), DIGESTS, ("email", "wecom"))
    return made


def compose(made, key: str, channel_row: MessageRow | None = None):
    with made() as session:
        row = channel_row or session.scalar(select(MessageRow).where(MessageRow.key == key))
        assert row is not None, key
        return Composer(bundled_schedule(), DIGESTS, LINKS).compose(session, row, row.send_at, False)


def test_every_duty_of_an_email_reminder_carries_the_readers_own_verifiable_links(ledger):
    mail = compose(ledger, "reminder:li-na:2026-03-18:email")
    claims = {(c.person, c.occurrence, c.purpose, c.group)
              for c in (LINKS.action(t, datetime(2026, 3, 18, tzinfo=UTC)) for t in set(ACT.findall(mail.html)))}
    assert {("li-na", o, "done", False) for o in mail.occurrence_ids} <= claims
    assert {("li-na", o, "explain", False) for o in mail.occurrence_ids} <= claims
    assert {c[0] for c in claims} == {"li-na"}
    assert set(ACT.findall(mail.text)) == set(ACT.findall(mail.html))


def test_a_robot_message_carries_group_links_and_a_me_link_that_signs_nobody_in(ledger):
    with ledger() as session:
        email_row = session.scalar(select(MessageRow).where(MessageRow.key == "reminder:li-na:2026-03-18:email"))
        session.expunge(email_row)
    robot_row = MessageRow(**{c.name: getattr(email_row, c.name) for c in MessageRow.__table__.columns
                              if c.name not in ("id", "channel")}, channel="wecom")
    message = compose(ledger, "", robot_row)
    claims = [LINKS.action(t, datetime(2026, 3, 18, tzinfo=UTC)) for t in ACT.findall(message.markdown)]
    assert claims and all(c.group and c.person == "li-na" for c in claims)
    assert "[我的工作台](https://pb.example.gov.cn/me)" in message.markdown
    assert "/me?t=" not in message.markdown  # a sign-in token in a group chat signs anyone in


def test_the_opening_notice_calendar_carries_the_readers_link_not_a_colleagues(ledger):
    first = compose(ledger, "reminder:li-na:2026-03-02:email")
    second = compose(ledger, "reminder:liu-yang:2026-03-02:email")
    for mail, person in ((first, "li-na"), (second, "liu-yang")):
        calendar = mail.attachments[0].data.decode().replace("\r\n ", "")
        people = {LINKS.action(t, datetime(2026, 3, 2, tzinfo=UTC)).person for t in ACT.findall(calendar)}
        assert people == {person}


def test_no_digest_of_the_year_is_clipped_by_gmail(ledger):
    """The worst case: nothing checked off all year, so December's digests list hundreds."""
    with ledger() as session:
        keys = session.scalars(select(MessageRow.key).where(MessageRow.kind == "digest",
                                                            MessageRow.key.like("digest:personal:%"))).all()
    months = {}
    for key in keys:  # the last digest of each month, for everyone: the largest of each month
        _, _, person, label, _ = key.split(":")
        months[(person, label[:4], int(label.split("-W")[1]) // 4.5)] = key
    composer = Composer(bundled_schedule(), DIGESTS, LINKS)  # one batch: the year's ledger read once
    with ledger() as session:
        rows = session.scalars(select(MessageRow).where(MessageRow.key.in_(list(months.values())))).all()
        sizes = {row.key: len(composer.compose(session, row, row.send_at, False).html.encode()) for row in rows}
    worst = max(sizes, key=sizes.get)
    assert sizes[worst] < 100_000, (worst, sizes[worst])
    december = compose(ledger, f"digest:personal:chen-jing:{'2026-W51'}:email")
    assert "另有" in december.html and "在我的工作台查看并办理" in december.html
    assert december.html.count("已完成,去销号</a>") == 5  # a screenful of cards, the rest one line


def test_a_check_off_through_a_link_shows_in_the_others_next_digest(ledger, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(engine)
    made = sessions(engine)
    at = datetime(2026, 3, 20, 6, 30, tzinfo=UTC)
    with made.begin() as session:
        refresh(session, bundled_schedule(), datetime(2026, 1, 1, tzinfo=UTC), DIGESTS)
        row = session.get(OccurrenceRow, "first-topic-study/2026-03")
        check_off(session, row, at, "li-na", "li-na", "<b>x</b>", None,
                  via={"kind": "link", "channel": "group", "ip": "10.1.2.3", "agent": "企业微信 · iPhone"})
    others = compose(made, "digest:personal:liu-yang:2026-W13:email")
    hers = compose(made, "digest:personal:li-na:2026-W13:email")
    assert "他人经链接销号" in others.html and "李娜" in others.html and "10.1.2.3" in others.html
    assert "经群聊消息中的链接" in others.text and "3月20日 14:30" in others.text
    assert "他人经链接销号" not in hers.html  # her own check-off is not news to her
    assert date(2026, 3, 23).isocalendar().week == 13


def test_a_mailed_sign_in_link_signs_its_person_in_and_the_overview_links_the_console(ledger, tmp_path):
    from daemon.outbox import enqueue

    now = datetime(2026, 3, 30, 1, 0, tzinfo=UTC)
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(engine)
    made = sessions(engine)
    with made.begin() as session:
        refresh(session, bundled_schedule(), datetime(2026, 1, 1, tzinfo=UTC), DIGESTS)
        enqueue(session, key="signin:li-na:1", kind="signin", person="li-na", channel="email", send_at=now,
                content={"title": "室党组学习"}, now=now)
    mail = compose(made, "signin:li-na:1")
    token = re.search(r"https://pb\.example\.gov\.cn/me\?t=(\S+)", mail.text).group(1)
    assert LINKS.login(token, now) == "li-na" and "室党组学习" in mail.text
    overview = compose(made, "digest:overview:xu-li:2026-W14:email")
    assert "https://pb.example.gov.cn/admin" in overview.text and 'href="https://pb.example.gov.cn/admin"' in overview.html
