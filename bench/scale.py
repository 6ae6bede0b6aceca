"""Benchmark: the bundled 2026 plan for an office of 100 branches, at 300 and at 3,000 people.

Run from the repository root:

    .venv/bin/python bench/scale.py                       # --small 300 --large 3000
    .venv/bin/python bench/scale.py --profile             # + a pyinstrument profile of the large month

For each size a fictitious roster is generated (100 branches; each with one 支部书记, the
rest of its people 党员 and 干部; the office's own roles — 党组, 分管领导, 科室负责人,
办公室 … — held by people of the first branches, as in a real 机关) and written to a
temporary folder beside a copy of the bundled schedules. Timed, in one run:

- the year's sync: a fresh SQLite database, ``Service.refresh`` at 2026-01-01 00:00 Shanghai
  (the whole year's occurrences synced, every reminder and weekly digest planned; the office
  goes live on 1 March, so what falls due before is 上线前);
- a full re-plan over that synced year (what a restart after a schedule edit does; printed, no
  goal); the month's own start finds the schedule unchanged and re-plans nothing;
- one simulated month, 2026-03-01 to 2026-03-31, with ``daemon.simulate`` (the real
  dispatcher, composer, templates and MIME) into a Maildir in the temporary folder.

It checks on the way that a 支部书记 of the large office is reminded, in one message, of the
talks with their own branch's members only. The last line is the ratio of the cost per message
of the large month to the small one (goal ≤ 1.2), after both sizes' figures (goals: the large
month ≤ 120 s, the large year's sync ≤ 30 s).
"""

from __future__ import annotations

import argparse
import mailbox
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, select  # noqa: E402

