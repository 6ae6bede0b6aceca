"""Benchmark: expand() over a synthetic 10,000-duty plan, against bare python-dateutil.

Run from the repository root:

    .venv/bin/python bench/expand.py

The plan is built in memory from the model dataclasses (no YAML): 10,000 obligations with mixed
cadences (week, month, quarter, half-year, year, rrule, once) and due rules (day N, last day,
weekday + nth, Nth/last working day, a month within the period), about half of them moved off
days off with ``if_not_workday: previous``, a quarter with ``next`` and a quarter ``keep``.

planbell is timed expanding the whole plan over 2026 (best of 3, ``time.perf_counter``), each run
cold: a fresh WorkdayCalendar and an emptied rrule cache. The baseline, in the same run (its runs
taking turns with planbell's, so outside load skews both alike), builds
for every obligation the nearest ``dateutil.rrule`` and counts its dates in 2026 with
``.between()``. The baseline does less than planbell: it knows no holiday calendar (working-day
rules become plain Monday–Friday rules, nothing is shifted off public holidays or onto 调休
working days) and it builds no occurrence records (ids, opening dates, assignees …).

Where the dateutil rule is exactly equivalent and no date of the obligation is shifted, both
must count the same dates; the number of obligations where they do not is printed (expected 0).
The last line is ``ratio=X.XX``: planbell occurrences/s ÷ dateutil dates/s (goal ≥ 0.5).
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

from dateutil import rrule as du

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.plan import expand as expand_module  # noqa: E402
from daemon.plan.expand import expand  # noqa: E402
from daemon.plan.model import (  # noqa: E402
    LAST_DAY,
    Cadence,
    CalendarSpec,
    DueRule,
    Obligation,
    Plan,
    Shift,
)
from daemon.plan.workdays import WorkdayCalendar  # noqa: E402

YEAR = 2026
START, END = date(YEAR, 1, 1), date(YEAR, 12, 31)
DT_START, DT_END = datetime(YEAR, 1, 1), datetime(YEAR, 12, 31, 23, 59, 59)
N_OBLIGATIONS = 10_000
RUNS = 3
SEED = 2026

DU_WEEKDAYS = (du.MO, du.TU, du.WE, du.TH, du.FR, du.SA, du.SU)
MON_FRI = DU_WEEKDAYS[:5]
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# (cadence, share of the plan)
MIX = (
    (Cadence.WEEK, 0.15),
    (Cadence.MONTH, 0.20),
    (Cadence.QUARTER, 0.15),
    (Cadence.HALF_YEAR, 0.15),
    (Cadence.YEAR, 0.15),
    (Cadence.RRULE, 0.15),
    (Cadence.ONCE, 0.05),
)


# --- the synthetic plan ----------------------------------------------------------------------


def _due_in_month(rng: random.Random, months_in_period: int) -> DueRule:
    """A due rule for a month/quarter/half-year/year cadence (never one that cannot be placed)."""
    month = rng.choice([None, *range(1, months_in_period + 1)]) if months_in_period > 1 else None
    kind = rng.random()
    if kind < 0.40:
        return DueRule(month=month, day=rng.randint(1, 28))
    if kind < 0.50:
        return DueRule(month=month, day=LAST_DAY)
    if kind < 0.75:
        return DueRule(month=month, weekday=rng.randrange(7), nth=rng.choice((None, 1, 2, 3, 4, -1)))
    return DueRule(month=month, workday=rng.choice((1, 2, 3, 5, -1, -2)))


def _random_rrule(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return f"FREQ=MONTHLY;BYMONTHDAY={rng.randint(1, 28)}"
    if kind == 1:
        days = ",".join(sorted(rng.sample(RRULE_DAYS, rng.randint(1, 2)), key=RRULE_DAYS.index))
        return f"FREQ=WEEKLY;INTERVAL={rng.randint(1, 4)};BYDAY={days}"
    if kind == 2:
        return f"FREQ=MONTHLY;BYDAY={rng.choice((1, 2, 3, 4, -1))}{rng.choice(RRULE_DAYS)}"
    if kind == 3:
        return f"FREQ=YEARLY;BYMONTH={rng.randint(1, 12)};BYMONTHDAY={rng.randint(1, 28)}"
    return f"FREQ=DAILY;INTERVAL={rng.randint(5, 30)}"


def build_plan(n: int = N_OBLIGATIONS, seed: int = SEED) -> Plan:
    rng = random.Random(seed)
    cadences = [c for c, _ in MIX]
    weights = [w for _, w in MIX]
    obligations = []
    for i in range(n):
        every = rng.choices(cadences, weights)[0]
        due, rule = None, None
        if every == Cadence.WEEK:
            if rng.random() < 0.25:
                due = DueRule(workday=rng.choice((1, -1)))
            else:
                due = DueRule(weekday=rng.randrange(7))
        elif every == Cadence.RRULE:
            rule = _random_rrule(rng)
        elif every == Cadence.ONCE:
            due = DueRule(on=START + timedelta(days=rng.randrange((END - START).days + 1)))
        else:
            due = _due_in_month(rng, every.months)
        shift = rng.choices((Shift.PREVIOUS, Shift.NEXT, Shift.KEEP), (0.5, 0.25, 0.25))[0]
        obligations.append(Obligation(
            id=f"duty-{i:05d}", item=i % 24 + 1, title=f"职责 {i}", source="bench",
            every=every, owner=f"role-{i % 7}", due=due, rrule=rule,
            remind_days=(7, 1), if_not_workday=shift,
        ))
    return Plan(
        title="bench", year=YEAR, file="<bench>", calendar=CalendarSpec(country="CN"),
        roles={f"role-{i}": f"角色 {i}" for i in range(7)}, obligations=tuple(obligations),
    )


# --- the dateutil baseline -------------------------------------------------------------------


def dateutil_rule(ob: Obligation) -> tuple[du.rrule | du.rruleset, bool]:
    """The nearest dateutil rule for ``ob``, and whether it is exactly equivalent (it is not
    for working-day rules: dateutil knows Monday–Friday, not holidays or 调休 days)."""
    if ob.every == Cadence.RRULE:
        return du.rrulestr(ob.rrule, dtstart=DT_START), True
    rule = ob.due
    if ob.every == Cadence.ONCE:
        on = rule.on
        return du.rrule(du.DAILY, count=1, dtstart=datetime(on.year, on.month, on.day)), True
    if ob.every == Cadence.WEEK:
        if rule.workday is not None:
            setpos = -1 if rule.workday < 0 else rule.workday
            return du.rrule(du.WEEKLY, byweekday=MON_FRI, bysetpos=setpos, dtstart=DT_START), False
        weekday = rule.weekday if rule.weekday is not None else 4
        return du.rrule(du.WEEKLY, byweekday=DU_WEEKDAYS[weekday], dtstart=DT_START), True
    span = ob.every.months
    ordinal = rule.month if rule.month is not None else span
    months = tuple(range(ordinal, 13, span))
    if rule.workday is not None:
        return du.rrule(du.MONTHLY, bymonth=months, byweekday=MON_FRI, bysetpos=rule.workday,
                        dtstart=DT_START), False
    if rule.weekday is not None:
        day = DU_WEEKDAYS[rule.weekday](rule.nth or 1)
        return du.rrule(du.MONTHLY, bymonth=months, byweekday=day, dtstart=DT_START), True
    monthday = -1 if rule.day in (None, LAST_DAY) else rule.day
    return du.rrule(du.MONTHLY, bymonth=months, bymonthday=monthday, dtstart=DT_START), True


def run_dateutil(plan: Plan) -> tuple[int, dict[str, tuple[datetime, ...]], dict[str, bool]]:
    total, dates, exact = 0, {}, {}
    for ob in plan.obligations:
        rule, is_exact = dateutil_rule(ob)
        found = tuple(rule.between(DT_START, DT_END, inc=True))
        total += len(found)
        dates[ob.id] = found
        exact[ob.id] = is_exact
    return total, dates, exact


# --- planbell --------------------------------------------------------------------------------


def run_planbell(plan: Plan):
    expand_module._rrule_days.cache_clear()  # every run cold: parse and expand each rrule anew
    calendar = WorkdayCalendar(plan.calendar)
    return expand(plan, START, END, calendar=calendar), calendar


def best_of_interleaved(*jobs):
    """Best time of RUNS runs of each job, and each job's last result. The jobs take turns, so
    load from elsewhere on the machine falls on both sides of the ratio alike."""
    best, results = [float("inf")] * len(jobs), [None] * len(jobs)
    for _ in range(RUNS):
        for i, job in enumerate(jobs):
            t0 = time.perf_counter()
            results[i] = job()
            best[i] = min(best[i], time.perf_counter() - t0)
    return list(zip(best, results, strict=True))


def main() -> None:
    t0 = time.perf_counter()
    plan = build_plan()
    mix = Counter(ob.every.value for ob in plan.obligations)
    shifts = Counter(ob.if_not_workday.value for ob in plan.obligations)
    print(f"plan: {len(plan.obligations)} obligations built in {time.perf_counter() - t0:.2f} s")
    print("  cadences: " + ", ".join(f"{c}={n}" for c, n in sorted(mix.items())))
    print("  if_not_workday: " + ", ".join(f"{s}={n}" for s, n in sorted(shifts.items())))

    (pb_time, (occurrences, calendar)), (du_time, (du_total, du_dates, exact)) = best_of_interleaved(
        lambda: run_planbell(plan), lambda: run_dateutil(plan)
    )
    pb_rate = len(occurrences) / pb_time
    shifted = sum(o.shifted for o in occurrences)
    print(f"planbell expand(): {len(occurrences)} occurrences ({shifted} shifted off days off) "
          f"in {pb_time:.3f} s (best of {RUNS}) = {pb_rate:,.0f} occurrences/s")

    du_rate = du_total / du_time
    print(f"dateutil rrule.between(): {du_total} dates in {du_time:.3f} s (best of {RUNS}) "
          f"= {du_rate:,.0f} dates/s  [no holiday calendar, no occurrence records]")

    # Same number of dates per obligation where the rule is exactly equivalent and nothing moves.
    per_ob = Counter(o.obligation for o in occurrences)
    has_shift = {o.obligation for o in occurrences if o.shifted}
    compared = skipped_approx = skipped_shift = 0
    mismatches = []
    for ob in plan.obligations:
        if not exact[ob.id]:
            skipped_approx += 1
            continue
        found = du_dates[ob.id]
        # A shift can move a date into or out of the year, so an obligation whose dates may
        # move (any nominal date on a day off, unless it keeps them) is not compared.
        if ob.if_not_workday != Shift.KEEP and (
            ob.id in has_shift or not all(calendar.is_workday(d.date()) for d in found)
        ):
            skipped_shift += 1
            continue
        compared += 1
        if per_ob[ob.id] != len(found):
            mismatches.append((ob.id, per_ob[ob.id], len(found)))
    print(f"per-obligation date counts: {compared} compared, {skipped_approx} skipped "
          f"(working-day rules, only approximated by dateutil), {skipped_shift} skipped "
          f"(holiday-shifted)")
    for ob_id, mine, theirs in mismatches[:10]:
        print(f"  mismatch {ob_id}: planbell {mine}, dateutil {theirs}")
    print(f"mismatches={len(mismatches)}")
    print(f"total wall time {time.perf_counter() - t0:.1f} s")
    # The baseline does less work (no holiday calendar, no shifting, no occurrence records),
    # so a ratio of 0.5 or more means planbell's extra work costs at most as much again.
    print(f"ratio={pb_rate / du_rate:.2f}")


if __name__ == "__main__":
    main()
