"""Benchmark: the workbench under a year of an office of 300, against a bare Starlette endpoint.

Run from the repository root:

    .venv/bin/python bench/web.py              # --requests 300 --posts 150 --rounds 3; about 1 min

Setup (not timed): a SQLite file in a temporary folder; a fictitious roster of 300 (the example
roster's 12 people and 288 generated party members, every tenth also a 青年干部) for the
bundled 2026 plan, synced with ``Service.start`` at 2026-09-15 10:00 Shanghai (a Tuesday).
The office kept its ledger: every duty due before 1 September is checked off by its first
person on its due day, except one in thirty (left overdue), and every fifth check-off carries
the same small PDF as evidence. The person measured is the busiest: the 支部书记, whose
monthly talk with each member alone is 3,600 duties a year.

/me: the workbench app served by uvicorn on 127.0.0.1 exactly as `planbell run` serves it
(``daemon.web.server.WebServer``), the clock fixed at the instant above; one httpx client with
the person's session cookie asks for /me ``--requests`` times after a warm-up; p50 and p95 of
the wall time per request (goal: p95 ≤ 50 ms).

Check-offs: ``--posts`` POSTs of the confirmation form (multipart, a note, no file chosen, the
form's CSRF token), each to a different open duty of that person, through the same server;
baseline, its rounds taking turns with planbell's: the same requests to a bare Starlette
endpoint, served by uvicorn with the same settings, that reads the duty's row (one SELECT by
primary key on the same database, in a worker thread as the workbench does) and answers its
title. Best of ``--rounds`` each; also the CPU time of the whole process (client and servers)
per request, which a busy machine disturbs much less than the rates. The last line is ``ratio=X.XX``: planbell check-offs/s ÷ bare
requests/s (goal ≥ 0.5).

``--profile FILE`` writes pyinstrument profiles (text; FILE.me and FILE.post) of the workbench's side of the /me requests
and check-offs (pip install pyinstrument): the profiler runs in the server's event-loop thread
around each request, and the database work, normally in a worker thread, runs inline there so
that it is seen (the figures printed in that mode are not the benchmark's).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from daemon import evidence, ledger  # noqa: E402
from daemon.config import load_settings  # noqa: E402
from daemon.links import Links  # noqa: E402
from daemon.service import Service  # noqa: E402
from daemon.store.tables import OccurrenceRow  # noqa: E402
from daemon.web.auth import COOKIE  # noqa: E402
from daemon.web.context import Workbench  # noqa: E402
from daemon.web.server import WebServer  # noqa: E402
from notifiers.maildir import MaildirNotifier  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 15, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
KEPT_UP_BEFORE = date(2026, 9, 1)
PERSON = "chen-jing"  # the example roster's 支部书记
PEOPLE = 300
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰"
PDF = b"%PDF-1.4\n%%EOF\n"  # evidence here is only stored and listed, never opened: its type is all that counts


def roster_of(count: int) -> str:
    """The example roster and fictitious members up to ``count`` people, as YAML."""
    text = (ROOT / "schedules" / "roster.example.yaml").read_text(encoding="utf-8").rstrip() + "\n"
    existing = text.count("\n  - id: ")
    lines = []
    for n in range(count - existing):
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES)) % len(GIVEN)] + GIVEN[n % 7]
        roles = "[members, staff, youth]" if n % 10 == 0 else "[members, staff]"
        # All in 陈静's branch, so she stays the busiest person: a talk with each member a month.
        lines.append(f"  - {{id: member-{n:03d}, name: {name}, email: member{n:03d}@example.gov.cn, "
                     f"branch: branch-1, roles: {roles}}}\n")
    return text + "".join(lines)


def build_office(folder: Path):
    (folder / "roster.yaml").write_text(roster_of(PEOPLE), encoding="utf-8")
    settings = load_settings(_env_file=None, schedules=ROOT / "schedules", roster=folder / "roster.yaml",
                             database_url=f"sqlite:///{folder / 'planbell.db'}", http_port=0,
                             public_url="http://127.0.0.1:8080", secret_key="bench-web-secret-key-2026")
    service = Service(settings, {"email": MaildirNotifier(folder / "mail", settings.mail_from)})
    service.start(NOW)
    with service.sessions.begin() as session:
        rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.due < KEPT_UP_BEFORE,
                                                           OccurrenceRow.status == "open")
                               .order_by(OccurrenceRow.id)).all()
        for n, row in enumerate(rows):
            if n % 30 == 7 or not row.assignees:
                continue
            when = datetime.combine(row.due, clock_time(17), SHANGHAI)
            ledger.check_off(session, row, when, row.assignees[0], row.assignees[0], "按期完成", None)
            if n % 5 == 0:
                evidence.attach(session, row.id, [(evidence.Upload("会议记录.pdf", PDF), "pdf")], row.assignees[0], when)
        mine = [r for r in session.scalars(select(OccurrenceRow).where(OccurrenceRow.plan_year == 2026))
                if PERSON in r.assignees]
        future = sorted((r.id, r.due) for r in mine if r.status == "open" and r.due > NOW.date())
    print(f"setup: {len(service.schedule.roster.people)} people, {len(mine)} duties of {PERSON} in 2026 "
          f"({sum(r.status == 'done' for r in mine)} done, {len(future)} still to come)")
    return service, future


def bare_app(service: Service) -> Starlette:
    def read(occurrence_id: str) -> str:
        with service.sessions() as session:
            return session.get(OccurrenceRow, occurrence_id).title

    async def one_row(request):
        return PlainTextResponse(await run_in_threadpool(read, request.path_params["id"]))

    return Starlette(routes=[Route("/row/{id:path}", one_row, methods=["POST"])])


def serve(app) -> WebServer:
    """``app`` on uvicorn on a free loopback port, with `planbell run`'s settings."""
    server = WebServer(Workbench(None, None, None), "127.0.0.1", 0)
    server.config.app = app  # WebServer's uvicorn.Config, this app instead of the workbench
    server.start()
    return server


