"""The whole daemon through a year of 2026, day by day, and across restarts.

The real pipeline (sync, reminder planning, outbox, dispatcher, templates, SmtpNotifier) runs
on a SQLite file against a real SMTP server on 127.0.0.1, under a frozen clock moved to each
day's send time. What the server receives is parsed with the stdlib and compared with the
messages the plan calls for, worked out below from the rules, not from the daemon's code.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as clock_time

from freezegun import freeze_time
from sqlalchemy import select

from daemon.plan.model import CalendarSpec
from daemon.plan.workdays import WorkdayCalendar
from daemon.store.tables import MessageRow
from tests.smallplan import (
    EMAILS,
    SEND_AT,
    at,
    days,
    is_workday,
    make_service,
    next_workday,
    previous_workday,
    received,
    run_days,
    stop,
    write_plan,
)

YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)


# --- what the plan calls for, from the rules ---------------------------------------------------


@dataclass(frozen=True)
class Duty:
    id: str
    opens: date
    due: date  # after moving off days off, worked out by hand
    assignee: str
    remind: tuple[int, ...]
    escalate_after: int | None = None


# The 25th, or the working day before it: Jan 25 and Oct 25 are Sundays, Apr 25 and Jul 25
# Saturdays, Sep 25 is the Mid-Autumn Festival.
MONTHLY_DUE = {1: 23, 2: 25, 3: 25, 4: 24, 5: 25, 6: 25, 7: 24, 8: 25, 9: 24, 10: 23, 11: 25, 12: 25}
# The 20th of the quarter's last month: Jun 20 is a Saturday and Jun 19 the Dragon Boat
# Festival; Sep 20 is a Sunday but a working day (调休 for National Day); Dec 20 a Sunday.
QUARTERLY_DUE = {1: date(2026, 3, 20), 2: date(2026, 6, 18), 3: date(2026, 9, 20), 4: date(2026, 12, 18)}

DUTIES = (
    *(Duty(f"monthly-report/2026-{m:02d}", date(2026, m, 1), date(2026, m, d), "li-na", (7, 1), 3)
      for m, d in MONTHLY_DUE.items()),
    *(Duty(f"quarterly-meeting/2026-Q{q}", date(2026, 3 * q - 2, 1), due, "zhang-wei", (7,))
      for q, due in QUARTERLY_DUE.items()),
    # Due on National Day: moved to Sep 30; a once duty opens a week (its longest lead) before.
    Duty("national-day-review/2026-10-01", date(2026, 9, 23), date(2026, 9, 30), "li-na", (7, 1)),
    *(Duty(f"heart-talks/2026-{half}/{member}", start, due, "chen-jing", (7, 1))
      for half, start, due in (("H1", date(2026, 1, 1), date(2026, 6, 30)),
                               ("H2", date(2026, 7, 1), date(2026, 12, 31)))
      for member in ("li-na", "zhang-wei")),  # chen-jing does not talk with herself
)

# occurrence → the day it is checked off, in the afternoon.
CHECK_OFFS = {
    "monthly-report/2026-05": date(2026, 5, 19),  # after the 7-day reminder, before the rest
    "heart-talks/2026-H1/li-na": date(2026, 6, 24),  # the other talk of the bundle goes on
    "quarterly-meeting/2026-Q3": date(2026, 9, 21),  # one day overdue
    "national-day-review/2026-10-01": date(2026, 9, 30),  # on its due day
    "monthly-report/2026-10": date(2026, 10, 26),  # on the day it was escalated
}


def stages(duty: Duty) -> list[tuple[str, date]]:
    """What the design says an occurrence calls for: an opening notice on the first working
    day it is open, each lead-time reminder on the working day on or before due - N (when
    that falls between opening and due), the due day, overdue reminders on the next working
    day and then weekly, three in all."""
    opened = min(next_workday(duty.opens), duty.due)
    out = [("open", opened)]
    for lead in duty.remind:
        day = previous_workday(duty.due - timedelta(days=lead))
        if opened < day < duty.due:
            out.append((f"remind-{lead}d", day))
    out.append(("due", duty.due))
    day = duty.due
    for n, step in enumerate((1, 7, 7), start=1):
        if day + timedelta(days=step) > YEAR_END:
            break  # the test drives 2026 only (and knows only its calendar)
        day = next_workday(day + timedelta(days=step))
        out.append((f"overdue-{n}", day))
    return out


def escalation_day(duty: Duty) -> date | None:
    """The first working day on or after due + the grace period."""
    if duty.escalate_after is None or duty.due + timedelta(days=duty.escalate_after) > YEAR_END:
        return None
    return next_workday(duty.due + timedelta(days=duty.escalate_after))


def expected_items(first: date, last: date, check_offs=CHECK_OFFS) -> dict[str, list[tuple[str, str]]]:
    """key → what every message due on a day in [first, last] says: one per person, day and
    kind, listing what is still open that morning as (occurrence, the words of its stage), in
    the order of their due dates."""
    out: dict[str, list[tuple[Duty, str, date]]] = {}

    def add(kind: str, person: str, day: date, duty: Duty, stage: str) -> None:
        done = check_offs.get(duty.id)
        if first <= day <= last and (done is None or day <= done):
            out.setdefault(f"{kind}:{person}:{day.isoformat()}:email", []).append((duty, stage, day))

    for duty in DUTIES:
        for stage, day in stages(duty):
            add("reminder", duty.assignee, day, duty, stage)
        escalation = escalation_day(duty)
        if escalation:
            add("escalation", "zhang-wei", escalation, duty, "escalation")  # the one `secretary`
    return {key: [(duty.id, stage_words(stage, (duty.due - day).days))
                  for duty, stage, day in sorted(items, key=lambda i: (i[0].due, i[0].id))]
            for key, items in out.items()}


def stage_words(stage: str, days_left: int) -> str:
    """How a message words an item's stage, days_left days before its due date."""
    if stage == "open":
        return "新开始,今天到期" if days_left == 0 else "新开始"
    if stage.startswith("remind-"):
        return f"还有 {days_left} 天到期"
    if stage == "due":
        return "今天到期"
    return f"已逾期 {-days_left} 天"  # overdue-n, escalation


