"""The workbench the way people use it: Debian's chromium at a phone's width, opening the links
of real messages (a reminder email, a group robot's markdown) on a simulated March, and the
ledger and the next day's messages afterwards.

Playwright drives the system's chromium and never downloads a browser (.ci/run installs it).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import httpx
import pytest

from tests.web.world import LAST, MARKDOWN_LINK, PDF, ROBOT_READER, World, open_world

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 360, "height": 740}
NEXT_DAY = date(2026, 3, 25)
NOTE = "3月24日召开,学习《习近平谈治国理政》第五卷相关篇目"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs chromium for the browser tests")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk)", allow_module_level=True)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def phone(chromium):
    """A fresh browser profile at a phone's width: no cookies."""
    context = chromium.new_context(viewport=PHONE, locale="zh-CN")
    yield context
    context.close()


def fits_the_screen(page) -> bool:
    """Nothing wider than the phone, and the top bar shows all it holds (a stray CSS rule once
    squeezed it to 20 px and cut its words)."""
    wide = page.evaluate("document.documentElement.scrollWidth")
    bar = page.evaluate("(h => [h.scrollHeight, h.clientHeight])(document.querySelector('header'))")
    return wide <= PHONE["width"] and bar[0] <= bar[1]


def confirm_with_note_and_pdf(page, note: str, filename: str) -> None:
    page.fill("#note", note)
    page.set_input_files("#files", files=[{"name": filename, "mimeType": "application/pdf", "buffer": PDF}])
    with page.expect_navigation():
        page.get_by_role("button", name="确认销号").click()


def next_day_mentions(world: World, march, tmp_path: Path) -> set[str]:
    """What the next day's messages would list if nobody checked anything off (a copy of the
    database, run on)."""
    control = open_world(march, tmp_path / "control", serve=False)
    mails, robot = control.simulate(NEXT_DAY)
    return control.mentioned(mails, robot)


def test_reminder_button_checks_off_with_note_and_pdf_and_the_next_day_no_longer_lists_it(
        world, march, phone, tmp_path):
    (tmp_path / "control").mkdir()
    would_list = next_day_mentions(world, march, tmp_path)
    reminder = world.mails(kind="reminder", to="lina@")[-1]
    assert reminder.sent.date() == date(2026, 3, 24)
    buttons = [href for href, words in reminder.links if words == "已完成,去销号"]
    duty = next(c for c in world.claims(buttons) if c.occurrence in would_list)
    link = next(href for href in buttons if world.claims([href])[0] == duty)

    page = phone.new_page()
    page.goto(link)
    assert page.locator("h1").inner_text() == "确认销号"
    assert fits_the_screen(page)
    confirm_with_note_and_pdf(page, NOTE, "会议记录.pdf")
    assert page.locator("h1").inner_text() == "已销号"
    assert "会议记录.pdf" in page.locator(".files").inner_text()
    assert fits_the_screen(page)

    line = world.occurrence(duty.occurrence)
    assert (line["status"], line["done_by"], line["note"]) == ("done", ROBOT_READER, NOTE)
    assert [f["name"] for f in line["files"]] == ["会议记录.pdf"]
    # The evidence is what was uploaded, served back to this browser (signed in by the link).
    download = page.request.get(world.url + page.locator(".files a").first.get_attribute("href"))
    assert download.status == 200 and download.body() == PDF

    mails, robot = world.simulate(NEXT_DAY)
    assert mails, "the next day sends nothing at all: the comparison would prove nothing"
    assert duty.occurrence not in world.mentioned(mails, robot)


def robot_link(world: World, words: str = "已完成,去销号") -> str:
    """The first such link in the last group-chat message addressed to the robot reader."""
    body = [b for b in world.robot_messages() if b["to"]["address"] == "lina@example.gov.cn"][-1]
    return next(url for shown, url in MARKDOWN_LINK.findall(body["markdown"]) if shown == words)


def test_group_chat_link_acts_only_in_a_browser_the_person_signed_in_on(world, phone):
    link = robot_link(world)
    (claim,) = world.claims([link])
    assert claim.group and claim.person == ROBOT_READER
    before = world.occurrence(claim.occurrence)
    assert before["status"] in ("open", "overdue")

    # Someone else in the chat (or 李娜 on a new phone) opens it: it names the duty and the
    # person, offers to mail her a sign-in link, and cannot check anything off.
    page = phone.new_page()
    page.goto(link)
    assert "李娜" in page.locator("main").inner_text()
    assert page.locator("#note").count() == 0
    assert page.get_by_role("button", name="确认销号").count() == 0
    posted = httpx.post(link, data={"note": "冒充"}, cookies={})
    assert posted.status_code == 403 and "李娜 已登录的设备" in posted.text
    assert world.occurrence(claim.occurrence) == before

    with page.expect_navigation():
        page.get_by_role("button", name="给 李娜 发送登录链接").click()
    assert page.locator("h1").inner_text() == "请查收邮件"
    assert world.occurrence(claim.occurrence) == before

    # The sign-in link arrives by email (the dispatcher sends what the page queued); opening it
    # on this phone leaves the cookie, and the same group link now acts for her.
    mails, _ = world.simulate(LAST)
    (signin,) = [m for m in mails if m.kind == "signin"]
    assert "lina@" in signin.to
    page.goto(signin.link("登录我的工作台"))
    assert page.url.endswith("/me") and "李娜 的工作台" in page.locator("h1").inner_text()

    page.goto(link)
    assert page.locator("h1").inner_text() == "确认销号"
    confirm_with_note_and_pdf(page, "群聊链接销号", "签到表.pdf")
    assert page.locator("h1").inner_text() == "已销号"
    line = world.occurrence(claim.occurrence)
    assert (line["status"], line["done_by"], line["note"]) == ("done", ROBOT_READER, "群聊链接销号")
    assert [f["name"] for f in line["files"]] == ["签到表.pdf"]