class Profiled:
    """An ASGI wrapper that profiles each HTTP request in the event loop's thread, into the
    profiler of the moment (one for /me, one for the check-offs)."""

    def __init__(self, app):
        self.app, self.profiler, self.name = app, None, None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.profiler is None:
            return await self.app(scope, receive, send)
        self.profiler.start()
        try:
            await self.app(scope, receive, send)
        finally:
            self.profiler.stop()


def profiling(server: WebServer) -> Profiled:
    from daemon.web import respond

    async def inline(function, *args):
        return function(*args)

    respond.run_in_threadpool = inline  # the database work in the profiled thread
    server.config.app = Profiled(server.config.app)
    return server.config.app


def profile_into(profiled: Profiled | None, path: Path | None, name: str) -> None:
    """Write the profile of the moment to PATH.NAME; start a new one (None: stop profiling)."""
    if profiled is None:
        return
    while profiled.profiler is not None and profiled.profiler.is_running:
        time.sleep(0.01)  # the last response reached the client before its request's profile ended
    if profiled.profiler is not None and profiled.profiler.last_session is not None:
        out = path.with_name(f"{path.name}.{profiled.name}")
        out.write_text(profiled.profiler.output_text(unicode=True, color=False), encoding="utf-8")
        print(f"profile: {out}")
    from pyinstrument import Profiler

    profiled.profiler, profiled.name = (Profiler(async_mode="disabled"), name) if name else (None, None)


def form(note: str, csrf: str | None) -> dict:
    fields = {"note": note} | ({"csrf": csrf} if csrf else {})
    return {"data": fields, "files": {"files": ("", b"", "application/octet-stream")}}