def expected_messages(first: date, last: date, check_offs=CHECK_OFFS) -> dict[str, frozenset[str]]:
    """key → occurrences of every message due on a day in [first, last]."""
    return {key: frozenset(o for o, _ in items) for key, items in expected_items(first, last, check_offs).items()}


# An item of a message's text: "1. 标题" … "【还有 7 天到期】截止 …" … and its first button as an
# address, "已完成,去销号:http://…/act/TOKEN" (a report's is "填报进度:…").
ITEM = re.compile(r"^\d+\. .*\n   【(?P<words>[^】]+)】截止 .*\n(?:   .*\n)*?   (?:已完成,去销号|填报进度):\S+/act/(?P<token>\S+)$",
                  re.MULTILINE)


def occurrence_of(token: str) -> str:
    """The duty a button's token names (its payload, read without the key: the signature has
    tests of its own, in tests/test_web_actions.py)."""
    payload = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[1]


def items_of(text: str) -> list[tuple[str, str]]:
    """What a received message lists, in its order: (occurrence, the words of its stage)."""
    return [(occurrence_of(m["token"]), m["words"]) for m in ITEM.finditer(text.replace("\r\n", "\n"))]


def test_the_hand_written_2026_calendar_is_the_one_the_daemon_uses():
    calendar = WorkdayCalendar(CalendarSpec("CN"))
    assert [d for d in days(YEAR_START, YEAR_END) if calendar.is_workday(d) != is_workday(d)] == []
    assert sum(map(is_workday, days(YEAR_START, YEAR_END))) == 248  # 261 weekdays - 19 + 6


