"""The admin console (/admin) over real HTTP: the app under uvicorn on a loopback port, a
SQLite file in tmp_path holding the bundled 2026 plan and example roster (admin: 徐丽 xu-li),
and an injected clock. A browser's session cookie is made the way a sign-in link leaves it."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock

import httpx
import openpyxl
import pytest
from sqlalchemy import select, update

from daemon import actions, evidence, ledger
from daemon.links import Links
from daemon.pipeline import refresh
from daemon.plan.schedule import load_schedule
from daemon.store.db import make_engine, sessions, upgrade
from daemon.store.tables import AuditRow, MessageRow, OccurrenceRow
from daemon.web.auth import COOKIE
from daemon.web.context import Workbench
from daemon.web.server import WebServer
from tests.clirun import ROSTER, SCHEDULES, bundled_schedule, run_cli

# Friday 10 April 2026, 10:00 in Shanghai.
NOW = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)
ADMIN, MEMBER = "xu-li", "li-na"
FOCUS_JAN = "monthly-study-focus/2026-01"  # item 1, due 2026-01-06
FOCUS_MAR = "monthly-study-focus/2026-03"  # item 1, due 2026-03-05
SEMINAR_Q1 = "theory-business-seminar/2026-Q1"  # item 1, due 2026-01-23 (the quarter's first month)
# item 1, due 2026-03-25: the 读书交流 of each 支部 (the example roster has two)
READING_MAR = ("monthly-reading-exchange/2026-03/branch-1", "monthly-reading-exchange/2026-03/branch-2")
STUDY_MAR = "first-topic-study/2026-03"  # item 1, due 2026-03-25
FOCUS_APR = "monthly-study-focus/2026-04"  # item 1, due 2026-04-07
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory) -> Path:
    """The bundled plan synced once into a SQLite file; each test works on a copy."""
    path = tmp_path_factory.mktemp("seed") / "planbell.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with sessions(engine).begin() as session:
        refresh(session, bundled_schedule(), datetime(2026, 1, 1, tzinfo=UTC))
    engine.dispose()
    return path


@dataclass
class Console:
    url: str
    database_url: str
    bench: Workbench
    links: Links
    wakes: list

    def browser(self, person: str | None = ADMIN) -> httpx.Client:
        cookies = {COOKIE: self.links.session_cookie(person, NOW)} if person else {}
        return httpx.Client(base_url=self.url, cookies=cookies, follow_redirects=False, timeout=30)

    def work(self, fn, *args):
        with self.bench.sessions.begin() as session:
            return fn(session, *args)

    def row(self, occurrence_id: str) -> OccurrenceRow:
        with self.bench.sessions() as session:
            return session.get(OccurrenceRow, occurrence_id)

    def audit(self, *where) -> list[AuditRow]:
        with self.bench.sessions() as session:
            return list(session.scalars(select(AuditRow).where(*where).order_by(AuditRow.id)))

    def messages(self, *where) -> list[MessageRow]:
        with self.bench.sessions() as session:
            return list(session.scalars(select(MessageRow).where(*where)))


@contextlib.contextmanager
def serving(database_url: str):
    """The workbench on a free loopback port over the database at ``database_url``."""
    engine = make_engine(database_url)
    schedule = bundled_schedule()
    links = Links(b"admin-console-test-secret-0123456789", "http://127.0.0.1")
    wakes: list = []
    bench = Workbench(sessions=sessions(engine), schedule=lambda: schedule, links=links, clock=lambda: NOW,
                      wake=lambda: wakes.append(NOW))
    server = WebServer(bench, "127.0.0.1", 0)
    server.start()
    try:
        yield Console(f"http://127.0.0.1:{server.port}", database_url, bench, links, wakes)
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture
def console(tmp_path, seeded_database):
    path = tmp_path / "planbell.db"
    shutil.copy(seeded_database, path)
    with serving(f"sqlite:///{path}") as running:
        yield running


def csrf_of(html: str, action: str = "/admin/") -> str:
    """The token of the first form posting to ``action`` on the page."""
    return re.search(rf'action="{action}[^"]*">\s*<input type="hidden" name="csrf" value="([0-9a-f]+)"', html).group(1)


def post(browser: httpx.Client, path: str, page: str = "/admin", **fields) -> httpx.Response:
    """Press a button as a person would: open the page, take its form's token, POST."""
    token = csrf_of(browser.get(page).text)
    return browser.post(path, data={"csrf": token, "back": page, **fields})


