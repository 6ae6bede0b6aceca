"""`--like`: carry last year's choices into this year's draft.

A drafted clause that matches one of last year's obligations or targets (similar `source`,
same item) keeps its id, title, owner, due, remind, escalate, participants … and comments,
written exactly as last year. Last year's duties the grammar does not find are kept while their
sentence is still in the text (the admin read it as a duty) or while they rest on a `basis`
outside the text; the rest are reported as gone.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from daemon.draft.blocks import (
    EntryBlock,
    entry_blocks,
    first_key_line,
    key_block,
    shift,
    trim_tail,
)
from daemon.draft.build import Draft, Duty, Quota
from daemon.draft.emit import INDENT, Entry, Head, duty_lines, id_stem, number, quota_lines, scalar
from daemon.plan.errors import ErrorList
from daemon.plan.loader import load_plan_file
from daemon.plan.model import Cadence, Obligation, Plan, Target
from daemon.plan.yamlsafe import YMap, load_yaml

OBLIGATION_ORDER = ("id", "item", "title", "source", "basis", "every", "due", "opens", "owner", "lead",
                    "each", "participants", "for_each", "remind", "escalate", "if_not_workday")
TARGET_ORDER = ("id", "item", "title", "source", "basis", "at_least", "at_most", "exactly", "reduce_by",
                "unit", "period", "owner", "per", "report")
# Below this, two sources are different duties (on the bundled plan, the pairs a person would
# match all score ≥ 0.8; 青年座谈会 / 青年读书会 score 0.6).
MIN_SIMILARITY = 0.7


@dataclass
class Changes:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # carried although the grammar did not find them
    declined: list[str] = field(default_factory=list)  # drafted, but left out by last year's reading
    matched: int = 0


@dataclass
class _Old:
    kind: str  # obligations | targets
    model: Obligation | Target
    block: EntryBlock | None
    raw: list[str]  # the entry's own lines, re-indented (for entries carried whole)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# What every clause of the genre shares (每月开展1次…) says nothing about which duty it is.
_BOILERPLATE = re.compile(r"每[周月年]|每个?季度?|每半年|[\d.]+[%％]?|[一两二三四五六七八九十]?次|开展|组织|召开|举办|进行|不少于|不低于|同比")


def content(text: str) -> str:
    return _BOILERPLATE.sub("", squash(text))


def similarity(a: str, b: str) -> float:
    """How alike two sources are, the cadence, counts and figures left out: a duty whose
    cadence or figure changed is still the same duty."""
    a, b = content(a), content(b)
    if a == b:
        return 1.0
    if a in b or b in a:
        return 0.8 + 0.2 * min(len(a), len(b)) / max(len(a), len(b))
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def merge(draft: Draft, document: str, like: Path) -> tuple[list[Entry], Head, Changes]:
    plan, _warnings = load_plan_file(like)
    text = like.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    root = load_yaml(text, ErrorList(str(like)))
    olds = _old_entries(plan, root, lines)
    _adopt_role_ids(draft, plan)
    doc = squash(document)
    items_text = {item.number: squash("".join(item.sentences)) for item in draft.items}
    changes = Changes()
    entries: list[Entry] = []
    used_ids = {o.model.id for o in olds}

    for kind, drafted in (("obligations", draft.duties), ("targets", draft.quotas)):
        candidates = [o for o in olds if o.kind == kind and not o.model.basis]
        pairs = _match(drafted, candidates, plan, draft)
        taken_old = {id(o) for group in pairs.values() for o in group}
        read_sources = [squash(o.model.source) for group in pairs.values() for o in group]
        for index, new in enumerate(drafted):
            group = pairs.get(index)
            if group:
                changes.matched += len(group)
                for old in group:
                    carried = _carried(new, old, doc, draft.year, changes)
                    carried.lines[:] = _next_year(carried.lines, old.model, plan.year, draft.year)
                    entries.append(carried)
            elif any(squash(new.source) in s or s in squash(new.source) for s in read_sources):
                changes.declined.append(f"第{new.item}条 {new.title}({new.source})")
                entries.append(Entry(new.item, [f"  # 去年同句未列入,沿用去年的取舍: {new.source}"], kind))
            else:
                stem = id_stem(new.item, new.every) if kind == "obligations" else f"item{new.item}-target"
                ident = _fresh_id(stem, used_ids)
                lines_new = duty_lines(new, ident, draft.year) if kind == "obligations" else quota_lines(new, ident)
                changes.new.append(f"{ident}  第{new.item}条 {new.title}({new.source})")
                entries.append(Entry(new.item, lines_new, kind))
        for old in (o for o in olds if o.kind == kind and id(o) not in taken_old):
            source = squash(old.model.source)
            if old.model.basis or source in doc:
                item = _new_item(old.model, plan, draft, items_text)
                why = "依据 basis" if old.model.basis else "原文仍有此句"
                changes.kept.append(f"{old.model.id}  {old.model.title}({why})")
                entries.append(Entry(item, _next_year(_whole(old, item), old.model, plan.year, draft.year), kind))
            else:
                changes.gone.append(f"{old.model.id}  {old.model.title}({old.model.source})")
    head = _head(plan, root, lines, draft, changes)
    return entries, head, changes


def _old_entries(plan: Plan, root: YMap, lines: list[str]) -> list[_Old]:
    ends = sorted(root.key_lines.values())
    out = []
    for kind, models in (("obligations", plan.obligations), ("targets", plan.targets)):
        seq = root.entries.get(kind)
        if seq is None or not getattr(seq, "items", None):
            continue
        following = [n for n in ends if n > root.key_lines[kind]]
        end = following[0] - 1 if following else len(lines)
        blocks = entry_blocks(lines, seq, end)
        starts = [item.line - 1 for item in seq.items] + [end]
        for i, (model, block) in enumerate(zip(models, blocks, strict=True)):
            own, _ = trim_tail(lines[starts[i]:starts[i + 1]])
            raw = block.leading + first_key_line(block.whole) if block else shift(own, 2 - (len(own[0]) - len(own[0].lstrip())))
            out.append(_Old(kind, model, block, raw))
    return out


def _adopt_role_ids(draft: Draft, plan: Plan) -> None:
    """Roles keep last year's ids (and the names the office gave them); new ones are added."""
    by_name = {name: ident for ident, name in plan.roles.items()}
    rename = {ident: by_name[name] for ident, name in draft.roles.items() if name in by_name and by_name[name] != ident}
    for entry in (*draft.duties, *draft.quotas):
        entry.owner = rename.get(entry.owner, entry.owner)
    draft.escalate_to = rename.get(draft.escalate_to, draft.escalate_to)
    roles = dict(plan.roles)
    for ident, name in draft.roles.items():
        roles.setdefault(rename.get(ident, ident), name)
    draft.roles = roles