# --- the year ----------------------------------------------------------------------------------


def test_a_year_of_2026_delivers_exactly_the_planned_reminders_on_working_days(tmp_path, smtp_server):
    started = time.perf_counter()
    files = write_plan(tmp_path)
    with freeze_time(at(YEAR_START, clock_time(0, 0))) as frozen:
        service = make_service(files, smtp_server.port)
        service.start(at(YEAR_START, clock_time(0, 0)))
        totals = run_days(service, frozen, YEAR_START, YEAR_END, CHECK_OFFS)
    mails = received(smtp_server)
    elapsed = time.perf_counter() - started
    print(f"\n2026 day by day: {len(mails)} messages in {elapsed:.1f} s")

    # No key delivered twice, and exactly what the plan calls for.
    keys = Counter(m.key for m in mails)
    assert [k for k, n in keys.items() if n > 1] == []
    assert {m.key: m.occurrences for m in mails} == expected_messages(YEAR_START, YEAR_END)
    assert totals == Counter(sent=len(mails))  # nothing failed, retried, skipped or expired
    # And what each says: every duty once, at the stage the rules put it, in due-date order.
    said = {m.key: items_of(m.text) for m in mails}
    expected = expected_items(YEAR_START, YEAR_END)
    assert [k for k in expected if said[k] != expected[k]] == [], \
        next((k, said[k], expected[k]) for k in expected if said[k] != expected[k])

    for m in mails:
        # On time, at the plan's hour, on a working day of the official 2026 calendar.
        assert m.sent.date() == m.day and m.sent.time() == SEND_AT, m.key
        assert is_workday(m.sent.date()), m.key
        assert m.kind == m.key.split(":")[0] and m.to == EMAILS[m.person], m.key
        assert "迟发" not in m.subject, m.key
        # Nothing about an occurrence after the day it was checked off.
        for occurrence in m.occurrences:
            assert occurrence not in CHECK_OFFS or m.day <= CHECK_OFFS[occurrence], m.key
    assert not [m for m in mails if m.person == "xu-li"]  # the admin had nothing to hear

    # March's report, worked out by hand: opens Monday 2 March (1 March is a Sunday), due
    # Wednesday the 25th; overdue the next working day, then weekly.
    march = {m.day: m for m in mails if "monthly-report/2026-03" in m.occurrences and m.kind == "reminder"}
    assert sorted(march) == [date(2026, 3, 2), date(2026, 3, 18), date(2026, 3, 24), date(2026, 3, 25),
                             date(2026, 3, 26), date(2026, 4, 2), date(2026, 4, 9)]
    assert {m.person for m in march.values()} == {"li-na"}
    words = {date(2026, 3, 2): "新开始", date(2026, 3, 18): "还有 7 天到期",
             date(2026, 3, 24): "还有 1 天到期", date(2026, 3, 25): "今天到期",
             date(2026, 3, 26): "已逾期 1 天", date(2026, 4, 2): "已逾期 8 天", date(2026, 4, 9): "已逾期 15 天"}
    for day, phrase in words.items():
        assert "月度工作报告" in march[day].text and phrase in march[day].text, (day, march[day].text)

    # Escalation to the secretary on the first working day at least 3 days after due: Mar 28
    # is a Saturday → Monday 30 March; Feb 28 is a Saturday but a working day (调休).
    escalations = {m.day: m.occurrences for m in mails if m.kind == "escalation"}
    assert {m.person for m in mails if m.kind == "escalation"} == {"zhang-wei"}
    assert escalations == {
        date(2026, 1, 26): {"monthly-report/2026-01"},
        date(2026, 2, 28): {"monthly-report/2026-02"},
        date(2026, 3, 30): {"monthly-report/2026-03"},
        date(2026, 4, 27): {"monthly-report/2026-04"},
        # May's report was checked off on the 19th: no escalation on the 28th.
        date(2026, 6, 29): {"monthly-report/2026-06"},
        date(2026, 7, 27): {"monthly-report/2026-07"},
        date(2026, 8, 28): {"monthly-report/2026-08"},
        date(2026, 9, 28): {"monthly-report/2026-09"},  # Sep 25–27: festival and weekend
        date(2026, 10, 26): {"monthly-report/2026-10"},
        date(2026, 11, 30): {"monthly-report/2026-11"},
        date(2026, 12, 28): {"monthly-report/2026-12"},
    }

    # The once duty, due on National Day, moved to Wednesday 30 September and checked off
    # that afternoon: opened a week before, reminded the day before, nothing afterwards.
    review = sorted(m.day for m in mails if "national-day-review/2026-10-01" in m.occurrences)
    assert review == [date(2026, 9, 23), date(2026, 9, 29), date(2026, 9, 30)]

    # The half-yearly talks: one message per day for both talks of the branch secretary;
    # after Li Na's talk was checked off on 24 June only Zhang Wei's is left in them.
    talks = {m.day: m.occurrences for m in mails if m.person == "chen-jing" and m.day.month <= 7}
    assert talks == {
        date(2026, 1, 4): {"heart-talks/2026-H1/li-na", "heart-talks/2026-H1/zhang-wei"},
        date(2026, 6, 23): {"heart-talks/2026-H1/li-na", "heart-talks/2026-H1/zhang-wei"},
        date(2026, 6, 29): {"heart-talks/2026-H1/zhang-wei"},
        date(2026, 6, 30): {"heart-talks/2026-H1/zhang-wei"},
        date(2026, 7, 1): {"heart-talks/2026-H1/zhang-wei", "heart-talks/2026-H2/li-na",
                           "heart-talks/2026-H2/zhang-wei"},
        date(2026, 7, 8): {"heart-talks/2026-H1/zhang-wei"},
        date(2026, 7, 15): {"heart-talks/2026-H1/zhang-wei"},
    }