def done(session, occurrence_id: str, at: datetime, by: str = MEMBER):
    row = ledger.occurrence(session, occurrence_id)
    ledger.check_off(session, row, at, by, by, None, None)


class GridCells(HTMLParser):
    """(item, month) -> (state class, shown text) of the year grid's links."""

    def __init__(self):
        super().__init__()
        self.cells: dict[tuple[int, int], tuple[str, str]] = {}
        self._open: tuple[int, int] | None = None
        self._class, self._text, self._hidden = "", "", 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        href = attrs.get("href") or ""
        if tag == "a" and href.startswith("/admin/cell?"):
            found = re.search(r"item=(\d+)&month=(\d+)", href)
            self._open, self._class, self._text = (int(found[1]), int(found[2])), attrs["class"], ""
        elif tag == "span" and self._open and attrs.get("class") == "sr":
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag == "span" and self._hidden:
            self._hidden -= 1
        elif tag == "a" and self._open:
            self.cells[self._open] = (self._class, self._text)
            self._open = None

    def handle_data(self, data):
        if self._open and not self._hidden:
            self._text += data


def grid_of(html: str) -> dict[tuple[int, int], tuple[str, str]]:
    parser = GridCells()
    parser.feed(html)
    return parser.cells


# --- who may open it -------------------------------------------------------------------


def test_console_answers_non_admins_with_a_chinese_403_and_strangers_with_the_login_page(console):
    with console.browser(MEMBER) as member, console.browser(None) as stranger:
        for path in ("/admin", "/admin/cell?item=1&month=3", "/admin/audit", "/admin/ledger.csv",
                     "/admin/ledger.json", "/admin/ledger-targets.csv"):
            refused = member.get(path)
            assert refused.status_code == 403, path
            assert "需要管理员权限" in refused.text and "李娜 不是管理员" in refused.text
            assert "Traceback" not in refused.text
            assert stranger.get(path).headers["location"] == "/login"
        # A member's own token on a form does not make her an admin.
        token = csrf_of(member.get("/me").text, "/me/feed")
        assert member.post("/admin/check-off", data={"csrf": token, "occurrence": STUDY_MAR}).status_code == 403
    assert console.row(STUDY_MAR).status == "open"


# --- the year at a glance --------------------------------------------------------------