def me_latencies(client: httpx.Client, url: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.get(url)
        out.append(time.perf_counter() - started)
        if answer.status_code != 200 or "的工作台" not in answer.text:
            raise SystemExit(f"/me answered {answer.status_code}: {answer.text[:300]}")
    return out


def post_rate(client: httpx.Client, requests: list[tuple[str, dict]], check: str = "") -> tuple[float, float]:
    """Requests per second (wall), and CPU seconds per request of this whole process (client and
    both servers: a figure a busy machine disturbs much less than the wall clock)."""
    started, cpu = time.perf_counter(), time.process_time()
    for url, body in requests:
        answer = client.post(url, **body)
        if answer.status_code != 200 or check not in answer.text:
            raise SystemExit(f"POST {url} answered {answer.status_code}: {answer.text[-400:]}")
    return len(requests) / (time.perf_counter() - started), (time.process_time() - cpu) / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="timed /me requests")
    parser.add_argument("--posts", type=int, default=150, help="check-offs per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile (HTML) of planbell's requests")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="planbell-bench-web-") as tmp:
        started = time.perf_counter()
        service, future = build_office(Path(tmp))
        needed = args.posts * args.rounds
        if len(future) < needed:
            raise SystemExit(f"only {len(future)} open duties to check off; ask for fewer --posts or --rounds")
        links = Links(service.links.secret, "")
        bench = Workbench(sessions=service.sessions, schedule=lambda: service.schedule, links=links, clock=lambda: NOW)
        planbell = WebServer(bench, "127.0.0.1", 0)
        profiler = profiling(planbell) if args.profile else None
        planbell.start()
        bare = serve(bare_app(service))
        print(f"setup took {time.perf_counter() - started:.1f} s; uvicorn on 127.0.0.1:{planbell.port} "
              f"(workbench) and :{bare.port} (bare Starlette)")
        try:
            cookie = {COOKIE: links.session_cookie(PERSON, NOW)}
            with httpx.Client(cookies=cookie, timeout=30) as client:
                me_url = f"http://127.0.0.1:{planbell.port}/me"
                me_latencies(client, me_url, 10)  # warm-up: templates compiled, pool filled
                profile_into(profiler, args.profile, "me")
                cpu_started = time.process_time()
                times = sorted(me_latencies(client, me_url, args.requests))
                me_cpu = (time.process_time() - cpu_started) / args.requests
                size = len(client.get(me_url).content)
                p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
                print(f"/me of {PERSON}: {args.requests} requests, p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
                      f"(max {times[-1] * 1000:.1f} ms), {me_cpu * 1000:.1f} ms CPU a request (client and server), "
                      f"{size // 1024} KB of HTML  [goal: p95 ≤ 50 ms]")

                profile_into(profiler, args.profile, "post")
                duties = iter(future)
                best = {"planbell": 0.0, "bare": 0.0}
                cpu = {"planbell": [], "bare": []}
                for _ in range(args.rounds):
                    batch = [next(duties) for _ in range(args.posts)]
                    ours = []
                    for occurrence, due in batch:
                        token = links.action_token(PERSON, occurrence, "done", due)
                        ours.append((f"http://127.0.0.1:{planbell.port}/act/{token}",
                                     form("已按期谈话", links.csrf(token))))
                    theirs = [(f"http://127.0.0.1:{bare.port}/row/{occurrence}", form("已按期谈话", None))
                              for occurrence, _ in batch]
                    for side, requests, check in (("planbell", ours, "已销号"), ("bare", theirs, "")):
                        rate, seconds = post_rate(client, requests, check)
                        best[side] = max(best[side], rate)
                        cpu[side].append(seconds)
                profile_into(profiler, args.profile, None)
            print(f"planbell check-off POST (token, form, CSRF, locked row, ledger + audit, commit, page): "
                  f"{best['planbell']:.0f}/s (best of {args.rounds} × {args.posts}), "
                  f"{min(cpu['planbell']) * 1000:.2f} ms CPU a request")
            print(f"bare Starlette POST reading one row: {best['bare']:.0f}/s (best of {args.rounds} × {args.posts}), "
                  f"{min(cpu['bare']) * 1000:.2f} ms CPU a request")
            print(f"ratio={best['planbell'] / best['bare']:.2f}")
        finally:
            planbell.stop()
            bare.stop()
            service.engine.dispose()


if __name__ == "__main__":
    main()