# --- restarts ----------------------------------------------------------------------------------


def test_restart_after_a_week_down_delivers_each_missed_reminder_once_marked_late(tmp_path, smtp_server):
    files = write_plan(tmp_path)
    with freeze_time(at(YEAR_START, clock_time(0, 0))) as frozen:
        service = make_service(files, smtp_server.port)
        service.start(at(YEAR_START, clock_time(0, 0)))
        run_days(service, frozen, YEAR_START, date(2026, 3, 27))
        stop(service)
        before = len(smtp_server.received)

        # Back seven days later, at 08:00 on Friday 3 April: 28 March – 2 April were missed.
        back = at(date(2026, 4, 3), clock_time(8, 0))
        frozen.move_to(back)
        service = make_service(files, smtp_server.port)
        service.start(back)
        stats = service.dispatch(back)
        late = received(smtp_server)[before:]
        service.dispatch(back + timedelta(minutes=1))  # the next wake-up finds nothing left
        run_days(service, frozen, date(2026, 4, 3), date(2026, 4, 10))

    missed = expected_messages(date(2026, 3, 28), date(2026, 4, 2), {})
    assert missed == {
        "escalation:zhang-wei:2026-03-30:email": {"monthly-report/2026-03"},
        "reminder:zhang-wei:2026-03-30:email": {"quarterly-meeting/2026-Q1"},  # overdue
        "reminder:li-na:2026-04-01:email": {"monthly-report/2026-04"},  # opens
        "reminder:zhang-wei:2026-04-01:email": {"quarterly-meeting/2026-Q2"},  # opens
        "reminder:li-na:2026-04-02:email": {"monthly-report/2026-03"},  # overdue
    }
    assert {m.key: m.occurrences for m in late} == missed
    assert (stats.sent, stats.late, stats.expired) == (5, 5, 0)
    with service.sessions() as session:  # and in the outbox, for `planbell status` and the ledger of sends
        flagged = dict(session.execute(select(MessageRow.key, MessageRow.late).where(MessageRow.key.in_(missed))).all())
    assert flagged == dict.fromkeys(missed, True)
    for m in late:
        # Marked late in the subject, and the text says when it was due to go out.
        assert "迟发" in m.subject, m.subject
        assert "迟发" in m.text and f"{m.day.isoformat()} 09:00" in m.text, m.text
        assert m.sent == back.astimezone(m.sent.tzinfo)

    mails = received(smtp_server)
    assert max(Counter(m.key for m in mails).values()) == 1
    assert {m.key: m.occurrences for m in mails} == expected_messages(YEAR_START, date(2026, 4, 10), {})
    on_time = [m for m in mails if m.day >= date(2026, 4, 3)]
    assert on_time and all("迟发" not in m.subject and m.sent.date() == m.day for m in on_time)