def test_year_grid_colours_each_cell_by_its_most_pressing_state_with_a_mark_and_a_count(console):
    def ledger_state(session):
        done(session, FOCUS_MAR, datetime(2026, 3, 4, 2, tzinfo=UTC))  # on time
        done(session, READING_MAR[1], datetime(2026, 3, 28, 2, tzinfo=UTC))  # three days late
        done(session, FOCUS_APR, datetime(2026, 4, 7, 2, tzinfo=UTC))  # on time
        done(session, READING_MAR[0], datetime(2026, 3, 25, 2, tzinfo=UTC))  # on time
        done(session, SEMINAR_Q1, datetime(2026, 1, 20, 2, tzinfo=UTC))  # on time
        for month in ("2026-01", "2026-02"):  # item 1, all of January and February on time
            for duty in ("monthly-study-focus", "first-topic-study", "monthly-reading-exchange/{}/branch-1",
                         "monthly-reading-exchange/{}/branch-2"):
                ident = duty.format(month) if "{}" in duty else f"{duty}/{month}"
                done(session, ident, datetime(2026, int(month[-2:]), 1, 2, tzinfo=UTC))

    console.work(ledger_state)
    with console.browser() as admin:
        answer = admin.get("/admin")
    assert answer.status_code == 200
    cells = grid_of(answer.text)
    assert cells[(1, 1)] == ("s-on-time", "✓5")  # every one done on time
    assert cells[(1, 3)] == ("s-overdue", "!1/4")  # study overdue; one late, two on time
    assert cells[(1, 4)] == ("s-open", "○4/5")  # study, both reading exchanges (24 April), Q2 seminar (23 April)
    assert cells[(1, 5)] == ("s-not-yet", "·4")
    assert (2, 2) not in cells  # item 2 has nothing due in February: an empty cell, no link
    for legend in ("已逾期", "办理中", "未开始", "逾期完成", "按时完成", "不需办理"):
        assert legend in answer.text
    # The mark is in the text, and the full breakdown is read out, not only coloured.
    assert "已逾期 1 逾期完成 1 按时完成 2" in re.sub(r"\s+", " ", answer.text)

    with console.browser() as admin:
        no_plan, not_a_year = admin.get("/admin?year=2025"), admin.get("/admin?year=202²")
    assert no_plan.status_code == 200 and "2025 年的日程未加载" in no_plan.text
    assert not_a_year.status_code == 400 and "年度请写四位数字" in not_a_year.text

    # A late check-off shows the late mark once nothing in the cell is more pressing.
    console.work(lambda s: done(s, STUDY_MAR, datetime(2026, 4, 9, 2, tzinfo=UTC)))
    with console.browser() as admin:
        assert grid_of(admin.get("/admin").text)[(1, 3)] == ("s-late", "迟2/4")


def test_cell_lists_its_occurrences_with_state_people_note_and_evidence_links(console):
    schedule = console.bench.schedule()

    def with_evidence(session):
        actions.complete(session, schedule, FOCUS_MAR, MEMBER, datetime(2026, 3, 4, 2, tzinfo=UTC),
                         "3月4日学习", [evidence.Upload("会议记录.png", PNG)], {"kind": "link"})
        return evidence.files_of(session, [FOCUS_MAR])[FOCUS_MAR][0].id

    file_id = console.work(with_evidence)
    with console.browser() as admin:
        answer = admin.get("/admin/cell?item=1&month=3")
        assert answer.status_code == 200
        page = answer.text
        assert "第 1 条「深化政治理论铸魂凝心行动」 · 2026年3月" in page
        # By due date: the focus (5 March), then the study and the reading exchanges (25 March).
        assert 0 < page.index("确定月度学习重点") < page.index("室党组“第一议题”专题学习") < page.index("“月度心得交流”")
        assert "由 李娜 销号" in page and "备注:3月4日学习" in page
        assert f'href="/evidence/{file_id}"' in page and "会议记录.png" in page
        assert "张伟、李娜、刘洋、王强" in page
        assert page.count('action="/admin/nudge"') == 3  # the open ones: seminar, study, reading
        assert page.count('action="/admin/undo"') == 1
        # The admin may open the evidence file the cell links to.
        file = admin.get(f"/evidence/{file_id}")
        assert file.status_code == 200 and file.content == PNG
        assert admin.get("/admin/cell?item=1&month=13").status_code == 400
        assert "月份" in admin.get("/admin/cell?item=x&month=3").text


# --- actions ---------------------------------------------------------------------------