from daemon.config import load_settings  # noqa: E402
from daemon.pipeline import REFRESHED_KEY  # noqa: E402
from daemon.service import Service  # noqa: E402
from daemon.simulate import simulate  # noqa: E402
from daemon.store.tables import MessageRow, StateRow  # noqa: E402
from notifiers.maildir import MaildirNotifier  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
BRANCHES = 100
YEAR_START = datetime(2026, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
MONTH = (date(2026, 3, 1), date(2026, 3, 31))
MAIL_FROM = "planbell <planbell@example.gov.cn>"

# The office's own roles and how many hold each; they go to people of the first branches.
OFFICE_ROLES = (
    (("party-secretary", "party-group", "leadership"), 1),
    (("party-group", "leadership", "supervising-leaders"), 4),
    (("party-group", "leadership", "discipline-group"), 1),
    (("section-heads",), 12),
    (("office",), 3),
    (("mass-org-group",), 3),
    (("drafting-team",), 6),
    (("policy-team",), 6),
    (("transfer-team",), 6),
    (("admin",), 1),
)


def roster_yaml(people: int) -> str:
    """``people`` fictitious people in BRANCHES branches (sizes differ by at most one)."""
    lines = ["branches:"]
    lines += [f"  - {{id: b{b:03d}, name: 第{b + 1}支部}}" for b in range(BRANCHES)]
    lines.append("people:")
    office = [roles for roles, count in OFFICE_ROLES for _ in range(count)]
    for i in range(people):
        branch = i % BRANCHES
        roles = ["members", "staff"]
        if i < BRANCHES:
            roles += ["branch-secretary", "branch"]
        elif i < 2 * BRANCHES:
            roles += ["branch", "cell-leaders"]
        if i % 10 == 3:
            roles.append("youth")
        if BRANCHES <= i < BRANCHES + len(office) or (i < BRANCHES and people <= BRANCHES):
            roles += [r for r in office[(i - BRANCHES) % len(office)] if r not in roles]
        lines.append(f"  - {{id: p{i:05d}, name: 人员{i:05d}, email: p{i:05d}@example.gov.cn, "
                     f"branch: b{branch:03d}, roles: [{', '.join(roles)}]}}")
    return "\n".join(lines) + "\n"


def make_service(folder: Path, people: int) -> Service:
    schedules = folder / "schedules"
    shutil.copytree(ROOT / "schedules", schedules, ignore=shutil.ignore_patterns("roster*"))
    roster = folder / "roster.yaml"
    roster.write_text(roster_yaml(people), encoding="utf-8")
    # Live from 1 March, as an office starting that month: January's and February's duties are
    # history (上线前), not a backlog of overdue reminders in the simulated month.
    settings = load_settings(schedules=schedules, roster=roster, database_url=f"sqlite:///{folder}/planbell.db",
                             digest="weekly", mail_from=MAIL_FROM, http_port=0, go_live=MONTH[0])
    return Service(settings, {"email": MaildirNotifier(folder / "mail", MAIL_FROM)}, instance="bench")


def secretary_talks(service: Service) -> tuple[int, int]:
    """(talks of March listed in the first secretary's reminder of 2 March, the day March's
    duties open; members of that branch other than the secretary)."""
    roster = service.schedule.roster
    secretary = roster.with_role("branch-secretary")[0]
    others = [p for p in roster.people if p.branch == secretary.branch and p.id != secretary.id
              and "members" in p.roles]
    with service.sessions() as session:
        message = session.scalar(select(MessageRow).where(MessageRow.key == f"reminder:{secretary.id}:2026-03-02:email"))
    items = message.content["items"] if message else []
    talks = {i["occurrence"] for i in items if i["occurrence"].startswith("branch-secretary-talks/2026-03/")}
    return len(talks), len(others)


def run(people: int, profile: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"planbell-scale-{people}-") as name:
        folder = Path(name)
        service = make_service(folder, people)
        service.watch.load()
        started = time.perf_counter()
        result = service.refresh(YEAR_START)
        sync_s = time.perf_counter() - started
        # What a restart after a schedule edit re-plans: everything, over the synced year. (The
        # month below starts on an unchanged schedule: its start finds nothing to re-plan.)
        with service.sessions.begin() as session:
            session.execute(delete(StateRow).where(StateRow.key == REFRESHED_KEY))
        started = time.perf_counter()
        replanned = service.refresh(YEAR_START)
        replan_s = time.perf_counter() - started
        assert not replanned.unchanged and replanned.messages == {"added": 0, "updated": 0, "cancelled": 0}
        talks, members = secretary_talks(service)
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        started = time.perf_counter()
        month = simulate(service, *MONTH, "Asia/Shanghai", go_live=True)
        month_s = time.perf_counter() - started
        if profiler:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        service.engine.dispose()
        mails = len(mailbox.Maildir(folder / "mail", create=False)) if (folder / "mail").exists() else 0
    return {"people": people, "occurrences": result.sync.added, "sync_s": sync_s, "replan_s": replan_s, "month_s": month_s,
            "sent": month.sent, "mails": mails, "talks": talks, "members": members}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--large", type=int, default=3000)
    parser.add_argument("--profile", action="store_true", help="profile the large month with pyinstrument")
    args = parser.parse_args()
    figures = [run(args.small, False), run(args.large, args.profile)]
    for f in figures:
        per = f["month_s"] / max(f["sent"], 1) * 1000
        print(f"{f['people']:>5} people, {BRANCHES} branches: year's sync {f['sync_s']:.1f} s "
              f"({f['occurrences']:,} occurrences), a full re-plan of it {f['replan_s']:.1f} s; month {f['month_s']:.1f} s, {f['sent']:,} messages "
              f"({f['mails']:,} in the Maildir), {per:.2f} ms/message; March's talks in a secretary's "
              f"one reminder of 2 March: {f['talks']} (members of the branch besides the secretary: {f['members']})")
    small, large = figures
    cost = [f["month_s"] / max(f["sent"], 1) for f in figures]
    print(f"goals: large month {large['month_s']:.1f} s (≤ 120), large year's sync {large['sync_s']:.1f} s (≤ 30)")
    print(f"ratio={cost[1] / cost[0]:.2f}  (cost per message at {large['people']:,} ÷ at {small['people']:,}; goal ≤ 1.2)")


if __name__ == "__main__":
    main()