def test_downtime_longer_than_the_horizon_expires_old_reminders_and_alerts_the_admin_once(
        tmp_path, smtp_server):
    files = write_plan(tmp_path)
    with freeze_time(at(YEAR_START, clock_time(0, 0))) as frozen:
        service = make_service(files, smtp_server.port)
        service.start(at(YEAR_START, clock_time(0, 0)))
        run_days(service, frozen, YEAR_START, date(2026, 3, 17))
        stop(service)
        before = len(smtp_server.received)

        # Back at 08:00 on 10 April, 23 days later: the horizon is 7 days, so what was due
        # before 08:00 on 3 April is expired, what was due since is sent late.
        back = at(date(2026, 4, 10), clock_time(8, 0))
        frozen.move_to(back)
        service = make_service(files, smtp_server.port)
        service.start(back)
        first = service.dispatch(back)
        for minutes in (1, 2, 3):  # the sweep wakes it again: no second alert
            service.dispatch(back + timedelta(minutes=minutes))
        after_restart = received(smtp_server)[before:]
        run_days(service, frozen, date(2026, 4, 10), date(2026, 4, 30))

    expired = expected_messages(date(2026, 3, 18), date(2026, 4, 2), {})
    sent_late = expected_messages(date(2026, 4, 3), date(2026, 4, 9), {})
    assert sorted(expired) == [
        "escalation:zhang-wei:2026-03-30:email",
        *(f"reminder:li-na:2026-{d}:email" for d in ("03-18", "03-24", "03-25", "03-26", "04-01", "04-02")),
        *(f"reminder:zhang-wei:2026-{d}:email" for d in ("03-20", "03-23", "03-30", "04-01")),
    ]
    assert sorted(sent_late) == ["reminder:li-na:2026-04-09:email", "reminder:zhang-wei:2026-04-07:email"]
    assert (first.expired, first.late) == (11, 2)

    [alert] = [m for m in after_restart if m.kind == "admin"]
    assert alert.person == "xu-li" and alert.to == EMAILS["xu-li"]
    assert alert.key == "admin:expired:2026-04-10:xu-li:email"
    assert "停机期间有 11 条提醒过期未发" in alert.subject
    assert "11 条" in alert.text and "2026-03-18" in alert.text  # how many, since when
    assert {m.key: m.occurrences for m in after_restart if m.kind != "admin"} == sent_late
    assert all("迟发" in m.subject and "迟发" in m.text for m in after_restart if m.kind != "admin")

    mails = received(smtp_server)
    assert max(Counter(m.key for m in mails).values()) == 1
    assert not set(expired) & {m.key for m in mails}  # never sent, not even later
    assert len([m for m in mails if m.kind == "admin"]) == 1
    with service.sessions() as session:
        statuses = dict(session.execute(select(MessageRow.key, MessageRow.status)
                                        .where(MessageRow.key.in_(expired))).all())
    assert statuses == dict.fromkeys(expired, "expired")
    assert {m.key for m in mails} == {*expected_messages(YEAR_START, date(2026, 3, 17), {}), *sent_late,
                                      *expected_messages(date(2026, 4, 10), date(2026, 4, 30), {}), alert.key}
