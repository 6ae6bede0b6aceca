"""Screenshots of the HTML emails as a phone (360 px) and a desktop (1024 px) show them.

    .venv/bin/python bench/screenshots.py            # writes docs/screenshots/*.png

Needs Debian's chromium and CJK fonts (apt-get install -y chromium fonts-noto-cjk); without the
fonts Chinese renders as boxes. The messages are the ones tests/test_templates.py checks, from
the same office: the committed 2026 plan and example roster, a ledger kept up to date until
25 March except three March duties, each message composed by the real Composer at its own send
time (a reminder a week ahead, the escalation five days late, a weekly digest, the admins'
overview).

Each page is loaded twice: once to measure its height at that width (a script appended to a
copy prints it into the dumped DOM), then to shoot a window that tall, capped so the PNGs stay
small.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_templates import DIGEST, ESCALATION, OVERVIEW, REMINDER, build_office  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SHOTS = {"reminder": REMINDER, "escalation": ESCALATION, "digest": DIGEST, "overview": OVERVIEW}
WIDTHS = (360, 1024)
# Tall enough for a whole reminder or escalation; a digest or an overview is cut after its first
# sections, which is all a screenshot needs to show (and keeps each PNG well under 300 KB).
MAX_HEIGHT = {360: 2000, 1024: 1400}
# Measured once the fonts are in: CJK fallback fonts load late and change every line's height.
MEASURE = ('<script>document.fonts.ready.then(() => document.body.setAttribute("data-height", '
           'Math.ceil(document.documentElement.getBoundingClientRect().height)));</script>')


def chromium(*args: str, profile: Path) -> str:
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
               f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"chromium failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def height(page: Path, width: int, profile: Path) -> int:
    # Headless chromium lays a page out at least 500 px wide until it emulates the screenshot's
    # viewport, so the probe pins the width of the page itself.
    probe = page.with_suffix(f".probe{width}.html")
    html = page.read_text(encoding="utf-8")
    html = html.replace("</head>", f"<style>html{{width:{width}px}}</style></head>").replace("</body>", MEASURE + "</body>")
    probe.write_text(html, encoding="utf-8")
    dom = chromium(f"--window-size={width},800", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(),
                   profile=profile)
    found = re.search(r'data-height="(\d+)"', dom)
    if not found:
        raise SystemExit(f"could not measure {page.name} at {width} px")
    return int(found.group(1))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="planbell-shots-") as tmp:
        work = Path(tmp)
        office = build_office(work / "office")
        for name, key in SHOTS.items():
            page = work / f"{name}.html"
            page.write_text(office.compose(key).html, encoding="utf-8")
            for width in WIDTHS:
                tall = height(page, width, work / "profile")
                shot = OUT / f"{name}-{width}.png"
                window = min(tall, MAX_HEIGHT[width])
                chromium(f"--window-size={width},{window}", f"--screenshot={shot}", page.as_uri(),
                         profile=work / "profile")
                print(f"{shot.relative_to(OUT.parent.parent)}  {width}×{window} (page {tall} px tall)  "
                      f"{shot.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
