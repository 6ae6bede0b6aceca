"""The CLI against PostgreSQL, as an office that runs several instances uses it: `planbell run`,
`simulate --deliver` (which crashed at its end on PostgreSQL), `status`, `done` and `ledger`;
and plain `simulate`, which runs the plan on a scratch database into a Maildir.

PostgreSQL on 127.0.0.1 (a fresh database per test, tests/conftest.py), a real SMTP server on
127.0.0.1, the small plan of tests/smallplan.py. `run` is a real process on a virtual clock
(tests/frozen_run.py); the other commands run in this process through the real entry point.
"""

from __future__ import annotations

import json
import mailbox
from collections import Counter
from datetime import date, time

from freezegun import freeze_time
from sqlalchemy import create_engine, select

from daemon.store.tables import MessageRow, OccurrenceRow
from tests.clirun import planbell_env, run_cli
from tests.daemonproc import Daemon, wait_until
from tests.instances import outbox
from tests.smallplan import MAIL_FROM, Mail, at, write_plan
from tests.test_daemon_year import expected_messages

MARCH = ("--from", "2026-03-01", "--to", "2026-03-31")


def cli(files, database_url: str, *args, **settings):
    return run_cli(*args, schedules=files.schedules, roster=files.roster, database_url=database_url,
                   digest="off", mail_from=MAIL_FROM, **settings)


def test_simulate_deliver_on_postgresql_sends_the_month_once_and_a_second_run_sends_nothing(
        tmp_path, smtp_server, postgres_url):
    files = write_plan(tmp_path)
    # An office live since January (without it, the database's first start on 1 March would make
    # everything due before March 上线前, and February's overdue reports would not be owed).
    smtp = dict(smtp_host="127.0.0.1", smtp_port=str(smtp_server.port), smtp_security="none",
                go_live="2026-01-01")
    first = cli(files, postgres_url, "simulate", *MARCH, "--deliver", **smtp)
    assert first.code == 0 and "Traceback" not in first.err, first.err
    again = cli(files, postgres_url, "simulate", *MARCH, "--deliver", **smtp)
    assert again.code == 0, again.err

    mails = [Mail.parse(r.raw) for r in smtp_server.received]
    # The month's messages, and before them the backlog since 1 January (delivered late: the
    # configured database is the real one, not a scratch one that goes live on --from).
    keys = Counter(m.key for m in mails)
    assert max(keys.values()) == 1
    march = {m.key: m.occurrences for m in mails if m.day and m.day >= date(2026, 3, 1)}
    assert march == expected_messages(date(2026, 3, 1), date(2026, 3, 31), {})
    assert f"发送 {len(mails)} 封" in first.out
    assert "发送 0 封" in again.out
    assert {row.status for row in outbox(postgres_url, MessageRow.key.in_(list(keys)))} == {"sent"}


def test_status_done_and_ledger_on_postgresql(tmp_path, postgres_url):
    files = write_plan(tmp_path)
    live = {"go_live": "2026-01-01"}  # an office live since January: February's report is overdue
    with freeze_time(at(date(2026, 3, 26), time(15, 0))):
        status = cli(files, postgres_url, "status", **live)
        done = cli(files, postgres_url, "done", "monthly-report/2026-03", "--by", "li-na", "--note", "已报送", **live)
        twice = cli(files, postgres_url, "done", "monthly-report/2026-03", "--by", "li-na", **live)
        status_after = cli(files, postgres_url, "status", **live)
        ledger = cli(files, postgres_url, "ledger", "--year", "2026", "--out", tmp_path / "ledger.json", **live)
    for result in (status, done, twice, status_after, ledger):
        assert result.code == 0 and "Traceback" not in result.err, result.err

    def line(result, label):
        return next(x.split(None, 1)[1] for x in result.out.splitlines() if x.startswith(label))

    open_before = int(line(status, "未完成事项").split("(")[0])
    assert int(line(status_after, "未完成事项").split("(")[0]) == open_before - 1
    assert done.out.strip() == "已销号:月度工作报告(monthly-report/2026-03),截止 2026年3月25日 周三,逾期 1 天。"
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        row = connection.execute(select(OccurrenceRow).where(OccurrenceRow.id == "monthly-report/2026-03")).one()
    engine.dispose()
    assert (row.status, row.done_by, row.note) == ("done", "li-na", "已报送")
    # Its overdue reminders and escalation are cancelled; nothing else of it is waiting.
    assert not [m for m in outbox(postgres_url, MessageRow.status == "pending")
                if any(i.get("occurrence") == "monthly-report/2026-03" for i in m.content.get("items", ()))]
    exported = json.loads((tmp_path / "ledger.json").read_text(encoding="utf-8"))
    by_id = {o["id"]: o for o in exported["occurrences"]}
    assert by_id["monthly-report/2026-03"]["status"] == "done"
    assert by_id["monthly-report/2026-03"]["days_late"] == 1
    assert by_id["monthly-report/2026-02"]["status"] == "overdue"


