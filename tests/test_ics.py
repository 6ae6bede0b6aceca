"""The .ics export, read back by two independent parsers (icalendar and vobject) and checked
against `planbell agenda --format json` over the same range."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
import vobject
from freezegun import freeze_time

from tests.clirun import FROZEN, YEAR, bundled_schedule, run_cli

CJK = re.compile(r"[\u4e00-\u9fff]")
UID_SUFFIX = "@planbell"


@dataclass(frozen=True)
class Ev:
    uid: str
    summary: str
    description: str
    dtstart: object
    dtend: object
    triggers: tuple[timedelta, ...]
    actions: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Parsed:
    calname: str
    tzids: tuple[str, ...]
    summer_offset: timedelta  # the VTIMEZONE's UTC offset on 2026-07-01 12:00
    events: tuple[Ev, ...]


def unescape_text(raw: str) -> str:
    """RFC 5545 3.3.11 TEXT: \\\\ \\; \\, and \\n are the only escapes."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], raw)


def parse_with_icalendar(data: bytes) -> Parsed:
    cal = icalendar.Calendar.from_ical(data)
    zones = cal.walk("VTIMEZONE")
    events = tuple(
        Ev(
            uid=str(e["UID"]), summary=str(e["SUMMARY"]), description=str(e["DESCRIPTION"]),
            dtstart=e["DTSTART"].dt, dtend=e["DTEND"].dt,
            triggers=tuple(sorted(a["TRIGGER"].dt for a in e.walk("VALARM"))),
            actions=tuple(str(a["ACTION"]) for a in e.walk("VALARM")),
            categories=tuple(str(c) for c in e["CATEGORIES"].cats),
        )
        for e in cal.walk("VEVENT")
    )
    offset = zones[0].to_tz().utcoffset(datetime(2026, 7, 1, 12)) if zones else None
    # icalendar leaves X- properties raw; their default value type is TEXT (RFC 5545 3.8.8.2).
    calname = unescape_text(str(cal["X-WR-CALNAME"]))
    return Parsed(calname, tuple(str(z["TZID"]) for z in zones), offset, events)


def parse_with_vobject(data: bytes) -> Parsed:
    cal = vobject.readOne(data.decode("utf-8"))
    zones = cal.contents.get("vtimezone", [])
    events = tuple(
        Ev(
            uid=e.uid.value, summary=e.summary.value, description=e.description.value,
            dtstart=e.dtstart.value, dtend=e.dtend.value,
            triggers=tuple(sorted(a.trigger.value for a in e.contents.get("valarm", []))),
            actions=tuple(a.action.value for a in e.contents.get("valarm", [])),
            categories=tuple(e.categories.value),
        )
        for e in cal.contents.get("vevent", [])
    )
    offset = zones[0].gettzinfo().utcoffset(datetime(2026, 7, 1, 12)) if zones else None
    return Parsed(
        cal.contents["x-wr-calname"][0].value, tuple(z.tzid.value for z in zones), offset, events
    )


PARSERS = {"icalendar": parse_with_icalendar, "vobject": parse_with_vobject}


def export(out: Path, *args: str, **kw) -> bytes:
    result = run_cli("ics", *args, "--out", out, **kw)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return out.read_bytes()


def check_rfc5545_lines(data: bytes) -> None:
    """CRLF line endings only, every physical line at most 75 octets and valid UTF-8 on its own
    (a fold must never split a multi-byte character)."""
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert data.endswith(b"END:VCALENDAR\r\n")
    lines = data[:-2].split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in lines), "bare CR or LF"
    too_long = [line for line in lines if len(line) > 75]
    assert not too_long, too_long[:3]
    for line in lines:
        line.decode("utf-8")  # raises if a fold cut a character in two


# --- the bundled plan, all of 2026 ----------------------------------------------------------


@pytest.fixture(scope="module")
def agenda_year() -> list[dict]:
    with freeze_time(FROZEN):
        result = run_cli("agenda", *YEAR, "--format", "json")
    assert result.code == 0, result.err
    found = result.json()
    assert len(found) > 300  # monthly, quarterly, per-person and report duties of a whole year
    return found


@pytest.fixture(scope="module")
def year_ics(tmp_path_factory) -> bytes:
    with freeze_time(FROZEN):
        return export(tmp_path_factory.mktemp("ics") / "2026.ics", *YEAR)


