"""The action links of messages, through the real workbench on loopback: a GET shows, the POST
acts once, evidence is checked by its bytes, and every bad link gets a page, not a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from daemon.store.tables import BlobRow, EvidenceRow, MessageRow, ProgressRow
from daemon.web.auth import COOKIE
from tests.webhelp import ELF, PDF, PNG, csrf, start_office

NOW = datetime(2026, 3, 26, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the day after March's due date
DUTY = "first-topic-study/2026-03"  # 室党组 monthly study: 张伟, 李娜, 刘洋, 王强 …


@pytest.fixture
def office(tmp_path):
    office = start_office(tmp_path, NOW)
    yield office
    office.server.stop()


def test_opening_a_link_shows_the_duty_and_changes_nothing(office):
    with office.client() as browser:
        page = browser.get(office.url("li-na", DUTY))
    assert page.status_code == 200
    assert "确认销号" in page.text and "室党组" in page.text and "李娜" in page.text
    assert office.row(DUTY).status == "open"
    assert office.audit("done") == []
    assert COOKIE not in page.cookies  # a mail scanner that follows the link is not signed in


def test_confirming_checks_off_with_note_and_evidence_and_remembers_the_device(office):
    url = office.url("li-na", DUTY)
    with office.client() as browser:
        form = browser.get(url).text
        answer = browser.post(url, data={"csrf": csrf(form), "note": "3月20日召开,学习第二卷"},
                              files=[("files", ("会议记录.pdf", PDF, "application/pdf")),
                                     ("files", ("签到表.png", PNG, "image/png"))])
        assert answer.status_code == 200 and "已销号" in answer.text
        assert browser.cookies.get(COOKIE)  # the inbox was proven: /me opens without a new link
        assert browser.get("/me").status_code == 200
    row = office.row(DUTY)
    assert (row.status, row.done_by, row.note) == ("done", "li-na", "3月20日召开,学习第二卷")
    (entry,) = office.audit("done")
    assert entry.actor == "li-na" and entry.detail["via"]["kind"] == "link"
    assert entry.detail["via"]["channel"] == "email"
    with office.made() as session:
        names = sorted(session.scalars(select(EvidenceRow.filename)))
    assert names == ["会议记录.pdf", "签到表.png"]


def test_pressing_twice_checks_off_once_and_says_who_did_it_first(office):
    first, second = office.url("li-na", DUTY), office.url("liu-yang", DUTY)
    with office.client() as a, office.client() as b:
        form_a, form_b = a.get(first).text, b.get(second).text
        assert "已销号" in a.post(first, data={"csrf": csrf(form_a)}).text
        again = a.post(first, data={"csrf": csrf(form_a)})
        other = b.post(second, data={"csrf": csrf(form_b)})
    assert "此前已销号" in again.text and "李娜" in again.text
    assert "此前已销号" in other.text and "李娜" in other.text  # a co-assignee sees who
    assert len(office.audit("done")) == 1 and office.row(DUTY).done_by == "li-na"


def test_forged_tampered_and_expired_links_get_a_page_and_change_nothing(office):
    url = office.url("li-na", DUTY)
    token = url.rsplit("/", 1)[1]
    payload, signature = token.rsplit(".", 1)
    tampered = office.url("zhang-wei", DUTY).rsplit("/", 1)[1].rsplit(".", 1)[0] + "." + signature
    with office.client() as browser:
        for bad in ("/act/nonsense", f"/act/{payload}.{signature[::-1]}", f"/act/{tampered}"):
            for answer in (browser.get(bad), browser.post(bad, data={"csrf": "x"})):
                assert answer.status_code == 403 and "链接无效" in answer.text
                assert "Traceback" not in answer.text
        office.now = datetime(2026, 5, 26, 16, 0, tzinfo=UTC)  # due 25 March + 60 days, then a day
        expired = browser.get(url)
        assert expired.status_code == 410 and "链接已过期" in expired.text
        office.now = datetime(2026, 5, 24, 16, 0, tzinfo=UTC)  # the last day it is valid
        assert browser.get(url).status_code == 200
    assert office.row(DUTY).status == "open" and office.audit() == []


def test_someone_elses_link_on_a_signed_in_device_is_refused(office):
    url = office.url("li-na", DUTY)
    with office.client("liu-yang") as browser:
        page = browser.get(url)
        assert page.status_code == 403 and "此链接属于 李娜" in page.text and "刘洋" in page.text
        assert browser.post(url, data={"csrf": office.links.csrf(url.rsplit('/', 1)[1])}).status_code == 403
    assert office.row(DUTY).status == "open"


def test_a_link_for_a_duty_that_is_not_the_persons_is_refused(office):
    url = office.url("chen-jing", DUTY)  # a valid signature, but 陈静 is not on the 党组's study
    with office.client() as browser:
        page = browser.get(url)
        assert "不是 陈静 的工作" in page.text
        answer = browser.post(url, data={"csrf": csrf(page.text)} if 'name="csrf"' in page.text
                              else {"csrf": office.links.csrf(url.rsplit("/", 1)[1])})
    assert answer.status_code == 403 and office.row(DUTY).status == "open"


def test_a_post_without_the_forms_csrf_token_changes_nothing(office):
    url = office.url("li-na", DUTY)
    with office.client() as browser:
        answer = browser.post(url, data={"note": "x"})
    assert answer.status_code == 403 and "页面已失效" in answer.text
    assert office.row(DUTY).status == "open"


@pytest.mark.parametrize(("name", "data", "words"), [
    ("会议记录.pdf", ELF, "不是可接受的类型"),  # an executable renamed .pdf
    ("setup.exe", b"MZ" + b"\x00" * 100, "不是可接受的类型"),
    ("空.pdf", b"", "是空的"),
    ("fake.docx", b"PK\x03\x04not really a zip", "不是可接受的类型"),
])
def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_is_stored(office, name, data, words):
    url = office.url("li-na", DUTY)
    with office.client() as browser:
        form = browser.get(url).text
        answer = browser.post(url, data={"csrf": csrf(form), "note": "附件"},
                              files=[("files", ("签到表.png", PNG, "image/png")), ("files", (name, data, "application/pdf"))])
    assert answer.status_code == 400 and words in answer.text and "什么都没有保存" in answer.text
    assert office.row(DUTY).status == "open"
    with office.made() as session:
        assert session.scalar(select(func.count()).select_from(BlobRow)) == 0


def test_an_oversized_file_is_refused(office):
    url = office.url("li-na", DUTY)
    big = PDF + b"0" * (20 * 1024 * 1024)
    with office.client() as browser:
        form = browser.get(url).text
        answer = browser.post(url, data={"csrf": csrf(form)}, files=[("files", ("扫描件.pdf", big, "application/pdf"))])
    assert answer.status_code == 400 and "超过 20 MB" in answer.text
    assert office.row(DUTY).status == "open"


def test_eleven_files_are_too_many(office):
    url = office.url("li-na", DUTY)
    with office.client() as browser:
        form = browser.get(url).text
        files = [("files", (f"照片{i}.png", PNG + bytes([i]), "image/png")) for i in range(11)]
        answer = browser.post(url, data={"csrf": csrf(form)}, files=files)
    assert answer.status_code == 400 and "最多上传 10 个" in answer.text
    assert office.row(DUTY).status == "open"


def test_a_path_in_a_file_name_is_stored_as_a_plain_name_and_served_only_to_the_dutys_people(office):
    url = office.url("li-na", DUTY)
    with office.client() as browser:
        form = browser.get(url).text
        browser.post(url, data={"csrf": csrf(form)},
                     files=[("files", ("../../etc/passwd.pdf", PDF, "application/pdf")),
                            ("files", ("C:\\Users\\李娜\\签到表:<1>.png", PNG, "image/png"))])
    with office.made() as session:
        row, windows = session.scalars(select(EvidenceRow).order_by(EvidenceRow.id)).all()
    assert (row.filename, windows.filename) == ("passwd.pdf", "签到表__1_.png")
    with office.client("li-na") as owner, office.client("chen-jing") as outsider, office.client("xu-li") as admin:
        got = owner.get(f"/evidence/{row.id}")
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-disposition"].startswith('attachment; filename="passwd.pdf"')
        assert got.headers["x-content-type-options"] == "nosniff"
        assert admin.get(f"/evidence/{row.id}").status_code == 200
        assert outsider.get(f"/evidence/{row.id}").status_code == 403
    with office.client() as stranger:
        assert stranger.get(f"/evidence/{row.id}").status_code == 403


def test_the_same_file_twice_is_stored_once(office):
    with office.client() as a:
        url = office.url("li-na", DUTY)
        a.post(url, data={"csrf": csrf(a.get(url).text)}, files=[("files", ("记录.pdf", PDF, "application/pdf"))])
        other = "ideology-risk-screening/2026-Q1"
        url2 = office.url("li-na", other)
        a.post(url2, data={"csrf": csrf(a.get(url2).text)}, files=[("files", ("记录副本.pdf", PDF, "application/pdf"))])
    with office.made() as session:
        assert session.scalar(select(func.count()).select_from(BlobRow)) == 1
        assert session.scalar(select(func.count()).select_from(EvidenceRow)) == 2


def test_a_group_chat_link_acts_only_for_a_device_signed_in_as_its_person(office):
    url = office.url("li-na", DUTY, group=True)
    with office.client() as stranger:
        page = stranger.get(url)
        assert page.status_code == 200 and "给 李娜 发送登录链接" in page.text
        assert 'name="note"' not in page.text
        refused = stranger.post(url, data={"csrf": office.links.csrf(url.rsplit("/", 1)[1])})
        assert refused.status_code == 403
        # "mail me a link": queued for 李娜 herself, whoever pressed it
        sent = stranger.post("/login", data={"csrf": csrf(page.text), "token": url.rsplit("/", 1)[1], "title": "x"})
        assert sent.status_code == 200
    assert office.row(DUTY).status == "open"
    with office.made() as session:
        (mail,) = session.scalars(select(MessageRow).where(MessageRow.kind == "signin")).all()
    assert mail.person == "li-na" and office.woken
    with office.client("li-na") as her:
        form = her.get(url).text
        answer = her.post(url, data={"csrf": csrf(form)})
        assert "已销号" in answer.text
        assert COOKIE not in answer.cookies  # a group link proves nothing about an inbox
    (entry,) = office.audit("done")
    assert entry.detail["via"]["channel"] == "group"


def test_reporting_progress_records_it_and_closes_the_open_reports(office):
    report = "grassroots-research-days/2026-03/li-na"  # each cadre reports their own days
    url = office.url("li-na", report, "progress")
    with office.client() as browser:
        form = browser.get(url).text
        assert "当前累计" in form
        bad = browser.post(url, data={"csrf": csrf(form), "amount": "五天"})
        assert bad.status_code == 400 and "不是进度数字" in bad.text
        answer = browser.post(url, data={"csrf": csrf(form), "amount": "+5", "note": "走访3个乡镇"})
        assert answer.status_code == 200 and "进度已填报" in answer.text
    with office.made() as session:
        (entry,) = session.scalars(select(ProgressRow)).all()
    assert (entry.target, entry.total, entry.recorded_by, entry.person, entry.period) == \
        ("grassroots-research-days", 5, "li-na", "li-na", "2026-03")
    assert office.row(report).status == "done"
    assert office.row("grassroots-research-days/2026-03/liu-yang").status == "open"  # theirs is theirs


def test_asking_not_to_do_a_duty_waits_for_an_admin(office):
    from daemon.actions import open_requests

    url = office.url("li-na", DUTY, "explain")
    with office.client() as browser:
        form = browser.get(url).text
        empty = browser.post(url, data={"csrf": csrf(form), "note": " "})
        assert empty.status_code == 400
        browser.post(url, data={"csrf": csrf(form), "note": "因全会推迟", "ask_skip": "1"})
    assert office.row(DUTY).status == "open"
    with office.made() as session:
        ((entry, row),) = open_requests(session)
    assert entry.actor == "li-na" and entry.detail["note"] == "因全会推迟" and row.id == DUTY


def test_html_in_a_note_is_shown_as_text(office):
    url = office.url("li-na", DUTY)
    with office.client() as browser:
        browser.post(url, data={"csrf": csrf(browser.get(url).text), "note": "<script>alert(1)</script>"})
        again = browser.get(url).text
        me = browser.get("/me").text
    for page in (again, me):
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_pages_cannot_be_framed_or_cached(office):
    with office.client() as browser:
        page = browser.get(office.url("li-na", DUTY))
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_link_to_a_duty_the_schedule_no_longer_has_says_so(office):
    from datetime import date

    url = office.links.action_url("li-na", "retired-duty/2026-03", "done", date(2026, 3, 25))
    with office.client() as browser:
        page = browser.get(url.removeprefix(office.base))
        posted = browser.post(url.removeprefix(office.base), data={"csrf": office.links.csrf(url.rsplit("/", 1)[1])})
    assert page.status_code == 404 and "已不在台账中" in page.text
    assert posted.status_code == 404 and office.audit() == []