def test_planbell_run_on_postgresql_sends_what_falls_due_and_stops_on_sigterm(tmp_path, smtp_server, postgres_url):
    files = write_plan(tmp_path)
    env = planbell_env(files.schedules, files.roster, database_url=postgres_url, digest="off",
                       smtp_host="127.0.0.1", smtp_port=str(smtp_server.port), smtp_security="none",
                       mail_from=MAIL_FROM, maildir=str(tmp_path / "maildir"))
    # Planned at 08:00 on Wednesday 25 March (the report's due day) by a CLI command; the
    # daemon starts on a virtual clock at 09:00 and sends what is due.
    with freeze_time(at(date(2026, 3, 25), time(8, 0))):
        assert cli(files, postgres_url, "status").code == 0
    daemon = Daemon(at(date(2026, 3, 25)), env, tmp_path / "run.log", tmp_path)
    try:
        daemon.wait_for("planbell ready", within=60)
        try:
            wait_until(lambda: not outbox(postgres_url, MessageRow.status.in_(("pending", "sending")),
                                            MessageRow.send_at <= at(date(2026, 3, 25))),
                       within=30, what="the 09:00 messages recorded as sent")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{daemon.tail()}") from None
        assert daemon.stop() == 0, daemon.tail()
    finally:
        daemon.kill()
    mails = [Mail.parse(r.raw) for r in smtp_server.received]
    assert {m.key: m.occurrences for m in mails} == expected_messages(date(2026, 3, 25), date(2026, 3, 25), {})
    assert "Traceback" not in (tmp_path / "run.log").read_text(encoding="utf-8")


def test_plain_simulate_writes_the_plan_into_a_maildir_from_a_scratch_database(tmp_path):
    files = write_plan(tmp_path)
    configured = tmp_path / "configured.db"
    out = tmp_path / "sim"
    result = cli(files, f"sqlite:///{configured}", "simulate", *MARCH, "--out", out)
    assert result.code == 0 and "Traceback" not in result.err, result.err

    mails = [Mail.parse(message.as_bytes()) for message in mailbox.Maildir(out, create=False)]
    # Exactly the month, as if the service went live on 1 March: nothing of the backlog (what fell
    # due before it is 上线前, so not even February's overdue report), each message once, on time.
    assert Counter(m.key for m in mails).most_common(1)[0][1] == 1
    expected = {key: {o for o in occurrences if not o.endswith(("/2026-01", "/2026-02"))}
                for key, occurrences in expected_messages(date(2026, 3, 1), date(2026, 3, 31), {}).items()}
    assert {m.key: m.occurrences for m in mails} == {key: o for key, o in expected.items() if o}
    assert all("迟发" not in m.subject for m in mails)
    assert f"发送 {len(mails)} 封" in result.out and str(out) in result.out
    # The configured database was not used, and the scratch one is gone.
    assert not configured.exists()
