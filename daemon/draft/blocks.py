"""The lines of last year's schedule that belong to each entry and each key, with their
comments, so `--like` can carry the office's choices over exactly as they were written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from daemon.plan.yamlsafe import YMap, YSeq

# Comments that head a section or item: the draft writes its own from the new text.
_HEADING_COMMENT = re.compile(r"^#\s*(?:-{3,}|\d{1,3}\s*[.．、]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)])")


@dataclass
class EntryBlock:
    leading: list[str]  # comment lines above the entry
    keys: dict[str, list[str]] = field(default_factory=dict)  # key → its lines (comments above it first)
    whole: list[str] = field(default_factory=list)


def _is_comment(line: str) -> bool:
    return line.strip().startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def shift(lines: list[str], delta: int) -> list[str]:
    if delta >= 0:
        return [(" " * delta + line) if line.strip() else line for line in lines]
    return [line[min(-delta, _indent(line)):] for line in lines]


def trim_tail(lines: list[str]) -> tuple[list[str], list[str]]:
    """(lines without trailing blank/comment lines, those trailing comment lines)."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _is_comment(lines[end - 1])):
        end -= 1
    return lines[:end], [line for line in lines[end:] if line.strip()]


def entry_blocks(lines: list[str], seq: YSeq, list_end: int) -> list[EntryBlock | None]:
    """One block per item of ``seq`` (a sequence of block mappings); None for an item written
    in flow style ({id: …}), whose keys share a line and cannot be cut apart."""
    starts = [item.line - 1 for item in seq.items]  # 0-based line of each "- " line
    out: list[EntryBlock | None] = []
    for index, item in enumerate(seq.items):
        start = starts[index]
        end = starts[index + 1] if index + 1 < len(starts) else list_end
        leading = []
        above = start - 1
        while above >= 0 and _is_comment(lines[above]):
            leading.insert(0, lines[above])
            above -= 1
        leading = [c for c in leading if not _HEADING_COMMENT.match(c.strip())]
        body, _ = trim_tail(lines[start:end])
        if not isinstance(item, YMap) or len(set(item.key_lines.values())) != len(item.key_lines):
            out.append(None)
            continue
        dash = body[0]
        key_indent = _indent(dash) + 2
        body[0] = dash.replace("- ", "  ", 1)
        body = shift(body, 4 - key_indent)
        block = EntryBlock(shift(leading, 2 - (key_indent - 2)), whole=body)
        ordered = sorted(item.key_lines.items(), key=lambda kv: kv[1])
        carry: list[str] = []
        for k, (key, line) in enumerate(ordered):
            stop = ordered[k + 1][1] - 1 - start if k + 1 < len(ordered) else len(body)
            own, trailing = trim_tail(body[line - 1 - start: stop])
            block.keys[key] = carry + own
            carry = trailing
        out.append(block)
    return out


def key_block(lines: list[str], mapping: YMap, key: str, end: int, indent: int) -> list[str] | None:
    """The lines of ``key`` in a block mapping (the value and its comments), re-indented so the
    key sits at ``indent`` spaces; None when the key is absent or shares its line."""
    if key not in mapping.key_lines or list(mapping.key_lines.values()).count(mapping.key_lines[key]) > 1:
        return None
    ordered = sorted(mapping.key_lines.values())
    line = mapping.key_lines[key]
    following = [n for n in ordered if n > line]
    stop = following[0] - 1 if following else end
    own, _ = trim_tail(lines[line - 1: stop])
    if not own:
        return None
    return shift(own, indent - _indent(own[0]))


def first_key_line(lines: list[str]) -> list[str]:
    """Key lines with the first key line turned into the "- " line of a list item."""
    out = list(lines)
    for i, line in enumerate(out):
        if line.strip() and not _is_comment(line):
            out[i] = "  - " + line.lstrip(" ")
            break
    return out
