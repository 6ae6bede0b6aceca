"""Two workbench instances, each its own process, on one PostgreSQL database behind an imagined
load balancer: the same 销号 link posted to both at the same instant checks the duty off once,
and the slower answer says who did it and when."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from daemon.links import Links
from daemon.service import Service
from daemon.store.db import make_engine, sessions
from daemon.store.tables import AuditRow, OccurrenceRow
from daemon.web.auth import COOKIE
from notifiers.factory import all_notifiers
from tests.clirun import ROOT, planbell_env
from tests.instances import settings_from

INSTANCE = Path(__file__).with_name("web_instance.py")
NOW = datetime(2026, 3, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SECRET = "two-instances-share-this-key-2026"
DUTIES = ("first-topic-study/2026-03", "branch-work-inspection/2026-03", "monthly-assessment/2026-03")


def start_instance(env: dict[str, str], folder: Path, name: str) -> tuple[subprocess.Popen, str]:
    log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen([sys.executable, str(INSTANCE), NOW.isoformat()], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    line = process.stdout.readline().strip()
    assert line.isdigit(), f"{name} did not start: {(folder / f'{name}.log').read_text()[-2000:]}"
    return process, f"http://127.0.0.1:{line}"


def race(urls: list[str], link_path: str, csrf: str, notes: list[str]) -> list[httpx.Response]:
    """POST the same form to every instance at once (a barrier releases the threads together)."""
    barrier = threading.Barrier(len(urls))
    answers: list[httpx.Response | None] = [None] * len(urls)

    def post(index: int) -> None:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            answers[index] = client.post(urls[index] + link_path, data={"csrf": csrf, "note": notes[index]})

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_the_same_link_posted_to_two_instances_at_once_checks_off_once(postgres_url, tmp_path):
    env = planbell_env(database_url=postgres_url, secret_key=SECRET, maildir=str(tmp_path / "mail"),
                       public_url="http://planbell.example.gov.cn")
    settings = settings_from(env)
    service = Service(settings, all_notifiers(settings))
    service.start(NOW)  # migrates and plans the bundled year
    with service.sessions() as session:
        dues = {row.id: row.due for row in session.scalars(select(OccurrenceRow).where(OccurrenceRow.id.in_(DUTIES)))}
    service.engine.dispose()
    assert set(dues) == set(DUTIES)
    links = Links(SECRET.encode(), "")

    instances = [start_instance(env, tmp_path, name) for name in ("a", "b")]
    try:
        urls = [url for _, url in instances]
        for duty in DUTIES:
            path = links.action_url("li-na", duty, "done", dues[duty])
            page = httpx.get(urls[0] + path)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            answers = race(urls, path, csrf, ["经实例 A", "经实例 B"])
            assert [a.status_code for a in answers] == [200, 200]
            headings = sorted(re.search(r"<h1>(.*?)</h1>", a.text).group(1) for a in answers)
            assert headings == ["已销号", "此前已销号"], headings
            slower = next(a for a in answers if "此前已销号" in a.text)
            assert re.search(r"已于 2026-03-24 10:00 由 李娜 销号", slower.text), slower.text[-1200:]
        # Either instance shows her the three as done (her duties read by SQL on PostgreSQL's JSON).
        me = httpx.get(f"{urls[1]}/me", cookies={COOKIE: links.session_cookie("li-na", NOW)})
        assert me.status_code == 200 and "李娜 的工作台" in me.text
        assert re.search(r"已完成 · 3 项", me.text), me.text[-2000:]
    finally:
        for process, _ in instances:
            process.stdin.close()
            process.wait(timeout=30)

    engine = make_engine(postgres_url)
    with sessions(engine)() as session:
        for duty in DUTIES:
            entries = session.scalars(select(AuditRow).where(AuditRow.action == "done", AuditRow.subject == duty)).all()
            assert len(entries) == 1, f"{duty}: {len(entries)} check-offs in the audit trail"
            row = session.get(OccurrenceRow, duty)
            assert (row.status, row.done_by) == ("done", "li-na")
            assert row.note == entries[0].detail["note"] and row.note in ("经实例 A", "经实例 B")
    engine.dispose()
