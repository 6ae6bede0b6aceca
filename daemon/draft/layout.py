"""The shape of a 工作要点: title and year, sections, numbered items, and each item's sentences.

Three numbering styles are common and nest: ``一、`` (sections), ``（一）`` and ``1.``. The
items are the deepest level that carries headings of its own (``（一）`` when present, else
``1.``, else ``一、``); the levels above become section comments, a level below is body text.
Line breaks inside a sentence (PDF lines, hard-wrapped text files) are joined, and spaces next
to Chinese text dropped: `validate` compares sources with all whitespace removed, so every
sentence read here is still found in the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from daemon.draft.reading import PAGE_NUMBER, DraftInputError

_CN = "一二三四五六七八九十"
SECTION = re.compile(rf"^([{_CN}]{{1,3}})[、.．]\s*(\S.*)$")
PAREN = re.compile(rf"^[（(]([{_CN}]{{1,3}})[）)]\s*(\S.*)$")
ARABIC = re.compile(r"^(\d{1,2})\s*[.．、](?!\d)\s*(\S.*)$")
_YEAR = re.compile(r"(20\d{2})\s*年")
_SENTENCE_END = "。！？；!?;"
_OPENERS = {"“": "”", "《": "》", "（": "）", "(": ")", "【": "】", "「": "」", "‘": "’"}
_SPACE_NEAR_CJK = re.compile(r"(?<=[^\x00-\x7f])[ \t\u3000\u00a0]+|[ \t\u3000\u00a0]+(?=[^\x00-\x7f])")
# A heading reads as a short title; a longer numbered line is a paragraph ("1.每月开展…。").
MAX_HEADING_CHARS = 40


@dataclass
class Item:
    number: int  # 1, 2, 3 … in document order: the `item:` of the schedule
    label: str  # as numbered in the text: "1.", "（三）", "二、"
    title: str
    sections: tuple[str, ...] = ()  # the headings above it, outermost first
    sentences: list[str] = field(default_factory=list)


@dataclass
class Layout:
    title: str
    year: int
    items: list[Item]
    preamble: list[str]  # sentences before the first item


def read_layout(text: str, name: str) -> Layout:
    lines = [_tidy(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise DraftInputError(f"{name}:文件里没有文字;请确认下发的要点已完整保存")
    title = _short(lines[0])
    year = _year(lines[:3])
    if year is None:
        raise DraftInputError(f"{name}:开头几行里找不到年度(如“2027年……工作要点”);请在第一行写明年度后重试")
    body = [line for line in lines[1:] if line != lines[0]]
    kinds = [_kind(line) for line in body]
    present = {k for k in kinds if k}
    item_kind = next((k for k in ("paren", "arabic", "section") if k in present), None)
    if item_kind is None:
        item = Item(1, "", _short(title))
        item.sentences = sentences(body)
        return Layout(title, year, [item], [])
    outer = [k for k in ("section", "paren", "arabic") if k in present]
    outer = outer[: outer.index(item_kind)]
    items: list[Item] = []
    preamble: list[str] = []
    open_sections: dict[str, str] = {}
    buffer: list[str] = []

    def flush() -> None:
        (items[-1].sentences if items else preamble).extend(sentences(buffer))
        buffer.clear()

    for line, kind in zip(body, kinds, strict=True):
        if kind in outer:
            flush()
            open_sections[kind] = line
            for deeper in outer[outer.index(kind) + 1:]:
                open_sections.pop(deeper, None)
        elif kind == item_kind:
            flush()
            label, heading, rest = _split_heading(line, kind)
            items.append(Item(len(items) + 1, label, heading, tuple(open_sections[k] for k in outer if k in open_sections)))
            if rest:
                buffer.append(rest)
        else:
            buffer.append(line)
    flush()
    return Layout(title, year, items, preamble)


def _tidy(line: str) -> str:
    # A schedule's texts hold no control characters; `validate` ignores whitespace when it
    # compares a source with the plan, so a tab read as a space still matches.
    return _SPACE_NEAR_CJK.sub("", line.replace("\t", " ").strip())


def _year(lines: list[str]) -> int | None:
    for line in lines:
        found = _YEAR.search(line)
        if found:
            return int(found.group(1))
    return None


def _kind(line: str) -> str | None:
    for kind, pattern in (("section", SECTION), ("paren", PAREN), ("arabic", ARABIC)):
        match = pattern.match(line)
        if match and _is_heading(match.group(2)):
            return kind
    return None


def _is_heading(rest: str) -> bool:
    head = re.split(r"[。；;]", rest, maxsplit=1)[0]
    return len(head) <= MAX_HEADING_CHARS


def _split_heading(line: str, kind: str) -> tuple[str, str, str]:
    """(label, title, body text on the same line)."""
    pattern = {"section": SECTION, "paren": PAREN, "arabic": ARABIC}[kind]
    match = pattern.match(line)
    label = line[: match.start(2)].strip()
    rest = match.group(2)
    head, _, tail = rest.partition(next((c for c in rest if c in "。；;"), "\0"))
    return label, _short(head.rstrip(":：")), tail.strip()


def _short(title: str) -> str:
    return title[:100]


def sentences(lines: list[str]) -> list[str]:
    """Sentences of a run of body lines: lines not ending a sentence are joined to the next."""
    out: list[str] = []
    current = ""
    for line in lines:
        if PAGE_NUMBER.match(line):  # a page break copied out of a PDF: nothing to join across
            out.extend(split_sentences(current))
            current = ""
            continue
        match = ARABIC.match(line) or PAREN.match(line)
        if match and current:  # a numbered point starts a sentence of its own
            out.extend(split_sentences(current))
            current = ""
        current += line
        if current[-1] in _SENTENCE_END:
            out.extend(split_sentences(current))
            current = ""
    if current:
        out.extend(split_sentences(current))
    return [s for s in out if s]


def split_sentences(text: str) -> list[str]:
    return [text[a:b].strip() for a, b in split_outside(text, _SENTENCE_END, keep=True)]


def split_outside(text: str, separators: str, keep: bool = False) -> list[tuple[int, int]]:
    """Spans of ``text`` between separators that stand outside quotes and brackets. A comma
    between two digits (10,000) separates nothing."""
    spans = []
    start = 0
    closers: list[str] = []
    for i, ch in enumerate(text):
        if ch in _OPENERS and _OPENERS[ch] in text[i + 1:]:  # an unclosed quote opens nothing
            closers.append(_OPENERS[ch])
        elif closers and ch == closers[-1]:
            closers.pop()
        elif ch in separators and not closers:
            if ch == "," and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
                continue
            spans.append((start, i + 1 if keep else i))
            start = i + 1
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip(separators + " ")]