@pytest.fixture(scope="module", params=sorted(PARSERS))
def parsed(request, year_ics) -> Parsed:
    return PARSERS[request.param](year_ics)


def test_export_is_byte_identical_when_frozen_time_is_the_same(year_ics, tmp_path):
    with freeze_time(FROZEN):
        again = export(tmp_path / "again.ics", *YEAR)
    assert again == year_ics
    assert b"DTSTAMP:20260301T080000Z\r\n" in year_ics


def test_uids_are_stable_across_exports_at_other_times_and_ranges(agenda_year, tmp_path):
    with freeze_time("2026-06-15 02:00:00"):
        march = export(tmp_path / "march.ics", "--from", "2026-03-01", "--to", "2026-03-31")
    assert b"DTSTAMP:20260615T020000Z\r\n" in march
    uids = Counter(e.uid for e in parse_with_icalendar(march).events)
    expected = {o["id"] + UID_SUFFIX for o in agenda_year if o["due"].startswith("2026-03")}
    # The same ids as in the whole-year export (checked against the agenda below).
    assert expected and set(uids) == expected and set(uids.values()) == {1}


def test_every_agenda_occurrence_is_exactly_one_vevent(parsed, agenda_year):
    uids = Counter(e.uid for e in parsed.events)
    assert [u for u, n in uids.items() if n > 1] == []
    assert set(uids) == {o["id"] + UID_SUFFIX for o in agenda_year}
    assert len(parsed.events) == len(agenda_year)


def test_events_match_the_agenda(parsed, agenda_year):
    schedule = bundled_schedule()
    names = {p.id: p.name for p in schedule.roster.people}
    roles = schedule.roles()
    send = schedule.plans[0].send_at
    at_send = timedelta(hours=send.hour, minutes=send.minute)
    by_uid = {e.uid: e for e in parsed.events}
    for o in agenda_year:
        e = by_uid[o["id"] + UID_SUFFIX]
        due = date.fromisoformat(o["due"])
        # All-day event on the due date (a DATE, not a DATE-TIME).
        assert type(e.dtstart) is date and e.dtstart == due, o["id"]
        assert type(e.dtend) is date and e.dtend == due + timedelta(days=1), o["id"]
        # Summary: the duty's Chinese title (and whom a per-person duty is about).
        summary = ("【进度报送】" if o["kind"] == "report" else "") + o["title"]
        if o["subject"]:
            summary += f"({names[o['subject']]})"
        assert e.summary == summary
        assert CJK.search(e.summary), e.summary
        # Description: the plan item, the sentence of the plan it comes from, the id to close it.
        assert f"工作要点第 {o['item']} 条" in e.description
        assert f"原文:{o['source']}" in e.description
        assert f"截止:{due.year}年{due.month}月{due.day}日" in e.description
        assert f"planbell done {o['id']}" in e.description
        assert e.categories == (roles[o["owner"]],)
        # One DISPLAY alarm per lead time, at send_at on the day N days before the due date.
        assert e.triggers == tuple(sorted(at_send - timedelta(days=d) for d in o["remind_days"]))
        assert set(e.actions) <= {"DISPLAY"} and len(e.actions) == len(o["remind_days"])


def test_calendar_is_named_and_carries_the_shanghai_zone(parsed):
    assert parsed.calname == bundled_schedule().plans[0].title
    assert parsed.tzids == ("Asia/Shanghai",)
    assert parsed.summer_offset == timedelta(hours=8)  # no daylight saving in China


def test_lines_are_folded_at_75_octets_with_crlf(year_ics):
    check_rfc5545_lines(year_ics)
    assert b"X-WR-TIMEZONE:Asia/Shanghai\r\n" in year_ics
    # Chinese text is long in octets: descriptions must really have been folded.
    assert b"\r\n " in year_ics