def test_nudge_pressed_twice_queues_one_message_per_person_and_wakes_the_dispatcher(console):
    nudges = (MessageRow.kind == "nudge",)
    with console.browser() as admin:
        first = post(admin, "/admin/nudge", occurrence=STUDY_MAR)
        assert first.status_code == 303 and first.headers["location"] == "/admin?ok=nudged"
        assert "已催办" in admin.get(first.headers["location"]).text
        again = post(admin, "/admin/nudge", occurrence=STUDY_MAR)
        assert again.status_code == 303
    queued = console.messages(*nudges)
    assert sorted(m.person for m in queued) == ["li-na", "liu-yang", "wang-qiang", "zhang-wei"]
    assert all(m.status == "pending" and m.send_at == NOW and m.channel == "email" for m in queued)
    assert all(m.content == {"items": [{"occurrence": STUDY_MAR, "stage": "nudge"}]} for m in queued)
    assert console.wakes  # sent now, not at the next sweep
    entries = console.audit(AuditRow.action == "nudge")
    assert [(e.actor, e.subject) for e in entries] == [(ADMIN, STUDY_MAR)] * 2

    # A duty already done is not nudged: a clear page, nothing queued.
    console.work(lambda s: done(s, FOCUS_MAR, NOW))
    with console.browser() as admin:
        refused = post(admin, "/admin/nudge", occurrence=FOCUS_MAR)
    assert refused.status_code == 409 and "无需催办" in refused.text
    assert len(console.messages(*nudges)) == 4


def test_check_off_for_a_member_and_undo_change_the_ledger_and_record_the_admin(console):
    with console.browser() as admin:
        checked = post(admin, "/admin/check-off", page="/admin/cell?item=1&month=3", occurrence=STUDY_MAR,
                       on_behalf=MEMBER, note="已线下召开")
        assert checked.status_code == 303
        assert checked.headers["location"] == "/admin/cell?item=1&month=3&ok=checked"
        row = console.row(STUDY_MAR)
        assert (row.status, row.done_by, row.note, row.done_at) == ("done", MEMBER, "已线下召开", NOW)
        (entry,) = console.audit(AuditRow.action == "done")
        assert (entry.actor, entry.subject, entry.detail["by"]) == (ADMIN, STUDY_MAR, MEMBER)
        assert entry.detail["via"] == {"kind": "admin"}

        twice = post(admin, "/admin/check-off", occurrence=STUDY_MAR)
        assert twice.headers["location"] == "/admin?ok=already"
        assert len(console.audit(AuditRow.action == "done")) == 1

        undone = post(admin, "/admin/undo", occurrence=STUDY_MAR)
        assert undone.headers["location"] == "/admin?ok=undone"
        row = console.row(STUDY_MAR)
        assert (row.status, row.done_by, row.done_at, row.note) == ("open", None, None, None)
        (reopened,) = console.audit(AuditRow.action == "reopen")
        assert (reopened.actor, reopened.detail["previous"]) == (ADMIN, "done")

        # Without a person named, the check-off is the admin's own.
        post(admin, "/admin/check-off", occurrence=FOCUS_APR)
        assert console.row(FOCUS_APR).done_by == ADMIN
        assert console.row(FOCUS_APR).note == "管理员代为销号"
        stranger = post(admin, "/admin/check-off", occurrence=FOCUS_JAN, on_behalf="nobody-here")
        assert stranger.status_code == 400 and console.row(FOCUS_JAN).status == "open"


def test_a_skip_request_is_listed_and_approved_as_by_the_admin(console):
    schedule = console.bench.schedule()
    console.work(lambda s: actions.explain(s, schedule, STUDY_MAR, MEMBER, NOW - timedelta(days=2),
                                           "市委全会推迟,本月合并到4月", True, {"kind": "link"}))
    with console.browser() as admin:
        page = admin.get("/admin").text
        assert "不办理申请 · 1 项待审批" in page and "市委全会推迟,本月合并到4月" in page
        approved = post(admin, "/admin/approve-skip", occurrence=STUDY_MAR, reason="同意,并入4月")
        assert approved.headers["location"] == "/admin?ok=approved"
        assert "不办理申请" not in admin.get("/admin").text
    row = console.row(STUDY_MAR)
    assert (row.status, row.note, row.done_by) == ("skipped", "同意,并入4月", ADMIN)
    (entry,) = console.audit(AuditRow.action == "skip")
    assert (entry.actor, entry.subject) == (ADMIN, STUDY_MAR)


