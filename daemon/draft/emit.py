"""Writing the drafted schedule as YAML text, in the layout of the hand-written plan: plan head,
roles, then obligations and targets under comments that keep the plan's sections and items.

The text is built line by line (not by yaml.dump) so that comments can be placed, and so the
same draft gives the same bytes on every run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from daemon.draft.build import Draft, Duty, Quota
from daemon.plan.hints import PER_PERSON_WORDING

INDENT = "    "
_PLAIN_UNSAFE = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`\s]|: | #|:$|\s$|^$")
_NOT_STRING = re.compile(r"^(?:[-+]?[\d._]+(?:[eE][-+]?\d+)?|0x[\da-fA-F]+|(?i:true|false|yes|no|on|off|null|~)|\d{4}-\d\d?-\d\d?.*)$")

# The plan defaults of a fresh draft: the reasoning of the bundled plan, which the review
# chapter of docs/schedule-guide.zh.md asks the admin to confirm.
DEFAULTS = """\
  defaults:
    send_at: "09:00"          # people are at their desks; nothing goes out at midnight
    remind: [7d, 1d]          # a week to prepare, the day before to catch what slipped
    escalate: {{after: 3d, to: {escalate_to}}}
    if_not_workday: previous  # a due day off moves earlier and stays inside its period
    opens: period
    due:                      # 待确认: 各周期的默认完成日
      week: {{weekday: fri}}
      month: {{day: 25}}
      quarter: {{month: 3, day: 20}}
      half-year: {{month: 6, day: 20}}
      year: {{month: 12, day: 20}}
"""


@dataclass
class Entry:
    """One obligation or target as YAML lines (list item at two spaces), placed by item."""

    item: int
    lines: list[str]
    kind: str  # "obligations" | "targets"


@dataclass
class Head:
    """Parts of the plan head a previous schedule may supply as its own lines."""

    defaults: list[str] | None = None
    calendar: list[str] | None = None
    timezone: str = "Asia/Shanghai"
    roles: list[str] | None = None  # the `roles:` block, its comments kept
    role_ids: tuple[str, ...] = ()  # the roles that block declares
    notes: list[str] = field(default_factory=list)  # lines for after the entries (gone, …)


def scalar(text: str) -> str:
    if _PLAIN_UNSAFE.search(text) or _NOT_STRING.match(text) or any(ord(c) < 32 for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def duty_lines(duty: Duty, ident: str, year: int) -> list[str]:
    due = f"{year}-{duty.month_day[0]:02d}-{duty.month_day[1]:02d}" if duty.month_day else duty.due
    notes = [n for n in duty.notes if not n.startswith("待确认: 责任主体")]
    lines = [f"  - id: {ident}", f"{INDENT}item: {duty.item}", f"{INDENT}title: {scalar(duty.title)}",
             f"{INDENT}source: {scalar(duty.source)}", f"{INDENT}every: {_cadence(duty.every)}"]
    if due:
        lines.append(f"{INDENT}due: {due}")
    if notes:
        lines[-1] += "  # " + ";".join(notes)
    lines.append(_owner_line(duty.owner, duty.notes))
    return lines


def _cadence(every: str) -> str:
    return f'"{every}"' if every.startswith("rrule:") else every


def id_stem(item: int, every: str) -> str:
    return f"item{item}-{'rrule' if every.startswith('rrule:') else every}"


def quota_lines(quota: Quota, ident: str) -> list[str]:
    lines = [f"  - id: {ident}", f"{INDENT}item: {quota.item}", f"{INDENT}title: {scalar(quota.title)}",
             f"{INDENT}source: {scalar(quota.source)}", f"{INDENT}{quota.comparator}: {number(quota.value)}",
             f"{INDENT}unit: {scalar(quota.unit)}"]
    if quota.period and quota.period != "year":
        lines.append(f"{INDENT}period: {quota.period}")
    lines.append(_owner_line(quota.owner, quota.notes))
    if PER_PERSON_WORDING.search(quota.source):  # 每人…: each holder's own figure
        lines.append(f"{INDENT}per: {quota.owner}  # 按人计:每人各有自己的进度,各自填报")
    return lines


def _owner_line(owner: str, notes: list[str]) -> str:
    unsure = [n for n in notes if n.startswith("待确认: 责任主体")]
    return f"{INDENT}owner: {owner}" + (f"  # {unsure[0]}" if unsure else "")


def render(draft: Draft, document: str | None, entries: list[Entry], head: Head, origin: str) -> str:
    out = [
        f"# {draft.title} → planbell 日程(planbell draft 起草,上线前请逐条核对)",
        f"# 起草自:{origin}",
        "# 核对清单见 docs/schedule-guide.zh.md「每年新要点下发后」:搜索“待确认”和“未识别”逐条处理。",
        "",
        "plan:",
        f"  title: {scalar(draft.title)}",
        f"  year: {draft.year}",
        f"  timezone: {head.timezone}",
    ]
    if document:
        out.append(f"  document: {scalar(document)}")
    out += head.calendar or ["  calendar:", "    country: CN", "    extra_holidays: []", "    extra_workdays: []"]
    out += head.defaults or DEFAULTS.format(escalate_to=draft.escalate_to).splitlines()
    out.append("  items:")
    out += [f"    {item.number}: {scalar(item.title)}" for item in draft.items]
    out += [""] + (head.roles or ["roles:"])
    out += [f"  {ident}: {scalar(name)}" for ident, name in draft.roles.items() if ident not in head.role_ids]
    out += ["", "obligations:"]
    out += _section(draft, [e for e in entries if e.kind == "obligations"], with_unrecognised=True)
    out += head.notes
    targets = [e for e in entries if e.kind == "targets"]
    out += ["", "targets:" if targets else "targets: []"]
    out += _section(draft, targets, with_unrecognised=False)
    return "\n".join(out).rstrip() + "\n"


def _section(draft: Draft, entries: list[Entry], with_unrecognised: bool) -> list[str]:
    out: list[str] = []
    if with_unrecognised and draft.unrecognised.get(0):
        out.append("  # 未识别(第一条之前):")
        out += [f"  # 未识别: {s}" for s in draft.unrecognised[0]]
    sections: tuple[str, ...] = ()
    for item in draft.items:
        mine = [e for e in entries if e.item == item.number]
        unread = draft.unrecognised.get(item.number, []) if with_unrecognised else []
        if not mine and not unread and not with_unrecognised:
            continue
        for depth, heading in enumerate(item.sections):
            if sections[depth:depth + 1] != (heading,):
                out.append(f"  # {'-' * (60 - 20 * depth)} {heading}")
        sections = item.sections
        out.append(f"  # {item.label}{item.title}" if item.label else f"  # {item.title}")
        for entry in mine:
            out += entry.lines
            out.append("")
        out += [f"  # 未识别: {s}" for s in unread]
        if unread or not mine:
            out.append("")
    while out and out[-1] == "":
        out.pop()
    return out


def fresh_entries(draft: Draft) -> list[Entry]:
    """Entries of a draft with no previous schedule: ids from item and cadence."""
    used: dict[str, int] = {}

    def ident(stem: str) -> str:
        used[stem] = used.get(stem, 0) + 1
        return f"{stem}-{used[stem]}"

    entries = [Entry(d.item, duty_lines(d, ident(id_stem(d.item, d.every)), draft.year), "obligations") for d in draft.duties]
    entries += [Entry(q.item, quota_lines(q, ident(f"item{q.item}-target")), "targets") for q in draft.quotas]
    return entries