def _match(drafted: list, olds: list[_Old], plan: Plan, draft: Draft) -> dict[int, list[_Old]]:
    """Drafted index → last year's entries it continues. One-to-one, best pairs first; a
    clause last year split into several entries (one per person group, one per figure)
    takes all of them."""
    new_titles = {item.number: item.title for item in draft.items}
    scored = []
    for i, new in enumerate(drafted):
        for j, old in enumerate(olds):
            score = similarity(new.source, old.model.source)
            if score < MIN_SIMILARITY:
                continue
            if old.model.item == new.item or plan.items.get(old.model.item) == new_titles.get(new.item):
                score += 0.05
            if _same_rule(new, old.model):
                score += 0.05
            scored.append((-score, i, j))
    pairs: dict[int, list[_Old]] = {}
    taken: set[int] = set()
    for _, i, j in sorted(scored):
        if i in pairs or j in taken:
            continue
        pairs[i] = [olds[j]]
        taken.add(j)
    for i, group in pairs.items():
        for j, old in enumerate(olds):
            if j not in taken and squash(old.model.source) == squash(group[0].model.source) and _same_rule(drafted[i], old.model):
                group.append(old)
                taken.add(j)
    return pairs


def _same_rule(new: Duty | Quota, old: Obligation | Target) -> bool:
    if isinstance(new, Duty):
        return new.every == _every(old)
    return (new.comparator, new.value, new.unit) == (old.comparator.value, old.value, old.unit) or (
        isinstance(old, Target) and old.unit == new.unit and old.comparator.value == new.comparator
    )


def _every(old: Obligation) -> str:
    return f"rrule:{old.rrule}" if old.rrule else old.every.value


