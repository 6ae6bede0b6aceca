"""Hot reload: a good edit of the schedule is applied to the running service, a bad one is
refused whole — the last good schedule keeps running, the error is recorded with its
FILE:LINE, and the admins hear about it once.

Most tests drive Service.reload(now) directly; one runs the real `planbell run` process and
watches its log.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from freezegun import freeze_time
from sqlalchemy import select

from daemon.store.state import get_state
from daemon.store.tables import MessageRow, OccurrenceRow
from tests.clirun import ROOT, planbell_env
from tests.daemonproc import FROZEN_RUN
from tests.smallplan import (
    AFTERNOON,
    EMAILS,
    PLAN_YAML,
    at,
    make_service,
    received,
    run_days,
    write_plan,
)

YEAR_START = date(2026, 1, 1)
MONTHLY_DUE = "    due: {day: 25}\n"
# The monthly report's due day moved from the 25th to the 20th.
EDITED_YAML = PLAN_YAML.replace(MONTHLY_DUE, "    due: {day: 20}\n", 1)
# A misspelt key (same length, as typos are): refused whole.
MISSPELT = "    remnid: [7d, 1d]\n    escalate: {after"
BROKEN_YAML = PLAN_YAML.replace("    remind: [7d, 1d]\n    escalate: {after", MISSPELT, 1)
BROKEN_LINE = BROKEN_YAML[: BROKEN_YAML.index(MISSPELT)].count("\n") + 1


def test_the_edits_used_here_are_what_they_claim():
    assert EDITED_YAML != PLAN_YAML and BROKEN_YAML != PLAN_YAML
    assert BROKEN_YAML.splitlines()[BROKEN_LINE - 1] == "    remnid: [7d, 1d]"


def messages(service) -> dict[str, MessageRow]:
    with service.sessions() as session:
        return {row.key: row for row in session.scalars(select(MessageRow))}


def dues(service) -> dict[str, date]:
    with service.sessions() as session:
        return dict(session.execute(select(OccurrenceRow.id, OccurrenceRow.due)).all())


def state(service) -> dict[str, str]:
    with service.sessions() as session:
        return {key: row.value for key, row in get_state(session).items()}


def running_until(files, smtp_server, last: date, check_offs=None):
    """A service started on 1 January and run day by day until ``last``."""
    service = make_service(files, smtp_server.port)
    service.start(at(YEAR_START, AFTERNOON.replace(hour=0)))
    run_days(service, None, YEAR_START, last, check_offs)
    return service


# --- direct ------------------------------------------------------------------------------------


def test_a_valid_edit_moves_due_dates_and_reschedules_pending_reminders_but_not_sent_ones(
        tmp_path, smtp_server):
    files = write_plan(tmp_path)
    # January's and February's reports were done, so only March on is open when the edit comes.
    service = running_until(files, smtp_server, date(2026, 3, 10), {
        "monthly-report/2026-01": date(2026, 1, 22), "monthly-report/2026-02": date(2026, 2, 24)})
    before = messages(service)
    sent = {k: (r.sent_at, r.content) for k, r in before.items() if r.status == "sent"}
    assert "reminder:li-na:2026-03-02:email" in sent  # March's report opened under the old rule
    old_version = service.schedule.version

    files.plan.write_text(EDITED_YAML, encoding="utf-8")
    edit = at(date(2026, 3, 10), AFTERNOON)
    with freeze_time(edit):
        assert service.reload(edit) is True
        assert service.reload(edit + timedelta(seconds=2)) is False  # nothing new the next poll

    assert service.schedule.version != old_version
    assert state(service)["schedule_version"] == service.schedule.version
    assert state(service)["last_reload_error"] == ""
    due = dues(service)
    assert due["monthly-report/2026-03"] == date(2026, 3, 20)
    assert due["monthly-report/2026-04"] == date(2026, 4, 20)
    assert due["monthly-report/2026-12"] == date(2026, 12, 18)  # the 20th is a Sunday
    assert due["monthly-report/2026-02"] == date(2026, 2, 25)  # done: history is not rewritten
    assert due["quarterly-meeting/2026-Q1"] == date(2026, 3, 20)  # not edited

    after = messages(service)
    assert {k: (after[k].status, after[k].sent_at, after[k].content) for k in sent} == {
        k: ("sent", *v) for k, v in sent.items()}
    # March's report, now due Friday the 20th: what was pending for the 25th is cancelled,
    # the reminders of the 20th are pending.
    for key in ("reminder:li-na:2026-03-18:email", "reminder:li-na:2026-03-24:email",
                "reminder:li-na:2026-03-25:email", "reminder:li-na:2026-03-26:email",
                "escalation:zhang-wei:2026-03-30:email"):
        assert before[key].status == "pending" and after[key].status == "cancelled", key
    for key in ("reminder:li-na:2026-03-13:email", "reminder:li-na:2026-03-19:email",
                "reminder:li-na:2026-03-20:email", "reminder:li-na:2026-03-23:email",
                "escalation:zhang-wei:2026-03-23:email"):
        assert key not in before and after[key].status == "pending", key
        assert after[key].send_at == at(date.fromisoformat(key.split(":")[2])), key

    already = len(smtp_server.received)
    run_days(service, None, date(2026, 3, 11), date(2026, 4, 10))
    march = [m for m in received(smtp_server)[already:] if "monthly-report/2026-03" in m.occurrences]
    assert sorted((m.day, m.kind) for m in march) == [
        (date(2026, 3, 13), "reminder"), (date(2026, 3, 19), "reminder"), (date(2026, 3, 20), "reminder"),
        (date(2026, 3, 23), "escalation"), (date(2026, 3, 23), "reminder"),
        (date(2026, 3, 30), "reminder"), (date(2026, 4, 7), "reminder"),  # 6 April is Qingming
    ]
    assert all("迟发" not in m.subject for m in march)


def test_a_bad_edit_keeps_the_running_schedule_records_the_error_and_alerts_the_admin_once(
        tmp_path, smtp_server):
    files = write_plan(tmp_path)
    service = running_until(files, smtp_server, date(2026, 3, 10))
    version = service.schedule.version
    already = len(smtp_server.received)

    files.plan.write_text(BROKEN_YAML, encoding="utf-8")
    edit = at(date(2026, 3, 10), AFTERNOON)
    # The daemon polls every 2 s; meanwhile the admin saves the file again, still broken the
    # same way (a blank line added at the end: other bytes, the same error).
    for poll in range(30):
        now = edit + timedelta(seconds=2 * poll)
        if poll % 10 == 5:
            files.plan.write_text(BROKEN_YAML + "\n" * (poll // 10 + 1), encoding="utf-8")
        assert service.reload(now) is False
        service.dispatch(now)

    where = f"{files.plan}:{BROKEN_LINE}"
    assert service.schedule.version == version
    error = state(service)["last_reload_error"]
    assert error.startswith(f"{where}: obligations[0].remnid:") and "'remind'" in error
    alerts = received(smtp_server)[already:]
    assert [(m.kind, m.person, m.to) for m in alerts] == [("admin", "xu-li", EMAILS["xu-li"])]
    assert "日程修改有误,仍在使用上一个正确版本" in alerts[0].subject
    assert where in alerts[0].text and version in alerts[0].text

    # The old schedule keeps running: March's report is still due on the 25th.
    run_days(service, None, date(2026, 3, 11), date(2026, 3, 18))
    for poll in range(5):
        assert service.reload(at(date(2026, 3, 18), AFTERNOON) + timedelta(seconds=2 * poll)) is False
    march = [m.key for m in received(smtp_server) if "monthly-report/2026-03" in m.occurrences]
    assert march == ["reminder:li-na:2026-03-02:email", "reminder:li-na:2026-03-18:email"]
    assert dues(service)["monthly-report/2026-03"] == date(2026, 3, 25)

    # Fixed (with the due day moved, as the admin meant): applied, and the error is cleared.
    files.plan.write_text(EDITED_YAML, encoding="utf-8")
    fixed = at(date(2026, 3, 18), AFTERNOON) + timedelta(seconds=30)
    assert service.reload(fixed) is True
    service.dispatch(fixed)
    assert service.schedule.version != version
    assert state(service)["last_reload_error"] == ""
    assert dues(service)["monthly-report/2026-03"] == date(2026, 3, 20)
    assert len([m for m in received(smtp_server) if m.kind == "admin"]) == 1


def test_undoing_a_bad_edit_resumes_the_running_schedule_and_clears_the_error(tmp_path, smtp_server):
    files = write_plan(tmp_path)
    service = running_until(files, smtp_server, date(2026, 3, 10))
    version = service.schedule.version
    edit = at(date(2026, 3, 10), AFTERNOON)

    files.plan.write_text(BROKEN_YAML, encoding="utf-8")
    assert service.reload(edit) is False
    assert state(service)["last_reload_error"].startswith(f"{files.plan}:{BROKEN_LINE}:")

    # The admin puts the file back as it was (same bytes as the running version).
    files.plan.write_text(PLAN_YAML, encoding="utf-8")
    assert service.reload(edit + timedelta(seconds=2)) is True
    assert service.schedule.version == version
    assert state(service)["last_reload_error"] == ""


def test_a_same_size_fix_saved_within_one_timestamp_tick_is_still_noticed(tmp_path, smtp_server):
    files = write_plan(tmp_path)
    service = running_until(files, smtp_server, date(2026, 1, 5))
    edit = at(date(2026, 1, 5), AFTERNOON)
    files.plan.write_text(BROKEN_YAML, encoding="utf-8")
    assert service.reload(edit) is False
    stamp = files.plan.stat().st_mtime_ns

    # "remnid" → "remind" is the same size; on a coarse-timestamp filesystem (or within the
    # kernel's few-ms tick) the save keeps the same mtime too.
    fixed = PLAN_YAML.replace(MONTHLY_DUE, "    due: {day: 21}\n", 1)
    assert len(fixed.encode()) == len(BROKEN_YAML.encode())
    files.plan.write_text(fixed, encoding="utf-8")
    os.utime(files.plan, ns=(stamp, stamp))

    assert service.reload(edit + timedelta(seconds=2)) is True
    assert dues(service)["monthly-report/2026-03"] == date(2026, 3, 20)  # the 21st is a Saturday
    assert state(service)["last_reload_error"] == ""


# --- end to end: the real process --------------------------------------------------------------


class Log:
    """The process's combined output, read line by line in a thread so a test can wait for a
    line with a deadline (no fixed sleeps)."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, within: float) -> str:
        deadline = time.monotonic() + within
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"the process ended before logging {text!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} within {within} s:\n" + "\n".join(self.lines))


