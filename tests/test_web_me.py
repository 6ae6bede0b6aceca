"""我的工作台 and the ways in (the personal link, /login, the console's one-time link), and the
calendar feed, through the real workbench on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from sqlalchemy import select

from daemon import feeds
from daemon.signin import remember_once
from daemon.store.tables import MessageRow
from daemon.web.auth import COOKIE
from tests.clirun import run_cli
from tests.webhelp import PDF, csrf, start_office

NOW = datetime(2026, 3, 26, 2, 0, tzinfo=UTC)
DUTY = "first-topic-study/2026-03"


@pytest.fixture
def office(tmp_path):
    office = start_office(tmp_path, NOW)
    yield office
    office.server.stop()


def test_the_personal_link_signs_in_and_drops_the_token_from_the_address(office):
    link = office.links.login_url("li-na", NOW).removeprefix(office.base)
    with office.client() as phone:
        answer = phone.get(link)
        assert answer.status_code == 303 and answer.headers["location"] == "/me"
        cookie = answer.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        page = phone.get("/me")
    assert page.status_code == 200 and "李娜 的工作台" in page.text
    assert "已逾期" in page.text and "室党组“第一议题”专题学习" in page.text
    assert page.text.count("已完成,去销号") >= 1


def test_an_expired_personal_link_offers_a_new_one(office):
    link = office.links.login_url("li-na", NOW - timedelta(days=31)).removeprefix(office.base)
    with office.client() as phone:
        answer = phone.get(link)
    assert answer.status_code == 410 and "已过期" in answer.text and "/login" in answer.text
    assert COOKIE not in answer.cookies


def test_me_without_a_session_goes_to_login(office):
    with office.client() as phone:
        answer = phone.get("/me")
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_me_lists_what_was_done_with_its_evidence(office):
    url = office.url("li-na", DUTY)
    with office.client() as phone:
        phone.post(url, data={"csrf": csrf(phone.get(url).text), "note": "学习第二卷"},
                   files=[("files", ("会议记录.pdf", PDF, "application/pdf"))])
        page = phone.get("/me").text
    done = page[page.index("已完成 ·"):]
    assert "室党组“第一议题”专题学习" in done and "会议记录.pdf" in done and "学习第二卷" in done


def test_login_mails_a_link_and_says_the_same_for_an_unknown_address(office):
    with office.client() as browser:
        form = browser.get("/login").text
        known = browser.post("/login", data={"csrf": csrf(form), "who": "LiNa@Example.gov.cn"})
        unknown = browser.post("/login", data={"csrf": csrf(form), "who": "nobody@example.gov.cn"})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    with office.made() as session:
        (mail,) = session.scalars(select(MessageRow).where(MessageRow.kind == "signin")).all()
    assert mail.person == "li-na" and mail.channel == "email" and mail.send_at == NOW


def test_login_sends_at_most_three_links_an_hour(office):
    with office.client() as browser:
        form = browser.get("/login").text
        for _ in range(5):
            browser.post("/login", data={"csrf": csrf(form), "who": "li-na"})
        office.now = NOW + timedelta(minutes=61)
        browser.post("/login", data={"csrf": csrf(form), "who": "li-na"})
    with office.made() as session:
        sent = session.scalars(select(MessageRow.send_at).where(MessageRow.kind == "signin")).all()
    assert sorted(sent) == [NOW, NOW, NOW, NOW + timedelta(minutes=61)]


def test_the_one_time_admin_link_is_shown_by_a_get_and_spent_by_the_first_post(office):
    url, nonce = office.links.once_url("xu-li", NOW)
    with office.made.begin() as session:
        remember_once(session, nonce, NOW)
    path = url.removeprefix(office.base)
    with office.client() as preview, office.client() as browser, office.client() as late:
        assert preview.get(path).status_code == 200  # a link previewer spends nothing
        form = browser.get(path).text
        answer = browser.post(path, data={"csrf": csrf(form)})
        assert answer.status_code == 303 and answer.headers["location"] == "/admin"
        again = late.post(path, data={"csrf": csrf(form)})
    assert again.status_code == 410 and "已使用过" in again.text


def test_an_unrecorded_one_time_link_does_not_sign_in(office):
    url, _nonce = office.links.once_url("xu-li", NOW)  # signed, but never issued by this database
    path = url.removeprefix(office.base)
    with office.client() as browser:
        answer = browser.post(path, data={"csrf": csrf(browser.get(path).text)})
    assert answer.status_code == 410 and COOKIE not in answer.cookies


def test_signing_out_forgets_the_device(office):
    with office.client("li-na") as phone:
        page = phone.get("/me").text
        out = phone.post("/logout", data={"csrf": csrf(page, "/logout")})
        assert out.status_code == 303
        assert phone.get("/me").headers["location"] == "/login"


def test_the_calendar_feed_holds_my_duties_and_answers_304_until_something_changes(office):
    with office.client("li-na") as phone:
        page = phone.get("/me").text
        shown = phone.post("/me/feed", data={"csrf": csrf(page, "/me/feed")}).text
    address = shown.split('class="mono"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert address.startswith(office.base + "/calendar/") and address.endswith(".ics")
    path = address.removeprefix(office.base)
    with office.client() as calendar_app:
        first = calendar_app.get(path)
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/calendar")
        cal = icalendar.Calendar.from_ical(first.content)
        assert str(cal["REFRESH-INTERVAL"].to_ical().decode()) == "PT4H" or "REFRESH-INTERVAL" in first.text
        assert "X-PUBLISHED-TTL:PT4H" in first.text
        events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
        assert f"{DUTY}@planbell" in events
        office.now = NOW + timedelta(hours=5)  # the wall clock moves; the bytes must not
        again = calendar_app.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        url = office.url("li-na", DUTY)
        with office.client() as browser:
            browser.post(url, data={"csrf": csrf(browser.get(url).text)})
        changed = calendar_app.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert changed.status_code == 200
        event = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(changed.content).walk("VEVENT")}[f"{DUTY}@planbell"]
        assert str(event["SUMMARY"]).startswith("✓ ") and not event.walk("VALARM")


def test_resetting_the_feed_revokes_the_old_address(office):
    with office.made.begin() as session:
        old = feeds.reset(session, "li-na", NOW)
        new = feeds.reset(session, "li-na", NOW)
    with office.client() as calendar_app:
        assert calendar_app.get(f"/calendar/{old}.ics").status_code == 404
        assert calendar_app.get(f"/calendar/{new}.ics").status_code == 200
    with office.made() as session:
        stored = session.get(feeds.FeedRow, "li-na").token_hash
    assert new not in stored and len(stored) == 64  # only the hash is kept


def test_planbell_feed_reset_prints_a_working_address(tmp_path):
    database = f"sqlite:///{tmp_path / 'p.db'}"
    result = run_cli("feed", "reset", "li-na", database_url=database, public_url="https://pb.example.gov.cn")
    assert result.code == 0, result.err
    address = result.out.strip().splitlines()[-1]
    assert address.startswith("https://pb.example.gov.cn/calendar/") and address.endswith(".ics")
    token = address.rsplit("/", 1)[1].removesuffix(".ics")
    from daemon.store.db import make_engine, sessions

    with sessions(make_engine(database))() as session:
        assert feeds.person_for(session, token) == "li-na"
    unknown = run_cli("feed", "reset", "li-nna", database_url=database)
    assert unknown.code == 2 and "名册中没有 'li-nna'" in unknown.err and "li-na" in unknown.err


def test_me_shows_my_own_figure_of_a_per_person_target(office):
    url = office.url("li-na", "grassroots-research-days/2026-03/li-na", "progress")

    def my_page(person: str) -> str:
        with office.client() as phone:
            phone.get(office.links.login_url(person, NOW).removeprefix(office.base))
            return phone.get("/me").text

    with office.client() as phone:
        phone.get(office.links.login_url("li-na", NOW).removeprefix(office.base))
        answer = phone.post(url, data={"csrf": csrf(phone.get(url).text), "amount": "+3"})
        assert answer.status_code == 200
    mine, theirs = my_page("li-na"), my_page("liu-yang")
    for page, figure in ((mine, "3 / 5天"), (theirs, "0 / 5天")):
        targets = page[page.index("我的指标"):]
        assert "干部每月深入基层调研天数" in targets and figure in targets and "本人的进度" in targets
        assert "按本月进度今天应达" in targets