def _carried(new: Duty | Quota, old: _Old, doc: str, year: int, changes: Changes) -> Entry:
    model = old.model
    if old.block is None:  # written in flow style: keep what can be kept without its lines
        ident = model.id
        lines = duty_lines(new, ident, year) if isinstance(new, Duty) else quota_lines(new, ident)
        lines[2] = f"{INDENT}title: {scalar(model.title)}"
        lines[-1] = f"{INDENT}owner: {model.owner}  # 去年为单行写法:due、remind 等请对照去年补上"
        return Entry(new.item, lines, old.kind)
    keys = old.block.keys
    source_kept = squash(model.source) in doc
    generated: dict[str, str] = {}
    if model.item != new.item:
        generated["item"] = f"{INDENT}item: {new.item}"
    if not source_kept:
        generated["source"] = f"{INDENT}source: {scalar(new.source)}"
    what = []
    if isinstance(new, Duty):
        if new.every != _every(model):
            what.append(f"周期 {_every(model)} → {new.every}")
            generated["every"] = duty_lines(new, model.id, year)[4]
            if "due" in keys:
                generated["due"] = f"{INDENT}# 待确认: 去年的 due 按 {_every(model)} 写,周期已变,请重定完成日"
        order = OBLIGATION_ORDER
    else:
        figure_old = (model.comparator.value, model.value, model.unit)
        if (new.comparator, new.value, new.unit) != figure_old:
            what.append(f"指标 {model.comparator.value} {number(model.value)}{model.unit} → {new.comparator} {number(new.value)}{new.unit}")
            for comparator in ("at_least", "at_most", "exactly", "reduce_by"):
                generated[comparator] = ""
            generated[new.comparator] = f"{INDENT}{new.comparator}: {number(new.value)}"
            generated["unit"] = f"{INDENT}unit: {scalar(new.unit)}"
        order = TARGET_ORDER
    if not source_kept and content(new.source) != content(model.source):
        what.append("原文措辞有改动")
    if what:
        changes.changed.append(f"{model.id}  {model.title}:{';'.join(what)}")
    lines: list[str] = []
    for key in order:
        if key in generated:
            lines += [generated[key]] if generated[key] else []
        elif key in keys:
            lines += keys[key]
    return Entry(new.item, old.block.leading + first_key_line(lines), old.kind)


def _next_year(lines: list[str], model, last: int, year: int) -> list[str]:
    """A one-off duty's date (every: once, due: 2026-03-31) moved into the new plan's year,
    marked for the admin to confirm: last year's date would not validate."""
    if year == last or getattr(model, "every", None) != Cadence.ONCE:
        return lines
    pattern = re.compile(rf"^(\s*due:\s*){last}-(\d{{2}}-\d{{2}})\b(.*)$")
    out = []
    for line in lines:
        match = pattern.match(line)
        if match:
            try:
                moved = date.fromisoformat(f"{year}-{match.group(2)}").isoformat()
            except ValueError:  # 29 February
                moved = f"{year}-02-28"
            line = f"{match.group(1)}{moved}  # 待确认: 去年为 {last}-{match.group(2)},已移到 {year} 年"
        out.append(line)
    return out


def _whole(old: _Old, item: int) -> list[str]:
    lines = list(old.raw)
    if item != old.model.item:
        lines = [re.sub(r"^(\s*(?:- )?)item:\s*\d+", rf"\g<1>item: {item}", line) for line in lines]
    return lines


def _new_item(model: Obligation | Target, plan: Plan, draft: Draft, items_text: dict[int, str]) -> int:
    source = squash(model.source)
    for number_, text in items_text.items():
        if source in text:
            return number_
    title = plan.items.get(model.item)
    for item in draft.items:
        if item.title == title:
            return item.number
    return model.item if any(i.number == model.item for i in draft.items) else draft.items[0].number


def _fresh_id(stem: str, used: set[str]) -> str:
    k = 1
    while f"{stem}-{k}" in used:
        k += 1
    used.add(f"{stem}-{k}")
    return f"{stem}-{k}"


def _head(plan: Plan, root: YMap, lines: list[str], draft: Draft, changes: Changes) -> Head:
    head_map = root.entries["plan"]
    ends = sorted(root.key_lines.values())
    following = [n for n in ends if n > root.key_lines["plan"]]
    end = following[0] - 1 if following else len(lines)
    defaults = key_block(lines, head_map, "defaults", end, 2) if isinstance(head_map, YMap) else None
    calendar = None
    if plan.year == draft.year and isinstance(head_map, YMap):
        calendar = key_block(lines, head_map, "calendar", end, 2)
    elif plan.calendar.extra_holidays or plan.calendar.extra_workdays:
        calendar = ["  calendar:", f"    country: {plan.calendar.country}",
                    f"    # 去年的 extra_holidays / extra_workdays 是 {plan.year} 年的,已清空;请按今年的放假通知填写",
                    "    extra_holidays: []", "    extra_workdays: []"]
    notes = []
    if changes.gone:
        notes += ["", "  # 去年有、今年要点中已找不到的职责和指标(已删去,请确认):"]
        notes += [f"  #   {g}" for g in changes.gone]
    roles_end = [n for n in ends if n > root.key_lines.get("roles", len(lines) + 1)]
    roles = key_block(lines, root, "roles", roles_end[0] - 1 if roles_end else len(lines), 0) if "roles" in root.entries else None
    return Head(defaults=defaults, calendar=calendar, timezone=plan.timezone, notes=notes,
                roles=roles, role_ids=tuple(plan.roles) if roles else ())