def save(path: Path, text: str) -> None:
    """Save as editors do (write a new file, rename it over the old): the polling daemon never
    reads a half-written file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def planbell_command() -> list[str]:
    """`planbell run` on a virtual clock from a fixed instant (tests/frozen_run.py): Tuesday
    10 March 2026, 15:00 in Shanghai, whatever the machine's date."""
    return [sys.executable, str(FROZEN_RUN), at(date(2026, 3, 10), AFTERNOON).isoformat(), "run"]


def test_planbell_run_applies_an_edit_within_5_s_refuses_a_bad_one_and_stops_on_sigterm(tmp_path):
    files = write_plan(tmp_path)
    env = planbell_env(files.schedules, files.roster, database_url=f"sqlite:///{files.database}",
                       maildir=str(tmp_path / "maildir"), log_level="INFO")
    process = subprocess.Popen(planbell_command(), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               encoding="utf-8")
    try:
        log = Log(process.stdout)
        log.wait_for("planbell ready", within=60)

        save(files.plan, EDITED_YAML)
        edited = time.monotonic()
        line = log.wait_for("日程已重新加载", within=5)
        print(f"\nedit applied after {time.monotonic() - edited:.1f} s: {line}")

        save(files.plan, BROKEN_YAML)
        line = log.wait_for("日程修改有误,未生效", within=5)
        assert f"{files.plan}:{BROKEN_LINE}: obligations[0].remnid" in line
        log.wait_for("继续使用上一个正确版本", within=5)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        log.wait_for("planbell stopped", within=5)
        assert not [line for line in log.lines if "Traceback" in line]
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
