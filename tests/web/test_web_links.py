"""The links of real messages against a live workbench (uvicorn on loopback, httpx as the
client): a mail scanner that opens every one of them changes nothing, and every bad request —
forged, expired or someone else's link, an oversized or disguised file, a file name that climbs
folders, HTML in a note — gets a clear Chinese answer and leaves nothing behind.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest

from daemon import defaults
from tests.web.world import MARKDOWN_LINK, PDF, World

SCANNER = {"User-Agent": "Mozilla/5.0 (compatible; MailScanner/2.0; +https://scanner.example)"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def lina_button(world: World) -> str:
    """The first 「已完成,去销号」 of 李娜's last reminder email."""
    reminder = world.mails(kind="reminder", to="lina@")[-1]
    return reminder.link("已完成,去销号")


def refused(answer: httpx.Response, status: int, *words: str) -> None:
    """A page for people: the status, the words, and no stack."""
    assert answer.status_code == status, answer.text[-800:]
    assert answer.headers["content-type"].startswith("text/html")
    text = answer.text
    assert "Traceback" not in text and "Error" not in text
    for word in words:
        assert word in text, f"{word!r} not on the page:\n{text[-1500:]}"


def check_off(client: httpx.Client, link: str, note: str = "", files=(), **headers) -> httpx.Response:
    page = client.get(link)
    assert page.status_code == 200, page.text[-800:]
    return client.post(link, data={"csrf": csrf_of(page.text), "note": note},
                       files=[("files", f) for f in files] or None, headers=headers)


# --- a mail scanner ----------------------------------------------------------------------


def test_opening_every_link_of_a_reminder_an_escalation_a_digest_and_a_robot_message_changes_nothing(world):
    mails = [world.mails(kind=kind, to=to)[-1]
             for kind, to in (("reminder", "lina@"), ("escalation", "zhangwei@"), ("digest", "lina@"))]
    messages = [[href for href, _ in m.links] for m in mails]
    messages.append(MARKDOWN_LINK.findall(world.robot_messages()[-1]["markdown"]))
    messages[-1] = [url for _, url in messages[-1]]
    opened = 0
    before = world.footprint()
    for urls in messages:
        ours = [u for u in urls if u.startswith(world.url)]
        assert any("/act/" in u for u in ours) and any("/me" in u for u in ours)
        # One scanner per mailbox, keeping the cookies a link leaves, as a gateway's would.
        with httpx.Client(headers=SCANNER, follow_redirects=True, timeout=10) as scanner:
            for url in ours:
                for method in ("GET", "HEAD"):
                    answer = scanner.request(method, url)
                    # 410: a link past its duty's due date + 60 days (see the next test)
                    assert answer.status_code in (200, 410), f"{method} {url}: {answer.status_code}"
                    opened += answer.status_code == 200
    assert opened >= 60
    assert world.footprint() == before


def test_every_button_of_a_message_works_on_the_day_it_is_sent(world):
    # A link lives until its duty's due date + 60 days: a message that still shows a duty
    # overdue longer than that must not give it a button (the workbench foundation's digests
    # did, for January's duties in March).
    dead = []
    for mail in world.mails():
        world.clock.now = mail.sent
        for href, words in mail.links:
            if "/act/" in href and not world.claims([href]):
                dead.append(f"{mail.sent:%m-%d} {mail.kind} to {mail.to}: {words}")
    assert not dead, f"{len(dead)} dead buttons, e.g. {dead[:3]}"


# --- links that do not verify ------------------------------------------------------------


def test_a_forged_link_gets_403_in_chinese_and_changes_nothing(world):
    link = lina_button(world)
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    made_up = f"{world.url}/act/WyJsaS1uYSIsImZpcnN0LXRvcGljLXN0dWR5LzIwMjYtMDMiLCJkb25lIiw3NDAwMDAsMF0.x"
    before = world.footprint()
    with httpx.Client() as client:
        for url in (forged, made_up):
            refused(client.get(url), 403, "链接无效")
            refused(client.post(url, data={"csrf": "x", "note": "伪造"}), 403, "链接无效")
    assert world.footprint() == before


def test_a_link_past_its_due_date_and_sixty_days_gets_410_and_changes_nothing(world):
    link = lina_button(world)
    (claim,) = world.claims([link])
    with httpx.Client() as client:
        page = client.get(link)
        assert page.status_code == 200
        world.clock.now = world.clock.now.replace(year=claim.expires.year, month=claim.expires.month,
                                                  day=claim.expires.day) + timedelta(days=1)
        before = world.footprint()
        refused(client.get(link), 410, "链接已过期", claim.expires.isoformat())
        refused(client.post(link, data={"csrf": csrf_of(page.text), "note": "迟到的销号"}), 410, "链接已过期")
    assert world.footprint() == before
    assert claim.expires - defaults.ACTION_LINK_GRACE < date(2026, 4, 1)  # it was a March duty


