"""From the plan's layout to the drafted duties and quotas: one obligation per cadence clause,
one target per quantity, and every sentence with a cadence word or number left unread listed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from daemon.draft import roles as lexicon
from daemon.draft.grammar import (
    CADENCE_CUES,
    NUMBER_CUES,
    Cadence,
    Quantity,
    cadences,
    count_after,
    quantities,
    quoted,
)
from daemon.draft.layout import Item, Layout, split_outside

PERIODS = ("week", "month", "quarter", "half-year", "year")
_MONTHS = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}
_BY_MONTHS = {1: "month", 3: "quarter", 6: "half-year", 12: "year"}
_CLAUSE_SEPARATORS = ",，:："
_LEAD_VERB = re.compile(r"^(?:并|要|须|必须|坚持|及时|分别|均|都|全年|年内)*(?:开展|组织|召开|举办|进行|实行|实施|推行|落实|完成)?")
_TRIM = "，,、:：;；。 "
# The longest source a schedule accepts; a longer clause is quoted from its start, which is
# still a verbatim part of the plan.
MAX_SOURCE = 500
UNSURE_OWNER = "待确认: 责任主体"


@dataclass
class Duty:
    item: int
    title: str
    source: str
    every: str
    owner: str
    due: str | None = None
    month_day: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Quota:
    item: int
    title: str
    source: str
    comparator: str
    value: float
    unit: str
    owner: str
    period: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Draft:
    title: str
    year: int
    items: list[Item]
    roles: dict[str, str]  # id → Chinese name, in order of first use
    default_owner: str
    escalate_to: str
    duties: list[Duty]
    quotas: list[Quota]
    unrecognised: dict[int, list[str]]  # item number (0: before the first item) → sentences


class _Reader:
    def __init__(self, layout: Layout):
        self.layout = layout
        everything = [s for item in layout.items for s in item.sentences] + layout.preamble
        self.teams: dict[str, str] = {}
        for sentence in everything:
            for team in lexicon.new_teams(sentence):
                self.teams.setdefault(team, f"team-{len(self.teams) + 1}")
        self.top = self._top_body(everything)
        self.roles: dict[str, str] = {}
        self.duties: list[Duty] = []
        self.quotas: list[Quota] = []
        self.unrecognised: dict[int, list[str]] = {}

    def _top_body(self, sentences: list[str]) -> tuple[str, str, str, str]:
        seen = {m.role: m.name for s in sentences for m in lexicon.mentions(s, self.teams)}
        for body, secretary, secretary_name in lexicon.TOP_BODIES:
            if body in seen:
                return body, seen[body], secretary, secretary_name
        return lexicon.FALLBACK_BODY

    def owner(self, mention: lexicon.RoleMention | None, notes: list[str]) -> str:
        if mention is None:
            notes.append(UNSURE_OWNER)
            body, name = self.top[0], self.top[1]
            self.roles.setdefault(body, name)
            return body
        self.roles.setdefault(mention.role, mention.name)
        return mention.role

    def read(self, number: int, sentence: str) -> None:
        consumed: list[tuple[int, int]] = []
        clauses = split_outside(sentence, _CLAUSE_SEPARATORS)
        for index, (a, b) in enumerate(clauses):
            for sa, sb in _split_cadences(sentence[a:b]):
                start = a + sa
                previous = clauses[index - 1][0] if index else None
                consumed += [(start + x, start + y) for x, y in self._clause(number, sentence, start, a + sb, previous)]
        left = [m.group() for m in _cues(sentence) if not _inside(m.start(), consumed)]
        if left:
            self.unrecognised.setdefault(number, []).append(f"({'、'.join(dict.fromkeys(left))}) {sentence}")

    def _clause(self, number: int, sentence: str, start: int, end: int, previous: int | None) -> list[tuple[int, int]]:
        """Read one clause; returns the spans it used (relative to the clause)."""
        clause = sentence[start:end]
        found = cadences(clause)
        spans = [(c.start, c.end) for c in found]
        counts = {}
        for cadence in found:
            count = count_after(clause, cadence)
            if count:
                counts[cadence.start] = count
                spans.append(count[:2])
        quotas = quantities(clause, spans)
        spans += [(q.start, q.end) for q in quotas]
        # What the title leaves out: cadence words and figures, but not 年度 of "年度考核".
        cut = [s for s in spans if s not in {(c.start, c.end) for c in found if c.in_title}]
        periodic = [c for c in found if c.every in PERIODS]
        other = [c for c in found if c.every not in PERIODS]
        if quotas:
            period = periodic[0].every if periodic else None
            for quota in quotas:
                self._quota(number, sentence, start, end, previous, quota, period, cut)
            if other:
                self._duty(number, sentence, start, end, previous, other[0], None, cut)
        elif found:
            chosen = (periodic or other)[0]
            self._duty(number, sentence, start, end, previous, chosen, counts.get(chosen.start), cut)
        return spans

    def _source_and_title(self, sentence, start, end, previous, cut) -> tuple[str, str]:
        clause = sentence[start:end]
        title = _title(clause, cut)
        if len(re.findall(r"[\u4e00-\u9fff]", title)) < 2 and previous is not None:
            return sentence[previous:end].strip(_TRIM)[:MAX_SOURCE], _title(sentence[previous:start], [])
        return clause.strip(_TRIM)[:MAX_SOURCE], title or clause.strip(_TRIM)[:40]

    def _duty(self, number, sentence, start, end, previous, cadence: Cadence, count, spans) -> None:
        source, title = self._source_and_title(sentence, start, end, previous, spans)
        notes = [cadence.note] if cadence.note else []
        every, due = cadence.every, cadence.due
        if count and count[2] > 1 and every in _MONTHS and not due:
            every, due, note = _per_period(every, due, count[2], count[3])
            if note:
                notes.append(note)
        mention = lexicon.subject(sentence[start:end], sentence[:start], cadence.start, self.teams)
        owner = self.owner(mention, notes)
        self.duties.append(Duty(number, title, source, every, owner, due, cadence.month_day, notes))

    def _quota(self, number, sentence, start, end, previous, quota: Quantity, period, spans) -> None:
        source, title = self._source_and_title(sentence, start, end, previous, spans)
        notes: list[str] = []
        mention = lexicon.subject(sentence[start:end], sentence[:start], quota.start, self.teams)
        owner = self.owner(mention, notes)
        self.quotas.append(Quota(number, title, source, quota.comparator, quota.value, quota.unit, owner, period, notes))


def build(layout: Layout) -> Draft:
    reader = _Reader(layout)
    for sentence in layout.preamble:
        left = [m.group() for m in _cues(sentence)]
        if left:
            reader.unrecognised.setdefault(0, []).append(f"({'、'.join(dict.fromkeys(left))}) {sentence}")
    for item in layout.items:
        for sentence in item.sentences:
            reader.read(item.number, sentence)
    body, body_name, secretary, secretary_name = reader.top
    roles = {body: body_name, **reader.roles}
    roles.setdefault(secretary, secretary_name)
    return Draft(
        title=layout.title, year=layout.year, items=layout.items, roles=roles,
        default_owner=body, escalate_to=secretary, duties=reader.duties, quotas=reader.quotas,
        unrecognised=reader.unrecognised,
    )


def _split_cadences(clause: str) -> list[tuple[int, int]]:
    """Two cadences in one clause (每月开展1次日常督查、每季度开展1次专项督查) make two
    clauses, cut at the last 、/和/及 between them."""
    found = cadences(clause)
    cuts = []
    for first, second in zip(found, found[1:], strict=False):
        between = clause[first.end:second.start]
        at = max(between.rfind(sep) for sep in "、和及")
        if at >= 0:
            cuts.append(first.end + at)
    bounds = [0, *cuts, len(clause)]
    return [(bounds[i] + (1 if i else 0), bounds[i + 1]) for i in range(len(bounds) - 1)]


def _per_period(every: str, due: str | None, count: int, unit: str) -> tuple[str, str | None, str | None]:
    """每年2次 is every half-year; 每月2次 has no cadence of its own and says so."""
    months = _MONTHS[every]
    if unit == "次" and months % count == 0 and months // count in _BY_MONTHS:
        return _BY_MONTHS[months // count], None, None
    return every, due, f"待确认: 原文每期{count}{unit}"


def _title(clause: str, spans: list[tuple[int, int]]) -> str:
    quotes = quoted(clause)
    kept = "".join(ch for i, ch in enumerate(clause) if not _inside(i, spans) or _inside(i, quotes))
    kept = _LEAD_VERB.sub("", kept.strip(_TRIM), count=1).strip(_TRIM)
    if kept.startswith("“") and kept.endswith("”") and kept.count("“") == 1:
        kept = kept[1:-1]
    return kept[:40]


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= position < b for a, b in spans)


def _cues(sentence: str):
    quotes = quoted(sentence)
    for pattern in (CADENCE_CUES, NUMBER_CUES):
        for match in pattern.finditer(sentence):
            if not _inside(match.start(), quotes):
                yield match