def test_an_action_without_its_csrf_token_is_refused_and_changes_nothing(console):
    before = len(console.audit())
    with console.browser() as admin:
        for path in ("/admin/nudge", "/admin/check-off", "/admin/approve-skip"):
            for token in (None, "0" * 32, console.links.csrf(f"me:{ADMIN}")):
                data = {"occurrence": STUDY_MAR} | ({"csrf": token} if token else {})
                refused = admin.post(path, data=data)
                assert refused.status_code == 403 and "页面已失效" in refused.text, (path, token)
        # A GET never acts.
        assert admin.get(f"/admin/nudge?occurrence={STUDY_MAR}").status_code == 405
    assert console.row(STUDY_MAR).status == "open"
    assert console.messages(MessageRow.kind == "nudge") == []
    assert len(console.audit()) == before


def test_after_an_action_the_answer_goes_back_to_the_console_only(console):
    with console.browser() as admin:
        token = csrf_of(admin.get("/admin").text)
        for back in ("https://evil.example/admin", "//evil.example/admin", "/me", "/admin\\@evil"):
            answer = admin.post("/admin/nudge", data={"csrf": token, "occurrence": STUDY_MAR, "back": back})
            assert answer.headers["location"] == "/admin?ok=nudged", back


# --- the 台账 download -------------------------------------------------------------------