def test_another_persons_link_on_a_device_signed_in_as_someone_else_gets_403_and_changes_nothing(world):
    zhang = world.mails(to="zhangwei@")[-1].link("打开我的工作台")
    link = lina_button(world)
    with httpx.Client() as client:
        assert client.get(zhang).status_code == 303  # 张伟 signs in on this device
        before = world.footprint()
        refused(client.get(link), 403, "这不是您的链接", "李娜", "张伟")
        csrf = world.links.csrf(link.rsplit("/", 1)[1])  # even with the form's own token
        refused(client.post(link, data={"csrf": csrf, "note": "代签"}), 403, "这不是您的链接")
    assert world.footprint() == before


# --- files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, data, words", [
    ("会议记录.pdf", b"%PDF-1.4\n" + b"0" * defaults.EVIDENCE_MAX_BYTES, "超过 20 MB"),
    ("会议记录.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 4000, "不是可接受的类型"),
    ("签到表.pdf", b"MZ\x90\x00\x03" + b"\x00" * 4000, "不是可接受的类型"),
], ids=["oversized", "elf-named-pdf", "exe-named-pdf"])
def test_a_refused_file_stores_nothing_not_even_the_check_off(world, name, data, words):
    link = lina_button(world)
    before = world.footprint()
    with httpx.Client(timeout=30) as client:
        answer = check_off(client, link, "附会议记录", [(name, data, "application/pdf"), ("照片.pdf", PDF, "application/pdf")])
    refused(answer, 400, words, "本次什么都没有保存")
    assert world.footprint() == before


def test_a_file_name_that_climbs_folders_is_stored_as_a_plain_name_and_downloads_safely(world):
    link = lina_button(world)
    (claim,) = world.claims([link])
    with httpx.Client() as client:
        answer = check_off(client, link, "", [("../../etc/passwd.pdf", PDF, "application/pdf"),
                                              ("..\\..\\windows\\win.ini.pdf", PDF[:-1] + b" ", "application/pdf")])
        assert answer.status_code == 200, answer.text[-800:]
        names = [f["name"] for f in world.occurrence(claim.occurrence)["files"]]
        assert names == ["passwd.pdf", "win.ini.pdf"]
        href = re.search(r'href="(/evidence/\d+)">passwd.pdf<', answer.text).group(1)
        download = client.get(world.url + href)
    assert download.status_code == 200 and download.content == PDF
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;") and 'filename="passwd.pdf"' in disposition
    assert "/" not in disposition.replace("filename*=UTF-8''", "") and ".." not in disposition
    assert download.headers["x-content-type-options"] == "nosniff"


# --- HTML in what people type -------------------------------------------------------------

HOSTILE = '<script>alert("销号")</script><img src=x onerror=alert(1)>'
HOSTILE_ADDRESS = "<script>alert(2)</script>"  # a header is ASCII


def test_html_in_a_note_or_a_forwarded_address_is_shown_as_text_on_the_pages_and_in_the_next_digest(world):
    # 李娜 checks off a duty she shares with the whole 室党组 (so its other people's next digest
    # tells them), from behind a proxy that passed on whatever the client claimed to be.
    reminder = world.mails(kind="reminder", to="lina@")[-1]
    buttons = [href for href, words in reminder.links if words == "已完成,去销号"]
    shared = next(h for h in buttons if "zhang-wei" in world.occurrence(world.claims([h])[0].occurrence)["assignees"])
    (claim,) = world.claims([shared])
    with httpx.Client(follow_redirects=True) as client:
        done = check_off(client, shared, HOSTILE, **{"X-Forwarded-For": HOSTILE_ADDRESS})
        assert done.status_code == 200
        assert world.occurrence(claim.occurrence)["note"] == HOSTILE
        pages = {"the check-off": done.text, "the act page": client.get(shared).text, "/me": client.get(f"{world.url}/me").text}
    mails, _ = world.simulate(date(2026, 3, 25), date(2026, 3, 30))
    digest = next(m for m in mails if m.kind == "digest" and "zhangwei@" in m.to)
    assert "他人经链接销号" in digest.html and "李娜" in digest.html
    assert "IP &lt;script&gt;alert(2)&lt;/script&gt;" in digest.html  # where it came from, as text
    pages["张伟's digest"] = digest.html
    for where, html in pages.items():
        assert "<script>" not in html and "<img src=x" not in html, f"unescaped HTML on {where}"
    for where in ("the act page", "/me"):
        assert "&lt;script&gt;alert(" in pages[where], f"the note is not shown on {where}"
