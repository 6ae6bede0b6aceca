"""Benchmark: what an idle `planbell run` costs, against a bare sleeping Python process.

Run from the repository root:

    .venv/bin/python bench/idle.py                      # --seconds 30 [--no-web]

`planbell run` starts on the bundled plan (schedules/plan-2026.yaml, the example roster), with
the workbench on a free loopback port (asked for /healthz and /login once ready) unless
--no-web, with a scratch SQLite file and Maildir in a temporary folder; start-to-ready is the
time from spawning it to its log line containing "ready". After a short settle (its first tick and first reload
poll), both it and the baseline — `python -c "import time; time.sleep(…)"`, started together
with it — are sampled once a second for the window from /proc/<pid>/stat (utime + stime, in
clock ticks, all threads, living and exited) and /proc/<pid>/status (VmRSS; voluntary context
switches of every thread, i.e. how often it wakes up).

The last line is ``ratio=X.XX``: the daemon's idle CPU seconds per wall second ÷ the baseline's.
A sleeping process uses no measurable CPU, so the baseline is floored at one clock tick over the
window (the resolution of /proc/<pid>/stat); the ratio is then an upper bound on "how many
times the cost of doing nothing", and ``ratio=1.00`` means no measurable CPU at all.
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (every thread, including exited ones)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of proc(5)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wakeups(pid: int) -> int:
    """Voluntary context switches summed over the living threads: each is a sleep that ended."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        except OSError:
            pass  # the thread ended between listing and reading
    return total


@dataclass
class Samples:
    name: str
    pid: int
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    wake: list[int] = field(default_factory=list)

    def take(self) -> None:
        self.cpu.append(cpu_seconds(self.pid))
        self.rss.append(rss_mib(self.pid))
        self.wake.append(wakeups(self.pid))

    def cpu_per_second(self, wall: float) -> float:
        return (self.cpu[-1] - self.cpu[0]) / wall

    def report(self, wall: float) -> str:
        return (f"{self.name:<9} idle CPU {100 * self.cpu_per_second(wall):6.3f} % "
                f"({self.cpu[-1] - self.cpu[0]:.2f} s in {wall:.1f} s)   "
                f"RSS {sum(self.rss) / len(self.rss):6.1f} MiB (max {max(self.rss):.1f})   "
                f"wake-ups {(self.wake[-1] - self.wake[0]) / wall:5.1f}/s")


def wait_for_ready(process: subprocess.Popen, timeout: float) -> float:
    """Seconds until a stderr line containing "ready"; stderr keeps being drained after."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    started, seen = time.monotonic(), []
    while True:
        line = lines.get(timeout=max(timeout - (time.monotonic() - started), 0.01))
        if line is None:
            sys.exit(f"planbell run exited with {process.wait()} before it was ready:\n{''.join(seen[-20:])}")
        seen.append(line)
        if "ready" in line:
            return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="length of the idle window")
    parser.add_argument("--settle", type=float, default=3, help="seconds after ready before the window")
    parser.add_argument("--no-web", action="store_true",
                        help="without the workbench (PLANBELL_HTTP_PORT=0); by default it serves on a free port")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="planbell-idle-") as scratch:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANBELL_")}
        env |= {
            "PLANBELL_SCHEDULES": str(ROOT / "schedules"),
            "PLANBELL_ROSTER": str(ROOT / "schedules" / "roster.example.yaml"),
            "PLANBELL_DATABASE_URL": f"sqlite:///{scratch}/planbell.db",
            "PLANBELL_MAILDIR": f"{scratch}/maildir",
            "PLANBELL_HTTP_PORT": "0" if args.no_web else str(free_port()),
        }
        lifetime = args.settle + args.seconds + 120
        baseline = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({lifetime})"])
        spawned = time.monotonic()
        daemon = subprocess.Popen([sys.executable, "-m", "daemon", "run"], cwd=scratch, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            ready = wait_for_ready(daemon, timeout=120)
            print(f"start to ready: {ready:.2f} s (spawn to the log line containing 'ready')")
            if not args.no_web:
                # The server answers, and has served a page once (its templates and the
                # request path loaded), as after a first visitor.
                port = env["PLANBELL_HTTP_PORT"]
                for path in ("/healthz", "/login"):
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
                        answer.read()
                print(f"workbench on 127.0.0.1:{port}: /healthz and /login answered")
            time.sleep(args.settle)
            measured = [Samples("planbell", daemon.pid), Samples("baseline", baseline.pid)]
            began, stamps = time.monotonic(), []
            for n in range(int(args.seconds) + 1):
                # Sample on the second, whatever the time the reads take.
                time.sleep(max(began + n - time.monotonic(), 0))
                stamps.append(time.monotonic())
                for s in measured:
                    s.take()
            wall = stamps[-1] - stamps[0]
            for s in measured:
                print(s.report(wall))
            print(f"(both measured over the same {wall:.0f} s window, {time.monotonic() - spawned:.0f} s after spawning; "
                  f"clock tick {1 / TICK:.3f} s)")
            planbell, bare = measured
            floor = 1 / TICK / wall
            # Both floored: a daemon that used no measurable CPU either is at 1.00, not 0.00.
            print(f"ratio={max(planbell.cpu_per_second(wall), floor) / max(bare.cpu_per_second(wall), floor):.2f}")
        finally:
            for process in (daemon, baseline):
                process.terminate()
            code = daemon.wait(timeout=30)
            baseline.wait(timeout=30)
            if code != 0:
                print(f"warning: planbell run exited with {code} on SIGTERM", file=sys.stderr)


if __name__ == "__main__":
    main()