def test_person_export_holds_only_that_persons_events(agenda_year, tmp_path):
    q1 = ("--from", "2026-01-01", "--to", "2026-03-31")  # months, a quarter, talks, reports
    with freeze_time(FROZEN):
        mine = run_cli("agenda", *q1, "--person", "li-na", "--format", "json").json()
        data = export(tmp_path / "li-na.ics", *q1, "--person", "li-na")
    check_rfc5545_lines(data)
    expected = {o["id"] + UID_SUFFIX for o in mine}
    q1_all = [o for o in agenda_year if o["due"] <= "2026-03-31"]
    assert 0 < len(expected) < len(q1_all)
    for parse in PARSERS.values():
        got = parse(data)
        assert Counter(e.uid for e in got.events) == Counter(expected)
        assert got.calname.endswith(" · 李娜")
    concerned = {
        o["id"] + UID_SUFFIX for o in q1_all if "li-na" in o["assignees"] or o["subject"] == "li-na"
    }
    assert expected == concerned


def test_empty_range_is_still_a_valid_calendar(tmp_path):
    with freeze_time(FROZEN):
        data = export(tmp_path / "none.ics", "--from", "2030-01-01", "--to", "2030-12-31")
    check_rfc5545_lines(data)
    for parse in PARSERS.values():
        got = parse(data)
        assert got.events == () and got.tzids == ("Asia/Shanghai",)


# --- hostile text ---------------------------------------------------------------------------

PLAN_TITLE = r'测试计划,甲;乙\丙 <script>alert("t")</script>'
ITEM_TITLE = r"条目,一;二\三 <b>粗</b>"
ROLE_NAME = r"书记,副书记;委员\组"
DUTY_TITLE = r'学习,研讨;总结\反思 <script>alert("x")</script> & “引号”'
SOURCE = r"原文,含逗号;含分号\含反斜杠 <script>"
PERSON = r"张,三;\四"


def yaml_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture
def hostile_plan(tmp_path) -> tuple[Path, Path]:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "plan.yaml").write_text(textwrap.dedent(f"""\
        plan:
          title: {yaml_quote(PLAN_TITLE)}
          year: 2026
          defaults:
            send_at: "09:00"
          items:
            1: {yaml_quote(ITEM_TITLE)}
        roles:
          sec: {yaml_quote(ROLE_NAME)}
        obligations:
          - id: hostile-duty
            item: 1
            title: {yaml_quote(DUTY_TITLE)}
            source: {yaml_quote(SOURCE)}
            every: once
            due: 2026-03-18
            owner: sec
            remind: [7d, 1d]
        """), encoding="utf-8")
    roster = folder / "roster.yaml"
    roster.write_text(textwrap.dedent(f"""\
        people:
          - id: zhang-san
            name: {yaml_quote(PERSON)}
            roles: [sec]
        """), encoding="utf-8")
    return folder, roster


def test_hostile_text_round_trips_exactly(hostile_plan, tmp_path):
    folder, roster = hostile_plan
    with freeze_time(FROZEN):
        data = export(tmp_path / "hostile.ics", *YEAR, schedules=folder, roster=roster)
    check_rfc5545_lines(data)
    # TEXT escaping (RFC 5545 3.3.11) happened on the wire...
    assert "学习\\,研讨\\;总结\\\\反思".encode() in data
    # ...and the trigger of "7 days before, at 09:00" relative to the all-day start.
    assert b"TRIGGER:-P6DT15H\r\n" in data and b"TRIGGER:-PT15H\r\n" in data
    for name, parse in PARSERS.items():
        got = parse(data)
        assert got.calname == PLAN_TITLE, name
        (event,) = got.events
        assert event.uid == "hostile-duty/2026-03-18@planbell", name
        assert event.summary == DUTY_TITLE, name
        assert f"原文:{SOURCE}\n" in event.description, name
        assert f"第 1 条:{ITEM_TITLE}\n" in event.description, name
        assert f"责任:{ROLE_NAME}({PERSON})" in event.description, name
        assert event.categories == (ROLE_NAME,), name
        assert event.dtstart == date(2026, 3, 18), name
        assert event.triggers == (timedelta(days=-7, hours=9), timedelta(days=-1, hours=9)), name


def test_the_calendar_is_written_as_icalendar_writes_it_whole(year_ics):
    """The frame (properties and time zone) is serialized once and the events go in before its
    END line: the bytes must be those icalendar writes for the whole calendar at once."""
    whole = icalendar.Calendar.from_ical(year_ics)
    assert whole.to_ical() == year_ics
    assert [c.name for c in whole.subcomponents][:2] == ["VTIMEZONE", "VEVENT"]
