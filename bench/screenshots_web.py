"""Screenshots of the workbench as a phone (360 px) and a desk (1024 px) show it.

    .venv/bin/python bench/screenshots_web.py        # writes docs/screenshots/web-*.png

The pages are the real ones, served by uvicorn from the workbench app on the office the browser
tests use (tests/web/world.py): the committed 2026 plan and example roster, March simulated up
to the 24th with `planbell simulate --deliver`, the ledger kept up to date through the 20th except
two duties, the clock at 10:00 on the 24th. 李娜 opens the
「已完成,去销号」 button of her last reminder (the confirmation page), confirms it with a note and
a PDF (the page after), and opens 我的工作台 (/me); the roster's admin opens /admin (skipped,
with a line saying so, where /admin is not served yet).

The file picker's own words ("Choose Files") are the browser's: Debian's chromium without the
chromium-l10n package speaks only English there; a phone set to Chinese shows 选择文件.

Needs Debian's chromium and CJK fonts (apt-get install -y chromium fonts-noto-cjk); Playwright
drives that chromium and never downloads one.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon import ledger  # noqa: E402
from daemon.store.db import make_engine, sessions  # noqa: E402
from daemon.store.tables import OccurrenceRow  # noqa: E402
from daemon.web.auth import COOKIE  # noqa: E402
from tests.smtpserver import free_port  # noqa: E402
from tests.web.world import PDF, SHANGHAI, make_march, open_world  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
WIDTHS = (360, 1024)
# Long pages are cut: the top of /me (overdue, this week) is what a screenshot needs to show,
# and each PNG stays well under 300 KB.
MAX_HEIGHT = {360: 2400, 1024: 1600}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
# An office that keeps its ledger: what was due before this day (up to Friday the 20th) is
# checked off, except these.
KEPT_UP_UNTIL = date(2026, 3, 21)
LEFT_OPEN = ("monthly-study-focus/2026-03", "manuscript-ideology-review/2026-03")


def keep_ledger(world) -> None:
    """Check off every duty due before KEPT_UP_UNTIL (by its first person, on its due day)
    except LEFT_OPEN, as `planbell done` would."""
    engine = make_engine(world.settings["database_url"])
    with sessions(engine).begin() as session:
        rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.status == "open",
                                                           OccurrenceRow.due < KEPT_UP_UNTIL))
        for row in rows:
            if row.id not in LEFT_OPEN and row.assignees:
                when = datetime.combine(row.due, time(17), SHANGHAI)
                ledger.check_off(session, row, when, "cli:admin", row.assignees[0], None, None)
    engine.dispose()


def shoot(page, name: str, width: int) -> None:
    # Fonts first: CJK fallback fonts load late and change every line's height.
    page.evaluate("document.fonts.ready")
    tall = page.evaluate("Math.ceil(document.documentElement.getBoundingClientRect().height)")
    height = min(tall, MAX_HEIGHT[width])
    shot = OUT / f"web-{name}-{width}.png"
    page.screenshot(path=str(shot), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
    wide = page.evaluate("document.documentElement.scrollWidth")
    print(f"{shot.relative_to(OUT.parent.parent)}  {width}×{height} (page {tall} px tall"
          f"{'' if wide <= width else f', {wide} px WIDE'})  {shot.stat().st_size // 1024} KB")


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="planbell-web-shots-") as tmp:
        work = Path(tmp)
        (work / "march").mkdir()
        march = make_march(work / "march", free_port())
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for width in WIDTHS:
                # A fresh copy of the month for each width: the same duty is still open.
                (work / str(width)).mkdir()
                world = open_world(march, work / str(width))
                keep_ledger(world)
                try:
                    context = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN")
                    page = context.new_page()
                    reminder = world.mails(kind="reminder", to="lina@")[-1]
                    page.goto(reminder.link("已完成,去销号"))
                    shoot(page, "act", width)
                    page.fill("#note", "3月24日召开,学习《习近平谈治国理政》第五卷相关篇目")
                    page.set_input_files("#files", files=[{"name": "会议记录.pdf", "mimeType": "application/pdf",
                                                           "buffer": PDF}])
                    with page.expect_navigation():
                        page.get_by_role("button", name="确认销号").click()
                    shoot(page, "act-done", width)
                    page.goto(f"{world.url}/me")
                    shoot(page, "me", width)
                    context.close()

                    admin = next(p for p in world.schedule.roster.people if "admin" in p.roles)
                    context = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN")
                    context.add_cookies([{"name": COOKIE, "url": world.url,
                                          "value": world.links.session_cookie(admin.id, world.clock())}])
                    page = context.new_page()
                    answer = page.goto(f"{world.url}/admin")
                    if answer.status == 200:
                        shoot(page, "admin", width)
                    else:
                        print(f"/admin answered {answer.status}: not served on this branch yet, no screenshot")
                    context.close()
                finally:
                    world.stop()
            browser.close()
        march.hooks.close()


if __name__ == "__main__":
    main()
