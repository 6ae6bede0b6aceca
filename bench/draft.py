"""Benchmark: `planbell draft` on the bundled plan's text against the hand-written schedule.

Run from the repository root:

    .venv/bin/python bench/draft.py

Correspondence. A hand-written entry (schedules/plan-2026.yaml) and a drafted one correspond
when they are of the same kind (obligation / target), under the same item, their sources
overlap (one, whitespace removed, contains the other: the hand quotes a clause, the draft may
quote a little more or less of the same sentence), and they say the same thing:
- obligations: the same cadence (`every`);
- targets: the same comparator, value and unit.
Hand-written obligations with `basis` (the four 三会一课 duties) come from the regulations, not
from the text; no reading of the text can find them, so they are left out of recall and
counted on a line of their own.

recall    = hand-written entries (without basis) that some drafted entry corresponds to
            ÷ hand-written entries (without basis)
precision = drafted entries that correspond to some hand-written entry ÷ drafted entries

Time. The plan's text is 7,293 characters (20,705 bytes). Drafting it (read, layout, grammar,
YAML) is timed best of 15 after one warm-up run, in turns with the baseline; the cold first run (imports included) is
printed too. A 20,000-character plan is made by repeating its numbered items with the
numbers continued, and timed the same way. The
baseline, measured in the same run, is loading and checking the hand-written
schedule (`load_plan_file`, what `planbell validate` does): the last line is
``ratio=X.XX``, draft time ÷ validate time. Goals: recall ≥ 0.95, precision ≥ 0.9, < 1 s.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HAND = ROOT / "schedules" / "plan-2026.yaml"
TEXT = ROOT / "schedules" / "source" / "2026-work-plan.txt"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def overlaps(a: str, b: str) -> bool:
    a, b = squash(a), squash(b)
    return a in b or b in a


def corresponds(hand, drafted) -> bool:
    from daemon.draft.build import Duty
    from daemon.plan.model import Obligation

    if isinstance(hand, Obligation) != isinstance(drafted, Duty):
        return False
    if hand.item != drafted.item or not overlaps(hand.source, drafted.source):
        return False
    if isinstance(hand, Obligation):
        return hand.every.value == drafted.every
    return (hand.comparator.value, hand.value, hand.unit) == (drafted.comparator, drafted.value, drafted.unit)


def bigger_plan(text: str, at_least: int) -> str:
    """The bundled plan's numbered items repeated (numbers continued) until the text is
    ``at_least`` characters long: a plan of that size with the genre's density of clauses."""
    head, _, body = text.partition("\n一、")
    body = "一、" + body
    out, copies = [head], 0
    while len("".join(out)) < at_least:
        shift = 24 * copies
        out.append("\n" + re.sub(r"(?m)^(\d{1,2})\.", lambda m, shift=shift: f"{int(m.group(1)) + shift}.", body))
        copies += 1
    return "".join(out)


def cold_draft(text: Path, out: Path):
    """A draft that finds nothing of an earlier run in the grammar's per-clause cache."""
    from daemon.draft import draft_plan
    from daemon.draft.grammar import cadences

    cadences.cache_clear()
    return draft_plan(text, out)


def taking_turns(runs: int, work, baseline) -> tuple[float, float]:
    """Best times of ``work`` and ``baseline``, run in turns so outside load skews both alike."""
    work_times, baseline_times = [], []
    for _ in range(runs):
        work_times.append(best_of(1, work))
        baseline_times.append(best_of(1, baseline))
    return min(work_times), min(baseline_times)


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    start = time.perf_counter()
    from daemon.draft import draft_plan

    result = draft_plan(TEXT, ROOT / "schedules" / "draft.yaml")
    cold = time.perf_counter() - start
    from daemon.plan.loader import load_plan_file

    hand, _ = load_plan_file(HAND)
    with tempfile.TemporaryDirectory() as folder:  # the draft must validate as it is
        out = Path(folder) / "draft.yaml"
        (Path(folder) / "source").mkdir()
        (Path(folder) / "source" / TEXT.name).write_text(TEXT.read_text(encoding="utf-8"), encoding="utf-8")
        out.write_text(result.yaml, encoding="utf-8")
        load_plan_file(out)

    drafted = [*result.draft.duties, *result.draft.quotas]
    basis = [o for o in hand.obligations if o.basis]
    wanted = [o for o in hand.obligations if not o.basis] + list(hand.targets)
    found = [h for h in wanted if any(corresponds(h, d) for d in drafted)]
    right = [d for d in drafted if any(corresponds(h, d) for h in wanted)]
    for h in wanted:
        if h not in found:
            print(f"missed  item {h.item:>2} {h.id}: {h.source}")
    for d in drafted:
        if d not in right:
            print(f"extra   item {d.item:>2} {getattr(d, 'every', None) or d.comparator}: {d.source}")

    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "plan-20k.txt"
        big.write_text(bigger_plan(TEXT.read_text(encoding="utf-8"), 20_000), encoding="utf-8")
        big_chars = len(big.read_text(encoding="utf-8"))
        big_time = best_of(7, lambda: cold_draft(big, Path(folder) / "draft.yaml"))
    draft_time, validate_time = taking_turns(
        15, lambda: cold_draft(TEXT, ROOT / "schedules" / "draft.yaml"), lambda: load_plan_file(HAND))
    chars = len(TEXT.read_text(encoding="utf-8"))
    print(f"hand-written: {len(hand.obligations)} obligations ({len(basis)} with basis, not in the text), "
          f"{len(hand.targets)} targets; drafted: {len(result.draft.duties)} obligations, {len(result.draft.quotas)} targets")
    print(f"recall={len(found) / len(wanted):.3f} ({len(found)}/{len(wanted)})  goal >= 0.95")
    print(f"precision={len(right) / len(drafted):.3f} ({len(right)}/{len(drafted)})  goal >= 0.9")
    print(f"draft of {chars:,} characters: {draft_time * 1000:.1f} ms (cold, imports included: {cold * 1000:.0f} ms)  goal < 1 s")
    print(f"draft of a {big_chars:,}-character plan (the bundled items repeated, renumbered): {big_time * 1000:.1f} ms  goal < 1 s")
    print(f"validate of the hand-written schedule (baseline): {validate_time * 1000:.1f} ms")
    print(f"ratio={draft_time / validate_time:.2f}")


if __name__ == "__main__":
    main()