def test_ledger_download_is_byte_for_byte_what_planbell_ledger_writes(console, tmp_path):
    console.work(lambda s: done(s, FOCUS_MAR, datetime(2026, 3, 4, 2, tzinfo=UTC)))
    # The CLI's one clock, pinned (freezegun would also freeze the running server's event loop).
    with mock.patch("daemon.clock.now", lambda: NOW):
        for fmt in ("csv", "json"):
            result = run_cli("ledger", "--year", "2026", "--out", tmp_path / f"cli.{fmt}",
                             database_url=console.database_url)
            assert result.code == 0, result.err
    with console.browser() as admin:
        for path, written in (("/admin/ledger.csv?year=2026", "cli.csv"), ("/admin/ledger.json?year=2026", "cli.json"),
                              ("/admin/ledger-targets.csv?year=2026", "cli-targets.csv")):
            answer = admin.get(path)
            assert answer.status_code == 200, path
            assert answer.content == (tmp_path / written).read_bytes(), path
        csv_answer = admin.get("/admin/ledger.csv")  # the year defaults to this one
        assert csv_answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert csv_answer.headers["content-disposition"] == (
            "attachment; filename=\"ledger2026.csv\"; filename*=UTF-8''%E5%8F%B0%E8%B4%A62026.csv")
        header = next(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
        assert header[:3] == ["编号", "条目", "事项"]
        assert json.loads(admin.get("/admin/ledger.json").content)["today"] == "2026-04-10"
        book = admin.get("/admin/ledger.xlsx?year=2026")
        assert book.headers["content-disposition"].endswith("%E5%8F%B0%E8%B4%A62026.xlsx")
        assert openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames == ["台账", "指标进度"]
        missing = admin.get("/admin/ledger.csv?year=2031")
        assert missing.status_code == 404 and "没有 2031 年的日程或台账" in missing.text
        assert admin.get("/admin/ledger.pdf").status_code == 404
        assert "年度请写四位数字" in admin.get("/admin/ledger.csv?year=twenty").text


# --- the audit trail ---------------------------------------------------------------------


def test_audit_trail_filters_by_person_and_duty_newest_first_a_hundred_a_page(console):
    def history(session):
        for n in range(230):
            ledger.audit(session, NOW - timedelta(minutes=230 - n), "zhang-wei", "explain",
                         f"first-topic-study/2026-0{1 + n % 3}", note=f"第{n}条")
        ledger.audit(session, NOW, "wang-qiang", "explain", "first_topic_x/2026-01", note="下划线不是通配符")
        ledger.audit(session, NOW, MEMBER, "explain", STUDY_MAR, note="李娜的说明")

    console.work(history)
    with console.browser() as admin:
        first = admin.get("/admin/audit?person=zhang-wei&duty=first-topic-study")
        assert "共 230 条" in first.text and "第 1 / 3 页" in first.text
        notes = re.findall(r"第(\d+)条", first.text)
        assert notes[:2] == ["229", "228"] and len(notes) == 100  # newest first
        assert "李娜的说明" not in first.text
        assert 'href="/admin/audit?person=zhang-wei&amp;duty=first-topic-study&amp;page=2"' in first.text
        last = admin.get("/admin/audit?person=zhang-wei&duty=first-topic-study&page=3")
        assert re.findall(r"第(\d+)条", last.text)[-1] == "0" and len(re.findall(r"第(\d+)条", last.text)) == 30
        march = admin.get(f"/admin/audit?duty={STUDY_MAR}").text
        assert "李娜的说明" in march and "共 77 条" in march  # 76 of 张伟's and 李娜's
        underscore = admin.get("/admin/audit?duty=first_topic").text
        assert "共 1 条" in underscore and "下划线不是通配符" in underscore
        by_member = admin.get(f"/admin/audit?person={MEMBER}").text
        assert "共 1 条" in by_member and "李娜的说明" in by_member


# --- escaping ----------------------------------------------------------------------------


def test_html_in_notes_titles_names_and_requests_is_shown_as_text_on_every_admin_page(console, tmp_path):
    attack = "<script>alert(1)</script>"
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER.read_text(encoding="utf-8").replace("name: 李娜", f"name: '李娜{attack}'"), encoding="utf-8")
    schedule = load_schedule(SCHEDULES, roster)
    console.bench.schedule = lambda: schedule  # read per request, as after a reload

    def hostile(session):
        session.execute(update(OccurrenceRow).where(OccurrenceRow.id.in_([STUDY_MAR, FOCUS_MAR]))
                        .values(title=f"第一议题{attack}"))
        done(session, FOCUS_MAR, datetime(2026, 3, 4, 2, tzinfo=UTC))
        ledger.occurrence(session, FOCUS_MAR).note = f"备注{attack}"
        actions.explain(session, schedule, STUDY_MAR, MEMBER, NOW, f"理由{attack}", True, {"kind": "link"})

    console.work(hostile)
    with console.browser() as admin:
        pages = [admin.get(p).text for p in ("/admin", "/admin/cell?item=1&month=3",
                                             f"/admin/audit?duty={STUDY_MAR}", "/admin/audit")]
    for text in pages:
        assert "<script>" not in text
        assert "李娜&lt;script&gt;" in text
    assert "第一议题&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "理由&lt;script&gt;" in pages[0] and "备注&lt;script&gt;" in pages[0]
    assert "备注&lt;script&gt;" in pages[1] and "理由&lt;script&gt;" in pages[2]


# --- PostgreSQL ------------------------------------------------------------------------


def test_console_acts_and_filters_the_same_on_postgresql(postgres_url):
    engine = make_engine(postgres_url)
    upgrade(engine)
    with sessions(engine).begin() as session:
        refresh(session, bundled_schedule(), datetime(2026, 1, 1, tzinfo=UTC))
    engine.dispose()
    with serving(postgres_url) as console, console.browser() as admin:
        console.work(lambda s: ledger.audit(s, NOW, "wang-qiang", "explain", "first_topic_x/2026-01", note="下划线"))
        checked = post(admin, "/admin/check-off", occurrence=STUDY_MAR, on_behalf=MEMBER)
        assert checked.headers["location"] == "/admin?ok=checked"
        assert grid_of(admin.get("/admin").text)[(1, 3)][0] == "s-overdue"  # focus, seminar, reading still open
        assert "由 李娜 销号" in admin.get("/admin/cell?item=1&month=3").text
        underscore = admin.get("/admin/audit?duty=first_topic").text  # '_' is no wildcard here either
        assert "共 1 条" in underscore and "下划线" in underscore
        assert "共 1 条" in admin.get(f"/admin/audit?person={ADMIN}&duty=first-topic").text
